"""Failed requests turned into the typed errors of `tools.errors`, each saying how to fix
it, with credentials scrubbed from everything shown."""

from __future__ import annotations

import math

import httpx

from tools import redact
from tools.errors import (
    BackendAuthError,
    BackendError,
    BackendNotFoundError,
    BackendRateLimitedError,
    BackendRequestError,
    BackendResponseError,
    BackendUnavailableError,
    RequestInfo,
)
from tools.http_config import ClientConfig
from tools.http_retry import Outcome, Plan, read_retry_after
from tools.vendor_messages import _collapse, _is_html, _truncate

BODY_SNIPPET_MAX = 200


def failure(
    config: ClientConfig,
    outcome: Outcome,
    shown: RequestInfo,
    attempts: int,
    plan: Plan,
    secrets: frozenset[str],
) -> BackendError:
    """The error for the last attempt of a request that did not succeed."""
    if outcome.response is not None:
        return _status_failure(config, outcome.response, shown, attempts, plan, secrets)
    assert outcome.error is not None  # an outcome always has one of the two
    return _transport_failure(config, outcome.error, outcome.timeout, shown, attempts, secrets)


def unsafe_path_failure(config: ClientConfig, shown: RequestInfo, why: str) -> BackendError:
    """A relative path that an adapter built from an unchecked id: refused, never sent."""
    return BackendRequestError(
        f"refused before sending: {why}",
        backend=config.backend,
        request=shown,
        hint="Pass the id exactly as a list_processes row shows it; an id is never a path.",
    )


def bad_link_failure(
    config: ClientConfig, method: str, shown: str, base: str, what: str
) -> BackendResponseError:
    """A link (scrubbed: `shown`) that goes elsewhere than the instance's origin."""
    return BackendResponseError(
        f"{what}: {shown}",
        backend=config.backend,
        request=RequestInfo(method, shown),
        hint=(
            f"Links are followed only to the origin of '{config.backend}' ({base}). If the "
            "backend moved, update the instance's base URL."
        ),
    )


def _status_failure(
    config: ClientConfig,
    response: httpx.Response,
    shown: RequestInfo,
    attempts: int,
    plan: Plan,
    secrets: frozenset[str],
) -> BackendError:
    status = response.status_code
    backend = config.backend
    vendor = _vendor_message(config, response, secrets)
    note = plan.attempts_note(attempts)
    if status in (401, 403):
        page = " (an HTML page answered, not the API: a proxy or an API block)"
        message = "credentials or headers were rejected" if status == 401 else "access denied"
        return BackendAuthError(
            message + (page if _is_html(response) else ""),
            backend=backend,
            request=shown,
            status=status,
            vendor_message=vendor,
            hint=_auth_hint(config, status),
        )
    if status == 404:
        return BackendNotFoundError(
            "not found",
            backend=backend,
            request=shown,
            status=status,
            vendor_message=vendor,
            hint="Check the id (list the processes to find valid ones) and the base URL.",
        )
    if status == 429:
        retry_after = read_retry_after(config, response)
        return BackendRateLimitedError(
            "rate limited" + note,
            backend=backend,
            retry_after=retry_after,
            request=shown,
            status=status,
            vendor_message=vendor,
            hint=_rate_limit_hint(retry_after),
        )
    if status >= 500:
        return BackendUnavailableError(
            "the backend failed" + note,
            backend=backend,
            request=shown,
            status=status,
            vendor_message=vendor,
            hint="The backend is having trouble; try again in a few minutes.",
        )
    if 300 <= status < 400:
        location = redact.scrub_url(response.headers.get("location", "?"), secrets)
        return BackendResponseError(
            f"unexpected redirect to {location}",
            backend=backend,
            request=shown,
            status=status,
            hint="Check the instance's base URL (https? path prefix?); redirects are not followed.",
        )
    if 400 <= status < 500:
        return BackendRequestError(
            "the backend refused the request",
            backend=backend,
            request=shown,
            status=status,
            vendor_message=vendor,
            hint="Change the arguments the backend refused (see its message), then call again.",
        )
    return BackendResponseError(
        "unexpected HTTP status", backend=backend, request=shown, status=status
    )


def _transport_failure(
    config: ClientConfig,
    error: httpx.RequestError,
    timeout: httpx.Timeout,
    shown: RequestInfo,
    attempts: int,
    secrets: frozenset[str],
) -> BackendError:
    backend = config.backend
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    if isinstance(error, httpx.TimeoutException):
        return BackendUnavailableError(
            f"timed out after {_timeout_seconds(error, timeout):g} s{tries}",
            backend=backend,
            request=shown,
            hint="The backend is slow or unreachable; try again later or ask for fewer rows.",
        )
    detail = redact.scrub(str(error), secrets) or type(error).__name__
    if "location header" in str(error):
        # httpx quotes the piece of a broken redirect URL it choked on, which can be a
        # cut-off credential the scrubber no longer recognises: show none of it.
        detail = "the backend redirected to a URL that does not parse (not shown)"
    if isinstance(error, httpx.TransportError):
        return BackendUnavailableError(
            f"could not connect: {_truncate(detail)}{tries}",
            backend=backend,
            request=shown,
            hint="Check the instance's base URL and the network; the backend may be down.",
        )
    return BackendResponseError(
        f"could not read the response: {_truncate(detail)}", backend=backend, request=shown
    )


def _auth_hint(config: ClientConfig, status: int) -> str:
    if config.auth_hint:
        return config.auth_hint
    if status == 401:
        return (
            f"Check the token configured for the '{config.backend}' instance "
            "(its token variable) and any header the API requires; then call again."
        )
    return (
        f"The '{config.backend}' credentials lack permission, or the API blocked "
        "this client. Check the instance's token variable, its required headers and "
        "the account's rights."
    )


def _vendor_message(
    config: ClientConfig, response: httpx.Response, secrets: frozenset[str]
) -> str | None:
    try:
        message = config.error_message(response)
    except Exception:
        # A custom reader failing on an odd body must not mask the HTTP error itself.
        message = None
    if not message:
        return None
    return _truncate(redact.scrub(message, secrets)) or None


def malformed(
    config: ClientConfig, response: httpx.Response, secrets: frozenset[str]
) -> BackendResponseError:
    """A 2xx whose body is not the JSON it should be."""
    request = response.request
    # Scrub the whole body before any cut, so a secret straddling a cut cannot leak
    # its first half (about 10 ms per MB; only on this error path).
    text = redact.scrub(response.text, secrets)[:4096]
    kind = " (an HTML page)" if _is_html(response) else ""
    return BackendResponseError(
        f"malformed JSON in response{kind}: {_collapse(text)[:BODY_SNIPPET_MAX]!r}",
        backend=config.backend,
        request=RequestInfo(request.method, redact.scrub_url(str(request.url), secrets)),
        status=response.status_code,
        hint="The backend answered with something that is not JSON; check the base URL "
        "(a login or proxy page?) and try again later.",
    )


def _rate_limit_hint(retry_after: float | None) -> str:
    if retry_after is None:
        return "Wait a minute, then call again; fewer or larger pages need fewer requests."
    return f"Wait {math.ceil(retry_after)} seconds, then call again."


def _timeout_seconds(error: httpx.TimeoutException, timeout: httpx.Timeout) -> float:
    if isinstance(error, httpx.ConnectTimeout):
        value = timeout.connect
    elif isinstance(error, httpx.WriteTimeout):
        value = timeout.write
    elif isinstance(error, httpx.PoolTimeout):
        value = timeout.pool
    else:
        value = timeout.read
    return value or 0.0
