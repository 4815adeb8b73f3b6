"""Canonical shapes every backend is translated into, and every tool answers with.

Rows are deliberately flat and short: an agent reads dozens of them at once, so each
field earns its place and empty ones are dropped when rendered (`exclude_none`).

Rows inside the engine (ProcessSummary) are plain slotted dataclasses, built once per row
on the hot path; the answers a tool returns (ProcessDetail, ListResult's table in
tools/table.py, SummaryResult, ...) are pydantic models: validated, with a JSON schema.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["open", "completed", "cancelled", "suspended", "failed"]
STATUSES: tuple[Status, ...] = ("open", "completed", "cancelled", "suspended", "failed")

FilterMode = Literal["native", "narrowed", "local", "unsupported"]
Detail = Literal["ids", "summary", "full"]
DETAILS: tuple[Detail, ...] = ("ids", "summary", "full")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True, kw_only=True)
class ProcessSummary:
    """One process (run, instance, lead, ...) as a list row.

    A slotted dataclass, not a pydantic model: every adapter builds one per row, and at
    10,000 rows pydantic's validation was the largest part of an export's CPU (issue 15).
    Nothing is checked here: adapters pass typed values (their Structs decode and check
    the vendor's JSON, and dates go through `parse_time` or the vendor's own clock
    reader), and pydantic shapes what leaves a tool (tools/table.py, ProcessDetail,
    ExportResult). The keyword constructor, the field names and the defaults are those of
    the model it replaced, so adapter code reads the same."""

    backend: str  # Instance name the row came from.
    collection: str  # Collection within the backend (e.g. runs, leads).
    id: str  # Backend id; pass it to get_process.
    name: str
    status: Status | None = None  # Unified status.
    native_status: str | None = None  # The backend's own status value.
    template: str | None = None  # Template/definition/pipeline name.
    template_id: str | None = None
    owner: str | None = None  # Owner (email, username or name).
    owner_id: str | None = None
    tags: list[str] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    due_at: datetime | None = None
    progress: str | None = None  # Progress as 'done/total'.
    duration: str | None = None  # How long an ended process ran ('1h 35m').
    url: str | None = None
    extra: dict[str, Any] | None = None  # Backend-specific fields, only with detail='full'.

    # Attribute values a `where` filter is evaluated against; kept out of every answer.
    # (Compared like the fields, as the model compared its private attributes.)
    _attributes: dict[str, Any] | None = field(default=None, init=False, repr=False)
    # Text a `text` filter matches besides the name, where the vendor's own search looks
    # further (Kommo's `query` reads text-like custom fields, Chakra text attributes); kept
    # out of every answer.
    _search_text: tuple[str, ...] = field(default=(), init=False, repr=False)

    @property
    def attributes(self) -> dict[str, Any] | None:
        return self._attributes

    def with_attributes(self, attributes: dict[str, Any]) -> ProcessSummary:
        self._attributes = attributes
        return self

    @property
    def search_text(self) -> tuple[str, ...]:
        return self._search_text

    def with_search_text(self, values: Iterable[str | None]) -> ProcessSummary:
        self._search_text = tuple(v for v in values if v)
        return self

    def as_dict(self, *, exclude: Collection[str] = ()) -> dict[str, Any]:
        """The row's fields by name (its attributes and search text left out), as the
        detail builders pass them on: `ProcessDetail(**summary.as_dict(exclude=...))`.
        Lists and dicts are copied one level, as pydantic's model_dump copied them when
        rows were models."""
        values = _ROW_VALUES(self)
        return {
            name: _copied(value)
            for name, value in zip(ROW_FIELDS, values, strict=True)
            if name not in exclude
        }

    def replace(self, **changes: Any) -> ProcessSummary:
        """A copy with `changes` (field names), attributes and search text kept."""
        copy = ProcessSummary(**{**self.as_dict(), **changes})
        copy._attributes, copy._search_text = self._attributes, self._search_text
        return copy

    def present(self) -> dict[str, Any]:
        """The fields that have a value, in field order: a row's JSON object before its
        values are made JSON (tools/exportformats.py)."""
        return {
            name: value
            for name, value in zip(ROW_FIELDS, _ROW_VALUES(self), strict=True)
            if value is not None
        }


# Every field of a row, in declaration order (the order of a CSV's and a table's columns).
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProcessSummary) if f.init)
# All of a row's field values at once, in ROW_FIELDS order: one C call per row.
_ROW_VALUES = attrgetter(*ROW_FIELDS)


def _copied(value: Any) -> Any:
    if type(value) is list:
        return list(value)
    if type(value) is dict:
        return dict(value)
    return value


class TaskInfo(_Model):
    """A step inside a process, compact."""

    id: str
    name: str
    status: str | None = None
    owner: str | None = None
    position: int | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None
    overdue: bool | None = None


class ProcessDetail(_Model):
    """One process with the sections that were asked for."""

    # The fields of ProcessSummary, in its order (tests/test_model.py holds them equal).
    backend: str = Field(description="Instance name the row came from.")
    collection: str = Field(description="Collection within the backend (e.g. runs, leads).")
    id: str = Field(description="Backend id; pass it to get_process.")
    name: str
    status: Status | None = Field(None, description="Unified status.")
    native_status: str | None = Field(None, description="The backend's own status value.")
    template: str | None = Field(None, description="Template/definition/pipeline name.")
    template_id: str | None = None
    owner: str | None = Field(None, description="Owner (email, username or name).")
    owner_id: str | None = None
    tags: list[str] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    due_at: datetime | None = None
    progress: str | None = Field(None, description="Progress as 'done/total'.")
    duration: str | None = Field(None, description="How long an ended process ran ('1h 35m').")
    url: str | None = None
    extra: dict[str, Any] | None = Field(
        None, description="Backend-specific fields, only with detail='full'."
    )
    # Its own sections.
    description: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    tasks: list[TaskInfo] | None = None
    fields: dict[str, Any] | None = Field(
        None, description="Form fields, attributes or variables (secrets redacted)."
    )
    sections: dict[str, Any] | None = Field(
        None, description="Other backend-specific sections that were requested."
    )
    notes: list[str] | None = Field(None, description="What was truncated or left out, and why.")


def parse_time(value: Any) -> datetime | None:
    """A vendor's ISO 8601 time (`...Z`, `+00:00`, `+0000`, or none: UTC) as an aware
    datetime; None for anything else, so one odd field never fails a whole page."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """'45s', '12m 5s', '3h 20m', '2d 4h': two units at most, for a one-line row."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


