"""The Frends simulator behaves like the documented Platform API (reference part C)."""

from __future__ import annotations

import re
import time
import xml.dom.minidom
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tools.backends.frends.data import CANARY_SECRET, Definition, FrendsData, generate, parse_time
from tools.backends.frends.simulator import create_app
from tools.backends.frends.wire import bpmn
from tools.sim import Fault, hostile

pytestmark = pytest.mark.anyio

TOKEN = "sandbox-frends-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
TRACE = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00")
PROD = 3

MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(data: FrendsData) -> AsyncIterator[MakeClient]:
    clients: list[httpx.AsyncClient] = []

    def build(headers: dict[str, str] | None = None, **options: Any) -> httpx.AsyncClient:
        sim = create_app(data, token=TOKEN, **options)
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim),
            base_url="http://sim.test/api/v1",
            headers=HEADERS if headers is None else headers,
        )
        c.sim = sim  # type: ignore[attr-defined]
        clients.append(c)
        return c

    yield build
    for c in clients:
        await c.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client()


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status
    assert body["type"].startswith("https://tools.ietf.org/html/rfc9110")
    assert TRACE.fullmatch(body["traceId"])
    return dict(body)


async def all_instances(c: httpx.AsyncClient, group: int, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        query = {**params, **({"continuationToken": token} if token else {})}
        body = (await c.get(f"/instances/{group}", params=query)).json()
        rows.extend(body["data"])
        token = body["nextContinuationToken"]
        if token is None:
            return rows


# -- auth and errors ---------------------------------------------------------------------


async def test_missing_or_wrong_bearer_token_is_a_401_problem_with_www_authenticate(
    make_client: MakeClient,
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = await make_client(headers=headers).get("/processes")
        body = assert_problem(r, 401)
        assert body["title"] == "Unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_process_is_a_404_problem_with_detail(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/processes/999999"), 404)
    assert (body["title"], body["detail"]) == ("Not Found", "Process not found")


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no-such-thing"), 404)


async def test_injected_faults_answer_in_problem_details(client: httpx.AsyncClient) -> None:
    client.sim.faults.add(Fault(kind="status", status=503))  # type: ignore[attr-defined]
    body = assert_problem(await client.get("/processes"), 503)
    assert body["title"] == "Service Unavailable"


# -- processes: paged list ---------------------------------------------------------------


def listed(data: FrendsData, listed_versions: str) -> list[Definition]:
    """The definitions the list shows under one reading of the undocumented version rule."""
    return [d for d in data.definitions if listed_versions == "every" or d.latest or d.is_draft]


@pytest.mark.parametrize("listed_versions", ["latest", "every"])
async def test_process_list_pages_with_documented_defaults_and_absolute_links(
    make_client: MakeClient, data: FrendsData, listed_versions: str
) -> None:
    client = make_client(listed_versions=listed_versions)
    shown = len(listed(data, listed_versions))
    body = (await client.get("/processes")).json()
    paging = body["paging"]
    assert len(body["data"]) == 30  # default PageSize
    assert paging["currentPage"] == 1
    assert paging["totalCount"] == shown
    assert paging["previousPage"] is None
    assert paging["nextPage"] == "http://sim.test/api/v1/processes?PageNumber=2"
    last = (await client.get(paging["lastPage"])).json()
    assert last["paging"]["nextPage"] is None
    assert len(last["data"]) == shown - 30 * (last["paging"]["currentPage"] - 1)


