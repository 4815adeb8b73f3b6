"""What the Tallyfy adapter reads of a run and of a runs page (reference part B), decoded
by tools/decode.py: only these fields are built, the rest of a run (prerun values, users,
groups, whole_progress...) is skipped unparsed.

`Run` holds what a summary row shows; `FullRun` adds what only the extras show, decoded
only when an answer asks for them (detail=full, or an extra column). The reference marks
no field of a run optional or nullable but the id (`archived_at` is null until a run is
archived, relations come only when asked for with `with=`), so every other field may be
missing or null; the id is a 32-hex string, user ids integers (B.1)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from tools.decode import SnakeShape

R = TypeVar("R", covariant=True)


class Progress(SnakeShape):
    complete: int | None = None
    total: int | None = None


class Tag(SnakeShape):
    title: str | None = None


class Tags(SnakeShape):
    # Relations arrive wrapped as {"data": [...]} (B.4).
    data: list[Tag] | None = None


class Run(SnakeShape):
    id: str
    name: str | None = None
    status: str | None = None
    checklist_id: str | None = None
    checklist_title: str | None = None
    owner_id: int | None = None
    progress: Progress | None = None
    tags: Tags | None = None
    created_at: str | None = None
    last_updated: str | None = None
    due_date: str | None = None
    started_at: str | None = None
    completed_at: str | None = None


class FullRun(Run):
    # Shown as they come (extras), so read as any JSON value.
    increment_id: Any = None
    summary: Any = None
    started_by: Any = None
    archived_at: Any = None
    late_tasks: Any = None
    due_date_passed: Any = None
    starred: Any = None
    type: Any = None


class Pagination(SnakeShape):
    total: int | None = None


class Meta(SnakeShape):
    pagination: Pagination | None = None


class ListPage(SnakeShape, Generic[R]):
    """A list answer, of runs or of directory rows (users, tags, checklists): `{"data":
    [...], "meta": {"pagination": {...}}}` (Fractal, B.1 and B.3)."""

    data: list[R]
    meta: Meta | None = None

    @property
    def total(self) -> int | None:
        return self.meta.pagination.total if self.meta and self.meta.pagination else None
