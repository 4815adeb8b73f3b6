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
- due dates: `due_after` / `due_before` bound the row's `due_at` (a deadline, next action
  or closest task) like the other dates; a row with no due date matches neither.
  `overdue: true` is shorthand for open and due before now: it sets `status` to open (a
  status filter without open is refused) and bounds `due_before` at the query's `now`,
  taken when the query is made. The fingerprint holds `overdue`, not that instant, so a
  cursor keeps working while the clock moves.
- owner / template: equal (case-insensitive) to the row's id or its display value.
- tags: the row carries every listed tag (all-of), compared case-insensitively.
- sort: the key, then the id in the same direction, so order is total and stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from operator import attrgetter
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from tools.arguments import given, json_kind, refusal, shown
from tools.bounds import CURSOR_CHARS, DATE_CHARS, MAX_FIELDS, MAX_VALUES, NAME_CHARS
from tools.errors import InvalidArgumentError
from tools.fields import check_fields, is_extra
from tools.model import STATUSES, Detail, ProcessSummary, Status

# Re-exported: backends import the where vocabulary from here.
from tools.where import WHERE_GROUPS as WHERE_GROUPS
from tools.where import WHERE_MAX_DEPTH as WHERE_MAX_DEPTH
from tools.where import WHERE_OPERATORS as WHERE_OPERATORS
from tools.where import AttributeType as AttributeType
from tools.where import check_where_types as check_where_types
from tools.where import validate_where as validate_where
from tools.where import where_groups as where_groups
from tools.where_text import EXAMPLE as WHERE_EXAMPLE
from tools.where_text import parse_where

SortKey = Literal["-created_at", "created_at", "-updated_at", "updated_at", "name", "-name"]
SORT_KEYS: tuple[str, ...] = get_args(SortKey)
NonEmpty = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20

# Fields that filter rows; the order is the order they are reported in.
FILTER_FIELDS: tuple[str, ...] = (
    "status",
    "native_status",
    "text",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "due_after",
    "due_before",
    "owner",
    "template",
    "tags",
    "where",
)
DATE_FIELDS = (
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "due_after",
    "due_before",
)
# Parameters that are shorthand for filters (they set FILTER_FIELDS values).
SHORTHANDS: tuple[str, ...] = ("overdue",)
QUERY_FILTERS: tuple[str, ...] = (*FILTER_FIELDS, *SHORTHANDS)


# Outside these years a date is a typo, and a backend's arithmetic on it (epoch seconds,
# widening a bound by a day) could overflow.
MIN_YEAR, MAX_YEAR = 1900, 9998
DATE_EXAMPLE = '"2025-01-31" or "2025-01-31T09:00:00Z"'


def _date_refusal(field: str, what: str, example: str | None = None) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{field}: {what}",
        field=field,
        hint=f"send {field} as an ISO 8601 string in quotes, e.g. "
        + (f'"{example}"' if example else DATE_EXAMPLE),
    )


