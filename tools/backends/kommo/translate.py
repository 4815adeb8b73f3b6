"""Unified query pieces -> Kommo bracket parameters. Pure functions; the adapter resolves
names first and passes what it knows about the account.

Forms sent (reference section 3): one value as `filter[x]=v`; several in the indexed form
`filter[x][0]=a&filter[x][1]=b`, which every server reads the same way (a repeated bare
key keeps only the last value on a PHP stack); statuses as
`filter[statuses][i][pipeline_id|status_id]` pairs; ranges as `filter[x][from|to]` in Unix
seconds; custom fields as `filter[custom_fields_values][ID][i]=v` or `[ID][from|to]`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tools.arguments import shown
from tools.backends.base import FieldSupport
from tools.backends.kommo.directory import CustomField, Pipeline
from tools.errors import InvalidArgumentError
from tools.model import Status
from tools.query import WHERE_GROUPS, ProcessQuery
from tools.where import condition_text

Params = list[tuple[str, str]]

# Beyond this many (pipeline, stage) pairs the URL grows past ~8 KB (reference: keep URLs
# short); the status filter then falls back to the pipelines and a local check.
MAX_STATUS_PAIRS = 60
TEXT_TYPES = frozenset({"text", "textarea", "url", "multitext", "streetaddress"})
ENUM_TYPES = frozenset({"select", "radiobutton"})
NUMBER_TYPES = frozenset({"numeric", "date", "date_time", "birthday", "monetary"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def indexed(name: str, items: Sequence[str]) -> Params:
    """One value plain, several in the indexed form."""
    if len(items) == 1:
        return [(name, items[0])]
    return [(f"{name}[{i}]", v) for i, v in enumerate(items)]


def ceil_seconds(moment: datetime) -> int:
    """Unix seconds rounded up, computed exactly (no float rounding)."""
    delta = moment.astimezone(UTC) - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    return seconds + (1 if delta.microseconds else 0)


# -- statuses (leads) ----------------------------------------------------------------------


@dataclass
class StatusPlan:
    params: Params
    support: FieldSupport | None  # None: the query has no status filter
    pipeline_ids: list[int] | None  # pipelines still to send as filter[pipeline_id]
    warnings: list[str]


def plan_statuses(
    pipelines: Sequence[Pipeline],
    pipeline_ids: list[int] | None,
    status: Sequence[Status] | None,
    native: Sequence[str] | None,
) -> StatusPlan:
    """Unified status and stage names -> `filter[statuses]` pairs across every pipeline in
    scope (all of them, or the template's). Returns the pipelines that still need sending."""
    warnings: list[str] = []
    scope = [p for p in pipelines if pipeline_ids is None or p.id in pipeline_ids]
    if status is None and native is None:
        return StatusPlan([], None, pipeline_ids, warnings)
    if status is not None:
        expressible = [s for s in status if s in ("open", "completed", "cancelled")]
        if not expressible:
            raise InvalidArgumentError(
                f"Kommo leads are never {', '.join(status)}",
                field="status",
                hint="lead statuses here are open, completed (142, won) and cancelled (143, lost)",
            )
        missing = sorted(set(status) - set(expressible))
        if missing:
            warnings.append(f"no Kommo lead is ever {', '.join(missing)}")
    if native is not None:
        known = {s.name.casefold() for p in pipelines for s in p.stages}
        unknown = [n for n in native if n.strip().casefold() not in known]
        if unknown:
            names = sorted({s.name for p in pipelines for s in p.stages})
            raise InvalidArgumentError(
                f"no Kommo stage named {', '.join(map(repr, unknown))}",
                field="native_status",
                hint="native_status takes stage names, matched in every pipeline: "
                + ", ".join(names),
            )
    wanted_names = {n.strip().casefold() for n in native} if native is not None else None
    all_pairs = [(p.id, s.id) for p in scope for s in p.stages]
    pairs = [
        (p.id, s.id)
        for p in scope
        for s in p.stages
        if (status is None or s.status in status)
        and (wanted_names is None or s.name.casefold() in wanted_names)
    ]
    if not pairs:
        raise InvalidArgumentError(
            "status, native_status and template exclude each other, so nothing can match",
            field="native_status" if native is not None else "status",
            hint="stages by status: "
            + "; ".join(
                f"{p.name}: " + ", ".join(f"{s.name}={s.status}" for s in p.stages) for p in scope
            ),
        )
    if len(pairs) == len(all_pairs):
        # Every stage in scope: the pipeline filter (or none) already says it all.
        return StatusPlan([], FieldSupport("native", "every stage matches"), pipeline_ids, warnings)
    if len(pairs) > MAX_STATUS_PAIRS:
        involved = sorted({pid for pid, _ in pairs})
        note = f"{len(pairs)} stages: their pipelines are fetched and stages checked locally"
        return StatusPlan([], FieldSupport("narrowed", note), involved, warnings)
    params: Params = []
    for i, (pid, sid) in enumerate(pairs):
        params.append((f"filter[statuses][{i}][pipeline_id]", str(pid)))
        params.append((f"filter[statuses][{i}][status_id]", str(sid)))
    note = f"filter[statuses]: {len(pairs)} pipeline/stage pairs"
    # The pairs carry their pipelines, so filter[pipeline_id] is not needed on top.
    return StatusPlan(params, FieldSupport("native", note), None, warnings)


def match_pipelines(pipelines: Sequence[Pipeline], template: str) -> list[int]:
    wanted = template.strip().casefold()
    found = [p.id for p in pipelines if str(p.id) == wanted or p.name.casefold() == wanted]
    if found:
        return found
    names = ", ".join(f"{p.name} ({p.id})" for p in pipelines)
    raise InvalidArgumentError(
        f"no Kommo pipeline {shown(template)}",
        field="template",
        hint=f"template takes a pipeline name or id: {names}",
    )


# -- dates ---------------------------------------------------------------------------------


def plan_dates(
    query: ProcessQuery, due_column: str = "closest_task_at"
) -> tuple[Params, dict[str, FieldSupport]]:
    """`*_after` (inclusive) is `[from]`, exact. `*_before` (exclusive) is sent as `[to]` at
    the same second: whether Kommo's `to` is inclusive is not documented, so a row at
    exactly the bound may come back and is dropped locally (narrowed). Due dates are the
    column a row's `due_at` comes from (`closest_task_at`; customers: `next_date`)."""
    params: Params = []
    applied: dict[str, FieldSupport] = {}
    columns = (("created_at", "created"), ("updated_at", "updated"), (due_column, "due"))
    for column, prefix in columns:
        after = query.filter_value(f"{prefix}_after")
        before = query.filter_value(f"{prefix}_before")
        if after is not None:
            params.append((f"filter[{column}][from]", str(ceil_seconds(after))))
            applied[f"{prefix}_after"] = FieldSupport("native", f"filter[{column}][from]")
        if before is not None:
            params.append((f"filter[{column}][to]", str(ceil_seconds(before))))
            applied[f"{prefix}_before"] = FieldSupport(
                "narrowed", f"filter[{column}][to]; rows at exactly the bound dropped here"
            )
    return params, applied


# -- where (custom fields) -----------------------------------------------------------------


@dataclass
class WherePlan:
    params: Params
    support: FieldSupport


def field_index(fields: Iterable[CustomField]) -> dict[str, CustomField]:
    """Attribute key -> field: by id, and by name (case-sensitive, then case-folded)."""
    index: dict[str, CustomField] = {}
    for f in fields:
        index.setdefault(str(f.id), f)
        index.setdefault(f.name, f)
    return index


def plan_where(
    where: Mapping[str, Any], fields: Sequence[CustomField], *, price: bool
) -> WherePlan:
    """Top-level conditions go to Kommo; and/or groups and operators it cannot express stay
    local. Every row is re-checked anyway (narrowed): accounts without Kommo's paid
    filtering package silently ignore custom-field filters (reference, quirks), and text
    fields may match more loosely than equality."""
    index = field_index(fields)
    params: Params = []
    local: list[str] = []
    used: set[str] = set()
    for key, rhs in where.items():
        if key in WHERE_GROUPS:
            local.append(key)
            continue
        if price and key == "price":
            sent = _price(rhs)
            target = "price"
        else:
            field = _resolve(key, index, fields)
            target = str(field.id)
            sent = [] if target in used else _custom(field, rhs)
        used.add(target)
        params.extend(sent)
        if not sent:
            local.append(key)
    if not params:
        return WherePlan([], FieldSupport("local", "Kommo cannot express this filter"))
    note = "sent as filter[custom_fields_values]; every row re-checked"
    if local:
        note += f" ({', '.join(local)} only checked here)"
    return WherePlan(params, FieldSupport("narrowed", note))


def _resolve(key: str, index: Mapping[str, CustomField], fields: Sequence[CustomField]) -> Any:
    field = index.get(key)
    if field is not None:
        return field
    names = [f.name for f in fields]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.5) or [
        n for n in names if n.casefold() == key.casefold()
    ]
    hint = "where keys are custom field names or ids here: " + ", ".join(
        f"{f.name} ({f.id}, {f.type})" for f in fields
    )
    if close:
        hint = f"did you mean {' or '.join(map(shown, close))}? " + hint
    raise InvalidArgumentError(f"no Kommo custom field {shown(key)}", field="where", hint=hint)


