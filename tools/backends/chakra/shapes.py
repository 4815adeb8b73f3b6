"""What the Chakra adapter reads of a process and of a list answer (reference part A),
decoded by tools/decode.py: only these fields are built (`record`, `team`, `entity` and
the rest of a process are skipped unparsed).

`Process` holds what a summary row, its `where` attributes and its searched text read
(the name itself comes from `data`); `FullProcess` adds what only the extras show,
decoded only when an answer asks for them. The reference documents the fields but marks
none optional, so every field but the id may be missing or null (a process with no
assignee has none). Times are epoch milliseconds in the objects (A.5); an ISO string is
taken too, as `chakra_time` reads both."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from tools.decode import Shape

R = TypeVar("R", covariant=True)
Moment = int | float | str | None


class Process(Shape):
    id: str
    # Attribute values by attribute short id (external APIs key them so, A.5).
    data: dict[str, Any] | None = None
    status: str | None = None
    state: str | None = None
    assigned_to: str | None = None
    created_at: Moment = None
    updated_at: Moment = None
    next_action_at: Moment = None


class FullProcess(Process):
    created_by: str | None = None
    belongs_to: str | None = None
    # Shown as it comes (an extra).
    derived_data: Any = None


class Meta(Shape):
    has_more: bool | None = None


class ProcessList(Shape, Generic[R]):
    """The `{_data, _meta, _errors}` envelope of a list answer (A.2, A.4)."""

    data: list[R] = msgspec.field(name="_data")
    meta: Meta | None = msgspec.field(default=None, name="_meta")
