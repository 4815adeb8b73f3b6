"""The unified filters as ONE Chakra `where` Query, exactly as the vendor's type allows:

    type Query = {[key: string]: QueryRHS; or?: Query[]; and?: Query[]}
    type QueryRHS = Record<Operator, any> | string | number | string[] | number[]

Consequences the translation honours:
- one object holds each key once, so two conditions on one key (or two `or` groups) cannot
  share an object: the later ones go into an `and` list (`merge`);
- a bare RHS may only be a string, a number, or an array of strings or of numbers; any
  other value (a boolean, a mixed array) is sent through the `=` operator, whose value is
  `any`;
- lists mean any-of. Arrays as IN (and `!=` with an array as NOT IN) are the reference's
  reading of an undocumented case, so the `any_of` setting can switch to the documented
  spelling instead: `or` groups of single values (and `and` groups of `!=`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tools.arguments import shown
from tools.backends.chakra.schema import PROCESS_STATUS, UNIFIED_TO_STATUS, Procedure
from tools.errors import InvalidArgumentError, UnsupportedQueryError
from tools.query import WHERE_GROUPS, validate_where

Query = dict[str, Any]
AnyOfStyle = Literal["array", "or"]
ROOT_FIELDS = {
    "status": "status",
    "state": "native_status",
    "createdAt": "created_after / created_before",
    "assignedTo": "owner",
}


def check_where(where: Mapping[str, Any], procedure: Procedure, backend: str) -> None:
    """The shared shape check (operators, values, nesting bound), then every key must be an
    attribute short id of this procedure."""
    validate_where(where)
    _check_keys(where, procedure, backend)


def _check_keys(where: Mapping[str, Any], procedure: Procedure, backend: str) -> None:
    for key, rhs in where.items():
        if key in WHERE_GROUPS:
            for member in rhs:
                _check_keys(member, procedure, backend)
            continue
        if key in ROOT_FIELDS:
            raise InvalidArgumentError(
                f"{backend}: where.{key} is a process field, not an attribute of "
                f"{procedure.short_id}",
                field="where",
                hint=f"use the {ROOT_FIELDS[key]} filter for it; where takes attribute "
                f"short ids: {', '.join(a.short_id for a in procedure.attributes)}",
            )
        if procedure.attribute(key) is None:
            known = [a.short_id for a in procedure.attributes]
            close = difflib.get_close_matches(key, known, n=2)
            listed = "; ".join(f"{a.short_id} ({a.describe()})" for a in procedure.attributes)
            guess = f"did you mean {' or '.join(close)}? " if close else ""
            raise InvalidArgumentError(
                f"{backend}: procedure {procedure.short_id} has no attribute {shown(key)}",
                field="where",
                hint=f"{guess}attributes of {procedure.short_id}: {listed}",
            )


def translate_where(where: Mapping[str, Any], style: AnyOfStyle) -> Query:
    """A validated unified `where` as a Chakra Query (same tree, vendor spelling)."""
    parts: list[Query] = []
    for key, rhs in where.items():
        if key in WHERE_GROUPS:
            parts.append({key: [translate_where(m, style) for m in rhs]})
        else:
            parts.extend(condition(key, rhs, style))
    return merge(parts)


def condition(key: str, rhs: Any, style: AnyOfStyle) -> list[Query]:
    """One unified condition as Queries that must all hold."""
    if isinstance(rhs, dict):
        ops: dict[str, Any] = {}
        groups: list[Query] = []
        for op, value in rhs.items():
            if isinstance(value, list) and style == "or":
                groups.append(any_of(key, value) if op == "=" else none_of(key, value))
            else:
                ops[op] = value
        return ([{key: ops}] if ops else []) + groups
    if isinstance(rhs, list):
        if style == "or":
            return [any_of(key, rhs)]
        return [{key: rhs if _plain(rhs) else {"=": rhs}}]
    return [{key: rhs if _plain(rhs) else {"=": rhs}}]


def any_of(key: str, values: list[Any]) -> Query:
    if len(values) == 1:
        return {key: _scalar(values[0])}
    return {"or": [{key: _scalar(v)} for v in values]}


def none_of(key: str, values: list[Any]) -> Query:
    if len(values) == 1:
        return {key: {"!=": values[0]}}
    return {"and": [{key: {"!=": v}} for v in values]}


def values_rhs(values: list[str], key: str, style: AnyOfStyle) -> Query:
    """Several values of a root field (status, state, assignedTo): any of them."""
    return condition(key, values[0] if len(values) == 1 else values, style)[0]


def merge(parts: list[Query]) -> Query:
    """AND the parts into one object; a part whose key is taken goes into `and`."""
    root: Query = {}
    rest: list[Query] = []
    for part in parts:
        if root.keys() & part.keys():
            rest.append(part)
        else:
            root.update(part)
    if rest:
        root["and"] = [*root.get("and", []), *rest]
    return root


def iso_ms(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds. Objects carry epoch ms, so a bound finer than a
    millisecond is rounded up: for whole-ms t, t >= b and t < b both equal t vs ceil(b)."""
    micros = moment.astimezone(UTC).microsecond
    whole = moment.astimezone(UTC).replace(microsecond=0)
    stamp = whole + timedelta(milliseconds=math.ceil(micros / 1000))
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _plain(rhs: Any) -> bool:
    """`string | number | string[] | number[]`: what may stand without an operator."""

    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if isinstance(rhs, str) or number(rhs):
        return True
    if isinstance(rhs, list):
        return all(isinstance(v, str) for v in rhs) or all(number(v) for v in rhs)
    return False


