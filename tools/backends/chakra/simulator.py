"""A Chakra external-API simulator that behaves like the documented API (reference part A).

`create_app(data)` returns the `SimulatorCore` (tools.sim) to serve; `core.requests`,
`core.faults`, `core.latency` and `core.strict` control and observe it, and
`core.app.state.data` is the `ChakraData` it serves.

Endpoints (every answer is the `{"_data", "_meta", "_errors"}` envelope, errors included):
- `GET  /v1/health`                                       the n8n node's credential test
- `GET  /v1/ext/config`                                   procedures, attributes, states, ...
- `GET  /v1/ext/users`                                    every user (`createdAt` epoch ms)
- `POST /v1/ext/procedure/{sid}/process/list`             see below
- `GET  /v1/ext/procedure/{sid}/process/{processId}`      one process by uuid

Every request needs `Authorization: Bearer <token>`, else 401. An unknown procedure short
id, or a process that is not in that procedure, is 404. Errors read
`{"_data": null, "_meta": {}, "_errors": ["..."]}` (status codes are undocumented; these
are the reference's choices). No rate limit is documented: none by default, 429s are
injected through the kit (`rate_limit=` adds a sliding window).

List body `{"where": Query, "skip": 0, "limit": 10}`, evaluated like this:
- `Query = {[key]: RHS, "or"?: Query[], "and"?: Query[]}`: every key of one object holds
  (AND); `or` holds when any member does, `and` when every member does. An empty or
  non-list group is 400.
- Keys: `status` (OPEN / COMPLETED / CANCELLED), `state` (a state short id), `createdAt`
  (an ISO 8601 timestamp with any offset), `assignedTo` (a username), or an attribute short
  id of the procedure. Any other key is 400 naming the valid ones.
- RHS: a scalar is `=`; an array is IN (undocumented: the reference's reading); an operator
  map `{"=","!=",">",">=","<","<="}` holds when all its operators hold (the doc's createdAt
  example); `!=` with an array is NOT IN; an unknown operator is 400. A missing attribute
  equals nothing and differs from everything (`!=` holds), as in document stores.
- Values compare as JSON values: numbers with numbers, strings with strings; a comparison
  across types is false.
- Order (undocumented): createdAt descending, then id descending, so paging is stable.
- `_meta.hasMore` is true while rows remain after this page; no total is ever returned.

Strict mode (default) takes the stricter reading wherever the docs are silent; lenient mode
is the forgiving one:
- `limit` above 100: strict 400, lenient clamped to 100;
- unknown body keys: strict 400, lenient ignored;
- a bare boolean (or a mixed array) as RHS, which the Query type does not allow (`string |
  number | string[] | number[]`; only operator maps take `any`): strict 400, lenient `=`;
- `status` outside the three values, a `state` that is not a short id of the procedure, an
  `assignedTo` that is not a username, a `createdAt` that is not an ISO string: strict
  400; lenient accepts a state uuid, a user uuid and epoch ms, and other unknown values
  simply match nothing.
`state_format` ("uuid", default, or "shortId") chooses how objects carry their state: the
docs show a uuid in the data model and say nothing for the external API (A.5).
The config lists procedures, attributes and states (A20: "maps uuids to schema"); what the
reference does not state is left out by default and added by a flag: `key_marking`
("none", "attribute", "procedure": how the primary key is marked) and `state_statuses`
(each state names the process status it stands for). See data.py.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tools.backends.chakra.data import STATUSES, ChakraData, Json, KeyMarking
from tools.sim import RateLimit, SimulatorCore

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
GROUPS = ("and", "or")
ROOT_KEYS = ("status", "state", "createdAt", "assignedTo")
LIST_KEYS = frozenset({"where", "skip", "limit"})

StateFormat = Literal["uuid", "shortId"]
Predicate = Callable[[Json], bool]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def envelope(data: Any, meta: Json | None = None, errors: list[str] | None = None) -> Json:
    return {"_data": data, "_meta": meta or {}, "_errors": errors or []}


def error_json(message: str) -> Json:
    return {"_data": None, "_meta": {}, "_errors": [message]}


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """The kit's callback: injected faults and 429s use the vendor's envelope too."""
    return json.dumps(error_json(message)).encode(), "application/json"


def create_app(
    data: ChakraData,
    *,
    token: str = "sandbox-chakra-token",
    strict: bool = True,
    state_format: StateFormat = "uuid",
    key_marking: KeyMarking = "none",
    state_statuses: bool = False,
    rate_limit: RateLimit | None = None,
    clock: Callable[[], float] = time.monotonic,
    latency: float = 0.0,
) -> SimulatorCore:
    """The Chakra simulator. `data` is read-only from here on (results are cached)."""
    api = _Api(data, token=token, state_format=state_format)
    api.config_body = data.config(key_marking=key_marking, state_statuses=state_statuses)
    base = "/v1/ext/procedure/{sid}/process"
    app = Starlette(
        routes=[
            Route("/v1/health", api.health),
            Route("/v1/ext/config", api.config),
            Route("/v1/ext/users", api.users),
            Route(f"{base}/list", api.list_processes, methods=["POST"]),
            Route(f"{base}/{{pid}}", api.get_process),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    core = SimulatorCore(
        app,
        error_body=error_body,
        strict=strict,
        latency=latency,
        rate_limit=rate_limit,
        rate_limit_message="Too many requests",
        clock=clock,
    )
    api.core = core
    app.state.data = data
    app.state.sim = core
    return core


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_json(exc.message), exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not found" if exc.status_code == 404 else str(exc.detail or "Error")
    return JSONResponse(error_json(message), exc.status_code, exc.headers)


def parse_iso_ms(value: str) -> int | None:
    """An ISO 8601 timestamp (any offset; none means UTC) as epoch ms, or None."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp() * 1000)


