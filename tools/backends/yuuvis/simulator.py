"""A yuuvis Momentum BPM-ENGINE simulator that behaves like the documented API (reference
part D and the vendor page, seed 003), quirks included.

`create_app(data)` returns the `SimulatorCore` (tools.sim) to serve; `core.requests`,
`core.faults`, `core.latency` and `core.strict` control and observe it, and
`core.app.state.data` is the `YuuvisData` it serves. Routes live under `/bpm-engine/api`.

Every request (in this order):
- credentials: `Authorization: Basic base64(username:password)` or `Bearer <token>` of a
  tenant user, else 401 (Spring's "Full authentication is required ...");
- `X-ID-TENANT-NAME` naming the data's tenant, else 401 (the gateway cannot pick a tenant).
  401 bodies are the yuuvis error JSON, or empty with `auth_error_body="empty"` (the
  reference suspects gateway 401s may not be JSON).
Errors are the yuuvis core error JSON `{httpStatusCode, serviceErrorCode (four digits; the
codes are ours), time ("yyyy-MM-ddTHH:mm:ss.SSS", no zone), message, service, tenant}`.

`GET /processes` (the caller's processes):
- visibility: an ordinary user sees only the instances they started. `startedBy` naming
  anybody else is 400 for them ("only the own userId is allowed"). A tenant admin sees
  every instance (`admin_sees_all=False`: only their own unless `startedBy` names someone:
  the stricter reading of the truncated sentence "If startedBy is not specified and ...");
- filters: businessKey, name, processDefinitionId/Key/Category exact; businessKeyLike and
  nameLike are SQL LIKE (`%` any run, `_` one character, `\\` escapes; case-sensitive);
  nameLikeIgnoreCase the same on lower-cased text (SQL `lower()`, not Unicode casefold);
  processDefinitionVersion an int32; involvedUser = the starter or a task assignee;
  superProcessInstanceId / subProcessInstanceId follow the call-activity links;
  excludeSubprocesses=true drops sub-processes;
- `isCompleted`: true = has an end time, which includes deleted instances (Flowable keeps
  them in the history with an end time and a delete reason); false = no end time;
- `suspended`: true = suspended; false = "only active processes": by default read as running
  and not suspended (`suspended_false="running"`, the stricter reading); `"not_suspended"`
  also returns ended instances;
- `startedAfter` / `startedBefore`: ISO 8601 date-times (`Z`, `+0000` or `+00:00`); the
  docs do not say whether the bounds are inclusive. Default `date_bounds="inclusive"`
  (Flowable's `>=`/`<=`); `"exclusive"` reads "after"/"before" literally. A bare date or a
  time without an offset: strict 400, lenient midnight / UTC;
- order: start time, then id (the order of equal start times is undocumented; we make it
  total), `sort=asc` (default) or `desc`;
- `page` 0-based (default 0), `size` default 10 (Flowable's), at most `max_size` (100: the
  bound is undocumented, so the stricter reading; strict mode answers 400 above it,
  lenient mode clamps like Spring's pageable);
- envelope `{objects, numItems, totalNumItems, hasMoreItems}`; `variables` is `[]` unless
  `includeProcessVariables=true` (and, with `variables_admin_only=True`, always `[]` for
  ordinary users: the vendor client marks variables "tenant admin only").
`GET /processes/{id}`: the bare object (times in the single example's `+0000` form, plus
`completed`), `includeProcessVariables`; not visible or unknown: 404.
`GET /processes/{id}/history`: `{tasks: [...]}` as the vendor client reads it
(`includeComments=true` adds `comments`). `GET /process-definitions` (page, size, key,
keyLike, name, nameLike, category, latest) and `GET /process-definitions/{id}`.

Strict mode (default): an unknown parameter, a boolean other than true/false, a `sort` other
than asc/desc, a negative page, a size outside 1..max_size, or a date without an offset
is 400. Lenient mode ignores unknown parameters and accepts Spring's lax forms.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tools.backends.yuuvis.data import Json, YuuvisData, iso_offset, parse_time
from tools.sim import RateLimit, SimulatorCore

PREFIX = "/bpm-engine/api"
TENANT_HEADER = "x-id-tenant-name"
MAX_SIZE = 100
DEFAULT_SIZE = 10

LIST_PARAMS = frozenset({
    "businessKey", "businessKeyLike", "excludeSubprocesses", "includeProcessVariables",
    "involvedUser", "name", "nameLike", "nameLikeIgnoreCase", "page",
    "processDefinitionCategory", "processDefinitionId", "processDefinitionKey",
    "processDefinitionVersion", "size", "sort", "startedAfter", "startedBefore", "startedBy",
    "subProcessInstanceId", "superProcessInstanceId", "suspended", "isCompleted",
})  # fmt: skip
GET_PARAMS = frozenset({"includeProcessVariables"})
HISTORY_PARAMS = frozenset({"includeComments"})
DEFINITION_PARAMS = frozenset(
    {"page", "size", "key", "keyLike", "name", "nameLike", "category", "latest"}
)
# Parameters that choose the page or how rows look, never which rows or their order.
_NO_EFFECT = frozenset({"page", "size", "includeProcessVariables"})

# Four-digit service error codes (the format is documented, these values are ours).
CODE_UNAUTHORIZED = 1001
CODE_BAD_PARAMETER = 1100
CODE_STARTED_BY = 1101
CODE_NOT_FOUND = 1200
CODE_NO_ROUTE = 1201

DateBounds = Literal["inclusive", "exclusive"]
SuspendedFalse = Literal["running", "not_suspended"]
AuthErrorBody = Literal["json", "empty"]

_SPRING_TRUE = frozenset({"true", "on", "yes", "1"})
_SPRING_FALSE = frozenset({"false", "off", "no", "0"})
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


class ApiError(Exception):
    """Raised inside a handler; becomes the yuuvis error response."""

    def __init__(self, status: int, code: int, message: str, *, empty: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.empty = empty


def error_json(status: int, code: int, message: str, tenant: str | None) -> Json:
    now = datetime.now(UTC)
    return {
        "httpStatusCode": status,
        "serviceErrorCode": code,
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}",
        "message": message,
        "service": "bpm-engine",
        "tenant": tenant,
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status, media_type="application/json")


def create_app(
    data: YuuvisData,
    *,
    strict: bool = True,
    latency: float = 0.0,
    rate_limit: RateLimit | None = None,
    clock: Callable[[], float] = time.monotonic,
    admin_sees_all: bool = True,
    date_bounds: DateBounds = "inclusive",
    suspended_false: SuspendedFalse = "running",
    max_size: int = MAX_SIZE,
    variables_admin_only: bool = False,
    auth_error_body: AuthErrorBody = "json",
) -> SimulatorCore:
    """The BPM-ENGINE simulator: a `SimulatorCore` wrapping the Starlette app. No rate limit
    is documented, so there is none unless one is passed. `data` is treated as read-only."""
    api = _Api(
        data,
        admin_sees_all=admin_sees_all,
        date_bounds=date_bounds,
        suspended_false=suspended_false,
        max_size=max_size,
        variables_admin_only=variables_admin_only,
        auth_error_body=auth_error_body,
    )
    routes = [
        Route(f"{PREFIX}/processes", api.list_processes),
        Route(f"{PREFIX}/processes/{{instance_id}}", api.get_process),
        Route(f"{PREFIX}/processes/{{instance_id}}/history", api.history),
        Route(f"{PREFIX}/process-definitions", api.list_definitions),
        Route(f"{PREFIX}/process-definitions/{{definition_id}}", api.get_definition),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: api.api_error, HTTPException: api.http_error},
    )
    core = SimulatorCore(
        app,
        error_body=lambda status, message: (
            # Injected faults stand for the gateway: code 9 + the HTTP status.
            json.dumps(error_json(status, 9000 + status, message, data.tenant)).encode(),
            "application/json",
        ),
        strict=strict,
        latency=latency,
        rate_limit=rate_limit,
        clock=clock,
    )
    api.core = core
    app.state.data = data
    app.state.sim = core
    return core


class _Params:
    """Spring-like parameter binding, strict or lenient; the first problem is reported."""

    def __init__(self, request: Request, allowed: Iterable[str], strict: bool) -> None:
        self.raw = request.query_params
        self.strict = strict
        if strict:
            for key in self.raw:
                if key not in allowed:
                    raise _bad(f"Unknown request parameter '{key}'")

    def text(self, name: str) -> str | None:
        value = self.raw.get(name)
        return value if value else None

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered == "true" or (not self.strict and lowered in _SPRING_TRUE):
            return True
        if lowered == "false" or (not self.strict and lowered in _SPRING_FALSE):
            return False
        raise _bad(f"Parameter '{name}': invalid boolean value [{value}]")

    def int32(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not re.fullmatch(r"[+-]?\d{1,10}", value) or not -(2**31) <= int(value) < 2**31:
            raise _bad(f"Parameter '{name}': [{value}] is not a valid int32")
        return int(value)

    def moment(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        has_time = "T" in value.upper()
        if self.strict and not (has_time and _OFFSET.search(value)):
            raise _bad(
                f"Parameter '{name}': [{value}] is not an ISO 8601 date-time with an offset "
                "(e.g. 2021-11-01T12:28:46.363Z)"
            )
        try:
            return parse_time(value if has_time else f"{value}T00:00:00Z")
        except ValueError:
            raise _bad(f"Parameter '{name}': [{value}] is not an ISO 8601 date-time") from None

    def paging(self, max_size: int) -> tuple[int, int]:
        page = self.int32("page")
        size = self.int32("size")
        if page is None:
            page = 0
        elif page < 0:
            if self.strict:
                raise _bad("Parameter 'page' must not be negative (the first page is 0)")
            page = 0
        if size is None:
            size = DEFAULT_SIZE
        elif size < 1:
            if self.strict:
                raise _bad("Parameter 'size' must be at least 1")
            size = DEFAULT_SIZE
        elif size > max_size:
            if self.strict:
                raise _bad(f"Parameter 'size' must not be greater than {max_size}")
            size = max_size
        return page, size

    def direction(self) -> bool:
        """True for descending."""
        value = self.text("sort") or "asc"
        normal = value if self.strict else value.lower()
        if normal not in ("asc", "desc"):
            raise _bad(f"Parameter 'sort': [{value}] must be asc or desc")
        return normal == "desc"


def _bad(message: str) -> ApiError:
    return ApiError(400, CODE_BAD_PARAMETER, message)


def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regex: `%` any run, `_` one character, `\\` escapes the next one."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _like_filter(field: str, pattern: str, ignore_case: bool) -> Callable[[Json], bool]:
    regex = like(pattern.lower() if ignore_case else pattern)

    def keep(row: Json) -> bool:
        value = row[field]
        if value is None:
            return False
        return regex.fullmatch(value.lower() if ignore_case else value) is not None

    return keep


def _equals(field: str, value: str) -> Callable[[Json], bool]:
    return lambda row: bool(row[field] == value)


class _Api:
    core: SimulatorCore

    def __init__(
        self,
        data: YuuvisData,
        *,
        admin_sees_all: bool,
        date_bounds: DateBounds,
        suspended_false: SuspendedFalse,
        max_size: int,
        variables_admin_only: bool,
        auth_error_body: AuthErrorBody,
    ) -> None:
        self.data = data
        self.admin_sees_all = admin_sees_all
        self.date_bounds = date_bounds
        self.suspended_false = suspended_false
        self.max_size = max_size
        self.variables_admin_only = variables_admin_only
        self.auth_error_body = auth_error_body
        self.by_id = {r["id"]: r for r in data.instances}
        self.definitions_by_id = {d["id"]: d for d in data.definitions}
        self.by_token = {u["token"]: u for u in data.users}
        self.by_login = {(u["username"], u["password"]): u for u in data.users}
        self.children: dict[str, list[str]] = {}
        for child, parent in data.parent.items():
            self.children.setdefault(parent, []).append(child)
        self._results: dict[tuple[Any, ...], list[Json]] = {}

    # -- errors ------------------------------------------------------------------------

    async def api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.empty:
            return Response(b"", exc.status)
        tenant = request.headers.get(TENANT_HEADER)
        return _json(error_json(exc.status, exc.code, exc.message, tenant), exc.status)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = "No endpoint found for this path" if exc.status_code == 404 else exc.detail
        body = error_json(exc.status_code, CODE_NO_ROUTE, str(message), None)
        return _json(body, exc.status_code)

    # -- checks ------------------------------------------------------------------------

    def _caller(self, request: Request) -> Json:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        user: Json | None = None
        if scheme.lower() == "bearer":
            user = self.by_token.get(credential.strip())
        elif scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            username, _, password = decoded.partition(":")
            user = self.by_login.get((username, password))
        if user is None:
            raise self._unauthorized("Full authentication is required to access this resource")
        tenant = request.headers.get(TENANT_HEADER)
        if not tenant:
            raise self._unauthorized("No tenant given: the X-ID-TENANT-NAME header is missing")
        if tenant != self.data.tenant:
            raise self._unauthorized(f"User is not a member of tenant '{tenant}'")
        return user

    def _unauthorized(self, message: str) -> ApiError:
        return ApiError(401, CODE_UNAUTHORIZED, message, empty=self.auth_error_body == "empty")

    def _visible(self, user: Json, row: Json) -> bool:
        return bool(user["admin"]) or row["startUserId"] == user["id"]

    # -- processes ---------------------------------------------------------------------

    async def list_processes(self, request: Request) -> Response:
        user = self._caller(request)
        p = _Params(request, LIST_PARAMS, self.core.strict)
        keep = self._filters(p, user)
        descending = p.direction()
        page, size = p.paging(self.max_size)
        variables = p.boolean("includeProcessVariables") is True
        key = (
            user["id"],
            *sorted((k, v) for k, v in request.query_params.multi_items() if k not in _NO_EFFECT),
        )
        rows = self._results.get(key)
        if rows is None:
            rows = [r for r in self.data.instances if all(f(r) for f in keep)]
            if descending:
                rows.reverse()  # ties by id reverse with it
            if len(self._results) >= 256:
                self._results.pop(next(iter(self._results)))
            self._results[key] = rows
        start = page * size
        objects = [self._render(r, user, variables) for r in rows[start : start + size]]
        body = {
            "objects": objects,
            "numItems": len(objects),
            "totalNumItems": len(rows),
            "hasMoreItems": start + len(objects) < len(rows),
        }
        return _json(body)

    def _filters(self, p: _Params, user: Json) -> list[Callable[[Json], bool]]:
        data = self.data
        keep: list[Callable[[Json], bool]] = []
        started_by = p.text("startedBy")
        if started_by is not None and not user["admin"] and started_by != user["id"]:
            raise ApiError(
                400,
                CODE_STARTED_BY,
                "Without admin access only the own userId is allowed as value for startedBy",
            )
        if started_by is not None:
            keep.append(lambda r: r["startUserId"] == started_by)
        elif not (user["admin"] and self.admin_sees_all):
            keep.append(lambda r: r["startUserId"] == user["id"])
        for field in ("businessKey", "name", "processDefinitionId"):
            if (value := p.text(field)) is not None:
                keep.append(_equals(field, value))
        for param, field, fold in (
            ("businessKeyLike", "businessKey", False),
            ("nameLike", "name", False),
            ("nameLikeIgnoreCase", "name", True),
        ):
            if (pattern := p.text(param)) is not None:
                keep.append(_like_filter(field, pattern, fold))
        if (key := p.text("processDefinitionKey")) is not None:
            keep.append(lambda r: r["processDefinitionId"].split(":")[0] == key)
        if (version := p.int32("processDefinitionVersion")) is not None:
            keep.append(lambda r: self._definition(r)["version"] == version)
        if (category := p.text("processDefinitionCategory")) is not None:
            keep.append(lambda r: self._definition(r)["category"] == category)
        if (involved := p.text("involvedUser")) is not None:
            keep.append(lambda r: involved in data.involved[r["id"]])
        if (sup := p.text("superProcessInstanceId")) is not None:
            keep.append(lambda r: data.parent.get(r["id"]) == sup)
        if (sub := p.text("subProcessInstanceId")) is not None:
            keep.append(lambda r: sub in self.children.get(r["id"], ()))
        if p.boolean("excludeSubprocesses") is True:
            keep.append(lambda r: r["id"] not in data.parent)
        if (suspended := p.boolean("suspended")) is True:
            keep.append(lambda r: bool(r["suspended"]))
        elif suspended is False:
            running_only = self.suspended_false == "running"
            keep.append(lambda r: not r["suspended"] and not (running_only and r["endTime"]))
        if (completed := p.boolean("isCompleted")) is not None:
            keep.append(lambda r: (r["endTime"] is not None) is completed)
        keep.extend(self._date_filters(p))
        return keep

    def _date_filters(self, p: _Params) -> list[Callable[[Json], bool]]:
        started = self.data.started
        after, before = p.moment("startedAfter"), p.moment("startedBefore")
        inclusive = self.date_bounds == "inclusive"
        out: list[Callable[[Json], bool]] = []
        if after is not None:
            if inclusive:
                out.append(lambda r: started[r["id"]] >= after)
            else:
                out.append(lambda r: started[r["id"]] > after)
        if before is not None:
            if inclusive:
                out.append(lambda r: started[r["id"]] <= before)
            else:
                out.append(lambda r: started[r["id"]] < before)
        return out

    def _definition(self, row: Json) -> Json:
        return self.definitions_by_id[row["processDefinitionId"]]

    def _render(self, row: Json, user: Json, variables: bool) -> Json:
        out = dict(row)
        shown = variables and (user["admin"] or not self.variables_admin_only)
        out["variables"] = list(self.data.variables[row["id"]]) if shown else []
        return out

    def _instance_or_404(self, request: Request, user: Json) -> Json:
        instance_id = request.path_params["instance_id"]
        row = self.by_id.get(instance_id)
        if row is None or not self._visible(user, row):
            raise ApiError(
                404, CODE_NOT_FOUND, f"No process instance found with id '{instance_id}'"
            )
        return row

    async def get_process(self, request: Request) -> Response:
        user = self._caller(request)
        row = self._instance_or_404(request, user)
        p = _Params(request, GET_PARAMS, self.core.strict)
        out = self._render(row, user, p.boolean("includeProcessVariables") is True)
        # The single example's quirks: `+0000` offsets and a `completed` flag.
        for field in ("startTime", "endTime"):
            if out[field] is not None:
                out[field] = iso_offset(parse_time(out[field]))
        out["completed"] = row["endTime"] is not None
        return _json(out)

    async def history(self, request: Request) -> Response:
        user = self._caller(request)
        row = self._instance_or_404(request, user)
        p = _Params(request, HISTORY_PARAMS, self.core.strict)
        body: Json = {"tasks": self.data.tasks[row["id"]]}
        if p.boolean("includeComments") is True:
            body["comments"] = []
        return _json(body)

    # -- definitions -------------------------------------------------------------------

    async def list_definitions(self, request: Request) -> Response:
        self._caller(request)
        p = _Params(request, DEFINITION_PARAMS, self.core.strict)
        latest = p.boolean("latest") is True
        used = [k for k in ("name", "nameLike", "category") if p.text(k) is not None]
        if latest and used:
            raise _bad("latest can only be used together with key and keyLike")
        rows = list(self.data.definitions)
        for field in ("key", "name", "category"):
            if (value := p.text(field)) is not None:
                rows = [d for d in rows if d[field] == value]
        for param, field in (("keyLike", "key"), ("nameLike", "name")):
            if (pattern := p.text(param)) is not None:
                rows = [d for d in rows if _like_filter(field, pattern, False)(d)]
        if latest:
            newest: dict[str, Json] = {}
            for d in rows:
                if d["key"] not in newest or d["version"] > newest[d["key"]]["version"]:
                    newest[d["key"]] = d
            rows = list(newest.values())
        rows.sort(key=lambda d: (d["key"], d["version"]))
        page, size = p.paging(self.max_size)
        start = page * size
        objects = rows[start : start + size]
        return _json(
            {
                "objects": objects,
                "numItems": len(objects),
                "totalNumItems": len(rows),
                "hasMoreItems": start + len(objects) < len(rows),
            }
        )

    async def get_definition(self, request: Request) -> Response:
        self._caller(request)
        definition_id = request.path_params["definition_id"]
        found = self.definitions_by_id.get(definition_id)
        if found is None:
            raise ApiError(
                404, CODE_NOT_FOUND, f"No process definition found with id '{definition_id}'"
            )
        return _json(found)
