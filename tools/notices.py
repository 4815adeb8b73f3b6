"""Notices: things the person behind the client should see while a call runs.

The answer of a call already carries its warnings; a notice is the live copy, sent as it
happens (an instance skipped in a fan-out, an instance that failed, a wait for a vendor's
quota). `tools/` stays free of MCP: code here calls `await notices.warn(...)`, and the
server installs a sink for the duration of each tool call that turns notices into MCP
`notifications/message` where the client's protocol era has them. Without a sink (a
terminal export, a test) a notice goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

Level = Literal["debug", "info", "warning", "error"]
# (level, message, logger name): the server decides what reaches the client.
Sink = Callable[[Level, str, str], Awaitable[None]]

log = logging.getLogger("process_mcp.notices")
_sink: ContextVar[Sink | None] = ContextVar("process_mcp_notice_sink", default=None)


@contextmanager
def sink(fn: Sink) -> Iterator[None]:
    """Deliver the notices of the code run inside this block (and of the tasks it starts:
    anyio copies the context into child tasks) to `fn`."""
    token = _sink.set(fn)
    try:
        yield
    finally:
        _sink.reset(token)


async def notify(level: Level, message: str, *, source: str = "process_mcp") -> None:
    """Log `message` and hand it to the current sink. Never raises: a notice is advisory,
    and a client that went away must not turn a good answer into an error."""
    # The operator's log gets it at INFO: a skipped instance is news to the person
    # asking, not a fault of the server.
    log.info("notice (%s): %s", level, message)
    fn = _sink.get()
    if fn is None:
        return
    try:
        await fn(level, message, source)
    except Exception as exc:
        log.debug("notice not delivered: %r", exc)


async def warn(message: str, *, source: str = "process_mcp") -> None:
    await notify("warning", message, source=source)
