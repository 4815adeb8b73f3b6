"""The columns of a row, by name: one vocabulary for list_processes and export_process.

`fields` picks the columns an answer (or an export file) carries; the same names head the
columns of a list answer and of a CSV file. Names are the row's own (ProcessSummary), plus
`extra.KEY` for one backend-specific field. `id` is always there, first; a list answer
also always says `backend` and `collection` (said once when every row shares them), since
get_process needs them.

Which columns each detail level shows when `fields` is left out (issue 12: rows stay a few
tens of tokens in whichever channel a client reads):
- ids: the id alone (the backend and collection are said once);
- summary: name, status, native_status, owner and one date, the one the rows are in order
  of (created_at when sorted by creation, else updated_at), so the order can be seen;
  an owner known only by an id (yuuvis' startUserId) is left to fields or detail=full;
- full: every field, with exact timestamps and the backend's own fields (`extra`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tools.arguments import shown
from tools.errors import InvalidArgumentError
from tools.model import ROW_FIELDS as MODEL_ROW_FIELDS
from tools.model import ProcessSummary

# Every field of a row, in the order columns are laid out.
ROW_FIELDS: tuple[str, ...] = MODEL_ROW_FIELDS
# Always in a list answer: where the row is, and which one it is.
WHERE_FIELDS = ("backend", "collection")
IDS_FIELDS: tuple[str, ...] = ("id",)
SUMMARY_FIELDS: tuple[str, ...] = ("id", "name", "status", "native_status", "owner")
FULL_FIELDS: tuple[str, ...] = tuple(f for f in ROW_FIELDS if f not in WHERE_FIELDS)
DATE_FIELDS = frozenset({"created_at", "updated_at", "due_at"})
EXTRA_PREFIX = "extra."
VALID_HINT = ", ".join(ROW_FIELDS) + ", or extra.KEY for one backend field"


def is_extra(name: str) -> bool:
    return name.startswith(EXTRA_PREFIX) and len(name) > len(EXTRA_PREFIX)


def check_fields(names: Sequence[str], *, parameter: str = "fields") -> tuple[str, ...]:
    """The columns asked for, in order, `id` first whether asked or not. Unknown names are
    refused with the list of valid ones; so is a name given twice."""
    bad = [n for n in names if n not in ROW_FIELDS and not is_extra(n)]
    if bad:
        raise InvalidArgumentError(
            f"{parameter}: unknown field(s) {', '.join(map(shown, bad[:5]))}"
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""),
            field=parameter,
            hint=f"{parameter} are: {VALID_HINT}",
        )
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InvalidArgumentError(
            f"{parameter} names {shown(twice)} twice",
            field=parameter,
            hint="name each field once",
        )
    return ("id", *(n for n in names if n != "id"))


def default_fields(detail: str, sort: str) -> tuple[str, ...]:
    if detail == "ids":
        return IDS_FIELDS
    if detail == "full":
        return FULL_FIELDS
    return (*SUMMARY_FIELDS, "created_at" if sort.endswith("created_at") else "updated_at")


def day(value: datetime) -> str:
    """A date as ISO 8601's basic form, YYYYMMDD: 3 tokens where 2026-11-14 takes 6,
    read back by every date parameter (a bare date is midnight UTC)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def stamp(value: datetime) -> str:
    """An exact time, compact: 2026-11-14T21:42:26Z (UTC) or with its offset."""
    return value.isoformat().replace("+00:00", "Z")


Reader = Callable[[ProcessSummary], Any]


def reader(name: str, *, exact_times: bool, summary: bool = False) -> Reader:
    """The value of one column for a row, as an answer carries it: dates as days (or exact
    times), every other value as the row has it (None when it has none). `summary`: the
    default summary columns, where an owner that is only an id is left out."""
    if is_extra(name):
        key = name.removeprefix(EXTRA_PREFIX)
        return lambda row: (row.extra or {}).get(key)
    if name in DATE_FIELDS:
        show = stamp if exact_times else day

        def when(row: ProcessSummary) -> Any:
            value = getattr(row, name)
            return show(value) if value is not None else None

        return when
    if name == "owner" and summary:
        return lambda row: row.owner if row.owner != row.owner_id else None
    if name == "tags":
        return lambda row: row.tags or None
    return lambda row: getattr(row, name)