class ApplyNote(_Model):
    """How one filter was applied on one backend instance."""

    backend: str
    field: str
    mode: FilterMode
    note: str | None = None


@dataclass(slots=True, kw_only=True)
class ListResult:
    """What the paging driver found for one list call. Internal: list_processes answers
    with it laid out as a table (tools/table.py's ListPage, the published shape), so its
    rows are never validated again."""

    processes: list[ProcessSummary]
    count: int
    has_more: bool  # True when next_cursor can fetch more.
    next_cursor: str | None = None
    total: int | None = None  # Total matches, only when the backend knows it.
    scanned: int | None = None  # Rows examined when filtering locally.
    applied: list[ApplyNote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# -- summarize_processes ----------------------------------------------------------------


class GroupCount(_Model):
    """One group of a summary, as Python callers read it (`SummaryResult.groups()`)."""

    key: list[str]
    count: int
    exact: bool


class Counted(_Model):
    # How one instance was counted (a comment: a docstring would be in the schema).

    backend: str
    method: Literal["vendor totals", "rows"]
    requests: int
    examined: int | None = None
    # The vendor's total of the rows a capped count examined (native filters only).
    of: int | None = None
    capped: bool | None = None


class SummaryResult(_Model):
    """The answer of summarize_processes: one table row per group, largest first, each
    `[*values, count, exact]` (a value per `group_by` name; exact false: a lower bound)."""

    columns: list[str]
    rows: list[list[str | int | bool]]
    total: int
    exact: bool = Field(description="false: total is a lower bound")
    # Groups past MAX_GROUPS, and the processes in them.
    more_groups: int | None = None
    more_count: int | None = None
    counted: list[Counted]
    applied: list[ApplyNote] | None = Field(None, description="Filters checked here.")
    warnings: list[str] | None = None

    @property
    def group_by(self) -> list[str]:
        return self.columns[:-2]

    def groups(self) -> list[GroupCount]:
        return [
            GroupCount(key=[str(v) for v in r[:-2]], count=int(r[-2]), exact=bool(r[-1]))
            for r in self.rows
        ]

    @classmethod
    def of(
        cls, group_by: Sequence[str], groups: Sequence[GroupCount], **rest: Any
    ) -> SummaryResult:
        rows: list[list[str | int | bool]] = [[*g.key, g.count, g.exact] for g in groups]
        return cls(columns=[*group_by, "count", "exact"], rows=rows, **rest)
