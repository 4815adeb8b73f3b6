"""yuuvis process instances as canonical rows: the summary, its extras (only when an
answer shows them) and the attributes a `where` filter tests (only when one does)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools import decode
from tools.backends.yuuvis import translate
from tools.backends.yuuvis.info import human_duration
from tools.backends.yuuvis.shapes import FullInstance, Instance
from tools.backends.yuuvis.translate import NATIVE_STATUS, row_state
from tools.model import ProcessSummary, parse_time


def as_instance(raw: Instance | Mapping[str, Any], backend: str) -> Instance:
    """A row decoded from a list page as is; an object read whole (a single get) as the
    full shape."""
    return decode.row(raw, Instance, FullInstance, backend=backend)


def summary(
    backend: str,
    raw: Instance | Mapping[str, Any],
    stamp: Mapping[str, Any] | None = None,
    *,
    extra: bool = True,
    attributes: bool = True,
) -> ProcessSummary:
    """One instance. `extra` and `attributes` need it decoded as a FullInstance."""
    row = as_instance(raw, backend)
    state = row_state(row)
    definition_id = row.process_definition_id or ""
    key, _, rest = definition_id.partition(":")
    version_text = rest.partition(":")[0]
    version = int(version_text) if version_text.isdigit() else None
    start = parse_time(row.start_time)
    end = parse_time(row.end_time)
    duration = row.duration_in_millis
    starter = row.start_user_id
    full = row if isinstance(row, FullInstance) else None
    out = ProcessSummary(
        backend=backend,
        collection="instances",
        id=str(row.id),
        # A nameless instance stays nameless: nameLikeIgnoreCase never matches it either.
        name=row.name or "",
        status=NATIVE_STATUS[state],
        native_status=state,
        template=row.process_definition_name or key or None,
        template_id=key or None,
        owner=starter or None,
        owner_id=starter or None,
        created_at=start,
        # The engine has no update time; an ended instance last changed when it ended.
        updated_at=end,
        duration=human_duration(duration) if duration is not None and end else None,
        extra=_extra(full, definition_id, version, end) if extra and full else None,
    )
    if attributes and full:
        out.with_attributes(
            {
                "businessKey": full.business_key,
                "name": full.name,
                "processDefinitionId": definition_id or None,
                "processDefinitionKey": key or None,
                "processDefinitionVersion": version,
                "startActivityId": full.start_activity_id,
                "endActivityId": full.end_activity_id,
                "deleteReason": full.delete_reason,
                "durationInMillis": duration,
                **(stamp or {}),
            }
        )
    return out


def _extra(row: FullInstance, definition_id: str, version: int | None, end: Any) -> dict[str, Any]:
    duration = row.duration_in_millis
    extra = {
        "business_key": row.business_key,
        "duration": human_duration(duration) if duration is not None else None,
        "ended_at": translate.wire_time(end) if end else None,
        "delete_reason": row.delete_reason,
        "definition_id": definition_id or None,
        "definition_version": version,
        "duration_ms": duration,
        "end_activity": row.end_activity_id,
    }
    return {k: v for k, v in extra.items() if v not in (None, "")}
