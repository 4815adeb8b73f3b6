"""Builds the MCPServer from the catalog. The only module that wires tools to the SDK.

Why tools are built by hand rather than with `@mcp.tool()`: the SDK derives the schema
from the signature and silently ignores unknown arguments. We publish the reviewed
schemas from `catalog`, validate arguments ourselves (unknown keys refused with the valid
list), and return our own compact text next to the structured result.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import CallToolResult, ContentBlock, Icon, TextContent, ToolAnnotations
from pydantic import ConfigDict

from server import completions, prompts, protocol
from server import resources as resources_list
from server.catalog import TOOLS, ToolDef
from server.protocol import notice_sink
from server.schema import lean_output_schema
from server.settings import Settings
from tools import notices
from tools.arguments import shown
from tools.backends.base import InstanceSettings
from tools.errors import ProcessMcpError, explained
from tools.export_process import URI_SCHEME
from tools.exportfiles import (
    MAX_READ_BYTES,
    part_count,
    read_part,
    resolve_in,
    sweep_once,
    too_large_notice,
)
from tools.exportformats import MIME
from tools.instances import Instances
from tools.limiter import Quotas
from tools.operation import operation
from tools.progress import Progress, reporting
from tools.redact import registered_secrets, scrub
from tools.shared_state import SharedState
from tools.suggest import SuggestionCache

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("process_mcp.server")


class Pending(Protocol):
    """Instances still starting, e.g. the `--sandbox` simulators."""

    def begin(self) -> None:
        """Start them (idempotent); called once the server is serving (or, over stdio,
        once `initialize` is answered), so that their start-up does not compete with the
        server's own for the interpreter."""

    async def ready(self) -> list[InstanceSettings]:
        """Their settings, once they accept connections."""
        ...


INSTRUCTIONS = (
    "Look up business processes (runs, instances, leads, executions) across several "
    "systems. Start with list_backends: instances, collections, statuses, which filters "
    "each applies, and the server's time for relative dates. list_processes finds "
    "processes with one filter vocabulary, one line each, and a cursor for more. "
    "summarize_processes counts them per group (owner, template, status, period) in one "
    "call. get_process shows one process with its tasks, fields or "
    "definition. export_process writes a whole list (csv, jsonl) or one process (json, "
    "markdown, native) to a file, answering with a resource link (resources/list: "
    "earlier exports). summarize_processes and export_process take list_processes' filters "
    "as one filter expression: status in ('open') and updated_before = '2026-10-01'. "
    "Dates are ISO 8601. The prompts stuck_processes, status_report and "
    "owner_workload spell out common questions."
)
ICON = "icons/process-mcp.svg"


# What a data URI may carry unencoded (RFC 3986 unreserved and sub-delims, ":", "@", "/");
# the SVG quotes its attributes with ' so that they need no escape either.
_URI_SAFE = "=:/'.-_~!*();,@+"


def server_icon() -> Icon:
    """The server's icon, shipped in the package, inlined as a data URI so that a client
    needs no network (and no file access) to show it. Percent-encoded (RFC 2397), not
    base64: the 2026-era protocol stamps server info, icon included, on every result, and
    the SVG's own text costs about half the tokens its base64 does."""
    svg = resources.files("server").joinpath(ICON).read_text(encoding="utf-8").strip()
    return Icon(
        src="data:image/svg+xml," + quote(svg, safe=_URI_SAFE),
        mime_type="image/svg+xml",
        sizes=["any"],
    )


