"""get_process sections of a Chakra process: its attributes (`fields`) and its procedure
(`definition`), and which of them a call asks for."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tools.backends.chakra.naming import Naming
from tools.backends.chakra.schema import EPOCH_MS_TYPES, Procedure, chakra_time
from tools.errors import InvalidArgumentError
from tools.model import Detail

SECTIONS = ("fields", "definition")
MAX_FIELD_CHARS = 500


def sections(include: frozenset[str] | None, detail: Detail, backend: str) -> frozenset[str]:
    if include is None:
        return {
            "ids": frozenset[str](),
            "summary": frozenset({"fields"}),
            "full": frozenset(SECTIONS),
        }[detail]
    unknown = include - set(SECTIONS)
    if unknown:
        raise InvalidArgumentError(
            f"{backend}: Chakra processes have no section {', '.join(sorted(unknown))}",
            field="include",
            hint="sections here: fields (the process's attributes), definition (its "
            "procedure: states and attributes)",
        )
    return include


def fields(data: Any, proc: Procedure, notes: list[str]) -> dict[str, Any] | None:
    """Attributes by label, in the procedure's order; unknown keys after them."""
    if not isinstance(data, dict):
        return None
    order = [a.short_id for a in proc.attributes if a.short_id in data]
    order += [k for k in data if proc.attribute(k) is None]
    labels = {k: a.name if (a := proc.attribute(k)) else k for k in order}
    counts = Counter(labels.values())
    out: dict[str, Any] = {}
    for key, label in labels.items():
        attribute = proc.attribute(key)
        # Two attributes with one label stay apart by short id.
        name = label if counts[label] == 1 else f"{label} ({key})"
        value = data[key]
        if attribute and attribute.type in EPOCH_MS_TYPES and isinstance(value, int | float):
            moment = chakra_time(value)
            value = moment.isoformat(timespec="milliseconds") if moment else value
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            notes.append(f"field {name} truncated from {len(value)} characters")
            value = value[:MAX_FIELD_CHARS] + "…"
        out[name] = value
    return out


def definition(proc: Procedure, naming: Naming) -> dict[str, Any]:
    key = naming.key
    return {
        "procedure": proc.short_id,
        "name": proc.name,
        "primary_key": key.short_id if key else None,
        "title_attribute": naming.title.short_id if naming.title else None,
        "states": [s.line for s in proc.states],
        "attributes": {a.short_id: a.describe(key=a is key) for a in proc.attributes},
    }
