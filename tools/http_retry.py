"""Whether, and after how long, a failed attempt is tried again; and how long a 429 waits.

Our own loop, not stamina or tenacity: both fit "retry this coroutine with backoff", but
ours needs what they do not give. The budget counts only the failures (network time and
backoff) while quota waits count against the operation's deadline instead; each attempt's
timeout is cut to what is left of the budget; a 429 is not a failure but a hold on the
account's limiter (tools/limiter.py) for the vendor's Retry-After or one window; a body
that does not parse is a failed attempt like a 5xx; and the clock and sleep are injected,
so tests drive seconds of backoff on a fake clock (tenacity's stop_after_delay and
stamina's timeout read time.monotonic themselves). What is left is small: the plan below.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import httpx

from tools.http_config import ClientConfig

# Failures where the request provably never reached the server: retrying cannot repeat a
# side effect, so even a POST may be retried.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may be transient but may also have happened after the server acted.
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class Outcome:
    """One attempt: a response (its body decoded when asked, `malformed` when that failed),
    or the httpx error that replaced it; `seconds` on the network."""

    response: httpx.Response | None
    error: httpx.RequestError | None
    timeout: httpx.Timeout
    seconds: float = 0.0
    body: Any = None
    malformed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.response is not None and self.response.is_success and not self.malformed

    @property
    def rate_limited(self) -> bool:
        return self.response is not None and self.response.status_code == 429


@dataclass(frozen=True)
class Plan:
    """What to do after a failed attempt: wait `delay` and retry, or stop (and why)."""

    delay: float | None = None
    reason: str | None = None
    stopped: str | None = None

    def attempts_note(self, attempts: int) -> str:
        if self.stopped:
            return f" ({self.stopped})"
        return f" ({attempts} attempts)" if attempts > 1 else ""


def read_retry_after(config: ClientConfig, response: httpx.Response | None) -> float | None:
    """The vendor's requested wait, if it gave a usable one."""
    if response is None:
        return None
    try:
        value = config.retry_after(response)
    except Exception:
        # A vendor-specific reader choking on an odd body must not hide the real error.
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def plan_retry(
    config: ClientConfig,
    rng: random.Random,
    outcome: Outcome,
    *,
    method: str,
    repeatable: bool,
    attempt: int,
    remaining: float,
) -> Plan:
    """The plan after failed attempt number `attempt`, with `remaining` seconds of budget."""
    reason = _retry_reason(config, outcome, repeatable)
    if reason is None:
        return Plan(stopped=_not_retried_note(config, outcome, method))
    policy = config.retry
    if attempt >= policy.max_attempts:
        return Plan(stopped=f"gave up after {attempt} attempts")
    retry_after = read_retry_after(config, outcome.response)
    if retry_after is not None:
        # A 503 with Retry-After: the vendor is down for that long. Unlike a 429 it is a
        # failure, so the wait counts against the budget.
        if retry_after >= remaining:
            return Plan(
                stopped=f"the backend asks to wait {retry_after:g} s, longer than the "
                f"{max(remaining, 0.0):.3g} s left of the retry budget"
            )
        jitter = rng.uniform(0.0, 0.1 * retry_after)
        return Plan(delay=min(retry_after + jitter, remaining), reason=reason)
    delay = rng.uniform(0.0, policy.backoff_bound(attempt))
    if delay >= remaining:
        return Plan(stopped=f"the retry budget of {policy.budget:g} s is used up")
    return Plan(delay=delay, reason=reason)


def rate_limited_delay(
    config: ClientConfig, rng: random.Random, outcome: Outcome, limited: int
) -> tuple[float, float]:
    """How long the `limited`-th 429 in a row of one request waits, as (wait, jitter): the
    vendor's Retry-After (plus up to 10 % jitter, so that callers told the same delay do
    not come back in lockstep); without one, backoff from 1 s doubling up to one window of
    the narrowest published limit (after which the vendor's window has emptied of all it
    counted before the 429), at most `rate_limited_cap`, with equal jitter."""
    retry_after = read_retry_after(config, outcome.response)
    if retry_after is not None:
        return retry_after, rng.uniform(0.0, 0.1 * retry_after)
    cap = config.retry.rate_limited_cap
    if config.rate_limit is not None:
        cap = min(cap, *(per for _, per in config.rate_limit.windows))
    bound = min(cap, 2.0 ** min(limited - 1, 62))
    return bound / 2, rng.uniform(0.0, bound / 2)


def _retry_reason(config: ClientConfig, outcome: Outcome, repeatable: bool) -> str | None:
    response, error = outcome.response, outcome.error
    if outcome.malformed:
        # A 2xx body that does not parse (cut off on the way): the read is repeated.
        return "a body that does not parse" if repeatable else None
    if response is not None:
        status = response.status_code
        if status not in config.retry.retry_statuses:
            return None
        return f"HTTP {status}" if repeatable else None
    if isinstance(error, NEVER_SENT) or (repeatable and isinstance(error, TRANSIENT)):
        return _error_reason(error)
    return None


def _error_reason(error: httpx.RequestError) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "a timeout"
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "a connection reset"
    return type(error).__name__


def _not_retried_note(config: ClientConfig, outcome: Outcome, method: str) -> str | None:
    response, error = outcome.response, outcome.error
    retriable_status = response is not None and response.status_code in config.retry.retry_statuses
    if retriable_status or outcome.malformed or isinstance(error, TRANSIENT):
        return f"not retried: {method} may not be safe to repeat"
    return None
