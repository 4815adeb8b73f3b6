"""A Kommo API v4 simulator that behaves like the documented API, quirks included
(facts: shared/reference/kommo.md; filter semantics: `sim_filters`).

`create_app(data)` returns a `KommoCore` (a `SimulatorCore`: serve it); `core.requests`,
`core.faults`, `core.strict`, `core.api_blocked` control and observe it, and
`core.app.state.data` is the `KommoData` it serves.

Every request, in this order:
- API block: once blocked (`core.api_blocked`, or automatically after
  `block_after_429s` rate-limit rejections), every request gets an nginx HTML 403 page
  until someone lifts it - what Kommo does after repeated 429s;
- `Authorization: Bearer <token>`, else 401 problem+json;
- 7 requests per second (the core's sliding window over every caller, as Kommo counts
  per IP): 429 problem+json with `retry_after` in the BODY, as documented; a `Retry-After`
  header is undocumented and sent only with `retry_after_header=True`.

Lists (`GET /api/v4/{leads|contacts|companies|customers}`):
- `page` (1-based, default 1), `limit` (default 50, at most 250). Above 250 is
  undocumented; by default (`limit_over_max="fallback"`) the page silently holds 50, the
  one user report's reading (reference section 2, G-210) and the stricter one: a client
  that asks for more and takes a short page as the end loses rows without a word.
  `limit_over_max="refuse"` answers 400 instead;
- filters, `query` and `order` as `sim_filters` describes; `with` checked per entity.
  Several values of one filter come in three forms (`brackets`); a bare key repeated
  keeps only its LAST value by default (`repeated_keys="last"`): the reference (section
  3) says a PHP stack reads it so, although Kommo's filtration page shows the repeated
  form, and the stricter reading wins; `"all"` honours every value;
- HAL envelope `{"_page", "_links", "_embedded": {entity: [...]}}` with NO total. `_links`
  hold absolute hrefs that echo the request's query (brackets percent-encoded); page 1 has
  only `self` and `next`, later pages also `first` and `prev`; `next` is ALWAYS present,
  even on the last page (Kommo cannot count cheaply, so a short page is the end);
- an empty page (nothing matches, or past the end): **204 with an empty body**.
Rows: `custom_fields_values` is null when empty; `_embedded.tags` is always there, and so
is `_embedded.companies` on leads and contacts; `_links.self` is absolute.

Single objects (`GET /api/v4/{entity}/{id}`): the bare object; a missing id is **204
with an empty body**, not 404. `with` adds contacts/leads/companies/loss_reason relations.
Also: `GET /api/v4/leads/pipelines` (`_total_items`, every pipeline with its statuses,
142/143 in each), `/leads/pipelines/{id}` and `/{id}/statuses`, `GET /api/v4/users`,
`GET /api/v4/{entity}/custom_fields` (paged: `_total_items`, `_page_count`; limit at most
50), `GET /api/v4/leads/loss_reasons`. Customers answer 402 when `customers_enabled` is
False (the account's plan lacks them). Unknown paths: 404 problem+json naming the path.

Strict mode (default) answers 400 "Request validation failed" with `validation-errors`
for an unknown parameter, filter, `with` value or order field; lenient mode ignores them,
as the live API is reported to do (reference: unknown parameters are ignored).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tools.backends.kommo.brackets import BracketError, Repeated, Tree, integer, parse, scalar
from tools.backends.kommo.data import ENTITIES, Json, KommoData
from tools.backends.kommo.sim_filters import (
    WITH,
    Options,
    Problems,
    list_filters,
    ordering,
    sort_rows,
)
from tools.sim import RateLimit, RecordedRequest, SimulatorCore
from tools.sim.faults import FaultResponse, nginx_page

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
MAX_FIELDS_LIMIT = 50
PROBLEM = "application/problem+json"
HAL = "application/hal+json"
LIST_PARAMS = {
    "leads": frozenset({"page", "limit", "with", "filter", "order", "query"}),
    "contacts": frozenset({"page", "limit", "with", "filter", "order", "query"}),
    "companies": frozenset({"page", "limit", "with", "filter", "order", "query"}),
    "customers": frozenset({"page", "limit", "with", "filter", "order"}),
}
# What a list does with a `limit` above its maximum (undocumented): a page of the default
# size, silently, or a 400.
LimitOverMax = Literal["fallback", "refuse"]
USER_WITH = frozenset({"role", "group", "uuid", "amojo_id", "user_rank", "phone_number"})
# Parameters that never change which rows match or their order.
_NO_EFFECT = frozenset({"page", "limit", "with"})


def problem(status: int, title: str, detail: str, **extra: Any) -> Json:
    return {
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
        **extra,
    }


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """The kit's callback: Kommo-style problem+json for injected faults."""
    return json.dumps(problem(status, message, message)).encode(), PROBLEM


