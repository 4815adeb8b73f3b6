"""Tallyfy process runs: the unified query to `GET /organizations/{org}/runs` and back.

Translation choices (facts: shared/reference/chakra-and-tallyfy.md part B):
- status: Tallyfy filters one `status` per request, and hides archived runs unless asked.
  One wanted native status is sent as `status=`; several are fetched together and checked
  locally (narrowed); any wanted archived run adds `archived=true`, so "no status filter"
  really means every status.
- text: `q` ("search processes by name") may match more than the name, so each row's name
  is re-checked (narrowed).
- owner: `owners=` matches the owner OR any task assignee (documented), so the owner is
  re-checked (narrowed). An owner is a user id or an email, resolved through `/users`.
- template: `checklist_id`; a template title is resolved to its id through `/checklists`.
- tags: names resolved through `/tags`; the first is sent as `tag=` and the rest checked
  locally, which is right whatever `tag_ids` means (any-of or all-of is undocumented).
- dates: no parameters exist, so they are local; the driver stops early on `-created_at`.
- sort: `name` and `created_at` (documented); other keys are refused, never faked.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from tools.arguments import shown
from tools.backends.base import (
    Backend,
    Capabilities,
    Count,
    FieldSupport,
    InstanceSettings,
    PageResult,
    Plan,
    Position,
    RowParts,
)
from tools.backends.tallyfy.directory import Directory, all_pages
from tools.backends.tallyfy.info import (
    LIST_WITH,
    NATIVE_STATUS,
    RUN_ID,
    RUNS,
    SECTIONS,
    SORTS,
    TEMPLATE_ID,
    TallyfySettings,
    fields,
    relation,
    summary,
    tallyfy_error_message,
    tasks,
)
from tools.backends.tallyfy.shapes import FullRun, ListPage, Run
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    BackendResponseError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.ids import path_segment
from tools.limits import RateLimit
from tools.model import (
    Detail,
    ProcessDetail,
    ProcessSummary,
    parse_time,
)
from tools.query import ProcessQuery

if TYPE_CHECKING:
    import httpx

__all__ = ["NATIVE_STATUS", "RUNS", "SORTS", "TallyfyBackend", "TallyfySettings"]


class TallyfyBackend(Backend):
    kind: ClassVar[str] = "tallyfy"

    @classmethod
    def account_key(cls, settings: InstanceSettings) -> str:
        # The quota is the organization's (reference B.7), whatever the token.
        org = getattr(settings, "org", "")
        return f"{super().account_key(settings)}|org={str(org).strip().lower()}"

    settings_model: ClassVar[type[InstanceSettings]] = TallyfySettings
    # 100 requests a minute and 1,000 an hour per organization (reference B.7), the
    # published figures: the limiter paces arrivals, whatever the latency (tools/limiter.py).
    default_rate_limit: ClassVar[RateLimit | None] = RateLimit(
        100,
        60.0,
        also=(RateLimit(1000, 3600.0),),
    )
    error_message: ClassVar[Callable[[httpx.Response], str | None] | None] = staticmethod(
        tallyfy_error_message
    )

    settings: TallyfySettings

    def __init__(self, settings: InstanceSettings, http: Any) -> None:
        super().__init__(settings, http)
        self._dir = Directory(lambda kind: all_pages(self.http, self._org_path, kind))

    @classmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        token = settings.token.get_secret_value() if settings.token else ""
        return {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            # Without it Tallyfy answers 401: the documented top cause of auth failures.
            "X-Tallyfy-Client": "APIClient",
        }

    def capabilities(self) -> Capabilities:
        return Capabilities(
            kind=self.kind,
            collections=(RUNS,),
            default_collection="runs",
            max_page_size=100,
            addressing="page",
            parallel_pages=4,
            total_known=True,
        )

    @property
    def _org_path(self) -> str:
        # The org comes from the config, not the model, but is still one segment.
        return f"/organizations/{quote(self.settings.org.strip(), safe='')}"

    # -- plan -------------------------------------------------------------------------------

    async def plan(self, query: ProcessQuery) -> Plan:
        info = self.collection_info(query.collection)
        params: list[tuple[str, str]] = []
        applied: dict[str, FieldSupport] = {}
        warnings: list[str] = []

        if query.where is not None:
            self.refuse(info, "where", "Tallyfy runs have no attribute filters")
        if query.sort not in SORTS:
            raise UnsupportedQueryError(
                f"{self.name} (tallyfy) cannot sort by {query.sort}",
                backend=self.name,
                field="sort",
                hint="use one of: "
                + ", ".join(SORTS)
                + "; for recent activity combine sort=-created_at with updated_after",
            )

        self._plan_status(query, params, applied, warnings)
        if query.text is not None:
            params.append(("q", query.text))
            applied["text"] = FieldSupport("narrowed", "q= searched, names re-checked")
        if query.owner is not None:
            user_id = await self._resolve_owner(query.owner)
            params.append(("owners", user_id))
            applied["owner"] = FieldSupport("narrowed", "owners= also matches task assignees")
        if query.template is not None:
            applied["template"] = await self._plan_template(query.template, params)
        if query.tags is not None:
            applied["tags"] = await self._plan_tags(query.tags, params)
        for name in ("created_after", "created_before", "updated_after", "updated_before"):
            if getattr(query, name) is not None:
                applied[name] = RUNS.support(name)

        params.append(("with", LIST_WITH))
        params.append(("sort", SORTS[query.sort]))
        return Plan(
            collection=info.name,
            native=params,
            applied=applied,
            sort=query.sort,
            warnings=warnings,
            parts=RowParts.of(query),
        )

    def _plan_status(
        self,
        query: ProcessQuery,
        params: list[tuple[str, str]],
        applied: dict[str, FieldSupport],
        warnings: list[str],
    ) -> None:
        if query.native_status is not None:
            unknown = [v for v in query.native_status if v.casefold() not in NATIVE_STATUS]
            if unknown:
                raise InvalidArgumentError(
                    f"{self.name}: unknown Tallyfy status {', '.join(map(repr, unknown))}",
                    field="native_status",
                    hint="Tallyfy run statuses are: " + ", ".join(NATIVE_STATUS),
                )
        if query.status is not None:
            expressible = [s for s in query.status if s in NATIVE_STATUS.values()]
            if not expressible:
                raise UnsupportedQueryError(
                    f"{self.name}: Tallyfy runs are never {', '.join(query.status)}",
                    backend=self.name,
                    field="status",
                    hint="statuses here are open, completed and cancelled",
                )
            if len(expressible) < len(query.status):
                missing = sorted(set(query.status) - set(expressible))
                warnings.append(f"no Tallyfy run is ever {', '.join(missing)}")

        wanted = [
            native
            for native, unified in NATIVE_STATUS.items()
            if (query.status is None or unified in query.status)
            and (
                query.native_status is None or native in {v.casefold() for v in query.native_status}
            )
        ]
        used = [f for f in ("status", "native_status") if getattr(query, f) is not None]
        if len(wanted) == len(NATIVE_STATUS):
            params.append(("archived", "true"))
            mode = FieldSupport("native", "archived=true includes archived runs")
        elif wanted == ["archived"]:
            # `status=archived` is a documented value, but not that it lifts the hiding of
            # archived runs; `archived=only` is what the first-party MCP sends (B.4).
            params.append(("archived", "only"))
            mode = FieldSupport("native", "archived=only")
        elif len(wanted) == 1:
            params.append(("status", wanted[0]))
            mode = FieldSupport("native", f"status={wanted[0]}")
        elif not wanted:
            raise InvalidArgumentError(
                f"{self.name}: status and native_status exclude each other, so nothing can match",
                field="native_status",
                hint="Tallyfy maps "
                + ", ".join(f"{n}->{u}" for n, u in NATIVE_STATUS.items())
                + "; keep only one of the two filters",
            )
        else:
            if "archived" in wanted:
                params.append(("archived", "true"))
            mode = FieldSupport(
                "narrowed", f"{', '.join(wanted)} fetched together, checked locally"
            )
        for f in used:
            applied[f] = mode

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        """Template titles and user emails, read afresh (tools.suggest calls this once
        per TTL), which also refreshes what plan() resolves names with."""
        if field_name == "template":
            rows = await self._dir.load("checklists", fresh=True)
            return [str(c["title"]) for c in rows if c.get("title")]
        if field_name == "owner":
            rows = await self._dir.load("users", fresh=True)
            return [str(u["email"]) for u in rows if u.get("email")]
        return await super().suggest(field_name, collection)

    async def _resolve_owner(self, owner: str) -> str:
        users = await self._dir.load("users")
        wanted = owner.strip().casefold()
        for user in users:
            if str(user.get("id")) == wanted or str(user.get("email", "")).casefold() == wanted:
                return str(user["id"])
        labels = [f"{u.get('email')} ({u.get('full_name') or u.get('id')})" for u in users]
        close = difflib.get_close_matches(owner, [str(u.get("email")) for u in users], n=3)
        by_name = [
            str(u.get("email"))
            for u in users
            if wanted in str(u.get("full_name", "")).casefold()
            or wanted == str(u.get("username", "")).casefold()
        ]
        suggestions = by_name or close
        hint = "give a user id or email"
        if suggestions:
            hint += "; did you mean " + " or ".join(suggestions) + "?"
        else:
            hint += "; users here: " + ", ".join(labels[:10])
        raise InvalidArgumentError(f"{self.name}: no user {shown(owner)}", field="owner", hint=hint)

    async def _plan_template(self, template: str, params: list[tuple[str, str]]) -> FieldSupport:
        checklists = await self._dir.load("checklists")
        wanted = template.strip().casefold()
        by_id = [c for c in checklists if str(c.get("id", "")).casefold() == wanted]
        by_title = [c for c in checklists if str(c.get("title", "")).casefold() == wanted]
        found = by_id or by_title
        if not found:
            titles = sorted({str(c.get("title")) for c in checklists})
            raise InvalidArgumentError(
                f"{self.name}: no template {shown(template)}",
                field="template",
                hint="use a template id or one of these titles: " + ", ".join(titles),
            )
        if len(found) == 1:
            params.append(("checklist_id", str(found[0]["id"])))
            return FieldSupport("native", "checklist_id")
        return FieldSupport("local", f"{len(found)} templates share this title; checked locally")

    async def _plan_tags(
        self, tags: tuple[str, ...], params: list[tuple[str, str]]
    ) -> FieldSupport:
        known = await self._dir.load("tags")
        ids: list[str] = []
        for tag in tags:
            match = [t for t in known if str(t.get("title", "")).casefold() == tag.casefold()]
            if not match:
                names = sorted(str(t.get("title")) for t in known)
                raise InvalidArgumentError(
                    f"{self.name}: no tag {shown(tag)}",
                    field="tags",
                    hint="tags here are: " + ", ".join(names),
                )
            ids.append(str(match[0]["id"]))
        params.append(("tag", ids[0]))
        if len(ids) == 1:
            return FieldSupport("native", "tag=")
        return FieldSupport("narrowed", "first tag sent as tag=, the others checked locally")

    # -- fetch ------------------------------------------------------------------------------

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        offset = int(at or 0)
        if offset % size:
            raise AssertionError("page addressing needs page-aligned offsets")
        params = [*plan.native, ("page", str(offset // size + 1)), ("per_page", str(size))]
        # The extras' fields are decoded only when the answer shows them.
        extra = plan.parts.extra
        shape: type[ListPage[Run]] = ListPage[FullRun] if extra else ListPage[Run]
        body = await self.http.get_typed(f"{self._org_path}/runs", shape, params=params)
        rows, total = body.data, body.total
        users = await self._users_by_id()
        summaries = [summary(self.name, r, users, extra=extra) for r in rows]
        end = offset + len(rows)
        more = end < total if total is not None else len(rows) == size
        return PageResult(rows=summaries, next=end if more and rows else None, total=total)

    async def count(self, plan: Plan) -> Count | None:
        """`meta.pagination.total` of a one-row page, with only the filters: no `with`
        (relations) and no `sort` (a count has no order). The sample row names its owner
        only once the user directory is loaded: a count never loads it."""
        params = [(k, v) for k, v in plan.native if k not in ("with", "sort")]
        body = await self.http.get_typed(
            f"{self._org_path}/runs", ListPage[Run], params=[*params, ("per_page", "1")]
        )
        rows, total = body.data, body.total
        if total is None:
            return None
        users = {str(u.get("id")): u for u in self._dir.cached("users") or []}
        sample = summary(self.name, rows[0], users) if rows else None
        return Count(total, sample)

    async def _users_by_id(self) -> dict[str, dict[str, Any]]:
        return {str(u.get("id")): u for u in await self._dir.load("users")}

    def to_summary(
        self,
        raw: Mapping[str, Any],
        users: Mapping[str, Mapping[str, Any]],
        *,
        extra: bool = True,
    ) -> ProcessSummary:
        return summary(self.name, raw, users, extra=extra)

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
        sections = self._sections(include, detail)
        with_ = ["tags"]
        with_ += ["tasks"] if "tasks" in sections else []
        # Kick-off values are keyed by field timeline_id; the definitions give the labels.
        with_ += ["ko_form_fields"] if "fields" in sections else []
        params = [("with", ",".join(with_))]
        if "fields" in sections:
            params.append(("form_fields_values", "true"))
        run = path_segment(process_id, RUN_ID)
        try:
            body = await self.http.get_json(f"{self._org_path}/runs/{run}", params=params)
        except (BackendNotFoundError, BackendAuthError) as exc:
            # Tallyfy answers a missing or forbidden run with 404 or 403 (reference B.6):
            # a 403 here is about this run, not the token, as long as the token lists runs.
            if isinstance(exc, BackendAuthError) and (
                exc.status != 403 or not await self._can_list()
            ):
                raise
            seen = " that this token can see" if exc.status == 403 else ""
            raise BackendNotFoundError(
                f"no run {shown(process_id)}{seen}",
                backend=self.name,
                request=exc.request,
                status=exc.status,
                vendor_message=exc.vendor_message,
                hint=f"check the id; list_processes with backend={self.name} shows valid ids",
            ) from None
        raw = body.get("data") if isinstance(body, dict) else None
        if not isinstance(raw, dict):
            raise BackendResponseError("unexpected run shape (no data object)", backend=self.name)
        users = await self._users_by_id()
        summary = self.to_summary(raw, users)
        notes: list[str] = []
        result = ProcessDetail(
            **summary.as_dict(exclude={"extra"}),
            extra=summary.extra if detail == "full" else None,
            description=raw.get("summary") or None,
            started_at=parse_time(raw.get("started_at")),
            completed_at=parse_time(raw.get("completed_at")),
        )
        if "tasks" in sections:
            result.tasks = tasks(relation(raw, "tasks") or [], users)
        if "fields" in sections:
            labels = {
                str(f.get("timeline_id")): str(f.get("label"))
                for f in relation(raw, "ko_form_fields") or []
                if isinstance(f, dict) and f.get("label")
            }
            result.fields = fields(raw.get("prerun"), labels, notes)
        if "definition" in sections and raw.get("checklist_id"):
            result.sections = {"definition": await self._definition(str(raw["checklist_id"]))}
        result.notes = notes or None
        return result

    def _sections(self, include: frozenset[str] | None, detail: Detail) -> frozenset[str]:
        if include is None:
            return frozenset(SECTIONS) if detail == "full" else frozenset({"tasks"})
        unknown = include - set(SECTIONS)
        if unknown:
            raise InvalidArgumentError(
                f"{self.name}: Tallyfy runs have no section {', '.join(sorted(unknown))}",
                field="include",
                hint="sections here: " + ", ".join(SECTIONS),
            )
        return include

    async def _definition(self, checklist_id: str) -> dict[str, Any]:
        template = path_segment(checklist_id, TEMPLATE_ID)
        body = await self.http.get_json(
            f"{self._org_path}/checklists/{template}", params=[("with", "steps")]
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return {"id": checklist_id}
        steps = relation(data, "steps") or []
        return {
            "id": checklist_id,
            "title": data.get("title"),
            "steps": [s.get("title") for s in steps if isinstance(s, dict)],
        }

    async def _can_list(self) -> bool:
        """Whether the token reaches the organization at all (one cached lookup)."""
        try:
            await self._dir.load("users")
        except BackendAuthError:
            return False
        return True

    async def check(self) -> str:
        body = await self.http.get_typed(
            f"{self._org_path}/runs",
            ListPage[Run],
            params=[("per_page", "1"), ("archived", "true")],
        )
        total = body.total
        return f"ok: organization {self.settings.org}, {total} runs"
