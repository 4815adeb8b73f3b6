"""yuuvis Momentum BPM process instances: the unified query to `GET /bpm-engine/api/processes`
and back (facts: shared/reference/frends-and-yuuvis.md part D, vendor page seed 003).

Translation choices:
- paging: `page` is 0-based and `size` is bounded at 100 (undocumented: the stricter
  reading); the driver's page-aligned offsets become `page = offset // size`.
- status: `isCompleted` and `suspended` (see translate.plan_status); `isCompleted=true` also
  returns deleted instances, so completed and cancelled alone are narrowed.
- text: `nameLikeIgnoreCase=%text%` with typed wildcards made harmless; names re-checked.
- dates: `startedAfter` / `startedBefore`, widened by a millisecond because the docs do not
  say whether the bounds are inclusive; re-checked. Updated times do not exist: refused.
- owner: `startedBy`, a user id (see `owner.py`): a user id or the configured user (login
  name or id); anything else is refused with how to find the id, since the engine has no
  user directory. A non-admin never sends another user's id (the engine answers 400).
  `involvedUser` (starter OR task assignee) is wider than "owner", so it is not used for
  owner; it is offered as a `where` key instead.
- template: `processDefinitionKey`; a definition name is resolved through
  `/process-definitions` (cached per instance).
- where: businessKey, name, definition id/key/version natively; local checks on other row
  fields; parameter-only keys (businessKeyLike, nameLike, involvedUser, ...) at top level.
- sub-processes (call activities) are left out by default (`excludeSubprocesses=true`): a
  list of processes means the processes people started; every answer that leaves them out
  says so, with the switch: `where="excludeSubprocesses = false"`.
- sort: `sort=asc|desc` orders by start time (the field is not documented; start time is
  the plausible one); created_at / -created_at only, other keys are refused.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

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
from tools.backends.yuuvis import details, translate
from tools.backends.yuuvis.details import MAX_VALUE_CHARS
from tools.backends.yuuvis.info import (
    SORTS,
    YuuvisSettings,
    human_duration,
    instances_info,
    yuuvis_error_message,
)
from tools.backends.yuuvis.owner import plan_owner
from tools.backends.yuuvis.rows import summary as instance_summary
from tools.backends.yuuvis.shapes import FullInstance, Instance, Listed
from tools.backends.yuuvis.translate import WHERE_KEYS
from tools.errors import (
    BackendNotFoundError,
    BackendResponseError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.ids import UUID, IdShape, path_segment
from tools.model import Detail, ProcessDetail, ProcessSummary
from tools.query import ProcessQuery

__all__ = ["MAX_VALUE_CHARS", "YuuvisBackend", "YuuvisSettings", "human_duration"]

if TYPE_CHECKING:
    import httpx

API = "/bpm-engine/api"
EVERY_PART = RowParts()
MAX_PAGE_SIZE = 100
TENANT_HEADER = "X-ID-TENANT-NAME"
INSTANCE_ID = IdShape(
    "yuuvis process instance id",
    UUID,
    "a uuid such as 00000000-0000-0000-0000-000000000000 (a listed row's id)",
)
# On every page of a default listing, so kept short (issue 12 counts its tokens).
SUBPROCESSES_LEFT_OUT = (
    'sub-processes (call activities) are left out; where="excludeSubprocesses = false" lists them'
)


class YuuvisBackend(Backend):
    kind: ClassVar[str] = "yuuvis"
    vendor_name: ClassVar[str | None] = "yuuvis Momentum"

    @classmethod
    def account_key(cls, settings: InstanceSettings) -> str:
        # One gateway serves many tenants (the X-ID-TENANT-NAME header names it).
        tenant = getattr(settings, "tenant", "")
        return f"{super().account_key(settings)}|tenant={str(tenant).strip().lower()}"

    settings_model: ClassVar[type[InstanceSettings]] = YuuvisSettings
    error_message: ClassVar[Callable[[httpx.Response], str | None] | None] = staticmethod(
        yuuvis_error_message
    )

    settings: YuuvisSettings

    def __init__(self, settings: InstanceSettings, http: Any) -> None:
        super().__init__(settings, http)
        self._info = instances_info(self.settings)
        self._definitions: list[dict[str, Any]] | None = None
        self._lock = anyio.Lock()

    @classmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        assert isinstance(settings, YuuvisSettings)
        secret = settings.token.get_secret_value() if settings.token else ""
        if settings.auth == "basic":
            pair = f"{settings.username}:{secret}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode()
        else:
            authorization = f"Bearer {secret}"
        return {
            "Authorization": authorization,
            TENANT_HEADER: settings.tenant,
            "Accept": "application/json",
            # The docs list it even for GETs.
            "Content-Type": "application/json",
        }

    def capabilities(self) -> Capabilities:
        return Capabilities(
            kind=self.kind,
            collections=(self._info,),
            default_collection="instances",
            max_page_size=MAX_PAGE_SIZE,
            addressing="page",
            parallel_pages=4,
            total_known=True,
        )

    # -- plan -------------------------------------------------------------------------------

    async def plan(self, query: ProcessQuery) -> Plan:
        info = self.collection_info(query.collection)
        params: list[tuple[str, str]] = []
        applied: dict[str, FieldSupport] = {}
        warnings: list[str] = []
        stamp: dict[str, Any] = {}

        for name in ("updated_after", "updated_before", "tags"):
            if getattr(query, name) is not None:
                reason = (
                    "the engine reports no update time (ended instances show their end time)"
                    if name != "tags"
                    else "process instances have no tags"
                )
                self.refuse(info, name, reason)
        if query.sort not in SORTS:
            raise UnsupportedQueryError(
                f"{self.name} (yuuvis) cannot sort by {query.sort}",
                backend=self.name,
                field="sort",
                hint="use created_at or -created_at (the engine sorts only by start time)",
            )

        status_params, mode, status_warnings = translate.plan_status(
            query.status, query.native_status, self.name
        )
        params += status_params
        warnings += status_warnings
        for f in ("status", "native_status"):
            if getattr(query, f) is not None and mode is not None:
                applied[f] = mode
        if query.text is not None:
            params.append(("nameLikeIgnoreCase", translate.name_pattern(query.text)))
            applied["text"] = info.support("text")
        if query.owner is not None:
            applied["owner"] = plan_owner(self.settings, self.name, query.owner, params, warnings)
        if query.template is not None:
            applied["template"] = await self._plan_template(query.template, params)
        if query.where is not None:
            applied["where"] = self._plan_where(info, query.where, params, stamp)
        if query.created_after is not None or query.created_before is not None:
            date_params, support = translate.plan_dates(query.created_after, query.created_before)
            params += date_params
            for f in ("created_after", "created_before"):
                if getattr(query, f) is not None:
                    applied[f] = support
        if not translate.wants_subprocesses(query.where) and "excludeSubprocesses" not in (
            query.where or {}
        ):
            params.append(("excludeSubprocesses", "true"))
        if ("excludeSubprocesses", "true") in params:
            warnings.append(SUBPROCESSES_LEFT_OUT)
        params.append(("sort", SORTS[query.sort]))
        return Plan(
            collection=info.name,
            native={"params": params, "stamp": stamp},
            applied=applied,
            sort=query.sort,
            warnings=warnings,
            parts=RowParts.of(query),
        )

    async def _plan_template(self, template: str, params: list[tuple[str, str]]) -> FieldSupport:
        definitions = await self._load_definitions()
        wanted = template.strip().casefold()
        keys = sorted(
            {
                str(d.get("key"))
                for d in definitions
                if wanted in (str(d.get("key", "")).casefold(), str(d.get("name", "")).casefold())
            }
        )
        if not keys:
            names = sorted({f"{d.get('name')} ({d.get('key')})" for d in definitions})
            raise InvalidArgumentError(
                f"{self.name}: no process definition {shown(template)}",
                field="template",
                hint="use a definition key or name: " + ", ".join(names),
            )
        if len(keys) == 1:
            params.append(("processDefinitionKey", keys[0]))
            return FieldSupport("native", "processDefinitionKey")
        return FieldSupport("local", f"{len(keys)} definitions match; checked locally")

    def _plan_where(
        self,
        info: CollectionInfo,
        where: Mapping[str, Any],
        params: list[tuple[str, str]],
        stamp: dict[str, Any],
    ) -> FieldSupport:
        try:
            planned = translate.plan_where(where, taken={k for k, _ in params})
        except translate.WhereError as exc:
            raise UnsupportedQueryError(
                f"{self.name} (yuuvis, {info.name}) cannot filter where: {exc.reason}",
                backend=self.name,
                field="where",
                hint="keys that work here: " + ", ".join(WHERE_KEYS),
            ) from None
        params += planned.params
        stamp.update(planned.stamp)
        return planned.support()

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        """Definition names (every version's, once), read afresh: tools.suggest calls
        this once per TTL."""
        if field_name == "template":
            rows = await self._load_definitions(fresh=True)
            return [str(d["name"]) for d in rows if d.get("name")]
        return await super().suggest(field_name, collection)

    async def _load_definitions(self, *, fresh: bool = False) -> list[dict[str, Any]]:
        """Every process definition (all versions), fetched once per instance (`fresh`:
        again)."""
        async with self._lock:
            if fresh or self._definitions is None:
                out: list[dict[str, Any]] = []
                for page in range(1000):
                    body = await self.http.get_typed(
                        f"{API}/process-definitions",
                        Listed[dict[str, Any]],
                        params=[("page", str(page)), ("size", str(MAX_PAGE_SIZE))],
                    )
                    out.extend(body.objects)
                    if not body.has_more_items or not body.objects:
                        break
                self._definitions = out
            return self._definitions

    # -- fetch ------------------------------------------------------------------------------

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        offset = int(at or 0)
        if offset % size:
            raise AssertionError("page addressing needs page-aligned offsets")
        params = [*plan.native["params"], ("page", str(offset // size)), ("size", str(size))]
        parts = plan.parts
        # The fields only the extras and `where` read are decoded only when asked for.
        full = parts.extra or parts.attributes
        shape: type[Listed[Instance]] = Listed[FullInstance] if full else Listed[Instance]
        body = await self.http.get_typed(f"{API}/processes", shape, params=params)
        stamp = plan.native["stamp"]
        summaries = [self.to_summary(r, stamp, parts=parts) for r in body.objects]
        end = offset + len(body.objects)
        more = bool(body.has_more_items) and body.objects
        return PageResult(rows=summaries, next=end if more else None, total=body.total_num_items)

    def to_summary(
        self,
        raw: Instance | Mapping[str, Any],
        stamp: Mapping[str, Any] | None = None,
        *,
        parts: RowParts = EVERY_PART,
    ) -> ProcessSummary:
        return instance_summary(
            self.name, raw, stamp, extra=parts.extra, attributes=parts.attributes
        )

    # -- get --------------------------------------------------------------------------------

    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail:
        self.collection_info(collection)
        sections = details.sections(self.name, include, detail)
        params = [("includeProcessVariables", "true")] if "variables" in sections else []
        path = f"{API}/processes/{path_segment(process_id, INSTANCE_ID)}"
        raw = await self._get_or_explain(path, params, process_id)
        if not isinstance(raw, dict) or "id" not in raw:
            raise BackendResponseError("unexpected process shape (no id)", backend=self.name)
        summary = self.to_summary(raw)
        notes: list[str] = []
        extra = summary.extra or {}
        if detail != "full":
            keep = ("business_key", "duration", "ended_at", "delete_reason")
            extra = {k: v for k, v in extra.items() if k in keep}
        result = ProcessDetail(
            **summary.as_dict(exclude={"extra"}),
            extra=extra or None,
            description=raw.get("processDefinitionDescription") if detail == "full" else None,
            started_at=summary.created_at,
            completed_at=summary.updated_at if summary.status == "completed" else None,
        )
        if "variables" in sections:
            result.fields = details.variables(
                raw.get("variables"), notes, is_admin=self.settings.is_admin
            )
        if "tasks" in sections:
            history = await self._get_or_explain(f"{path}/history", [], process_id)
            result.tasks = details.tasks(history)
        result.notes = notes or None
        return result

    async def _get_or_explain(self, path: str, params: list[tuple[str, str]], pid: str) -> Any:
        try:
            return await self.http.get_json(path, params=params)
        except BackendNotFoundError as exc:
            scope = "" if self.settings.is_admin else " (this account sees only its own processes)"
            raise BackendNotFoundError(
                f"no process instance {shown(pid)}{scope}",
                backend=self.name,
                request=exc.request,
                status=exc.status,
                vendor_message=exc.vendor_message,
                hint=f"check the id; list_processes with backend={self.name} shows valid ids",
            ) from None

    async def check(self) -> str:
        s = self.settings
        body = await self.http.get_typed(
            f"{API}/processes", Listed[Instance], params=[("page", "0"), ("size", "1")]
        )
        total = body.total_num_items
        who = s.username or s.user_id or "the token's user"
        scope = "tenant admin" if s.is_admin else "own processes only"
        return f"ok: tenant {s.tenant} as {who} ({scope}), {total} process instances"
