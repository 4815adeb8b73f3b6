"""Frends: process definitions (`GET /processes`) and their executions
(`GET /instances/{agentGroupId}`), both read through the Platform API 1.0.

Facts: shared/reference/frends-and-yuuvis.md part C. Two collections that page differently:
- `processes` (default): one row per version or draft; PageNumber/PageSize (at most 200)
  with `paging.totalCount`, so pages are computed and fetched in parallel. The only filters
  are `processGuid` and `processName`, and whether `processName` matches exactly or as a
  substring is undocumented. A text search must find substrings, so it is only sent when the
  instance is configured with `process_name_match: substring` (then narrowed: names are
  re-checked); by default names are checked here (local). A template is a process guid,
  sent as `processGuid` (native). Owner is the version's modifier (local). Versions are
  listed newest first (our reading of an undocumented order), so only `-created_at` sorts.
  Which versions the list shows is undocumented too: rows are what the tenant lists.
- `instances` (executions of one agent group): continuation tokens; `stateFilter` carries
  the unified status (open=ShowRunning, completed=ShowSuccessful, failed=ShowFailed,
  completed+failed=ShowFinished, always ShowAll otherwise, so no vendor default hides rows);
  `startTime` carries created_after one second early (whether it is inclusive is
  undocumented: narrowed); a template or text is resolved to `processGuids` through the
  whole definitions list (narrowed: the executed version's name is re-checked). Rows name
  their process by version id only; each id is read once (`directory.Directory`), so a
  plain listing reads no definitions page, and older versions the list may leave out
  are named too. `endTime` is not used:
  whether it bounds the start or the end of an execution is undocumented, and the wrong
  reading would drop running executions.
- Agent groups: `agent_group` in the settings (an id or a name) is the `instances`
  collection; every agent group the tenant lists under /environments is also reachable as
  `instances:<internal name>`.

Secrets never leave this module: see `convert.Secrets` and `scrub`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio

from tools.arguments import shown
from tools.backends.base import (
    Backend,
    Capabilities,
    CollectionInfo,
    FieldSupport,
    InstanceSettings,
    PageResult,
    Plan,
    Position,
    RowParts,
)
from tools.backends.frends import convert, listing
from tools.backends.frends.details import DetailBuilder
from tools.backends.frends.directory import AgentGroup, Directory, is_guid
from tools.backends.frends.info import (
    INSTANCE_ATTRIBUTES,
    INSTANCE_SECTIONS,
    PROCESS_ATTRIBUTES,
    PROCESS_SECTIONS,
    instances_info,
    processes_info,
    state_filter,
)
from tools.backends.frends.listing import EVERY_PART, InstanceList, ProcessList
from tools.backends.frends.reads import MAX_PAGE_SIZE, Reader
from tools.backends.frends.shapes import DefinitionRow
from tools.errors import (
    BackendResponseError,
    ConfigError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.model import Detail, ProcessDetail, ProcessSummary
from tools.query import WHERE_GROUPS, ProcessQuery

if TYPE_CHECKING:
    import httpx

# More process guids than this make the URL too long; the names are then checked locally.
MAX_GUIDS = 40
_ONE_SECOND = timedelta(seconds=1)
_VERSIONED = re.compile(r"^(?P<guid>[0-9a-fA-F-]{36})(?:@|/|/versions/)(?P<version>\d+)$")


class FrendsSettings(InstanceSettings):
    kind: str = "frends"
    # https://<tenant>.frendsapp.com/api/v1
    base_url: str
    agent_group: str | None = None
    process_name_match: Literal["exact", "substring"] = "exact"


class FrendsBackend(Backend):
    kind: ClassVar[str] = "frends"
    settings_model: ClassVar[type[InstanceSettings]] = FrendsSettings
    native_format: ClassVar[str | None] = "bpmn"
    # None published; the API may be switched off for abuse (reference C), so stay polite
    # through the driver's bounded parallelism rather than a guessed window.
    error_message: ClassVar[Callable[[httpx.Response], str | None] | None] = staticmethod(
        convert.frends_error_message
    )

    settings: FrendsSettings

    def __init__(self, settings: InstanceSettings, http: Any) -> None:
        super().__init__(settings, http)
        self.secrets = convert.Secrets()
        self.directory = Directory(self)
        self._groups: list[AgentGroup] | None = None
        self._discover_lock = anyio.Lock()
        self._details = DetailBuilder(self)
        self.reader = Reader(self)

    @classmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        token = settings.token.get_secret_value() if settings.token else ""
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    # -- discovery and capabilities ---------------------------------------------------------

    async def discover(self) -> None:
        """Agent groups from /environments, for the `instances` collections."""
        async with self._discover_lock:
            if self._groups is None:
                self._groups = await self._agent_groups()
        self._default_group()  # an agent_group naming no agent group fails here, every time

    async def _agent_groups(self) -> list[AgentGroup]:
        body = await self.http.get_json("environments")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise BackendResponseError(
                "unexpected environments shape (no data array)", backend=self.name
            )
        groups: list[AgentGroup] = []
        for env in data:
            for group in (env or {}).get("agentGroups") or ():
                if isinstance(group, dict) and isinstance(group.get("id"), int):
                    name = str(group.get("internalName") or group.get("displayName"))
                    label = f"{group.get('displayName') or name} in {env.get('displayName')}"
                    groups.append(AgentGroup(group["id"], name, label))
        return groups

    def _default_group(self) -> AgentGroup | None:
        wanted = self.settings.agent_group
        groups = self._groups or []
        if wanted is None:
            return groups[0] if len(groups) == 1 else None
        key = wanted.strip().casefold()
        for group in groups:
            if key in (
                str(group.id),
                group.name.casefold(),
                group.label.split(" in ")[0].casefold(),
            ):
                return group
        if self._groups is None:
            # Not discovered yet: a numeric id is usable as it is, a name must wait.
            return AgentGroup(int(key), key, f"agent group {key}") if key.isdigit() else None
        raise ConfigError(
            f"{self.name}: no agent group {shown(wanted)}",
            hint="set agent_group to one of: " + ", ".join(f"{g.id} ({g.name})" for g in groups),
        )

    def _instance_collections(self) -> list[tuple[str, AgentGroup]]:
        out: list[tuple[str, AgentGroup]] = []
        try:
            default = self._default_group()
        except ConfigError:
            default = None  # discover() reports it; capabilities never raise
        if default is not None:
            out.append(("instances", default))
        out.extend((f"instances:{g.name}", g) for g in self._groups or ())
        return out

    def capabilities(self) -> Capabilities:
        collections = [processes_info(self.settings.process_name_match)]
        collections += [instances_info(name, g.label) for name, g in self._instance_collections()]
        return Capabilities(
            kind=self.kind,
            collections=tuple(collections),
            default_collection="processes",
            max_page_size=MAX_PAGE_SIZE,
            addressing="page",
            parallel_pages=4,
            total_known=True,
        )

    def collection_info(self, name: str | None) -> CollectionInfo:
        """Collection names match case-insensitively (`instances:production`)."""
        if name is not None:
            caps = self.capabilities()
            found = next(
                (c for c in caps.collections if c.name.casefold() == name.strip().casefold()),
                None,
            )
            if found is not None:
                return found
            if name.strip().casefold() == "instances":
                raise InvalidArgumentError(
                    f"{self.name}: no default agent group for instances",
                    field="collection",
                    hint="use one of: "
                    + ", ".join(n for n, _ in self._instance_collections())
                    + " (or set agent_group in the instance's settings)",
                )
        return super().collection_info(name)

    def _quote(self, text: str) -> str:
        """The caller's input, quoted back in a message: scrubbed, since messages are logged."""
        return repr(self.secrets.scrubber()(text))

    def _group_of(self, info: CollectionInfo) -> AgentGroup:
        return next(g for n, g in self._instance_collections() if n == info.name)

    # -- plan -------------------------------------------------------------------------------

    async def plan(self, query: ProcessQuery) -> Plan:
        await self.discover()  # cached; the tools call it first anyway
        info = self.collection_info(query.collection)
        if query.sort != "-created_at":
            raise UnsupportedQueryError(
                f"{self.name} (frends, {info.name}) cannot sort by {query.sort}",
                backend=self.name,
                field="sort",
                hint="Frends lists newest first only: use sort=-created_at (the default), "
                "and narrow with created_after/created_before",
            )
        if query.tags is not None:
            self.refuse(info, "tags", "Frends processes and executions carry no tags here")
        if query.where is not None:
            allowed = PROCESS_ATTRIBUTES if info.name == "processes" else INSTANCE_ATTRIBUTES
            self._check_where(info, query.where, allowed)
        if info.name == "processes":
            return self._plan_processes(info, query)
        return await self._plan_instances(info, query)

    def _check_where(
        self, info: CollectionInfo, where: Mapping[str, Any], allowed: Mapping[str, str]
    ) -> None:
        for key, rhs in where.items():
            if key in WHERE_GROUPS:
                for member in rhs:
                    self._check_where(info, member, allowed)
            elif key not in allowed:
                raise InvalidArgumentError(
                    f"{self.name} ({info.name}) has no attribute {self._quote(key)}",
                    field="where",
                    hint="where attributes here: "
                    + ", ".join(f"{k} ({v})" for k, v in allowed.items()),
                )

    def _local(
        self, info: CollectionInfo, query: ProcessQuery, applied: dict[str, FieldSupport]
    ) -> None:
        """Every other filter the query sets: applied as the collection declares, or refused."""
        for name in query.used_filters():
            if name in applied:
                continue
            support = info.support(name)
            if support.mode == "unsupported":
                self.refuse(info, name, support.note)
            applied[name] = support

    def _plan_processes(self, info: CollectionInfo, query: ProcessQuery) -> Plan:
        params: list[tuple[str, str]] = []
        applied: dict[str, FieldSupport] = {}
        if query.status is not None:
            self.refuse(
                info,
                "status",
                "process definitions have no status; native_status latest, previous or draft "
                "tells versions apart, and collection=instances lists executions",
            )
        if query.native_status is not None:
            unknown = [
                v for v in query.native_status if v.casefold() not in convert.DEFINITION_STATES
            ]
            if unknown:
                raise InvalidArgumentError(
                    f"{self.name}: {', '.join(map(self._quote, unknown))} "
                    "is not a definition state",
                    field="native_status",
                    hint="definition versions are: " + ", ".join(convert.DEFINITION_STATES),
                )
        if query.template is not None:
            if not is_guid(query.template):
                raise InvalidArgumentError(
                    f"{self.name}: template on processes is a process guid, "
                    f"not {self._quote(query.template)}",
                    field="template",
                    hint="pass the guid (template_id of a listed row), or search names with text",
                )
            params.append(("processGuid", query.template.strip().lower()))
            applied["template"] = FieldSupport("native", "processGuid")
        if query.text is not None and self.settings.process_name_match == "substring":
            params.append(("processName", query.text))
            applied["text"] = FieldSupport("narrowed", "processName searched, names re-checked")
        self._local(info, query, applied)
        return Plan(
            collection=info.name,
            native=ProcessList(tuple(params)),
            applied=applied,
            sort=query.sort,
            parts=RowParts.of(query),
        )

    async def _plan_instances(self, info: CollectionInfo, query: ProcessQuery) -> Plan:
        group = self._group_of(info)
        params: list[tuple[str, str]] = []
        applied: dict[str, FieldSupport] = {}
        warnings: list[str] = []
        empty = False
        guids: set[str] | None = None
        if query.template is not None:
            guids, applied["template"] = await self._template_guids(query.template)
        if query.text is not None:
            await self.directory.ensure_listing()
            needle = query.text.casefold()
            found = self.directory.guids(lambda n: needle in n.casefold())
            guids = found if guids is None else guids & found
            applied["text"] = FieldSupport(
                "narrowed", "processes whose name contains it, re-checked"
            )
        if guids is not None:
            if not guids:
                empty = True
            elif len(guids) <= MAX_GUIDS:
                params.extend(("processGuids", g) for g in sorted(guids))
            else:
                for name in ("template", "text"):
                    if name in applied:
                        applied[name] = FieldSupport(
                            "local", "too many processes to send; checked here"
                        )
        if query.created_after is not None:
            early = query.created_after.replace(microsecond=0) - _ONE_SECOND
            params.append(("startTime", early.strftime("%Y-%m-%dT%H:%M:%SZ")))
            applied["created_after"] = FieldSupport("narrowed", "startTime, one second early")
        state, state_support = state_filter(self.name, query, warnings, self._quote)
        params.append(("stateFilter", state))
        for name in ("status", "native_status"):
            if getattr(query, name) is not None:
                applied[name] = state_support
        self._local(info, query, applied)
        return Plan(
            collection=info.name,
            native=InstanceList(group.id, tuple(params), empty),
            applied=applied,
            sort=query.sort,
            warnings=warnings,
            parts=RowParts.of(query),
        )

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        """Process names for executions (a name is resolved to its guids); the
        definitions list takes a guid, so there it offers the guids it knows."""
        if field_name != "template":
            return await super().suggest(field_name, collection)
        await self.directory.ensure_listing()
        if self.collection_info(collection).name == "processes":
            return sorted(g for g in self.directory.names if g)
        return sorted({n for names in self.directory.names.values() for n in names if n})

    async def _template_guids(self, template: str) -> tuple[set[str], FieldSupport]:
        if is_guid(template):
            return {template.strip().lower()}, FieldSupport("native", "processGuids")
        await self.directory.ensure_listing()
        wanted = template.strip().casefold()
        found = self.directory.guids(lambda n: n.casefold() == wanted)
        if not found:
            names = sorted({n for ns in self.directory.names.values() for n in ns})
            close = [n for n in names if wanted in n.casefold()][:10] or names[:10]
            raise InvalidArgumentError(
                f"{self.name}: no process named {self._quote(template)}",
                field="template",
                hint="give a process guid or an exact name, e.g. " + "; ".join(close),
            )
        return found, FieldSupport("narrowed", "name resolved to processGuids, re-checked")

    # -- fetch ------------------------------------------------------------------------------

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        return await listing.fetch_page(self, plan, at, size)

    def definition_rows(
        self, rows: list[DefinitionRow], parts: RowParts = EVERY_PART
    ) -> list[ProcessSummary]:
        return listing.definition_rows(self, rows, parts)

    # -- get and export -----------------------------------------------------------------------

    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail:
        await self.discover()
        info = self.collection_info(collection)
        if info.name == "processes":
            sections = self._sections(
                info, include, detail, PROCESS_SECTIONS, ("tasks", "variables")
            )
            raw = await self.reader.definition(process_id)
            return await self._details.definition(raw, sections, detail)
        sections = self._sections(info, include, detail, INSTANCE_SECTIONS, ("fields",))
        group = self._group_of(info)
        raw = await self.reader.execution(group.id, group.name, process_id)
        return await self._details.instance(info.name, raw, sections, detail)

    def _sections(
        self,
        info: CollectionInfo,
        include: frozenset[str] | None,
        detail: Detail,
        every: tuple[str, ...],
        default: tuple[str, ...],
    ) -> frozenset[str]:
        if include is None:
            return frozenset(every if detail == "full" else default)
        unknown = include - set(every)
        if unknown:
            raise InvalidArgumentError(
                f"{self.name}: Frends {info.name} have no section {', '.join(sorted(unknown))}",
                field="include",
                hint="sections here: " + ", ".join(every),
            )
        return include

    async def native_export(
        self, process_id: str, *, collection: str | None
    ) -> tuple[str, bytes] | None:
        """The whole BPMN of a definition version, secrets scrubbed; None for executions."""
        await self.discover()
        info = self.collection_info(collection)
        if info.name != "processes":
            return None
        raw = await self.reader.definition(process_id)
        self.secrets.learn(convert.secret_values(convert.as_row(raw, self.name)))
        xml = raw.get("bpmn")
        if not isinstance(xml, str) or not xml:
            return None
        return "bpmn", self.secrets.scrubber()(xml).encode()
