"""ProcessQuery: the one filter vocabulary, its parsing, and its local evaluator.

The evaluator is the reference semantics. Backends translate what they can into their
own parameters; whatever they cannot apply exactly is checked here, row by row, so a
query means the same thing on every backend.

Semantics worth knowing:
- dates: `*_after` is inclusive (>=), `*_before` is exclusive (<): ranges tile without
  overlap. A bare date is midnight UTC; a time without offset is UTC.
- text: case-insensitive substring of the name, or of the further text a backend's own
  search reads (`ProcessSummary.search_text`: Kommo text-like custom fields, Chakra text
  attributes), so a local re-check never drops a row the vendor's search rightly found.
- owner / template: equal (case-insensitive) to the row's id or its display value.
- tags: the row carries every listed tag (all-of), compared case-insensitively.
- sort: the key, then the id in the same direction, so order is total and stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tools.errors import InvalidArgumentError
from tools.model import STATUSES, Detail, ProcessSummary, Status

SortKey = Literal["-created_at", "created_at", "-updated_at", "updated_at", "name", "-name"]
SORT_KEYS: tuple[str, ...] = get_args(SortKey)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20
WHERE_OPERATORS = ("=", "!=", ">", ">=", "<", "<=")

# Fields that filter rows; the order is the order they are reported in.
FILTER_FIELDS: tuple[str, ...] = (
    "status",
    "native_status",
    "text",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "owner",
    "template",
    "tags",
    "where",
)
DATE_FIELDS = ("created_after", "created_before", "updated_after", "updated_before")


def parse_datetime(value: str | datetime | date, *, field: str) -> datetime:
    """ISO 8601 to an aware UTC datetime; a bare date means midnight UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidArgumentError(
            f"{field}: {value!r} is not an ISO 8601 date or date-time",
            field=field,
            hint=f"use a date like 2025-01-31 or a date-time like 2025-01-31T09:00:00Z for {field}",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ProcessQuery(BaseModel):
    """A list request in the unified vocabulary (design.md section 4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = "all"
    collection: str | None = None
    status: tuple[Status, ...] | None = None
    native_status: tuple[str, ...] | None = None
    text: str | None = Field(None, min_length=1, max_length=200)
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    owner: str | None = Field(None, min_length=1, max_length=200)
    template: str | None = Field(None, min_length=1, max_length=200)
    tags: tuple[str, ...] | None = None
    where: dict[str, Any] | None = None
    sort: SortKey = "-created_at"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None
    detail: Detail = "summary"

    @field_validator(*DATE_FIELDS, mode="before")
    @classmethod
    def _dates(cls, value: Any, info: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str | datetime | date):
            return parse_datetime(value, field=info.field_name)
        return value

    @field_validator("status", "native_status", "tags", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        # An agent often sends one value where a list is expected; accept it.
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and not value:
            return None
        return value

    def used_filters(self) -> list[str]:
        """The filter fields this query sets, in reporting order."""
        return [f for f in FILTER_FIELDS if getattr(self, f) is not None]

    def fingerprint(self) -> str:
        """Identity of the question, for binding cursors: everything but paging and detail."""
        data = self.model_dump(mode="json", exclude={"cursor", "limit", "detail"})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_changes(self, **changes: Any) -> ProcessQuery:
        return self.model_copy(update=changes)


def _first_error_message(exc: ValidationError, valid: Iterable[str]) -> InvalidArgumentError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "arguments"
    field = str(err["loc"][0]) if err["loc"] else None
    kind = err["type"]
    if kind == "extra_forbidden":
        return InvalidArgumentError(
            f"unknown parameter {loc!r}",
            field=field,
            hint="remove it; valid parameters are: " + ", ".join(valid),
        )
    if field == "limit":
        return InvalidArgumentError(
            f"limit must be an integer from 1 to {MAX_LIMIT} (got {err.get('input')!r})",
            field="limit",
            hint=f"pass a limit between 1 and {MAX_LIMIT}; page on with next_cursor for more",
        )
    if field == "status":
        return InvalidArgumentError(
            f"status {err.get('input')!r} is not a unified status",
            field="status",
            hint="use any of: "
            + ", ".join(STATUSES)
            + "; for the backend's own values use native_status",
        )
    if field == "sort":
        return InvalidArgumentError(
            f"sort {err.get('input')!r} is not supported",
            field="sort",
            hint="use one of: " + ", ".join(SORT_KEYS),
        )
    return InvalidArgumentError(
        f"{loc}: {err['msg']} (got {err.get('input')!r})",
        field=field,
        hint=f"fix {loc} and call again",
    )


def parse_query(arguments: Mapping[str, Any]) -> ProcessQuery:
    """Validate raw tool arguments into a ProcessQuery, with errors an agent can act on."""
    try:
        query = ProcessQuery.model_validate(dict(arguments))
    except InvalidArgumentError:
        raise
    except ValidationError as exc:
        # Our own InvalidArgumentError raised inside a validator arrives wrapped.
        for err in exc.errors():
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, InvalidArgumentError):
                raise cause from None
        raise _first_error_message(exc, ProcessQuery.model_fields) from None
    _check_ranges(query)
    return query


def _check_ranges(query: ProcessQuery) -> None:
    for lo, hi in (("created_after", "created_before"), ("updated_after", "updated_before")):
        a, b = getattr(query, lo), getattr(query, hi)
        if a is not None and b is not None and a >= b:
            raise InvalidArgumentError(
                f"{lo} ({a.isoformat()}) must be earlier than {hi} ({b.isoformat()})",
                field=lo,
                hint=f"swap the two values or widen the range; {lo} is inclusive, {hi} exclusive",
            )
    if query.where is not None:
        validate_where(query.where)


WHERE_GROUPS = ("and", "or")
# Nesting bound for and/or groups: deep enough for any real question, shallow enough that a
# backend's query language (Chakra's is recursive) never sees a pathological tree.
WHERE_MAX_DEPTH = 3


def validate_where(where: Mapping[str, Any], *, depth: int = 1) -> None:
    """Shape check shared by every backend.

    where := {attr: value | [any of] | {op: value, ...}, "and": [where, ...], "or": [where, ...]}
    Keys of one object all hold (AND); "or" holds when any of its members holds.
    """
    if not isinstance(where, Mapping):
        raise InvalidArgumentError(
            f"where must be an object, got {type(where).__name__}",
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
        if key in WHERE_GROUPS:
            _validate_group(key, rhs, depth)
        elif isinstance(rhs, dict):
            if not rhs:
                raise InvalidArgumentError(
                    f"where.{key}: empty operator map",
                    field="where",
                    hint="give at least one operator, e.g. {'>=': 100}",
                )
            for op, value in rhs.items():
                if op not in WHERE_OPERATORS:
                    raise InvalidArgumentError(
                        f"where.{key}: unknown operator {op!r}",
                        field="where",
                        hint="operators are "
                        + ", ".join(WHERE_OPERATORS)
                        + '; for any-of pass a list, e.g. {"'
                        + key
                        + '": ["a", "b"]}',
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
                f"where.{key}: a list must hold at least one string or number",
                field="where",
                hint=f'write {{"{key}": ["a", "b"]}} for any of several values',
            )
        return
    if not isinstance(value, scalar):
        raise InvalidArgumentError(
            f"where.{key}: {value!r} is not a string or number",
            field="where",
            hint="compare attributes with strings, numbers or booleans",
        )


def where_groups(where: Mapping[str, Any]) -> int:
    """How deep the and/or groups of `where` nest (0: a flat map)."""
    inner = [where_groups(m) for k, ms in where.items() if k in WHERE_GROUPS for m in ms]
    return 1 + max(inner) if inner else 0


# -- evaluation ---------------------------------------------------------------------------


def _eq(a: str | None, b: str) -> bool:
    return a is not None and a.casefold() == b.casefold()


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        inside = any(_compare("=", actual, e) for e in expected)
        return (not inside) if op == "!=" else inside
    if actual is None:
        return op == "!=" and expected is not None
    try:
        match op:
            case "=":
                return bool(actual == expected)
            case "!=":
                return bool(actual != expected)
            case ">":
                return bool(actual > expected)
            case ">=":
                return bool(actual >= expected)
            case "<":
                return bool(actual < expected)
            case "<=":
                return bool(actual <= expected)
    except TypeError:
        return False
    return False


def where_matches(where: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """All keys must hold; a list means any-of; an operator map means all its operators;
    "and" needs every member, "or" any member."""
    for key, rhs in where.items():
        if key == "and":
            if not all(where_matches(m, attributes) for m in rhs):
                return False
            continue
        if key == "or":
            if not any(where_matches(m, attributes) for m in rhs):
                return False
            continue
        actual = attributes.get(key)
        if isinstance(rhs, dict):
            if not all(_compare(op, actual, value) for op, value in rhs.items()):
                return False
        elif not _compare("=", actual, rhs):
            return False
    return True


def field_matches(query: ProcessQuery, field: str, row: ProcessSummary) -> bool:
    """Does `row` satisfy the single filter `field` of `query`? (Unset filters hold.)"""
    value = getattr(query, field)
    if value is None:
        return True
    match field:
        case "status":
            return row.status in value
        case "native_status":
            return any(_eq(row.native_status, v) for v in value)
        case "text":
            needle = value.casefold()
            return needle in row.name.casefold() or any(
                needle in t.casefold() for t in row.search_text
            )
        case "created_after":
            return row.created_at is not None and row.created_at >= value
        case "created_before":
            return row.created_at is not None and row.created_at < value
        case "updated_after":
            return row.updated_at is not None and row.updated_at >= value
        case "updated_before":
            return row.updated_at is not None and row.updated_at < value
        case "owner":
            return _eq(row.owner_id, value) or _eq(row.owner, value)
        case "template":
            return _eq(row.template_id, value) or _eq(row.template, value)
        case "tags":
            have = {t.casefold() for t in row.tags or ()}
            return all(t.casefold() in have for t in value)
        case "where":
            return where_matches(value, row_attributes(row))
    raise KeyError(field)


def matches(query: ProcessQuery, row: ProcessSummary, fields: Iterable[str] | None = None) -> bool:
    """Evaluate the given filter fields (default: all of them) against one row."""
    return all(field_matches(query, f, row) for f in (FILTER_FIELDS if fields is None else fields))


def row_attributes(row: ProcessSummary) -> Mapping[str, Any]:
    """Backend attributes a `where` filter can test; adapters fill them, they are not rendered."""
    return row.attributes or {}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def sort_key(sort: str, row: ProcessSummary) -> tuple[Any, ...]:
    """Ascending key for `sort` (without its '-'); callers reverse for descending."""
    field = sort.lstrip("-")
    if field == "name":
        return (row.name.casefold(), row.id, row.backend)
    value = getattr(row, field) or _EPOCH
    return (value, row.id, row.backend)


def is_descending(sort: str) -> bool:
    return sort.startswith("-")


def evaluate(query: ProcessQuery, rows: Iterable[ProcessSummary]) -> list[ProcessSummary]:
    """The reference answer: every matching row, in query order. Used by tests and docs."""
    kept = [r for r in rows if matches(query, r)]
    kept.sort(key=lambda r: sort_key(query.sort, r), reverse=is_descending(query.sort))
    return kept


def past_bound(query: ProcessQuery, sort: str, row: ProcessSummary) -> bool:
    """True when `row`, and so every later row of a stream sorted by `sort`, fails a date bound.

    This is what lets the driver stop early instead of scanning to the end.
    """
    field = sort.lstrip("-")
    if field not in ("created_at", "updated_at"):
        return False
    value = getattr(row, field)
    if value is None:
        return False
    prefix = field.removesuffix("_at")
    if is_descending(sort):
        bound = getattr(query, f"{prefix}_after")
        return bound is not None and value < bound
    bound = getattr(query, f"{prefix}_before")
    return bound is not None and value >= bound
