"""A Tallyfy API simulator that behaves like the documented API, quirks included.

`create_app(data)` returns the `SimulatorCore` (tools.sim), which is the ASGI app to serve;
`core.requests`, `core.faults`, `core.latency`, `core.strict` control and observe it, and
`core.app.state.data` is the `TallyfyData` it serves. Routes live under
`{prefix}/organizations/{org}` (prefix "/api" as in the docs; pass "" for api.tallyfy.com).

Every request (checked in this order):
- `Authorization: Bearer <token>`, else 401 `{"message":"Unauthenticated."}` (Laravel's
  stock body; `auth_error_style` switches to the edge's or the plain-text form);
- `X-Tallyfy-Client: APIClient`, else the same 401 (the documented top cause of 401s);
- strict: an `Accept` that names application/json, else 406 (`*/*` is not enough);
- an org id other than `data.org_id`: 403 "This action is unauthorized." (chosen over 404:
  the org exists somewhere, the token just has no access to it);
- 100 requests per 60 s and 1,000 per hour per organization, whatever the token (sliding
  windows in the core, keyed by the org in the path): 429 "Too Many Attempts.", without
  Retry-After unless `Readings.retry_after_header` (header names are undocumented).
  Responses carry X-Request-Id.

Where the reference leaves a behaviour open, `Readings` picks the stricter reading by
default and offers the other (each field cites the reference line).

`GET /runs`:
- archived runs are hidden unless `archived=true` (include them) or `archived=only` (only
  them); `status=archived` alone finds nothing (`status_archived_shows` lifts the hiding);
- `q`: case-insensitive substring of the name OR the summary (wider than the documented
  "by name", so clients must re-check names; `q_match="name"` is the literal reading);
- `status`: exact match on run.status; `starred` = starred runs; `improvement` = none here;
- `owners`: comma-separated user ids; a run matches if ANY id is its owner OR a task assignee;
- `checklist_id` (alias `blueprint_id`) exact; `folder` = run is in that folder;
- `tag`: run has that tag; `tag_ids`: run has ANY of them (`tag_ids_match="all"`: every one);
- `untagged=true`: runs with no tags; `starred=true|false`; `type` exact; `groups`: a run
  or one of its tasks involves the group (the data has no groups, so nothing matches);
- `task_status`: some task is complete / active / incomplete / not-started / overdue /
  due_soon / hasproblem (an active task of a `problem` run), measured at `data.now`;
- `sort` (alias `sort_by`): name (case-insensitive), created_at, last_updated, `-` for
  descending, default `-created_at`; ties broken by id in the same direction. Unknown → 422;
- `page` (1-based, default 1), `per_page` (default 10): not a positive integer → 422;
  per_page > 100 is silently capped at 100 (`per_page_over_cap="reject"`: 422).
  `without_pagination=true`: every row, and (our stricter reading) no `meta` at all;
- `with`: checklist {"data":{…}}; tasks, tags, folders, ko_form_fields, next_task
  {"data":[…]}; assets, permissions, tasks_meta, form_fields, stages, whose shapes the docs
  do not show, are always {"data":[]}; nested `tasks.threads` counts as `tasks`;
- `form_fields_values` is validated and otherwise ignored (the values are in `prerun`).
Envelope: `{"data":[…],"meta":{"pagination":{total,count,per_page,current_page,total_pages,
links}}}`; `links` holds absolute `previous`/`next` URLs that repeat the request's query with
page=N±1 (PHP-style: commas come back as %2C) and is an empty ARRAY `[]` when there are none
(`empty_links`: or null, or missing). `total_pages` is counted at the 100 cap, not at the
per_page asked for (`total_pages_from="per_page"`: exact), so clients derive pages from
`total`. A page past the end is `data: []` with the true total (and a `previous` link).

Other endpoints (same paging, same strictness):
- `GET /runs/{id}`: `with` as above, `form_fields_values`; unknown id → 403 "This action is
  unauthorized." (`missing_run_status=404`: 404 "No query results for model [Run].");
- `GET /runs/{id}/tasks`: `status` (task tokens as for task_status), `owners`/`guests`/
  `groups` (any of them among the task's owners), `unassigned=true`, `deadline_start`/
  `deadline_end` (inclusive), `sort` position (default) | deadline, `with` step (the step
  object) | threads | comments | form_fields (always empty);
- `GET /users` and `GET /tags`: `q` (name or email / title), paging;
- `GET /checklists`: `q` on the title, `folder`, `owner_id`, `type`, `starred`, `tag`,
  `archived`, `sort` title (default) | created_at | last_updated, `with` steps | prerun |
  tags | folders; `GET /checklists/{id}` with `with`; unknown id → 404.
Unknown paths answer 404 `{"message":"Not Found","code":"NOT_FOUND","error":true}`.

Strict mode (default): an undocumented query parameter, a `with` value, status, type,
archived or task_status token outside the documented list, a non-boolean boolean, or a
non-integer owner id → 422 `{"message":"The given data was invalid.","errors":{…}}`.
Lenient mode ignores unknown parameters and `with` values.

Errors are `{"message","code","error":true}`, `code` derived from the message as api-v2 does
(upper-cased, punctuation removed, spaces to `_`, first 25 characters) — so a missing run is
`NO_QUERY_RESULTS_FOR_MODE`, not the 26-character spelling one might expect. JSON is
encoded like PHP's json_encode: `\\/` for slashes and `\\uXXXX` for non-ASCII.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tools.backends.tallyfy.data import Json, TallyfyData, parse_time
from tools.backends.tallyfy.simwire import (
    CHECKLIST_PARAMS,
    CHECKLIST_SORTS,
    CHECKLIST_WITH,
    FALSE,
    NO_EFFECT,
    ORG_IN_PATH,
    RUN_GET_PARAMS,
    RUN_LIST_PARAMS,
    RUN_SORTS,
    RUN_STATUSES,
    RUN_TYPES,
    RUN_WITH,
    SIMPLE_LIST_PARAMS,
    TASK_PARAMS,
    TASK_SORTS,
    TASK_STATUSES,
    TASK_WITH,
    TRUE,
    ApiError,
    AuthErrorStyle,
    LaravelJSON,
    Params,
    Readings,
    TagIdsMatch,
    error_body,
    error_code,
    error_json,
    owned_by,
    paginate,
    sort_key,
    status_matches,
    visible,
)
from tools.sim import RateLimit, RecordedRequest, SimulatorCore

__all__ = ["ApiError", "Readings", "create_app", "error_body", "error_code", "error_json"]


def create_app(
    data: TallyfyData,
    *,
    token: str = "sandbox-tallyfy-token",
    other_tokens: tuple[str, ...] = (),
    strict: bool = True,
    prefix: str = "/api",
    rate_limit: RateLimit | None = RateLimit(100, 60.0),  # noqa: B008 - immutable
    hourly_limit: RateLimit | None = RateLimit(1000, 3600.0),  # noqa: B008 - immutable
    clock: Callable[[], float] = time.monotonic,
    latency: float = 0.0,
    tag_ids_match: TagIdsMatch = "any",
    auth_error_style: AuthErrorStyle = "laravel",
    readings: Readings = Readings(),  # noqa: B008 - immutable
) -> SimulatorCore:
    """The Tallyfy simulator: a `SimulatorCore` (serve it) wrapping the Starlette app.

    `other_tokens` are further users' tokens of the same organization. `rate_limit=None`
    lifts every quota window, the hourly one too. `data` is treated as read-only from here
    on (orderings and results are cached)."""
    api = _Api(
        data,
        tokens=(token, *other_tokens),
        tag_ids_match=tag_ids_match,
        auth_error_style=auth_error_style,
        readings=readings,
    )
    base = f"{prefix.rstrip('/')}/organizations/{{org}}"
    routes = [
        Route(f"{base}/runs", api.list_runs),
        Route(f"{base}/runs/{{run_id}}", api.get_run),
        Route(f"{base}/runs/{{run_id}}/tasks", api.list_tasks),
        Route(f"{base}/users", api.list_users),
        Route(f"{base}/tags", api.list_tags),
        Route(f"{base}/checklists", api.list_checklists),
        Route(f"{base}/checklists/{{checklist_id}}", api.get_checklist),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
    )
    core = SimulatorCore(
        app,
        error_body=error_body,
        strict=strict,
        latency=latency,
        rate_limit_key=_org_of,
        rate_limit_message="Too Many Attempts.",
        rate_limit_retry_after=readings.retry_after_header,
        request_id_header="X-Request-Id",
        clock=clock,
    )
    # 100 requests a minute and 1,000 an hour, per organization (B.7), whatever the token.
    if rate_limit is not None:
        core.rate_limits = (rate_limit, *([hourly_limit] if hourly_limit else []))
    api.core = core
    app.state.data = data
    app.state.sim = core
    return core


def _org_of(request: RecordedRequest) -> str:
    match = ORG_IN_PATH.search(request.path)
    return match.group(1) if match else ""


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if isinstance(exc.body, str):
        return Response(exc.body, exc.status, exc.headers, media_type="text/plain")
    return LaravelJSON(exc.body, exc.status, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Not Found" if exc.status_code == 404 else (exc.detail or "Error")
    return LaravelJSON(error_json(message), exc.status_code, exc.headers)


class _Api:
    core: SimulatorCore

    def __init__(
        self,
        data: TallyfyData,
        *,
        tokens: tuple[str, ...],
        tag_ids_match: TagIdsMatch,
        auth_error_style: AuthErrorStyle,
        readings: Readings,
    ) -> None:
        self.data = data
        self.tokens = tokens
        self.readings = readings
        self.tag_ids_match = tag_ids_match
        self.auth_error_style = auth_error_style
        self.runs_by_id = {r["id"]: r for r in data.runs}
        self.checklists_by_id = {c["id"]: c for c in data.checklists}
        self.tags_by_id = {t["id"]: t for t in data.tags}
        self.folders_by_id = {f["id"]: f for f in data.folders}
        self._orders: dict[str, list[Json]] = {}
        self._results: dict[tuple[tuple[str, str], ...], list[Json]] = {}

    def _params(self, request: Request, allowed: Iterable[str]) -> Params:
        return Params(request, allowed, self.core.strict, self.readings.per_page_over_cap)

    def _page(
        self, request: Request, rows: list[Json], page: int, per_page: int, unpaged: bool
    ) -> dict[str, Any]:
        return paginate(request, rows, page, per_page, unpaged, self.readings)

    # -- endpoints -------------------------------------------------------------------

    async def list_runs(self, request: Request) -> Response:
        self._guard(request)
        p = self._params(request, RUN_LIST_PARAMS)
        keep = self._run_filters(p)
        p.boolean("form_fields_values")
        relations = p.with_(RUN_WITH)
        field, descending = p.sort(RUN_SORTS, "-created_at", "sort", "sort_by")
        page, per_page, unpaged = p.paging()
        p.check()
        rows = self._matching_runs(request, keep, field, descending)
        body = self._page(request, rows, page, per_page, unpaged)
        body["data"] = [self._render_run(r, relations) for r in body["data"]]
        return LaravelJSON(body)

    async def get_run(self, request: Request) -> Response:
        self._guard(request)
        run = self._run_or_404(request)
        p = self._params(request, RUN_GET_PARAMS)
        relations = p.with_(RUN_WITH)
        p.boolean("form_fields_values")
        p.check()
        return LaravelJSON({"data": self._render_run(run, relations)})

    async def list_tasks(self, request: Request) -> Response:
        self._guard(request)
        # Route-model binding runs before validation in Laravel: 404 beats 422.
        run = self._run_or_404(request)
        p = self._params(request, TASK_PARAMS)
        keep: list[Callable[[Json], bool]] = []
        if (token := p.choice("status", TASK_STATUSES)) is not None:
            keep.append(lambda t: self._task_is(t, token, run["status"]))
        if (users := p.ints("owners")) is not None:
            keep.append(owned_by("users", users))
        if (guests := p.csv("guests")) is not None:
            keep.append(owned_by("guests", guests))
        if (groups := p.csv("groups")) is not None:
            keep.append(owned_by("groups", groups))
        if p.boolean("unassigned") is True:
            keep.append(lambda t: not any(t["owners"].values()))
        if (start := p.date("deadline_start")) is not None:
            keep.append(lambda t: parse_time(t["deadline"]) >= start)
        if (end := p.date("deadline_end")) is not None:
            keep.append(lambda t: parse_time(t["deadline"]) <= end)
        relations = p.with_(TASK_WITH)
        field, descending = p.sort(TASK_SORTS, "position", "sort")
        page, per_page, unpaged = p.paging()
        p.check()
        tasks = [t for t in self.data.tasks[run["id"]] if all(f(t) for f in keep)]
        tasks.sort(key=sort_key(field, text_fields=()), reverse=descending)
        body = self._page(request, tasks, page, per_page, unpaged)
        body["data"] = [self._render_task(t, relations) for t in body["data"]]
        return LaravelJSON(body)

    async def list_users(self, request: Request) -> Response:
        return self._simple_list(request, self.data.users, ("full_name", "email"))

    async def list_tags(self, request: Request) -> Response:
        return self._simple_list(request, self.data.tags, ("title",))

    async def list_checklists(self, request: Request) -> Response:
        self._guard(request)
        p = self._params(request, CHECKLIST_PARAMS)
        q = p.text("q")
        folder, owner = p.text("folder"), p.text("owner_id")
        kind = p.choice("type", RUN_TYPES)
        starred = p.boolean("starred")
        tag = p.text("tag")
        archived = p.choice("archived", TRUE | FALSE | {"only"})
        relations = p.with_(CHECKLIST_WITH)
        field, descending = p.sort(CHECKLIST_SORTS, "title", "sort", "sort_by")
        page, per_page, unpaged = p.paging()
        p.check()
        # Every sandbox template is an active, unstarred, untagged procedure.
        rows = [
            c
            for c in self.data.checklists
            if (q is None or q.casefold() in c["title"].casefold())
            and (folder is None or c["folder_id"] == folder)
            and (owner is None or str(c["owner_id"]) == owner)
            and (kind is None or c["type"] == kind)
            and starred is not True
            and tag is None
            and archived != "only"
        ]
        rows.sort(key=sort_key(field, text_fields=("title",)), reverse=descending)
        body = self._page(request, rows, page, per_page, unpaged)
        body["data"] = [self._render_checklist(c, relations) for c in body["data"]]
        return LaravelJSON(body)

    async def get_checklist(self, request: Request) -> Response:
        self._guard(request)
        checklist = self.checklists_by_id.get(request.path_params["checklist_id"])
        if checklist is None:
            raise ApiError(404, error_json("No query results for model [Checklist]."))
        p = self._params(request, frozenset({"with"}))
        relations = p.with_(CHECKLIST_WITH)
        p.check()
        return LaravelJSON({"data": self._render_checklist(checklist, relations)})

    # -- checks ----------------------------------------------------------------------

    def _guard(self, request: Request) -> None:
        headers = request.headers
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credential.strip() not in self.tokens:
            raise self._unauthenticated()
        if headers.get("x-tallyfy-client") != "APIClient":
            raise self._unauthenticated()
        if self.core.strict and "application/json" not in headers.get("accept", "").lower():
            raise ApiError(406, error_json("Not Acceptable."))
        if request.path_params["org"] != self.data.org_id:
            raise ApiError(403, error_json("This action is unauthorized."))

    def _unauthenticated(self) -> ApiError:
        if self.auth_error_style == "edge":
            body: Json | str = {
                "error": "unauthorized",
                "message": "Permission denied. Error code: APSH213.",
            }
        elif self.auth_error_style == "plain":
            body = "Unauthorized."
        else:
            body = {"message": "Unauthenticated."}
        return ApiError(401, body)

    def _run_or_404(self, request: Request) -> Json:
        run = self.runs_by_id.get(request.path_params["run_id"])
        if run is None:
            if self.readings.missing_run_status == 403:
                raise ApiError(403, error_json("This action is unauthorized."))
            raise ApiError(404, error_json("No query results for model [Run]."))
        return run

    # -- filtering -------------------------------------------------------------------

    def _matching_runs(
        self, request: Request, keep: list[Callable[[Json], bool]], field: str, descending: bool
    ) -> list[Json]:
        """Filtered, sorted runs. The data never changes, so each ordering is computed once
        and each filter result is cached: paging through 10k runs costs one scan, not one
        per page, and the benchmarks measure the client rather than the simulator."""
        key = tuple(
            sorted((k, v) for k, v in request.query_params.multi_items() if k not in NO_EFFECT)
        )
        rows = self._results.get(key)
        if rows is None:
            ordered = self._orders.get(field)
            if ordered is None:
                ordered = sorted(self.data.runs, key=sort_key(field, text_fields=("name",)))
                self._orders[field] = ordered
            rows = [r for r in ordered if all(f(r) for f in keep)]
            if descending:
                rows.reverse()  # ties by id reverse with it: "same direction"
            if len(self._results) >= 256:
                self._results.pop(next(iter(self._results)))
            self._results[key] = rows
        return rows

    def _run_filters(self, p: Params) -> list[Callable[[Json], bool]]:
        """One predicate per filter the request asked for (parsing errors go to `p`)."""
        data = self.data
        status = p.choice("status", RUN_STATUSES)
        archived = p.choice("archived", TRUE | FALSE | {"only"})
        lifts = self.readings.status_archived_shows
        keep: list[Callable[[Json], bool]] = [
            lambda r: visible(r["status"] == "archived", status if lifts else None, archived)
        ]
        if status is not None:
            keep.append(lambda r: status_matches(r, status))
        if (q := p.text("q")) is not None:
            needle = q.casefold()
            if self.readings.q_match == "name":
                keep.append(lambda r: needle in r["name"].casefold())
            else:
                keep.append(lambda r: needle in f"{r['name']}\n{r['summary']}".casefold())
        if (owners := p.ints("owners")) is not None:
            wanted = set(owners)
            keep.append(
                lambda r: r["owner_id"] in wanted or bool(wanted & set(data.assignees[r["id"]]))
            )
        if (checklist := p.text("checklist_id", "blueprint_id")) is not None:
            keep.append(lambda r: r["checklist_id"] == checklist)
        if (folder := p.text("folder")) is not None:
            keep.append(lambda r: folder in data.run_folders[r["id"]])
        if (tag := p.text("tag")) is not None:
            keep.append(lambda r: tag in data.run_tags[r["id"]])
        if (tag_ids := p.csv("tag_ids")) is not None:
            keep.append(lambda r: self._tags_match(data.run_tags[r["id"]], tag_ids))
        if p.boolean("untagged") is True:
            keep.append(lambda r: not data.run_tags[r["id"]])
        if (starred := p.boolean("starred")) is not None:
            keep.append(lambda r: r["starred"] is starred)
        if (kind := p.choice("type", RUN_TYPES)) is not None:
            keep.append(lambda r: r["type"] == kind)
        if (groups := p.csv("groups")) is not None:
            keep.append(lambda r: self._involves_groups(r, groups))
        if (token := p.choice("task_status", TASK_STATUSES)) is not None:
            keep.append(
                lambda r: any(self._task_is(t, token, r["status"]) for t in data.tasks[r["id"]])
            )
        return keep

    def _tags_match(self, tags: list[str], wanted: list[str]) -> bool:
        hits = [t in tags for t in wanted]
        return all(hits) if self.tag_ids_match == "all" else any(hits)

    def _involves_groups(self, run: Json, groups: list[str]) -> bool:
        involved = {str(g) for g in run["groups"]}
        for task in self.data.tasks[run["id"]]:
            involved.update(str(g) for g in task["owners"]["groups"])
        return bool(involved & set(groups))

    def _task_is(self, task: Json, token: str, run_status: str) -> bool:
        state = task["status"]
        incomplete = state in ("active", "not-started")
        now = self.data.now
        if token == "complete":
            return bool(state == "completed")
        if token in ("active", "active_visible", "inprogress"):
            return bool(state == "active")
        if token == "incomplete":
            return incomplete
        if token == "not-started":
            return bool(state == "not-started")
        if token == "overdue":
            return incomplete and parse_time(task["deadline"]) < now
        if token == "due_soon":
            return incomplete and now <= parse_time(task["deadline"]) <= now + timedelta(days=7)
        if token == "hasproblem":
            return state == "active" and run_status == "problem"
        return False

    # -- rendering -------------------------------------------------------------------

    def _render_run(self, run: Json, relations: set[str]) -> Json:
        out = dict(run)
        run_id = run["id"]
        tasks = self.data.tasks[run_id]
        for name in sorted(relations):
            value: Json | list[Json]
            if name == "checklist":
                value = self.checklists_by_id[run["checklist_id"]]
            elif name == "tasks":
                value = tasks
            elif name == "tags":
                value = [self.tags_by_id[t] for t in self.data.run_tags[run_id]]
            elif name == "folders":
                value = [self.folders_by_id[f] for f in self.data.run_folders[run_id]]
            elif name == "next_task":
                value = [t for t in tasks if t["status"] == "active"][:1]
            elif name == "ko_form_fields":
                value = self.data.kickoff_fields[run["checklist_id"]]
            else:
                value = []
            out[name] = {"data": value}
        return out

    def _render_task(self, task: Json, relations: set[str]) -> Json:
        out = dict(task)
        for name in sorted(relations):
            if name == "step":
                steps = self.data.steps[task["checklist_id"]]
                step = next(s for s in steps if s["id"] == task["step_id"])
                out["step"] = {"data": step}
            else:
                out[name] = {"data": []}
        return out

    def _render_checklist(self, checklist: Json, relations: set[str]) -> Json:
        out = dict(checklist)
        cid = checklist["id"]
        for name in sorted(relations):
            value: list[Json] = []
            if name == "steps":
                value = self.data.steps[cid]
            elif name == "prerun":
                value = self.data.kickoff_fields[cid]
            elif name == "folders":
                value = [self.folders_by_id[checklist["folder_id"]]]
            out[name] = {"data": value}
        return out

    def _simple_list(self, request: Request, rows: list[Json], fields: tuple[str, ...]) -> Response:
        self._guard(request)
        p = self._params(request, SIMPLE_LIST_PARAMS)
        q = p.text("q")
        page, per_page, unpaged = p.paging()
        p.check()
        if q is not None:
            rows = [r for r in rows if any(q.casefold() in str(r[f]).casefold() for f in fields)]
        return LaravelJSON(self._page(request, rows, page, per_page, unpaged))
