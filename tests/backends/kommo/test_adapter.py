"""Kommo adapter behaviour beyond translation: refusals, statuses, get_process, the end of
a list, rate limits and the vendor's error shapes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.backends.kommo.conftest import make_backend, make_sim
from tools.backends.kommo.adapter import KommoBackend, KommoSettings
from tools.backends.kommo.data import LOST, WON, KommoData
from tools.backends.kommo.directory import ApiBlockedError
from tools.backends.kommo.simulator import KommoCore
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    BackendRateLimitedError,
    BackendRequestError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import Fault, RateLimit

pytestmark = pytest.mark.anyio


async def plan(backend: KommoBackend, **args: Any) -> Any:
    return await backend.plan(parse_query({"backend": backend.name, **args}))


async def listing(backend: KommoBackend, **args: Any) -> Any:
    return await run_list([backend], parse_query({"backend": backend.name, **args}))


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        ({"collection": "contacts", "sort": "-updated_at", "status": ["open"]},
         UnsupportedQueryError, "filters that work here"),
        ({"collection": "companies", "sort": "-updated_at", "native_status": ["x"]},
         UnsupportedQueryError, "has no status"),
        ({"collection": "customers", "template": "Sales"},
         UnsupportedQueryError, "owner"),
        ({"sort": "name"}, UnsupportedQueryError, "-created_at, created_at, -updated_at"),
        ({"collection": "contacts"}, UnsupportedQueryError, "use one of: -updated_at, updated_at"),
        ({"status": ["failed"]}, UnsupportedQueryError, "open, completed (142, won)"),
        ({"native_status": ["Won"]}, InvalidArgumentError, "Closed - won"),
        ({"status": ["completed"], "native_status": ["Negotiation"]}, InvalidArgumentError,
         "Negotiation=open"),
        ({"template": "Moon"}, InvalidArgumentError, "Partnerships (7700012)"),
        ({"owner": "nobody@nowhere.test"}, InvalidArgumentError, "give a user email, name or id"),
        ({"collection": "tasks"}, UnsupportedQueryError, "leads, contacts, companies, customers"),
        ({"where": {"Source": "Website"}}, InvalidArgumentError, 'did you mean "Lead source"'),
        ({"where": {"Lead source": "website"}}, InvalidArgumentError, 'did you mean "Website"'),
        ({"where": {"Seats": "ten"}}, InvalidArgumentError, "takes numbers"),
        ({"where": {"Budget approved": "yes"}}, InvalidArgumentError, "true or false"),
        ({"collection": "customers", "native_status": ["active"]},
         InvalidArgumentError, "status ids"),
    ],
)  # fmt: skip
async def test_unusable_filters_are_refused_with_what_works_instead(
    backend: KommoBackend, args: dict[str, Any], error: type[Exception], fix: str
) -> None:
    with pytest.raises(error) as caught:
        await plan(backend, **args)
    assert fix in caught.value.for_model()  # type: ignore[attr-defined]


async def test_an_unknown_unified_status_among_others_is_a_warning(
    backend: KommoBackend,
) -> None:
    result = await plan(backend, status=["completed", "suspended"])
    assert result.warnings == ["no Kommo lead is ever suspended"]


async def test_how_each_filter_is_applied_is_reported(backend: KommoBackend) -> None:
    result = await plan(
        backend, status=["open"], text="acme", tags=["hot"], created_before="2026-01-01"
    )
    modes = {f: s.mode for f, s in result.applied.items()}
    assert modes == {
        "status": "native",
        "text": "narrowed",
        "tags": "local",
        "created_before": "narrowed",
    }


# -- statuses and rows ---------------------------------------------------------------------


async def test_statuses_map_by_id_even_where_stages_are_renamed(
    backend: KommoBackend, data: KommoData
) -> None:
    page = await listing(backend, template="Renewals", limit=200)
    by_stage = {(r.native_status, r.status) for r in page.processes}
    assert ("Renewed", "completed") in by_stage
    assert ("Churned", "cancelled") in by_stage
    raw = {r["id"]: r for r in data.leads}
    for row in page.processes:
        status_id = raw[int(row.id)]["status_id"]
        expected = {WON: "completed", LOST: "cancelled"}.get(status_id, "open")
        assert row.status == expected
        assert row.template == "Renewals"


async def test_rows_show_pipeline_stage_owner_email_and_tag_names(
    backend: KommoBackend, data: KommoData
) -> None:
    page = await listing(backend, limit=100)
    emails = {u["email"] for u in data.users}
    assert all(r.owner in emails for r in page.processes)
    assert {r.template for r in page.processes} <= {"Sales", "Partnerships", "Renewals"}
    assert all(r.native_status and not r.native_status.isdigit() for r in page.processes)
    assert any(r.tags for r in page.processes)
    assert all(r.extra is None for r in page.processes)  # extras only with detail="full"


async def test_contacts_and_companies_have_no_status(backend: KommoBackend) -> None:
    for collection in ("contacts", "companies"):
        page = await listing(backend, collection=collection, sort="-updated_at", limit=10)
        assert page.processes
        assert all(r.status is None and r.native_status is None for r in page.processes)


async def test_capabilities_list_stages_and_custom_fields_after_discovery(
    backend: KommoBackend,
) -> None:
    await backend.discover()
    caps = backend.capabilities()
    leads = caps.collection("leads")
    assert leads is not None
    assert leads.statuses["Renewed"] == "completed"
    assert leads.statuses["Not a fit"] == "cancelled"
    assert leads.statuses["Incoming leads"] == "open"
    assert "Website" in leads.attributes["Lead source"]
    contacts = caps.collection("contacts")
    assert contacts is not None
    assert contacts.support("status").mode == "unsupported"
    assert "Position" in contacts.attributes
    assert (caps.max_page_size, caps.addressing, caps.total_known) == (250, "page", False)


# -- the end of a list ---------------------------------------------------------------------


async def test_a_full_last_page_ends_on_the_204_that_follows(
    backend: KommoBackend, sim: KommoCore, data: KommoData
) -> None:
    n = sum(1 for r in data.leads if r["pipeline_id"] == 7700023)
    first = await listing(backend, template="Renewals", limit=n)
    assert first.count == n
    assert first.has_more  # a full page: Kommo cannot say whether more follow
    second = await run_list(
        [backend],
        parse_query({"backend": backend.name, "template": "Renewals", "limit": n,
                     "cursor": first.next_cursor}),
    )  # fmt: skip
    assert (second.count, second.has_more, second.next_cursor) == (0, False, None)
    assert [r.param("page") for r in sim.requests if r.path == "/api/v4/leads"] == ["1", "2"]


async def test_pages_prefetched_past_the_end_are_harmless(
    backend: KommoBackend, sim: KommoCore, data: KommoData
) -> None:
    page = await listing(backend, limit=1000)
    assert [r.id for r in page.processes] == [
        str(r["id"]) for r in sorted(data.leads, key=lambda r: (r["created_at"], r["id"]),
                                     reverse=True)
    ]  # fmt: skip
    assert not page.has_more


async def test_nothing_matching_is_an_empty_answer_not_an_error(backend: KommoBackend) -> None:
    page = await listing(backend, where={"Campaign code": "no-such-code"})
    assert (page.count, page.has_more) == (0, False)


# -- get -----------------------------------------------------------------------------------


def lost_lead(data: KommoData) -> dict[str, Any]:
    return next(r for r in data.leads if r["status_id"] == LOST and r["custom_fields_values"])


async def test_get_shows_custom_fields_by_name(backend: KommoBackend, data: KommoData) -> None:
    raw = lost_lead(data)
    detail = await backend.get(str(raw["id"]), collection=None, include=None, detail="summary")
    assert detail.status == "cancelled"
    assert detail.fields == {
        cf["field_name"]: (
            int(cf["values"][0]["value"])
            if cf["field_type"] == "numeric"
            else cf["values"][0]["value"]
        )
        for cf in raw["custom_fields_values"]
    }
    reason = next(r["name"] for r in data.loss_reasons if r["id"] == raw["loss_reason_id"])
    assert detail.description == f"lost: {reason}"
    assert detail.url == f"http://kommo.test/leads/detail/{raw['id']}"
    assert detail.sections is None
    assert detail.extra is None


async def test_get_full_adds_the_pipeline_and_related_ids(
    backend: KommoBackend, data: KommoData
) -> None:
    lead_id = next(iter(data.lead_contacts))
    detail = await backend.get(str(lead_id), collection=None, include=None, detail="full")
    assert detail.sections is not None
    stages = detail.sections["definition"]["stages"]
    assert sum("<- current" in s for s in stages) == 1
    assert detail.extra is not None
    assert detail.extra["contacts"] == data.lead_contacts[lead_id]


async def test_get_a_contact_with_its_leads(backend: KommoBackend, data: KommoData) -> None:
    contact_id = next(iter(data.contact_leads))
    detail = await backend.get(str(contact_id), collection="contacts", include=None, detail="full")
    assert detail.collection == "contacts"
    assert detail.extra is not None
    assert detail.extra["leads"] == data.contact_leads[contact_id]


async def test_missing_id_answered_204_is_not_found_never_an_empty_success(
    backend: KommoBackend,
) -> None:
    for collection in (None, "customers"):
        with pytest.raises(BackendNotFoundError) as caught:
            await backend.get("99999999", collection=collection, include=None, detail="summary")
        assert "list_processes" in caught.value.for_model()


@pytest.mark.parametrize(
    ("process_id", "collection", "include", "fix"),
    [
        ("abc", None, None, 'not a valid Kommo lead id: "abc" (ids look like'),
        ("21000101", None, frozenset({"tasks"}), "sections here: fields, definition"),
        ("41000001", "contacts", frozenset({"definition"}), "sections here: fields"),
    ],
)
async def test_get_refuses_what_it_cannot_answer(
    backend: KommoBackend,
    process_id: str,
    collection: str | None,
    include: frozenset[str] | None,
    fix: str,
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await backend.get(process_id, collection=collection, include=include, detail="summary")
    assert fix in caught.value.for_model()


# -- limits and errors ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


async def test_429_waits_the_retry_after_that_kommo_puts_in_the_body(data: KommoData) -> None:
    clock = Clock()
    sim = make_sim(data, rate_limit=RateLimit(7, 1.0), clock=clock)
    backend = make_backend(sim, sleep=clock.sleep, clock=clock)
    for _ in range(4):  # pipelines, users and eight list pages: past 7 in one second
        await listing(backend, limit=3)
    await backend.aclose()
    assert clock.waits
    assert all(w >= 1.0 for w in clock.waits)  # retry_after 1, never a shorter backoff
    assert backend.http.stats.retries == len(clock.waits)


async def test_a_long_retry_after_is_not_waited_for_a_list_says_when_a_get_refuses(
    sim: KommoCore, data: KommoData
) -> None:
    body = (
        '{"title":"Too Many Requests","type":"https://httpstatus.es/429","status":429,'
        '"detail":"Too Many Requests","retry_after":300}'
    )
    sim.faults.add(Fault(kind="status", status=429, body=body, times=None))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    backend = make_backend(sim, sleep=sleep)
    # Waiting is not failing: a list answers, saying when the next page can start.
    result = await listing(backend)
    assert (result.count, result.has_more) == (0, True)
    assert any("the next page can start in 300 s" in w for w in result.warnings)
    # One process cannot come in parts: the refusal says how long to wait.
    with pytest.raises(BackendRateLimitedError) as caught:
        await backend.get(
            str(data.leads[0]["id"]), collection="leads", include=None, detail="summary"
        )
    await backend.aclose()
    assert waits == []
    assert caught.value.retry_after == 300
    assert "Wait 300 seconds" in caught.value.for_model()


async def test_an_html_403_is_reported_as_kommo_blocking_the_api(sim: KommoCore) -> None:
    sim.api_blocked = True
    backend = make_backend(sim)
    with pytest.raises(ApiBlockedError) as caught:
        await listing(backend)
    await backend.aclose()
    text = caught.value.for_model()
    assert "blocked API access for this account or IP" in text
    assert "support" in text
    assert "malformed JSON" not in text
    assert "HTTP 403" in text


async def test_a_json_403_stays_a_plain_permission_error(sim: KommoCore) -> None:
    body = (
        '{"title":"Forbidden","type":"https://httpstatus.es/403","status":403,'
        '"detail":"Not enough rights"}'
    )
    sim.faults.add(Fault(kind="status", status=403, body=body, path=r"/leads$"))
    backend = make_backend(sim)
    with pytest.raises(BackendAuthError) as caught:
        await listing(backend)
    await backend.aclose()
    assert not isinstance(caught.value, ApiBlockedError)
    assert "Not enough rights" in caught.value.for_model()


async def test_validation_problem_becomes_a_clear_message(sim: KommoCore) -> None:
    body = (
        '{"validation-errors":[{"request_id":"0","errors":[{"code":"NotSupportedChoice",'
        '"path":"filter.status_id","detail":"This value is not valid."}]}],'
        '"title":"Bad Request","type":"https://httpstatus.es/400","status":400,'
        '"detail":"Request validation failed"}'
    )
    sim.faults.add(Fault(kind="status", status=400, body=body, path=r"/leads$"))
    backend = make_backend(sim)
    with pytest.raises(BackendRequestError) as caught:
        await listing(backend)
    await backend.aclose()
    assert (
        "Request validation failed (filter.status_id: This value is not valid.)"
        in caught.value.for_model()
    )


async def test_wrong_token_is_an_auth_error_that_never_shows_a_token(sim: KommoCore) -> None:
    backend = make_backend(sim, token="stolen-secret-value")
    with pytest.raises(BackendAuthError) as caught:
        await listing(backend)
    await backend.aclose()
    text = caught.value.for_model()
    assert "HTTP 401" in text
    assert "invalid access token" in text
    assert "stolen-secret-value" not in text
    assert "sandbox-kommo-token" not in text


async def test_customers_off_the_plan_still_leave_leads_usable(data: KommoData) -> None:
    sim = make_sim(data, customers_enabled=False)
    backend = make_backend(sim)
    await backend.discover()  # the 402 on customers' fields does not make it unusable
    info = backend.capabilities().collection("customers")
    assert info is not None
    assert "Unavailable here" in info.description
    assert (await listing(backend, limit=2)).count == 2
    with pytest.raises(BackendRequestError, match="402 Payment Required"):
        await listing(backend, collection="customers")
    await backend.aclose()


async def test_without_rights_to_list_users_rows_show_owner_ids(sim: KommoCore) -> None:
    body = '{"title":"Forbidden","status":403,"detail":"Access denied"}'
    sim.faults.add(Fault(kind="status", status=403, body=body, path=r"/users$", times=None))
    backend = make_backend(sim)
    page = await listing(backend, limit=3)
    assert all(r.owner is None and r.owner_id for r in page.processes)
    with pytest.raises(InvalidArgumentError, match="numeric id"):
        await listing(backend, owner="someone@acme-crm.test")
    assert (await listing(backend, owner=page.processes[0].owner_id, limit=1)).count == 1
    await backend.aclose()


def test_settings_take_a_subdomain_or_a_base_url() -> None:
    by_sub = KommoSettings(name="crm", subdomain="acme")
    assert by_sub.base_url == "https://acme.kommo.com"
    ru = KommoSettings(name="crm", base_url="https://acme.amocrm.ru")
    assert ru.base_url == "https://acme.amocrm.ru"
    with pytest.raises(ValidationError, match="set subdomain"):
        KommoSettings(name="crm")
