"""ChakraHQ processes: the unified query to `POST /v1/ext/procedure/{sid}/process/list`
and back (facts: shared/reference/chakra-and-tallyfy.md part A).

Collections are the procedures of the instance (lead, ticket, ...), discovered once per
instance from `GET /v1/ext/config`; a procedure added later needs a restart. Users come
from `GET /v1/ext/users`, also fetched once, to turn uuids into usernames and back.

Translation (all native filters go into ONE `where` Query, see translate.py):
- status -> `status` OPEN / COMPLETED / CANCELLED; suspended and failed never occur.
- native_status -> `state`, a state short id of the procedure. Chakra's status values
  (OPEN, ...) are not native statuses here: rows show the finer state, and the status
  is exactly the unified one, so asking for one is answered with "use status=".
- owner -> `assignedTo`, a username (a user uuid is resolved to it).
- created_after / created_before -> `createdAt` `>=` / `<` ISO strings in one operator map.
- where -> attribute short ids, the six operators, lists as any-of, and/or groups.
- template -> the procedure itself: it matches this collection or names another one.
- text (a substring of the name, which is the primary-key value) and updated_* have no
  vendor key: local. tags do not exist: unsupported.
- sort: the vendor's order is undocumented; the simulator's (and our assumption) is
  createdAt descending, so -created_at is the only sort; others are refused.
Paging: `skip`/`limit` (<= 100) with `_meta.hasMore` and no total. Offsets are computable,
so a few pages may be in flight at once; `hasMore: false` ends the stream.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio

from tools.backends.base import (
    Backend,
    Capabilities,
    CollectionInfo,
    FieldSupport,
    InstanceSettings,
    PageResult,
    Plan,
    Position,
)
from tools.backends.chakra.schema import (
    EPOCH_MS_TYPES,
    PROCESS_STATUS,
    UNIFIED_TO_STATUS,
    Procedure,
    Schema,
    SchemaError,
    User,
    parse_config,
    parse_users,
)
from tools.backends.chakra.translate import (
    AnyOfStyle,
    Query,
    check_where,
    iso_ms,
    merge,
    translate_where,
    values_rhs,
)
from tools.errors import (
    BackendNotFoundError,
    BackendResponseError,
    ConfigError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.model import Detail, ProcessDetail, ProcessSummary, parse_time
from tools.query import ProcessQuery

if TYPE_CHECKING:
    import httpx

MAX_PAGE = 100
SORTS = ("-created_at",)
SECTIONS = ("fields", "definition")
MAX_FIELD_CHARS = 500
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class ChakraSettings(InstanceSettings):
    kind: str = "chakra"
    base_url: str = "https://api.chakrahq.com"
    # The collection used when a call names none; default: the config's first procedure.
    default_procedure: str | None = None
    # How any-of lists are sent: as arrays (IN, the reference's reading of an undocumented
    # case) or as `or` groups of single values (documented, longer).
    any_of: Literal["array", "or"] = "array"


def chakra_error_message(response: httpx.Response) -> str | None:
    """Every `_errors` entry of the envelope (the SDK shows only the first)."""
    from tools.http import default_error_message

    try:
        body = response.json()
    except ValueError:
        return default_error_message(response)
    errors = body.get("_errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)[:300]
    return default_error_message(response)


def _time(value: Any) -> datetime | None:
    """Objects carry epoch ms (A.5); an ISO string is accepted too."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return parse_time(text)
    return None


def _collection(proc: Procedure) -> CollectionInfo:
    key = proc.primary_key
    states = ", ".join(s.short_id for s in proc.states) or "none listed"
    named = f"named by {key.short_id}" if key else "named by their best text field"
    about = f" {proc.description}" if proc.description else ""
    return CollectionInfo(
        name=proc.short_id,
        description=f"{proc.name} processes ({named}).{about}",
        fields={
            "status": FieldSupport("native", "status OPEN / COMPLETED / CANCELLED"),
            "native_status": FieldSupport("native", f"state short ids: {states}"),
            "text": FieldSupport(
                "local", "no substring operator in Chakra's query; the name is checked locally"
            ),
            "created_after": FieldSupport("native", "createdAt >= (ISO timestamp)"),
            "created_before": FieldSupport("native", "createdAt < (ISO timestamp)"),
            "updated_after": FieldSupport("local", "no documented updatedAt filter"),
            "updated_before": FieldSupport("local", "no documented updatedAt filter"),
            "owner": FieldSupport("native", "assignedTo: a username (a user uuid is resolved)"),
            "template": FieldSupport(
                "native", "the procedure (its name or short id); for another, use collection"
            ),
            "tags": FieldSupport("unsupported", "Chakra processes have no tags"),
            "where": FieldSupport(
                "native",
                "attribute short ids (see attributes) with = != > >= < <=, a list for any-of, "
                "and/or groups",
            ),
        },
        sorts=SORTS,
        statuses={s.short_id: s.status for s in proc.states},
        sections=SECTIONS,
        attributes={a.short_id: a.describe() for a in proc.attributes},
    )