def parse_datetime(value: Any, *, field: str) -> datetime:
    """ISO 8601 to an aware datetime (no offset: UTC); a bare date means midnight UTC.

    Only strings (and, from Python callers, dates): a number is refused, never read as
    epoch seconds, and so is anything else that is not ISO 8601."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if not isinstance(value, str):
        digits = str(value) if isinstance(value, int) and not isinstance(value, bool) else ""
        guess = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}" if len(digits) == 8 else None
        raise _date_refusal(
            field, f"{json_kind(value)} is not a date (dates are ISO 8601 strings)", guess
        )
    text = value.strip()
    if not text:
        raise _date_refusal(field, "empty date (leave the parameter out for no bound)")
    if len(value) > DATE_CHARS:
        raise _date_refusal(field, f"longer than {DATE_CHARS} characters, so not a date")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        year = parsed.astimezone(UTC).year
    except (ValueError, OverflowError):
        raise _date_refusal(field, f"{shown(value)} is not an ISO 8601 date or date-time") from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _date_refusal(field, f"{shown(value)} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return parsed


class ProcessQuery(BaseModel):
    """A list request in the unified vocabulary (design.md section 4)."""

    # Strict: a JSON value of the wrong type is refused, never converted (tools/arguments).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    backend: str = Field("all", min_length=1, max_length=NAME_CHARS)
    collection: str | None = Field(None, min_length=1, max_length=NAME_CHARS)
    status: tuple[Status, ...] | None = Field(None, min_length=1, max_length=len(STATUSES))
    native_status: tuple[NonEmpty, ...] | None = Field(None, min_length=1, max_length=MAX_VALUES)
    text: str | None = Field(None, min_length=1, max_length=NAME_CHARS)
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    # Shorthand for status open and due before now (see the module notes).
    overdue: Literal[True] | None = None
    owner: str | None = Field(None, min_length=1, max_length=NAME_CHARS)
    template: str | None = Field(None, min_length=1, max_length=NAME_CHARS)
    tags: tuple[NonEmpty, ...] | None = Field(None, min_length=1, max_length=MAX_VALUES)
    # Written as an expression (tools/where_text.py); held as the tree backends translate.
    where: dict[str, Any] | None = None
    sort: SortKey = "-created_at"
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(None, min_length=1, max_length=CURSOR_CHARS)
    detail: Detail = "summary"
    # The columns of the answer (tools/fields.py); None: those of `detail`.
    fields: tuple[NonEmpty, ...] | None = Field(None, max_length=MAX_FIELDS)
    # When the query was made: what `overdue` compares due dates with. Private, so that
    # it is not part of the fingerprint (a cursor outlives the instant).
    _now: datetime = PrivateAttr(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    @model_validator(mode="before")
    @classmethod
    def _overdue(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("overdue") is not True:
            return data
        status = data.get("status")
        if status is not None and not isinstance(status, str | list | tuple):
            return data  # the status field refuses it, with its own message
        given = (status,) if isinstance(status, str) else tuple(status or ("open",))
        if "open" not in given:
            raise InvalidArgumentError(
                f"overdue means open and due before now, but status {shown(list(given))} "
                "leaves out open",
                field="overdue",
                hint="drop status (overdue implies open), or drop overdue and use "
                "due_before with the statuses you want",
            )
        return {**data, "status": ("open",)}

    @field_validator(*DATE_FIELDS, mode="before")
    @classmethod
    def _dates(cls, value: Any, info: Any) -> Any:
        return None if value is None else parse_datetime(value, field=info.field_name)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # Vendors' searches trim the term (the Kommo simulator reads its `query` that way);
        # the local re-check must read the same term, or it drops rows the vendor found.
        return value.strip() if isinstance(value, str) else value

    @field_validator("where", mode="before")
    @classmethod
    def _where(cls, value: Any) -> Any:
        return None if value is None else parse_where(value)

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else check_fields(value)

    @field_validator("status", "native_status", "tags", "fields", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        # An agent often sends one value where a list is expected; accept it. A JSON
        # array arrives as a list, which strict mode would refuse for a tuple.
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list):
            return tuple(value)
        return value

    @property
    def now(self) -> datetime:
        """The instant the query was made (what `overdue` and age buckets measure from)."""
        return self._now

    def filter_value(self, field: str) -> Any:
        """The value filter `field` applies: as given, except that `overdue` bounds
        `due_before` at `now`."""
        value = getattr(self, field)
        if field == "due_before" and self.overdue:
            return self._now if value is None else min(value, self._now)
        return value

    def wants_extra(self) -> bool:
        """Whether the answer shows the rows' backend-specific fields: `fields` naming
        `extra` or an `extra.KEY` column, or (no fields) detail=full. Adapters build the
        extras only then: they are the costly part of a row (issue 15)."""
        if self.fields is None:
            return self.detail == "full"
        return any(f == "extra" or is_extra(f) for f in self.fields)

    def wants_names(self) -> bool:
        """Whether anything reads the rows' names and templates: every detail but a plain
        `ids` answer, and the filters and sort that test them."""
        shown = self.detail != "ids" or self.fields is not None
        by_name = self.sort.lstrip("-") == "name"
        return shown or self.text is not None or self.template is not None or by_name

    def used_filters(self) -> list[str]:
        """The filter fields this query sets, in reporting order."""
        return [f for f in FILTER_FIELDS if self.filter_value(f) is not None]

    def fingerprint(self) -> str:
        """Identity of the question, for binding cursors: everything but paging and what
        the answer shows (detail, fields)."""
        data = self.model_dump(mode="json", exclude={"cursor", "limit", "detail", "fields"})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_changes(self, **changes: Any) -> ProcessQuery:
        return self.model_copy(update=changes)


_HINTS = {
    "limit": f"pass a limit between 1 and {MAX_LIMIT}; page on with next_cursor for more",
    "status": "use any of: " + ", ".join(STATUSES) + "; for the backend's own values use "
    "native_status",
    "sort": "use one of: " + ", ".join(SORT_KEYS),
    "collection": "leave collection out for the backend's main one, or name one that "
    "list_backends shows",
    "backend": 'leave backend out (or pass "all") to search every instance, or name one '
    "that list_backends shows",
    "native_status": "leave it out, or name at least one of the values list_backends shows",
    "tags": "leave tags out, or name at least one tag",
    "cursor": "pass next_cursor exactly as it was returned, or leave cursor out",
    "overdue": "overdue takes only true (open and due before now); leave it out otherwise, "
    "or use due_after with the server's time (list_backends) for what is not yet due",
    "fields": 'name the columns you want, e.g. ["owner", "due_at"]; id always comes',
}
_EXAMPLES = {
    "limit": "20",
    "status": '["open"]',
    "native_status": '["active"]',
    "tags": '["vip"]',
    "text": '"onboarding"',
    "owner": '"ann@example.com"',
    "template": '"Customer Onboarding"',
    "where": shown(WHERE_EXAMPLE),
    "collection": '"runs"',
    "backend": '"all"',
    "cursor": "the next_cursor string of the previous answer",
    "overdue": "true",
    "fields": '["name", "owner", "due_at"]',
}


def parse_query(arguments: Mapping[str, Any]) -> ProcessQuery:
    """Validate raw tool arguments into a ProcessQuery, with errors an agent can act on.
    A parameter sent as null is not given (its default applies)."""
    try:
        query = ProcessQuery.model_validate(given(arguments, ProcessQuery.model_fields))
    except InvalidArgumentError:
        raise
    except ValidationError as exc:
        # Our own InvalidArgumentError raised inside a validator arrives wrapped.
        for err in exc.errors():
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, InvalidArgumentError):
                raise cause from None
        raise refusal(
            exc,
            valid=ProcessQuery.model_fields,
            hints=_HINTS,
            examples=_EXAMPLES,
            model=ProcessQuery,
        ) from None
    _check_ranges(query)
    return query


def _check_ranges(query: ProcessQuery) -> None:
    pairs = (
        ("created_after", "created_before"),
        ("updated_after", "updated_before"),
        ("due_after", "due_before"),
    )
    for lo, hi in pairs:
        a, b = query.filter_value(lo), query.filter_value(hi)
        if a is not None and b is not None and a >= b:
            if hi == "due_before" and query.overdue and b == query.now:
                raise InvalidArgumentError(
                    f"{lo} ({a.isoformat()}) is not before now ({b.isoformat()}), so "
                    "nothing can be overdue",
                    field=lo,
                    hint=f"overdue means due before now: pass an earlier {lo}, or drop "
                    "overdue to see what is due later",
                )
            raise InvalidArgumentError(
                f"{lo} ({a.isoformat()}) must be earlier than {hi} ({b.isoformat()})",
                field=lo,
                hint=f"swap the two values or widen the range; {lo} is inclusive, {hi} exclusive",
            )
    if query.where is not None:
        validate_where(query.where)


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
    value = query.filter_value(field)
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
        case "due_after":
            return row.due_at is not None and row.due_at >= value
        case "due_before":
            return row.due_at is not None and row.due_at < value
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


def past_bound(query: ProcessQuery, sort: str) -> Callable[[ProcessSummary], bool] | None:
    """The test that a row, and so every later row of a stream sorted by `sort`, fails a
    date bound (what lets the driver stop early instead of scanning to the end), decided
    once per stream: None when no bound can end a stream in that order, so nothing is
    checked per row."""
    field = sort.lstrip("-")
    if field not in ("created_at", "updated_at"):
        return None
    prefix = field.removesuffix("_at")
    read = attrgetter(field)
    if is_descending(sort):
        after = getattr(query, f"{prefix}_after")
        if after is None:
            return None
        return lambda row: (value := read(row)) is not None and value < after
    before = getattr(query, f"{prefix}_before")
    if before is None:
        return None
    return lambda row: (value := read(row)) is not None and value >= before
