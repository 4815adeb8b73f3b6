"""Whether, and after how long, a failed attempt is tried again."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import httpx

from tools.http_config import ClientConfig

# Failures where the request provably never reached the server: retrying cannot repeat a
# side effect, so even a POST may be retried.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may be transient but may also have happened after the server acted.
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class Outcome:
    """One attempt: a response, or the httpx error that replaced it."""

    response: httpx.Response | None
    error: httpx.RequestError | None
    timeout: httpx.Timeout


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
        return _plan_retry_after(config, rng, retry_after, remaining, reason)
    delay = rng.uniform(0.0, policy.backoff_bound(attempt))
    if delay >= remaining:
        return Plan(stopped=f"the retry budget of {policy.budget:g} s is used up")
    return Plan(delay=delay, reason=reason)


def _plan_retry_after(
    config: ClientConfig, rng: random.Random, retry_after: float, remaining: float, reason: str
) -> Plan:
    limit = min(config.retry.max_retry_after, remaining)
    if retry_after > limit:
        # Waiting would outlast the tool call; fail now and let the caller decide.
        return Plan(
            stopped=f"the backend asks to wait {retry_after:g} s, longer than this call "
            f"can wait ({max(limit, 0.0):.3g} s)"
        )
    # A little jitter so that callers told the same delay do not return in lockstep.
    jitter = rng.uniform(0.0, 0.1 * retry_after)
    return Plan(delay=min(retry_after + jitter, remaining), reason=reason)


def _retry_reason(config: ClientConfig, outcome: Outcome, repeatable: bool) -> str | None:
    response, error = outcome.response, outcome.error
    if response is not None:
        status = response.status_code
        if status not in config.retry.retry_statuses:
            return None
        # A 429 means the request was not processed, so even a POST is safe to repeat.
        return f"HTTP {status}" if status == 429 or repeatable else None
    if isinstance(error, NEVER_SENT) or (repeatable and isinstance(error, TRANSIENT)):
        return type(error).__name__
    return None


def _not_retried_note(config: ClientConfig, outcome: Outcome, method: str) -> str | None:
    response, error = outcome.response, outcome.error
    retriable_status = response is not None and response.status_code in config.retry.retry_statuses
    if retriable_status or isinstance(error, TRANSIENT):
        return f"not retried: {method} may not be safe to repeat"
    return None
