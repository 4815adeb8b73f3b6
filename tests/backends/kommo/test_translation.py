"""Golden translations: a unified query becomes exactly this Kommo request."""

from __future__ import annotations

from typing import Any

import pytest

from tools.backends.kommo.adapter import KommoBackend
from tools.backends.kommo.data import KommoData
from tools.backends.kommo.simulator import KommoCore
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import RecordedRequest

pytestmark = pytest.mark.anyio

SALES, PARTNERS, RENEWALS = 7700001, 7700012, 7700023
# Stage ids of the generated pipelines (142/143 repeat in each of them).
OPEN_STAGES = {
    SALES: range(61000001, 61000006),
    PARTNERS: range(61000006, 61000010),
    RENEWALS: range(61000010, 61000014),
}
LEAD_SOURCE, PRODUCT, BUDGET_OK, SEATS = 880001, 880002, 880003, 880004
WEBSITE, REFERRAL = 770001, 770002
NEWEST = [("order[created_at]", "desc"), ("page", "1")]


def pairs(*stages: tuple[int, int]) -> list[tuple[str, str]]:
    out = []
    for i, (pipeline, status) in enumerate(stages):
        out.append((f"filter[statuses][{i}][pipeline_id]", str(pipeline)))
        out.append((f"filter[statuses][{i}][status_id]", str(status)))
    return out


def list_requests(sim: KommoCore, entity: str = "leads") -> list[RecordedRequest]:
    return [r for r in sim.requests if r.path == f"/api/v4/{entity}"]


async def translate(backend: KommoBackend, sim: KommoCore, **args: Any) -> RecordedRequest:
    await run_list([backend], parse_query({"backend": backend.name, **args}))
    return list_requests(sim, args.get("collection") or "leads")[0]


@pytest.mark.anyio
async def test_list_request_is_a_get_with_the_bearer_token(
    backend: KommoBackend, sim: KommoCore
) -> None:
    req = await translate(backend, sim, limit=5)
    assert (req.method, req.path) == ("GET", "/api/v4/leads")
    assert req.headers["authorization"] == "Bearer sandbox-kommo-token"
    assert req.query == [*NEWEST, ("limit", "5")]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # 142 and 143 exist in every pipeline: one pair per pipeline.
        (
            {"status": ["completed"]},
            [*pairs((SALES, 142), (PARTNERS, 142), (RENEWALS, 142)), *NEWEST, ("limit", "20")],
        ),
        (
            {"status": ["cancelled"], "limit": 7},
            [*pairs((SALES, 143), (PARTNERS, 143), (RENEWALS, 143)), *NEWEST, ("limit", "7")],
        ),
        (
            {"status": ["open"]},
            [
                *pairs(*((p, s) for p, stages in OPEN_STAGES.items() for s in stages)),
                *NEWEST,
                ("limit", "20"),
            ],
        ),
        # Every status is every stage: no filter at all.
        ({"status": ["open", "completed", "cancelled"]}, [*NEWEST, ("limit", "20")]),
        # The pairs carry the template's pipeline; no filter[pipeline_id] on top.
        (
            {"status": ["completed"], "template": "Partnerships"},
            [*pairs((PARTNERS, 142)), *NEWEST, ("limit", "20")],
        ),
        ({"template": "sales"}, [("filter[pipeline_id]", str(SALES)), *NEWEST, ("limit", "20")]),
        (
            {"template": str(RENEWALS), "limit": 3},
            [("filter[pipeline_id]", str(RENEWALS)), *NEWEST, ("limit", "3")],
        ),
        # Stage names are matched in every pipeline.
        (
            {"native_status": ["Negotiation"]},
            [*pairs((SALES, 61000004), (RENEWALS, 61000013)), *NEWEST, ("limit", "20")],
        ),
        (
            {"native_status": ["renewed", "Closed - won"]},
            [*pairs((SALES, 142), (RENEWALS, 142)), *NEWEST, ("limit", "20")],
        ),
        # Dates in Unix seconds; the exclusive bound is sent at its second (then re-checked,
        # so the driver scans with the largest page).
        (
            {"created_after": "2026-01-01", "limit": 5},
            [("filter[created_at][from]", "1767225600"), *NEWEST, ("limit", "5")],
        ),
        (
            {"created_after": "2025-06-01T10:00:00.250Z", "updated_before": "2026-02-01"},
            [
                ("filter[created_at][from]", "1748772001"),
                ("filter[updated_at][to]", "1769904000"),
                *NEWEST,
                ("limit", "250"),
            ],
        ),
        # Due dates are the closest task's (reference section 3, range filters).
        (
            {"due_after": "2026-11-01", "due_before": "2026-12-01"},
            [
                ("filter[closest_task_at][from]", "1793491200"),
                ("filter[closest_task_at][to]", "1796083200"),
                *NEWEST,
                ("limit", "250"),
            ],
        ),
        ({"text": "globex"}, [("query", "globex"), *NEWEST, ("limit", "250")]),
        (
            {"sort": "created_at", "limit": 4},
            [("order[created_at]", "asc"), ("page", "1"), ("limit", "4")],
        ),
        (
            {"sort": "-updated_at", "limit": 4},
            [("order[updated_at]", "desc"), ("page", "1"), ("limit", "4")],
        ),
    ],
)
async def test_lead_query_translates_to_exact_parameters(
    backend: KommoBackend, sim: KommoCore, args: dict[str, Any], expected: list[Any]
) -> None:
    req = await translate(backend, sim, **args)
    assert req.query == expected


