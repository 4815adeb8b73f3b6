"""Kommo (amoCRM) API v4: leads, contacts, companies and customers through bracket filters.

Facts: shared/reference/kommo.md. Translation (details in `translate`):
- status (leads): `filter[statuses][i][pipeline_id|status_id]` pairs across every pipeline,
  from `/api/v4/leads/pipelines` (fetched once per instance); 142 is completed (won), 143
  cancelled (lost), every other stage open. native_status takes stage names, matched in
  every pipeline; customers take their status id (`filter[status_id]`);
- owner: `filter[responsible_user_id]`; a user email, name or id resolved via `/users`;
- template (leads): `filter[pipeline_id]`, a pipeline name or id;
- text: `query`, Kommo's free-text search over the filled fields: the name and the
  text-like custom fields (text, textarea, url, multitext). Rows carry those values, so
  the re-check (narrowed) covers the same fields and keeps every row Kommo found;
  customers have no `query`, so text is local there, over the same fields;
- dates: `filter[created_at|updated_at][from|to]` in Unix seconds (see translate);
- where: `filter[custom_fields_values][ID]` (custom-field names or ids), re-checked;
- tags: no tag filter exists; rows carry their tags, so tags are local;
- sort: `order[created_at|updated_at]=asc|desc` on leads; contacts and companies order
  by updated_at only (the current reference); name sorts are refused. Customers document
  no `order`, so none is sent: they come in Kommo's own order (no sorts in capabilities;
  the shared driver and tools handle that);
- paging: `page` (1-based) and `limit` <= 250, no total; a 204 or a short page ends it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import model_validator

from tools.arguments import shown
from tools.backends.base import (
    Backend,
    Capabilities,
    FieldSupport,
    InstanceSettings,
    PageResult,
    Plan,
    Position,
    RowParts,
)
from tools.backends.kommo import translate as tr
from tools.backends.kommo.directory import Directory, Pipeline
from tools.backends.kommo.info import (
    ENTITIES,
    SORTS,
    build_detail,
    collection_infos,
    sections_for,
)
from tools.backends.kommo.rows import (
    Lookups,
    as_row,
    kommo_error_message,
    kommo_retry_after,
    to_summary,
    vendor_read,
)
from tools.backends.kommo.shapes import FullRow, Page, Row
from tools.errors import (
    BackendNotFoundError,
    BackendResponseError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.ids import INTEGER, IdShape, path_segment
from tools.limits import RateLimit
from tools.model import Detail, ProcessDetail
from tools.query import ProcessQuery
from tools.shared_cache import DISCOVERY_TTL

if TYPE_CHECKING:
    import httpx

    from tools.http import BackendHttp

T = TypeVar("T")
MAX_PAGE = 250
SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company", "customers": "customer"}
# Kommo ids are positive integers (every example in the reference); anything else is
# refused before a request, so an id can never reach another path or add a parameter.
ID_SHAPES = {
    entity: IdShape(f"Kommo {one} id", INTEGER, "a positive whole number, e.g. 21005895")
    for entity, one in SINGULAR.items()
}
# Relations a single get asks for (ids only; shown with detail="full").
GET_WITH = {
    "leads": "contacts,loss_reason",
    "contacts": "leads",
    "companies": "contacts,leads",
    "customers": "contacts,companies",
}


class KommoSettings(InstanceSettings):
    kind: str = "kommo"
    # The account's own host: https://{subdomain}.kommo.com (amoCRM: .amocrm.ru).
    base_url: str = ""
    subdomain: str | None = None

    @model_validator(mode="after")
    def _host(self) -> KommoSettings:
        if not self.base_url:
            if not self.subdomain:
                raise ValueError(
                    "set subdomain (acme for acme.kommo.com) or base_url "
                    "(https://acme.kommo.com, or https://acme.amocrm.ru)"
                )
            self.base_url = f"https://{self.subdomain}.kommo.com"
        return self


class KommoBackend(Backend):
    kind: ClassVar[str] = "kommo"
    settings_model: ClassVar[type[InstanceSettings]] = KommoSettings
    # 7 requests per second (reference section 7). Going over earns 429s, and repeated
    # 429s get the account or IP blocked until Kommo's support lifts it. The published
    # figure, no margin: the limiter paces arrivals, whatever the latency (tools/limiter.py).
    default_rate_limit: ClassVar[RateLimit | None] = RateLimit(7, 1.0)
    error_message: ClassVar[Callable[[httpx.Response], str | None] | None] = staticmethod(
        kommo_error_message
    )
    # Kommo signals the wait of a 429 in the body (`retry_after`), not in a header.
    retry_after: ClassVar[Callable[[httpx.Response], float | None] | None] = staticmethod(
        kommo_retry_after
    )

    settings: KommoSettings

    def __init__(self, settings: InstanceSettings, http: BackendHttp) -> None:
        super().__init__(settings, http)
        # Pipelines, users and fields are shared with other replicas for a while (Redis).
        self.directory = Directory(lambda path, q: self._get(path, q, shared_ttl=DISCOVERY_TTL))

    @classmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        token = settings.token.get_secret_value() if settings.token else ""
        return {"Authorization": f"Bearer {token}", "Accept": "application/hal+json"}

    async def discover(self) -> None:
        """Pipelines and custom fields, so capabilities can list stages and attributes."""
        await self.directory.pipelines()
        for entity in ENTITIES:
            await self.directory.fields(entity)

    def capabilities(self) -> Capabilities:
        d = self.directory
        return Capabilities(
            kind=self.kind,
            collections=collection_infos(d.known_pipelines, d.known_fields, d.fields_problem),
            default_collection="leads",
            max_page_size=MAX_PAGE,
            addressing="page",
            # 7 requests per second: a few pages in flight hide latency; the limiter
            # paces them. A page fetched past the end is a harmless 204.
            parallel_pages=3,
            total_known=False,
        )

    # -- plan -----------------------------------------------------------------------------

    async def plan(self, query: ProcessQuery) -> Plan:
        info = self.collection_info(query.collection)
        entity = info.name
        params: tr.Params = []
        applied: dict[str, FieldSupport] = {}
        warnings: list[str] = []
        for name in query.used_filters():
            if info.support(name).mode == "unsupported":
                self.refuse(info, name, info.support(name).note)
        sorts = SORTS[entity]
        if sorts and query.sort not in sorts:
            raise UnsupportedQueryError(
                f"{self.name} (kommo, {entity}) cannot sort by {query.sort}",
                backend=self.name,
                field="sort",
                hint="use one of: "
                + ", ".join(sorts)
                + ("" if entity == "leads" else f" (Kommo orders {entity} by updated_at only)"),
            )

        pipeline_ids: list[int] | None = None
        if entity == "leads":
            pipelines = await self.directory.pipelines()
            if query.template is not None:
                pipeline_ids = tr.match_pipelines(pipelines, query.template)
                applied["template"] = FieldSupport("native", "filter[pipeline_id]")
            pipeline_ids = self._plan_lead_status(
                query, pipelines, pipeline_ids, params, applied, warnings
            )
            if pipeline_ids is not None:
                params[:0] = tr.indexed("filter[pipeline_id]", [str(p) for p in pipeline_ids])
        elif entity == "customers" and query.native_status is not None:
            ids = [v.strip() for v in query.native_status]
            bad = [v for v in ids if not v.isdigit()]
            if bad:
                raise InvalidArgumentError(
                    f"customer statuses are ids, not {', '.join(map(repr, bad))}",
                    field="native_status",
                    hint="pass customer status ids as listed in native_status of the rows",
                )
            params += tr.indexed("filter[status_id]", ids)
            applied["native_status"] = FieldSupport("native", "filter[status_id]")
        if query.owner is not None:
            user_ids = await self._resolve_owner(query.owner)
            params += tr.indexed("filter[responsible_user_id]", user_ids)
            applied["owner"] = FieldSupport("native", "filter[responsible_user_id]")
        due_column = "next_date" if entity == "customers" else "closest_task_at"
        dates, date_support = tr.plan_dates(query, due_column)
        params += dates
        applied |= date_support
        if query.where is not None:
            fields = await self.directory.fields(entity)
            where = tr.plan_where(query.where, fields, price=entity == "leads")
            params += where.params
            applied["where"] = where.support
        if query.tags is not None:
            applied["tags"] = info.support("tags")
        if query.text is not None:
            # Kommo's `query` searches the name and the text-like custom fields; rows carry
            # those values (search_text), so the re-check keeps whatever Kommo found.
            if entity != "customers":
                params.append(("query", query.text))
            applied["text"] = info.support("text")
        if sorts:  # customers: no `order` is documented, so none is sent
            column = query.sort.lstrip("-")
            params.append((f"order[{column}]", "desc" if query.sort.startswith("-") else "asc"))
        return Plan(
            collection=entity,
            native={"entity": entity, "params": params},
            applied=applied,
            sort=query.sort,
            warnings=warnings,
            parts=RowParts.of(query),
        )

    def _plan_lead_status(
        self,
        query: ProcessQuery,
        pipelines: tuple[Pipeline, ...],
        pipeline_ids: list[int] | None,
        params: tr.Params,
        applied: dict[str, FieldSupport],
        warnings: list[str],
    ) -> list[int] | None:
        try:
            plan = tr.plan_statuses(pipelines, pipeline_ids, query.status, query.native_status)
        except InvalidArgumentError as exc:
            if exc.field == "status" and "never" in exc.message:
                raise UnsupportedQueryError(
                    f"{self.name}: {exc.message}", backend=self.name, field="status", hint=exc.hint
                ) from None
            raise
        params += plan.params
        warnings += plan.warnings
        for name in ("status", "native_status"):
            if getattr(query, name) is not None and plan.support is not None:
                applied[name] = plan.support
        return plan.pipeline_ids

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        """Pipeline names (the leads' templates) and user emails (or names), read afresh
        (tools.suggest calls this once per TTL)."""
        if field_name == "template":
            return [p.name for p in await self.directory.pipelines(fresh=True)]
        if field_name == "owner":
            return [u.label for u in await self.directory.users(fresh=True)]
        return await super().suggest(field_name, collection)

    async def _resolve_owner(self, owner: str) -> list[str]:
        wanted = owner.strip().casefold()
        users = await self.directory.users()
        if wanted.isdigit():
            return [wanted]
        by_email = [u for u in users if (u.email or "").casefold() == wanted]
        by_name = [u for u in users if u.name.casefold() == wanted]
        found = by_email or by_name
        if found:
            return [str(u.id) for u in found]
        if not users:
            problem = self.directory.users_problem or "the account lists no users"
            raise InvalidArgumentError(
                f"{self.name}: cannot resolve owner {shown(owner)} ({problem})",
                field="owner",
                hint="give the responsible user's numeric id (owner_id in the rows)",
            )
        labels = ", ".join(f"{u.label} ({u.name}, {u.id})" for u in users[:12])
        raise InvalidArgumentError(
            f"{self.name}: no Kommo user {shown(owner)}",
            field="owner",
            hint=f"give a user email, name or id: {labels}",
        )

    # -- fetch ----------------------------------------------------------------------------

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        offset = int(at or 0)
        if offset % size:
            raise AssertionError("page addressing needs page-aligned offsets")
        entity = plan.native["entity"]
        params = [*plan.native["params"], ("page", str(offset // size + 1)), ("limit", str(size))]
        parts = plan.parts
        # The custom fields and the extras' fields are decoded only when the query's
        # answer or its local filters read them.
        full = parts.extra or parts.attributes or parts.search_text
        shape: type[Page[Row]] = Page[FullRow] if full else Page[Row]
        body = await self._vendor(
            lambda: self.http.get_typed_or_none(f"api/v4/{entity}", shape, params=params)
        )
        if body is None:  # 204: nothing (more) matches
            return PageResult(rows=[], next=None)
        raw = body.rows(entity)
        if raw is None:
            raise BackendResponseError(
                f"unexpected {entity} list shape (no _embedded.{entity} array)", backend=self.name
            )
        look = await self._lookups()
        rows = [
            to_summary(
                self.name,
                entity,
                r,
                look,
                full=parts.extra,
                with_attributes=parts.attributes,
                with_search_text=parts.search_text,
            )
            for r in raw
        ]
        # No total and `_links.next` is always there: only a short page marks the end.
        more = len(raw) >= size
        return PageResult(rows=rows, next=offset + len(raw) if more else None)

    async def _lookups(self) -> Lookups:
        return Lookups(await self.directory.pipelines(), await self.directory.users())

    async def _get(
        self, path: str, params: list[tuple[str, str]], *, shared_ttl: float | None = None
    ) -> Any:
        """GET and decode; None for a 204. Kommo-specific failures get clear messages."""
        return await self._vendor(
            lambda: self.http.get_json(path, params=params or None, shared_ttl=shared_ttl)
        )

    async def _vendor(self, read: Callable[[], Awaitable[T]]) -> T:
        return await vendor_read(self.name, read)

    # -- get ------------------------------------------------------------------------------

    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail:
        info = self.collection_info(collection)
        entity = info.name
        segment = path_segment(process_id, ID_SHAPES[entity])
        sections = sections_for(entity, include, detail, self.name)
        with_ = GET_WITH[entity]
        try:
            body = await self._get(f"api/v4/{entity}/{segment}", [("with", with_)])
        except BackendNotFoundError:
            body = None
        if body is None:
            # Kommo answers 204 No Content for a missing id: not found, never an empty row.
            raise BackendNotFoundError(
                f"no {SINGULAR[entity]} {segment}",
                backend=self.name,
                status=204,
                hint=f"check the id and the collection ({entity}); list_processes with "
                f"backend={self.name} and collection={entity} shows valid ids",
            )
        if not isinstance(body, dict):
            raise BackendResponseError(f"unexpected {entity} object shape", backend=self.name)
        look = await self._lookups()
        row = as_row(body, self.name)
        summary = to_summary(self.name, entity, row, look)
        url = f"{self.settings.base_url.rstrip('/')}/{entity}/detail/{segment}"
        return build_detail(entity, body, row, summary, look, sections, detail, url)

    async def check(self) -> str:
        pipelines = await self.directory.pipelines()
        body = await self._get("api/v4/leads", [("limit", "1")])
        state = "has leads" if body else "has no leads yet"
        return f"ok: {len(pipelines)} pipelines, account {state}"
