"""The one registration list of tools: definition (name, description, schema, annotations)
plus a thin handler that calls `tools/`. Schemas are written out by hand so that what an
agent sees is deliberate; tests snapshot them and check them against the models.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mcp.types import ResourceLink
from pydantic import BaseModel

from server import render
from tools.arguments import shown
from tools.errors import InvalidArgumentError
from tools.export_process import FORMATS, MAX_ROWS, ExportResult, export_process
from tools.exportformats import DEFAULT_COLUMNS
from tools.get_process import SECTIONS, get_process
from tools.instances import ALL, Instances
from tools.list_backends import BackendsResult, list_backends
from tools.list_processes import list_processes
from tools.model import STATUSES, ListResult, ProcessDetail
from tools.progress import Progress
from tools.query import MAX_LIMIT, SORT_KEYS


class Session(Protocol):
    """What a handler may use from the running server."""

    @property
    def instances(self) -> Instances: ...

    @property
    def export_dir(self) -> Path: ...

    @property
    def progress(self) -> Progress:
        """The call's progress reporter (throttled, strictly increasing)."""

    async def resources_changed(self) -> None:
        """A file was added to the export directory (resources/list changed)."""


@dataclass(frozen=True)
class Reply:
    """A handler's answer: the typed result, the text for the model, and resource links."""

    model: BaseModel
    text: str
    links: tuple[ResourceLink, ...] = ()


Handler = Callable[[Session, dict[str, Any]], Awaitable[Reply]]


@dataclass(frozen=True)
class ToolDef:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_model: type[BaseModel]
    handler: Handler
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    # Backends are external systems whose content changes under us.
    open_world: bool = True


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _strings(description: str, enum: tuple[str, ...] | None = None) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string"}
    if enum:
        items["enum"] = list(enum)
    return {"type": "array", "items": items, "description": description}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


BACKEND = _string('Instance name from list_backends, or "all" (default) to search every instance.')
COLLECTION = _string("Collection in that backend (see list_backends); default: its main one.")

LIST_PROCESSES_SCHEMA = _object(
    {
        "backend": BACKEND,
        "collection": COLLECTION,
        "status": _strings(
            "Unified status, any of. open = in progress; completed = done/won; "
            "cancelled = archived/lost/deleted.",
            STATUSES,
        ),
        "native_status": _strings("The backend's own status values (see list_backends)."),
        "text": _string(
            "Case-insensitive substring of the process name, or of the text fields the "
            "backend's own search reads (list_backends says which)."
        ),
        "created_after": _string("ISO 8601 date or date-time, inclusive. Bare date = 00:00 UTC."),
        "created_before": _string("ISO 8601 date or date-time, exclusive."),
        "updated_after": _string("Last change at or after this ISO 8601 date/date-time."),
        "updated_before": _string("Last change before this ISO 8601 date/date-time."),
        "owner": _string("Owner's user id or email."),
        "template": _string("Template / process definition / pipeline: id or exact name."),
        "tags": _strings("Tag names; a process must carry all of them."),
        "where": {
            "type": "object",
            "description": "Attribute filters where the backend has them (list_backends shows "
            'each collection\'s attributes): {"attr": value | [any of] | {">=": value}}; '
            "operators = != > >= < <=; keys of one object all hold; "
            '{"or": [{...}, {...}]} and {"and": [...]} nest up to 3 levels.',
        },
        "sort": _string("Order of results.", enum=list(SORT_KEYS), default="-created_at"),
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": 20,
            "description": "Rows to return; page on with cursor.",
        },
        "cursor": _string("next_cursor of the previous answer; repeat the same filters."),
        "detail": _string(
            "ids = id and name only; full adds backend-specific fields.",
            enum=["ids", "summary", "full"],
            default="summary",
        ),
    }
)

GET_PROCESS_SCHEMA = _object(
    {
        "backend": _string("Instance name (each list row carries it)."),
        "id": _string("Process id from list_processes."),
        "collection": COLLECTION,
        "include": _strings(
            "Sections to add (default: tasks; detail=full: all the backend has).", SECTIONS
        ),
        "detail": _string(
            "full adds backend-specific fields and every section.",
            enum=["summary", "full"],
            default="summary",
        ),
    },
    required=("backend", "id"),
)

