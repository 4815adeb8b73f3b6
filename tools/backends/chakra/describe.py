"""What list_backends says about one Chakra procedure (a collection): how its rows are
named, how each filter is applied, its states, sections and attributes."""

from __future__ import annotations

from tools.backends.base import CollectionInfo, FieldSupport
from tools.backends.chakra.detail import SECTIONS
from tools.backends.chakra.naming import Naming
from tools.backends.chakra.schema import Procedure
from tools.where import AttributeType

SORTS = ("-created_at",)
# The JSON type `where` values must have, by attribute type (others are not checked).
JSON_TYPES: dict[str, AttributeType] = {
    "number": "number",
    "boolean": "boolean",
    **dict.fromkeys(("text", "string", "textarea", "longtext", "email", "phone", "select"), "text"),
}


def collection_info(proc: Procedure, naming: Naming) -> CollectionInfo:
    states = ", ".join(s.short_id for s in proc.states) or "none listed"
    about = f" {proc.description}" if proc.description else ""
    linked = proc.state_statuses_known
    status = "status: each process's own" + (
        "." if linked else " (the config does not link states to statuses)."
    )
    searched = ", ".join(a.short_id for a in naming.searched) or "none"
    return CollectionInfo(
        name=proc.short_id,
        description=f"{proc.name} processes {naming.describe()}; {status}{about}",
        fields={
            "status": FieldSupport("native", "status OPEN / COMPLETED / CANCELLED"),
            "native_status": FieldSupport(
                "native",
                f"state short ids: {states}"
                + ("" if linked else " (which status each belongs to is not in the config)"),
            ),
            "text": FieldSupport(
                "local",
                "Chakra's query has no substring operator: checked here against the name "
                f"and the text-like attributes {searched}",
            ),
            "created_after": FieldSupport("native", "createdAt >= (ISO timestamp)"),
            "created_before": FieldSupport("native", "createdAt < (ISO timestamp)"),
            "updated_after": FieldSupport("local", "no documented updatedAt filter"),
            "updated_before": FieldSupport("local", "no documented updatedAt filter"),
            "due_after": FieldSupport("local", "nextActionAt (not a documented list filter)"),
            "due_before": FieldSupport("local", "nextActionAt (not a documented list filter)"),
            "owner": FieldSupport(
                "native", "assignedTo: a username (a user uuid or e-mail is resolved to it)"
            ),
            "template": FieldSupport(
                "native", "the procedure (its name or short id); for another, use collection"
            ),
            "tags": FieldSupport("unsupported", "Chakra processes have no tags"),
            "where": FieldSupport(
                "native",
                "attribute short ids (see attributes) with = != > >= < <=, a list for any-of, "
                "and/or groups",
            ),
        },
        sorts=SORTS,
        # Only what the config states: no state is claimed for a status it does not give.
        statuses={s.short_id: s.status for s in proc.states if s.status is not None},
        sections=SECTIONS,
        attributes={a.short_id: a.describe(key=a is naming.key) for a in proc.attributes},
        attribute_types={
            a.short_id: JSON_TYPES[a.type] for a in proc.attributes if a.type in JSON_TYPES
        },
    )