class ApiError(Exception):
    def __init__(self, status: int, body: Json | None = None, html: bytes | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.html = html


class KommoCore(SimulatorCore):
    """The kit's core with Kommo's 429 (retry_after in the body) and its API block."""

    retry_after_header: bool = False
    block_after_429s: int | None = None
    api_blocked: bool = False
    rejected_429s: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The block sits in front of everything, the rate limiter included.
        if scope["type"] == "http" and self.api_blocked:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in scope.get("headers", [])
            }
            self.requests.append(RecordedRequest(scope["method"], scope["path"], query, headers))
            page = nginx_page(403)
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/html"),
                        (b"content-length", str(len(page)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": page})
            return
        await super().__call__(scope, receive, send)

    def _too_many(self, wait: float) -> FaultResponse:
        self.rejected_429s += 1
        if self.block_after_429s is not None and self.rejected_429s >= self.block_after_429s:
            self.api_blocked = True
        seconds = max(1, math.ceil(wait))
        body = problem(
            429,
            "Too Many Requests",
            "Too many requests: at most 7 requests per second are allowed",
            retry_after=seconds,
        )
        headers = [("content-type", PROBLEM)]
        if self.retry_after_header:
            headers.append(("retry-after", str(seconds)))
        return FaultResponse(429, headers, json.dumps(body).encode())


def create_app(
    data: KommoData,
    *,
    token: str = "sandbox-kommo-token",
    strict: bool = True,
    rate_limit: RateLimit | None = RateLimit(7, 1.0),  # noqa: B008 - immutable
    clock: Callable[[], float] = time.monotonic,
    latency: float = 0.0,
    range_to_inclusive: bool = True,
    custom_field_filtering: bool = True,
    repeated_keys: Repeated = "last",
    customers_order: bool = True,
    customers_enabled: bool = True,
    retry_after_header: bool = False,
    block_after_429s: int | None = None,
    limit_over_max: LimitOverMax = "fallback",
) -> KommoCore:
    """The Kommo simulator. `data` is read-only from here on (results are cached)."""
    api = _Api(
        data,
        token=token,
        repeated=repeated_keys,
        range_to_inclusive=range_to_inclusive,
        custom_field_filtering=custom_field_filtering,
        customers_order=customers_order,
        customers_enabled=customers_enabled,
        limit_over_max=limit_over_max,
    )
    routes = [Route("/api/v4/leads/pipelines", api.list_pipelines)]
    routes += [
        Route("/api/v4/leads/pipelines/{pipeline_id:int}", api.get_pipeline),
        Route("/api/v4/leads/pipelines/{pipeline_id:int}/statuses", api.list_statuses),
        Route("/api/v4/leads/loss_reasons", api.list_loss_reasons),
        Route("/api/v4/users", api.list_users),
    ]
    for entity in ENTITIES:
        routes += [
            Route(f"/api/v4/{entity}", api.lister(entity)),
            Route(f"/api/v4/{entity}/custom_fields", api.fields_lister(entity)),
            Route(f"/api/v4/{entity}/{{entity_id:int}}", api.getter(entity)),
        ]
    app = Starlette(
        routes=routes, exception_handlers={ApiError: _api_error, HTTPException: _http_error}
    )
    core = KommoCore(
        app,
        error_body=error_body,
        strict=strict,
        latency=latency,
        rate_limit=rate_limit,
        rate_limit_message="Too Many Requests",
        clock=clock,
    )
    core.retry_after_header = retry_after_header
    core.block_after_429s = block_after_429s
    api.core = core
    app.state.data = data
    app.state.sim = core
    return core


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.html is not None:
        return Response(exc.html, exc.status, media_type="text/html")
    return Response(json.dumps(exc.body), exc.status, media_type=PROBLEM)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        body = problem(404, "Not Found", f"Could not fetch the path {request.url.path}")
    else:
        body = problem(exc.status_code, "Error", str(exc.detail))
    return Response(json.dumps(body), exc.status_code, media_type=PROBLEM)


def _hal(body: Json) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), 200, media_type=HAL)


