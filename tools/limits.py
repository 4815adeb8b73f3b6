"""Rate limits as vendors publish them. Kept free of imports so that backends can declare
theirs without loading the HTTP stack at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """The vendor's published limit: `max_requests` arrivals in any `per_seconds` window,
    and as many more windows in `also` as the vendor publishes (Tallyfy: 100 a minute and
    1,000 an hour); a request must fit in every one of them."""

    max_requests: int
    per_seconds: float
    max_concurrency: int | None = None
    also: tuple[RateLimit, ...] = ()

    @property
    def windows(self) -> tuple[tuple[int, float], ...]:
        """(max_requests, per_seconds) of every window, the widest first."""
        own = [(self.max_requests, self.per_seconds)]
        own += [w for extra in self.also for w in extra.windows]
        return tuple(sorted(own, key=lambda w: -w[1]))

    def describe(self, vendor: str) -> str:
        """The limit in words: "Tallyfy allows 100 requests/min and 1,000/h"."""
        parts = [window_text(n, per) for n, per in sorted(self.windows, key=lambda w: w[1])]
        return f"{vendor} allows " + " and ".join(parts)

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_seconds > 0")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")


_UNITS = {1.0: "s", 60.0: "min", 3600.0: "h", 86400.0: "day"}


def window_text(max_requests: int, per_seconds: float) -> str:
    """One window in words: "100 requests/min", "7 requests/s", "5 requests per 90 s"."""
    unit = _UNITS.get(float(per_seconds))
    count = f"{max_requests:,} request{'s' if max_requests != 1 else ''}"
    return f"{count}/{unit}" if unit else f"{count} per {per_seconds:g} s"
