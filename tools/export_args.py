"""export_process' arguments: its own (format, file name, ...) and the list_processes
filters (typed, or as one `filter` expression: tools/filter_text.py), validated together
so that a wrong combination (a list filter with `id`, a list format for one process) is
refused before any backend is asked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.arguments import given, label, refusal, shown
from tools.bounds import FILE_NAME_CHARS, ID_CHARS, MAX_FIELDS, NAME_CHARS
from tools.errors import InvalidArgumentError
from tools.exportformats import DEFAULT_COLUMNS, DETAIL_FORMATS, LIST_FORMATS
from tools.fields import check_fields
from tools.filter_text import expand_filter
from tools.instances import ALL
from tools.query import QUERY_FILTERS

MAX_ROWS = 1_000_000
Format = Literal["csv", "jsonl", "json", "markdown", "native"]
FORMATS: tuple[str, ...] = (*LIST_FORMATS, *DETAIL_FORMATS)
# Parameters of export_process itself; the rest are list_processes filters.
OWN = ("backend", "collection", "id", "format", "fields", "file_name", "overwrite", "max_rows")
LIST_ONLY = (*QUERY_FILTERS, "sort")
# What the schema publishes: the filters as one expression (tools/filter_text.py); the
# typed ones are taken too.
PUBLISHED = (*OWN, "filter", "sort")
FieldName = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]


class ExportArgs(BaseModel):
    # Strict: a JSON value of the wrong type is refused, never converted (tools/arguments).
    model_config = ConfigDict(extra="forbid", strict=True)

    backend: str = Field(min_length=1, max_length=NAME_CHARS)
    collection: str | None = Field(None, min_length=1, max_length=NAME_CHARS)
    id: str | None = Field(None, min_length=1, max_length=ID_CHARS)
    format: Format | None = None
    # The columns of a list export (tools/fields.py), the same names as list_processes'.
    fields: list[FieldName] | None = Field(None, max_length=MAX_FIELDS)
    file_name: str | None = Field(None, max_length=FILE_NAME_CHARS)
    overwrite: bool = False
    max_rows: int | None = Field(None, ge=1, le=MAX_ROWS)


_HINTS = {
    "format": "use one of: " + ", ".join(FORMATS),
    "max_rows": f"pass a number from 1 to {MAX_ROWS}, or leave max_rows out for every row",
    "collection": "leave collection out for the backend's main one, or name one that "
    "list_backends shows",
    "backend": 'name an instance from list_backends ("all" for list exports)',
}
_EXAMPLES = {
    "overwrite": "true",
    "max_rows": "500",
    "fields": '["name", "status", "owner"]',
    "file_name": '"stuck-onboarding.csv"',
    "backend": '"all"',
}


def parse_export(arguments: Mapping[str, Any]) -> tuple[ExportArgs, dict[str, Any]]:
    """Split arguments into export_process's own and the list filters; validate both.
    A parameter sent as null is not given."""
    arguments = expand_filter(given(arguments, (*OWN, *LIST_ONLY, "filter")))
    own = {k: v for k, v in arguments.items() if k in OWN}
    filters = {k: v for k, v in arguments.items() if k not in OWN}
    if "columns" in filters:
        # The one renamed parameter: `columns` of earlier versions is now `fields`.
        raise InvalidArgumentError(
            "columns is now called fields (the same names as list_processes' fields)",
            field="columns",
            hint="pass the same list as fields; id always comes first",
        )
    unknown = [k for k in filters if k not in LIST_ONLY]
    if unknown:
        raise InvalidArgumentError(
            f"unknown parameter {shown(label(unknown[0]))}",
            field=unknown[0],
            hint="valid parameters are: " + ", ".join(PUBLISHED),
        )
    try:
        args = ExportArgs.model_validate(own)
    except ValidationError as exc:
        raise refusal(
            exc, valid=(*OWN, *LIST_ONLY), hints=_HINTS, examples=_EXAMPLES, model=ExportArgs
        ) from None
    if args.id is not None:
        stray = [k for k in (*filters, "fields", "max_rows") if k in arguments]
        if stray:
            raise InvalidArgumentError(
                f"{', '.join(stray)} only apply to list exports (without id)",
                field=stray[0],
                hint="drop them to export the one process, or drop id to export a list",
            )
        fmt = args.format or "json"
        if fmt not in DETAIL_FORMATS:
            raise InvalidArgumentError(
                f"format {shown(fmt)} is for list exports",
                field="format",
                hint="with id use one of: " + ", ".join(DETAIL_FORMATS),
            )
    else:
        fmt = args.format or "csv"
        if fmt not in LIST_FORMATS:
            raise InvalidArgumentError(
                f"format {shown(fmt)} is for exporting one process",
                field="format",
                hint="pass id for that; list exports use one of: " + ", ".join(LIST_FORMATS),
            )
        if args.fields is not None:
            check_fields(args.fields)
    return args.model_copy(update={"format": fmt}), filters


def columns_of(args: ExportArgs) -> tuple[str, ...] | None:
    """The columns of a list export, None for every field (JSON Lines without fields).

    `fields` given: id first, then the fields in order, and `backend` ahead of them all
    when the export spans every instance (an id is only usable with its instance)."""
    if args.fields is None:
        return DEFAULT_COLUMNS if args.format == "csv" else None
    names = check_fields(args.fields)
    if args.backend == ALL and "backend" not in names:
        names = ("backend", *names)
    return names