def _scalar(value: Any) -> Any:
    return value if _plain(value) else {"=": value}


def status_values(statuses: tuple[str, ...], backend: str, warnings: list[str]) -> list[str]:
    """Unified statuses as Chakra's OPEN / COMPLETED / CANCELLED (others never occur)."""
    values = [UNIFIED_TO_STATUS[s] for s in statuses if s in UNIFIED_TO_STATUS]
    if not values:
        raise UnsupportedQueryError(
            f"{backend}: Chakra processes are never {', '.join(statuses)}",
            backend=backend,
            field="status",
            hint="statuses here are open, completed and cancelled",
        )
    missing = [s for s in statuses if s not in UNIFIED_TO_STATUS]
    if missing:
        warnings.append(f"no Chakra process is ever {', '.join(missing)}")
    return list(dict.fromkeys(values))


def state_ids(proc: Procedure, wanted: tuple[str, ...], backend: str) -> list[str]:
    """native_status values as the procedure's state short ids (case-insensitive)."""
    out: list[str] = []
    listing = ", ".join(s.line for s in proc.states)
    for value in wanted:
        state = next((s for s in proc.states if s.short_id.casefold() == value.casefold()), None)
        if state is None:
            if value.upper() in PROCESS_STATUS:
                raise InvalidArgumentError(
                    f"{backend}: {shown(value)} is a Chakra process status, not a state of "
                    f"{proc.short_id}",
                    field="native_status",
                    hint=f"use status={PROCESS_STATUS[value.upper()]}; states of "
                    f"{proc.short_id}: {listing}",
                )
            raise InvalidArgumentError(
                f"{backend}: {proc.short_id} has no state {shown(value)}",
                field="native_status",
                hint=f"states of {proc.short_id}: {listing}",
            )
        out.append(state.short_id)
    return list(dict.fromkeys(out))


def check_template(
    procedures: tuple[Procedure, ...], proc: Procedure, template: str, backend: str
) -> None:
    """A template is the procedure itself: this one passes, another one is refused."""
    wanted = template.strip().casefold()
    found = [p for p in procedures if wanted in (p.short_id.casefold(), p.name.casefold())]
    if proc in found:
        return
    if found:
        raise InvalidArgumentError(
            f"{backend}: template {shown(template)} is the procedure {found[0].short_id}, "
            f"but this call lists {proc.short_id}",
            field="template",
            hint=f"pass collection={found[0].short_id} instead of template",
        )
    known = ", ".join(f"{p.short_id} ({p.name})" for p in procedures)
    raise InvalidArgumentError(
        f"{backend}: no procedure {shown(template)}",
        field="template",
        hint=f"procedures (collections) here: {known}",
    )