class _Api:
    core: SimulatorCore
    config_body: Json

    def __init__(self, data: ChakraData, *, token: str, state_format: StateFormat) -> None:
        self.data = data
        self.token = token
        self.state_format = state_format
        self.procedures = {p["shortId"]: p for p in data.procedures}
        self.states = {s["id"]: s for s in data.states}
        self.users_by_id = {u["id"]: u for u in data.users}
        self.users_by_name = {u["username"]: u for u in data.users}
        self.by_id = {sid: {p["id"]: p for p in rows} for sid, rows in data.processes.items()}
        # createdAt desc, id desc: the (undocumented) order, computed once per procedure.
        self.ordered = {
            sid: sorted(rows, key=lambda p: (p["createdAt"], p["id"]), reverse=True)
            for sid, rows in data.processes.items()
        }
        self._results: dict[tuple[str, bool, str], list[Json]] = {}

    # -- endpoints ---------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        self._auth(request)
        return JSONResponse(envelope({"status": "ok"}))

    async def config(self, request: Request) -> Response:
        self._auth(request)
        return JSONResponse(envelope(self.config_body))

    async def users(self, request: Request) -> Response:
        self._auth(request)
        return JSONResponse(envelope(self.data.users))

    async def get_process(self, request: Request) -> Response:
        self._auth(request)
        sid = self._procedure(request)["shortId"]
        process = self.by_id[sid].get(request.path_params["pid"])
        if process is None:
            raise ApiError(404, f"process {request.path_params['pid']} not found in {sid}")
        return JSONResponse(envelope(self._render(process)))

    async def list_processes(self, request: Request) -> Response:
        self._auth(request)
        procedure = self._procedure(request)
        body = await self._body(request)
        strict = self.core.strict
        if strict:
            unknown = sorted(set(body) - LIST_KEYS)
            if unknown:
                raise ApiError(400, f"unknown keys in request body: {', '.join(unknown)}")
        skip = _integer(body, "skip", 0, minimum=0)
        limit = _integer(body, "limit", DEFAULT_LIMIT, minimum=1)
        if limit > MAX_LIMIT:
            if strict:
                raise ApiError(400, f"limit must not be greater than {MAX_LIMIT}")
            limit = MAX_LIMIT
        where = body.get("where")
        if where is None:
            where = {}
        rows = self._matching(procedure, where)
        page = rows[skip : skip + limit]
        meta = {"hasMore": skip + len(page) < len(rows)}
        return JSONResponse(envelope([self._render(p) for p in page], meta))

    # -- helpers -----------------------------------------------------------------------

    def _auth(self, request: Request) -> None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != self.token:
            raise ApiError(401, "Unauthorized: invalid or missing access token")

    def _procedure(self, request: Request) -> Json:
        sid = request.path_params["sid"]
        procedure = self.procedures.get(sid)
        if procedure is None:
            raise ApiError(404, f"procedure {sid} not found")
        return procedure

    async def _body(self, request: Request) -> Json:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        return body

    def _matching(self, procedure: Json, where: Any) -> list[Json]:
        """Matching processes in list order; each distinct query is evaluated once (the
        data never changes), so paging through 10k rows costs one scan, not one per page."""
        sid = procedure["shortId"]
        key = (sid, self.core.strict, json.dumps(where, sort_keys=True))
        rows = self._results.get(key)
        if rows is None:
            test = _Compiler(self, procedure, self.core.strict).query(where, "where")
            rows = [p for p in self.ordered[sid] if test(p)]
            if len(self._results) >= 256:
                self._results.pop(next(iter(self._results)))
            self._results[key] = rows
        return rows

    def _render(self, process: Json) -> Json:
        out = dict(process)
        if self.state_format == "shortId":
            out["state"] = self.states[process["state"]]["shortId"]
        return out


