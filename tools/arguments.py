"""Tool arguments, strictly: wrong JSON types are refused, never converted.

The argument models validate in pydantic's strict mode, so `true` is not the integer 1,
`"5"` is not 5 and `"yes"` is not true. `refusal` turns the first validation error into
one `InvalidArgumentError` an agent can act on: what is wrong with which parameter, the
JSON type expected, and how to fix the call. Values are quoted as JSON (what the caller
sent), never as Python reprs, and cut: no error repeats more than QUOTE_CHARS of any
argument, however large the argument was.

JSON null for an optional parameter means "not given" (`given`), the same for every
parameter of every tool: strict clients (OpenAI's) send every parameter, null for the
ones they do not mean.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from annotated_types import Ge, Le
from pydantic import BaseModel, ValidationError

from tools.bounds import QUOTE_CHARS
from tools.errors import InvalidArgumentError

SHOWN_MAX = 80
# Names inside a location ("where.<attribute>", an unknown parameter) are cut shorter.
LABEL_MAX = 60

# pydantic error type -> the JSON type the parameter takes.
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "float_type": "a number",
}


# What a parameter's allowed values are called, for "x is not a section".
_WHAT = {
    "include": "a section",
    "status": "a unified status",
    "sort": "a supported sort",
    "detail": "a detail level",
    "format": "an export format",
}


def shown(value: Any, limit: int = SHOWN_MAX) -> str:
    """A value as the caller wrote it (JSON), cut to `limit` characters (at most
    QUOTE_CHARS): the one way a refusal quotes what it was sent."""
    limit = min(limit, QUOTE_CHARS)
    if isinstance(value, str) and len(value) > 2 * limit:
        value = value[: 2 * limit]  # a megabyte is never encoded only to be cut
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(name: str, limit: int = LABEL_MAX) -> str:
    """A caller's name (a parameter, an attribute) as it appears inside a location such as
    `where.budget`: as written, control characters made visible, cut to `limit`."""
    text = name if name.isprintable() else json.dumps(name, ensure_ascii=False)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def given(arguments: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """The arguments without the known parameters sent as JSON null, which mean "not
    given". A null for a parameter that does not exist stays, to be refused by name."""
    names = set(known)
    return {k: v for k, v in arguments.items() if not (v is None and k in names)}


def json_kind(value: Any) -> str:
    """The JSON type of a value, with an article: 'the string "5"', 'true'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return shown(value)
    if isinstance(value, int | float):
        return f"the number {shown(value)}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, list | tuple):
        return f"the array {shown(list(value))}"
    if isinstance(value, dict):
        return f"the object {shown(value)}"
    return shown(value)


def _loc(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        name = label(str(part))
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out or "arguments"


def refusal(
    exc: ValidationError,
    *,
    valid: Iterable[str],
    hints: Mapping[str, str] | None = None,
    examples: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
) -> InvalidArgumentError:
    """The first error of `exc` as an actionable refusal.

    `hints` (by top-level parameter) say how to fix a value that has the right type but is
    not allowed (a status, a sort key, a range); `examples` show a correct value."""
    err = exc.errors()[0]
    loc = _loc(err["loc"])
    field = str(err["loc"][0]) if err["loc"] else None
    kind = err["type"]
    value = err.get("input")
    example = (examples or {}).get(field or "")
    hint = (hints or {}).get(field or "")
    if kind == "extra_forbidden":
        return InvalidArgumentError(
            f"unknown parameter {shown(loc)}",
            field=field,
            hint="remove it; valid parameters are: " + ", ".join(valid),
        )
    if kind == "missing":
        return InvalidArgumentError(
            f"{loc} is required",
            field=field,
            hint=hint or f"pass {loc}" + (f", e.g. {example}" if example else ""),
        )
    expected = _EXPECTED.get(kind)
    if expected is not None:
        sent = json_kind(value)
        return InvalidArgumentError(
            f"{loc} must be {expected}, not {sent}",
            field=field,
            hint=f"send {loc} as {expected}"
            + (f", e.g. {example}" if example else "")
            + (" (values are never converted from another type)" if value is not None else ""),
        )
    ctx = err.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        message = f"{loc} is empty"
    elif kind == "string_too_long":
        message = f"{loc} is longer than {ctx.get('max_length')} characters"
        hint = f"shorten {loc} to at most {ctx.get('max_length')} characters"
    elif kind == "too_short":
        message = f"{loc} is an empty array"
    elif kind == "too_long":
        message = f"{loc} has more than {ctx.get('max_length')} items"
        hint = f"send at most {ctx.get('max_length')} items in {loc}"
    elif kind == "literal_error":
        options = str(ctx.get("expected", "")).replace("'", "")
        message = f"{loc}: {shown(value)} is not {_WHAT.get(field or '', 'allowed')}"
        hint = hint or f"use one of: {options}"
    elif kind == "value_error":
        message = f"{loc} {ctx.get('error')}"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = _bounds(model, field) if model is not None and len(err["loc"]) == 1 else None
        message = (
            f"{loc} must be an integer from {bounds[0]} to {bounds[1]} (got {shown(value)})"
            if bounds
            else f"{loc} is {shown(value)}, out of range"
        )
    else:
        message = f"{loc}: {err['msg']} (got {shown(value)})"
    return InvalidArgumentError(
        message,
        field=field,
        hint=hint or f"fix {loc}" + (f", e.g. {example}" if example else "") + " and call again",
    )


def _bounds(model: type[BaseModel], field: str | None) -> tuple[int, int] | None:
    info = model.model_fields.get(field or "")
    if info is None:
        return None
    low = next((m.ge for m in info.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, Le)), None)
    if isinstance(low, int) and isinstance(high, int):
        return low, high
    return None
