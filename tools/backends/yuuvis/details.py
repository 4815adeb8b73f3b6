"""get_process for yuuvis: the sections of one process instance, compact (binary variables
named, not shown; long values cut, with a note saying so)."""

from __future__ import annotations

import json
from typing import Any

from tools.backends.yuuvis.info import SECTIONS
from tools.errors import InvalidArgumentError
from tools.model import Detail, TaskInfo, parse_time

MAX_VALUE_CHARS = 300
MAX_VARIABLES = 60


def sections(backend: str, include: frozenset[str] | None, detail: Detail) -> frozenset[str]:
    if include is None:
        return frozenset(SECTIONS) if detail == "full" else frozenset({"variables"})
    unknown = include - set(SECTIONS)
    if unknown:
        raise InvalidArgumentError(
            f"{backend}: yuuvis process instances have no section " + ", ".join(sorted(unknown)),
            field="include",
            hint="sections here: " + ", ".join(SECTIONS),
        )
    return include


def variables(raw: Any, notes: list[str], *, is_admin: bool) -> dict[str, Any]:
    """Name -> value, compact: binary values are named, not shown; long values cut."""
    variables = [v for v in raw or [] if isinstance(v, dict) and v.get("name")]
    if not variables and not is_admin:
        notes.append("no variables returned; the engine may show variables to tenant admins only")
    out: dict[str, Any] = {}
    for var in variables[:MAX_VARIABLES]:
        name, value, kind = str(var["name"]), var.get("value"), var.get("type")
        if value is None and var.get("valueUrl"):
            value = f"<{kind or 'binary'} value, not shown>"
        elif isinstance(value, dict | list):
            text = json.dumps(value, separators=(",", ":"), default=str)
            if len(text) > MAX_VALUE_CHARS:
                notes.append(f"variable {name} ({kind}) cut from {len(text)} characters")
                value = text[:MAX_VALUE_CHARS] + "…"
        elif isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            notes.append(f"variable {name} cut from {len(value)} characters")
            value = value[:MAX_VALUE_CHARS] + "…"
        out[name] = value
    if len(variables) > MAX_VARIABLES:
        notes.append(f"{len(variables) - MAX_VARIABLES} more variables not shown")
    return out


def tasks(history: Any) -> list[TaskInfo]:
    raw_tasks = history.get("tasks") if isinstance(history, dict) else None
    tasks: list[TaskInfo] = []
    for pos, t in enumerate(raw_tasks or [], start=1):
        if not isinstance(t, dict):
            continue
        ended = parse_time(t.get("endTime"))
        tasks.append(
            TaskInfo(
                id=str(t.get("id")),
                name=str(t.get("name") or ""),
                status="completed" if ended else "active",
                owner=t.get("assignee"),
                position=pos,
                completed_at=ended,
            )
        )
    return tasks
