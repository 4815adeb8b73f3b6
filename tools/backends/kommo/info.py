"""What each Kommo collection supports (for capabilities and refusals), and the detail
answer of get_process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tools.backends.base import CollectionInfo, FieldSupport
from tools.backends.kommo.directory import CustomField, Pipeline
from tools.backends.kommo.rows import Lookups, custom_fields, field_value, when
from tools.backends.kommo.shapes import Row
from tools.backends.kommo.translate import ENUM_TYPES, NUMBER_TYPES, TEXT_TYPES
from tools.errors import InvalidArgumentError
from tools.model import Detail, ProcessDetail, ProcessSummary, Status
from tools.where import AttributeType

ENTITIES = ("leads", "contacts", "companies", "customers")
SORTS: dict[str, tuple[str, ...]] = {
    "leads": ("-created_at", "created_at", "-updated_at", "updated_at"),
    # The current reference lets contacts and companies be ordered by updated_at or id
    # only (an older page also lists created_at). Customers document no `order` and no
    # default order (reference section 2): none is sent, and rows come in Kommo's own
    # order (no sorts: the shared driver's "vendor order" collection).
    "contacts": ("-updated_at", "updated_at"),
    "companies": ("-updated_at", "updated_at"),
    "customers": (),
}
SECTIONS: dict[str, tuple[str, ...]] = {
    "leads": ("fields", "definition"),
    "contacts": ("fields",),
    "companies": ("fields",),
    "customers": ("fields",),
}
MAX_FIELD_CHARS = 500
# What `text` searches: what Kommo's `query` searches ("free-text search over filled
# fields", reference section 2).
TEXT_SCOPE = "the name and the text, textarea, url and multitext custom fields"

_DESCRIPTIONS = {
    "leads": "Deals moving through sales pipelines (stages; 142 won, 143 lost).",
    "contacts": "People in the CRM (no status: contacts are not processes with an outcome).",
    "companies": "Organisations in the CRM (no status).",
    "customers": "Recurring buyers (Kommo's customers feature; status is a customer status id, "
    "with no unified open/completed/cancelled). No sort: Kommo documents no order for "
    "customers, so they come in its own order (leave sort out).",
}
_DATES: dict[str, FieldSupport] = {
    "created_after": FieldSupport("native", "filter[created_at][from] (Unix seconds)"),
    "created_before": FieldSupport(
        "narrowed", "filter[created_at][to]; rows at exactly the bound dropped here"
    ),
    "updated_after": FieldSupport("native", "filter[updated_at][from] (Unix seconds)"),
    "updated_before": FieldSupport(
        "narrowed", "filter[updated_at][to]; rows at exactly the bound dropped here"
    ),
}
_COMMON: dict[str, FieldSupport] = {
    "text": FieldSupport("narrowed", f"query= over {TEXT_SCOPE}; re-checked over the same"),
    "owner": FieldSupport("native", "filter[responsible_user_id]; user email, name or id"),
    "tags": FieldSupport("local", "Kommo has no tag filter; rows carry their tags"),
    "where": FieldSupport(
        "narrowed", "custom fields (names or ids) as filter[custom_fields_values]; re-checked"
    ),
    **_DATES,
}
# The due date a row shows: the closest task's, a customer's next purchase date.
_DUE_COLUMN = {"customers": "next_date"}


def _due(entity: str) -> dict[str, FieldSupport]:
    column = _DUE_COLUMN.get(entity, "closest_task_at")
    return {
        "due_after": FieldSupport("native", f"filter[{column}][from] (Unix seconds)"),
        "due_before": FieldSupport(
            "narrowed", f"filter[{column}][to]; rows at exactly the bound dropped here"
        ),
    }


_NO_STATUS = "has no status (Kommo gives it no open/won/lost outcome)"


def fields_for(entity: str) -> dict[str, FieldSupport]:
    fields = {**_COMMON, **_due(entity)}
    if entity == "leads":
        fields["status"] = FieldSupport(
            "native", "filter[statuses] pairs across every pipeline; 142 won, 143 lost"
        )
        fields["native_status"] = FieldSupport(
            "native", "stage names, matched in every pipeline (filter[statuses])"
        )
        fields["template"] = FieldSupport("native", "filter[pipeline_id]; pipeline name or id")
        fields["where"] = FieldSupport(
            "narrowed", "custom fields (names or ids) and price; re-checked"
        )
        return fields
    fields["status"] = FieldSupport("unsupported", f"{entity} {_NO_STATUS}")
    fields["template"] = FieldSupport("unsupported", f"{entity} belong to no pipeline")
    if entity == "customers":
        fields["native_status"] = FieldSupport("native", "customer status ids (filter[status_id])")
        fields["text"] = FieldSupport("local", f"no query= for customers; {TEXT_SCOPE} here")
    else:
        fields["native_status"] = FieldSupport("unsupported", f"{entity} {_NO_STATUS}")
    return fields


def collection_infos(
    pipelines: tuple[Pipeline, ...] | None,
    known_fields: Callable[[str], tuple[CustomField, ...] | None],
    problems: Mapping[str, str],
) -> tuple[CollectionInfo, ...]:
    out: list[CollectionInfo] = []
    for entity in ENTITIES:
        statuses: dict[str, Status] = {}
        if entity == "leads" and pipelines:
            for p in pipelines:
                for s in p.stages:
                    statuses.setdefault(s.name, s.status)
        # Said here too, since the text view of list_backends shows descriptions, not notes.
        description = f"{_DESCRIPTIONS[entity]} text searches {TEXT_SCOPE}."
        if entity in problems:
            description += f" Unavailable here: {problems[entity]}"
        out.append(
            CollectionInfo(
                name=entity,
                description=description,
                fields=fields_for(entity),
                sorts=SORTS[entity],
                statuses=statuses,
                sections=SECTIONS[entity],
                attributes=_attributes(entity, known_fields(entity) or ()),
                attribute_types=_attribute_types(entity, known_fields(entity) or ()),
            )
        )
    return tuple(out)


def _attributes(entity: str, fields: tuple[CustomField, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    if entity == "leads":
        out["price"] = "number: the lead's sale value"
    for f in fields:
        text = f"{f.type} (id {f.id})"
        if f.enums:
            text += ": " + ", ".join(label for _, label in f.enums[:12])
        out.setdefault(f.name, text)
    return out


def _attribute_types(entity: str, fields: tuple[CustomField, ...]) -> dict[str, AttributeType]:
    """By name and by id, as rows carry them; select options compare as their text."""
    out: dict[str, AttributeType] = {"price": "number"} if entity == "leads" else {}
    for f in fields:
        kind: AttributeType | None = (
            "number"
            if f.type in NUMBER_TYPES
            else "boolean"
            if f.type == "checkbox"
            else "text"
            if f.type in TEXT_TYPES | ENUM_TYPES
            else None
        )
        if kind is not None:
            out.setdefault(f.name, kind)
            out[str(f.id)] = kind
    return out


def sections_for(
    entity: str, include: frozenset[str] | None, detail: Detail, backend: str
) -> frozenset[str]:
    known = SECTIONS[entity]
    if include is None:
        return frozenset(known) if detail == "full" else frozenset({"fields"})
    unknown = include - set(known)
    if unknown:
        raise InvalidArgumentError(
            f"{backend}: Kommo {entity} have no section {', '.join(sorted(unknown))}",
            field="include",
            hint="sections here: " + ", ".join(known),
        )
    return include


def build_detail(
    entity: str,
    raw: Mapping[str, Any],
    row: Row,
    summary: ProcessSummary,
    look: Lookups,
    sections: frozenset[str],
    detail: Detail,
    url: str,
) -> ProcessDetail:
    notes: list[str] = []
    extra = dict(summary.extra or {})
    extra.pop("custom_fields", None)  # shown as `fields` when asked for
    embedded = raw.get("_embedded") or {}
    contacts = [c.get("id") for c in embedded.get("contacts") or () if isinstance(c, dict)]
    if contacts:
        extra["contacts"] = contacts
    leads = [c.get("id") for c in embedded.get("leads") or () if isinstance(c, dict)]
    if leads:
        extra["leads"] = leads
    description = None
    reasons = [r for r in embedded.get("loss_reason") or () if isinstance(r, dict)]
    if reasons:
        description = f"lost: {reasons[0].get('name')}"
    result = ProcessDetail(
        **summary.as_dict(exclude={"extra", "url"}),
        extra=extra or None if detail == "full" else None,
        url=url,
        description=description,
        completed_at=when(raw.get("closed_at")) if entity == "leads" else None,
    )
    if "fields" in sections:
        result.fields = _fields(row, notes)
        if not result.fields:
            notes.append("no custom fields are filled")
    if "definition" in sections and entity == "leads":
        result.sections = {"definition": _definition(raw, look)}
    result.notes = notes or None
    return result


def _fields(row: Row, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cf in custom_fields(row):
        name = str(cf.field_name or cf.field_id)
        if name in out:  # two fields with one name: keep both, told apart by id
            name = f"{name} ({cf.field_id})"
        value = field_value(cf, every=True)
        if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
            notes.append(f"field {name} truncated from {len(value)} characters")
            value = value[:MAX_FIELD_CHARS] + "…"
        out[name] = value
    return out


def _definition(raw: Mapping[str, Any], look: Lookups) -> dict[str, Any]:
    pipeline = look.pipelines.get(raw.get("pipeline_id") or 0)
    if pipeline is None:
        return {"pipeline_id": raw.get("pipeline_id")}
    current = raw.get("status_id")
    return {
        "pipeline": pipeline.name,
        "stages": [
            f"{s.name} [{s.status}]" + (" <- current" if s.id == current else "")
            for s in pipeline.stages
        ],
    }