CF = "filter[custom_fields_values]"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # Select options travel as enum ids; several values in the indexed form.
        ({"Lead source": "Website"}, [(f"{CF}[{LEAD_SOURCE}][0]", str(WEBSITE))]),
        (
            {str(LEAD_SOURCE): ["Website", "Referral"]},
            [(f"{CF}[{LEAD_SOURCE}][0]", str(WEBSITE)), (f"{CF}[{LEAD_SOURCE}][1]", str(REFERRAL))],
        ),
        ({"Budget approved": True}, [(f"{CF}[{BUDGET_OK}][0]", "1")]),
        ({"Seats": {">=": 10}}, [(f"{CF}[{SEATS}][from]", "10")]),
        # `to` goes just above the bound: its inclusiveness is undocumented.
        ({"Seats": {"<=": 50}}, [(f"{CF}[{SEATS}][to]", "51")]),
        ({"Seats": 25}, [(f"{CF}[{SEATS}][from]", "25"), (f"{CF}[{SEATS}][to]", "26")]),
        ({"Campaign code": "CMP-12A"}, [(f"{CF}[880005][0]", "CMP-12A")]),
        ({"price": 2500}, [("filter[price]", "2500")]),
        (
            {"price": {">": 1000, "<": 5000}},
            [("filter[price][from]", "1000"), ("filter[price][to]", "5000")],
        ),
        # What Kommo cannot express stays local: no parameter at all.
        ({"Seats": {"!=": 25}}, []),
        ({"or": [{"Seats": 25}, {"Lead source": "Website"}]}, []),
    ],
)
async def test_where_translates_to_custom_field_filters(
    backend: KommoBackend, sim: KommoCore, where: dict[str, Any], expected: list[Any]
) -> None:
    req = await translate(backend, sim, where=where)
    assert req.query == [*expected, *NEWEST, ("limit", "250")]


async def test_owner_email_becomes_the_responsible_user_id(
    backend: KommoBackend, sim: KommoCore, data: KommoData
) -> None:
    user = data.users[3]
    req = await translate(backend, sim, owner=user["email"].upper(), limit=5)
    assert req.query == [("filter[responsible_user_id]", str(user["id"])), *NEWEST, ("limit", "5")]


