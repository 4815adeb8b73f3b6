"""The Chakra simulator behaves like the documented API (reference part A), quirks included.

Expected rows are computed here by hand from the data, not with tools.query, so the
simulator is checked against the documentation rather than against our own evaluator."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tools.backends.chakra.data import ChakraData, generate
from tools.backends.chakra.simulator import create_app, parse_iso_ms
from tools.sim import Fault, RateLimit

pytestmark = pytest.mark.anyio

TOKEN = "sandbox-chakra-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
LIST = "/v1/ext/procedure/{}/process/list"
Row = dict[str, Any]


@pytest.fixture(scope="module")
def data() -> ChakraData:
    return generate(seed=5, leads=140, tickets=60, visits=40)


MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(data: ChakraData) -> AsyncIterator[MakeClient]:
    """Builds a simulator (keyword args go to create_app) and a client for it."""
    clients: list[httpx.AsyncClient] = []

    def build(headers: dict[str, str] | None = None, **options: Any) -> httpx.AsyncClient:
        sim = create_app(data, token=TOKEN, **options)
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim),
            base_url="http://chakra.test",
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


def newest_first(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda p: (p["createdAt"], p["id"]), reverse=True)


def expected(data: ChakraData, sid: str, keep: Callable[[Row], bool]) -> list[str]:
    return [p["id"] for p in newest_first(data.processes[sid]) if keep(p)]


async def list_all(client: httpx.AsyncClient, sid: str, where: Any) -> list[str]:
    """Every matching id, paging with skip = rows received so far (A.4)."""
    got: list[str] = []
    while True:
        r = await client.post(
            LIST.format(sid), json={"where": where, "skip": len(got), "limit": 100}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        got += [p["id"] for p in body["_data"]]
        if not body["_meta"]["hasMore"]:
            return got


def state_id(data: ChakraData, sid: str, short: str) -> str:
    return str(next(s["id"] for s in data.states_of(sid) if s["shortId"] == short))


# -- envelope, auth, endpoints -----------------------------------------------------------


async def test_every_success_is_the_data_meta_errors_envelope(client: httpx.AsyncClient) -> None:
    for r in (
        await client.get("/v1/health"),
        await client.get("/v1/ext/config"),
        await client.get("/v1/ext/users"),
        await client.post(LIST.format("lead"), json={}),
    ):
        assert r.status_code == 200
        assert set(r.json()) == {"_data", "_meta", "_errors"}
        assert r.json()["_errors"] == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
async def test_missing_or_bad_bearer_token_is_401_in_the_envelope(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    r = await make_client(headers=headers).post(LIST.format("lead"), json={})
    assert r.status_code == 401
    body = r.json()
    assert body["_data"] is None
    assert body["_meta"] == {}
    assert "token" in body["_errors"][0]


async def test_config_maps_procedures_attributes_and_states_by_uuid(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    config = (await client.get("/v1/ext/config")).json()["_data"]
    short_ids = [p["shortId"] for p in config["procedures"]]
    assert short_ids == ["lead", "ticket", "fieldvisit"]
    by_uuid = {p["id"]: p["shortId"] for p in config["procedures"]}
    lead_attrs = [a["shortId"] for a in config["attributes"] if by_uuid[a["procedure"]] == "lead"]
    assert lead_attrs[0] == "lead_id"
    assert {"email", "phone_number", "budget"} <= set(lead_attrs)
    states = {(by_uuid[s["procedure"]], s["shortId"]) for s in config["states"]}
    assert {("lead", "WON"), ("ticket", "RESOLVED"), ("fieldvisit", "CANCELLED")} <= states
    assert all(UUID.fullmatch(a["id"]) for a in config["attributes"])


async def test_config_by_default_says_nothing_the_reference_does_not(
    client: httpx.AsyncClient,
) -> None:
    """A.3/A20 list what the config holds, not how a primary key is marked nor that a
    state stands for a status: by default neither is there."""
    config = (await client.get("/v1/ext/config")).json()["_data"]
    assert not any("status" in s for s in config["states"])
    assert not any("primaryKey" in a for a in config["attributes"])
    assert not any("primaryKey" in p for p in config["procedures"])


@pytest.mark.parametrize("marking", ["attribute", "procedure"])
async def test_config_flags_add_the_key_marking_and_state_statuses(
    make_client: MakeClient, marking: str
) -> None:
    c = make_client(key_marking=marking, state_statuses=True)
    config = (await c.get("/v1/ext/config")).json()["_data"]
    lead = next(p for p in config["procedures"] if p["shortId"] == "lead")
    if marking == "procedure":
        assert lead["primaryKey"] == "lead_id"
        assert not any("primaryKey" in a for a in config["attributes"])
    else:
        keys = [a["shortId"] for a in config["attributes"] if a.get("primaryKey") is True]
        assert keys == ["lead_id", "ticket_id", "visit_id"]
    won = next(s for s in config["states"] if s["shortId"] == "WON")
    assert won["status"] == "COMPLETED"


async def test_status_and_state_are_separate_fields(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    """Update sets status and state separately (A6, A16): some processes were cancelled
    while their state is still an open one, and `status` filters by the field itself."""
    open_states = {s["id"] for s in data.states if s["status"] == "OPEN"}
    dropped = [
        p["id"]
        for p in newest_first(data.processes["lead"])
        if p["status"] == "CANCELLED" and p["state"] in open_states
    ]
    assert dropped
    cancelled = await list_all(client, "lead", {"status": "CANCELLED"})
    assert set(dropped) < set(cancelled)
    in_new = await list_all(client, "lead", {"state": "NEW", "status": "CANCELLED"})
    assert in_new == [
        i for i in dropped if i in set(await list_all(client, "lead", {"state": "NEW"}))
    ]


async def test_some_leads_are_known_by_a_company_only_their_notes_name(data: ChakraData) -> None:
    leads = data.processes["lead"]
    notes_only = [p for p in leads if "company" not in p["data"]]
    assert notes_only
    assert all(p["data"]["notes"] for p in notes_only)
    others = [p for p in leads if "company" in p["data"] and "notes" in p["data"]]
    assert others  # and some notes name a second company


async def test_users_carry_uuid_ids_usernames_and_integer_created_at(
    client: httpx.AsyncClient,
) -> None:
    users = (await client.get("/v1/ext/users")).json()["_data"]
    assert len(users) >= 5
    assert all(UUID.fullmatch(u["id"]) and u["username"] for u in users)
    assert all(isinstance(u["createdAt"], int) for u in users)


async def test_objects_carry_uuids_and_epoch_ms_like_the_data_model(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    process = data.processes["ticket"][3]
    r = await client.get(f"/v1/ext/procedure/ticket/process/{process['id']}")
    got = r.json()["_data"]
    assert got == process
    assert UUID.fullmatch(got["state"])
    assert UUID.fullmatch(got["procedure"])
    assert isinstance(got["createdAt"], int)
    assert isinstance(got["updatedAt"], int)
    assert got["data"]["ticket_id"].startswith("TKT-")


async def test_state_format_flag_switches_objects_to_state_short_ids(
    make_client: MakeClient, data: ChakraData
) -> None:
    c = make_client(state_format="shortId")
    rows = (await c.post(LIST.format("lead"), json={"limit": 100})).json()["_data"]
    shorts = {s["shortId"] for s in data.states_of("lead")}
    assert {r["state"] for r in rows} <= shorts


@pytest.mark.parametrize(
    "path",
    [
        "/v1/ext/procedure/invoice/process/list",
        "/v1/ext/procedure/lead/process/00000000-0000-4000-8000-000000000000",
        "/v1/ext/nothing-here",
    ],
)
async def test_unknown_procedure_process_or_path_is_404_in_the_envelope(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await (client.post(path, json={}) if path.endswith("/list") else client.get(path))
    assert r.status_code == 404
    assert r.json()["_data"] is None
    assert r.json()["_errors"]


async def test_a_process_is_found_only_under_its_own_procedure(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    lead = data.processes["lead"][0]["id"]
    assert (await client.get(f"/v1/ext/procedure/ticket/process/{lead}")).status_code == 404
    assert (await client.get(f"/v1/ext/procedure/lead/process/{lead}")).status_code == 200


# -- paging ------------------------------------------------------------------------------


async def test_default_page_is_ten_newest_first_with_has_more_and_no_total(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    body = (await client.post(LIST.format("lead"), json={})).json()
    assert [p["id"] for p in body["_data"]] == expected(data, "lead", lambda p: True)[:10]
    assert body["_meta"] == {"hasMore": True}


async def test_skip_pages_until_has_more_is_false(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    assert await list_all(client, "lead", {}) == expected(data, "lead", lambda p: True)
    leads = len(data.processes["lead"])  # 140 regular and the hostile ones
    last = await client.post(LIST.format("lead"), json={"skip": leads - 10, "limit": 100})
    assert len(last.json()["_data"]) == 10
    assert last.json()["_meta"]["hasMore"] is False


async def test_limit_over_100_is_400_in_strict_mode(client: httpx.AsyncClient) -> None:
    r = await client.post(LIST.format("lead"), json={"limit": 101})
    assert r.status_code == 400
    assert "100" in r.json()["_errors"][0]


async def test_limit_over_100_is_clamped_in_lenient_mode(make_client: MakeClient) -> None:
    r = await make_client(strict=False).post(LIST.format("lead"), json={"limit": 500})
    assert len(r.json()["_data"]) == 100
    assert r.json()["_meta"]["hasMore"] is True


@pytest.mark.parametrize(
    "body",
    [{"limit": 0}, {"limit": "10"}, {"skip": -1}, {"skip": True}, {"where": []}],
)
async def test_bad_paging_values_and_a_non_object_where_are_400(
    client: httpx.AsyncClient, body: Row
) -> None:
    assert (await client.post(LIST.format("lead"), json=body)).status_code == 400


async def test_invalid_json_body_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post(LIST.format("lead"), content=b"{not json")
    assert r.status_code == 400
    assert r.json()["_errors"] == ["request body is not valid JSON"]


async def test_unknown_body_keys_are_400_strict_and_ignored_lenient(
    make_client: MakeClient,
) -> None:
    body = {"where": {}, "sort": "createdAt"}
    assert (await make_client().post(LIST.format("lead"), json=body)).status_code == 400
    assert (await make_client(strict=False).post(LIST.format("lead"), json=body)).status_code == 200


# -- where evaluation --------------------------------------------------------------------

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@pytest.mark.parametrize("op", list(OPS))
async def test_each_of_the_six_operators_compares_an_attribute(
    client: httpx.AsyncClient, data: ChakraData, op: str
) -> None:
    test = OPS[op]
    value = data.processes["lead"][0]["data"]["score"]  # present, so "=" finds something
    got = await list_all(client, "lead", {"score": {op: value}})
    assert got == expected(data, "lead", lambda p: test(p["data"]["score"], value))
    assert 0 < len(got) < len(data.processes["lead"])


async def test_a_scalar_means_equals(client: httpx.AsyncClient, data: ChakraData) -> None:
    got = await list_all(client, "ticket", {"priority": "urgent"})
    assert got == expected(data, "ticket", lambda p: p["data"]["priority"] == "urgent")
    assert got


async def test_an_array_means_in_and_not_equal_to_an_array_means_not_in(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    wanted = ["website", "referral"]
    inside = await list_all(client, "lead", {"source": wanted})
    outside = await list_all(client, "lead", {"source": {"!=": wanted}})
    assert inside == expected(data, "lead", lambda p: p["data"]["source"] in wanted)
    assert outside == expected(data, "lead", lambda p: p["data"]["source"] not in wanted)
    assert inside
    assert outside


async def test_a_missing_attribute_equals_nothing_and_differs_from_everything(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    without_budget = expected(data, "lead", lambda p: "budget" not in p["data"])
    assert without_budget
    differs = await list_all(client, "lead", {"budget": {"!=": 100000}})
    assert set(without_budget) <= set(differs)
    above = await list_all(client, "lead", {"budget": {">": -1}})
    assert not set(without_budget) & set(above)


async def test_several_operators_in_one_map_all_hold(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    got = await list_all(client, "lead", {"score": {">": 20, "<=": 60, "!=": 40}})
    assert got == expected(
        data, "lead", lambda p: 20 < p["data"]["score"] <= 60 and p["data"]["score"] != 40
    )


async def test_nested_and_or_groups_follow_boolean_logic(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    where = {
        "category": ["billing", "technical"],
        "or": [
            {"priority": "urgent"},
            {
                "and": [
                    {"channel": "whatsapp"},
                    {"or": [{"reopened": {"=": True}}, {"sla_hours": 4}]},
                ]
            },
        ],
    }

    def keep(p: Row) -> bool:
        d = p["data"]
        inner = d["channel"] == "whatsapp" and (d["reopened"] is True or d["sla_hours"] == 4)
        return d["category"] in ("billing", "technical") and (d["priority"] == "urgent" or inner)

    got = await list_all(client, "ticket", where)
    assert got == expected(data, "ticket", keep)
    assert got


async def test_root_fields_status_state_assigned_to_and_created_at(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    user = data.users[1]
    won = state_id(data, "lead", "WON")
    lo, hi = "2025-06-01T10:00:00+05:30", "2026-06-01T00:00:00Z"
    where = {
        "status": ["COMPLETED", "CANCELLED"],
        "or": [{"state": "WON"}, {"assignedTo": user["username"]}],
        "createdAt": {">=": lo, "<": hi},
    }

    def keep(p: Row) -> bool:
        return (
            p["status"] in ("COMPLETED", "CANCELLED")
            and (p["state"] == won or p["assignedTo"] == user["id"])
            and parse_iso_ms(lo) <= p["createdAt"] < parse_iso_ms(hi)
        )

    got = await list_all(client, "lead", where)
    assert got == expected(data, "lead", keep)
    assert got


async def test_iso_offsets_are_honoured_in_created_at(client: httpx.AsyncClient) -> None:
    assert parse_iso_ms("2026-01-01T05:30:00+05:30") == parse_iso_ms("2026-01-01T00:00:00Z")
    a = await list_all(client, "lead", {"createdAt": {"<": "2026-01-01T05:30:00+05:30"}})
    b = await list_all(client, "lead", {"createdAt": {"<": "2026-01-01T00:00:00.000Z"}})
    assert a == b
    assert a


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"score": {"~": 5}}, "unknown operator '~'"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"updatedAt": {">": "2026-01-01T00:00:00Z"}}, "unknown key 'updatedAt'"),
        ({"or": {"score": 5}}, "non-empty array"),
        ({"and": []}, "non-empty array"),
        ({"score": {}}, "empty operator map"),
        ({"score": {">": [1, 2]}}, "single value"),
        ({"createdAt": {">": "yesterday"}}, "not an ISO timestamp"),
        ({"or": [{"and": [{"nope": 1}]}]}, "where.or[0].and[0].nope"),
    ],
)
async def test_bad_where_is_400_with_a_message_naming_the_problem(
    client: httpx.AsyncClient, where: Row, message: str
) -> None:
    r = await client.post(LIST.format("lead"), json={"where": where})
    assert r.status_code == 400
    body = r.json()
    assert body["_data"] is None
    assert body["_meta"] == {}
    assert message in body["_errors"][0]


async def test_unknown_key_error_lists_the_valid_keys(client: httpx.AsyncClient) -> None:
    r = await client.post(LIST.format("fieldvisit"), json={"where": {"lead_id": "x"}})
    assert "visit_id" in r.json()["_errors"][0]
    assert "assignedTo" in r.json()["_errors"][0]


@pytest.mark.parametrize(
    "where",
    [
        {"reopened": True},
        {"sla_hours": ["4", 8]},
        {"status": "DONE"},
        {"state": "RESOLVED"},
        {"assignedTo": "no.such.user"},
        {"createdAt": {">": 1700000000000}},
    ],
)
async def test_strict_mode_refuses_values_outside_the_documented_types(
    make_client: MakeClient, where: Row
) -> None:
    r = await make_client().post(
        LIST.format("lead" if "state" in where else "ticket"), json={"where": where}
    )
    assert r.status_code == 400


async def test_lenient_mode_reads_uuids_epoch_ms_and_bare_booleans(
    make_client: MakeClient, data: ChakraData
) -> None:
    c = make_client(strict=False)
    user = data.users[0]
    by_uuid = await list_all(
        c, "lead", {"assignedTo": user["id"], "state": state_id(data, "lead", "LOST")}
    )
    by_name = await list_all(c, "lead", {"assignedTo": user["username"], "state": "LOST"})
    assert by_uuid == by_name
    assert by_uuid
    since = data.processes["lead"][70]["createdAt"]
    assert await list_all(c, "lead", {"createdAt": {">=": since}}) == expected(
        data, "lead", lambda p: p["createdAt"] >= since
    )
    assert await list_all(c, "ticket", {"reopened": True}) == expected(
        data, "ticket", lambda p: p["data"]["reopened"] is True
    )


async def test_booleans_go_through_the_equals_operator_in_strict_mode(
    client: httpx.AsyncClient, data: ChakraData
) -> None:
    got = await list_all(client, "ticket", {"reopened": {"=": True}})
    assert got == expected(data, "ticket", lambda p: p["data"]["reopened"] is True)
    assert got


# -- faults and recording ----------------------------------------------------------------


async def test_injected_faults_answer_in_the_vendor_envelope(client: httpx.AsyncClient) -> None:
    sim = client.sim  # type: ignore[attr-defined]
    sim.faults.add(Fault(kind="status", status=503, path=r"/list$"))
    sim.faults.add(Fault(kind="status", status=429, retry_after=3, path=r"/list$"))
    first = await client.post(LIST.format("lead"), json={})
    second = await client.post(LIST.format("lead"), json={})
    third = await client.post(LIST.format("lead"), json={})
    assert first.status_code == 503
    assert first.json() == {"_data": None, "_meta": {}, "_errors": ["Service Unavailable"]}
    assert (second.status_code, second.headers["retry-after"]) == (429, "3")
    assert third.status_code == 200


async def test_rate_limit_is_off_by_default_and_can_be_switched_on(make_client: MakeClient) -> None:
    c = make_client(rate_limit=RateLimit(2, 60.0))
    codes = [(await c.get("/v1/health")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_requests_are_recorded_with_their_json_body(client: httpx.AsyncClient) -> None:
    body = {"where": {"score": {">": 5}}, "skip": 0, "limit": 3}
    await client.post(LIST.format("lead"), json=body)
    recorded = client.sim.requests[-1]  # type: ignore[attr-defined]
    assert (recorded.method, recorded.path) == ("POST", LIST.format("lead"))
    assert json.loads(recorded.body) == body
