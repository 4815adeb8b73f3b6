"""Protocol pieces MCPServer leaves out: logging for handshake-era clients, and an honest
`server/discover` for 2026-07-28 ones.

Logging (`logging/setLevel`, `notifications/message`) is deprecated in 2026-07-28
(SEP-2577), so it is offered to 2025-11-25 (and older) sessions only: `initialize`
advertises the capability, `server/discover` does not, and the SDK's per-version gate
already answers `logging/setLevel` with "Method not found" on the modern wire.

The level a client sets lives in the connection's scratch state, so it holds for the
rest of that session and never leaks into another client's.
"""

from __future__ import annotations

import warnings
from typing import Any, Final, get_args

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    DiscoverResult,
    EmptyResult,
    LoggingLevel,
    RequestParams,
    SetLevelRequestParams,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from tools import notices

LEVELS: Final[tuple[LoggingLevel, ...]] = get_args(LoggingLevel)
# What a client that never called logging/setLevel receives (the spec leaves the default
# to the server): warnings and worse, the notices worth interrupting a person for.
DEFAULT_LEVEL: Final[LoggingLevel] = "warning"
_STATE_KEY = "process_mcp.log_level"


def lowlevel(server: MCPServer[Any]) -> Server[Any]:
    """The SDK's low-level server behind MCPServer: the documented way to add a spec
    method MCPServer does not serve (see mcp.server.extension.MethodBinding)."""
    return server._lowlevel_server


def _connection_state(session: Any) -> dict[str, Any] | None:
    # Connection.state is the SDK's per-connection scratch space; the session holds the
    # connection privately. tests/server/test_logging.py pins this.
    connection = getattr(session, "_connection", None)
    state = getattr(connection, "state", None)
    return state if isinstance(state, dict) else None


def client_level(session: Any) -> LoggingLevel:
    state = _connection_state(session)
    level = state.get(_STATE_KEY) if state is not None else None
    return level if level in LEVELS else DEFAULT_LEVEL


def wants(session: Any, level: LoggingLevel) -> bool:
    return LEVELS.index(level) >= LEVELS.index(client_level(session))


def install(server: MCPServer[Any]) -> None:
    low = lowlevel(server)

    async def set_level(
        ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        state = _connection_state(ctx.session)
        if state is not None:
            state[_STATE_KEY] = params.level
        return EmptyResult()

    async def discover(
        ctx: ServerRequestContext[Any, Any], params: RequestParams
    ) -> DiscoverResult:
        capabilities = low.get_capabilities(protocol_version=ctx.protocol_version)
        return DiscoverResult(
            supported_versions=list(MODERN_PROTOCOL_VERSIONS),
            # Deprecated in the era discover belongs to: not offered there.
            capabilities=capabilities.model_copy(update={"logging": None}),
            instructions=low.instructions,
        )

    # add_request_handler, unlike the constructor argument, does not warn about the
    # deprecation: we know, and serve it to the clients of the era that has it.
    low.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    low.add_request_handler("server/discover", RequestParams, discover)


def notice_sink(ctx: Context[Any, Any]) -> notices.Sink:
    """Where a tool call's notices go: `notifications/message` on a handshake-era session
    at or above the level the client asked for; nowhere on the modern wire, where logging
    is deprecated (the answer's warnings carry the same text)."""

    async def send(level: notices.Level, message: str, source: str) -> None:
        request = ctx.request_context
        if request.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        if not wants(request.session, level):
            return
        with warnings.catch_warnings():
            # Deprecated in 2026-07-28, which never gets here.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await request.session.send_log_message(
                level, message, logger=source, related_request_id=request.request_id
            )

    return send
