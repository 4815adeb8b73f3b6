"""yuuvis adapter behaviour beyond translation: the startedBy rule, refusals, rows,
get_process and errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from tests.backends.yuuvis.conftest import LIST_PATH, make_backend, ordinary
from tools.backends.yuuvis.adapter import (
    MAX_VALUE_CHARS,
    SUBPROCESSES_LEFT_OUT,
    YuuvisBackend,
    human_duration,
)
from tools.backends.yuuvis.data import YuuvisData
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    BackendRequestError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio


async def plan(backend: YuuvisBackend, **args: Any) -> Any:
    return await backend.plan(parse_query({"backend": backend.name, **args}))


async def listing(backend: YuuvisBackend, **args: Any) -> Any:
    return await run_list([backend], parse_query({"backend": backend.name, **args}))


def list_calls(sim: SimulatorCore) -> list[Any]:
    return [r for r in sim.requests if r.path == LIST_PATH]


def other_user(data: YuuvisData) -> dict[str, Any]:
    return next(u for u in data.users if not u["admin"] and u != ordinary(data))


# -- the startedBy rule for an ordinary user ------------------------------------------------


async def test_ordinary_user_asking_for_another_owner_is_refused_before_any_request(
    user_backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        await listing(user_backend, owner=other_user(data)["id"])
    text = caught.value.for_model()
    assert "without tenant-admin rights" in text
    assert f"owner={ordinary(data)['id']}" in text
    assert "is_admin" in text
    assert list_calls(sim) == []


async def test_the_configured_login_name_as_owner_means_the_accounts_own_id(
    user_backend: YuuvisBackend, data: YuuvisData
) -> None:
    result = await plan(user_backend, owner=ordinary(data)["username"].upper())
    assert ("startedBy", ordinary(data)["id"]) in result.native["params"]
    assert result.applied["owner"].mode == "native"


async def test_ordinary_user_asking_for_themselves_gets_their_processes_via_startedby(
    user_backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    me = ordinary(data)["id"]
    result = await listing(user_backend, owner=me, limit=50)
    assert result.count > 10
    assert {r.owner_id for r in result.processes} == {me}
    assert all(r.param("startedBy") == me for r in list_calls(sim))


async def test_ordinary_user_without_configured_id_checks_owner_locally_and_warns(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    user = ordinary(data)
    backend = make_backend(sim, data, username=user["username"], update={"user_id": None})
    other = await listing(backend, owner=other_user(data)["id"], limit=10)
    own = await listing(backend, owner=user["id"], limit=10)
    await backend.aclose()
    assert other.count == 0
    assert any("not a tenant admin" in w for w in other.warnings)
    assert [a.mode for a in other.applied if a.field == "owner"] == ["local"]
    assert own.count == 10
    assert all(r.param("startedBy") is None for r in list_calls(sim))


async def test_account_wrongly_configured_as_admin_gets_the_engines_400_explained(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    user = ordinary(data)
    backend = make_backend(sim, data, username=user["username"], update={"is_admin": True})
    with pytest.raises(BackendRequestError) as caught:
        await listing(backend, owner=other_user(data)["id"])
    await backend.aclose()
    text = caught.value.for_model()
    assert "HTTP 400" in text
    assert "only the own userId is allowed" in text
    assert "check is_admin" in text


async def test_admin_filters_any_owner_natively(
    backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    user = other_user(data)
    result = await listing(backend, owner=user["id"].upper(), limit=100)
    assert result.count > 0
    assert {r.owner_id for r in result.processes} == {user["id"]}
    assert [a.mode for a in result.applied] == ["native"]
    assert result.total == result.count


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        ({"updated_after": "2026-01-01"}, UnsupportedQueryError, "filters that work here"),
        ({"tags": ["vip"]}, UnsupportedQueryError, "no tags"),
        ({"sort": "name"}, UnsupportedQueryError, "created_at or -created_at"),
        ({"sort": "-updated_at"}, UnsupportedQueryError, "only by start time"),
        ({"status": ["failed"]}, UnsupportedQueryError, "open, completed, cancelled"),
        ({"native_status": ["active"]}, InvalidArgumentError, "running (open)"),
        (
            {"status": ["completed"], "native_status": ["running"]},
            InvalidArgumentError,
            "keep only one",
        ),
        ({"collection": "tasks"}, UnsupportedQueryError, "use one of: instances"),
        ({"where": {"priority": 1}}, UnsupportedQueryError, "businessKeyLike"),
        (
            {"where": {"or": [{"involvedUser": "x"}, {"name": "y"}]}},
            UnsupportedQueryError,
            "top level",
        ),
        ({"where": {"nameLike": {"!=": "A%"}}}, UnsupportedQueryError, "one text value"),
        ({"where": {"excludeSubprocesses": "no"}}, UnsupportedQueryError, "true or false"),
        ({"template": "Moon landing"}, InvalidArgumentError, "Invoice approval (invoice_approval)"),
    ],
)
async def test_unusable_filters_are_refused_with_what_works_instead(
    backend: YuuvisBackend, args: dict[str, Any], error: type[Exception], fix: str
) -> None:
    with pytest.raises(error) as caught:
        await plan(backend, **args)
    assert fix in caught.value.for_model()  # type: ignore[attr-defined]


async def test_failed_among_other_statuses_is_a_warning(backend: YuuvisBackend) -> None:
    result = await plan(backend, status=["open", "failed"])
    assert result.warnings == ["no yuuvis process instance is ever failed", SUBPROCESSES_LEFT_OUT]


# -- where, text and sub-processes ----------------------------------------------------------


async def test_text_with_a_percent_sign_matches_it_literally(backend: YuuvisBackend) -> None:
    result = await listing(backend, text="10%", limit=50)
    assert result.count > 0
    assert all("10%" in r.name for r in result.processes)


async def test_business_key_like_is_applied_by_the_engine(backend: YuuvisBackend) -> None:
    # The business key is one of the extras: built when the answer shows them.
    result = await listing(
        backend, where={"businessKeyLike": "INV-2026-%"}, limit=100, fields=["extra"]
    )
    assert result.count > 0
    assert all((r.extra or {})["business_key"].startswith("INV-2026-") for r in result.processes)
    assert [a.mode for a in result.applied] == ["native"]


async def test_sub_processes_are_hidden_by_default_and_listed_on_request(
    backend: YuuvisBackend, data: YuuvisData
) -> None:
    default = await listing(backend, limit=1000)
    every = await listing(backend, where={"excludeSubprocesses": False}, limit=1000)
    subs = set(data.parent)
    assert not {r.id for r in default.processes} & subs
    assert {r.id for r in every.processes} >= subs
    assert every.count == default.count + len(subs)


async def test_sub_processes_of_one_instance_combine_with_local_conditions(
    backend: YuuvisBackend, data: YuuvisData
) -> None:
    child, parent = next(iter(data.parent.items()))
    result = await listing(
        backend, where={"superProcessInstanceId": parent, "startActivityId": "startEvent1"}
    )
    assert [r.id for r in result.processes] == [child]
    assert [a.mode for a in result.applied] == ["narrowed"]


# -- rows -----------------------------------------------------------------------------------


async def test_rows_map_engine_states_and_show_how_long_ended_ones_took(
    backend: YuuvisBackend, data: YuuvisData
) -> None:
    result = await listing(backend, limit=200, detail="full")
    by_state = {r.native_status: r for r in result.processes}
    assert set(by_state) == {"running", "suspended", "completed", "deleted"}
    assert {s: r.status for s, r in by_state.items()} == {
        "running": "open",
        "suspended": "suspended",
        "completed": "completed",
        "deleted": "cancelled",
    }
    for state in ("completed", "deleted"):
        row = by_state[state]
        raw = next(i for i in data.instances if i["id"] == row.id)
        assert row.updated_at is not None
        assert row.extra is not None
        assert row.extra["duration"] == human_duration(raw["durationInMillis"])
    assert by_state["deleted"].extra["delete_reason"]  # type: ignore[index]
    assert by_state["running"].updated_at is None


@pytest.mark.parametrize(
    ("millis", "shown"),
    [(0, "0s"), (59_999, "59s"), (61_000, "1m 1s"), (3_600_000, "1h"), (90_061_000, "1d 1h")],
)
def test_durations_read_at_a_glance(millis: int, shown: str) -> None:
    assert human_duration(millis) == shown


# -- get_process ----------------------------------------------------------------------------


def instance_with(data: YuuvisData, variable: str) -> dict[str, Any]:
    return next(
        i
        for i in data.instances
        if any(v["name"] == variable for v in data.variables[i["id"]])
        and (variable != "comment" or _long_comment(data, i["id"]))
    )


def _long_comment(data: YuuvisData, instance_id: str) -> bool:
    return any(
        v["name"] == "comment" and len(v["value"]) > MAX_VALUE_CHARS
        for v in data.variables[instance_id]
    )


async def test_get_shows_variables_compactly_with_long_values_cut_and_noted(
    backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    raw = instance_with(data, "comment")
    detail = await backend.get(raw["id"], collection=None, include=None, detail="summary")
    assert sim.requests[-1].param("includeProcessVariables") == "true"
    assert detail.fields is not None
    assert len(detail.fields["comment"]) == MAX_VALUE_CHARS + 1
    assert detail.notes
    assert any("variable comment cut from" in n for n in detail.notes)
    assert detail.tasks is None


async def test_get_names_binary_variables_without_their_content(
    backend: YuuvisBackend, data: YuuvisData
) -> None:
    raw = instance_with(data, "invoiceScan")
    detail = await backend.get(raw["id"], collection=None, include=None, detail="summary")
    assert detail.fields is not None
    assert detail.fields["invoiceScan"] == "<binary value, not shown>"
    assert isinstance(detail.fields["amount"], float)


async def test_get_of_an_ended_instance_shows_its_duration_and_end(
    backend: YuuvisBackend, data: YuuvisData
) -> None:
    raw = next(i for i in data.instances if i["endActivityId"])
    detail = await backend.get(raw["id"], collection=None, include=None, detail="summary")
    assert detail.extra == {
        k: v
        for k, v in {
            "business_key": raw["businessKey"],
            "duration": human_duration(raw["durationInMillis"]),
            "ended_at": raw["endTime"],
        }.items()
        if v
    }
    assert detail.completed_at is not None
    assert detail.started_at == detail.created_at


async def test_get_tasks_only_skips_variables_and_reads_the_history(
    backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    raw = next(i for i in data.instances if i["deleteReason"] is None and i["endTime"])
    detail = await backend.get(
        raw["id"], collection=None, include=frozenset({"tasks"}), detail="summary"
    )
    assert sim.requests[0].param("includeProcessVariables") is None
    assert sim.requests[-1].path.endswith("/history")
    assert detail.fields is None
    assert detail.tasks is not None
    assert [t.name for t in detail.tasks] == [t["name"] for t in data.tasks[raw["id"]]]
    assert all(t.status == "completed" for t in detail.tasks)
    assert detail.completed_at is not None


async def test_get_full_has_every_section_and_the_definition(
    backend: YuuvisBackend, data: YuuvisData
) -> None:
    raw = next(i for i in data.instances if i["deleteReason"])
    detail = await backend.get(raw["id"], collection=None, include=None, detail="full")
    assert detail.fields is not None
    assert detail.tasks is not None
    assert detail.status == "cancelled"
    assert detail.completed_at is None  # cancelled, not completed: the end is in extra
    assert detail.extra is not None
    assert detail.extra["definition_id"] == raw["processDefinitionId"]
    assert detail.extra["delete_reason"] == raw["deleteReason"]
    assert detail.description == raw["processDefinitionDescription"]


async def test_get_unknown_section_is_refused(backend: YuuvisBackend, data: YuuvisData) -> None:
    with pytest.raises(InvalidArgumentError, match="no section fields"):
        await backend.get(
            data.instances[0]["id"], collection=None, include=frozenset({"fields"}), detail="full"
        )


async def test_get_missing_instance_is_not_found_with_a_fix(backend: YuuvisBackend) -> None:
    missing = "0badc0de-0000-4000-8000-000000000000"
    with pytest.raises(BackendNotFoundError) as caught:
        await backend.get(missing, collection=None, include=None, detail="summary")
    text = caught.value.for_model()
    assert "HTTP 404" in text
    assert "list_processes" in text


async def test_ordinary_user_cannot_open_another_users_instance_and_is_told_why(
    user_backend: YuuvisBackend, data: YuuvisData
) -> None:
    foreign = data.own_instances(other_user(data)["id"])[0]
    with pytest.raises(BackendNotFoundError, match="sees only its own processes"):
        await user_backend.get(foreign["id"], collection=None, include=None, detail="summary")


# -- errors ---------------------------------------------------------------------------------


async def test_wrong_password_is_an_auth_error_that_never_shows_the_secret(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    user = ordinary(data)
    backend = make_backend(
        sim, data, username=user["username"], update={"token": SecretStr("stolen-secret")}
    )
    with pytest.raises(BackendAuthError) as caught:
        await listing(backend, limit=1)
    await backend.aclose()
    text = caught.value.for_model()
    assert "HTTP 401" in text
    assert "Full authentication is required" in text
    assert "stolen-secret" not in text
    assert user["password"] not in text


async def test_wrong_tenant_is_an_auth_error_that_names_the_tenant_header(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    backend = make_backend(sim, data, update={"tenant": "globex"})
    with pytest.raises(BackendAuthError) as caught:
        await listing(backend, limit=1)
    await backend.aclose()
    text = caught.value.for_model()
    assert "not a member of tenant 'globex'" in text
    assert "X-ID-TENANT-NAME" in text
    assert "sandbox-yuuvis-token" not in text


async def test_check_names_the_tenant_the_account_and_its_scope(
    backend: YuuvisBackend, user_backend: YuuvisBackend, data: YuuvisData
) -> None:
    admin = await backend.check()
    user = await user_backend.check()
    assert admin.startswith(f"ok: tenant {data.tenant} as ")
    assert "tenant admin" in admin
    assert ordinary(data)["username"] in user
    assert "own processes only" in user
