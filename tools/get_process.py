"""get_process: one process in detail, with the sections asked for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import InvalidArgumentError
from tools.instances import Instances
from tools.model import ProcessDetail

Section = Literal["tasks", "fields", "definition", "variables", "history"]
SECTIONS: tuple[str, ...] = ("tasks", "fields", "definition", "variables", "history")


class GetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str
    id: str = Field(min_length=1, max_length=300)
    collection: str | None = None
    include: list[Section] | None = None
    detail: Literal["summary", "full"] = "summary"


def parse_get(arguments: Mapping[str, Any]) -> GetArgs:
    try:
        return GetArgs.model_validate(dict(arguments))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        field = str(err["loc"][0]) if err["loc"] else None
        if err["type"] == "extra_forbidden":
            message, hint = (
                f"unknown parameter {loc!r}",
                "remove it; valid parameters are: " + ", ".join(GetArgs.model_fields),
            )
        elif err["type"] == "missing":
            message, hint = f"{loc} is required", f"pass {loc} (list_processes rows carry it)"
        elif field == "include":
            message, hint = (
                f"include: {err.get('input')!r} is not a section",
                "sections are: " + ", ".join(SECTIONS) + " (list_backends shows which exist)",
            )
        else:
            message, hint = f"{loc}: {err['msg']}", f"fix {loc} and call again"
        raise InvalidArgumentError(message, field=field, hint=hint) from None


async def get_process(instances: Instances, arguments: Mapping[str, Any]) -> ProcessDetail:
    args = parse_get(arguments)
    backend = instances.get(args.backend)
    include = frozenset(args.include) if args.include is not None else None
    await backend.discover()
    return await backend.get(
        args.id.strip(), collection=args.collection, include=include, detail=args.detail
    )
