"""A Frends Platform API (1.0) simulator that behaves like the documented API, quirks included.

`create_app(data)` returns the `SimulatorCore` (tools.sim) to serve; `core.requests`,
`core.faults`, `core.latency`, `core.strict` control and observe it, `core.app.state.data`
is the `FrendsData` it serves. Routes live under `/api/v1` and its documented alias
`/api/v1.0` (facts: shared/reference/frends-and-yuuvis.md part C).

Every request needs `Authorization: Bearer <token>`, else 401 with `WWW-Authenticate: Bearer`.
Every error is RFC 9457 Problem Details (`application/problem+json`): `type`, `title`,
`status`, `detail` and a W3C `traceId` (`00-<32 hex>-<16 hex>-00`); validation failures
carry ASP.NET's `errors` map instead of `detail`. Injected faults use the same shape.

Three list styles, as documented:
- paged, `GET /processes`: `PageNumber` (1-based, default 1), `PageSize` (default 30,
  at most 200), `processGuid`, `processName`; `{"data":[...], "paging": {currentPage,
  pageSize, totalCount, firstPage, lastPage, nextPage, previousPage}}` with absolute URIs,
  `nextPage`/`previousPage` null at the ends. No match (or a page past the end) is 200 with
  `data: []`. Each row carries its full object: BPMN, element parameters, graph data and
  process variables, with secret values in clear (the docs do not say they are masked, so
  we assume the worst) - plus its `links`. Which versions the list shows is undocumented
  (`isNotLatestVersion` belongs to the object schema the single GET shares, so it proves
  nothing): by default (`listed_versions="latest"`, the stricter reading) each process's
  latest published version and its draft, the rows whose isNotLatestVersion is false,
  with `processGuid` too; `"every"` lists every version and draft. Older versions are
  then reachable only by id or by guid and version - and executions of older versions
  name exactly those ids.
- continuation, `GET /instances/{agentGroupId}`: `processGuids` (repeat the key),
  `startTime`, `endTime`, `stateFilter` (ShowAll, ShowRunning, ShowFinished, ShowSuccessful,
  ShowFailed, ShowFailedNotAcknowledged), `isChildProcess`, `continuationToken`, `pageSize`
  (default 50, at most 200); `{"data":[...], "nextContinuationToken": str|null,
  "nextLink": {uri, method}|null}`. Unknown agent group: 404 "Agent group not found".
- unpaged, `GET /environments`: `{"data":[...]}` with each environment's agent groups.

Execution rows carry the fields of the vendor's example; the reference notes list them only
up to agentGroupId, so `execution_guids=False` serves `processGuid: null` (the row then
names what ran by `processId` alone, a version id the list may not show).

Single objects: `GET /processes/{id}` and `GET /processes/{guid}/versions/{version}`
(`{"data":{...}, "links":{deployments, delete}}`, 404 "Process not found");
`GET /instances/{agentGroupId}/{executionId}/details` (the docs name the operation but show
no body: we return the list row plus `steps: null` and a `stepDataUri`, as third-party
clients report; 404 "Process instance not found").

Orders (undocumented, chosen and kept deterministic): definitions newest first by
`modified`, instances newest first by `startTimeUtc`; ties by id descending (the generated
data never has ties). The paging driver relies on these orders, so the adapter says so.

Undocumented behaviour, the stricter reading by default, each behind a flag:
- `process_name_match`: "exact" (default: case-insensitive equality, as SQL Server's
  default collation compares) or "substring" (case-insensitive contains);
- `time_bounds_inclusive`: False (default) - `startTime` keeps executions that started
  strictly after it; True - at or after it;
- `end_time_filter`: "end" (default) - `endTime` keeps executions that ENDED before it, so
  running ones drop out; "start" - executions that started before it (a time window);
- PageSize/pageSize above 200: strict mode 400, lenient mode clamped to 200;
- a continuation token used with other filters (or another page size): strict mode 400,
  lenient mode carries on from the token's position ("the results will be invalid").
Strict mode (default) also refuses query parameters the docs do not list, or listed ones in
another casing (ASP.NET binds names case-insensitively: lenient mode does too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tools.backends.frends.records import Definition, FrendsData, Json, parse_time
from tools.backends.frends.sim_binding import (
    JSON,
    PROBLEM,
    ApiError,
    Query,
    error_body,
    not_found,
    problem,
)
from tools.backends.frends.wire import definition_wire, encoded
from tools.sim import RateLimit, SimulatorCore
from tools.sim.bytecache import DEFAULT_MAX_BYTES, ByteCache

DEFAULT_PROCESS_PAGE_SIZE = 30
DEFAULT_INSTANCE_PAGE_SIZE = 50
PROCESS_PARAMS = ("PageNumber", "PageSize", "processGuid", "processName")
INSTANCE_PARAMS = (
    "processGuids", "startTime", "endTime", "stateFilter", "isChildProcess",
    "continuationToken", "pageSize",
)  # fmt: skip
STATE_FILTERS = (
    "ShowAll", "ShowRunning", "ShowFinished", "ShowSuccessful", "ShowFailed",
    "ShowFailedNotAcknowledged",
)  # fmt: skip

NameMatch = Literal["exact", "substring"]
EndTimeFilter = Literal["end", "start"]
ListedVersions = Literal["latest", "every"]


def create_app(
    data: FrendsData,
    *,
    token: str = "sandbox-frends-token",
    strict: bool = True,
    latency: float = 0.0,
    rate_limit: RateLimit | None = None,
    clock: Callable[[], float] = time.monotonic,
    process_name_match: NameMatch = "exact",
    time_bounds_inclusive: bool = False,
    end_time_filter: EndTimeFilter = "end",
    listed_versions: ListedVersions = "latest",
    execution_guids: bool = True,
    cache_bytes: int = DEFAULT_MAX_BYTES,
) -> SimulatorCore:
    """The Frends simulator. Frends publishes no rate limit, so none is enforced by default.

    `data` is treated as read-only from here on (orderings and encodings are cached):
    encoded objects and whole list pages are kept up to `cache_bytes` each, so an export
    of 10,000 rows does not re-encode kilobytes of BPMN per row on every pass."""
    api = _Api(
        data,
        token=token,
        process_name_match=process_name_match,
        time_bounds_inclusive=time_bounds_inclusive,
        end_time_filter=end_time_filter,
        listed_versions=listed_versions,
        execution_guids=execution_guids,
        cache_bytes=cache_bytes,
    )
    routes: list[Route] = []
    for prefix in ("/api/v1", "/api/v1.0"):
        routes += [
            Route(f"{prefix}/processes", api.list_processes),
            Route(f"{prefix}/processes/{{process_id:int}}", api.get_process),
            Route(f"{prefix}/processes/{{guid}}/versions/{{version:int}}", api.get_version),
            Route(f"{prefix}/instances/{{group:int}}", api.list_instances),
            Route(f"{prefix}/instances/{{group:int}}/{{execution}}/details", api.get_instance),
            Route(f"{prefix}/environments", api.list_environments),
        ]
    app = Starlette(
        routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error}
    )
    core = SimulatorCore(
        app,
        error_body=error_body,
        strict=strict,
        latency=latency,
        rate_limit=rate_limit,
        rate_limit_message="Too Many Requests",
        request_id_header="Request-Context",
        clock=clock,
    )
    api.core = core
    app.state.data = data
    app.state.sim = core
    return core


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return Response(encoded(exc.body), exc.status, exc.headers, media_type=PROBLEM)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = "Not Found" if exc.status_code == 404 else "Method Not Allowed"
    body = problem(exc.status_code, title)
    return Response(encoded(body), exc.status_code, exc.headers, media_type=PROBLEM)


class _Api:
    core: SimulatorCore

    def __init__(
        self,
        data: FrendsData,
        *,
        token: str,
        process_name_match: NameMatch,
        time_bounds_inclusive: bool,
        end_time_filter: EndTimeFilter,
        listed_versions: ListedVersions,
        execution_guids: bool,
        cache_bytes: int,
    ) -> None:
        self.data = data
        self.token = token
        self.name_match = process_name_match
        self.inclusive = time_bounds_inclusive
        self.end_time_filter = end_time_filter
        self.execution_guids = execution_guids
        # Rows the list shows: every version, or only what isNotLatestVersion=false marks
        # (each process's latest version and its draft). Every version stays readable by id.
        listed = [
            d for d in data.definitions if listed_versions == "every" or d.latest or d.is_draft
        ]
        self.newest_first = sorted(listed, key=lambda d: (d.modified, str(d.id)), reverse=True)
        self.by_guid: dict[str, list[Definition]] = {}
        for d in data.definitions:
            self.by_guid.setdefault(d.guid, []).append(d)
        self.listed_by_guid: dict[str, list[Definition]] = {}
        for d in self.newest_first:
            self.listed_by_guid.setdefault(d.guid, []).append(d)
        self.instances = {
            g: sorted(rows, key=lambda r: (r["startTimeUtc"], r["executionId"]), reverse=True)
            for g, rows in data.instances.items()
        }
        self.executions = {
            (g, r["executionId"]): r for g, rows in data.instances.items() for r in rows
        }
        self._objects = ByteCache(cache_bytes)
        # A list page is a function of its URL alone (the data is read-only).
        self._pages = ByteCache(cache_bytes)

    # -- endpoints -------------------------------------------------------------------

    async def list_processes(self, request: Request) -> Response:
        self._guard(request)
        strict = self.core.strict
        q = Query(request, PROCESS_PARAMS, strict)
        page = q.integer("PageNumber", 1)
        size = q.page_size("PageSize", DEFAULT_PROCESS_PAGE_SIZE, strict)
        raw_guid = q.text("processGuid")
        guid = q.guid(raw_guid, "processGuid") if raw_guid else None
        name = q.text("processName") or None
        q.check()

        def render() -> bytes:
            rows = self._matching_definitions(guid, name)
            chunk = rows[(page - 1) * size : page * size]
            base = self._base(request)
            items = b",".join(self._row_bytes(d, base) for d in chunk)
            paging = self._paging(request, page, size, len(rows))
            return b'{"data":[' + items + b'],"paging":' + encoded(paging) + b"}"

        return JSON(self._pages.get(str(request.url), render))

    async def get_process(self, request: Request) -> Response:
        self._guard(request)
        self._no_params(request)
        found = self.data.definition(request.path_params["process_id"])
        if found is None:
            raise not_found("Process not found")
        return self._single(request, found)

    async def get_version(self, request: Request) -> Response:
        self._guard(request)
        self._no_params(request)
        raw, version = request.path_params["guid"], request.path_params["version"]
        try:
            guid = str(uuid.UUID(raw))
        except ValueError:
            raise not_found("Process not found") from None
        found = next((d for d in self.by_guid.get(guid, ()) if d.version == version), None)
        if found is None:
            raise not_found("Process not found")
        return self._single(request, found)

    async def list_instances(self, request: Request) -> Response:
        self._guard(request)
        strict = self.core.strict
        group = request.path_params["group"]
        if group not in self.instances and not any(
            g["id"] == group for g in self.data.agent_groups
        ):
            raise not_found("Agent group not found")
        q = Query(request, INSTANCE_PARAMS, strict)
        guids = {
            g for raw in q.values.get("processGuids", []) if (g := q.guid(raw, "processGuids"))
        }
        start, end = q.moment("startTime"), q.moment("endTime")
        state = q.choice("stateFilter", STATE_FILTERS) or "ShowAll"
        child = q.boolean("isChildProcess")
        size = q.page_size("pageSize", DEFAULT_INSTANCE_PAGE_SIZE, strict)
        token = q.text("continuationToken")
        q.check()
        fingerprint = self._fingerprint(request, strict)
        offset = self._decode_token(token, fingerprint, strict) if token else 0
        rows = [
            r
            for r in self.instances.get(group, [])
            if self._instance_matches(r, guids, start, end, state, child)
        ]
        chunk = rows[offset : offset + size]
        next_token = None
        next_link = None
        if offset + size < len(rows):
            next_token = self._encode_token(offset + size, fingerprint)
            params = [
                (k, v) for k, v in request.query_params.multi_items() if k != "continuationToken"
            ]
            params.append(("continuationToken", next_token))
            uri = f"{self._base(request)}/instances/{group}?{urlencode(params)}"
            next_link = {"uri": uri, "method": "GET"}
        data = [self._execution(r) for r in chunk]
        return JSON({"data": data, "nextContinuationToken": next_token, "nextLink": next_link})

    async def get_instance(self, request: Request) -> Response:
        self._guard(request)
        self._no_params(request)
        group, execution = request.path_params["group"], request.path_params["execution"]
        row = self.executions.get((group, str(execution).lower()))
        if row is None:
            raise not_found("Process instance not found")
        base = self._base(request)
        detail = {
            **self._execution(row),
            "steps": None,
            "stepDataUri": f"{base}/instances/{group}/{row['executionId']}/steps",
        }
        return JSON({"data": detail})

    async def list_environments(self, request: Request) -> Response:
        self._guard(request)
        self._no_params(request)
        return JSON({"data": self.data.environments})

    # -- checks ----------------------------------------------------------------------

    def _guard(self, request: Request) -> None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != self.token:
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            raise ApiError(401, problem(401, "Unauthorized"), headers)

    def _no_params(self, request: Request) -> None:
        if self.core.strict:
            Query(request, (), True).check()

    # -- processes -------------------------------------------------------------------

    def _matching_definitions(self, guid: str | None, name: str | None) -> list[Definition]:
        rows = self.listed_by_guid.get(guid, []) if guid else self.newest_first
        if name is not None:
            needle = name.casefold()
            if self.name_match == "exact":
                rows = [d for d in rows if d.name.casefold() == needle]
            else:
                rows = [d for d in rows if needle in d.name.casefold()]
        return rows

    def _row_bytes(self, d: Definition, base: str) -> bytes:
        """The row's JSON with its links; the object part is cached (it never changes)."""
        body = self._object_bytes(d)
        return body[:-1] + b',"links":' + encoded(_links(d, base)) + b"}"

    def _object_bytes(self, d: Definition) -> bytes:
        return self._objects.get(d.id, lambda: encoded(definition_wire(d)))

    def _single(self, request: Request, d: Definition) -> Response:
        # The single form has its links beside data, not inside it.
        wire = self._object_bytes(d)
        links = encoded(_links(d, self._base(request)))
        return JSON(b'{"data":' + wire + b',"links":' + links + b"}")

    def _paging(self, request: Request, page: int, size: int, total: int) -> Json:
        last = max(1, math.ceil(total / size))

        def link(number: int) -> str:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "PageNumber"]
            params.append(("PageNumber", str(number)))
            return f"{self._base(request)}/processes?{urlencode(params)}"

        return {
            "currentPage": page,
            "pageSize": size,
            "totalCount": total,
            "firstPage": link(1),
            "lastPage": link(last),
            "nextPage": link(page + 1) if page < last else None,
            "previousPage": link(page - 1) if 1 < page <= last + 1 else None,
        }

    @staticmethod
    def _base(request: Request) -> str:
        path = request.url.path
        prefix = "/api/v1.0" if path.startswith("/api/v1.0/") else "/api/v1"
        return f"{request.url.scheme}://{request.url.netloc}{prefix}"

    # -- instances -------------------------------------------------------------------

    def _instance_matches(
        self,
        row: Json,
        guids: set[str],
        start: datetime | None,
        end: datetime | None,
        state: str,
        child: bool | None,
    ) -> bool:
        if guids and row["processGuid"] not in guids:
            return False
        began = parse_time(row["startTimeUtc"])
        if start is not None and not (began >= start if self.inclusive else began > start):
            return False
        if end is not None:
            if self.end_time_filter == "end":
                if row["endTimeUtc"] is None:
                    return False
                moment = parse_time(row["endTimeUtc"])
            else:
                moment = began
            if not (moment <= end if self.inclusive else moment < end):
                return False
        if child is not None and (row["parentId"] is not None) != child:
            return False
        return _state_matches(row, state)

    def _execution(self, row: Json) -> Json:
        """An execution as served: with `execution_guids=False` its processGuid is null,
        so only processId (a version id) says what ran."""
        return row if self.execution_guids else {**row, "processGuid": None}

    @staticmethod
    def _fingerprint(request: Request, strict: bool) -> str:
        """Every filter but the token (and, in strict mode, the page size too)."""
        skip = {"continuationtoken"} | (set() if strict else {"pagesize"})
        items = sorted(
            (k.lower(), v) for k, v in request.query_params.multi_items() if k.lower() not in skip
        )
        items.append(("group", str(request.path_params["group"])))
        return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]

    @staticmethod
    def _encode_token(offset: int, fingerprint: str) -> str:
        raw = json.dumps({"o": offset, "f": fingerprint, "t": "frends"}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_token(token: str, fingerprint: str, strict: bool) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            offset = int(data["o"])
            made_for = str(data["f"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ApiError(
                400, problem(400, "Bad Request", "The continuation token is not valid.")
            ) from None
        if strict and made_for != fingerprint:
            detail = "The continuation token was issued for other filters."
            raise ApiError(400, problem(400, "Bad Request", detail))
        return max(0, offset)


def _state_matches(row: Json, state: str) -> bool:
    value = row["state"]
    if state == "ShowAll":
        return True
    if state == "ShowRunning":
        return bool(value == "Running")
    if state == "ShowFinished":
        return value in ("Ok", "Failed")
    if state == "ShowSuccessful":
        return bool(value == "Ok")
    if state == "ShowFailed":
        return bool(value == "Failed")
    return value == "Failed" and row["acknowledgedUtc"] is None


def _links(d: Definition, base: str) -> Json:
    return {
        "deployments": {
            "uri": f"{base}/process-deployments?processGuid={d.guid}",
            "method": "GET",
        },
        "delete": {"uri": f"{base}/processes/{d.guid}", "method": "DELETE"},
    }