def _ops(rhs: Any) -> dict[str, Any]:
    return dict(rhs) if isinstance(rhs, dict) else {"=": rhs}


def _price(rhs: Any) -> Params:
    ops = _ops(rhs)
    if set(ops) == {"="} and _is_number(ops["="]):
        return [("filter[price]", _num(ops["="]))]
    return _range("filter[price]", ops)


def _range(name: str, ops: Mapping[str, Any]) -> Params:
    """`>=`/`>`/`=` give `[from]` (inclusive, as for dates); `<=`/`<`/`=` give `[to]` sent
    just above the bound, because whether Kommo's `to` is inclusive is not documented:
    either way nothing wanted is cut, and the extra rows are dropped locally."""
    low = next((ops[o] for o in ("=", ">=", ">") if o in ops and _is_number(ops[o])), None)
    high: int | None = None
    if "=" in ops and _is_number(ops["="]):
        high = math.floor(ops["="]) + 1
    elif "<=" in ops and _is_number(ops["<="]):
        high = math.floor(ops["<="]) + 1
    elif "<" in ops and _is_number(ops["<"]):
        high = math.ceil(ops["<"])
    out: Params = []
    if low is not None:
        out.append((f"{name}[from]", _num(low)))
    if high is not None:
        out.append((f"{name}[to]", str(high)))
    return out


