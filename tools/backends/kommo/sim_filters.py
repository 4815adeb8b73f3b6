"""What the Kommo simulator does with a list request's `filter[...]`, `query` and `order`.

Each entity has exactly the filters of the reference (section 3, "Fields per entity"):
- leads: id, name, price (single or range), statuses, pipeline_id, created_by, updated_by,
  responsible_user_id, created_at, updated_at, closed_at, closest_task_at,
  custom_fields_values, and `query`;
- contacts, companies: the same minus price, statuses, pipeline_id and closed_at;
- customers: id, name, next_price, next_date, status_id, created_by, updated_by,
  responsible_user_id, created_at, updated_at, closest_task_at, custom_fields_values, no
  `query`; the legacy API v2 names of the vendor's filtration page (`main_user`,
  `modified_by`, `date[type|from|to]`) are accepted as aliases.
Separate filters AND together; the values of one filter OR together.

Choices where the docs are silent (each a constructor flag of the simulator):
- range `from` is inclusive; `to` is inclusive too (`range_to_inclusive`, the reference's
  inferred reading); False makes `to` exclusive;
- custom-field filters are applied (`custom_field_filtering`); False ignores them silently,
  as accounts without the paid "alpha" filtering package do (reference, quirks);
- text custom fields match a case-insensitive substring (the docs say "raw value"),
  select fields match the enum_id, checkbox 1 or 0, numeric/date fields the number or a
  from/to range;
- `query` ("free-text search over filled fields", reference section 2) is a
  case-insensitive substring of the name OR of any value of a filled text-like custom
  field (text, textarea, url, multitext: phones and e-mails are multitext, and Kommo
  suggests `?query={phone}` to find a contact, reference section 3), so it finds a lead
  by the company typed into its Company text field. Select labels, numbers, dates and
  checkboxes are not free text and are not searched;
- `filter[name]` matches the whole name, case-insensitively;
- ordering: leads by created_at, updated_at or id; contacts and companies by updated_at or
  id (the current reference; an older page also lists created_at). Customers document no
  `order` (reference section 2, S16), so by default (`customers_order=False`, the stricter
  reading) `order` is an unknown parameter for them: refused in strict mode, ignored in
  lenient mode; `customers_order=True` accepts updated_at and id as for contacts. Ties are
  broken by id in the same direction;
- without `order`: leads, contacts and companies by id ascending. The customers' default
  order is undocumented too, so the simulator picks one that agrees with no sort a client
  could ask for: next purchase date (`next_date`) ascending, ties by id ascending. A client
  that assumes customers come by id, creation or update time gets them out of order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.backends.kommo.brackets import BracketError, Tree, integer, scalar, values
from tools.backends.kommo.data import Json

Predicate = Callable[[Json], bool]

_COMMON = {
    "id": "ints",
    "name": "names",
    "created_by": "ints",
    "updated_by": "ints",
    "responsible_user_id": "ints",
    "created_at": "range",
    "updated_at": "range",
    "closest_task_at": "range",
    "custom_fields_values": "custom",
}
FILTERS: dict[str, dict[str, str]] = {
    "leads": {
        **_COMMON,
        "price": "range",
        "statuses": "statuses",
        "pipeline_id": "ints",
        "closed_at": "range",
    },
    "contacts": dict(_COMMON),
    "companies": dict(_COMMON),
    "customers": {
        **_COMMON,
        "next_price": "range",
        "next_date": "range",
        "status_id": "ints",
        # API v2 names from the vendor's filtration page, accepted as aliases.
        "main_user": "ints",
        "modified_by": "ints",
        "date": "legacy_date",
    },
}
ALIASES = {"main_user": "responsible_user_id", "modified_by": "updated_by"}
ORDERS: dict[str, frozenset[str]] = {
    "leads": frozenset({"created_at", "updated_at", "id"}),
    "contacts": frozenset({"updated_at", "id"}),
    "companies": frozenset({"updated_at", "id"}),
    "customers": frozenset({"updated_at", "id"}),
}
# The order of a list without `order` (see the module notes); others: id ascending.
DEFAULT_ORDER = {"customers": "next_date"}
WITH: dict[str, frozenset[str]] = {
    "leads": frozenset(
        {
            "contacts",
            "catalog_elements",
            "is_price_modified_by_robot",
            "loss_reason",
            "source_id",
            "only_deleted",
            "source",
        }
    ),
    "contacts": frozenset({"leads", "customers", "catalog_elements"}),
    "companies": frozenset({"leads", "customers", "catalog_elements", "contacts"}),
    "customers": frozenset({"contacts", "companies", "catalog_elements"}),
}
# The filled fields `query` searches besides the name.
SEARCHED_TYPES = frozenset({"text", "textarea", "url", "multitext"})
ENUM_TYPES = frozenset({"select", "multiselect", "radiobutton"})
NUMBER_TYPES = frozenset({"numeric", "date", "date_time", "birthday", "monetary"})


@dataclass
class Problems:
    """Validation errors, reported all at once in Kommo's `validation-errors` shape."""

    errors: list[Json] = field(default_factory=list)

    def add(self, path: str, detail: str, code: str = "InvalidType") -> None:
        self.errors.append({"code": code, "path": path, "detail": detail})

    def bracket(self, exc: BracketError) -> None:
        self.add(exc.path, exc.detail, exc.code)


