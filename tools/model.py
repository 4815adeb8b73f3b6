"""Canonical shapes every backend is translated into, and every tool answers with.

Rows are deliberately flat and short: an agent reads dozens of them at once, so each
field earns its place and empty ones are dropped when rendered (`exclude_none`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

Status = Literal["open", "completed", "cancelled", "suspended", "failed"]
STATUSES: tuple[Status, ...] = ("open", "completed", "cancelled", "suspended", "failed")

FilterMode = Literal["native", "narrowed", "local", "unsupported"]
Detail = Literal["ids", "summary", "full"]
DETAILS: tuple[Detail, ...] = ("ids", "summary", "full")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcessSummary(_Model):
    """One process (run, instance, lead, ...) as a list row."""

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

    # Attribute values a `where` filter is evaluated against; kept out of every answer.
    _attributes: dict[str, Any] | None = PrivateAttr(None)
    # Text a `text` filter matches besides the name, where the vendor's own search looks
    # further (Kommo's `query` reads text-like custom fields, Chakra text attributes); kept
    # out of every answer.
    _search_text: tuple[str, ...] = PrivateAttr(())

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


class ProcessDetail(ProcessSummary):
    """One process with the sections that were asked for."""

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


class ListResult(_Model):
    """The answer of list_processes."""

    processes: list[ProcessSummary]
    count: int
    has_more: bool = Field(description="True when next_cursor can fetch more.")
    next_cursor: str | None = None
    total: int | None = Field(None, description="Total matches, only when the backend knows it.")
    scanned: int | None = Field(None, description="Rows examined when filtering locally.")
    applied: list[ApplyNote] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


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
