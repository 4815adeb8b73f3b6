"""Chakra adapter behaviour beyond translation: discovery, refusals, rows, get_process, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from tests.backends.chakra.conftest import make_backend
from tools.backends.chakra import sandbox
from tools.backends.chakra.adapter import ChakraBackend
from tools.backends.chakra.data import ChakraData
from tools.backends.chakra.simulator import create_app
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    BackendRequestError,
    BackendUnavailableError,
    ConfigError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.instances import Instances
from tools.list_backends import list_backends
from tools.paging import run_list
from tools.query import ProcessQuery, parse_query
from tools.sim import Fault, SimulatorCore

pytestmark = pytest.mark.anyio


async def plan(backend: ChakraBackend, **args: Any) -> Any:
    return await backend.plan(parse_query({"backend": backend.name, **args}))


def config_calls(sim: SimulatorCore) -> int:
    return sum(1 for r in sim.requests if r.path == "/v1/ext/config")


# -- discovery ----------------------------------------------------------------------------


async def test_collections_are_the_procedures_with_their_attributes_and_states(
    backend: ChakraBackend, data: ChakraData
) -> None:
    caps = backend.capabilities()
    assert [c.name for c in caps.collections] == ["lead", "ticket", "fieldvisit"]
    assert caps.default_collection == "lead"
    assert (caps.addressing, caps.max_page_size, caps.total_known) == ("offset", 100, False)
    visit = caps.collection("fieldvisit")
    assert visit is not None
    assert visit.attributes["visit_id"] == "Visit ID; text, primary key"
    assert "select: installation, maintenance" in visit.attributes["purpose"]
    assert set(visit.attributes) == {a["shortId"] for a in data.attributes_of("fieldvisit")}
    assert visit.support("tags").mode == "unsupported"
    assert visit.support("text").mode == "local"


async def test_no_state_is_mapped_to_a_status_the_config_does_not_give(
    backend: ChakraBackend,
) -> None:
    """The reference does not say the config links states to statuses: list_backends
    claims no mapping and says where row statuses come from."""
    for info in backend.capabilities().collections:
        assert info.statuses == {}
        assert "status: each process's own" in info.description
        assert "does not link states to statuses" in info.description


async def test_a_state_status_map_the_config_gives_is_shown(data: ChakraData) -> None:
    backend = make_backend(create_app(data, token=sandbox.TOKEN, state_statuses=True))
    await backend.discover()
    visit = backend.capabilities().collection("fieldvisit")
    await backend.aclose()
    assert visit is not None
    assert visit.statuses == {
        "SCHEDULED": "open",
        "EN_ROUTE": "open",
        "ON_SITE": "open",
        "DONE": "completed",
        "CANCELLED": "cancelled",
    }
    assert "does not link" not in visit.description


async def test_row_status_is_the_process_status_even_where_the_state_says_otherwise(
    data: ChakraData,
) -> None:
    """A lead cancelled while CONTACTED is cancelled, whatever the config maps states to."""
    open_states = {s["id"] for s in data.states if s["status"] == "OPEN"}
    dropped = {
        p["id"]
        for p in data.processes["lead"]
        if p["status"] == "CANCELLED" and p["state"] in open_states
    }
    assert dropped
    for statuses in (False, True):
        backend = make_backend(create_app(data, token=sandbox.TOKEN, state_statuses=statuses))
        result = await run_list(
            [backend], parse_query({"backend": backend.name, "status": ["open"], "limit": 200})
        )
        await backend.aclose()
        assert result.processes
        assert not dropped & {r.id for r in result.processes}
        assert all(r.status == "open" for r in result.processes)


async def test_concurrent_first_callers_share_one_config_fetch(sim: SimulatorCore) -> None:
    backend = make_backend(sim)
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(backend.discover)
    await backend.discover()
    await backend.aclose()
    assert config_calls(sim) == 1


async def test_users_are_fetched_once_per_instance(
    backend: ChakraBackend, sim: SimulatorCore, data: ChakraData
) -> None:
    for owner in (data.users[0]["username"], data.users[1]["id"], None):
        args = {"backend": backend.name, "limit": 3, **({"owner": owner} if owner else {})}
        await run_list([backend], parse_query(args))
    assert sum(1 for r in sim.requests if r.path == "/v1/ext/users") == 1


async def test_a_failed_discovery_is_not_cached(sim: SimulatorCore) -> None:
    async def sleep(seconds: float) -> None:
        return None

    backend = make_backend(sim, sleep=sleep)
    sim.faults.add(Fault(kind="html", status=503, path=r"/config$", times=None))
    with pytest.raises(BackendUnavailableError):
        await backend.discover()
    sim.faults.clear()
    await backend.discover()
    assert backend.capabilities().default_collection == "lead"
    await backend.aclose()


async def test_capabilities_before_discovery_is_a_programming_error(sim: SimulatorCore) -> None:
    backend = make_backend(sim)
    with pytest.raises(RuntimeError, match="discover"):
        backend.capabilities()
    await backend.aclose()


async def test_default_procedure_setting_picks_the_default_collection(sim: SimulatorCore) -> None:
    backend = make_backend(sim, settings={"default_procedure": "ticket"})
    await backend.discover()
    result = await run_list([backend], parse_query({"backend": backend.name, "limit": 2}))
    await backend.aclose()
    assert {r.collection for r in result.processes} == {"ticket"}


async def test_an_unknown_default_procedure_is_a_config_error_naming_the_real_ones(
    sim: SimulatorCore,
) -> None:
    backend = make_backend(sim, settings={"default_procedure": "invoice"})
    with pytest.raises(ConfigError) as caught:
        await backend.discover()
    await backend.aclose()
    assert "lead, ticket, fieldvisit" in caught.value.for_model()


async def test_list_backends_shows_each_procedure_with_its_attributes(sim: SimulatorCore) -> None:
    backend = make_backend(sim)
    result = await list_backends(Instances([backend]))
    await backend.aclose()
    [view] = result.backends
    assert view.usable
    assert view.default_collection == "lead"
    ticket = next(c for c in view.collections if c.name == "ticket")
    assert ticket.attributes
    assert "priority" in ticket.attributes
    assert ticket.statuses == {}  # the config does not say; rows carry their own status
    assert ticket.filters["text"].mode == "local"
    assert ticket.sorts == ["-created_at"]


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        ({"collection": "invoice"}, UnsupportedQueryError, "use one of: lead, ticket, fieldvisit"),
        ({"where": {"colour": "red"}}, InvalidArgumentError, "attributes of lead: lead_id"),
        ({"where": {"sorce": "website"}}, InvalidArgumentError, "did you mean source or score?"),
        (
            {"collection": "ticket", "where": {"or": [{"budget": 5}]}},
            InvalidArgumentError,
            "attributes of ticket: ticket_id",
        ),
        ({"where": {"score": {"~": 5}}}, InvalidArgumentError, "operators are =, !="),
        ({"where": {"score": {"between": [1, 5]}}}, InvalidArgumentError, "operators are"),
        (
            {"where": {"or": [{"and": [{"or": [{"and": [{"score": 1}]}]}]}]}},
            InvalidArgumentError,
            "at most 3 nested and/or groups",
        ),
        ({"where": {"status": "OPEN"}}, InvalidArgumentError, "use the status filter"),
        ({"where": {"createdAt": {">": "2026-01-01"}}}, InvalidArgumentError, "created_after"),
        ({"sort": "name"}, UnsupportedQueryError, "use sort=-created_at"),
        ({"sort": "-updated_at"}, UnsupportedQueryError, "updated_after"),
        ({"tags": ["vip"]}, UnsupportedQueryError, "filters that work here"),
        (
            {"status": ["failed", "suspended"]},
            UnsupportedQueryError,
            "open, completed and cancelled",
        ),
        ({"native_status": ["COMPLETED"]}, InvalidArgumentError, "use status=completed"),
        ({"native_status": ["RESOLVED"]}, InvalidArgumentError, "states of lead: NEW, CONTACTED"),
        ({"owner": "nobody"}, InvalidArgumentError, "give a username, user uuid or e-mail"),
        ({"owner": "nobody"}, InvalidArgumentError, "users here: "),
        ({"template": "Ticket"}, InvalidArgumentError, "collection=ticket"),
        ({"template": "Invoice"}, InvalidArgumentError, "fieldvisit (Field Visit)"),
    ],
)
async def test_unusable_filters_are_refused_with_what_works_instead(
    backend: ChakraBackend, args: dict[str, Any], error: type[Exception], fix: str
) -> None:
    with pytest.raises(error) as caught:
        await plan(backend, **args)
    assert fix in caught.value.for_model()  # type: ignore[attr-defined]


async def test_bad_where_is_refused_even_when_the_query_skipped_parse_query(
    backend: ChakraBackend,
) -> None:
    deep = {"or": [{"or": [{"or": [{"or": [{"score": 1}]}]}]}]}
    for where in ({"score": {"~": 1}}, deep, {"nope": 1}):
        with pytest.raises(InvalidArgumentError):
            await backend.plan(ProcessQuery(backend=backend.name, where=where))


@pytest.mark.parametrize("form", ["username", "id", "email", "EMAIL"])
async def test_owner_is_a_username_uuid_or_email_and_goes_out_as_the_username(
    backend: ChakraBackend, data: ChakraData, form: str
) -> None:
    user = data.users[2]
    given = user["email"].upper() if form == "EMAIL" else user[form]
    result = await plan(backend, owner=given)
    assert result.native == {"assignedTo": user["username"]}
    assert result.applied["owner"].note == f"assignedTo={user['username']}"


async def test_owner_by_email_lists_exactly_that_users_processes(
    backend: ChakraBackend, data: ChakraData
) -> None:
    user = data.users[3]
    result = await run_list(
        [backend], parse_query({"backend": backend.name, "owner": user["email"], "limit": 200})
    )
    mine = [p["id"] for p in data.processes["lead"] if p["assignedTo"] == user["id"]]
    assert mine
    assert sorted(r.id for r in result.processes) == sorted(mine)


async def test_owner_given_by_full_name_suggests_the_username(
    backend: ChakraBackend, data: ChakraData
) -> None:
    user = data.users[2]
    with pytest.raises(InvalidArgumentError) as caught:
        await plan(backend, owner=user["name"])
    assert user["username"] in (caught.value.hint or "")


async def test_a_state_named_like_a_status_is_a_state_where_it_exists(
    backend: ChakraBackend,
) -> None:
    result = await plan(backend, collection="fieldvisit", native_status=["cancelled"])
    assert result.native == {"state": "CANCELLED"}


async def test_statuses_that_never_occur_are_a_warning_among_others(
    backend: ChakraBackend,
) -> None:
    result = await plan(backend, status=["completed", "failed"])
    assert result.warnings == ["no Chakra process is ever failed"]


async def test_applied_notes_say_which_filters_run_where(backend: ChakraBackend) -> None:
    result = await plan(
        backend, status=["open"], text="LEAD", updated_after="2026-01-01", where={"score": 1}
    )
    modes = {f: s.mode for f, s in result.applied.items()}
    assert modes == {
        "status": "native",
        "text": "local",
        "updated_after": "local",
        "where": "native",
    }
    note = result.applied["text"].note or ""
    assert "no substring operator" in note
    assert "company, email, phone_number, source, city, notes" in note


# -- rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("state_format", ["uuid", "shortId"])
async def test_rows_show_keys_usernames_state_short_ids_and_iso_dates(
    data: ChakraData, state_format: str
) -> None:
    sim = create_app(data, token="sandbox-chakra-token", state_format=state_format)  # type: ignore[arg-type]
    backend = make_backend(sim)
    result = await run_list([backend], parse_query({"backend": backend.name, "limit": 100}))
    await backend.aclose()
    raw = {p["id"]: p for p in data.processes["lead"]}
    usernames = {u["id"]: u["username"] for u in data.users}
    states = {s["id"]: s["shortId"] for s in data.states}
    for row in result.processes:
        p = raw[row.id]
        company = p["data"].get("company")
        key = p["data"]["lead_id"]
        assert row.name == (f"{key} · {company}" if company else key)
        assert row.owner == usernames.get(p["assignedTo"])
        assert row.native_status == states[p["state"]]
        assert row.status == p["status"].lower()
        assert row.created_at == datetime.fromtimestamp(p["createdAt"] / 1000, tz=UTC)
        assert row.template == "Lead"
        assert row.template_id == "lead"
        assert row.attributes == p["data"]
    assert any(r.owner is None for r in result.processes)  # unassigned processes exist


async def test_summary_rows_hide_extras_that_full_rows_show(backend: ChakraBackend) -> None:
    from tools.list_processes import list_processes

    instances = Instances([backend])
    summary = await list_processes(instances, {"backend": backend.name, "limit": 2})
    full = await list_processes(instances, {"backend": backend.name, "limit": 2, "detail": "full"})
    assert all("extra" not in r for r in summary.records())
    extras = [r["extra"] for r in full.records()]
    assert all(e["state_name"] for e in extras)
    assert {e["pod"] for e in extras} <= {"North", "South", "West"}


# -- get_process ---------------------------------------------------------------------------


async def test_get_summary_has_the_attributes_labelled(
    backend: ChakraBackend, data: ChakraData
) -> None:
    p = data.processes["lead"][5]
    detail = await backend.get(p["id"], collection="lead", include=None, detail="summary")
    assert detail.name == f"{p['data']['lead_id']} · {p['data']['company']}"
    assert detail.fields is not None
    assert detail.fields["Lead ID"] == p["data"]["lead_id"]
    assert detail.fields["Contact name"] == p["data"]["name"]
    if "expected_close" in p["data"]:  # datetime attributes are epoch ms: shown as ISO
        shown = datetime.fromisoformat(detail.fields["Expected close"])
        assert shown == datetime.fromtimestamp(p["data"]["expected_close"] / 1000, tz=UTC)
    assert detail.sections is None
    assert detail.extra is None


async def test_get_full_adds_the_procedure_definition_and_extras(
    backend: ChakraBackend, data: ChakraData
) -> None:
    p = data.processes["fieldvisit"][-1]
    detail = await backend.get(p["id"], collection="fieldvisit", include=None, detail="full")
    assert detail.fields
    assert detail.fields["Visit date"] == p["data"]["visit_date"]
    assert detail.sections is not None
    definition = detail.sections["definition"]
    assert definition["primary_key"] == "visit_id"
    assert "DONE" in definition["states"]  # the config gives no status for a state
    assert definition["title_attribute"] == "site_name"
    assert detail.extra
    assert "state_name" in detail.extra


async def test_get_ids_level_has_no_sections_unless_asked(
    backend: ChakraBackend, data: ChakraData
) -> None:
    p = data.processes["ticket"][0]
    bare = await backend.get(p["id"], collection="ticket", include=None, detail="ids")
    assert (bare.fields, bare.sections) == (None, None)
    only = await backend.get(
        p["id"], collection="ticket", include=frozenset({"definition"}), detail="ids"
    )
    assert only.fields is None
    assert only.sections
    assert "definition" in only.sections


async def test_get_without_collection_searches_every_procedure(
    backend: ChakraBackend, sim: SimulatorCore, data: ChakraData
) -> None:
    p = data.processes["ticket"][7]
    detail = await backend.get(p["id"], collection=None, include=None, detail="summary")
    assert (detail.collection, detail.id) == ("ticket", p["id"])
    tried = [r.path for r in sim.requests if p["id"] in r.path]
    assert tried == [f"/v1/ext/procedure/{sid}/process/{p['id']}" for sid in ("lead", "ticket")]


async def test_get_by_primary_key_value(backend: ChakraBackend, data: ChakraData) -> None:
    p = data.processes["fieldvisit"][2]
    detail = await backend.get(
        p["data"]["visit_id"], collection=None, include=None, detail="summary"
    )
    assert detail.id == p["id"]
    assert detail.collection == "fieldvisit"


async def test_get_unknown_section_is_refused(backend: ChakraBackend, data: ChakraData) -> None:
    with pytest.raises(InvalidArgumentError, match="no section tasks"):
        await backend.get(
            data.processes["lead"][0]["id"],
            collection=None,
            include=frozenset({"tasks"}),
            detail="summary",
        )


@pytest.mark.parametrize("ref", ["00000000-0000-4000-8000-000000000000", "LEAD-9999"])
async def test_get_missing_process_is_not_found_with_a_fix(
    backend: ChakraBackend, ref: str
) -> None:
    with pytest.raises(BackendNotFoundError) as caught:
        await backend.get(ref, collection=None, include=None, detail="summary")
    text = caught.value.for_model()
    assert "lead, ticket, fieldvisit" in text
    assert "list_processes" in text


async def test_get_in_an_unknown_collection_names_the_known_ones(backend: ChakraBackend) -> None:
    with pytest.raises(UnsupportedQueryError, match="lead, ticket, fieldvisit"):
        await backend.get("x", collection="invoice", include=None, detail="summary")


# -- errors -----------------------------------------------------------------------------------


async def test_wrong_token_is_an_auth_error_that_never_shows_the_token(sim: SimulatorCore) -> None:
    backend = make_backend(sim, token="stolen-secret-value")
    with pytest.raises(BackendAuthError) as caught:
        await run_list([backend], parse_query({"backend": backend.name, "limit": 1}))
    await backend.aclose()
    text = caught.value.for_model()
    assert "HTTP 401" in text
    assert "invalid or missing access token" in text
    assert "sandbox-chakra-token" not in text
    assert "stolen-secret-value" not in text


async def test_vendor_error_messages_come_from_the_errors_array(backend: ChakraBackend) -> None:
    with pytest.raises(BackendRequestError) as caught:
        await backend.list_raw(backend.procedure("lead"), {"score": {"~": 1}}, 0, 5)
    assert "unknown operator '~'" in caught.value.for_model()


async def test_check_names_the_procedures(backend: ChakraBackend) -> None:
    assert await backend.check() == "ok: procedures lead, ticket, fieldvisit; lead has processes"