@dataclass(frozen=True)
class Options:
    strict: bool
    range_to_inclusive: bool
    custom_field_filtering: bool
    customers_order: bool


def list_filters(
    entity: str,
    tree: Tree,
    fields: dict[int, Json],
    opts: Options,
    problems: Problems,
) -> list[Predicate]:
    """One predicate per filter of the request; errors go to `problems`."""
    keep: list[Predicate] = []
    raw = tree.get("filter")
    if raw is not None and not isinstance(raw, dict):
        problems.add("filter", "filter must be an object")
        raw = None
    for name, node in (raw or {}).items():
        kind = FILTERS[entity].get(name)
        if kind is None:
            if opts.strict:
                problems.add(f"filter.{name}", "This field is not supported.", "NotSupportedChoice")
            continue
        try:
            predicate = _one(kind, ALIASES.get(name) or str(name), node, fields, opts, problems)
        except BracketError as exc:
            problems.bracket(exc)
            continue
        if predicate is not None:
            keep.append(predicate)
    query = tree.get("query")
    if query is not None:
        if entity == "customers":
            if opts.strict:
                problems.add("query", "This field is not supported.", "NotSupportedChoice")
        else:
            try:
                needle = scalar(query, "query").strip().casefold()
            except BracketError as exc:
                problems.bracket(exc)
            else:
                if needle:
                    keep.append(lambda row: _search(row, needle))
    return keep


def _one(
    kind: str, name: str, node: Any, fields: dict[int, Json], opts: Options, problems: Problems
) -> Predicate | None:
    path = f"filter.{name}"
    if kind == "ints":
        wanted = {integer(v, path) for v in values(node, path)}
        return lambda row: row.get(name) in wanted
    if kind == "names":
        names = {v.strip().casefold() for v in values(node, path)}
        return lambda row: str(row.get("name", "")).casefold() in names
    if kind == "range":
        low, high = _bounds(node, path)
        # A single value (`filter[price]=2000`, reference section 3) is an exact match:
        # only a range's `to` has the undocumented inclusiveness.
        return _in_range(name, low, high, opts.range_to_inclusive or not _is_range(node))
    if kind == "statuses":
        return _statuses(node, opts, problems)
    if kind == "legacy_date":
        if not isinstance(node, dict):
            raise BracketError(path, "expected type, from and to")
        kind_name = scalar(node.get("type", "create"), f"{path}.type")
        if kind_name not in ("create", "modify"):
            raise BracketError(f"{path}.type", "type is create or modify", "NotSupportedChoice")
        low, high = _bounds({k: v for k, v in node.items() if k != "type"}, path)
        column = "created_at" if kind_name == "create" else "updated_at"
        return _in_range(column, low, high, opts.range_to_inclusive)
    if kind == "custom":
        return _custom(node, fields, opts, problems)
    raise AssertionError(kind)  # pragma: no cover


def _bounds(node: Any, path: str) -> tuple[float | None, float | None]:
    """A range `{from, to}` (either may be missing) or a single value (from = to)."""
    if _is_range(node):
        unknown = set(node) - {"from", "to"}
        if unknown:
            raise BracketError(f"{path}.{sorted(unknown)[0]}", "a range takes from and to")
        low = node.get("from")
        high = node.get("to")
        return (
            _number(scalar(low, f"{path}.from"), f"{path}.from") if low is not None else None,
            _number(scalar(high, f"{path}.to"), f"{path}.to") if high is not None else None,
        )
    value = _number(scalar(node, path), path)
    return value, value


def _is_range(node: Any) -> bool:
    return isinstance(node, dict) and not all(k.isdigit() for k in node)


