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
    FILTER_CHARS,
    ID_CHARS,
    MAX_FIELDS,
    MAX_VALUES,
    NAME_CHARS,
    WHERE_CHARS,
)
from tools.errors import InvalidArgumentError
from tools.export_args import FORMATS, MAX_ROWS
from tools.export_process import ExportResult, export_process
from tools.get_process import SECTIONS, get_process
from tools.groups import GROUP_BY, MAX_DIMENSIONS
from tools.instances import Instances
from tools.list_backends import BackendsResult, list_backends
from tools.list_processes import list_processes
from tools.model import DETAILS, STATUSES, ProcessDetail, SummaryResult
from tools.progress import Progress
from tools.query import MAX_LIMIT, SORT_KEYS
from tools.summarize import summarize_processes
from tools.table import ListPage


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
    # Runs at the vendor's pace up to [server] export_max_minutes, not within the quick
    # calls' [server] list_budget_seconds (tools/operation.py).
    long_running: bool = False


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


def _date() -> dict[str, Any]:
    """A date bound the names explain (created_after's description says the rest)."""
    return {"type": ["string", "null"], "maxLength": DATE_CHARS}


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


# Descriptions are terse on purpose: every client sends them to the model on every turn
# (benchmarks/sizes.py counts them; the README and list_backends say the rest).
BACKEND = _text('Instance, or "all" (default).')
# Optional, and list_backends names each backend's collections and its main one.
COLLECTION: dict[str, Any] = {"type": ["string", "null"], "maxLength": NAME_CHARS}
FIELDS = _texts('Columns, e.g. ["owner","extra.KEY"]; id always.', max_items=MAX_FIELDS)

LIST_PROCESSES_SCHEMA = _object(
    {
        "backend": BACKEND,
        "collection": COLLECTION,
        "status": _texts("Any of.", STATUSES),
        "native_status": _texts("Backend's own values."),
        "text": _text("Part of the name, any case."),
        "created_after": _text("ISO 8601; after: inclusive, before: not.", DATE_CHARS),
        "created_before": _date(),
        "updated_after": _date(),
        "updated_before": _date(),
        "due_after": _text("Deadline or next task due.", DATE_CHARS),
        "due_before": _date(),
        "overdue": {"type": ["boolean", "null"], "description": "Only true: open, past due."},
        "owner": _text("User id or email."),
        "template": _text("Template/definition/pipeline: id or name."),
        "tags": _texts("All of these tags."),
        # An example that shows and/or, grouping, quotes and `in` (the README has the rest).
        "where": _text(
            'Attribute conditions, e.g. budget >= 40000 and (city = "Pune" or stage in ("won")).',
            WHERE_CHARS,
        ),
        "sort": _choice("Default -created_at.", SORT_KEYS),
        "limit": _integer("Rows (default 20).", 1, MAX_LIMIT),
        "cursor": _text("next_cursor; same filters.", CURSOR_CHARS),
        "detail": _choice("Default summary; full: every field.", DETAILS),
        "fields": FIELDS,
    }
)

GET_PROCESS_SCHEMA = _object(
    {
        "backend": _required_text("Instance of the row."),
        "id": _required_text("Id from list_processes.", ID_CHARS),
        "collection": COLLECTION,
        "include": _texts("Sections (default tasks).", SECTIONS),
        "detail": _choice("full: every field and section.", ("summary", "full")),
    },
    required=("backend", "id"),
)


# summarize_processes and export_process take list_processes' filters as one expression
# (tools/filter_text.py says why and how); the typed parameters are published once.
FILTER = _text(
    "list_processes filters ANDed: status in ('open') and updated_before = '2026-10-01'; "
    "other names are where conditions.",
    FILTER_CHARS,
)
EXPORT_PROCESS_SCHEMA = _object(
    {
        "backend": _required_text('Instance; "all" for a list.'),
        "id": _text("One process; leave out for a list.", ID_CHARS),
        "collection": COLLECTION,
        "format": _choice(
            "id: json (default), markdown, native; list: csv (default), jsonl.",
            FORMATS,
        ),
        "fields": {**FIELDS, "description": "As in list_processes."},
        "file_name": _text("Plain name; default generated.", FILE_NAME_CHARS),
        "overwrite": {"type": ["boolean", "null"], "description": "Replace a file."},
        "max_rows": _integer("Stop after this many.", 1, MAX_ROWS),
        "filter": FILTER,
        # The order of the file's rows; its default is said in list_processes.
        "sort": {"anyOf": [{"type": "string", "enum": list(SORT_KEYS)}, {"type": "null"}]},
    },
    required=("backend",),
)

SUMMARIZE_PROCESSES_SCHEMA = _object(
    {
        "backend": BACKEND,
        "collection": COLLECTION,
        "filter": FILTER,
        "group_by": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(GROUP_BY)},
            "maxItems": MAX_DIMENSIONS,
            "description": "One or two; default backend. age: since created.",
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
    page: ListPage = await list_processes(session.instances, args, progress=session.progress)
    return Reply(page, render.list_text(page))


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
            "Start here: the instances, their collections, statuses and sorts, how each "
            "filter runs on each (native, local, ...), the server's time."
        ),
        input_schema=LIST_BACKENDS_SCHEMA,
        output_model=BackendsResult,
        handler=_list_backends,
    ),
    ToolDef(
        name="list_processes",
        title="List processes",
        description=(
            "Find processes (runs, leads, executions...) in one backend or all, filters ANDed; "
            "one row each, cursor for more. Stuck: "
            '{"status":["open"],"updated_before":"2026-10-01"}.'
        ),
        input_schema=LIST_PROCESSES_SCHEMA,
        output_model=ListPage,
        handler=_list_processes,
    ),
    ToolDef(
        name="summarize_processes",
        title="Count processes per group",
        description=(
            "Count list_processes matches per group, largest first, in one short answer: "
            "exact where the backend has totals, else marked lower bounds."
        ),
        input_schema=SUMMARIZE_PROCESSES_SCHEMA,
        output_model=SummaryResult,
        handler=_summarize_processes,
    ),
    ToolDef(
        name="get_process",
        title="Get one process",
        description=(
            "One process in detail: tasks (owners, due dates, OVERDUE), fields, definition; "
            "backend and id from a list row."
        ),
        input_schema=GET_PROCESS_SCHEMA,
        output_model=ProcessDetail,
        handler=_get_process,
    ),
    ToolDef(
        name="export_process",
        title="Export processes to a file",
        description=(
            "Write to a file, not the conversation: with id one process in full, else every "
            "match of filter (csv, jsonl), with progress. Answers a resource link and a "
            "preview; never overwrites unless asked."
        ),
        input_schema=EXPORT_PROCESS_SCHEMA,
        output_model=ExportResult,
        handler=_export_process,
        long_running=True,
        read_only=False,
        idempotent=False,
    ),
)
