"""get_process: one process in detail, with the sections asked for."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.arguments import given, refusal
from tools.bounds import ID_CHARS, NAME_CHARS
from tools.instances import Instances
from tools.model import ProcessDetail
from tools.operation import LIST_BUDGET_SECONDS, Clock, operation

Section = Literal["tasks", "fields", "definition", "variables", "history"]
SECTIONS: tuple[str, ...] = ("tasks", "fields", "definition", "variables", "history")


class GetArgs(BaseModel):
    # Strict: a JSON value of the wrong type is refused, never converted (tools/arguments).
    model_config = ConfigDict(extra="forbid", strict=True)

    backend: str = Field(min_length=1, max_length=NAME_CHARS)
    id: str = Field(min_length=1, max_length=ID_CHARS)
    collection: str | None = Field(None, min_length=1, max_length=NAME_CHARS)
    include: list[Section] | None = Field(None, max_length=len(SECTIONS))
    detail: Literal["summary", "full"] = "summary"


_HINTS = {
    "backend": "pass the instance name each list_processes row carries",
    "id": "pass the id of a list_processes row",
    "include": "sections are: " + ", ".join(SECTIONS) + " (list_backends shows which exist)",
    "collection": "leave collection out for the backend's main one, or name one that "
    "list_backends shows",
}
_EXAMPLES = {"include": '["tasks"]', "id": "the id field of a row", "backend": '"tallyfy"'}


def parse_get(arguments: Mapping[str, Any]) -> GetArgs:
    """A parameter sent as null is not given (a required one is then missing)."""
    try:
        return GetArgs.model_validate(given(arguments, GetArgs.model_fields))
    except ValidationError as exc:
        raise refusal(
            exc, valid=GetArgs.model_fields, hints=_HINTS, examples=_EXAMPLES, model=GetArgs
        ) from None


async def get_process(
    instances: Instances,
    arguments: Mapping[str, Any],
    *,
    budget: float | None = LIST_BUDGET_SECONDS,
    clock: Clock = time.monotonic,
) -> ProcessDetail:
    """`budget`: how long the call may wait for quotas (tools/operation.py); a longer wait
    is refused at once, saying when to call again."""
    args = parse_get(arguments)
    backend = instances.get(args.backend)
    include = frozenset(args.include) if args.include is not None else None
    with operation(budget, clock=clock) as op:
        await backend.discover()
        detail = await backend.get(
            # A stray space around a copied id is dropped; an id of spaces only goes on as
            # it is, for the backend's id check to refuse.
            args.id.strip() or args.id,
            collection=args.collection,
            include=include,
            detail=args.detail,
        )
        news = op.notes()  # retries that cost time, long quota waits
    if news:
        detail = detail.model_copy(update={"notes": [*(detail.notes or []), *news]})
    return detail
