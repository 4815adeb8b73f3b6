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
from tools.bounds import (
    CURSOR_CHARS,
    DATE_CHARS,
    FILE_NAME_CHARS,
    ID_CHARS,
    MAX_COLUMNS,
    MAX_VALUES,
    NAME_CHARS,
    WHERE_CHARS,
)
from tools.errors import InvalidArgumentError
from tools.export_process import FORMATS, MAX_ROWS, ExportResult, export_process
from tools.exportformats import DEFAULT_COLUMNS
from tools.get_process import SECTIONS, get_process
from tools.groups import GROUP_BY, MAX_DIMENSIONS
from tools.instances import ALL, Instances
from tools.list_backends import BackendsResult, list_backends
from tools.list_processes import list_processes
from tools.model import DETAILS, STATUSES, ListResult, ProcessDetail, SummaryResult
from tools.progress import Progress
from tools.query import MAX_LIMIT, SORT_KEYS
from tools.summarize import summarize_processes
from tools.where_text import EXAMPLE as WHERE_EXAMPLE


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


# How the schemas are written, so that every client takes them (the rules, with their
# sources, are checked in tests/server/test_inventory.py):
# - An optional parameter is left out of `required` and admits null: `"type": [T, "null"]`.
#   OpenAI's strict mode (the OpenAI Agents SDK converts MCP tools with
#   convert_schemas_to_strict) makes every property required, so null is how a model says
#   "not given" there; the server reads null as not given for every optional parameter.
#   Google's converters (google-genai Schema.from_json_schema, its MCP adapter) turn
#   [T, "null"] into Gemini's `nullable: true`.
# - A choice from a list that may be null is `anyOf` [the choice, null], with nothing
#   beside the anyOf (Vertex refuses siblings of any_of) and the description inside: a
#   type list cannot carry the enum, since Gemini's enums hold strings only, never null.
# - No `default` keyword (Azure's strict mode refuses one; defaults are in descriptions),
#   no `$ref`, no `format`; strings and arrays carry the bounds the server enforces
#   (tools/bounds.py), so a caller learns them before it calls.


def _text(description: str, max_length: int = NAME_CHARS) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_length, "description": description}


def _required_text(description: str, max_length: int = NAME_CHARS) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "description": description}


def _texts(
    description: str, enum: tuple[str, ...] | None = None, max_items: int = MAX_VALUES
) -> dict[str, Any]:
    items: dict[str, Any] = (
        {"type": "string", "enum": list(enum)}
        if enum
        else {"type": "string", "maxLength": NAME_CHARS}
    )
    return {
        "type": ["array", "null"],
        "items": items,
        "maxItems": len(enum) if enum else max_items,
        "description": description,
    }


def _choice(description: str, values: tuple[str, ...]) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "enum": list(values), "description": description},
            {"type": "null"},
        ]
    }


def _integer(description: str, low: int, high: int) -> dict[str, Any]:
    return {
        "type": ["integer", "null"],
        "minimum": low,
        "maximum": high,
        "description": description,
    }


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


BACKEND = _text('Instance from list_backends, or "all" (default).')
COLLECTION = _text("Collection (see list_backends); default: the main one.")

LIST_PROCESSES_SCHEMA = _object(
    {
        "backend": BACKEND,
        "collection": COLLECTION,
        "status": _texts(
            "Unified status, any of (cancelled = archived, lost or deleted).", STATUSES
        ),
        "native_status": _texts("The backend's own status values (see list_backends)."),
        "text": _text(
            "Case-insensitive part of the name (or of the text fields list_backends names)."
        ),
        "created_after": _text(
            "ISO 8601 date or date-time, inclusive; a bare date is 00:00 UTC.", DATE_CHARS
        ),
        "created_before": _text("ISO 8601, exclusive.", DATE_CHARS),
        "updated_after": _text("Last change at or after (ISO 8601).", DATE_CHARS),
        "updated_before": _text("Last change before (ISO 8601).", DATE_CHARS),
        "due_after": _text("Due (deadline, next task) at or after.", DATE_CHARS),
        "due_before": _text("Due before.", DATE_CHARS),
        "overdue": {"type": ["boolean", "null"], "description": "Only true: open, past due."},
        "owner": _text("Owner's user id or email."),
        "template": _text("Template, definition or pipeline: id or exact name."),
        "tags": _texts("Tag names; a process must carry all of them."),
        "where": _text(
            "Attribute conditions (list_backends names them), e.g. "
            + WHERE_EXAMPLE
            + '; also != > < <= and stage in ("won", "lost"). Text in quotes.',
            WHERE_CHARS,
        ),
        "sort": _choice("Order (default -created_at).", SORT_KEYS),
        "limit": _integer("Rows (default 20); page on with cursor.", 1, MAX_LIMIT),
        "cursor": _text("next_cursor of the previous answer; same filters.", CURSOR_CHARS),
        "detail": _choice(
            "ids = id and name; summary (default); full adds backend fields.", DETAILS
        ),
    }
)