def _integer(body: Json, key: str, default: int, *, minimum: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ApiError(400, f"{key} must be an integer >= {minimum}")
    return value


class _Compiler:
    """Turns a where Query into a predicate, refusing what the vendor would refuse."""

    def __init__(self, api: _Api, procedure: Json, strict: bool) -> None:
        self.api = api
        self.strict = strict
        self.sid = procedure["shortId"]
        self.attributes = {a["shortId"] for a in api.data.attributes_of(self.sid)}
        own_states = api.data.states_of(self.sid)
        self.state_ids = {s["shortId"]: s["id"] for s in own_states}
        self.state_uuids = {s["id"] for s in own_states}

    def query(self, query: Any, path: str) -> Predicate:
        if not isinstance(query, dict):
            raise ApiError(400, f"{path}: a query must be an object")
        tests: list[Predicate] = []
        for key, rhs in query.items():
            if key in GROUPS:
                tests.append(self._group(key, rhs, f"{path}.{key}"))
            else:
                tests.append(self._condition(key, rhs, f"{path}.{key}"))
        return lambda p: all(t(p) for t in tests)

    def _group(self, key: str, members: Any, path: str) -> Predicate:
        if not isinstance(members, list) or not members:
            raise ApiError(400, f"{path}: must be a non-empty array of queries")
        tests = [self.query(m, f"{path}[{i}]") for i, m in enumerate(members)]
        if key == "and":
            return lambda p: all(t(p) for t in tests)
        return lambda p: any(t(p) for t in tests)

    def _condition(self, key: str, rhs: Any, path: str) -> Predicate:
        getter, coerce = self._field(key, path)
        if isinstance(rhs, dict):
            if not rhs:
                raise ApiError(400, f"{path}: empty operator map")
            checks: list[tuple[str, Any]] = []
            for op, value in rhs.items():
                if op not in OPERATORS:
                    raise ApiError(
                        400, f"{path}: unknown operator {op!r} (use one of {' '.join(OPERATORS)})"
                    )
                if isinstance(value, list) and op not in ("=", "!="):
                    raise ApiError(400, f"{path}: operator {op} takes a single value")
                checks.append((op, self._values(value, coerce, path)))
            return lambda p: all(_compare(op, getter(p), v) for op, v in checks)
        if not _plain_rhs(rhs):
            if self.strict:
                raise ApiError(
                    400, f"{path}: value must be a string, number, array of strings or numbers, "
                    "or an operator map",
                )  # fmt: skip
            if not isinstance(rhs, list | str | int | float | bool):
                raise ApiError(400, f"{path}: unsupported value")
        value = self._values(rhs, coerce, path)
        return lambda p: _compare("=", getter(p), value)

    def _values(self, value: Any, coerce: Callable[[Any, str], Any], path: str) -> Any:
        if isinstance(value, list):
            if not value:
                raise ApiError(400, f"{path}: empty array")
            return [coerce(v, path) for v in value]
        return coerce(value, path)

    def _field(
        self, key: str, path: str
    ) -> tuple[Callable[[Json], Any], Callable[[Any, str], Any]]:
        if key == "status":
            return (lambda p: p["status"]), self._status
        if key == "state":
            return (lambda p: p["state"]), self._state
        if key == "createdAt":
            return (lambda p: p["createdAt"]), self._created
        if key == "assignedTo":
            return (lambda p: p["assignedTo"]), self._user
        if key in self.attributes:
            return (lambda p: p["data"].get(key)), lambda v, _path: v
        valid = ", ".join([*ROOT_KEYS, *sorted(self.attributes)])
        raise ApiError(
            400, f"{path}: unknown key {key!r} for procedure {self.sid} (valid keys: {valid})"
        )

    def _status(self, value: Any, path: str) -> Any:
        if value not in STATUSES and self.strict:
            raise ApiError(400, f"{path}: status must be one of {', '.join(STATUSES)}")
        return value

    def _state(self, value: Any, path: str) -> Any:
        if value in self.state_ids:
            return self.state_ids[value]
        if not self.strict and value in self.state_uuids:
            return value
        if self.strict:
            raise ApiError(
                400, f"{path}: unknown state {value!r} (states of {self.sid}: "
                f"{', '.join(self.state_ids)})",
            )  # fmt: skip
        return f"unknown:{value}"  # a value no process has

    def _user(self, value: Any, path: str) -> Any:
        user = self.api.users_by_name.get(value) if isinstance(value, str) else None
        if user is not None:
            return user["id"]
        if not self.strict and value in self.api.users_by_id:
            return value
        if self.strict:
            raise ApiError(400, f"{path}: assignedTo must be a username; unknown user {value!r}")
        return f"unknown:{value}"

    def _created(self, value: Any, path: str) -> Any:
        if isinstance(value, str):
            stamp = parse_iso_ms(value)
            if stamp is None:
                raise ApiError(400, f"{path}: {value!r} is not an ISO timestamp")
            return stamp
        if not self.strict and isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ApiError(400, f"{path}: createdAt must be an ISO timestamp")


def _plain_rhs(rhs: Any) -> bool:
    """`string | number | string[] | number[]`, as the Query type allows outside operators."""

    def is_number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if isinstance(rhs, str) or is_number(rhs):
        return True
    if isinstance(rhs, list):
        return all(isinstance(v, str) for v in rhs) or all(is_number(v) for v in rhs)
    return False


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        inside = any(_compare("=", actual, e) for e in expected)
        return not inside if op == "!=" else inside
    if actual is None:
        return op == "!=" and expected is not None
    if _kind(actual) != _kind(expected):
        return op == "!="
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
    return False


def _kind(value: Any) -> str:
    """JSON type: comparisons happen only within one (true is not 1, "5" is not 5)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__
