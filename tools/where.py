"""The `where` filter: its tree, and its values against the attribute types a collection
declares. Both checks are shared by every backend (the evaluator is in tools/query.py).
Callers write it as an expression (tools/where_text.py parses `budget >= 40000 and (city
= "Pune" or city = "Mumbai")`); every backend translates the tree it becomes:

    where := {attr: value | [any of] | {op: value, ...}, "and": [where, ...], "or": [where, ...]}

A value of the wrong JSON type never matches (40000 is not "40000"), so comparing a
number attribute with a string would quietly answer nothing: it is refused instead,
naming the attribute's type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from tools.arguments import json_kind, label, shown
from tools.bounds import NAME_CHARS
from tools.errors import InvalidArgumentError

WHERE_OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
# The JSON type of an attribute's values, where a collection knows it (CollectionInfo).
AttributeType = Literal["number", "boolean", "text"]
WHERE_GROUPS = ("and", "or")
# Nesting bound for and/or groups: deep enough for any real question, shallow enough that a
# backend's query language (Chakra's is recursive) never sees a pathological tree.
WHERE_MAX_DEPTH = 3
# An attribute name written without quotes in an expression: letters, digits, `_`, and `.`
# or `-` between them (Kommo field ids are bare digits).
BARE_NAME = re.compile(r"\w+(?:[.\-]\w+)*")
# Words an expression reserves; an attribute of that name is written in quotes.
KEYWORDS = frozenset({"and", "or", "in", "not", "true", "false", "null"})


def name_text(key: str) -> str:
    """An attribute name as an expression writes it: bare when it can be, else quoted."""
    if BARE_NAME.fullmatch(key) and key.casefold() not in KEYWORDS:
        return label(key)
    return shown(key)


def value_text(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(value_text(v) for v in value) + ")"
    return shown(value)


def condition_text(key: str, op: str, value: Any) -> str:
    """One condition in expression syntax, for examples in hints: `budget >= 40000`."""
    if isinstance(value, list):
        return f"{name_text(key)} {'not in' if op == '!=' else 'in'} {value_text(value)}"
    return f"{name_text(key)} {op} {value_text(value)}"


def validate_where(where: Mapping[str, Any], *, depth: int = 1) -> None:
    """Shape check shared by every backend.

    where := {attr: value | [any of] | {op: value, ...}, "and": [where, ...], "or": [where, ...]}
    Keys of one object all hold (AND); "or" holds when any of its members holds.
    """
    if not isinstance(where, Mapping):
        raise InvalidArgumentError(
            f"where must be an object, not {json_kind(where)}",
            field="where",
            hint='pass an object like {"city": "Pune"} or {"or": [{"a": 1}, {"b": 2}]}',
        )
    if not where:
        raise InvalidArgumentError(
            "where: empty object",
            field="where",
            hint="give at least one attribute condition, or leave where out",
        )
    for key, rhs in where.items():
        if not isinstance(key, str) or not key or len(key) > NAME_CHARS:
            raise InvalidArgumentError(
                f"where: attribute names are 1 to {NAME_CHARS} characters (got {shown(key, 40)})",
                field="where",
                hint="name an attribute that list_backends shows for the collection",
            )
        if key in WHERE_GROUPS:
            _validate_group(key, rhs, depth)
        elif isinstance(rhs, dict):
            if not rhs:
                raise InvalidArgumentError(
                    f"where.{label(key)}: empty operator map",
                    field="where",
                    hint='give at least one operator, e.g. {">=": 100}',
                )
            for op, value in rhs.items():
                if op not in WHERE_OPERATORS:
                    raise InvalidArgumentError(
                        f"where.{label(key)}: unknown operator {shown(op, 20)}",
                        field="where",
                        hint="operators are "
                        + ", ".join(WHERE_OPERATORS)
                        + "; for any-of pass a list, e.g. {"
                        + shown(label(key))
                        + ': ["a", "b"]}',
                    )
                _validate_value(key, value, allow_list=op in ("=", "!="))
        else:
            _validate_value(key, rhs, allow_list=True)


def _validate_group(key: str, members: Any, depth: int) -> None:
    # `depth` counts this group: the outermost and/or is level 1.
    if depth > WHERE_MAX_DEPTH:
        raise InvalidArgumentError(
            f"where: and/or groups nest deeper than {WHERE_MAX_DEPTH} levels",
            field="where",
            hint=f"flatten the filter to at most {WHERE_MAX_DEPTH} nested and/or groups",
        )
    if not isinstance(members, list) or not members:
        raise InvalidArgumentError(
            f"where.{key} must be a non-empty list of conditions",
            field="where",
            hint=f'write {{"{key}": [{{"a": 1}}, {{"b": 2}}]}}',
        )
    for member in members:
        validate_where(member, depth=depth + 1)


def _validate_value(key: str, value: Any, *, allow_list: bool) -> None:
    scalar = (str, int, float, bool)
    if isinstance(value, list) and allow_list:
        if not value or not all(isinstance(v, scalar) for v in value):
            raise InvalidArgumentError(
                f"where.{label(key)}: a list must hold at least one string or number",
                field="where",
                hint=f'write {{{shown(label(key))}: ["a", "b"]}} for any of several values',
            )
        for item in value:
            _validate_value(key, item, allow_list=False)
        return
    if not isinstance(value, scalar) or value != value or value in (_INF, -_INF):
        raise InvalidArgumentError(
            f"where.{label(key)}: {shown(value)} is not a string or number",
            field="where",
            hint="compare attributes with strings, numbers or booleans",
        )
    if isinstance(value, str) and len(value) > NAME_CHARS:
        raise InvalidArgumentError(
            f"where.{label(key)}: a text value is longer than {NAME_CHARS} characters",
            field="where",
            hint=f"compare with a value of at most {NAME_CHARS} characters",
        )


_INF = float("inf")


def where_groups(where: Mapping[str, Any]) -> int:
    """How deep the and/or groups of `where` nest (0: a flat map)."""
    inner = [where_groups(m) for k, ms in where.items() if k in WHERE_GROUPS for m in ms]
    return 1 + max(inner) if inner else 0


def check_where_types(
    where: Mapping[str, Any], types: Mapping[str, AttributeType], *, scope: str
) -> None:
    """Refuse a value whose JSON type cannot match its attribute's declared type.

    Attributes without a declared type are left to the backend (and the evaluator)."""
    for key, rhs in where.items():
        if key in WHERE_GROUPS:
            for member in rhs:
                check_where_types(member, types, scope=scope)
            continue
        kind = types.get(key)
        if kind is None:
            continue
        operators = rhs if isinstance(rhs, dict) else {"=": rhs}
        for op, value in operators.items():
            for item in value if isinstance(value, list) else [value]:
                if not _fits(kind, item):
                    raise _mismatch(key, kind, op, item, scope)


def _fits(kind: AttributeType, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _mismatch(
    key: str, kind: AttributeType, op: str, value: Any, scope: str
) -> InvalidArgumentError:
    fixed: Any
    if kind == "number":
        try:
            number = float(value) if isinstance(value, str) else None
        except ValueError:
            number = None
        fixed = (int(number) if number.is_integer() else number) if number is not None else 100
    elif kind == "boolean":
        fixed = value.strip().lower() != "false" if isinstance(value, str) else True
    else:
        fixed = json.dumps(value) if not isinstance(value, str) else value
    return InvalidArgumentError(
        f"where.{label(key)} is a {kind} attribute of {scope}; {json_kind(value)} never matches it",
        field="where",
        hint=f"compare {label(key)} with {_JSON_NAME[kind]}, e.g. "
        + condition_text(key, op, fixed),
    )


_JSON_NAME: dict[str, str] = {
    "number": "a number (no quotes)",
    "boolean": "true or false (no quotes)",
    "text": "text (in quotes)",
}


def group(kind: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    """`a = 1 and b = 2` is the flat object {"a": 1, "b": 2}; an and/or group is only
    made where one is needed, so the tree nests no deeper than the expression does."""
    flat: list[dict[str, Any]] = []
    for member in members:
        # (a or b) or c is a or b or c: same-kind groups are one group.
        if set(member) == {kind}:
            flat.extend(member[kind])
        else:
            flat.append(member)
    if kind == "or":
        return {"or": flat}
    merged: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for member in flat:
        if not _merge(merged, member):
            rest.append(member)
    if rest:
        merged["and"] = rest
    return merged


def _merge(into: dict[str, Any], member: dict[str, Any]) -> bool:
    """Add every key of `member` to `into`, or nothing (False) when one would collide."""
    updates: dict[str, Any] = {}
    for key, rhs in member.items():
        have = into.get(key)
        if have is None:
            updates[key] = rhs
        elif (
            key not in WHERE_GROUPS
            and isinstance(have, dict)
            and isinstance(rhs, dict)
            and not have.keys() & rhs.keys()
        ):
            updates[key] = {**have, **rhs}  # budget >= 10 and budget < 20
        else:
            return False
    into.update(updates)
    return True
