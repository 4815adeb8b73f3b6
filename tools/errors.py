"""The error tree. Every failure the server can explain is one of these.

    ProcessMcpError                 message + hint (how to fix); never a traceback
    ├── InputError                  the caller (usually the model) can fix the call
    │   ├── UnknownBackendError         backend name not configured
    │   ├── InvalidArgumentError        bad value, unknown parameter, out of range
    │   ├── UnsupportedQueryError       a filter/sort the backend cannot apply, with what works
    │   └── InvalidCursorError          garbage, tampered, or from another query
    ├── ConfigError                 settings are wrong; names the file key or variable to set
    └── BackendError                backend + request (method, scrubbed URL) + status
        ├── BackendAuthError            401/403: credentials or headers rejected
        ├── BackendNotFoundError        the process (or path) does not exist
        ├── BackendRateLimitedError     429 and the retry budget could not absorb it
        │   └── QuotaWaitError              a quota wait would end past the call's deadline
        ├── BackendUnavailableError     5xx, timeouts, connection failures after retries
        ├── BackendRequestError         another 4xx: the backend refused the request
        └── BackendResponseError        malformed body, unexpected shape, off-origin link

The MCP layer turns any of these into an `isError` tool result using `for_model()`.
Anything else is a bug: it is logged on stderr and the model gets a generic message.
"""

from __future__ import annotations

from dataclasses import dataclass


class ProcessMcpError(Exception):
    """Base of every explained failure: a message plus an optional hint on how to fix it."""

    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def for_model(self) -> str:
        """The text an agent sees: what went wrong, then how to fix it."""
        if self.hint:
            return f"{self.message}\nHow to fix: {self.hint}"
        return self.message

    def __str__(self) -> str:
        return self.for_model()


class InputError(ProcessMcpError):
    """A problem with the call itself; the caller can fix it and call again."""

    kind = "invalid_input"


class UnknownBackendError(InputError):
    kind = "unknown_backend"


class InvalidArgumentError(InputError):
    kind = "invalid_argument"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class UnsupportedQueryError(InputError):
    kind = "unsupported_filter"

    def __init__(self, message: str, *, backend: str, field: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.backend = backend
        self.field = field


class InvalidCursorError(InputError):
    kind = "invalid_cursor"


class ConfigError(ProcessMcpError):
    kind = "config"


def explained(exc: BaseException) -> ProcessMcpError | None:
    """The explained failure inside `exc`: itself, or the first one in an exception group
    (a task group wraps its children's errors; our own groups unwrap them, tools.tasks,
    and this is the safety net at the edges: a tool call, the CLI)."""
    if isinstance(exc, ProcessMcpError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = explained(inner)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class RequestInfo:
    """What was asked of a backend, safe to show: credentials are already scrubbed."""

    method: str
    url: str

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


class BackendError(ProcessMcpError):
    """A backend answered badly or not at all."""

    kind = "backend"

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        request: RequestInfo | None = None,
        status: int | None = None,
        vendor_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.backend = backend
        self.request = request
        self.status = status
        self.vendor_message = vendor_message

    def for_model(self) -> str:
        parts = [f"[{self.backend}] {self.message}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.vendor_message:
            parts.append(f"backend said: {self.vendor_message}")
        if self.request is not None:
            parts.append(f"request: {self.request}")
        text = "; ".join(parts)
        if self.hint:
            text += f"\nHow to fix: {self.hint}"
        return text


class BackendAuthError(BackendError):
    kind = "backend_auth"


class BackendNotFoundError(BackendError):
    kind = "not_found"


class BackendRateLimitedError(BackendError):
    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        retry_after: float | None = None,
        request: RequestInfo | None = None,
        status: int | None = 429,
        vendor_message: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message,
            backend=backend,
            request=request,
            status=status,
            vendor_message=vendor_message,
            hint=hint,
        )
        self.retry_after = retry_after


class QuotaWaitError(BackendRateLimitedError):
    """A wait for a quota (our limiter's window, or the vendor's Retry-After) would end
    after the operation's deadline, so it was not started. `ready_in`: seconds until a
    request can go; `quota`: the vendor's published limit in words, when known. A list
    answers with what it has instead (tools/paging.py); anything else reports this."""

    kind = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        backend: str,
        ready_in: float,
        quota: str | None = None,
        request: RequestInfo | None = None,
        status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message,
            backend=backend,
            retry_after=ready_in,
            request=request,
            status=status,
            hint=hint,
        )
        self.ready_in = ready_in
        self.quota = quota


class BackendUnavailableError(BackendError):
    kind = "backend_unavailable"


class BackendRequestError(BackendError):
    kind = "backend_rejected"


class BackendResponseError(BackendError):
    kind = "backend_response"