async def test_processes_list_only_latest_versions_and_drafts_by_default_newest_first(
    client: httpx.AsyncClient, data: FrendsData
) -> None:
    rows = (await client.get("/processes", params={"PageSize": 200})).json()["data"]
    assert [r["id"] for r in rows] == [
        d.id for d in sorted(listed(data, "latest"), key=lambda d: d.modified, reverse=True)
    ]
    assert len(rows) < len(data.definitions)
    assert not any(r["isNotLatestVersion"] for r in rows)
    assert any(r["isDraft"] for r in rows)
    assert any(r["isSubprocess"] for r in rows)
    assert all(set(r["links"]) == {"deployments", "delete"} for r in rows)
    # An older version is not listed, but it is there by id and by guid and version.
    old = next(d for d in data.definitions if not d.latest and not d.is_draft)
    by_id = (await client.get(f"/processes/{old.id}")).json()["data"]
    assert (by_id["version"], by_id["isNotLatestVersion"]) == (old.version, True)
    assert (await client.get(f"/processes/{old.guid}/versions/{old.version}")).status_code == 200


async def test_every_version_and_draft_is_listed_newest_first_with_the_flag(
    make_client: MakeClient, data: FrendsData
) -> None:
    client = make_client(listed_versions="every")
    rows = (await client.get("/processes", params={"PageSize": 200})).json()["data"]
    assert len(rows) == len(data.definitions)
    stamps = [parse_time(r["modified"]) for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    assert len(set(stamps)) == len(stamps)
    assert any(r["isDraft"] for r in rows)
    assert any(r["isNotLatestVersion"] for r in rows)


async def test_list_pages_are_served_from_the_cache_byte_identical_per_url(
    make_client: MakeClient,
) -> None:
    c = make_client()
    first = await c.get("/processes", params={"PageSize": 5, "PageNumber": 2})
    again = await c.get("/processes", params={"PageSize": 5, "PageNumber": 2})
    assert first.content == again.content
    # The alias prefix is another URL: its links name the alias, not a cached /api/v1 page.
    alias = await c.get("http://sim.test/api/v1.0/processes?PageSize=5&PageNumber=2")
    assert alias.json()["paging"]["nextPage"].startswith("http://sim.test/api/v1.0/")
    assert alias.json()["data"] == [
        {**row, "links": alias.json()["data"][i]["links"]}
        for i, row in enumerate(first.json()["data"])
    ]


async def test_a_cache_budget_too_small_for_a_page_still_serves_every_page(
    make_client: MakeClient,
) -> None:
    roomy, tiny = make_client(), make_client(cache_bytes=1)
    for number in (1, 2, 1):
        params = {"PageSize": 7, "PageNumber": number}
        big = await roomy.get("/processes", params=params)
        small = await tiny.get("/processes", params=params)
        assert big.content == small.content


async def test_page_past_the_end_and_no_match_are_200_with_empty_data(
    client: httpx.AsyncClient,
) -> None:
    past = await client.get("/processes", params={"PageNumber": 99, "PageSize": 200})
    assert past.status_code == 200
    assert past.json()["data"] == []
    none = await client.get("/processes", params={"processName": "no such process"})
    assert (none.status_code, none.json()["data"]) == (200, [])


async def test_page_size_above_200_is_refused_in_strict_mode_and_clamped_in_lenient(
    make_client: MakeClient,
) -> None:
    strict = await make_client().get("/processes", params={"PageSize": 201})
    body = assert_problem(strict, 400)
    assert body["errors"] == {"PageSize": ["Maximum page size is 200."]}
    lenient = await make_client(strict=False).get("/processes", params={"PageSize": 500})
    assert lenient.json()["paging"]["pageSize"] == 200


async def test_strict_mode_refuses_unknown_parameters_and_other_casing(
    make_client: MakeClient,
) -> None:
    for params in ({"sort": "name"}, {"pageSize": 5}):
        assert_problem(await make_client().get("/processes", params=params), 400)
    lenient = await make_client(strict=False).get("/processes", params={"pagesize": 5})
    assert len(lenient.json()["data"]) == 5


@pytest.mark.parametrize("listed_versions", ["latest", "every"])
async def test_process_guid_filter_returns_the_listed_versions_of_that_process(
    make_client: MakeClient, data: FrendsData, listed_versions: str
) -> None:
    client = make_client(listed_versions=listed_versions)
    guid = max(Counter(d.guid for d in data.definitions).items(), key=lambda kv: kv[1])[0]
    rows = (await client.get("/processes", params={"processGuid": guid.upper()})).json()["data"]
    assert {r["uniqueIdentifier"] for r in rows} == {guid}
    assert len(rows) == sum(1 for d in listed(data, listed_versions) if d.guid == guid)
    assert len(rows) == (7 if listed_versions == "every" else 2)  # versions 1-6 and a draft
    bad = await client.get("/processes", params={"processGuid": "not-a-guid"})
    assert "processGuid" in assert_problem(bad, 400)["errors"]


async def test_process_name_matches_whole_names_by_default_and_substrings_by_flag(
    make_client: MakeClient, data: FrendsData
) -> None:
    name = data.definitions[0].name
    exact = make_client()
    assert (await exact.get("/processes", params={"processName": name.upper()})).json()["data"]
    assert not (await exact.get("/processes", params={"processName": name[:8]})).json()["data"]
    wide = make_client(process_name_match="substring")
    rows = (await wide.get("/processes", params={"processName": "sync", "PageSize": 200})).json()
    assert rows["data"]
    assert all("sync" in r["name"].lower() for r in rows["data"])


async def test_get_by_id_and_by_guid_and_version_are_the_same_object(
    client: httpx.AsyncClient, data: FrendsData
) -> None:
    d = data.definitions[5]
    by_id = (await client.get(f"/processes/{d.id}")).json()
    by_version = (await client.get(f"/processes/{d.guid}/versions/{d.version}")).json()
    assert by_id == by_version
    assert by_id["data"]["id"] == d.id
    assert set(by_id["links"]) == {"deployments", "delete"}
    alias = await client.get(f"http://sim.test/api/v1.0/processes/{d.id}")
    assert alias.json()["data"] == by_id["data"]
    assert_problem(await client.get(f"/processes/{d.guid}/versions/99"), 404)


async def test_definitions_carry_realistic_bpmn_of_a_few_kilobytes(data: FrendsData) -> None:
    for d in data.definitions[:40]:
        text = bpmn(d)
        assert 2_000 < len(text) < 12_000
        doc = xml.dom.minidom.parseString(text)
        assert doc.getElementsByTagName("bpmn2:process")[0].getAttribute("name") == d.name


async def test_secret_variables_are_served_in_clear_and_the_canary_is_among_them(
    client: httpx.AsyncClient, data: FrendsData
) -> None:
    # The docs do not say secrets are masked, so the simulator assumes the worst.
    text = (await client.get("/processes", params={"PageSize": 200})).text
    assert CANARY_SECRET in text
    rows = (await client.get("/processes", params={"PageSize": 200})).json()["data"]
    secrets = [v for r in rows for v in r["processVariables"] if v["isSecret"]]
    assert any(v["value"] == CANARY_SECRET for v in secrets)
    assert len({v["value"] for v in secrets}) > 3


# -- instances: continuation tokens -------------------------------------------------------


async def test_instances_walk_by_continuation_token_newest_first_without_gaps(
    client: httpx.AsyncClient, data: FrendsData
) -> None:
    rows = await all_instances(client, PROD, pageSize=17)
    assert sorted(r["executionId"] for r in rows) == sorted(
        r["executionId"] for r in data.instances[PROD]
    )
    starts = [r["startTimeUtc"] for r in rows]
    assert starts == sorted(starts, reverse=True)
    first = (await client.get(f"/instances/{PROD}")).json()
    assert len(first["data"]) == 50  # documented default
    assert first["nextLink"]["uri"].startswith(f"http://sim.test/api/v1/instances/{PROD}?")


async def test_changing_filters_under_a_token_is_400_in_strict_mode_only(
    make_client: MakeClient,
) -> None:
    for strict in (True, False):
        c = make_client(strict=strict)
        token = (await c.get(f"/instances/{PROD}", params={"pageSize": 5})).json()[
            "nextContinuationToken"
        ]
        r = await c.get(
            f"/instances/{PROD}",
            params={"pageSize": 5, "stateFilter": "ShowFailed", "continuationToken": token},
        )
        if strict:
            assert "other filters" in assert_problem(r, 400)["detail"]
        else:
            assert r.status_code == 200
    garbage = await make_client().get(f"/instances/{PROD}", params={"continuationToken": "x!"})
    assert_problem(garbage, 400)


@pytest.mark.parametrize(
    ("state_filter", "expected"),
    [
        ("ShowRunning", {"Running"}),
        ("ShowSuccessful", {"Ok"}),
        ("ShowFailed", {"Failed"}),
        ("ShowFinished", {"Ok", "Failed"}),
        ("showall", {"Running", "Ok", "Failed"}),
    ],
)
async def test_state_filter_keeps_the_documented_states(
    client: httpx.AsyncClient, state_filter: str, expected: set[str]
) -> None:
    rows = await all_instances(client, PROD, stateFilter=state_filter, pageSize=200)
    assert {r["state"] for r in rows} == expected


async def test_failed_not_acknowledged_leaves_out_acknowledged_failures(
    client: httpx.AsyncClient, data: FrendsData
) -> None:
    rows = await all_instances(client, PROD, stateFilter="ShowFailedNotAcknowledged", pageSize=200)
    failed = [r for r in data.instances[PROD] if r["state"] == "Failed"]
    assert any(r["acknowledgedUtc"] for r in failed)
    assert len(rows) == sum(1 for r in failed if r["acknowledgedUtc"] is None)


async def test_start_time_is_exclusive_unless_the_inclusive_flag_is_set(
    make_client: MakeClient, data: FrendsData
) -> None:
    row = data.instances[PROD][len(data.instances[PROD]) // 2]
    params = {"startTime": row["startTimeUtc"], "pageSize": 200}
    strict_ids = {r["id"] for r in await all_instances(make_client(), PROD, **params)}
    inclusive = make_client(time_bounds_inclusive=True)
    wide_ids = {r["id"] for r in await all_instances(inclusive, PROD, **params)}
    assert row["id"] not in strict_ids
    assert wide_ids == strict_ids | {row["id"]}


async def test_end_time_bounds_the_end_by_default_so_running_executions_drop_out(
    make_client: MakeClient,
) -> None:
    params = {"endTime": "2030-01-01T00:00:00Z", "pageSize": 200}
    by_end = await all_instances(make_client(), PROD, **params)
    by_start = await all_instances(make_client(end_time_filter="start"), PROD, **params)
    assert "Running" not in {r["state"] for r in by_end}
    assert "Running" in {r["state"] for r in by_start}


async def test_process_guids_and_child_filters(client: httpx.AsyncClient, data: FrendsData) -> None:
    guids = sorted({r["processGuid"] for r in data.instances[PROD]})[:2]
    params = [("processGuids", g) for g in guids] + [("pageSize", "200")]
    body = (await client.get(f"/instances/{PROD}", params=params)).json()
    assert {r["processGuid"] for r in body["data"]} == set(guids)
    children = await all_instances(client, PROD, isChildProcess="true", pageSize=200)
    assert children
    assert all(r["parentId"] is not None and r["parentName"] for r in children)


async def test_instance_page_size_is_bounded_like_the_process_list(
    make_client: MakeClient,
) -> None:
    assert_problem(await make_client().get(f"/instances/{PROD}", params={"pageSize": 250}), 400)
    lenient = await make_client(strict=False).get(f"/instances/{PROD}", params={"pageSize": 250})
    assert len(lenient.json()["data"]) == 200


async def test_unknown_agent_group_and_execution_are_404_problems(
    client: httpx.AsyncClient, data: FrendsData
) -> None:
    assert assert_problem(await client.get("/instances/77"), 404)["detail"] == (
        "Agent group not found"
    )
    row = data.instances[PROD][0]
    details = await client.get(f"/instances/{PROD}/{row['executionId']}/details")
    assert details.json()["data"]["executionId"] == row["executionId"]
    assert "stepDataUri" in details.json()["data"]
    missing = await client.get(f"/instances/1/{row['executionId']}/details")
    assert assert_problem(missing, 404)["detail"] == "Process instance not found"


async def test_environments_list_is_unpaged_with_agent_groups(client: httpx.AsyncClient) -> None:
    body = (await client.get("/environments")).json()
    assert set(body) == {"data"}
    groups = [g["internalName"] for env in body["data"] for g in env["agentGroups"]]
    assert groups == ["Development", "Test", "Production"]


# -- generated data ------------------------------------------------------------------------


def test_generation_is_deterministic_and_spread_over_two_years() -> None:
    a, b = (
        generate(seed=5, processes=80, instances=120),
        generate(seed=5, processes=80, instances=120),
    )
    assert [d.modified for d in a.definitions] == [d.modified for d in b.definitions]
    assert a.instances == b.instances
    stamps = [d.modified for d in a.definitions]
    assert (max(stamps) - min(stamps)).days > 365
    assert max(stamps) <= a.now


def test_ten_thousand_rows_generate_quickly() -> None:
    started = time.perf_counter()
    big = generate(seed=1, processes=10_000, instances=10_000)
    assert time.perf_counter() - started < 6  # ~1 s here; headroom for a busy machine
    extra = len(hostile.NAMES)  # one hostile process and one execution of it per name
    assert (len(big.definitions), big.instance_rows()) == (10_000 + extra, 10_000 + extra)
    assert len({d.name for d in big.definitions if d.version == 1}) == len(
        {d.guid for d in big.definitions}
    )


def test_executions_run_versions_that_existed_and_children_name_their_parent(
    data: FrendsData,
) -> None:
    for rows in data.instances.values():
        for r in rows:
            d = data.definition(r["processId"])
            assert d is not None
            assert not d.is_draft
            assert d.guid == r["processGuid"]
            if r["state"] == "Running":
                assert r["endTimeUtc"] is None
            else:
                assert parse_time(r["endTimeUtc"]) >= parse_time(r["startTimeUtc"])
    states = Counter(r["state"] for r in data.instances[PROD])
    assert set(states) == {"Running", "Ok", "Failed"}
    assert any(CANARY_SECRET in (r["exception"] or "") for r in data.instances[PROD])


@pytest.mark.parametrize("execution_guids", [True, False])
async def test_execution_rows_carry_a_process_guid_unless_the_flag_says_otherwise(
    make_client: MakeClient, data: FrendsData, execution_guids: bool
) -> None:
    client = make_client(execution_guids=execution_guids)
    rows = await all_instances(client, PROD, pageSize=200)
    assert len(rows) == len(data.instances[PROD])
    first = rows[0]["executionId"]
    detail = (await client.get(f"/instances/{PROD}/{first}/details")).json()["data"]
    for row in (*rows, detail):
        assert (row["processGuid"] is not None) is execution_guids
        assert isinstance(row["processId"], int)
    # The guid filter still works on what the rows no longer show.
    guid = data.instances[PROD][0]["processGuid"]
    picked = await all_instances(client, PROD, processGuids=guid, pageSize=200)
    assert picked
    assert {data.definition(r["processId"]).guid for r in picked} == {guid}  # type: ignore[union-attr]


def test_production_keeps_running_an_older_version_of_some_processes(data: FrendsData) -> None:
    after_latest = [
        (r, d)
        for r in data.instances[PROD]
        if (d := data.definition(r["processId"])) is not None
        and not d.latest
        and any(
            v.latest and v.guid == d.guid and parse_time(r["startTimeUtc"]) > v.modified
            for v in data.definitions
        )
    ]
    assert len(after_latest) > 10
