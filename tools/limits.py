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

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_seconds > 0")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