def _custom(field: CustomField, rhs: Any) -> Params:
    name = f"filter[custom_fields_values][{field.id}]"
    ops = _ops(rhs)
    if field.type in NUMBER_TYPES:
        for op, value in ops.items():
            if op != "!=" and not all(_is_number(v) for v in _listed(value)):
                raise InvalidArgumentError(
                    f"where.{field.name}: {field.type} field takes numbers, got {shown(value)}",
                    field="where",
                    hint=f"compare {field.name} with a number, e.g. "
                    + condition_text(field.name, ">=", 10),
                )
        return _range(name, ops)
    if "=" not in ops:
        return []  # only equality (any-of) is expressible for non-numeric fields
    wanted = _listed(ops["="])
    if field.type in ENUM_TYPES:
        return [(f"{name}[{i}]", str(_enum_id(field, v))) for i, v in enumerate(wanted)]
    if field.type == "checkbox":
        if not all(isinstance(v, bool) for v in wanted):
            raise InvalidArgumentError(
                f"where.{field.name}: a checkbox is true or false, got {shown(ops['='])}",
                field="where",
                hint=f"write {condition_text(field.name, '=', True)}",
            )
        return [(f"{name}[{i}]", "1" if v else "0") for i, v in enumerate(wanted)]
    if field.type in TEXT_TYPES:
        return [(f"{name}[{i}]", str(v)) for i, v in enumerate(wanted)]
    return []


def _enum_id(field: CustomField, value: Any) -> int:
    for enum_id, label in field.enums:
        if label == value:
            return enum_id
    labels = [label for _, label in field.enums]
    same = [label for label in labels if label.casefold() == str(value).casefold()]
    hint = f"{field.name} takes one of: " + ", ".join(labels)
    if same:
        hint = f"did you mean {shown(same[0])}? (values are matched exactly) " + hint
    raise InvalidArgumentError(
        f"where.{field.name}: {shown(value)} is not one of its options", field="where", hint=hint
    )


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