async def test_owner_name_is_resolved_too(
    backend: KommoBackend, sim: KommoCore, data: KommoData
) -> None:
    user = data.users[5]
    req = await translate(backend, sim, owner=user["name"], limit=5)
    assert req.param("filter[responsible_user_id]") == str(user["id"])


async def test_contacts_order_by_update_time(backend: KommoBackend, sim: KommoCore) -> None:
    req = await translate(backend, sim, collection="contacts", sort="-updated_at", limit=6)
    assert req.path == "/api/v4/contacts"
    assert req.query == [("order[updated_at]", "desc"), ("page", "1"), ("limit", "6")]


async def test_customer_status_ids_use_the_indexed_form_and_no_order(
    backend: KommoBackend, sim: KommoCore
) -> None:
    # Customers document no `order` (reference section 2): whatever the query's sort
    # (the tools refuse an explicit one), none is sent.
    for sort in ("-created_at", "updated_at"):
        sim.requests.clear()
        req = await translate(
            backend,
            sim,
            collection="customers",
            sort=sort,
            native_status=["4100001", "4100003"],
            limit=6,
        )
        assert req.query == [
            ("filter[status_id][0]", "4100001"),
            ("filter[status_id][1]", "4100003"),
            ("page", "1"),
            ("limit", "6"),
        ]


async def test_a_customers_due_date_is_its_next_purchase_date(
    backend: KommoBackend, sim: KommoCore
) -> None:
    req = await translate(backend, sim, collection="customers", due_after="2026-11-01")
    assert req.query == [("filter[next_date][from]", "1793491200"), ("page", "1"), ("limit", "20")]


async def test_customers_have_no_query_so_text_is_not_sent(
    backend: KommoBackend, sim: KommoCore
) -> None:
    req = await translate(backend, sim, collection="customers", text="acme")
    assert all(k != "query" for k, _ in req.query)


async def test_next_page_is_a_page_number_at_the_same_limit(
    backend: KommoBackend, sim: KommoCore
) -> None:
    first = await run_list([backend], parse_query({"backend": backend.name, "limit": 5}))
    query = parse_query({"backend": backend.name, "limit": 5, "cursor": first.next_cursor})
    await run_list([backend], query)
    pages = [(r.param("page"), r.param("limit")) for r in list_requests(sim)]
    assert pages == [("1", "5"), ("2", "5")]


async def test_pipelines_and_users_are_fetched_once_per_instance(
    backend: KommoBackend, sim: KommoCore
) -> None:
    for status in (["open"], ["completed"], ["cancelled"]):
        await run_list([backend], parse_query({"backend": backend.name, "status": status}))
    paths = [r.path for r in sim.requests]
    assert paths.count("/api/v4/leads/pipelines") == 1
    assert paths.count("/api/v4/users") == 1


def test_too_many_stage_pairs_fall_back_to_pipelines_checked_locally() -> None:
    """A long pair list would make the URL huge: the pipelines are sent instead and the
    stages are checked on each row (narrowed)."""
    from tools.backends.kommo.directory import Pipeline, Stage
    from tools.backends.kommo.translate import MAX_STATUS_PAIRS, plan_statuses

    pipelines = [
        Pipeline(
            id=100 + p,
            name=f"P{p}",
            stages=(
                *(Stage(1000 * p + s, f"S{s}", 100 + p, s, 0) for s in range(6)),
                Stage(142, "Won", 100 + p, 90, 0),
                Stage(143, "Lost", 100 + p, 91, 0),
            ),
        )
        for p in range(20)
    ]
    wide = plan_statuses(pipelines, None, ["open"], None)
    assert MAX_STATUS_PAIRS < 20 * 6
    assert wide.params == []
    assert wide.support is not None
    assert wide.support.mode == "narrowed"
    assert wide.pipeline_ids == [100 + p for p in range(20)]
    narrow = plan_statuses(pipelines, [105], ["open"], None)
    assert narrow.support is not None
    assert narrow.support.mode == "native"
    assert len(narrow.params) == 2 * 6
