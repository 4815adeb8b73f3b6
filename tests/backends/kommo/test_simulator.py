"""The Kommo simulator behaves like the documented API (reference), quirks included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.backends.kommo.conftest import company_only_leads, make_sim
from tools.backends.kommo import sandbox
from tools.backends.kommo.data import LOST, WON, KommoData, generate
from tools.sim import RateLimit, hostile

pytestmark = pytest.mark.anyio
HEADERS = {"Authorization": f"Bearer {sandbox.TOKEN}"}
MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(data: KommoData) -> AsyncIterator[MakeClient]:
    """A client for a fresh simulator (keyword args go to create_app)."""
    clients: list[httpx.AsyncClient] = []

    def build(headers: dict[str, str] | None = None, **options: Any) -> httpx.AsyncClient:
        sim = make_sim(data, **options)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim),
            base_url="https://acme.kommo.test",
            headers=HEADERS if headers is None else headers,
        )
        client.sim = sim  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: MakeClient) -> httpx.AsyncClient:
    return make_client()


def ids(response: httpx.Response, entity: str = "leads") -> list[int]:
    return [r["id"] for r in response.json()["_embedded"][entity]]


async def all_ids(client: httpx.AsyncClient, query: str, entity: str = "leads") -> list[int]:
    out: list[int] = []
    page = 1
    while True:
        r = await client.get(f"/api/v4/{entity}?{query}&limit=250&page={page}")
        if r.status_code == 204:
            return out
        out += ids(r, entity)
        page += 1


# -- data ----------------------------------------------------------------------------------


def test_generation_is_deterministic_and_scales() -> None:
    assert generate(seed=3, leads=50) == generate(seed=3, leads=50)
    big = generate(seed=3, leads=10_000, contacts=10, companies=10, customers=10)
    expected = 10_000 + len(hostile.NAMES)  # the hostile leads come on top
    assert len(big.leads) == expected
    assert len({r["id"] for r in big.leads}) == expected
    # Ids rise with creation, hostile leads included (each fills a gap).
    created = [(r["created_at"], r["id"]) for r in big.leads]
    assert created == sorted(created)
    assert sorted(r["id"] for r in big.leads) == [r["id"] for r in big.leads]
    # Fixed-width ids: text order is numeric order.
    assert len({len(str(r["id"])) for r in big.leads}) == 1


def test_every_pipeline_has_incoming_won_and_lost(data: KommoData) -> None:
    for pipeline in data.pipelines:
        statuses = pipeline["_embedded"]["statuses"]
        assert statuses[0]["type"] == 1
        assert {WON, LOST} <= {s["id"] for s in statuses}
    # Renamed in some pipelines, as accounts may: names are not the mapping.
    assert (
        len(
            {
                s["name"]
                for p in data.pipelines
                for s in p["_embedded"]["statuses"]
                if s["id"] == WON
            }
        )
        > 1
    )


# -- envelope and quirks -------------------------------------------------------------------


async def test_missing_or_wrong_token_is_a_401_problem(make_client: MakeClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = await make_client(headers=headers).get("/api/v4/leads")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "Unauthorized"


async def test_list_is_hal_without_a_total_and_links_echo_the_query(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v4/leads?filter[pipeline_id]=7700001&limit=3&order[id]=asc")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/hal+json"
    body = r.json()
    assert body["_page"] == 1
    assert "_total_items" not in body
    assert set(body["_links"]) == {"self", "next"}  # page 1: only self and next
    next_href = body["_links"]["next"]["href"]
    assert next_href.startswith("https://acme.kommo.test/api/v4/leads?")
    assert "filter%5Bpipeline_id%5D=7700001" in next_href  # brackets percent-encoded
    assert dict(parse_qsl(urlsplit(next_href).query))["page"] == "2"
    second = await client.get(next_href)
    assert set(second.json()["_links"]) == {"self", "next", "first", "prev"}
    assert ids(second)[0] > ids(r)[-1]


async def test_the_last_page_still_links_next_and_the_page_after_is_204(
    client: httpx.AsyncClient, data: KommoData
) -> None:
    total = len(data.leads)
    last_page = -(-total // 50)
    last = await client.get(f"/api/v4/leads?page={last_page}")
    assert len(ids(last)) == total - 50 * (last_page - 1) < 50  # a short page is the end
    assert "next" in last.json()["_links"]  # Kommo cannot count, so it always says next
    past = await client.get(last.json()["_links"]["next"]["href"])
    assert past.status_code == 204
    assert past.content == b""


async def test_nothing_matching_is_204_with_an_empty_body(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v4/leads?filter[id]=1")
    assert (r.status_code, r.content) == (204, b"")


async def test_missing_id_is_204_not_404(client: httpx.AsyncClient, data: KommoData) -> None:
    for entity in ("leads", "contacts", "companies", "customers"):
        r = await client.get(f"/api/v4/{entity}/99999999")
        assert (r.status_code, r.content) == (204, b"")
    found = await client.get(f"/api/v4/leads/{data.leads[0]['id']}")
    assert found.json()["id"] == data.leads[0]["id"]
    assert "_embedded" in found.json()
    assert "_page" not in found.json()


async def test_rows_have_null_custom_fields_and_always_tags_and_companies(
    client: httpx.AsyncClient,
) -> None:
    rows = (await client.get("/api/v4/leads?limit=250")).json()["_embedded"]["leads"]
    assert any(r["custom_fields_values"] is None for r in rows)
    assert all(r["custom_fields_values"] is None or r["custom_fields_values"] for r in rows)
    assert all(isinstance(r["_embedded"]["tags"], list) for r in rows)
    assert all(isinstance(r["_embedded"]["companies"], list) for r in rows)
    assert all(
        r["_links"]["self"]["href"].startswith("https://acme.kommo.test/api/v4/leads/")
        for r in rows
    )
    contacts = (await client.get("/api/v4/contacts")).json()["_embedded"]["contacts"]
    assert all("companies" in c["_embedded"] and "tags" in c["_embedded"] for c in contacts)


async def test_with_adds_relations_only_when_asked(
    client: httpx.AsyncClient, data: KommoData
) -> None:
    lead_id = next(iter(data.lead_contacts))
    plain = (await client.get(f"/api/v4/leads/{lead_id}")).json()
    assert "contacts" not in plain["_embedded"]
    rich = (await client.get(f"/api/v4/leads/{lead_id}?with=contacts,loss_reason")).json()
    assert [c["id"] for c in rich["_embedded"]["contacts"]] == data.lead_contacts[lead_id]
    assert rich["_embedded"]["contacts"][0]["is_main"] is True


# -- filters -------------------------------------------------------------------------------


async def test_three_forms_of_several_values_mean_the_same(make_client: MakeClient) -> None:
    client = make_client(repeated_keys="all")
    forms = [
        "filter[pipeline_id][]=7700012&filter[pipeline_id][]=7700023",
        "filter[pipeline_id][0]=7700012&filter[pipeline_id][1]=7700023",
        "filter[pipeline_id]=7700012&filter[pipeline_id]=7700023",
    ]
    answers = [await all_ids(client, f) for f in forms]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0] == sorted(answers[0])  # no order: id ascending
    one = await all_ids(client, "filter[pipeline_id]=7700023")
    assert 0 < len(one) < len(answers[0])


async def test_by_default_a_repeated_bare_key_keeps_only_its_last_value(
    client: httpx.AsyncClient,
) -> None:
    # The PHP reading (reference section 3), stricter than the filtration page's example.
    both = await all_ids(client, "filter[pipeline_id]=7700012&filter[pipeline_id]=7700023")
    assert both == await all_ids(client, "filter[pipeline_id]=7700023")
    listed = await all_ids(client, "filter[pipeline_id][]=7700012&filter[pipeline_id][]=7700023")
    assert len(listed) > len(both)


async def test_statuses_pairs_or_together_and_need_both_keys(
    client: httpx.AsyncClient, make_client: MakeClient, data: KommoData
) -> None:
    query = (
        "filter[statuses][0][pipeline_id]=7700001&filter[statuses][0][status_id]=142"
        "&filter[statuses][1][pipeline_id]=7700023&filter[statuses][1][status_id]=143"
    )
    got = set(await all_ids(client, query))
    want = {
        r["id"]
        for r in data.leads
        if (r["pipeline_id"], r["status_id"]) in {(7700001, WON), (7700023, LOST)}
    }
    assert want
    assert got == want
    half = "filter[statuses][0][status_id]=142"
    refused = await client.get(f"/api/v4/leads?{half}")
    assert refused.status_code == 400
    errors = refused.json()["validation-errors"][0]["errors"]
    assert errors[0]["path"] == "filter.statuses.0"
    lenient = make_client(strict=False)
    assert len(await all_ids(lenient, half)) == len(data.leads)  # dropped, as the PHP lib does


def test_some_leads_name_their_company_only_in_a_text_custom_field(data: KommoData) -> None:
    for dataset in (data, generate(seed=7)):  # the tests' data and the sandbox's
        found = company_only_leads(dataset)
        assert len(found) >= 3
        by_id = {r["id"]: r for r in dataset.leads}
        assert all(by_id[lead]["_embedded"]["companies"] == [] for lead, _ in found)
        fields = {f["name"]: f["type"] for f in dataset.custom_fields["leads"]}
        assert fields["Company"] == "text"


async def test_query_finds_a_lead_by_the_company_in_its_text_custom_field(
    client: httpx.AsyncClient, data: KommoData
) -> None:
    for lead_id, company in company_only_leads(data):
        assert lead_id in await all_ids(client, f"query={company.upper()}")


async def test_query_searches_text_like_fields_but_not_select_labels(
    client: httpx.AsyncClient, data: KommoData
) -> None:
    # "Website" is a Lead source option (a select), never free text in this data.
    assert any(
        v["value"] == "Website"
        for r in data.leads
        for cf in r["custom_fields_values"] or ()
        for v in cf["values"]
    )
    assert await all_ids(client, "query=website") == []
    # Phones are multitext fields; Kommo suggests ?query={phone} to find a contact.
    phoned = {
        c["id"]
        for c in data.contacts
        for cf in c["custom_fields_values"] or ()
        if cf["field_name"] == "Phone"
    }
    assert set(await all_ids(client, "query=%2B1 555", "contacts")) == phoned
    # Web (url) and Address (textarea) of companies.
    webbed = {
        c["id"]
        for c in data.companies
        for cf in c["custom_fields_values"] or ()
        if cf["field_name"] == "Web"
    }
    assert webbed <= set(await all_ids(client, "query=https://", "companies"))
    assert await all_ids(client, "query=main street", "companies")


async def test_ranges_are_inclusive_unless_told_otherwise(
    make_client: MakeClient, data: KommoData
) -> None:
    lead = data.leads[10]
    at = lead["created_at"]
    query = f"filter[created_at][from]={at}&filter[created_at][to]={at}"
    assert lead["id"] in await all_ids(make_client(), query)
    assert lead["id"] not in await all_ids(make_client(range_to_inclusive=False), query)


@pytest.mark.parametrize("to_inclusive", [True, False])
async def test_a_single_value_is_an_exact_match_whatever_the_reading_of_to(
    make_client: MakeClient, data: KommoData, to_inclusive: bool
) -> None:
    price = data.leads[10]["price"]
    wanted = [lead["id"] for lead in data.leads if lead["price"] == price]
    got = await all_ids(make_client(range_to_inclusive=to_inclusive), f"filter[price]={price}")
    assert got == wanted


async def test_custom_field_filters_can_be_silently_ignored(
    make_client: MakeClient, data: KommoData
) -> None:
    query = "filter[custom_fields_values][880001][]=770001"
    filtered = await all_ids(make_client(), query)
    assert 0 < len(filtered) < len(data.leads)
    ignored = await all_ids(make_client(custom_field_filtering=False), query)
    assert len(ignored) == len(data.leads)


async def test_legacy_customer_filters_are_aliases(
    client: httpx.AsyncClient, data: KommoData
) -> None:
    user = data.users[1]["id"]
    v4 = await all_ids(client, f"filter[responsible_user_id]={user}", "customers")
    v2 = await all_ids(client, f"filter[main_user]={user}", "customers")
    assert v4
    assert v4 == v2
    moment = data.customers[20]["updated_at"]
    legacy = f"filter[date][type]=modify&filter[date][from]={moment}"
    modern = f"filter[updated_at][from]={moment}"
    assert await all_ids(client, legacy, "customers") == await all_ids(client, modern, "customers")


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ("/api/v4/leads?filter[colour]=red", "filter.colour"),
        ("/api/v4/leads?with=everything", "with"),
        ("/api/v4/leads?order[name]=asc", "order.name"),
        ("/api/v4/contacts?order[created_at]=desc", "order.created_at"),
        ("/api/v4/contacts?filter[pipeline_id]=1", "filter.pipeline_id"),
        ("/api/v4/customers?query=acme", "query"),
        ("/api/v4/customers?order[updated_at]=desc", "order"),
        ("/api/v4/leads?page=1&bogus=1", "bogus"),
    ],
)
async def test_strict_mode_refuses_what_kommo_does_not_document(
    client: httpx.AsyncClient, make_client: MakeClient, path: str, bad: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 400
    body = r.json()
    assert body["detail"] == "Request validation failed"
    assert body["validation-errors"][0]["errors"][0]["path"] == bad
    assert (await make_client(strict=False).get(path)).status_code in (200, 204)


async def test_a_limit_above_250_silently_gives_50_unless_told_to_refuse(
    client: httpx.AsyncClient, make_client: MakeClient, data: KommoData
) -> None:
    assert len(data.leads) < 250  # so one page of 250 holds them all
    assert len(ids(await client.get("/api/v4/leads?limit=250"))) == len(data.leads)
    for limit in (251, 500):
        assert len(ids(await client.get(f"/api/v4/leads?limit={limit}"))) == 50
    assert len(ids(await client.get("/api/v4/leads"))) == 50  # the default
    refused = await make_client(limit_over_max="refuse").get("/api/v4/leads?limit=251")
    assert refused.status_code == 400
    assert refused.json()["validation-errors"][0]["errors"][0]["path"] == "limit"


async def test_ordering_ties_break_by_id_in_the_same_direction(
    make_client: MakeClient,
) -> None:
    data = generate(seed=5, leads=40)
    for row in data.leads[:10]:
        row["updated_at"] = data.leads[0]["updated_at"]  # ten rows share one second
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_sim(data)),
        base_url="http://k.test",
        headers=HEADERS,
    )
    body = (await client.get("/api/v4/leads?order[updated_at]=desc&limit=250")).json()
    rows = body["_embedded"]["leads"]
    keys = [(r["updated_at"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)
    await client.aclose()


def customer_order(data: KommoData) -> list[int]:
    """The simulator's own order for customers (none is documented): next purchase date,
    ties by id, ascending."""
    return [c["id"] for c in sorted(data.customers, key=lambda c: (c["next_date"], c["id"]))]


async def test_customers_come_in_an_order_no_sort_of_ours_gives(
    client: httpx.AsyncClient, data: KommoData
) -> None:
    got = await all_ids(client, "with=contacts", "customers")
    assert got == customer_order(data)
    # Not by id, creation or update time: a client assuming one of them is caught.
    for column in ("id", "created_at", "updated_at"):
        by = [c["id"] for c in sorted(data.customers, key=lambda c: (c[column], c["id"]))]
        assert got not in (by, by[::-1])


@pytest.mark.parametrize("strict", [True, False])
async def test_customers_take_order_only_when_the_flag_says_kommo_does(
    make_client: MakeClient, data: KommoData, strict: bool
) -> None:
    query = "order[updated_at]=desc"
    refused = await make_client(strict=strict).get(f"/api/v4/customers?{query}")
    if strict:  # the default reading: no `order` for customers (reference section 2)
        assert refused.status_code == 400
        body = refused.json()
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert body["detail"] == "Request validation failed"
        error = body["validation-errors"][0]["errors"][0]
        assert (error["path"], error["code"]) == ("order", "NotSupportedChoice")
    else:  # lenient: ignored, the simulator's own order
        assert await all_ids(make_client(strict=False), query, "customers") == customer_order(data)
    ordered = await all_ids(make_client(strict=strict, customers_order=True), query, "customers")
    by_update = sorted(data.customers, key=lambda c: (c["updated_at"], c["id"]), reverse=True)
    assert ordered == [c["id"] for c in by_update]


# -- directories ---------------------------------------------------------------------------


async def test_pipelines_come_whole_with_a_total(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v4/leads/pipelines")).json()
    assert body["_total_items"] == len(body["_embedded"]["pipelines"]) == 3
    statuses = (await client.get("/api/v4/leads/pipelines/7700012/statuses")).json()
    assert {s["id"] for s in statuses["_embedded"]["statuses"]} >= {WON, LOST}
    missing = await client.get("/api/v4/leads/pipelines/1/statuses")
    assert (missing.status_code, missing.json()["detail"]) == (404, "Pipeline not found")


async def test_custom_fields_page_at_50_with_a_page_count(
    client: httpx.AsyncClient, make_client: MakeClient
) -> None:
    body = (await client.get("/api/v4/leads/custom_fields")).json()
    assert body["_page_count"] == 1
    assert {f["type"] for f in body["_embedded"]["custom_fields"]} >= {"select", "numeric"}
    assert (await client.get("/api/v4/leads/custom_fields?limit=51")).json()["_page_count"] == 1
    refusing = make_client(limit_over_max="refuse")
    assert (await refusing.get("/api/v4/leads/custom_fields?limit=51")).status_code == 400


async def test_customers_switched_off_is_402(make_client: MakeClient) -> None:
    r = await make_client(customers_enabled=False).get("/api/v4/customers")
    assert r.status_code == 402
    assert r.json()["title"] == "Payment Required"


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v4/deals")
    assert r.status_code == 404
    assert "/api/v4/deals" in r.json()["detail"]


# -- limits --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_eighth_request_in_a_second_is_429_with_retry_after_in_the_body(
    make_client: MakeClient,
) -> None:
    clock = FakeClock()
    client = make_client(rate_limit=RateLimit(7, 1.0), clock=clock)
    for _ in range(7):
        assert (await client.get("/api/v4/leads?limit=1")).status_code == 200
    r = await client.get("/api/v4/leads?limit=1")
    assert r.status_code == 429
    assert r.json()["retry_after"] == 1
    assert "retry-after" not in r.headers  # undocumented, so not sent by default
    clock.now = 1.0
    assert (await client.get("/api/v4/leads?limit=1")).status_code == 200
    with_header = make_client(rate_limit=RateLimit(1, 1.0), clock=clock, retry_after_header=True)
    await with_header.get("/api/v4/users")
    assert (await with_header.get("/api/v4/users")).headers["retry-after"] == "1"


async def test_repeated_429s_block_the_api_with_an_html_403(make_client: MakeClient) -> None:
    client = make_client(rate_limit=RateLimit(1, 1.0), clock=FakeClock(), block_after_429s=2)
    await client.get("/api/v4/leads")
    for _ in range(2):
        assert (await client.get("/api/v4/leads")).status_code == 429
    blocked = await client.get("/api/v4/leads")
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("text/html")
    assert b"403 Forbidden" in blocked.content
    with pytest.raises(json.JSONDecodeError):
        blocked.json()
