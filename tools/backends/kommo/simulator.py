"""A Kommo API v4 simulator that behaves like the documented API, quirks included
(facts: shared/reference/kommo.md; filter semantics: `sim_filters`; what every request
goes through: `sim_requests`; problem+json, HAL links, the 429 and the API block:
`sim_http`).

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
as the live API is reported to do (reference: unknown parameters are ignored). For
customers `order` itself is unknown unless `customers_order=True` (none is documented,
reference section 2), and a customer list comes in an order of the simulator's choosing
(next purchase date ascending), which no client may assume.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tools.backends.kommo.brackets import Repeated
from tools.backends.kommo.data import ENTITIES, Json, KommoData
from tools.backends.kommo.sim_filters import (
    WITH,
    Options,
    Problems,
    list_filters,
    ordering,
    sort_rows,
)
from tools.backends.kommo.sim_http import (
    ApiError,
    KommoCore,
    api_error,
    error_body,
    hal,
    http_error,
    no_content,
    origin,
    page_links,
    problem,
    self_link,
)
from tools.backends.kommo.sim_requests import LimitOverMax, RequestChecks
from tools.sim import RateLimit

__all__ = ["KommoCore", "create_app"]

MAX_LIMIT = 250
MAX_FIELDS_LIMIT = 50
LIST_PARAMS = {
    "leads": frozenset({"page", "limit", "with", "filter", "order", "query"}),
    "contacts": frozenset({"page", "limit", "with", "filter", "order", "query"}),
    "companies": frozenset({"page", "limit", "with", "filter", "order", "query"}),
    # No `order`: none is documented for customers (`customers_order=True` adds it).
    "customers": frozenset({"page", "limit", "with", "filter"}),
}
USER_WITH = frozenset({"role", "group", "uuid", "amojo_id", "user_rank", "phone_number"})
# Parameters that never change which rows match or their order.
_NO_EFFECT = frozenset({"page", "limit", "with"})


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
    customers_order: bool = False,
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
        routes=routes, exception_handlers={ApiError: api_error, HTTPException: http_error}
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


class _Api(RequestChecks):
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
        allowed = LIST_PARAMS[entity]
        if entity == "customers" and self.customers_order:
            allowed |= {"order"}
        tree = self._tree(request, allowed, problems)
        opts = self.options()
        keep = list_filters(entity, tree, self.fields[entity], opts, problems)
        column, descending = ordering(entity, tree, opts, problems)
        relations = self._with(tree, WITH[entity], problems)
        page, limit = self._paging(tree, MAX_LIMIT, problems)
        self._check(problems)
        if "only_deleted" in relations:
            return no_content()  # the sandbox trash is empty
        rows = self._matching(request, entity, keep, column, descending)
        chunk = rows[(page - 1) * limit : page * limit]
        if not chunk:
            return no_content()
        return hal(
            {
                "_page": page,
                "_links": page_links(request, page),
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
            return no_content()  # Kommo's answer for a missing id: 204, no body
        return hal(self._render(request, entity, row, relations))

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
        base = origin(request)
        out = dict(row)
        embedded: dict[str, Any] = {k: list(v) for k, v in row["_embedded"].items()}
        if "companies" in embedded:
            embedded["companies"] = [
                {"id": c["id"], "_links": self_link(base, f"companies/{c['id']}")}
                for c in embedded["companies"]
            ]
        data = self.data
        if entity == "leads":
            if "contacts" in relations:
                ids = data.lead_contacts.get(row["id"], [])
                embedded["contacts"] = [
                    {"id": c, "is_main": i == 0, "_links": self_link(base, f"contacts/{c}")}
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
                {"id": lead, "_links": self_link(base, f"leads/{lead}")}
                for lead in data.contact_leads.get(row["id"], [])
            ]
        if entity == "companies" and "contacts" in relations:
            embedded["contacts"] = [
                {"id": c["id"], "_links": self_link(base, f"contacts/{c['id']}")}
                for c in data.contacts
                if any(x["id"] == row["id"] for x in c["_embedded"]["companies"])
            ]
        for name in relations & {"customers", "catalog_elements"}:
            embedded[name] = []
        if entity == "customers" and "contacts" in relations:
            embedded["contacts"] = []
        if entity == "customers" and "companies" in relations:
            embedded["companies"] = []
        out["_links"] = self_link(base, f"{entity}/{row['id']}")
        out["_embedded"] = embedded
        return out

    # -- pipelines, users, fields --------------------------------------------------------

    async def list_pipelines(self, request: Request) -> Response:
        self._guard(request)
        problems = Problems()
        self._tree(request, frozenset(), problems)
        self._check(problems)
        base = origin(request)
        pipelines = [self._pipeline(base, p) for p in self.data.pipelines]
        return hal(
            {
                "_total_items": len(pipelines),
                "_links": {"self": {"href": str(request.url)}},
                "_embedded": {"pipelines": pipelines},
            }
        )

    async def get_pipeline(self, request: Request) -> Response:
        self._guard(request)
        return hal(self._pipeline(origin(request), self._pipeline_or_404(request)))

    async def list_statuses(self, request: Request) -> Response:
        self._guard(request)
        pipeline = self._pipeline_or_404(request)
        statuses = self._pipeline(origin(request), pipeline)["_embedded"]["statuses"]
        return hal(
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
            return no_content()
        links = page_links(request, page)
        if page * limit >= len(rows):
            links.pop("next", None)  # directories know their size
        return hal(
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
        out["_links"] = self_link(base, f"leads/pipelines/{pid}")
        out["_embedded"] = {
            "statuses": [
                {**s, "_links": self_link(base, f"leads/pipelines/{pid}/statuses/{s['id']}")}
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


def _counts(key: str) -> bool:
    return key.split("[", 1)[0] not in _NO_EFFECT
