"""What the Kommo adapter reads of a lead, contact, company or customer and of a list page
(reference sections 2 and 4), decoded by tools/decode.py: only these fields are built.

`Row` holds what a summary row shows; `FullRow` adds the custom fields (what `where` and
`text` re-check, and the extras show) and the fields only the extras show, decoded only
when the query needs them. The reference documents every field but the id as possibly
absent for some entity, and `closed_at`, `closest_task_at`, `score` and
`custom_fields_values` as nullable; ids and times are integers (Unix seconds)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from tools.decode import SnakeShape

R = TypeVar("R", covariant=True)


class Tag(SnakeShape):
    name: str | None = None


class Ref(SnakeShape):
    id: int | None = None


class Embedded(SnakeShape):
    # tags and companies are always there on list rows (reference section 4).
    tags: list[Tag] | None = None
    companies: list[Ref] | None = None


class Value(SnakeShape):
    # text, a number as text, a boolean (checkbox): as the field's type has it.
    value: Any = None


class CustomField(SnakeShape):
    field_id: int | None = None
    field_name: str | None = None
    field_type: str | None = None
    values: list[Value] | None = None


class Row(SnakeShape):
    id: int
    name: str | None = None
    responsible_user_id: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    closest_task_at: int | None = None
    # leads: the stage and pipeline; customers: the status and the next purchase date.
    status_id: int | None = None
    pipeline_id: int | None = None
    next_date: int | None = None
    embedded: Embedded | None = msgspec.field(default=None, name="_embedded")


class FullRow(Row):
    custom_fields_values: list[CustomField] | None = None
    price: int | float | None = None
    # Shown as they come (extras), so read as any JSON value.
    created_by: Any = None
    updated_by: Any = None
    closed_at: Any = None
    loss_reason_id: Any = None
    score: Any = None
    next_price: Any = None
    ltv: Any = None
    purchases_count: Any = None
    periodicity: Any = None


class Listed(SnakeShape, Generic[R]):
    """`_embedded` of a list page: the entity's own key holds the rows."""

    leads: list[R] | None = None
    contacts: list[R] | None = None
    companies: list[R] | None = None
    customers: list[R] | None = None


class Page(SnakeShape, Generic[R]):
    embedded: Listed[R] | None = msgspec.field(default=None, name="_embedded")

    def rows(self, entity: str) -> list[R] | None:
        listed = self.embedded
        return getattr(listed, entity) if listed is not None else None
