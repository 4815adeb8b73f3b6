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

import difflib
import warnings
from collections.abc import Sequence
from typing import Any, Final, get_args

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    DiscoverResult,
    EmptyResult,
    LoggingLevel,
    RequestParams,
    SetLevelRequestParams,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from tools import notices
from tools.arguments import shown

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


def install(server: MCPServer[Any], tool_names: Sequence[str]) -> None:
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
        changes: dict[str, Any] = {"logging": None}  # deprecated in this era: not offered
        # The SDK claims listChanged for every list once subscriptions/listen is served;
        # our tools and prompts are fixed for the life of the server, only the exports
        # (resources) change.
        if capabilities.tools is not None:
            changes["tools"] = capabilities.tools.model_copy(update={"list_changed": False})
        if capabilities.prompts is not None:
            changes["prompts"] = capabilities.prompts.model_copy(update={"list_changed": False})
        return DiscoverResult(
            supported_versions=list(MODERN_PROTOCOL_VERSIONS),
            capabilities=capabilities.model_copy(update=changes),
            instructions=low.instructions,
        )

    call_tool = low.get_request_handler("tools/call")
    assert call_tool is not None, "MCPServer serves tools/call"
    known = tuple(tool_names)

    async def call(ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> Any:
        # An unknown tool is a protocol error (Invalid params), as the spec's tools page
        # has it; the SDK answers it as a tool result, which reads as if the tool ran.
        if params.name not in known:
            close = difflib.get_close_matches(params.name, known, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"unknown tool {shown(params.name)}; {hint}tools: {', '.join(known)}",
            )
        return await call_tool.handler(ctx, params)

    # add_request_handler, unlike the constructor argument, does not warn about the
    # deprecation: we know, and serve it to the clients of the era that has it.
    low.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    low.add_request_handler("server/discover", RequestParams, discover)
    low.add_request_handler("tools/call", CallToolRequestParams, call)


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
