"""What the yuuvis adapter reads of a process instance and of a list page (reference, API
D), decoded by tools/decode.py: only these fields are built (process variables, which a
list page carries with includeProcessVariables, are skipped unparsed).

`Instance` holds what a summary row shows; `FullInstance` adds what only the extras and
the `where` attributes read, decoded only when the query needs them. The reference
documents the list item's fields and says nulls are emitted explicitly (deleteReason,
endTime and durationInMillis while running), so every field but the id may be null. The
id is a uuid string on lists but numeric in the single-get example, so both are taken."""

from __future__ import annotations

from typing import Generic, TypeVar

from tools.decode import Shape

R = TypeVar("R", covariant=True)


class Instance(Shape):
    id: str | int
    name: str | None = None
    process_definition_id: str | None = None
    process_definition_name: str | None = None
    start_user_id: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration_in_millis: int | None = None
    delete_reason: str | None = None
    suspended: bool | None = None


class FullInstance(Instance):
    business_key: str | None = None
    start_activity_id: str | None = None
    end_activity_id: str | None = None


class Listed(Shape, Generic[R]):
    """A list page of instances or definitions: `{objects[], numItems, totalNumItems,
    hasMoreItems}`."""

    objects: list[R]
    total_num_items: int | None = None
    has_more_items: bool | None = None
