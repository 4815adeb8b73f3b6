"""Chakra processes as canonical rows: the summary, its extras (only when an answer shows
them), the attributes a `where` filter tests, and the text a `text` filter searches (only
when the query reads it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools import decode
from tools.backends.base import RowParts
from tools.backends.chakra.naming import Naming
from tools.backends.chakra.schema import PROCESS_STATUS, Procedure, User, chakra_time
from tools.backends.chakra.shapes import FullProcess, Process
from tools.model import ProcessSummary

EVERY_PART = RowParts()


def as_process(raw: Process | Mapping[str, Any], backend: str) -> Process:
    """A process decoded from a list answer as is; one read whole (a fetch by id) as the
    full shape."""
    return decode.row(raw, Process, FullProcess, backend=backend)


def summary(
    backend: str,
    raw: Process | Mapping[str, Any],
    proc: Procedure,
    users: Mapping[str, User],
    naming: Naming,
    pods: Mapping[str, str],
    parts: RowParts = EVERY_PART,
) -> ProcessSummary:
    """One process; the extras need it decoded as a FullProcess."""
    row = as_process(raw, backend)
    data = row.data or {}
    state = proc.state(row.state)
    status_value = (row.status or "").upper()
    status = PROCESS_STATUS.get(status_value) or (state.status if state else None)
    owner = users.get(str(row.assigned_to))
    out = ProcessSummary(
        backend=backend,
        collection=proc.short_id,
        id=row.id,
        name=naming.name(data) or row.id,
        status=status,
        native_status=state.short_id if state else _text(row.state),
        template=proc.name,
        template_id=proc.short_id,
        owner=owner.username if owner else _text(row.assigned_to),
        owner_id=owner.id if owner else _text(row.assigned_to),
        created_at=chakra_time(row.created_at),
        updated_at=chakra_time(row.updated_at),
        # The next follow-up is when the process is next due for action.
        due_at=chakra_time(row.next_action_at),
        extra=_extra(row, state.name if state else None, users, pods)
        if parts.extra and isinstance(row, FullProcess)
        else None,
    )
    # The attributes are the data itself: a copy costs less than telling when to skip it.
    out.with_attributes(dict(data))
    if parts.search_text:
        out.with_search_text(naming.search_text(data))
    return out


def _extra(
    row: FullProcess, state_name: str | None, users: Mapping[str, User], pods: Mapping[str, str]
) -> dict[str, Any]:
    creator = users.get(str(row.created_by))
    extra = {
        "state_name": state_name,
        "created_by": creator.username if creator else row.created_by,
        "pod": pods.get(str(row.belongs_to), row.belongs_to),
        "derived": row.derived_data or None,
    }
    return {k: v for k, v in extra.items() if v not in (None, "", {}, [])}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
