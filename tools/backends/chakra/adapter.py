"""ChakraHQ processes: the unified query to `POST /v1/ext/procedure/{sid}/process/list`
and back (facts: shared/reference/chakra-and-tallyfy.md part A).

Collections are the procedures of the instance (lead, ticket, ...), discovered once per
instance from `GET /v1/ext/config`; a procedure added later needs a restart. Users come
from `GET /v1/ext/users`, also fetched once, to turn uuids into usernames and back.

Translation (all native filters go into ONE `where` Query, see translate.py):
- status -> `status` OPEN / COMPLETED / CANCELLED; suspended and failed never occur. A
  row's status is the process's own `status` field: the reference does not say that the
  config links states to statuses (and Update sets them separately, A6/A16), so the
  state -> status map is shown only where the config gives one.
- native_status -> `state`, a state short id of the procedure. Chakra's status values
  (OPEN, ...) are not native statuses here: rows show the finer state, and the status
  is exactly the unified one, so asking for one is answered with "use status=".
- owner -> `assignedTo`, a username (a user uuid or e-mail is resolved to it, users.py).
- created_after / created_before -> `createdAt` `>=` / `<` ISO strings in one operator map.
- where -> attribute short ids, the six operators, lists as any-of, and/or groups.
- template -> the procedure itself: it matches this collection or names another one.
- text and updated_* have no vendor key: local. Text reads the name (`LEAD-0012 · Globex
  Corp`, naming.py) and the text-like attributes. tags do not exist: unsupported.
- sort: the vendor's order is undocumented; the simulator's (and our assumption) is
  createdAt descending, so -created_at is the only sort; others are refused.
Paging: `skip`/`limit` (<= 100) with `_meta.hasMore` and no total. Offsets are computable,
so a few pages may be in flight at once; `hasMore: false` ends the stream.
get_process takes a uuid (fetched by path, quoted as one segment) or a primary-key value
(looked up with a `where` on the key, never put into a path); anything else is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

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
from tools.backends.chakra.describe import SORTS, collection_info
from tools.backends.chakra.detail import definition
from tools.backends.chakra.detail import fields as attribute_fields
from tools.backends.chakra.detail import sections as detail_sections
from tools.backends.chakra.info import (
    MAX_PAGE,
    PROCEDURE,
    PROCESS_REF,
    PROCESS_UUID,
    ChakraSettings,
    chakra_error_message,
)
from tools.backends.chakra.naming import Naming, check_settings, choose
from tools.backends.chakra.rows import EVERY_PART, as_process
from tools.backends.chakra.rows import summary as process_summary
from tools.backends.chakra.schema import (
    PROCESS_STATUS,
    Procedure,
    Schema,
    SchemaError,
    User,
    parse_config,
    parse_users,
)
from tools.backends.chakra.shapes import FullProcess, Process, ProcessList
from tools.backends.chakra.translate import (
    AnyOfStyle,
    Query,
    check_template,
    check_where,
    iso_ms,
    merge,
    state_ids,
    status_values,
    translate_where,
    values_rhs,
)
from tools.backends.chakra.users import resolve_username
from tools.errors import (
    BackendNotFoundError,
    BackendResponseError,
    ConfigError,
    UnsupportedQueryError,
)
from tools.ids import UUID, check_id, path_segment
from tools.model import Detail, ProcessDetail, ProcessSummary
from tools.query import ProcessQuery
from tools.shared_cache import DISCOVERY_TTL

if TYPE_CHECKING:
    import httpx

__all__ = ["ChakraBackend", "ChakraSettings"]


class ChakraBackend(Backend):
    kind: ClassVar[str] = "chakra"
    vendor_name: ClassVar[str | None] = "ChakraHQ"

    @classmethod
    def account_key(cls, settings: InstanceSettings) -> str:
        # One API host serves every workspace; the token names the workspace (a digest of
        # it here: the key is stored in Redis and printed in notes).
        token = settings.token.get_secret_value() if settings.token else ""
        digest = hashlib.sha256(token.encode()).hexdigest()[:16]
        return f"{super().account_key(settings)}|token={digest}"

    settings_model: ClassVar[type[InstanceSettings]] = ChakraSettings
    # No limit is published (the "API Rate Limits" page had no text): none by default;
    # rate_limit_per_minute sets one, and 429s are retried with Retry-After either way.
    error_message: ClassVar[Callable[[httpx.Response], str | None] | None] = staticmethod(
        chakra_error_message
    )

    settings: ChakraSettings

    def __init__(self, settings: InstanceSettings, http: Any) -> None:
        super().__init__(settings, http)
        self._schema: Schema | None = None
        self._naming: dict[str, Naming] = {}
        self._caps: Capabilities | None = None
        self._users: list[User] | None = None
        self._schema_lock = anyio.Lock()
        self._users_lock = anyio.Lock()

    @classmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        token = settings.token.get_secret_value() if settings.token else ""
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    # -- discovery ----------------------------------------------------------------------

    async def discover(self) -> None:
        """Procedures, attributes and states from the config, once per instance. The lock
        makes concurrent first callers wait for one fetch; a failure is not cached."""
        if self._caps is not None:
            return
        async with self._schema_lock:
            if self._caps is not None:
                return
            body = await self.http.get_json("/v1/ext/config", shared_ttl=DISCOVERY_TTL)
            try:
                schema = parse_config(self._data(body, "config"))
            except SchemaError as exc:
                raise BackendResponseError(
                    f"unexpected config shape: {exc}", backend=self.name
                ) from None
            default = self.settings.default_procedure or schema.procedures[0].short_id
            if schema.procedure(default) is None:
                known = ", ".join(p.short_id for p in schema.procedures)
                raise ConfigError(
                    f"default_procedure {default!r} of '{self.name}' is not a procedure there",
                    hint=f"set default_procedure to one of: {known}",
                )
            naming = {p.short_id: self._choose_naming(p) for p in schema.procedures}
            check_settings(
                schema, self.settings.primary_key, self.settings.title_attribute, self.name
            )
            self._schema, self._naming = schema, naming
            self._caps = Capabilities(
                kind=self.kind,
                collections=tuple(
                    collection_info(p, naming[p.short_id]) for p in schema.procedures
                ),
                default_collection=default,
                max_page_size=MAX_PAGE,
                addressing="offset",
                # Offsets are computable, so pages can overlap in flight; hasMore ends it.
                parallel_pages=4,
                total_known=False,
            )

    def _choose_naming(self, proc: Procedure) -> Naming:
        return choose(
            proc,
            key=self.settings.primary_key.get(proc.short_id),
            title=self.settings.title_attribute.get(proc.short_id),
        )

    def naming(self, proc: Procedure) -> Naming:
        return self._naming[proc.short_id]

    def capabilities(self) -> Capabilities:
        if self._caps is None:
            raise RuntimeError("ChakraBackend.capabilities() needs `await discover()` first")
        return self._caps

    @property
    def schema(self) -> Schema:
        if self._schema is None:
            raise RuntimeError("ChakraBackend.schema needs `await discover()` first")
        return self._schema

    def procedure(self, collection: str | None) -> Procedure:
        info = self.collection_info(collection)
        proc = self.schema.procedure(info.name)
        assert proc is not None
        return proc

    async def users(self, *, fresh: bool = False) -> list[User]:
        """`fresh` re-reads them (suggestions do, once per their TTL)."""
        if fresh or self._users is None:
            async with self._users_lock:
                if fresh or self._users is None:
                    body = await self.http.get_json("/v1/ext/users", shared_ttl=DISCOVERY_TTL)
                    self._users = parse_users(self._data(body, "users"))
        return self._users

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        """Usernames (what owner is sent as), and the procedure itself as the template
        (its name; another procedure is a collection, not a template)."""
        if field_name == "owner":
            return [u.username for u in await self.users(fresh=True)]
        if field_name == "template":
            return [self.procedure(collection).name]
        return await super().suggest(field_name, collection)

    async def users_by_ref(self) -> dict[str, User]:
        """uuid -> user and username -> user (objects carry uuids; accept either)."""
        users = await self.users()
        return {**{u.username: u for u in users}, **{u.id: u for u in users}}

    def _data(self, body: Any, what: str) -> Any:
        if not isinstance(body, dict) or "_data" not in body:
            raise BackendResponseError(
                f"unexpected {what} answer (no _data envelope)", backend=self.name
            )
        return body["_data"]

    # -- plan -----------------------------------------------------------------------------

    async def plan(self, query: ProcessQuery) -> Plan:
        info = self.collection_info(query.collection)
        proc = self.procedure(info.name)
        style: AnyOfStyle = self.settings.any_of
        if query.sort not in SORTS:
            raise UnsupportedQueryError(
                f"{self.name} (chakra) cannot sort by {query.sort}: Chakra lists processes "
                "newest first only",
                backend=self.name,
                field="sort",
                hint="use sort=-created_at; narrow with created_after/created_before, or "
                "updated_after for recent changes",
            )
        if query.tags is not None:
            self.refuse(info, "tags", "Chakra processes have no tags")
        parts: list[Query] = []
        applied: dict[str, FieldSupport] = {}
        warnings: list[str] = []

        if query.status is not None:
            values = status_values(query.status, self.name, warnings)
            if len(values) < len(PROCESS_STATUS):
                parts.append(values_rhs(values, "status", style))
            applied["status"] = FieldSupport("native", "status=" + "|".join(values))
        if query.native_status is not None:
            states = state_ids(proc, query.native_status, self.name)
            parts.append(values_rhs(states, "state", style))
            applied["native_status"] = FieldSupport("native", "state=" + "|".join(states))
        if query.owner is not None:
            username = resolve_username(await self.users(), query.owner, self.name)
            parts.append({"assignedTo": username})
            applied["owner"] = FieldSupport("native", f"assignedTo={username}")
        bounds: dict[str, str] = {}
        if query.created_after is not None:
            bounds[">="] = iso_ms(query.created_after)
            applied["created_after"] = info.support("created_after")
        if query.created_before is not None:
            bounds["<"] = iso_ms(query.created_before)
            applied["created_before"] = info.support("created_before")
        if bounds:
            parts.append({"createdAt": bounds})
        if query.template is not None:
            check_template(self.schema.procedures, proc, query.template, self.name)
            applied["template"] = FieldSupport("native", f"the procedure {proc.short_id}")
        if query.where is not None:
            check_where(query.where, proc, self.name)
            parts.append(translate_where(query.where, style))
            applied["where"] = info.support("where")
        for name in ("text", "updated_after", "updated_before"):
            if getattr(query, name) is not None:
                applied[name] = info.support(name)
        return Plan(
            collection=proc.short_id,
            native=merge(parts),
            applied=applied,
            sort=query.sort,
            warnings=warnings,
            parts=RowParts.of(query),
        )

    # -- fetch ------------------------------------------------------------------------------

    def _process_path(self, proc: Procedure, tail: str) -> str:
        return f"/v1/ext/procedure/{path_segment(proc.short_id, PROCEDURE)}/process/{tail}"

    async def list_raw(
        self, proc: Procedure, where: Query, skip: int, limit: int, *, full: bool = True
    ) -> tuple[list[Process], bool]:
        """One list call as the vendor answers it: (processes, hasMore). `full=False`
        leaves the fields only the extras show undecoded."""
        shape: type[ProcessList[Process]] = (
            ProcessList[FullProcess] if full else ProcessList[Process]
        )
        # A POST that only reads: retried like a GET (on 5xx, resets, cut-off bodies).
        body = await self.http.post_typed(
            self._process_path(proc, "list"),
            shape,
            json={"where": where, "skip": skip, "limit": limit},
        )
        return body.data, bool(body.meta and body.meta.has_more)

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        proc = self.procedure(plan.collection)
        offset = int(at or 0)
        parts = plan.parts
        rows, more = await self.list_raw(
            proc, plan.native, offset, min(size, MAX_PAGE), full=parts.extra
        )
        users = await self.users_by_ref()
        summaries = [self.to_summary(r, proc, users, parts=parts) for r in rows]
        # No total exists; the next offset is what we have received (A.4).
        return PageResult(rows=summaries, next=offset + len(rows) if more and rows else None)

    def to_summary(
        self,
        raw: Process | Mapping[str, Any],
        proc: Procedure,
        users: Mapping[str, User],
        *,
        parts: RowParts = EVERY_PART,
    ) -> ProcessSummary:
        naming, pods = self.naming(proc), self.schema.pods
        return process_summary(self.name, raw, proc, users, naming, pods, parts)

    # -- get --------------------------------------------------------------------------------

    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail:
        wanted = detail_sections(include, detail, self.name)
        check_id(process_id, PROCESS_REF)
        if collection is not None:
            candidates = [self.procedure(collection)]
        else:
            first = self.procedure(None)
            candidates = [first, *(p for p in self.schema.procedures if p is not first)]
        row, proc = await self._find(process_id, candidates)
        summary = self.to_summary(row, proc, await self.users_by_ref())
        notes: list[str] = []
        result = ProcessDetail(
            **summary.as_dict(exclude={"extra"}),
            extra=summary.extra if detail == "full" else None,
        )
        if "fields" in wanted:
            result.fields = attribute_fields(row.data, proc, notes)
        if "definition" in wanted:
            result.sections = {"definition": definition(proc, self.naming(proc))}
        result.notes = notes or None
        return result

    async def _find(
        self, process_id: str, candidates: list[Procedure]
    ) -> tuple[Process, Procedure]:
        """By uuid through the fetch endpoint; anything else is taken as a primary-key
        value (LEAD-0910) and looked up with a where on the key. Without a collection the
        default procedure is tried first, then the others."""
        is_uuid = UUID.fullmatch(process_id) is not None
        for proc in candidates:
            if is_uuid:
                segment = path_segment(process_id, PROCESS_UUID)
                try:
                    body = await self.http.get_json(self._process_path(proc, segment))
                except BackendNotFoundError:
                    continue
                raw = self._data(body, "process")
                if isinstance(raw, dict):
                    return as_process(raw, self.name), proc
                raise BackendResponseError("unexpected process (no object)", backend=self.name)
            key = self.naming(proc).key
            if key is None:
                continue
            value: str | int = process_id
            if key.type == "number" and process_id.isdigit():
                value = int(process_id)
            rows, _ = await self.list_raw(proc, {key.short_id: value}, 0, 1)
            if rows:
                return rows[0], proc
        searched = ", ".join(p.short_id for p in candidates)
        raise BackendNotFoundError(
            f"no process {shown(process_id)} in {searched}",
            backend=self.name,
            status=404,
            hint=f"pass an id (uuid) or key (such as LEAD-0001) from list_processes with "
            f"backend={self.name}; add collection= when you know the procedure",
        )

    async def check(self) -> str:
        await self.discover()
        plan = await self.plan(ProcessQuery(backend=self.name, limit=1))
        page = await self.fetch_page(plan, 0, 1)
        names = ", ".join(p.short_id for p in self.schema.procedures)
        seen = "has processes" if page.rows else "is empty"
        return f"ok: procedures {names}; {plan.collection} {seen}"
