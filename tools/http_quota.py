"""The quota side of one HTTP client: the limiters of its vendor account, waits for them
bounded by the operation's deadline (never by a request's retry budget), and 429s.

A 429 is the vendor's pace, not a failure. It holds every limiter of the account for the
vendor's Retry-After (or one window), so that all the account's requests wait in order
instead of each collecting a 429, and the request is sent again once the hold is over.
A wait that would end after the operation's deadline is not started: QuotaWaitError says
when a request can go, and a list answers with what it has (tools/paging.py).
"""

from __future__ import annotations

import logging
import math
import random

from tools.errors import QuotaWaitError, RequestInfo
from tools.http_config import ClientConfig, HttpStats
from tools.http_failures import failure
from tools.http_retry import Outcome, Plan, rate_limited_delay
from tools.limiter import OnWait, QuotaLimiter
from tools.limits import window_text
from tools.operation import NOTE_WAIT_SECONDS, Operation
from tools.progress import note as progress_note

log = logging.getLogger("process_mcp.http")


class Pacing:
    def __init__(
        self, config: ClientConfig, account: str, stats: HttpStats, rng: random.Random
    ) -> None:
        self.config = config
        self.stats = stats
        self._rng = rng
        self.limiters = _limiters(config, account)

    @property
    def vendor(self) -> str:
        return self.config.vendor or self.config.backend

    def quota_text(self, limiter: QuotaLimiter | None = None) -> str | None:
        """The limit in words ("Tallyfy allows 100 requests/min"): `limiter`'s window, else
        every published one; None when the vendor publishes none."""
        if limiter is not None:
            return f"{self.vendor} allows {window_text(limiter.max_requests, limiter.per_seconds)}"
        limit = self.config.rate_limit
        return limit.describe(self.vendor) if limit is not None else None

    def on_wait(self, op: Operation, shown: RequestInfo) -> OnWait:
        """What the limiter calls before a wait: refuse one the operation cannot afford
        (a list then answers with what it has), else record it and show it in progress."""

        async def on_wait(seconds: float, limiter: QuotaLimiter, held: bool) -> None:
            # A hold is the vendor's word (a 429), about its quota as a whole.
            window = None if held else limiter
            if not op.fits(seconds):
                raise self.too_long(seconds, shown, limiter=window)
            await self.note_wait(seconds, op, window)

        return on_wait

    async def note_wait(self, seconds: float, op: Operation, limiter: QuotaLimiter | None) -> None:
        op.waited(self.config.backend, seconds, self.quota_text(limiter))
        if seconds >= NOTE_WAIT_SECONDS:
            await progress_note(f"waiting {math.ceil(seconds)} s for {self.vendor}'s quota")

    def too_long(
        self,
        seconds: float,
        shown: RequestInfo | None,
        *,
        status: int | None = None,
        limiter: QuotaLimiter | None = None,
    ) -> QuotaWaitError:
        quota = self.quota_text(limiter)
        wait = math.ceil(seconds)
        said = "the backend asks to wait" if status == 429 else "the next request can start in"
        return QuotaWaitError(
            f"{quota + '; ' if quota else ''}{said} {wait} s, longer than this call can wait",
            backend=self.config.backend,
            ready_in=seconds,
            quota=quota,
            request=shown,
            status=status,
            hint=f"Wait {wait} seconds, then call again; fewer or larger pages need fewer "
            "requests.",
        )

    async def rate_limited(
        self,
        outcome: Outcome,
        limited: int,
        attempt: int,
        shown: RequestInfo,
        op: Operation,
        secrets: frozenset[str],
    ) -> None:
        """The `limited`-th 429 in a row: wait the vendor's pace, unless that outlasts
        the operation (QuotaWaitError) or the vendor never lets the request through."""
        self.stats.rate_limited += 1
        if limited >= self.config.retry.max_rate_limited:
            plan = Plan(stopped=f"answered 429 {limited} times in a row")
            raise failure(self.config, outcome, shown, attempt, plan, secrets)
        asked, jitter = rate_limited_delay(self.config, self._rng, outcome, limited)
        delay = asked + jitter
        if not op.fits(delay):
            raise self.too_long(asked, shown, status=429)
        self.stats.retries += 1
        # INFO, not WARNING: the vendor's pace is news, not trouble (the answer says it).
        log.info(
            "%s %s: HTTP 429; waiting %.2f s for %s's quota (attempt %d)",
            shown.method,
            shown.url,
            delay,
            self.vendor,
            attempt,
        )
        if self.limiters:
            # The vendor's window is full whatever ours says (a restart emptied ours, or
            # someone else shares the account): every request of the account waits, in the
            # limiter, in order. The next attempt's slot then waits out the hold.
            for limiter in self.limiters:
                await limiter.hold(delay)
            return
        await self.note_wait(delay, op, None)
        await self.config.sleep(delay)
        self.stats.waited_seconds += delay


def _limiters(config: ClientConfig, account: str) -> tuple[QuotaLimiter, ...]:
    """One limiter per published window, the widest first (always taken in that order, so
    two requests can never each hold what the other waits for). Through `quotas` they are
    the account's, shared by every instance that points at it and kept while the server
    rebuilds its instances; without, this client's own."""
    limit = config.rate_limit
    if limit is None:
        return ()
    if config.quotas is not None:
        return tuple(config.quotas.limiter(account, n, per) for n, per in limit.windows)
    return tuple(
        QuotaLimiter(n, per, clock=config.clock, sleep=config.sleep) for n, per in limit.windows
    )
