"""The Tallyfy API's wire conventions, for the simulator: Laravel errors and validation,
Fractal paging, PHP-style JSON, the documented parameter lists, and the `Readings` of what
the reference leaves open (facts: shared/reference/chakra-and-tallyfy.md part B)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from tools.backends.tallyfy.data import Json, parse_time

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 10

PAGING = frozenset({"page", "per_page", "without_pagination"})
RUN_LIST_PARAMS = PAGING | {
    "q", "status", "owners", "checklist_id", "blueprint_id", "folder", "tag", "tag_ids",
    "untagged", "starred", "type", "groups", "with", "sort", "sort_by", "archived",
    "task_status", "form_fields_values",
}  # fmt: skip
RUN_GET_PARAMS = frozenset({"with", "form_fields_values"})
RUN_WITH = frozenset({
    "checklist", "tasks", "tags", "assets", "next_task", "permissions", "tasks_meta",
    "ko_form_fields", "form_fields", "stages", "folders",
})  # fmt: skip
RUN_STATUSES = frozenset({"active", "complete", "problem", "improvement", "archived", "delayed",
                          "starred"})  # fmt: skip
RUN_SORTS = frozenset({"name", "created_at", "last_updated"})
RUN_TYPES = frozenset({"procedure", "form", "document"})
TASK_STATUSES = frozenset({"complete", "active", "active_visible", "incomplete", "inprogress",
                           "not-started", "hasproblem", "overdue", "due_soon"})  # fmt: skip
TASK_PARAMS = PAGING | {
    "status", "owners", "guests", "groups", "unassigned", "deadline_start", "deadline_end",
    "sort", "with",
}  # fmt: skip
TASK_WITH = frozenset({"step", "threads", "comments", "form_fields"})
TASK_SORTS = frozenset({"position", "deadline"})
SIMPLE_LIST_PARAMS = PAGING | {"q"}
CHECKLIST_PARAMS = PAGING | {
    "q", "sort", "sort_by", "with", "status", "type", "starred", "folder", "tag", "owner_id",
    "archived",
}  # fmt: skip
CHECKLIST_WITH = frozenset({"steps", "prerun", "tags", "folders"})
CHECKLIST_SORTS = frozenset({"title", "created_at", "last_updated"})

# Parameters that change which page or how rows look, never which rows or their order.
NO_EFFECT = frozenset({"page", "per_page", "without_pagination", "with", "form_fields_values"})
TRUE, FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
ORG_IN_PATH = re.compile(r"/organizations/([^/]+)")

AuthErrorStyle = Literal["laravel", "edge", "plain"]
TagIdsMatch = Literal["any", "all"]
QMatch = Literal["name_or_summary", "name"]
OverCap = Literal["clamp", "reject"]
EmptyLinks = Literal["array", "null", "missing"]
TotalPagesFrom = Literal["cap", "per_page"]


class ApiError(Exception):
    """Raised inside a handler; becomes the vendor's error response."""

    def __init__(self, status: int, body: Json | str, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class LaravelJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # PHP escapes "/" and non-ASCII; a strict JSON parser must not care, so neither do we.
        return json.dumps(content, separators=(",", ":")).replace("/", "\\/").encode()


def error_code(message: str) -> str:
    words = re.sub(r"[^\w\s]", "", message).upper().split()
    return "_".join(words)[:25]


def error_json(message: str) -> Json:
    return {"message": message, "code": error_code(message), "error": True}


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """The kit's callback: vendor-style bodies for injected faults and 429s."""
    return LaravelJSON().render(error_json(message)), "application/json"


@dataclass(frozen=True)
class Readings:
    """How the simulator reads what the reference leaves open. Each default is the stricter
    reading, the one a careless client fails on; tests run the other too."""

    # `q` "searches processes by name" (B.2 seed): the default also matches the summary,
    # so a client that trusts q without re-checking names shows extra rows.
    q_match: QMatch = "name_or_summary"
    # "The server caps per_page at 100" (B.3): silently, so a client that computes offsets
    # from the per_page it asked for skips rows. "reject" answers 422 instead.
    per_page_over_cap: OverCap = "clamp"
    # No links: `[]` (B.3), "may also be null or missing" (B.3, B10).
    empty_links: EmptyLinks = "array"
    # "total_pages may not match the requested per_page, so derive pages from total"
    # (B.3, B11): by default it is counted at the 100 cap, whatever per_page was asked.
    total_pages_from: TotalPagesFrom = "cap"
    # `status=archived` is a documented value, but whether it lifts the default hiding of
    # archived runs is not; the first-party MCP uses `archived=only` (B.4, B11). By
    # default it does not: status=archived alone finds nothing.
    status_archived_shows: bool = False
    # "A missing or forbidden run returns 404 or 403" (B.6): 403 by default.
    missing_run_status: int = 403
    # "Rate-limit header names are undocumented" (B.7): no Retry-After on a 429 by default.
    retry_after_header: bool = False


class Params:
    """Laravel-like validation of query parameters, collecting every error at once."""

    def __init__(
        self,
        request: Request,
        allowed: Iterable[str],
        strict: bool,
        over_cap: OverCap = "clamp",
    ) -> None:
        self.raw = request.query_params
        self.strict = strict
        self.over_cap = over_cap
        self.errors: dict[str, list[str]] = {}
        if strict:
            for key in dict.fromkeys(self.raw.keys()):
                if key not in allowed:
                    self.fail(key, f"The {key} parameter is not supported.")

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def check(self) -> None:
        if self.errors:
            raise ApiError(422, {"message": "The given data was invalid.", "errors": self.errors})

    def text(self, *names: str) -> str | None:
        """First non-empty value among `names` (aliases); empty strings count as absent."""
        for name in names:
            value = self.raw.get(name)
            if value:
                return value
        return None

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        if self.strict:
            self.fail(name, f"The {_attr(name)} field must be true or false.")
        return None

    def choice(self, name: str, allowed: frozenset[str], value: str | None = None) -> str | None:
        value = value if value is not None else self.text(name)
        if value is not None and value not in allowed and self.strict:
            self.fail(name, f"The selected {_attr(name)} is invalid.")
        return value

    def date(self, name: str) -> datetime | None:
        """An ISO date or datetime; a bare date is midnight UTC."""
        value = self.text(name)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(name, f"The {_attr(name)} is not a valid date.")
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def csv(self, *names: str) -> list[str] | None:
        value = self.text(*names)
        return None if value is None else [v.strip() for v in value.split(",") if v.strip()]

    def ints(self, name: str) -> list[int] | None:
        values = self.csv(name)
        if values is None:
            return None
        good = [int(v) for v in values if v.isdigit()]
        if len(good) != len(values) and self.strict:
            self.fail(name, f"The {_attr(name)} must be a comma-separated list of user ids.")
        return good

    def positive_int(self, name: str, default: int) -> int:
        value = self.text(name)
        if value is None:
            return default
        if not re.fullmatch(r"[+-]?\d+", value):
            self.fail(name, f"The {_attr(name)} must be an integer.")
            return default
        if int(value) < 1:
            self.fail(name, f"The {_attr(name)} must be at least 1.")
            return default
        return int(value)

    def with_(self, allowed: frozenset[str]) -> set[str]:
        """`with` relations; a nested `tasks.threads` asks for `tasks`."""
        wanted: set[str] = set()
        for item in self.csv("with") or []:
            head = item.split(".", 1)[0]
            if head in allowed:
                wanted.add(head)
            elif self.strict:
                self.fail("with", "The selected with is invalid.")
        return wanted

    def sort(self, allowed: frozenset[str], default: str, *names: str) -> tuple[str, bool]:
        """(field, descending). An unknown field is refused in both modes."""
        name = next((n for n in names if self.text(n)), names[0])
        value = self.text(*names) or default
        field = value.removeprefix("-")
        if field not in allowed:
            self.fail(name, f"The selected {_attr(name)} is invalid.")
            field, value = default.removeprefix("-"), default
        return field, value.startswith("-")

    def paging(self) -> tuple[int, int, bool]:
        page = self.positive_int("page", 1)
        per_page = self.positive_int("per_page", DEFAULT_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            if self.over_cap == "reject":
                self.fail("per_page", f"The per page may not be greater than {MAX_PER_PAGE}.")
            per_page = MAX_PER_PAGE
        return page, per_page, self.boolean("without_pagination") is True


def _attr(name: str) -> str:
    """Laravel's attribute wording: per_page -> 'per page'."""
    return name.replace("_", " ")


def owned_by(kind: str, wanted: Iterable[object]) -> Callable[[Json], bool]:
    """Task filter: any of `wanted` among the task's owners of that kind."""
    wanted_set = {str(w) for w in wanted}
    return lambda task: bool(wanted_set & {str(o) for o in task["owners"][kind]})


def visible(is_archived: bool, status: str | None, archived: str | None) -> bool:
    """Archived runs are hidden by default; `archived` or `status=archived` shows them."""
    if archived == "only":
        return is_archived
    if archived in TRUE or status == "archived":
        return True
    return not is_archived


def status_matches(run: Json, status: str) -> bool:
    if status == "starred":
        return bool(run["starred"])
    return bool(run["status"] == status)


def sort_key(field: str, text_fields: tuple[str, ...]) -> Callable[[Json], tuple[Any, str]]:
    """Text sorts ignore case, times sort as instants (the two formats differ as strings);
    ties go by id, so the order is total and pages never overlap."""
    if field in text_fields:
        return lambda row: (str(row[field]).casefold(), row["id"])
    if field == "position":
        return lambda row: (row[field], row["id"])
    return lambda row: (parse_time(row[field]), row["id"])


def paginate(
    request: Request,
    rows: list[Json],
    page: int,
    per_page: int,
    unpaged: bool,
    readings: Readings,
) -> dict[str, Any]:
    """Fractal's envelope for Laravel's LengthAwarePaginator."""
    if unpaged:
        return {"data": list(rows)}
    total = len(rows)
    total_pages = max(1, math.ceil(total / per_page))
    # What a client may believe; the page walk itself follows the real page count.
    shown_pages = (
        total_pages
        if readings.total_pages_from == "per_page"
        else max(1, math.ceil(total / MAX_PER_PAGE))
    )
    items = rows[(page - 1) * per_page : page * per_page]
    links: dict[str, str] = {}
    if page > 1:
        links["previous"] = str(request.url.include_query_params(page=page - 1))
    if page < total_pages:
        links["next"] = str(request.url.include_query_params(page=page + 1))
    pagination: Json = {
        "total": total,
        "count": len(items),
        "per_page": per_page,
        "current_page": page,
        "total_pages": shown_pages,
    }
    if links or readings.empty_links == "array":
        # PHP serialises an empty associative array as a JSON array: the documented quirk.
        pagination["links"] = links or []
    elif readings.empty_links == "null":
        pagination["links"] = None
    return {"data": items, "meta": {"pagination": pagination}}
