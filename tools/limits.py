"""Rate limits as vendors publish them. Kept free of imports so that backends can declare
theirs without loading the HTTP stack at start-up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """The vendor's published limit: `max_requests` starts in any `per_seconds` window."""

    max_requests: int
    per_seconds: float
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_seconds > 0")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