def _no_content() -> Response:
    return Response(b"", 204)


class _Api:
    core: KommoCore

    def __init__(
        self,
        data: KommoData,
        *,
        token: str,
        repeated: Repeated,
        range_to_inclusive: bool,
        custom_field_filtering: bool,
        customers_order: bool,
        customers_enabled: bool,
        limit_over_max: LimitOverMax,
    ) -> None:
        self.data = data
        self.token = token
        self.repeated = repeated
        self.range_to_inclusive = range_to_inclusive
        self.custom_field_filtering = custom_field_filtering
        self.customers_order = customers_order
        self.customers_enabled = customers_enabled
        self.limit_over_max = limit_over_max
        self.by_id = {e: {r["id"]: r for r in data.rows(e)} for e in ENTITIES}
        self.fields = {e: {f["id"]: f for f in data.custom_fields[e]} for e in ENTITIES}
        self._results: dict[tuple[Any, ...], list[Json]] = {}

    def options(self) -> Options:
        return Options(
            strict=self.core.strict,
            range_to_inclusive=self.range_to_inclusive,
            custom_field_filtering=self.custom_field_filtering,
            customers_order=self.customers_order,
        )

    # -- entity lists and objects ------------------------------------------------------

    def lister(self, entity: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            return self.list_entity(request, entity)

        return handler

    def getter(self, entity: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            return self.get_entity(request, entity)

        return handler

    def fields_lister(self, entity: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            return self.list_fields(request, entity)

        return handler

    def list_entity(self, request: Request, entity: str) -> Response:
        self._guard(request, entity)
        problems = Problems()
        tree = self._tree(request, LIST_PARAMS[entity], problems)
        opts = self.options()
        keep = list_filters(entity, tree, self.fields[entity], opts, problems)
        column, descending = ordering(entity, tree, opts, problems)
        relations = self._with(tree, WITH[entity], problems)
        page, limit = self._paging(tree, MAX_LIMIT, problems)
        self._check(problems)
        if "only_deleted" in relations:
            return _no_content()  # the sandbox trash is empty
        rows = self._matching(request, entity, keep, column, descending)
        chunk = rows[(page - 1) * limit : page * limit]
        if not chunk:
            return _no_content()
        return _hal(
            {
                "_page": page,
                "_links": _page_links(request, page),
                "_embedded": {entity: [self._render(request, entity, r, relations) for r in chunk]},
            }
        )

    def get_entity(self, request: Request, entity: str) -> Response:
        self._guard(request, entity)
        problems = Problems()
        tree = self._tree(request, frozenset({"with"}), problems)
        relations = self._with(tree, WITH[entity], problems)
        self._check(problems)
        row = self.by_id[entity].get(request.path_params["entity_id"])
        if row is None:
            return _no_content()  # Kommo's answer for a missing id: 204, no body
        return _hal(self._render(request, entity, row, relations))

    def _matching(
        self,
        request: Request,
        entity: str,
        keep: list[Callable[[Json], bool]],
        column: str,
        descending: bool,
    ) -> list[Json]:
        """Filtered, sorted rows, cached per distinct question: paging through 10k rows
        costs one scan, so benchmarks measure the client, not the simulator."""
        key = (
            entity,
            column,
            descending,
            tuple(sorted((k, v) for k, v in request.query_params.multi_items() if _counts(k))),
        )
        rows = self._results.get(key)
        if rows is None:
            rows = sort_rows(
                [r for r in self.data.rows(entity) if all(f(r) for f in keep)], column, descending
            )
            if len(self._results) >= 256:
                self._results.pop(next(iter(self._results)))
            self._results[key] = rows
        return rows

    def _render(self, request: Request, entity: str, row: Json, relations: set[str]) -> Json:
        base = _origin(request)
        out = dict(row)
        embedded: dict[str, Any] = {k: list(v) for k, v in row["_embedded"].items()}
        if "companies" in embedded:
            embedded["companies"] = [
                {"id": c["id"], "_links": _self(base, f"companies/{c['id']}")}
                for c in embedded["companies"]
            ]
        data = self.data
        if entity == "leads":
            if "contacts" in relations:
                ids = data.lead_contacts.get(row["id"], [])
                embedded["contacts"] = [
                    {"id": c, "is_main": i == 0, "_links": _self(base, f"contacts/{c}")}
                    for i, c in enumerate(ids)
                ]
            if "loss_reason" in relations:
                embedded["loss_reason"] = [
                    dict(r) for r in data.loss_reasons if r["id"] == row["loss_reason_id"]
                ]
            if "source_id" in relations:
                out["source_id"] = None
            if "is_price_modified_by_robot" in relations:
                out["is_price_modified_by_robot"] = False
            if "source" in relations:
                embedded["source"] = None
        if entity == "contacts" and "leads" in relations:
            embedded["leads"] = [
                {"id": lead, "_links": _self(base, f"leads/{lead}")}
                for lead in data.contact_leads.get(row["id"], [])
            ]
        if entity == "companies" and "contacts" in relations:
            embedded["contacts"] = [
                {"id": c["id"], "_links": _self(base, f"contacts/{c['id']}")}
                for c in data.contacts
                if any(x["id"] == row["id"] for x in c["_embedded"]["companies"])
            ]
        for name in relations & {"customers", "catalog_elements"}:
            embedded[name] = []
        if entity == "customers" and "contacts" in relations:
            embedded["contacts"] = []
        if entity == "customers" and "companies" in relations:
            embedded["companies"] = []
        out["_links"] = _self(base, f"{entity}/{row['id']}")
        out["_embedded"] = embedded
        return out

    # -- pipelines, users, fields --------------------------------------------------------

    async def list_pipelines(self, request: Request) -> Response:
        self._guard(request)
        problems = Problems()
        self._tree(request, frozenset(), problems)
        self._check(problems)
        base = _origin(request)
        pipelines = [self._pipeline(base, p) for p in self.data.pipelines]
        return _hal(
            {
                "_total_items": len(pipelines),
                "_links": {"self": {"href": str(request.url)}},
                "_embedded": {"pipelines": pipelines},
            }
        )

    async def get_pipeline(self, request: Request) -> Response:
        self._guard(request)
        return _hal(self._pipeline(_origin(request), self._pipeline_or_404(request)))

    async def list_statuses(self, request: Request) -> Response:
        self._guard(request)
        pipeline = self._pipeline_or_404(request)
        statuses = self._pipeline(_origin(request), pipeline)["_embedded"]["statuses"]
        return _hal(
            {
                "_total_items": len(statuses),
                "_links": {"self": {"href": str(request.url)}},
                "_embedded": {"statuses": statuses},
            }
        )

    async def list_loss_reasons(self, request: Request) -> Response:
        self._guard(request)
        problems = Problems()
        tree = self._tree(request, frozenset({"page", "limit"}), problems)
        page, limit = self._paging(tree, MAX_LIMIT, problems)
        self._check(problems)
        return self._directory(request, "loss_reasons", self.data.loss_reasons, page, limit)

    async def list_users(self, request: Request) -> Response:
        self._guard(request)
        problems = Problems()
        tree = self._tree(request, frozenset({"page", "limit", "with"}), problems)
        self._with(tree, USER_WITH, problems)
        page, limit = self._paging(tree, MAX_LIMIT, problems)
        self._check(problems)
        return self._directory(request, "users", self.data.users, page, limit)

    def list_fields(self, request: Request, entity: str) -> Response:
        self._guard(request, entity)
        problems = Problems()
        tree = self._tree(request, frozenset({"page", "limit", "filter"}), problems)
        page, limit = self._paging(tree, MAX_FIELDS_LIMIT, problems)
        self._check(problems)
        return self._directory(
            request, "custom_fields", self.data.custom_fields[entity], page, limit
        )

    def _directory(
        self, request: Request, key: str, rows: list[Json], page: int, limit: int
    ) -> Response:
        chunk = rows[(page - 1) * limit : page * limit]
        if not chunk:
            return _no_content()
        links = _page_links(request, page)
        if page * limit >= len(rows):
            links.pop("next", None)  # directories know their size
        return _hal(
            {
                "_total_items": len(rows),
                "_page": page,
                "_page_count": max(1, math.ceil(len(rows) / limit)),
                "_links": links,
                "_embedded": {key: [dict(r) for r in chunk]},
            }
        )

    def _pipeline(self, base: str, pipeline: Json) -> Json:
        out = dict(pipeline)
        pid = pipeline["id"]
        out["_links"] = _self(base, f"leads/pipelines/{pid}")
        out["_embedded"] = {
            "statuses": [
                {**s, "_links": _self(base, f"leads/pipelines/{pid}/statuses/{s['id']}")}
                for s in pipeline["_embedded"]["statuses"]
            ]
        }
        return out

    def _pipeline_or_404(self, request: Request) -> Json:
        wanted = request.path_params["pipeline_id"]
        for pipeline in self.data.pipelines:
            if pipeline["id"] == wanted:
                return pipeline
        raise ApiError(404, problem(404, "Not Found", "Pipeline not found"))

    # -- request checks ------------------------------------------------------------------

    def _guard(self, request: Request, entity: str | None = None) -> None:
        if self.core.api_blocked:
            raise ApiError(403, html=nginx_page(403))
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() != self.token:
            raise ApiError(
                401, problem(401, "Unauthorized", "Authorization failed: invalid access token")
            )
        if entity == "customers" and not self.customers_enabled:
            raise ApiError(
                402,
                problem(402, "Payment Required", "Customers are not available on this plan"),
            )

    def _tree(self, request: Request, allowed: frozenset[str], problems: Problems) -> Tree:
        try:
            tree = parse(request.query_params.multi_items(), repeated=self.repeated)
        except BracketError as exc:
            problems.bracket(exc)
            self._check(problems)
            return {}
        if self.core.strict:
            for key in tree:
                if key not in allowed:
                    problems.add(key, "This field is not supported.", "NotSupportedChoice")
        return tree

    def _with(self, tree: Tree, allowed: frozenset[str], problems: Problems) -> set[str]:
        if "with" not in tree:
            return set()
        try:
            text = scalar(tree["with"], "with")
        except BracketError as exc:
            problems.bracket(exc)
            return set()
        wanted: set[str] = set()
        for item in (w.strip() for w in text.split(",")):
            if item in allowed:
                wanted.add(item)
            elif item and self.core.strict:
                problems.add("with", f"{item!r} is not a valid choice.", "NotSupportedChoice")
        return wanted

    def _paging(self, tree: Tree, max_limit: int, problems: Problems) -> tuple[int, int]:
        page, limit = 1, DEFAULT_LIMIT
        try:
            if "page" in tree:
                page = integer(scalar(tree["page"], "page"), "page")
            if "limit" in tree:
                limit = integer(scalar(tree["limit"], "limit"), "limit")
        except BracketError as exc:
            problems.bracket(exc)
            return 1, DEFAULT_LIMIT
        if page < 1:
            problems.add("page", "page must be at least 1")
        if limit < 1:
            problems.add("limit", "limit must be at least 1")
        elif limit > max_limit:
            if self.limit_over_max == "refuse":
                problems.add("limit", f"limit must be at most {max_limit}", "TooBig")
            limit = min(DEFAULT_LIMIT, max_limit)
        return max(page, 1), max(limit, 1)

    def _check(self, problems: Problems) -> None:
        if problems.errors:
            body = problem(
                400,
                "Bad Request",
                "Request validation failed",
                **{"validation-errors": [{"request_id": "0", "errors": problems.errors}]},
            )
            raise ApiError(400, body)


def _counts(key: str) -> bool:
    return key.split("[", 1)[0] not in _NO_EFFECT


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _self(base: str, path: str) -> dict[str, dict[str, str]]:
    return {"self": {"href": f"{base}/api/v4/{path}"}}


def _page_links(request: Request, page: int) -> dict[str, dict[str, str]]:
    """Absolute links that repeat the request's query with another page (brackets are
    percent-encoded, as Kommo's are). `next` is always there: Kommo does not count."""
    links = {"self": {"href": _with_page(request, page)}}
    links["next"] = {"href": _with_page(request, page + 1)}
    if page > 1:
        links["first"] = {"href": _with_page(request, 1)}
        links["prev"] = {"href": _with_page(request, page - 1)}
    return links


def _with_page(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return str(request.url.replace(query=urlencode(pairs)))
