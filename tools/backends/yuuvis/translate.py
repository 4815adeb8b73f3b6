"""The parts of the yuuvis translation that need no network: status, text, dates and `where`.

Each function returns the wire parameters it adds and how the field is applied, so
`YuuvisBackend.plan` only strings them together (and resolves owners and templates).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.arguments import shown
from tools.backends.base import FieldSupport
from tools.backends.yuuvis.shapes import Instance
from tools.errors import InvalidArgumentError, UnsupportedQueryError
from tools.model import Status
from tools.query import WHERE_GROUPS, AttributeType

Params = list[tuple[str, str]]

# The engine has no status field; these names follow the vendor client's labels
# (running, suspended, completed) plus `deleted` for instances ended with a delete reason.
NATIVE_STATUS: dict[str, Status] = {
    "running": "open",
    "suspended": "suspended",
    "completed": "completed",
    "deleted": "cancelled",
}
_LIVE = frozenset({"running", "suspended"})
_ENDED = frozenset({"completed", "deleted"})

# `where` keys the rows carry (checked locally when not sent) and the parameter, if any,
# that applies a single `=` value natively. Values: (wire parameter or None, python type).
ROW_KEYS: dict[str, tuple[str | None, type]] = {
    "businessKey": ("businessKey", str),
    "name": ("name", str),
    "processDefinitionId": ("processDefinitionId", str),
    "processDefinitionKey": ("processDefinitionKey", str),
    "processDefinitionVersion": ("processDefinitionVersion", int),
    "startActivityId": (None, str),
    "endActivityId": (None, str),
    "deleteReason": (None, str),
    "durationInMillis": (None, int),
}
# Documented parameters whose subject the rows do not carry: they can only be sent, as a
# single value at the top level of `where` (never inside or/and, never with an operator).
PARAM_ONLY: dict[str, type] = {
    "businessKeyLike": str,
    "nameLike": str,
    "processDefinitionCategory": str,
    "involvedUser": str,
    "superProcessInstanceId": str,
    "subProcessInstanceId": str,
    "excludeSubprocesses": bool,
}
_JSON_TYPE: dict[type, AttributeType] = {int: "number", str: "text", bool: "boolean"}
# What the shared driver checks `where` values against (tools/where.py).
WHERE_TYPES: dict[str, AttributeType] = {
    **{key: _JSON_TYPE[kind] for key, (_, kind) in ROW_KEYS.items()},
    **{key: _JSON_TYPE[kind] for key, kind in PARAM_ONLY.items()},
}
WHERE_KEYS: dict[str, str] = {
    "businessKey": "business key; one value is sent as businessKey=, anything else is local",
    "name": "exact instance name (name=)",
    "processDefinitionId": "definition id key:version:uuid (processDefinitionId=)",
    "processDefinitionKey": "definition key (processDefinitionKey=)",
    "processDefinitionVersion": "definition version, a number (processDefinitionVersion=)",
    "startActivityId": "local check",
    "endActivityId": "local check (endEvent1 for a normal end)",
    "deleteReason": "local check",
    "durationInMillis": 'local check, e.g. {">": 86400000} for more than a day',
    "businessKeyLike": "SQL LIKE on the business key, % any text, _ one character",
    "nameLike": "SQL LIKE on the name (case-sensitive)",
    "processDefinitionCategory": "definition category",
    "involvedUser": "a user id that started the instance or works on one of its tasks",
    "superProcessInstanceId": "the sub-processes (call activities) of this instance",
    "subProcessInstanceId": "the instance that called this sub-process",
    "excludeSubprocesses": "true (default) hides sub-processes; false lists them too",
}


def _join(names: Iterable[str]) -> str:
    return ", ".join(names)


# -- status ---------------------------------------------------------------------------------


def plan_status(
    status: tuple[Status, ...] | None,
    native_status: tuple[str, ...] | None,
    backend: str,
) -> tuple[Params, FieldSupport | None, list[str]]:
    """`isCompleted` / `suspended` for the wanted native states, with warnings.

    Exact combinations: {running} (isCompleted=false&suspended=false), {suspended}
    (suspended=true), {running, suspended} (isCompleted=false), {completed, deleted}
    (isCompleted=true), everything (nothing sent). `isCompleted=true` also returns deleted
    instances, so completed alone and deleted alone are narrowed; other mixes are fetched
    unfiltered and checked locally. `suspended=false` is only ever sent with
    isCompleted=false, where both readings of "only active processes" agree.
    """
    warnings: list[str] = []
    if status is None and native_status is None:
        return [], None, warnings
    natives = None
    if native_status is not None:
        natives = {v.strip().casefold() for v in native_status}
        unknown = sorted(natives - set(NATIVE_STATUS))
        if unknown:
            raise InvalidArgumentError(
                f"{backend}: unknown yuuvis process state {_join(unknown)}",
                field="native_status",
                hint="states here are: " + _join([f"{n} ({u})" for n, u in NATIVE_STATUS.items()]),
            )
    if status is not None:
        reachable = [s for s in status if s in NATIVE_STATUS.values()]
        if not reachable:
            raise UnsupportedQueryError(
                f"{backend}: yuuvis process instances are never {_join(list(status))}",
                backend=backend,
                field="status",
                hint="statuses here are open, completed, cancelled and suspended",
            )
        missing = sorted(set(status) - set(reachable))
        if missing:
            warnings.append(f"no yuuvis process instance is ever {_join(missing)}")
    wanted = {
        n
        for n, u in NATIVE_STATUS.items()
        if (status is None or u in status) and (natives is None or n in natives)
    }
    if not wanted:
        raise InvalidArgumentError(
            f"{backend}: status and native_status exclude each other, so nothing can match",
            field="native_status",
            hint="yuuvis maps "
            + _join([f"{n}->{u}" for n, u in NATIVE_STATUS.items()])
            + "; keep only one of the two filters",
        )
    params: Params = []
    if wanted == {"running"}:
        params = [("isCompleted", "false"), ("suspended", "false")]
        mode = FieldSupport("native", "isCompleted=false&suspended=false")
    elif wanted == {"suspended"}:
        params = [("suspended", "true")]
        mode = FieldSupport("native", "suspended=true")
    elif wanted == _LIVE:
        params = [("isCompleted", "false")]
        mode = FieldSupport("native", "isCompleted=false")
    elif wanted == _ENDED:
        params = [("isCompleted", "true")]
        mode = FieldSupport("native", "isCompleted=true (completed and deleted)")
    elif wanted <= _ENDED:
        params = [("isCompleted", "true")]
        mode = FieldSupport(
            "narrowed", "isCompleted=true also returns deleted instances; checked locally"
        )
    elif wanted == set(NATIVE_STATUS):
        mode = FieldSupport("native", "every state (nothing sent)")
    else:
        mode = FieldSupport(
            "narrowed", f"{_join(sorted(wanted))} fetched together, checked locally"
        )
    return params, mode, warnings


def row_state(row: Instance) -> str:
    """Suspended, then deleted (a deleted instance also has an end time), then completed."""
    if row.suspended:
        return "suspended"
    if row.delete_reason:
        return "deleted"
    if row.end_time:
        return "completed"
    return "running"


# -- text and dates -------------------------------------------------------------------------

_WILDCARDS = re.compile(r"[%_\\]")


def name_pattern(text: str) -> str:
    """`%text%` for nameLikeIgnoreCase. The escape character of the engine's LIKE is not
    documented, so a `%`, `_` or `\\` the user typed becomes `_` (any one character): the
    pattern can only match more, never less, and every name is re-checked locally."""
    return "%" + _WILDCARDS.sub("_", text) + "%"


def wire_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _floor_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _ceil_ms(moment: datetime) -> datetime:
    up = math.ceil(moment.microsecond / 1000) * 1000
    return moment.replace(microsecond=0) + timedelta(microseconds=up)


def plan_dates(after: datetime | None, before: datetime | None) -> tuple[Params, FieldSupport]:
    """Whether startedAfter/startedBefore include their bound is undocumented, so both are
    widened to be right under either reading (start times have millisecond precision):
    startedAfter one millisecond early, startedBefore at the bound rounded up. Rows are
    re-checked against our after-inclusive / before-exclusive meaning."""
    params: Params = []
    if after is not None:
        params.append(("startedAfter", wire_time(_floor_ms(after) - timedelta(milliseconds=1))))
    if before is not None:
        params.append(("startedBefore", wire_time(_ceil_ms(before))))
    note = "startedAfter/startedBefore (bounds widened by a millisecond, re-checked)"
    return params, FieldSupport("narrowed", note)


# -- where ----------------------------------------------------------------------------------


@dataclass
class WherePlan:
    params: Params = field(default_factory=list)
    # Values of parameter-only keys, stamped on every row so the local evaluator, when it
    # checks the rest of `where`, finds them satisfied (the engine already applied them).
    stamp: dict[str, Any] = field(default_factory=dict)
    local: bool = False
    sent: list[str] = field(default_factory=list)

    def support(self) -> FieldSupport:
        sent = f"sent: {_join(self.sent)}" if self.sent else "nothing sent"
        if not self.local:
            return FieldSupport("native", sent)
        return FieldSupport(
            "narrowed" if self.sent else "local", f"{sent}; the rest checked locally"
        )


class WhereError(Exception):
    """A `where` the engine cannot take; `field`/`reason` go into the backend's refusal."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_type(value: Any, wanted: type) -> bool:
    if wanted is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, wanted)