class ChakraBackend(Backend):
    kind: ClassVar[str] = "chakra"
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
            body = await self.http.get_json("/v1/ext/config")
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
            self._schema = schema
            self._caps = Capabilities(
                kind=self.kind,
                collections=tuple(_collection(p) for p in schema.procedures),
                default_collection=default,
                max_page_size=MAX_PAGE,
                addressing="offset",
                # Offsets are computable, so pages can overlap in flight; hasMore ends it.
                parallel_pages=4,
                total_known=False,
            )

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

    async def users(self) -> list[User]:
        if self._users is None:
            async with self._users_lock:
                if self._users is None:
                    body = await self.http.get_json("/v1/ext/users")
                    self._users = parse_users(self._data(body, "users"))
        return self._users

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
            values = self._status_values(query.status, warnings)
            if len(values) < len(PROCESS_STATUS):
                parts.append(values_rhs(values, "status", style))
            applied["status"] = FieldSupport("native", "status=" + "|".join(values))
        if query.native_status is not None:
            states = self._state_ids(proc, query.native_status)
            parts.append(values_rhs(states, "state", style))
            applied["native_status"] = FieldSupport("native", "state=" + "|".join(states))
        if query.owner is not None:
            username = await self._username(query.owner)
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
            self._check_template(proc, query.template)
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
        )

    def _status_values(self, statuses: tuple[str, ...], warnings: list[str]) -> list[str]:
        values = [UNIFIED_TO_STATUS[s] for s in statuses if s in UNIFIED_TO_STATUS]
        if not values:
            raise UnsupportedQueryError(
                f"{self.name}: Chakra processes are never {', '.join(statuses)}",
                backend=self.name,
                field="status",
                hint="statuses here are open, completed and cancelled",
            )
        missing = [s for s in statuses if s not in UNIFIED_TO_STATUS]
        if missing:
            warnings.append(f"no Chakra process is ever {', '.join(missing)}")
        return list(dict.fromkeys(values))

    def _state_ids(self, proc: Procedure, wanted: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        listing = ", ".join(f"{s.short_id} ({s.status})" for s in proc.states)
        for value in wanted:
            state = next(
                (s for s in proc.states if s.short_id.casefold() == value.casefold()), None
            )
            if state is None:
                if value.upper() in PROCESS_STATUS:
                    raise InvalidArgumentError(
                        f"{self.name}: {value!r} is a Chakra process status, not a state of "
                        f"{proc.short_id}",
                        field="native_status",
                        hint=f"use status={PROCESS_STATUS[value.upper()]}; states of "
                        f"{proc.short_id}: {listing}",
                    )
                raise InvalidArgumentError(
                    f"{self.name}: {proc.short_id} has no state {value!r}",
                    field="native_status",
                    hint=f"states of {proc.short_id}: {listing}",
                )
            out.append(state.short_id)
        return list(dict.fromkeys(out))

    async def _username(self, owner: str) -> str:
        users = await self.users()
        wanted = owner.strip().casefold()
        for user in users:
            if wanted in (user.username.casefold(), user.id.casefold()):
                return user.username
        by_other = [
            u.username
            for u in users
            if wanted in ((u.email or "").casefold(), (u.name or "").casefold())
        ]
        close = difflib.get_close_matches(owner, [u.username for u in users], n=3)
        suggestions = by_other or close
        hint = "give a username or user uuid"
        if suggestions:
            hint += "; did you mean " + " or ".join(suggestions) + "?"
        else:
            hint += "; users here: " + ", ".join(u.username for u in users[:15])
        raise InvalidArgumentError(f"{self.name}: no user {owner!r}", field="owner", hint=hint)

    def _check_template(self, proc: Procedure, template: str) -> None:
        wanted = template.strip().casefold()
        found = [
            p
            for p in self.schema.procedures
            if wanted in (p.short_id.casefold(), p.name.casefold())
        ]
        if proc in found:
            return
        if found:
            raise InvalidArgumentError(
                f"{self.name}: template {template!r} is the procedure {found[0].short_id}, "
                f"but this call lists {proc.short_id}",
                field="template",
                hint=f"pass collection={found[0].short_id} instead of template",
            )
        known = ", ".join(f"{p.short_id} ({p.name})" for p in self.schema.procedures)
        raise InvalidArgumentError(
            f"{self.name}: no procedure {template!r}",
            field="template",
            hint=f"procedures (collections) here: {known}",
        )

    # -- fetch ------------------------------------------------------------------------------

    def _list_path(self, proc: Procedure) -> str:
        return f"/v1/ext/procedure/{proc.short_id}/process/list"

    async def list_raw(
        self, proc: Procedure, where: Query, skip: int, limit: int
    ) -> tuple[list[Any], bool]:
        """One list call as the vendor answers it: (process objects, hasMore)."""
        body = await self.http.post_json(
            self._list_path(proc), json={"where": where, "skip": skip, "limit": limit}
        )
        rows = self._data(body, "process list")
        if not isinstance(rows, list):
            raise BackendResponseError(
                "unexpected process list (no _data array)", backend=self.name
            )
        meta = body.get("_meta") if isinstance(body, dict) else None
        more = meta.get("hasMore") if isinstance(meta, dict) else None
        return rows, bool(more)

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        proc = self.procedure(plan.collection)
        offset = int(at or 0)
        rows, more = await self.list_raw(proc, plan.native, offset, min(size, MAX_PAGE))
        users = await self.users_by_ref()
        summaries = [self.to_summary(r, proc, users) for r in rows if isinstance(r, dict)]
        # No total exists; the next offset is what we have received (A.4).
        return PageResult(rows=summaries, next=offset + len(rows) if more and rows else None)

    def to_summary(
        self, raw: Mapping[str, Any], proc: Procedure, users: Mapping[str, User]
    ) -> ProcessSummary:
        data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
        assert isinstance(data, dict)
        state = proc.state(raw.get("state"))
        status_value = str(raw.get("status") or "").upper()
        status = PROCESS_STATUS.get(status_value) or (state.status if state else None)
        owner = users.get(str(raw.get("assignedTo")))
        creator = users.get(str(raw.get("createdBy")))
        key, title = proc.primary_key, proc.title_attribute
        key_value = data.get(key.short_id) if key else None
        title_value = data.get(title.short_id) if title else None
        name = next((str(v) for v in (key_value, title_value) if v not in (None, "")), None)
        extra = {
            "title": title_value if key_value not in (None, "") else None,
            "state_name": state.name if state else None,
            "created_by": creator.username if creator else raw.get("createdBy"),
            "pod": self.schema.pods.get(str(raw.get("belongsTo")), raw.get("belongsTo")),
            "derived": raw.get("derivedData") or None,
        }
        summary = ProcessSummary(
            backend=self.name,
            collection=proc.short_id,
            id=str(raw.get("id")),
            name=name or str(raw.get("id")),
            status=status,
            native_status=state.short_id if state else _text(raw.get("state")),
            template=proc.name,
            template_id=proc.short_id,
            owner=owner.username if owner else _text(raw.get("assignedTo")),
            owner_id=owner.id if owner else _text(raw.get("assignedTo")),
            created_at=_time(raw.get("createdAt")),
            updated_at=_time(raw.get("updatedAt")),
            # The next follow-up is when the process is next due for action.
            due_at=_time(raw.get("nextActionAt")),
            extra={k: v for k, v in extra.items() if v not in (None, "", {}, [])},
        )
        return summary.with_attributes(dict(data))

    # -- get --------------------------------------------------------------------------------

    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail:
        sections = self._sections(include, detail)
        if collection is not None:
            candidates = [self.procedure(collection)]
        else:
            first = self.procedure(None)
            candidates = [first, *(p for p in self.schema.procedures if p is not first)]
        raw, proc = await self._find(process_id, candidates)
        summary = self.to_summary(raw, proc, await self.users_by_ref())
        notes: list[str] = []
        result = ProcessDetail(
            **summary.model_dump(exclude={"extra"}),
            extra=summary.extra if detail == "full" else None,
        )
        if "fields" in sections:
            result.fields = self._fields(raw.get("data"), proc, notes)
        if "definition" in sections:
            result.sections = {"definition": self._definition(proc)}
        result.notes = notes or None
        return result

    def _sections(self, include: frozenset[str] | None, detail: Detail) -> frozenset[str]:
        if include is None:
            return {
                "ids": frozenset[str](),
                "summary": frozenset({"fields"}),
                "full": frozenset(SECTIONS),
            }[detail]
        unknown = include - set(SECTIONS)
        if unknown:
            raise InvalidArgumentError(
                f"{self.name}: Chakra processes have no section {', '.join(sorted(unknown))}",
                field="include",
                hint="sections here: fields (the process's attributes), definition (its "
                "procedure: states and attributes)",
            )
        return include

    async def _find(
        self, process_id: str, candidates: list[Procedure]
    ) -> tuple[Mapping[str, Any], Procedure]:
        """By uuid through the fetch endpoint; anything else is taken as a primary-key
        value (LEAD-0910) and looked up with a where on the key. Without a collection the
        default procedure is tried first, then the others."""
        is_uuid = _UUID.fullmatch(process_id) is not None
        for proc in candidates:
            if is_uuid:
                try:
                    body = await self.http.get_json(
                        f"/v1/ext/procedure/{proc.short_id}/process/{process_id}"
                    )
                except BackendNotFoundError:
                    continue
                raw = self._data(body, "process")
                if isinstance(raw, dict):
                    return raw, proc
                raise BackendResponseError("unexpected process (no object)", backend=self.name)
            key = proc.primary_key
            if key is None:
                continue
            rows, _ = await self.list_raw(proc, {key.short_id: process_id}, 0, 1)
            if rows and isinstance(rows[0], dict):
                return rows[0], proc
        searched = ", ".join(p.short_id for p in candidates)
        raise BackendNotFoundError(
            f"no process {process_id!r} in {searched}",
            backend=self.name,
            status=404,
            hint=f"pass an id (uuid) or key (such as LEAD-0001) from list_processes with "
            f"backend={self.name}; add collection= when you know the procedure",
        )

    def _fields(self, data: Any, proc: Procedure, notes: list[str]) -> dict[str, Any] | None:
        if not isinstance(data, dict):
            return None
        order = [a.short_id for a in proc.attributes if a.short_id in data]
        order += [k for k in data if proc.attribute(k) is None]
        labels = {k: a.name if (a := proc.attribute(k)) else k for k in order}
        counts = Counter(labels.values())
        out: dict[str, Any] = {}
        for key, label in labels.items():
            attribute = proc.attribute(key)
            # Two attributes with one label stay apart by short id.
            name = label if counts[label] == 1 else f"{label} ({key})"
            value = data[key]
            if attribute and attribute.type in EPOCH_MS_TYPES and isinstance(value, int | float):
                moment = _time(value)
                value = moment.isoformat(timespec="milliseconds") if moment else value
            if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
                notes.append(f"field {name} truncated from {len(value)} characters")
                value = value[:MAX_FIELD_CHARS] + "…"
            out[name] = value
        return out

    def _definition(self, proc: Procedure) -> dict[str, Any]:
        key = proc.primary_key
        return {
            "procedure": proc.short_id,
            "name": proc.name,
            "primary_key": key.short_id if key else None,
            "states": [f"{s.short_id} ({s.status})" for s in proc.states],
            "attributes": {a.short_id: a.describe() for a in proc.attributes},
        }

    async def check(self) -> str:
        await self.discover()
        plan = await self.plan(ProcessQuery(backend=self.name, limit=1))
        page = await self.fetch_page(plan, 0, 1)
        names = ", ".join(p.short_id for p in self.schema.procedures)
        seen = "has processes" if page.rows else "is empty"
        return f"ok: procedures {names}; {plan.collection} {seen}"


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
