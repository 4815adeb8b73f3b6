"""The BPM-ENGINE simulator behaves like the documented API (reference part D, seed 003)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.backends.yuuvis.conftest import ordinary
from tools.backends.yuuvis.data import YuuvisData, generate, parse_time
from tools.backends.yuuvis.simulator import MAX_SIZE, create_app, like
from tools.sim import Fault, hostile

pytestmark = pytest.mark.anyio

LIST_KEYS = {
    "id", "name", "businessKey", "processDefinitionId", "processDefinitionName",
    "processDefinitionDescription", "startUserId", "startTime", "deleteReason",
    "endActivityId", "startActivityId", "durationInMillis", "endTime", "suspended",
    "variables",
}  # fmt: skip
ERROR_KEYS = {"httpStatusCode", "serviceErrorCode", "time", "message", "service", "tenant"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def data() -> YuuvisData:
    return generate(seed=3, instances=240)


def basic(user: dict[str, Any]) -> str:
    return "Basic " + base64.b64encode(f"{user['username']}:{user['password']}".encode()).decode()


MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(data: YuuvisData) -> AsyncIterator[MakeClient]:
    """A simulator (keyword args go to create_app) and a client signed in as `user`
    (default: the tenant admin by token); `headers` replaces the default headers."""
    clients: list[httpx.AsyncClient] = []

    def build(
        user: dict[str, Any] | None = None, headers: dict[str, str] | None = None, **options: Any
    ) -> httpx.AsyncClient:
        if headers is None:
            auth = basic(user) if user else f"Bearer {data.admin['token']}"
            headers = {"Authorization": auth, "X-ID-TENANT-NAME": data.tenant}
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(data, **options)),
            base_url="http://sim.test/bpm-engine/api",
            headers=headers,
        )
        clients.append(c)
        return c

    yield build
    for c in clients:
        await c.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client()


async def every(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in range(100):
        body = (await client.get("/processes", params={**params, "page": page, "size": 100})).json()
        rows += body["objects"]
        if not body["hasMoreItems"]:
            return rows
    raise AssertionError("too many pages")


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


# -- envelope and paging --------------------------------------------------------------------


async def test_list_envelope_and_row_shape_match_the_documented_example(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    response = await client.get("/processes", params={"page": 0, "size": 1})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"objects", "numItems", "totalNumItems", "hasMoreItems"}
    total = len(data.instances)  # 240 regular and the hostile ones
    assert (body["numItems"], body["totalNumItems"], body["hasMoreItems"]) == (1, total, True)
    row = body["objects"][0]
    assert set(row) == LIST_KEYS
    assert UUID.fullmatch(row["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["startTime"])
    assert re.fullmatch(r"[a-z_-]+:\d+:" + UUID.pattern, row["processDefinitionId"])
    assert row["variables"] == []


async def test_first_page_is_page_zero_and_pages_tile_without_overlap(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    total = len(data.instances)  # 240 regular and the hostile ones
    full, rest = divmod(total, 50)
    assert rest  # a last page that is not full
    pages = [
        (await client.get("/processes", params={"page": p, "size": 50})).json()
        for p in range(full + 1)
    ]
    assert [p["numItems"] for p in pages] == [50] * full + [rest]
    assert [p["hasMoreItems"] for p in pages] == [True] * full + [False]
    walked = [i for p in pages for i in ids(p["objects"])]
    assert walked == ids(data.instances)  # default: ascending start time, ties by id
    past = (await client.get("/processes", params={"page": full + 1, "size": 50})).json()
    assert (past["objects"], past["totalNumItems"], past["hasMoreItems"]) == ([], total, False)


async def test_default_page_size_is_ten(client: httpx.AsyncClient) -> None:
    assert (await client.get("/processes")).json()["numItems"] == 10


async def test_sort_desc_reverses_start_time_and_id(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    rows = await every(client, sort="desc")
    assert ids(rows) == ids(data.instances)[::-1]
    keys = [(parse_time(r["startTime"]), r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    assert len({r["startTime"] for r in rows}) < len(rows)  # ties exist and are ordered


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": MAX_SIZE + 1}, "must not be greater than 100"),
        ({"size": 0}, "at least 1"),
        ({"page": -1}, "the first page is 0"),
        ({"page": "one"}, "not a valid int32"),
        ({"sort": "DESC"}, "asc or desc"),
        ({"isCompleted": "yes"}, "invalid boolean"),
        ({"startedAfter": "2026-01-01"}, "with an offset"),
        ({"startedAfter": "2026-01-01T10:00:00"}, "with an offset"),
        ({"startedAfter": "yesterday"}, "with an offset"),
        ({"status": "open"}, "Unknown request parameter 'status'"),
        ({"processDefinitionVersion": "v2"}, "not a valid int32"),
    ],
)
async def test_strict_mode_answers_400_in_the_yuuvis_error_format(
    client: httpx.AsyncClient, data: YuuvisData, params: dict[str, Any], message: str
) -> None:
    response = await client.get("/processes", params=params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["httpStatusCode"] == 400
    assert 1000 <= body["serviceErrorCode"] <= 9999
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", body["time"])
    assert (body["service"], body["tenant"]) == ("bpm-engine", data.tenant)
    assert message in body["message"]


async def test_lenient_mode_clamps_size_ignores_unknown_and_reads_lax_values(
    make_client: MakeClient,
) -> None:
    client = make_client(strict=False)
    body = (await client.get("/processes", params={"size": 500, "status": "x"})).json()
    assert body["numItems"] == MAX_SIZE
    lax = await client.get(
        "/processes", params={"isCompleted": "yes", "sort": "DESC", "startedAfter": "2026-01-01"}
    )
    assert lax.status_code == 200
    assert all(r["endTime"] for r in lax.json()["objects"])


# -- auth -----------------------------------------------------------------------------------


async def test_missing_tenant_header_is_401_even_with_good_credentials(
    make_client: MakeClient, data: YuuvisData
) -> None:
    client = make_client(headers={"Authorization": f"Bearer {data.admin['token']}"})
    response = await client.get("/processes")
    assert response.status_code == 401
    assert "X-ID-TENANT-NAME" in response.json()["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic bm9ib2R5Om5vcGU="},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Token sandbox-yuuvis-token"},
    ],
)
async def test_bad_or_missing_credentials_are_401(
    make_client: MakeClient, data: YuuvisData, headers: dict[str, str]
) -> None:
    client = make_client(headers={**headers, "X-ID-TENANT-NAME": data.tenant})
    response = await client.get("/processes")
    assert response.status_code == 401
    assert response.json()["message"].startswith("Full authentication is required")


async def test_other_tenant_is_401_and_gateway_style_401_has_no_body(
    make_client: MakeClient, data: YuuvisData
) -> None:
    auth = {"Authorization": f"Bearer {data.admin['token']}"}
    other = make_client(headers={**auth, "X-ID-TENANT-NAME": "globex"})
    assert (await other.get("/processes")).status_code == 401
    bare = make_client(headers=auth, auth_error_body="empty")
    response = await bare.get("/processes")
    assert (response.status_code, response.content) == (401, b"")


async def test_basic_and_bearer_sign_in_the_same_user(
    make_client: MakeClient, data: YuuvisData
) -> None:
    user = ordinary(data)
    by_password = make_client(user)
    by_token = make_client(headers={"Authorization": f"Bearer {user['token']}",
                                    "X-ID-TENANT-NAME": data.tenant})  # fmt: skip
    assert ids(await every(by_password)) == ids(await every(by_token))


# -- visibility and the startedBy rule -----------------------------------------------------


async def test_ordinary_user_sees_only_the_processes_they_started(
    make_client: MakeClient, data: YuuvisData
) -> None:
    user = ordinary(data)
    rows = await every(make_client(user))
    assert ids(rows) == ids(data.own_instances(user["id"]))
    assert len(rows) > 30


async def test_ordinary_user_naming_another_user_in_startedby_gets_400(
    make_client: MakeClient, data: YuuvisData
) -> None:
    user = ordinary(data)
    client = make_client(user)
    other = next(u for u in data.users if u["id"] != user["id"])
    response = await client.get("/processes", params={"startedBy": other["id"]})
    assert response.status_code == 400
    assert "only the own userId is allowed" in response.json()["message"]
    own = await client.get("/processes", params={"startedBy": user["id"], "size": 100})
    assert own.status_code == 200
    assert own.json()["totalNumItems"] == len(data.own_instances(user["id"]))


async def test_admin_sees_every_instance_and_may_name_anyone(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    assert len(await every(client)) == len(data.instances)
    user = ordinary(data)
    rows = await every(client, startedBy=user["id"])
    assert ids(rows) == ids(data.own_instances(user["id"]))


async def test_stricter_reading_admin_without_startedby_sees_own_instances(
    make_client: MakeClient, data: YuuvisData
) -> None:
    client = make_client(admin_sees_all=False)
    assert ids(await every(client)) == ids(data.own_instances(data.admin["id"]))


# -- filters --------------------------------------------------------------------------------


def state(row: dict[str, Any]) -> str:
    if row["suspended"]:
        return "suspended"
    if row["deleteReason"]:
        return "deleted"
    return "completed" if row["endTime"] else "running"


async def test_is_completed_true_includes_deleted_instances(client: httpx.AsyncClient) -> None:
    ended = {state(r) for r in await every(client, isCompleted="true")}
    running = {state(r) for r in await every(client, isCompleted="false")}
    assert ended == {"completed", "deleted"}
    assert running == {"running", "suspended"}


async def test_deleted_instances_have_an_end_time_and_a_reason(data: YuuvisData) -> None:
    deleted = [r for r in data.instances if r["deleteReason"]]
    assert deleted
    assert all(r["endTime"] and r["durationInMillis"] is not None for r in deleted)
    assert all(r["endActivityId"] is None for r in deleted)


@pytest.mark.parametrize(
    ("reading", "states"),
    [("running", {"running"}), ("not_suspended", {"running", "completed", "deleted"})],
)
async def test_suspended_false_follows_the_configured_reading(
    make_client: MakeClient, reading: str, states: set[str]
) -> None:
    client = make_client(suspended_false=reading)
    assert {state(r) for r in await every(client, suspended="false")} == states
    assert {state(r) for r in await every(client, suspended="true")} == {"suspended"}


@pytest.mark.parametrize(("bounds", "included"), [("inclusive", True), ("exclusive", False)])
async def test_started_bounds_follow_the_configured_reading(
    make_client: MakeClient, data: YuuvisData, bounds: str, included: bool
) -> None:
    client = make_client(date_bounds=bounds)
    row = data.instances[100]
    for param in ("startedAfter", "startedBefore"):
        got = ids(await every(client, **{param: row["startTime"]}))
        assert (row["id"] in got) is included
    plus = row["startTime"].replace("Z", "+0000")  # the single example's offset form
    response = await client.get("/processes", params={"startedAfter": plus})
    assert response.status_code == 200


async def test_name_like_ignore_case_is_sql_like_on_lower_case(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    rows = await every(client, nameLikeIgnoreCase="%INVOICE inv-%")
    expected = [r for r in data.instances if "invoice inv-" in r["name"].lower()]
    assert ids(rows) == ids(expected)
    exact = await every(client, nameLike="%invoice%")
    assert exact == []  # nameLike keeps case


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("%10\\%%", "PO (10% discount)", True),
        ("%10\\%%", "PO (105 items)", False),
        ("%10_%", "PO (105 items)", True),
        ("a_c", "abc", True),
        ("a\\_c", "abc", False),
        ("%", "", True),
    ],
)
def test_like_patterns(pattern: str, text: str, hit: bool) -> None:
    assert (like(pattern).fullmatch(text) is not None) is hit


async def test_business_key_and_definition_filters(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    row = next(r for r in data.instances if r["businessKey"] and r["id"] not in data.parent)
    assert row["id"] in ids(await every(client, businessKey=row["businessKey"]))
    like_rows = await every(client, businessKeyLike="PO-%")
    assert like_rows
    assert all(r["businessKey"].startswith("PO-") for r in like_rows)
    key, version, _ = row["processDefinitionId"].split(":")
    by_key = await every(client, processDefinitionKey=key, processDefinitionVersion=version)
    assert all(r["processDefinitionId"].startswith(f"{key}:{version}:") for r in by_key)
    finance = await every(client, processDefinitionCategory="finance")
    assert {r["processDefinitionName"] for r in finance} <= {"Invoice approval", "Approval step"}


async def test_sub_process_links_and_exclusion(client: httpx.AsyncClient, data: YuuvisData) -> None:
    child, parent = next(iter(data.parent.items()))
    assert ids(await every(client, superProcessInstanceId=parent)) == [child]
    assert ids(await every(client, subProcessInstanceId=child)) == [parent]
    top = await every(client, excludeSubprocesses="true")
    assert len(top) == len(data.instances) - len(data.parent)
    sub = next(r for r in data.instances if r["id"] == child)
    top_parent = next(r for r in data.instances if r["id"] == parent)
    assert parse_time(sub["startTime"]) > parse_time(top_parent["startTime"])
    assert sub["startUserId"] == top_parent["startUserId"]


async def test_involved_user_matches_starters_and_assignees(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    user = ordinary(data)
    rows = await every(client, involvedUser=user["id"])
    started = set(ids(data.own_instances(user["id"])))
    assert started < set(ids(rows))


async def test_variables_only_when_asked_and_optionally_admin_only(
    make_client: MakeClient, data: YuuvisData
) -> None:
    user = ordinary(data)
    plain = make_client(user)
    params = {"includeProcessVariables": "true", "size": 5}
    rows = (await plain.get("/processes", params=params)).json()["objects"]
    assert all(r["variables"] for r in rows)
    assert set(rows[0]["variables"][0]) == {"name", "scope", "type", "value", "valueUrl"}
    hidden = make_client(user, variables_admin_only=True)
    rows = (await hidden.get("/processes", params=params)).json()["objects"]
    assert all(r["variables"] == [] for r in rows)


# -- single instance, history, definitions --------------------------------------------------


async def test_single_instance_is_bare_with_offset_times_and_completed_flag(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    row = next(r for r in data.instances if r["endTime"])
    body = (
        await client.get(f"/processes/{row['id']}", params={"includeProcessVariables": "true"})
    ).json()
    assert body["id"] == row["id"]
    assert body["completed"] is True
    assert body["startTime"].endswith("+0000")
    assert parse_time(body["startTime"]) == parse_time(row["startTime"])
    assert body["variables"] == data.variables[row["id"]]


async def test_single_instance_of_another_user_is_404_for_an_ordinary_user(
    make_client: MakeClient, data: YuuvisData
) -> None:
    user = ordinary(data)
    foreign = next(r for r in data.instances if r["startUserId"] != user["id"])
    response = await make_client(user).get(f"/processes/{foreign['id']}")
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS


async def test_history_lists_tasks_and_comments_when_asked(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    row = data.instances[0]
    body = (await client.get(f"/processes/{row['id']}/history")).json()
    assert body == {"tasks": data.tasks[row["id"]]}
    with_comments = await client.get(
        f"/processes/{row['id']}/history", params={"includeComments": "true"}
    )
    assert with_comments.json()["comments"] == []


async def test_definitions_list_every_version_and_latest_only_with_key(
    client: httpx.AsyncClient, data: YuuvisData
) -> None:
    body = (await client.get("/process-definitions", params={"size": 100})).json()
    assert body["totalNumItems"] == len(data.definitions)
    latest = (await client.get("/process-definitions", params={"latest": "true"})).json()
    assert {d["key"] for d in latest["objects"]} == {d["key"] for d in data.definitions}
    refused = await client.get("/process-definitions", params={"latest": "true", "name": "x"})
    assert refused.status_code == 400
    one = data.definitions[0]
    assert (await client.get(f"/process-definitions/{one['id']}")).json() == one
    assert (await client.get("/process-definitions/nope")).status_code == 404


async def test_unknown_path_is_404_in_the_yuuvis_format(client: httpx.AsyncClient) -> None:
    response = await client.get("/tasks-of-nobody")
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS


# -- faults ---------------------------------------------------------------------------------


async def test_injected_faults_answer_in_the_yuuvis_format_then_recover(
    data: YuuvisData,
) -> None:
    sim = create_app(data)
    sim.faults.add(Fault(kind="status", status=503, path=r"/processes$", times=1))
    headers = {"Authorization": f"Bearer {data.admin['token']}", "X-ID-TENANT-NAME": data.tenant}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim), base_url="http://sim.test", headers=headers
    ) as client:
        first = await client.get("/bpm-engine/api/processes")
        second = await client.get("/bpm-engine/api/processes")
    assert first.status_code == 503
    assert set(first.json()) == ERROR_KEYS
    assert second.status_code == 200
    assert [r.path for r in sim.requests] == ["/bpm-engine/api/processes"] * 2


def test_generation_is_deterministic_and_realistic() -> None:
    a, b = generate(seed=5, instances=120), generate(seed=5, instances=120)
    assert a == b
    assert len(a.instances) == 120 + len(hostile.NAMES)  # the hostile ones come on top
    assert sum(u["admin"] for u in a.users) == 1
    assert {state(r) for r in a.instances} == {"running", "suspended", "completed", "deleted"}
    assert a.parent
    starts = [parse_time(r["startTime"]) for r in a.instances]
    assert (max(starts) - min(starts)).days > 600
    assert max(starts) <= a.now