def plan_where(where: Mapping[str, Any], taken: Iterable[str] = ()) -> WherePlan:
    """`taken`: parameters other filters already send. A query string with one parameter
    twice means whatever the engine picks, so a row key that collides is checked locally
    and a parameter-only key that collides is refused."""
    out = WherePlan()
    used = set(taken)
    for key, rhs in where.items():
        if key in WHERE_GROUPS:
            _forbid_param_only(rhs)
            out.local = True
        elif key in PARAM_ONLY:
            wanted = PARAM_ONLY[key]
            if not _is_type(rhs, wanted):
                kind = "true or false" if wanted is bool else "one text value"
                raise WhereError(
                    f"{key} takes {kind} and nothing else: the engine applies it and the "
                    "rows do not carry it, so it cannot be checked locally"
                )
            if key in used:
                raise WhereError(f"{key} is already set by another filter of this query")
            out.params.append((key, _wire_value(rhs)))
            out.stamp[key] = rhs
            out.sent.append(key)
        elif key in ROW_KEYS:
            param, wanted = ROW_KEYS[key]
            if param is not None and param not in used and _is_type(rhs, wanted):
                out.params.append((param, _wire_value(rhs)))
                out.sent.append(key)
            else:
                out.local = True
        else:
            raise WhereError(f"unknown key {shown(key)}")
    return out


def _forbid_param_only(members: Any) -> None:
    for member in members if isinstance(members, list) else []:
        if not isinstance(member, Mapping):
            continue
        for key, rhs in member.items():
            if key in WHERE_GROUPS:
                _forbid_param_only(rhs)
            elif key in PARAM_ONLY:
                raise WhereError(
                    f"{key} can only be used at the top level of where (the engine applies "
                    "it; inside and/or it cannot be checked locally)"
                )
            elif key not in ROW_KEYS:
                raise WhereError(f"unknown key {shown(key)}")


def wants_subprocesses(where: Mapping[str, Any] | None) -> bool:
    """Sub-processes are hidden unless `where` asks for them (excludeSubprocesses=false)
    or names a relation to one (super/subProcessInstanceId)."""
    if not where:
        return False
    if where.get("excludeSubprocesses") is False:
        return True
    return any(k in where for k in ("superProcessInstanceId", "subProcessInstanceId"))