GET_PROCESS_SCHEMA = _object(
    {
        "backend": _required_text("Instance name (each list row carries it)."),
        "id": _required_text("Process id from list_processes.", ID_CHARS),
        "collection": COLLECTION,
        "include": _texts("Sections (default tasks; detail=full: all there are).", SECTIONS),
        "detail": _choice("full adds backend fields and every section.", ("summary", "full")),
    },
    required=("backend", "id"),
)


def _as_in_list(schema: dict[str, Any]) -> dict[str, Any]:
    """A list filter again, typed the same, described once (in list_processes)."""
    if "anyOf" in schema:
        choice, null = schema["anyOf"]
        return {"anyOf": [{**choice, "description": "As in list_processes."}, null]}
    return {**schema, "description": "As in list_processes."}


_FILTERS = {
    k: _as_in_list(v)
    for k, v in LIST_PROCESSES_SCHEMA["properties"].items()
    if k not in ("limit", "cursor", "detail", "backend", "collection")
}
EXPORT_PROCESS_SCHEMA = _object(
    {
        "backend": _required_text('Instance name; "all" for list exports (without id).'),
        "id": _text("Export this one process in full; leave out to export a list.", ID_CHARS),
        "collection": COLLECTION,
        "format": _choice(
            "With id: json (default), markdown, or native (the vendor's own form, e.g. "
            "Frends BPMN). Without id: csv (default) or jsonl.",
            FORMATS,
        ),
        "columns": _texts(
            "csv columns in order (default: "
            + ", ".join(DEFAULT_COLUMNS)
            + "): any row field, or extra.KEY.",
            max_items=MAX_COLUMNS,
        ),
        "file_name": _text(
            "Plain file name in the export directory; default: generated.", FILE_NAME_CHARS
        ),
        "overwrite": {
            "type": ["boolean", "null"],
            "description": "Replace an existing file of that name (default false).",
        },
        "max_rows": _integer(
            "Stop after this many rows (list exports; default: every match).", 1, MAX_ROWS
        ),
        **_FILTERS,
    },
    required=("backend",),
)

SUMMARIZE_PROCESSES_SCHEMA = _object(
    {
        "backend": BACKEND,
        "collection": COLLECTION,
        **{k: v for k, v in _FILTERS.items() if k != "sort"},
        "group_by": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(GROUP_BY)},
            "maxItems": MAX_DIMENSIONS,
            "description": "One or two (default backend); age: since created.",
        },
    }
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


async def _summarize_processes(session: Session, args: dict[str, Any]) -> Reply:
    result: SummaryResult = await summarize_processes(
        session.instances, args, progress=session.progress
    )
    return Reply(result, render.summary_text(result))


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
        name="summarize_processes",
        title="Count processes per group",
        description=(
            "Count processes matching the list_processes filters per group, largest first, "
            "instead of paging rows. Exact where the backend has totals, else lower bounds "
            'past a scan cap (marked). E.g. {"text":"onboarding","status":["open"],'
            '"updated_before":"2026-10-23","group_by":["owner"]}: stuck runs per owner.'
        ),
        input_schema=SUMMARIZE_PROCESSES_SCHEMA,
        output_model=SummaryResult,
        handler=_summarize_processes,
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
