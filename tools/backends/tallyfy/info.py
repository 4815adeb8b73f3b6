"""What Tallyfy runs are and how they look on the wire: statuses, sorts, sections, id
shapes, the collection's capabilities, settings, and the pieces of a run that become a
process (facts: shared/reference/chakra-and-tallyfy.md part B)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tools import decode
from tools.backends.base import CollectionInfo, FieldSupport, InstanceSettings
from tools.backends.tallyfy.shapes import FullRun, Run
from tools.ids import HEX32, IdShape
from tools.model import ProcessSummary, Status, TaskInfo, human_duration, parse_time

if TYPE_CHECKING:
    import httpx

NATIVE_STATUS: dict[str, Status] = {
    "active": "open",
    "problem": "open",
    "delayed": "open",
    "complete": "completed",
    "archived": "cancelled",
}
# Runs and templates have 32-hex ids (reference B.1).
RUN_ID = IdShape(
    "Tallyfy run id", HEX32, "32 hexadecimal characters, e.g. 2b654ce0013c5f093c60cb29ec41d31e"
)
TEMPLATE_ID = IdShape("Tallyfy template id", HEX32, "32 hexadecimal characters")
SORTS = {"-created_at": "-created_at", "created_at": "created_at", "name": "name", "-name": "-name"}
SECTIONS = ("tasks", "fields", "definition")
LIST_WITH = "tags"
MAX_FIELD_CHARS = 500

RUNS = CollectionInfo(
    name="runs",
    description="Process runs: launched instances of a template (checklist) with their tasks.",
    fields={
        "status": FieldSupport(
            "native",
            "one Tallyfy status per request (completed, cancelled, or a single native value); "
            "open spans three native values and is checked locally (narrowed)",
        ),
        "native_status": FieldSupport(
            "native", "one of active, problem, delayed, complete, archived; several are narrowed"
        ),
        "text": FieldSupport("narrowed", "q= searches; each name is re-checked"),
        "owner": FieldSupport(
            "narrowed", "user id or email; owners= also matches task assignees, so re-checked"
        ),
        "template": FieldSupport("native", "checklist_id; a template title is resolved"),
        "tags": FieldSupport("native", "tag names; the first is native, others are narrowed"),
        "created_after": FieldSupport("local", "early stop when sorted by -created_at"),
        "created_before": FieldSupport("local", "early stop when sorted by created_at"),
        "updated_after": FieldSupport("local"),
        "updated_before": FieldSupport("local"),
        "due_after": FieldSupport("local", "the run's due_date (the run list has no such filter)"),
        "due_before": FieldSupport("local", "the run's due_date (the run list has no such filter)"),
        "where": FieldSupport("unsupported", "Tallyfy runs have no attribute filter"),
    },
    sorts=tuple(SORTS),
    statuses=NATIVE_STATUS,
    sections=SECTIONS,
)


class TallyfySettings(InstanceSettings):
    kind: str = "tallyfy"
    base_url: str = "https://go.tallyfy.com/api"
    org: str


def duration(started: Any, completed: Any) -> str | None:
    start, end = parse_time(started), parse_time(completed)
    return human_duration((end - start).total_seconds()) if start and end else None


def relation(raw: Mapping[str, Any], name: str) -> Any:
    """Relations arrive wrapped as {"data": ...} and only when asked for with `with=`."""
    value = raw.get(name)
    if isinstance(value, dict) and "data" in value:
        return value["data"]
    return value


def tallyfy_error_message(response: httpx.Response) -> str | None:
    """Laravel bodies: `message`, plus an `errors` map on 422 naming the fields."""
    from tools.http import default_error_message

    try:
        body = response.json()
    except ValueError:
        return default_error_message(response)
    if isinstance(body, dict):
        message = body.get("message")
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            detail = "; ".join(
                f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in errors.items()
            )
            return f"{message or 'invalid'} ({detail})"
        nested = body.get("error")
        if isinstance(nested, dict) and nested.get("message"):
            return str(nested["message"])
        if isinstance(message, str):
            return message
    return default_error_message(response)


def tasks(raw_tasks: list[Any], users: Mapping[str, Mapping[str, Any]]) -> list[TaskInfo]:
    now = datetime.now(UTC)
    tasks: list[TaskInfo] = []
    for t in sorted(raw_tasks, key=lambda t: (t.get("position") or 0, str(t.get("id")))):
        owners = (t.get("owners") or {}).get("users") or []
        owner = users.get(str(owners[0])) if owners else None
        due = parse_time(t.get("deadline"))
        status = t.get("status")
        finished = status in ("completed", "auto-skipped")
        tasks.append(
            TaskInfo(
                id=str(t.get("id")),
                name=str(t.get("title") or ""),
                status=status,
                owner=str(owner.get("email")) if owner else None,
                position=t.get("position"),
                due_at=due,
                completed_at=parse_time(t.get("completed_at")),
                overdue=bool(due and not finished and due < now) or None,
            )
        )
    return tasks


def fields(prerun: Any, labels: Mapping[str, str], notes: list[str]) -> dict[str, Any] | None:
    if not isinstance(prerun, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in prerun.items():
        name = labels.get(str(key), str(key))
        if name in out:  # two fields with one label: keep both, told apart by id
            name = f"{name} ({key})"
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            notes.append(f"field {name} truncated from {len(value)} characters")
            value = value[:MAX_FIELD_CHARS] + "…"
        out[name] = value
    return out


def summary(
    backend: str,
    raw: Run | Mapping[str, Any],
    users: Mapping[str, Mapping[str, Any]],
    *,
    extra: bool = True,
) -> ProcessSummary:
    """One run as a list row; `users` by id give owners their e-mails. `raw` is a run
    decoded as a list row, or read whole (a single get); `extra=False` leaves out the
    extras (only detail=full or an extra column shows them)."""
    run = decode.row(raw, Run, FullRun, backend=backend)
    native = run.status or None
    owner_id = run.owner_id
    owner = users.get(str(owner_id)) if owner_id is not None else None
    done, total = (run.progress.complete, run.progress.total) if run.progress else (None, None)
    tags = run.tags.data if run.tags else None
    return ProcessSummary(
        backend=backend,
        collection="runs",
        id=run.id,
        name=run.name or "",
        status=NATIVE_STATUS.get(native or ""),
        native_status=native,
        template=run.checklist_title,
        template_id=run.checklist_id,
        owner=str(owner.get("email")) if owner else None,
        owner_id=str(owner_id) if owner_id is not None else None,
        tags=[str(t.title) for t in tags] if tags is not None else None,
        created_at=parse_time(run.created_at),
        updated_at=parse_time(run.last_updated),
        due_at=parse_time(run.due_date),
        progress=f"{done}/{total}" if done is not None and total else None,
        duration=duration(run.started_at, run.completed_at),
        extra=_extra(run, users) if extra and isinstance(run, FullRun) else None,
    )


def _extra(run: FullRun, users: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    started_by = users.get(str(run.started_by))
    extra = {
        "increment_id": run.increment_id,
        "summary": run.summary or None,
        "started_by": started_by.get("email") if started_by else run.started_by,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "archived_at": run.archived_at,
        "late_tasks": run.late_tasks,
        "due_date_passed": run.due_date_passed,
        "starred": run.starred,
        "type": run.type,
    }
    return {k: v for k, v in extra.items() if v not in (None, "", [])}