class SharedInstances:
    """One set of backend instances per server process, whatever the transport.

    stdio and SSE enter the MCP lifespan once per connection and streamable HTTP once per
    server, yet rate limits and caches must be per instance, so the set is shared and
    reference-counted: created on first entry, closed when the last connection leaves.
    """

    def __init__(
        self,
        settings: Settings,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        quotas: Quotas | None = None,
        clock: Callable[[], float] = time.monotonic,
        pending: Pending | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock  # of the calls' deadlines (tools/operation.py)
        self._pending = pending
        self._transports = transports
        # Kept across rebuilds of the instances: the vendor's window does not empty when
        # the last connection leaves and a new one comes. With a Redis URL the windows and
        # the discovery caches are the replicas' (tools/shared_state.py).
        self.shared = SharedState(settings.redis_url)
        self._quotas = quotas or self.shared.quotas
        self._instances: Instances | None = None
        self._users = 0

    async def ready(self) -> None:
        """Waits for instances still starting (the `--sandbox` simulators), then adds them
        to the settings; a no-op once they are in."""
        if self._pending is not None:
            extra = await self._pending.ready()
            if self._pending is not None:  # another call may have added them meanwhile
                self._pending = None
                self.settings.instances.extend(extra)

    @property
    def instances(self) -> Instances:
        """Created on first use, not at connection time: `initialize` then never waits for
        the HTTP stack, and a client that only lists tools never loads it."""
        if self._users == 0:
            raise RuntimeError("backend instances are used outside the server lifespan")
        if self._instances is None:
            self._instances = Instances.from_settings(
                self.settings.instances,
                self.settings.problems,
                transports=self._transports,
                quotas=self._quotas,
                shared_cache=self.shared.cache,
            )
        return self._instances

    def begin_pending(self) -> None:
        if self._pending is not None:
            self._pending.begin()

    @asynccontextmanager
    async def open(self, *, begin: bool = True) -> AsyncIterator[None]:
        if begin:
            self.begin_pending()
        self._users += 1
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0 and self._instances is not None:
                instances, self._instances = self._instances, None
                with anyio.CancelScope(shield=True):
                    await instances.aclose()


class _CallSession:
    """What one tool call sees: the instances and a progress reporter.

    One reporter per call, so that whatever reports during the call (the paging driver,
    the export's last word, a quota wait through `tools.progress.note`) shares one
    strictly increasing, throttled sequence of notifications/progress."""

    def __init__(self, shared: SharedInstances, ctx: Context[Any, Any]) -> None:
        self._shared = shared
        self._ctx = ctx
        self.notices = notice_sink(ctx)
        self.progress = Progress(self._send_progress)

    @property
    def instances(self) -> Instances:
        return self._shared.instances

    @property
    def export_dir(self) -> Path:
        return self._shared.settings.export_dir

    async def _send_progress(self, done: float, total: float | None, message: str) -> None:
        # Advisory only: a client that left, or a call made outside a request, must not
        # turn a good answer into an error.
        try:
            await self._ctx.report_progress(done, total, message)
        except Exception as exc:
            log.debug("progress not delivered: %r", exc)

    async def resources_changed(self) -> None:
        # To subscriptions/listen streams (2026-07-28); advisory like progress.
        try:
            await self._ctx.notify_resources_changed()
        except Exception as exc:
            log.debug("resources/list_changed not delivered: %r", exc)


class _RawArguments(ArgModelBase):
    """Hands the tool every argument as given; our handlers validate them."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.model_extra or {})}


def _unstring(arguments: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Some clients send arrays and objects as JSON text; decode those where the schema
    expects an array or object, and leave everything else alone."""
    props = schema.get("properties", {})
    out = dict(arguments)
    for key, value in arguments.items():
        kind = props.get(key, {}).get("type")
        kinds = set(kind) if isinstance(kind, list) else {kind}  # ["array", "null"]
        if kinds & {"array", "object"} and isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                continue
            if isinstance(decoded, list | dict):
                out[key] = decoded
    return out


# No line of an error is longer than this. Refusals quote arguments through
# tools.arguments.shown (at most QUOTE_CHARS of any value); this catches whatever else a
# message might carry, so a megabyte argument never comes back as a megabyte error.
ERROR_LINE_CHARS = 1_000


def _error(text: str) -> CallToolResult:
    # Defence in depth: errors can quote arguments and vendor text, so no registered
    # secret (tokens, the HTTP token) leaves the server even if one was pasted into a call.
    safe = clip_lines(scrub(text, registered_secrets()))
    return CallToolResult(content=[TextContent(type="text", text=safe)], is_error=True)


def clip_lines(text: str, limit: int = ERROR_LINE_CHARS) -> str:
    return "\n".join(
        line if len(line) <= limit else f"{line[: limit - 40]}… ({len(line) - limit + 40} more)"
        for line in text.splitlines()
    )


def build_tool(definition: ToolDef, shared: SharedInstances) -> Tool:
    async def run(arguments: dict[str, Any], ctx: Context[Any, Any]) -> CallToolResult:
        args = _unstring(arguments, definition.input_schema)
        session = _CallSession(shared, ctx)
        settings = shared.settings
        # Waiting is not failing: how long this call may wait for quotas (an export runs
        # at the vendor's pace up to its maximum).
        budget = settings.export_max_seconds if definition.long_running else None
        try:
            await shared.ready()
            with (
                notices.sink(session.notices),
                reporting(session.progress),
                operation(budget or settings.list_budget_seconds, clock=shared.clock),
            ):
                reply = await definition.handler(session, args)
        except ProcessMcpError as exc:
            log.info("%s refused: %s", definition.name, exc.message)
            return _error(exc.for_model())
        except Exception as exc:
            found = explained(exc)
            if found is not None:
                # A task group's wrapping that reached us: still the explained failure.
                log.info("%s refused: %s", definition.name, found.message)
                return _error(found.for_model())
            log.exception("%s failed unexpectedly", definition.name)
            return _error(
                f"{definition.name} failed with an internal error; the details are in the "
                "server log. Retrying the same call is unlikely to help."
            )
        structured = reply.model.model_dump(mode="json", exclude_none=True)
        content: list[ContentBlock] = [TextContent(type="text", text=reply.text), *reply.links]
        return CallToolResult(content=content, structured_content=structured)

    return Tool(
        fn=run,
        name=definition.name,
        title=definition.title,
        description=definition.description,
        parameters=definition.input_schema,
        fn_metadata=FuncMetadata(
            arg_model=_RawArguments, output_schema=lean_output_schema(definition.output_model)
        ),
        is_async=True,
        context_kwarg="ctx",
        # The title is the tool's own (above); annotations would only repeat it.
        annotations=ToolAnnotations(
            read_only_hint=definition.read_only,
            destructive_hint=definition.destructive,
            idempotent_hint=definition.idempotent,
            open_world_hint=definition.open_world,
        ),
    )


# When `pending` instances begin to start: when the server serves (its lifespan: streamable
# HTTP enters it once, before any client), or after the handshake (stdio, where the lifespan
# is entered at process start, and the client is waiting for its `initialize` answer).
BeginPending = Literal["serving", "handshake"]


def begin_after_handshake(begin: Callable[[], None]) -> Any:
    """A server middleware that calls `begin` on every message but `initialize` (the
    `notifications/initialized` that follows it, or a 2026-era client's first request,
    which has no handshake): `initialize` is answered before anything else starts."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "initialize":
            begin()
        return await call_next(ctx)

    return middleware


def build_server(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    quotas: Quotas | None = None,
    clock: Callable[[], float] = time.monotonic,
    pending: Pending | None = None,
    begin_pending: BeginPending = "serving",
    **server_kwargs: Any,
) -> MCPServer[Any]:
    """The MCP server for these settings. `transports` lets tests route an instance's HTTP
    to an in-process simulator (a fake at the transport, never of our own classes), and
    `quotas` and `clock` (the calls' deadlines) let them pace it on a fake clock. `pending`
    yields instances still starting (`serve --sandbox`): the first call that needs backends
    waits for it; `begin_pending` says when they begin to start (see BeginPending)."""
    from server import __version__

    shared = SharedInstances(settings, transports, quotas, clock, pending)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with shared.open(begin=begin_pending == "serving"):
            yield {}

    server: MCPServer[Any] = MCPServer(
        "process-mcp",
        title="process-mcp",
        description="Look up business processes in Tallyfy, ChakraHQ, Kommo, Frends and "
        "yuuvis Momentum through one filter vocabulary.",
        version=__version__,
        icons=[server_icon()],
        instructions=INSTRUCTIONS,
        tools=[build_tool(d, shared) for d in TOOLS],
        lifespan=lifespan,
        log_level=settings.log_level,
        **server_kwargs,
    )
    if pending is not None and begin_pending == "handshake":
        protocol.lowlevel(server).middleware.append(begin_after_handshake(shared.begin_pending))
    register_exports(server, settings.export_dir)
    protocol.install(server, [d.name for d in TOOLS])
    resources_list.install(server, settings.export_dir)
    prompts.install(server, lambda: [i.name for i in settings.instances])
    completions.install(server, shared, SuggestionCache())
    return server


def register_exports(server: MCPServer[Any], directory: Path) -> None:
    """resources/read for exported files: one template per file type, so each read
    answers with the right MIME type, and one per type for the parts of a large file.
    Names are checked to stay inside the directory. Temporaries that a killed server
    left behind (untouched for an hour) are removed here, at start."""
    sweep_once(directory)
    for extension, mime in MIME.items():
        server.resource(
            f"{URI_SCHEME}://{extension}/{{name}}",
            name=f"export-{extension}",
            title=f"Exported {extension} file",
            description=f"A .{extension} file written by export_process (whole up to "
            f"{MAX_READ_BYTES // 1_048_576} MB; larger ones are read in parts).",
            mime_type=mime,
        )(_reader(directory, extension))
        server.resource(
            f"{URI_SCHEME}://{extension}/{{name}}/part/{{part}}",
            name=f"export-{extension}-part",
            title=f"Part of an exported {extension} file",
            description=f"Part N (1-based, about {MAX_READ_BYTES // 1_048_576} MB of whole "
            f"lines) of a large .{extension} export.",
            mime_type=mime,
        )(_part_reader(directory, extension))


def _export_path(directory: Path, extension: str, name: str) -> Path:
    if not name.endswith("." + extension):
        raise ResourceError(f"{shown(name)} is not a .{extension} export")
    try:
        return resolve_in(directory, name)
    except ProcessMcpError as exc:
        raise ResourceError(exc.for_model()) from None


def _reader(directory: Path, extension: str) -> Callable[[str], str]:
    def read(name: str) -> str:
        path = _export_path(directory, extension, name)
        if path.stat().st_size > MAX_READ_BYTES:
            # Refused rather than loaded: tens of MB in one message helps no client.
            raise ResourceError(too_large_notice(path, f"{URI_SCHEME}://{extension}/{name}"))
        # Bytes decoded as they are: read_text would turn the CSV line ends into "\n".
        return path.read_bytes().decode("utf-8")

    return read


def _part_reader(directory: Path, extension: str) -> Callable[[str, str], str]:
    def read(name: str, part: str) -> str:
        path = _export_path(directory, extension, name)
        parts = part_count(path.stat().st_size)
        if not part.isdigit() or not 1 <= int(part) <= parts:
            raise ResourceError(
                f"{shown(name)} has parts 1 to {parts}; {shown(part)} is not one of them\n"
                f"How to fix: read {URI_SCHEME}://{extension}/{name}/part/1 first"
            )
        return read_part(path, int(part)).decode("utf-8")

    return read