def _number(text: str, path: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BracketError(path, f"{text!r} is not a number") from None


def _in_range(column: str, low: float | None, high: float | None, to_inclusive: bool) -> Predicate:
    def check(row: Json) -> bool:
        value = row.get(column)
        if value is None:
            return False
        number = float(value)
        if low is not None and number < low:
            return False
        return high is None or number < high or (to_inclusive and number == high)

    return check


def _statuses(node: Any, opts: Options, problems: Problems) -> Predicate | None:
    if not isinstance(node, dict):
        raise BracketError("filter.statuses", "expected [i][pipeline_id] and [i][status_id]")
    pairs: set[tuple[int, int]] = set()
    for index, item in node.items():
        path = f"filter.statuses.{index}"
        if not isinstance(item, dict) or "pipeline_id" not in item or "status_id" not in item:
            # Both keys are required; the PHP library drops incomplete elements.
            if opts.strict:
                problems.add(path, "pipeline_id and status_id are both required")
            continue
        pipeline = integer(scalar(item["pipeline_id"], f"{path}.pipeline_id"), path)
        status = integer(scalar(item["status_id"], f"{path}.status_id"), path)
        pairs.add((pipeline, status))
    if not pairs:
        return None
    return lambda row: (row.get("pipeline_id"), row.get("status_id")) in pairs


def _custom(
    node: Any, fields: dict[int, Json], opts: Options, problems: Problems
) -> Predicate | None:
    if not isinstance(node, dict):
        raise BracketError("filter.custom_fields_values", "expected [FIELD_ID] keys")
    keep: list[Predicate] = []
    for key, spec in node.items():
        path = f"filter.custom_fields_values.{key}"
        field_id = integer(key, path)
        definition = fields.get(field_id)
        if definition is None:
            problems.add(path, f"custom field {field_id} does not exist", "NotSupportedChoice")
            continue
        try:
            keep.append(_custom_field(definition, spec, path, opts.range_to_inclusive))
        except BracketError as exc:
            problems.bracket(exc)
    if not opts.custom_field_filtering:
        return None  # validated, then silently ignored: filtering is not enabled here
    return lambda row: all(p(row) for p in keep)


def _custom_field(definition: Json, spec: Any, path: str, to_inclusive: bool) -> Predicate:
    field_id, kind = definition["id"], definition["type"]
    is_range = isinstance(spec, dict) and not all(k.isdigit() for k in spec)
    if is_range and kind not in NUMBER_TYPES:
        raise BracketError(path, f"ranges need a numeric or date field, not {kind}")
    if kind in NUMBER_TYPES:
        if is_range:
            low, high = _bounds(spec, path)
        else:
            wanted = {_number(v, path) for v in values(spec, path)}
            return lambda row: any(_as_number(v) in wanted for v in _raw(row, field_id))
        return lambda row: any(
            (n := _as_number(v)) is not None
            and (low is None or n >= low)
            and (high is None or n < high or (to_inclusive and n == high))
            for v in _raw(row, field_id)
        )
    wanted_text = values(spec, path)
    if kind in ENUM_TYPES:
        enums = {integer(v, path) for v in wanted_text}
        return lambda row: any(item.get("enum_id") in enums for item in _items(row, field_id))
    if kind == "checkbox":
        if any(v not in ("0", "1") for v in wanted_text):
            raise BracketError(path, "a checkbox takes 1 or 0")
        flags = {v == "1" for v in wanted_text}
        return lambda row: bool(_raw(row, field_id)) and bool(_raw(row, field_id)[0]) in flags
    needles = [v.casefold() for v in wanted_text]
    return lambda row: any(n in str(v).casefold() for v in _raw(row, field_id) for n in needles)


def _items(row: Json, field_id: int) -> list[Json]:
    for value in row.get("custom_fields_values") or ():
        if value["field_id"] == field_id:
            items: list[Json] = value["values"]
            return items
    return []


def _raw(row: Json, field_id: int) -> list[Any]:
    return [item.get("value") for item in _items(row, field_id)]


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _search(row: Json, needle: str) -> bool:
    if needle in str(row.get("name", "")).casefold():
        return True
    for value in row.get("custom_fields_values") or ():
        if value.get("field_type") not in SEARCHED_TYPES:
            continue
        for item in value["values"]:
            if needle in str(item.get("value", "")).casefold():
                return True
    return False


def ordering(entity: str, tree: Tree, opts: Options, problems: Problems) -> tuple[str, bool]:
    """(column, descending) from `order[column]=asc|desc`, else the entity's own order."""
    default = DEFAULT_ORDER.get(entity, "id"), False
    raw = tree.get("order")
    if raw is None or (entity == "customers" and not opts.customers_order):
        # Customers without `order`: strict mode refused the unknown parameter already.
        return default
    if not isinstance(raw, dict) or len(raw) != 1:
        problems.add("order", "order takes one field: order[field]=asc|desc")
        return default
    column, direction_node = next(iter(raw.items()))
    try:
        direction = scalar(direction_node, f"order.{column}").lower()
    except BracketError as exc:
        problems.bracket(exc)
        return default
    if column not in ORDERS[entity]:
        if opts.strict:
            problems.add(f"order.{column}", "This value is not valid.", "NotSupportedChoice")
        return default  # ignored when lenient
    if direction not in ("asc", "desc"):
        problems.add(f"order.{column}", "use asc or desc", "NotSupportedChoice")
        return default
    return column, direction == "desc"


def sort_rows(rows: list[Json], column: str, descending: bool) -> list[Json]:
    """Sorted by column, ties by id, both in the same direction (a total order)."""
    return sorted(rows, key=lambda r: (r.get(column) or 0, r["id"]), reverse=descending)
