"""The Tallyfy simulator behaves like the documented API (reference part B), quirks included."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tools.backends.tallyfy.data import TallyfyData, generate, parse_time
from tools.backends.tallyfy.simulator import Readings, create_app, error_code
from tools.sim import Fault, RateLimit, SimServer, hostile

TOKEN = "sandbox-tallyfy-token"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "X-Tallyfy-Client": "APIClient",
    "Accept": "application/json",
}
# Keys of a run as the docs show them (get-run keys plus the list sample's extras).
RUN_KEYS = {
    "id", "increment_id", "checklist_id", "checklist_title", "name", "summary", "status",
    "progress", "whole_progress", "started_by", "owner_id", "prerun", "prerun_status",
    "starred", "created_at", "started_at", "last_updated", "archived_at", "completed_at",
    "due_date", "due_date_passed", "due_soon", "late_tasks", "collaborators", "type",
    "is_public", "users", "groups", "parent_id", "can_add_oot",
}  # fmt: skip
TASK_KEYS = {
    "id", "increment_id", "title", "run_id", "checklist_id", "step_id", "alias", "status",
    "position", "owners", "deadline", "created_at", "last_updated", "completed_at",
    "task_type", "is_oneoff_task",
}  # fmt: skip
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def data() -> TallyfyData:
    return generate()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(data: TallyfyData) -> AsyncIterator[MakeClient]:
    """Builds a simulator (keyword args go to create_app) and a client for it."""
    clients: list[httpx.AsyncClient] = []

    def build(headers: dict[str, str] | None = None, **options: Any) -> httpx.AsyncClient:
        options.setdefault("rate_limit", None)
        sim = create_app(data, **options)
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim),
            base_url=f"http://sim.test/api/organizations/{data.org_id}",
            headers=HEADERS if headers is None else headers,
        )
        clients.append(c)
        return c

    yield build
    for c in clients:
        await c.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client()


def visible(data: TallyfyData) -> list[dict[str, Any]]:
    return [r for r in data.runs if r["status"] != "archived"]


# -- headers and auth ------------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_x_tallyfy_client_header_is_401_unauthenticated(
    make_client: MakeClient,
) -> None:
    c = make_client(headers={k: v for k, v in HEADERS.items() if k != "X-Tallyfy-Client"})
    r = await c.get("/runs")
    assert r.status_code == 401
    assert r.json() == {"message": "Unauthenticated."}


@pytest.mark.anyio
async def test_bad_token_is_401_unauthenticated(make_client: MakeClient) -> None:
    c = make_client(headers={**HEADERS, "Authorization": "Bearer wrong"})
    r = await c.get("/runs")
    assert r.status_code == 401
    assert r.json() == {"message": "Unauthenticated."}


@pytest.mark.anyio
async def test_other_documented_401_forms_are_available(make_client: MakeClient) -> None:
    headers = {**HEADERS, "Authorization": "Bearer wrong"}
    edge = await make_client(headers=headers, auth_error_style="edge").get("/runs")
    plain = await make_client(headers=headers, auth_error_style="plain").get("/runs")
    assert edge.json()["message"] == "Permission denied. Error code: APSH213."
    assert "code" not in edge.json()
    assert (plain.status_code, plain.text) == (401, "Unauthorized.")


@pytest.mark.anyio
async def test_strict_mode_requires_accept_application_json(make_client: MakeClient) -> None:
    without = {**HEADERS, "Accept": "*/*"}
    assert (await make_client(headers=without).get("/runs")).status_code == 406
    assert (await make_client(headers=without, strict=False).get("/runs")).status_code == 200


@pytest.mark.anyio
async def test_unknown_organization_is_403(client: httpx.AsyncClient) -> None:
    r = await client.get("http://sim.test/api/organizations/someone-else/runs")
    assert r.status_code == 403
    assert r.json()["error"] is True


@pytest.mark.anyio
async def test_responses_carry_a_request_id(client: httpx.AsyncClient) -> None:
    assert (await client.get("/runs")).headers["x-request-id"]


# -- validation: strict vs lenient -----------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("strict", [True, False])
async def test_per_page_over_100_is_silently_capped_at_100_by_default(
    make_client: MakeClient, strict: bool
) -> None:
    # "The server caps per_page at 100" (reference B.3): a cap, not a refusal.
    r = await make_client(strict=strict).get("/runs", params={"per_page": 150})
    assert r.status_code == 200
    assert r.json()["meta"]["pagination"]["per_page"] == 100
    assert len(r.json()["data"]) == 100


@pytest.mark.anyio
async def test_per_page_over_100_is_a_laravel_422_when_the_cap_rejects(
    make_client: MakeClient,
) -> None:
    c = make_client(readings=Readings(per_page_over_cap="reject"))
    r = await c.get("/runs", params={"per_page": 150})
    assert r.status_code == 422
    assert r.json() == {
        "message": "The given data was invalid.",
        "errors": {"per_page": ["The per page may not be greater than 100."]},
    }


@pytest.mark.anyio
async def test_total_pages_is_counted_at_the_cap_not_at_the_per_page_asked_for(
    make_client: MakeClient, data: TallyfyData
) -> None:
    # "total_pages may not match the requested per_page; derive pages from total" (B.3).
    params = {"per_page": 7, "archived": "true"}
    quirky = (await make_client().get("/runs", params=params)).json()["meta"]["pagination"]
    assert quirky["total"] == len(data.runs)
    assert quirky["total_pages"] == -(-len(data.runs) // 100)
    exact = make_client(readings=Readings(total_pages_from="per_page"))
    pagination = (await exact.get("/runs", params=params)).json()["meta"]["pagination"]
    assert pagination["total_pages"] == -(-len(data.runs) // 7)


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5"])
async def test_page_and_per_page_must_be_positive_integers_in_both_modes(
    make_client: MakeClient, value: str
) -> None:
    for strict in (True, False):
        c = make_client(strict=strict)
        r = await c.get("/runs", params={"page": value, "per_page": value})
        assert r.status_code == 422
        assert set(r.json()["errors"]) == {"page", "per_page"}


@pytest.mark.anyio
async def test_unknown_parameter_is_422_in_strict_mode(client: httpx.AsyncClient) -> None:
    r = await client.get("/runs", params={"name_contains": "Globex"})
    assert r.status_code == 422
    assert r.json()["errors"] == {
        "name_contains": ["The name_contains parameter is not supported."]
    }


@pytest.mark.anyio
async def test_unknown_parameter_is_ignored_in_lenient_mode(
    make_client: MakeClient, data: TallyfyData
) -> None:
    r = await make_client(strict=False).get("/runs", params={"name_contains": "Globex"})
    assert r.status_code == 200
    assert r.json()["meta"]["pagination"]["total"] == len(visible(data))


@pytest.mark.anyio
async def test_unknown_with_value_is_422_in_strict_mode_and_ignored_in_lenient(
    make_client: MakeClient,
) -> None:
    strict = await make_client().get("/runs", params={"with": "tasks,bogus"})
    assert strict.status_code == 422
    assert "with" in strict.json()["errors"]
    lenient = await make_client(strict=False).get("/runs", params={"with": "tasks,bogus"})
    assert lenient.status_code == 200
    assert "bogus" not in lenient.json()["data"][0]
    assert "tasks" in lenient.json()["data"][0]


@pytest.mark.anyio
async def test_unknown_sort_field_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/runs", params={"sort": "-deadline"})
    assert r.status_code == 422
    assert r.json()["errors"] == {"sort": ["The selected sort is invalid."]}


# -- pagination envelope ---------------------------------------------------------------


@pytest.mark.anyio
async def test_links_is_an_empty_array_when_everything_fits_on_one_page(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    r = await client.get("/runs", params={"status": "problem", "per_page": 100})
    pagination = r.json()["meta"]["pagination"]
    problems = [x for x in data.runs if x["status"] == "problem"]
    assert pagination == {
        "total": len(problems),
        "count": len(problems),
        "per_page": 100,
        "current_page": 1,
        "total_pages": 1,
        "links": [],
    }


@pytest.mark.anyio
async def test_links_hold_absolute_next_and_previous_that_repeat_the_query(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    first = (await client.get("/runs", params={"status": "active", "per_page": 5})).json()
    base = f"http://sim.test/api/organizations/{data.org_id}/runs"
    assert first["meta"]["pagination"]["links"] == {
        "next": f"{base}?status=active&per_page=5&page=2"
    }
    second = (await client.get(first["meta"]["pagination"]["links"]["next"])).json()
    links = second["meta"]["pagination"]["links"]
    assert links["previous"] == f"{base}?status=active&per_page=5&page=1"
    assert links["next"] == f"{base}?status=active&per_page=5&page=3"
    assert second["meta"]["pagination"]["current_page"] == 2


@pytest.mark.anyio
async def test_last_page_has_only_a_previous_link(client: httpx.AsyncClient) -> None:
    total = (await client.get("/runs", params={"per_page": 7})).json()["meta"]["pagination"]
    pages = -(-total["total"] // 7)  # from total: total_pages is not to be trusted
    last = await client.get("/runs", params={"per_page": 7, "page": pages})
    pagination = last.json()["meta"]["pagination"]
    assert set(pagination["links"]) == {"previous"}
    assert pagination["count"] == total["total"] - 7 * (pages - 1)


@pytest.mark.anyio
@pytest.mark.parametrize(("reading", "expected"), [("array", []), ("null", None)])
async def test_no_links_is_an_empty_array_or_null(
    make_client: MakeClient, reading: Any, expected: Any
) -> None:
    c = make_client(readings=Readings(empty_links=reading))
    body = (await c.get("/runs", params={"per_page": 100, "q": "onboarding"})).json()
    assert body["meta"]["pagination"]["links"] == expected


@pytest.mark.anyio
async def test_no_links_can_also_be_missing(make_client: MakeClient) -> None:
    c = make_client(readings=Readings(empty_links="missing"))
    body = (await c.get("/runs", params={"per_page": 100, "q": "onboarding"})).json()
    assert "links" not in body["meta"]["pagination"]


@pytest.mark.anyio
async def test_page_past_the_end_is_empty_with_the_true_totals(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    r = await client.get("/runs", params={"per_page": 100, "page": 50})
    body = r.json()
    assert r.status_code == 200
    assert body["data"] == []
    pagination = body["meta"]["pagination"]
    assert (pagination["total"], pagination["count"], pagination["total_pages"]) == (
        len(visible(data)),
        0,
        3,
    )
    assert pagination["current_page"] == 50


@pytest.mark.anyio
async def test_walking_every_page_yields_each_visible_run_once(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    seen: list[str] = []
    url: str | None = "/runs?per_page=33"
    while url:
        body = (await client.get(url)).json()
        seen += [r["id"] for r in body["data"]]
        links = body["meta"]["pagination"]["links"]
        url = links.get("next") if isinstance(links, dict) else None
    assert sorted(seen) == sorted(r["id"] for r in visible(data))
    assert len(seen) == len(set(seen))


@pytest.mark.anyio
async def test_without_pagination_returns_every_row_and_no_meta(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    body = (await client.get("/runs", params={"without_pagination": "true"})).json()
    assert set(body) == {"data"}
    assert len(body["data"]) == len(visible(data))


# -- filters ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_archived_runs_are_hidden_by_default_and_shown_with_archived_true(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    params = {"without_pagination": "true"}
    default = (await client.get("/runs", params=params)).json()["data"]
    everything = (await client.get("/runs", params={**params, "archived": "true"})).json()["data"]
    only = (await client.get("/runs", params={**params, "archived": "only"})).json()["data"]
    by_status = (await client.get("/runs", params={**params, "status": "archived"})).json()["data"]
    archived_ids = {r["id"] for r in data.runs if r["status"] == "archived"}
    assert archived_ids
    assert not archived_ids & {r["id"] for r in default}
    assert len(everything) == len(data.runs)
    assert {r["id"] for r in only} == archived_ids
    # status=archived does not lift the hiding (undocumented; the stricter reading).
    assert by_status == []


@pytest.mark.anyio
async def test_status_archived_shows_archived_runs_when_configured_to(
    make_client: MakeClient, data: TallyfyData
) -> None:
    c = make_client(readings=Readings(status_archived_shows=True))
    params = {"without_pagination": "true", "status": "archived"}
    by_status = (await c.get("/runs", params=params)).json()["data"]
    assert {r["id"] for r in by_status} == {r["id"] for r in data.runs if r["status"] == "archived"}


@pytest.mark.anyio
async def test_q_matches_the_summary_as_well_as_the_name_ignoring_case_by_default(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    # "account manager" appears only in Customer Onboarding summaries, never in a name.
    r = await client.get("/runs", params={"q": "ACCOUNT MANAGER", "without_pagination": "true"})
    names = [x["name"] for x in r.json()["data"]]
    expected = [x for x in visible(data) if "account manager" in x["summary"].lower()]
    assert len(names) == len(expected) > 0
    assert not any("account manager" in n.lower() for n in names)
    by_name = await client.get("/runs", params={"q": "onboarding - ", "without_pagination": "1"})
    assert all("onboarding - " in x["name"].lower() for x in by_name.json()["data"])


@pytest.mark.anyio
async def test_q_matches_names_only_in_the_documented_reading(
    make_client: MakeClient, data: TallyfyData
) -> None:
    c = make_client(readings=Readings(q_match="name"))
    r = await c.get("/runs", params={"q": "ACCOUNT MANAGER", "without_pagination": "true"})
    assert r.json()["data"] == []
    by_name = await c.get("/runs", params={"q": "ONBOARDING - ", "without_pagination": "1"})
    expected = [x["id"] for x in visible(data) if "onboarding - " in x["name"].lower()]
    assert sorted(x["id"] for x in by_name.json()["data"]) == sorted(expected)
    assert expected


@pytest.mark.anyio
async def test_owners_matches_task_assignees_as_well_as_the_run_owner(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    user = 1003
    body = (
        await client.get(
            "/runs", params={"owners": str(user), "archived": "true", "without_pagination": "1"}
        )
    ).json()
    got = {r["id"] for r in body["data"]}
    owned = {r["id"] for r in data.runs if r["owner_id"] == user}
    assigned = {r["id"] for r in data.runs if user in data.assignees[r["id"]]}
    assert got == owned | assigned
    assert assigned - owned, "the data should have runs the user only works on"


@pytest.mark.anyio
async def test_owners_accepts_several_ids_and_matches_any(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    params = {"owners": "1001,1002", "archived": "true", "without_pagination": "1"}
    got = {r["id"] for r in (await client.get("/runs", params=params)).json()["data"]}
    want = {
        r["id"]
        for r in data.runs
        if r["owner_id"] in (1001, 1002) or {1001, 1002} & set(data.assignees[r["id"]])
    }
    assert got == want


@pytest.mark.anyio
async def test_tag_ids_match_any_by_default_and_all_when_configured(
    make_client: MakeClient, data: TallyfyData
) -> None:
    a, b = data.tags[0]["id"], data.tags[1]["id"]
    params = {"tag_ids": f"{a},{b}", "archived": "true", "without_pagination": "1"}
    any_ids = {r["id"] for r in (await make_client().get("/runs", params=params)).json()["data"]}
    all_client = make_client(tag_ids_match="all")
    all_ids = {r["id"] for r in (await all_client.get("/runs", params=params)).json()["data"]}
    tags = data.run_tags
    assert any_ids == {r["id"] for r in data.runs if {a, b} & set(tags[r["id"]])}
    assert all_ids == {r["id"] for r in data.runs if {a, b} <= set(tags[r["id"]])}
    assert all_ids < any_ids


@pytest.mark.anyio
async def test_checklist_id_and_its_blueprint_id_alias_filter_the_same(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    cid = data.checklists[0]["id"]
    one = await client.get("/runs", params={"checklist_id": cid, "without_pagination": "1"})
    two = await client.get("/runs", params={"blueprint_id": cid, "without_pagination": "1"})
    assert one.json() == two.json()
    assert {r["checklist_id"] for r in one.json()["data"]} == {cid}


@pytest.mark.anyio
async def test_untagged_and_starred_filters(client: httpx.AsyncClient, data: TallyfyData) -> None:
    params = {"without_pagination": "1"}
    untagged = (await client.get("/runs", params={**params, "untagged": "true"})).json()["data"]
    starred = (await client.get("/runs", params={**params, "starred": "true"})).json()["data"]
    assert untagged
    assert all(not data.run_tags[r["id"]] for r in untagged)
    assert starred
    assert all(r["starred"] for r in starred)


# -- sorting ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_default_sort_is_newest_first(client: httpx.AsyncClient) -> None:
    rows = (await client.get("/runs", params={"without_pagination": "1"})).json()["data"]
    created = [parse_time(r["created_at"]) for r in rows]
    assert created == sorted(created, reverse=True)


@pytest.mark.anyio
@pytest.mark.parametrize(("sort", "param"), [("name", "sort"), ("-name", "sort_by")])
async def test_name_sort_ignores_case_and_breaks_ties_by_id_in_the_same_direction(
    client: httpx.AsyncClient, data: TallyfyData, sort: str, param: str
) -> None:
    rows = (await client.get("/runs", params={param: sort, "without_pagination": "1"})).json()
    keys = [(r["name"].casefold(), r["id"]) for r in rows["data"]]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
    names = Counter(k for k, _ in keys)
    assert any(n > 1 for n in names.values()), "the data should contain duplicate names"


@pytest.mark.anyio
async def test_last_updated_sort_ascending(client: httpx.AsyncClient) -> None:
    rows = (await client.get("/runs", params={"sort": "last_updated", "per_page": 100})).json()
    keys = [(parse_time(r["last_updated"]), r["id"]) for r in rows["data"]]
    assert keys == sorted(keys)


# -- one run ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_get_run_includes_tasks_tags_and_checklist_only_when_asked(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    run = next(r for r in data.runs if data.run_tags[r["id"]])
    bare = (await client.get(f"/runs/{run['id']}")).json()["data"]
    assert bare == run
    full = await client.get(f"/runs/{run['id']}", params={"with": "tasks,tags,checklist"})
    body = full.json()["data"]
    assert set(body) == RUN_KEYS | {"tasks", "tags", "checklist"}
    assert [t["position"] for t in body["tasks"]["data"]] == list(
        range(1, len(body["tasks"]["data"]) + 1)
    )
    assert {t["id"] for t in body["tags"]["data"]} == set(data.run_tags[run["id"]])
    assert body["checklist"]["data"]["id"] == run["checklist_id"]


@pytest.mark.anyio
async def test_missing_run_is_403_by_default(client: httpx.AsyncClient) -> None:
    # "A missing or forbidden run returns 404 or 403" (reference B.6).
    for path in ("/runs/0123456789abcdef0123456789abcdef", "/runs/0123456789abcdef0/tasks"):
        r = await client.get(path)
        assert r.status_code == 403
        assert r.json()["message"] == "This action is unauthorized."


@pytest.mark.anyio
async def test_missing_run_is_a_laravel_404_when_configured(make_client: MakeClient) -> None:
    client = make_client(readings=Readings(missing_run_status=404))
    r = await client.get("/runs/0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    assert r.json() == {
        "message": "No query results for model [Run].",
        "code": "NO_QUERY_RESULTS_FOR_MODE",  # api-v2 keeps only 25 characters
        "error": True,
    }


@pytest.mark.anyio
async def test_run_tasks_are_listed_in_the_fractal_envelope(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    run = data.runs[-1]
    body = (await client.get(f"/runs/{run['id']}/tasks", params={"per_page": 2})).json()
    assert body["data"] == data.tasks[run["id"]][:2]
    assert body["meta"]["pagination"]["total"] == len(data.tasks[run["id"]])


@pytest.mark.anyio
async def test_run_tasks_filter_by_status_owner_and_deadline(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    run = next(r for r in data.runs if r["status"] == "delayed")
    tasks = data.tasks[run["id"]]
    url = f"/runs/{run['id']}/tasks"
    overdue = (await client.get(url, params={"status": "overdue"})).json()["data"]
    assert overdue
    assert all(parse_time(t["deadline"]) < data.now for t in overdue)
    owner = next(t["owners"]["users"][0] for t in tasks if t["owners"]["users"])
    mine = (await client.get(url, params={"owners": str(owner)})).json()["data"]
    assert [t["id"] for t in mine] == [t["id"] for t in tasks if owner in t["owners"]["users"]]
    cutoff = tasks[1]["deadline"]
    early = (await client.get(url, params={"deadline_end": cutoff, "sort": "-deadline"})).json()
    deadlines = [parse_time(t["deadline"]) for t in early["data"]]
    assert deadlines == sorted(deadlines, reverse=True)
    assert max(deadlines) <= parse_time(cutoff)


@pytest.mark.anyio
async def test_unknown_run_is_404_even_when_the_query_is_also_invalid(
    make_client: MakeClient,
) -> None:
    client = make_client(readings=Readings(missing_run_status=404))
    r = await client.get("/runs/0123456789abcdef0123456789abcdef/tasks", params={"x": "1"})
    assert r.status_code == 404


@pytest.mark.anyio
async def test_users_tags_and_checklists_are_listed(
    client: httpx.AsyncClient, data: TallyfyData
) -> None:
    users = (await client.get("/users", params={"per_page": 100})).json()["data"]
    tags = (await client.get("/tags")).json()["data"]
    checklists = (await client.get("/checklists", params={"q": "onboarding"})).json()["data"]
    assert users == data.users
    assert tags == data.tags
    assert {c["title"] for c in checklists} == {"Customer Onboarding", "Employee Onboarding"}
    one = await client.get(f"/checklists/{checklists[0]['id']}", params={"with": "steps"})
    assert one.json()["data"]["steps"]["data"] == data.steps[checklists[0]["id"]]


# -- rate limit and faults -------------------------------------------------------------


@pytest.mark.anyio
async def test_101st_request_in_a_minute_is_429_until_the_window_moves(
    make_client: MakeClient,
) -> None:
    clock = FakeClock()
    c = make_client(
        rate_limit=RateLimit(100, 60.0), clock=clock, readings=Readings(retry_after_header=True)
    )
    for i in range(100):
        clock.now = i * 0.5
        assert (await c.get("/tags")).status_code == 200
    clock.now = 50.0
    r = await c.get("/tags")
    assert r.status_code == 429
    assert r.json() == {"message": "Too Many Attempts.", "code": "TOO_MANY_ATTEMPTS", "error": True}
    assert r.headers["retry-after"] == "10"  # the first request leaves the window at 60 s
    clock.now = 60.0
    assert (await c.get("/tags")).status_code == 200


@pytest.mark.anyio
async def test_a_429_has_no_retry_after_by_default(make_client: MakeClient) -> None:
    # "Rate-limit header names are undocumented" (reference B.7).
    c = make_client(rate_limit=RateLimit(1, 60.0), clock=FakeClock())
    assert (await c.get("/tags")).status_code == 200
    r = await c.get("/tags")
    assert r.status_code == 429
    assert "retry-after" not in r.headers


@pytest.mark.anyio
async def test_quota_is_100_a_minute_and_1000_an_hour_by_default(data: TallyfyData) -> None:
    sim = create_app(data)
    assert sim.rate_limits == (RateLimit(100, 60.0), RateLimit(1000, 3600.0))
    assert create_app(data, rate_limit=None).rate_limits == ()


@pytest.mark.anyio
async def test_the_1001st_request_in_an_hour_is_429_though_each_minute_is_under_100(
    make_client: MakeClient,
) -> None:
    clock = FakeClock()
    c = make_client(rate_limit=RateLimit(100, 60.0), clock=clock)
    for i in range(1000):
        clock.now = i * 0.7  # 85 a minute
        assert (await c.get("/tags")).status_code == 200
    clock.now = 1000 * 0.7
    assert (await c.get("/tags")).status_code == 429
    clock.now = 3600.0
    assert (await c.get("/tags")).status_code == 200


@pytest.mark.anyio
async def test_the_quota_window_belongs_to_the_organization_not_the_token(
    make_client: MakeClient, data: TallyfyData
) -> None:
    clock = FakeClock()
    c = make_client(rate_limit=RateLimit(2, 60.0), clock=clock, other_tokens=("second-user-token",))
    assert (await c.get("/tags")).status_code == 200
    other = {**HEADERS, "Authorization": "Bearer second-user-token"}
    assert (await c.get("/tags", headers=other)).status_code == 200
    assert (await c.get("/tags", headers=other)).status_code == 429
    # Another organization has its own window (403 here: this token cannot see it).
    elsewhere = await c.get("http://sim.test/api/organizations/" + "f" * 32 + "/tags")
    assert elsewhere.status_code == 403


@pytest.mark.anyio
async def test_injected_status_fault_uses_the_tallyfy_error_body(data: TallyfyData) -> None:
    sim = create_app(data)
    sim.faults.add(Fault("status", status=503, retry_after=2))
    transport = httpx.ASGITransport(app=sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as c:
        r = await c.get(f"/api/organizations/{data.org_id}/runs", headers=HEADERS)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "2"
    assert r.json() == {
        "message": "Service Unavailable",
        "code": "SERVICE_UNAVAILABLE",
        "error": True,
    }
    assert [q.path for q in sim.requests] == [f"/api/organizations/{data.org_id}/runs"]
    assert sim.requests[0].headers["x-tallyfy-client"] == "APIClient"


@pytest.mark.anyio
async def test_json_is_encoded_like_php_with_escaped_slashes(client: httpx.AsyncClient) -> None:
    r = await client.get("/runs", params={"per_page": 1})
    assert '"next":"http:\\/\\/sim.test\\/api' in r.text
    assert r.json()["meta"]["pagination"]["links"]["next"].startswith("http://sim.test/api")


def test_error_code_is_derived_from_the_message_like_api_v2() -> None:
    assert error_code("Trial limit reached: 100 unique task assignments.") == (
        "TRIAL_LIMIT_REACHED_100_U"
    )
    assert error_code("Too Many Attempts.") == "TOO_MANY_ATTEMPTS"


# -- the data --------------------------------------------------------------------------


def test_generation_is_deterministic_for_a_seed() -> None:
    assert generate(seed=3, runs=40) == generate(seed=3, runs=40)
    assert generate(seed=3, runs=40).runs != generate(seed=4, runs=40).runs


def test_runs_and_tasks_have_the_documented_fields_and_formats(data: TallyfyData) -> None:
    assert HEX32.fullmatch(data.org_id)
    assert len(data.runs) == 300 + len(hostile.NAMES)  # the sandbox's hostile runs too
    for run in data.runs:
        assert set(run) == RUN_KEYS
        assert HEX32.fullmatch(run["id"])
        assert HEX32.fullmatch(run["checklist_id"])
        assert isinstance(run["started_by"], int)
        assert isinstance(run["owner_id"], int)
        assert set(run["progress"]) == {"complete", "total", "percent"}
        assert run["type"] == "procedure"
        for task in data.tasks[run["id"]]:
            assert set(task) == TASK_KEYS
            assert set(task["owners"]) == {"users", "guests", "groups"}
    formats = Counter(r["created_at"].endswith(".000Z") for r in data.runs)
    assert formats[True] > 0
    assert formats[False] > 0
    assert {"id", "email", "first_name", "last_name", "full_name", "username"} <= set(data.users[0])
    assert min(len(s) for s in data.steps.values()) >= 4
    assert max(len(s) for s in data.steps.values()) <= 8


def test_run_timestamps_and_statuses_are_consistent(data: TallyfyData) -> None:
    created = [parse_time(r["created_at"]) for r in data.runs]
    assert len(set(created)) == len(created)
    assert min(created) >= data.now.replace(year=data.now.year - 2)
    for run in data.runs:
        start, updated = parse_time(run["created_at"]), parse_time(run["last_updated"])
        assert start <= updated <= data.now
        assert (run["archived_at"] is not None) == (run["status"] == "archived")
        if run["status"] == "complete":
            assert run["completed_at"] is not None
        elif run["status"] != "archived":
            assert run["completed_at"] is None
        statuses = {t["status"] for t in data.tasks[run["id"]]}
        assert statuses <= {"completed", "active", "not-started", "auto-skipped"}
        done = sum(t["status"] in ("completed", "auto-skipped") for t in data.tasks[run["id"]])
        assert run["progress"]["complete"] == done
        if run["status"] in ("delayed", "problem"):
            assert run["late_tasks"] > 0
    # The regular runs keep the target mix exactly; the hostile ones come on top.
    shares = Counter(r["status"] for r in data.runs if not hostile.is_hostile(r["name"]))
    assert shares == {"active": 135, "complete": 90, "archived": 36, "delayed": 24, "problem": 15}


# -- over real HTTP --------------------------------------------------------------------


@pytest.mark.anyio
async def test_over_real_http_next_link_carries_the_real_port_and_can_be_followed(
    data: TallyfyData,
) -> None:
    async with SimServer(create_app(data)) as server, httpx.AsyncClient(headers=HEADERS) as c:
        url = f"{server.url}/api/organizations/{data.org_id}/runs"
        first = (await c.get(url, params={"per_page": 100})).json()
        next_url = first["meta"]["pagination"]["links"]["next"]
        assert next_url.startswith(f"http://127.0.0.1:{server.port}/api/organizations/")
        assert next_url.endswith("?per_page=100&page=2")
        second = (await c.get(next_url)).json()
    assert second["meta"]["pagination"]["current_page"] == 2
    ids = [r["id"] for r in first["data"] + second["data"]]
    assert len(set(ids)) == 200