# The list filters again, typed the same but described once (in list_processes).
_FILTERS = {
    k: {**v, "description": "As in list_processes."}
    for k, v in LIST_PROCESSES_SCHEMA["properties"].items()
    if k not in ("limit", "cursor", "detail", "backend", "collection")
}
EXPORT_PROCESS_SCHEMA = _object(
    {
        "backend": _string('Instance name; "all" is allowed for list exports (without id).'),
        "id": _string("Export this one process in full. Leave out to export a list query."),
        "collection": COLLECTION,
        "format": _string(
            "With id: json (default), markdown, or native (the vendor's own form, e.g. "
            "Frends BPMN; list_backends shows which backends have one). Without id: csv "
            "(default) or jsonl.",
            enum=list(FORMATS),
        ),
        "columns": _strings(
            "csv columns, in order (default: "
            + ", ".join(DEFAULT_COLUMNS)
            + "). Any list row field, or extra.KEY for a backend-specific one."
        ),
        "file_name": _string(
            "Plain file name inside the export directory (no folders); default: generated."
        ),
        "overwrite": {
            "type": "boolean",
            "default": False,
            "description": "Replace an existing file of the same name (default: refuse).",
        },
        "max_rows": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ROWS,
            "description": "Stop after this many rows (list exports). Default: every match.",
        },
        **_FILTERS,
    },
    required=("backend",),
)

LIST_BACKENDS_SCHEMA = _object({})


async def _list_backends(session: Session, args: dict[str, Any]) -> Reply:
    if args:
        raise InvalidArgumentError(
            f"list_backends takes no parameters (got {', '.join(map(shown, sorted(args)))})",
            hint="call it with no arguments",
        )
    result: BackendsResult = await list_backends(session.instances)
    return Reply(result, render.backends_text(result))


async def _list_processes(session: Session, args: dict[str, Any]) -> Reply:
    result: ListResult = await list_processes(session.instances, args, progress=session.progress)
    fan_out = args.get("backend") in (None, ALL)
    return Reply(result, render.list_text(result, fan_out=fan_out))


async def _get_process(session: Session, args: dict[str, Any]) -> Reply:
    detail: ProcessDetail = await get_process(session.instances, args)
    return Reply(detail, render.detail_text(detail))


async def _export_process(session: Session, args: dict[str, Any]) -> Reply:
    result: ExportResult = await export_process(
        session.instances, args, directory=session.export_dir, progress=session.progress
    )
    await session.resources_changed()
    link = ResourceLink(
        name=result.file_name,
        uri=result.uri,
        mime_type=result.mime_type,
        size=result.size_bytes,
        description=f"process-mcp export ({result.format})",
    )
    return Reply(result, render.export_text(result), (link,))


TOOLS: tuple[ToolDef, ...] = (
    ToolDef(
        name="list_backends",
        title="List process backends",
        description=(
            "Start here. Lists the configured backend instances, their collections, native "
            "status values, sort keys, and for each filter whether the backend applies it "
            "(native), narrows it (narrowed), it is checked here (local) or refused "
            "(unsupported). Also gives the server's current time."
        ),
        input_schema=LIST_BACKENDS_SCHEMA,
        output_model=BackendsResult,
        handler=_list_backends,
    ),
    ToolDef(
        name="list_processes",
        title="List processes",
        description=(
            "Find processes (runs, instances, leads...) with one filter vocabulary across "
            "backends; one line per process. Use backend to pick an instance or 'all'. "
            "Filters combine with AND. Results follow sort; page with cursor. Example: "
            '{"backend":"all","status":["open"],"updated_before":"2026-10-01"} finds '
            "processes that look stuck."
        ),
        input_schema=LIST_PROCESSES_SCHEMA,
        output_model=ListResult,
        handler=_list_processes,
    ),
    ToolDef(
        name="get_process",
        title="Get one process",
        description=(
            "One process in detail: status, owner, dates, and sections such as tasks "
            "(with owners, due dates and OVERDUE marks), form fields, definition. "
            "Pass backend and id from a list_processes row."
        ),
        input_schema=GET_PROCESS_SCHEMA,
        output_model=ProcessDetail,
        handler=_get_process,
    ),
    ToolDef(
        name="export_process",
        title="Export processes to a file",
        description=(
            "Write processes to a file instead of the conversation. With id: one process in "
            "full (json, markdown, or the backend's native form). Without id: every process "
            "matching the list_processes filters (csv or jsonl), streamed page by page with "
            "progress. Answers with a resource link (read it with resources/read), the path, "
            "row count, size, sha256 and a preview. Never overwrites unless overwrite=true."
        ),
        input_schema=EXPORT_PROCESS_SCHEMA,
        output_model=ExportResult,
        handler=_export_process,
        read_only=False,
        idempotent=False,
    ),
)
