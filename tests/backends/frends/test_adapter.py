"""Frends adapter behaviour beyond translation: refusals, agent groups, get_process, errors,
native export."""

from __future__ import annotations

import xml.dom.minidom
from typing import Any

import pytest
from pydantic_core import to_json

from tests.backends.frends.conftest import make_backend
from tools.backends.frends import sandbox
from tools.backends.frends.adapter import FrendsBackend
from tools.backends.frends.convert import SECRET_MASK
from tools.backends.frends.data import CANARY_PROCESS, CANARY_SECRET, FrendsData, generate
from tools.backends.frends.details import MAX_BPMN_CHARS
from tools.backends.frends.simulator import create_app
from tools.backends.frends.wire import bpmn
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    BackendRequestError,
    ConfigError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import SimulatorCore, hostile

pytestmark = pytest.mark.anyio
PROD = 3


async def plan(backend: FrendsBackend, **args: Any) -> Any:
    await backend.discover()
    return await backend.plan(parse_query({"backend": backend.name, **args}))


def canary_versions(data: FrendsData) -> list[Any]:
    return [d for d in data.definitions if d.name == CANARY_PROCESS]


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        ({"sort": "name"}, UnsupportedQueryError, "sort=-created_at"),
        ({"sort": "created_at", "collection": "instances"}, UnsupportedQueryError, "newest first"),
        ({"tags": ["x"]}, UnsupportedQueryError, "filters that work here"),
        ({"status": ["open"]}, UnsupportedQueryError, "native_status latest"),
        ({"native_status": ["active"]}, InvalidArgumentError, "latest, previous, draft"),
        ({"updated_after": "2026-01-01"}, UnsupportedQueryError, "created_after"),
        ({"template": "Order Sync"}, InvalidArgumentError, "pass the guid"),
        ({"where": {"colour": "red"}}, InvalidArgumentError, "version (version number)"),
        ({"where": {"or": [{"draft": True}, {"x": 1}]}}, InvalidArgumentError, "latest"),
        ({"collection": "runs"}, UnsupportedQueryError, "instances:Production"),
        ({"collection": "instances", "status": ["cancelled"]}, UnsupportedQueryError, "failed"),
        ({"collection": "instances", "native_status": ["Done"]}, InvalidArgumentError, "Ok"),
        (
            {"collection": "instances", "status": ["open"], "native_status": ["Ok"]},
            InvalidArgumentError,
            "keep only one",
        ),
        ({"collection": "instances", "template": "Moon Landing"}, InvalidArgumentError, "guid"),
        ({"collection": "instances", "where": {"draft": True}}, InvalidArgumentError, "child"),
    ],
)
async def test_unusable_filters_are_refused_with_what_works_instead(
    backend: FrendsBackend, args: dict[str, Any], error: type[Exception], fix: str
) -> None:
    with pytest.raises(error) as caught:
        await plan(backend, **args)
    assert fix in caught.value.for_model()  # type: ignore[attr-defined]


async def test_unreachable_statuses_among_others_are_a_warning(backend: FrendsBackend) -> None:
    result = await plan(backend, collection="instances", status=["failed", "suspended"])
    assert result.warnings == ["no Frends execution is ever suspended"]


async def test_collections_page_differently_and_name_every_agent_group(
    backend: FrendsBackend,
) -> None:
    await backend.discover()
    caps = backend.capabilities()
    names = [c.name for c in caps.collections]
    assert names == [
        "processes",
        "instances",
        "instances:Development",
        "instances:Test",
        "instances:Production",
    ]
    assert caps.for_collection("processes").addressing == "page"
    assert caps.for_collection("processes").total_known
    assert caps.for_collection("instances:Test").addressing == "token"
    assert caps.collection("instances").description.startswith(  # type: ignore[union-attr]
        "Executions (process instances) in agent group Production in Production"
    )


@pytest.mark.parametrize("agent_group", ["3", "production", "Production"])
async def test_agent_group_setting_takes_an_id_or_a_name(
    sim: SimulatorCore, agent_group: str
) -> None:
    backend = make_backend(sim, agent_group=agent_group)
    result = await plan(backend, collection="instances")
    assert result.native.group == PROD
    await backend.aclose()


async def test_an_unknown_agent_group_is_a_config_error_naming_the_real_ones(
    sim: SimulatorCore,
) -> None:
    backend = make_backend(sim, agent_group="Staging")
    for _ in range(2):  # every time, not only on the first discovery
        with pytest.raises(ConfigError) as caught:
            await backend.discover()
        assert "3 (Production)" in (caught.value.hint or "")
    names = [c.name for c in backend.capabilities().collections]
    assert names[:2] == ["processes", "instances:Development"]  # no default, no exception
    await backend.aclose()


async def test_without_an_agent_group_instances_asks_for_one_but_named_groups_work(
    sim: SimulatorCore,
) -> None:
    backend = make_backend(sim, agent_group=None)
    with pytest.raises(InvalidArgumentError) as caught:
        await plan(backend, collection="instances")
    assert "instances:Test" in (caught.value.hint or "")
    assert (await plan(backend, collection="instances:test")).native.group == 2
    await backend.aclose()


async def test_a_start_time_bound_equal_to_a_start_keeps_that_execution() -> None:
    # startTime is exclusive in the simulator's strict reading, so the adapter sends it one
    # second early. A start on a whole second is the case that tells the difference.
    data = generate(seed=4, processes=40, instances=120)
    row = data.instances[PROD][len(data.instances[PROD]) // 2]
    row["startTimeUtc"] = row["startTimeUtc"][:19] + ".000Z"
    backend = make_backend(create_app(data, token=sandbox.TOKEN))
    query = {
        "backend": backend.name,
        "collection": "instances",
        "created_after": row["startTimeUtc"],
        "limit": 1000,
    }
    result = await run_list([backend], parse_query(query))
    await backend.aclose()
    assert result.processes[-1].id == row["executionId"]


async def test_definition_rows_are_compact_with_version_facts_in_extra(data: FrendsData) -> None:
    backend = make_backend(create_app(data, token=sandbox.TOKEN, listed_versions="every"))
    query = parse_query({"backend": backend.name, "limit": 60, "detail": "full"})
    page = await run_list([backend], query)
    await backend.aclose()
    row = page.processes[0]
    assert page.total == 160 + len(hostile.NAMES)  # the hostile processes come on top
    assert {r.native_status for r in page.processes} == {"latest", "previous", "draft"}
    assert row.template_id
    assert row.owner
    assert row.created_at
    assert row.extra is not None
    assert {"version", "guid"} <= set(row.extra)
    dumped = to_json(page).decode()  # every field of every row, attributes too
    assert "bpmn" not in dumped
    assert "elementParameters" not in dumped
    assert "graphData" not in dumped


async def test_get_definition_by_id_guid_and_guid_at_version(
    backend: FrendsBackend, data: FrendsData
) -> None:
    versions = canary_versions(data)
    latest = next(d for d in versions if d.latest)
    by_guid = await backend.get(latest.guid, collection=None, include=None, detail="summary")
    assert by_guid.id == str(latest.id)
    first = await backend.get(
        f"{latest.guid}@1", collection="processes", include=None, detail="summary"
    )
    assert first.id == str(versions[0].id)
    by_id = await backend.get(str(latest.id), collection=None, include=None, detail="summary")
    assert by_id == by_guid


async def test_get_definition_shows_steps_and_masked_variables_by_default(
    backend: FrendsBackend, data: FrendsData
) -> None:
    d = canary_versions(data)[0]
    detail = await backend.get(str(d.id), collection=None, include=None, detail="summary")
    assert detail.tasks is not None
    assert [t.status for t in detail.tasks][:2] == ["Start", "Task"]
    assert detail.fields is not None
    assert detail.fields["SapPassword"] == SECRET_MASK
    assert detail.fields["BatchSize"] == next(v.value for v in d.variables if v.name == "BatchSize")
    assert detail.sections is None
    assert detail.extra is None
    assert detail.description
    assert detail.description.startswith("Keeps customers in SAP")


async def test_full_detail_has_bounded_bpmn_and_version_history(
    backend: FrendsBackend, data: FrendsData
) -> None:
    versions = canary_versions(data)
    d = versions[-1]
    detail = await backend.get(str(d.id), collection=None, include=None, detail="full")
    assert detail.sections is not None
    definition = detail.sections["definition"]
    assert len(definition["bpmn"]) <= MAX_BPMN_CHARS + 1
    assert definition["bpmn_chars"] > MAX_BPMN_CHARS
    assert any("BPMN cut from" in n for n in detail.notes or ())
    history = detail.sections["history"]
    assert [h["version"] for h in history] == [v.version for v in reversed(versions)]
    assert any(h["change"] == f"Rotated SAP password to {SECRET_MASK}" for h in history)
    assert detail.extra
    assert detail.extra["version"] == d.version


async def test_only_the_sections_asked_for(backend: FrendsBackend, data: FrendsData) -> None:
    d = data.definitions[0]
    detail = await backend.get(
        str(d.id), collection=None, include=frozenset({"history"}), detail="summary"
    )
    assert detail.tasks is None
    assert detail.fields is None
    assert detail.sections is not None
    assert list(detail.sections) == ["history"]
    with pytest.raises(InvalidArgumentError) as caught:
        await backend.get(str(d.id), collection=None, include=frozenset({"fields"}), detail="full")
    assert "tasks, variables, definition, history" in (caught.value.hint or "")


async def test_get_execution_shows_its_scrubbed_error_and_promoted_values(
    backend: FrendsBackend, data: FrendsData
) -> None:
    failed = next(r for r in data.instances[PROD] if CANARY_SECRET in (r["exception"] or ""))
    detail = await backend.get(
        failed["executionId"], collection="instances", include=None, detail="full"
    )
    assert (detail.status, detail.native_status) == ("failed", "Failed")
    assert detail.name == CANARY_PROCESS == detail.template
    assert detail.description is not None
    assert SECRET_MASK in detail.description
    assert CANARY_SECRET not in detail.model_dump_json()
    assert detail.sections
    assert detail.sections["definition"]["version_id"] == failed["processId"]
    ok = next(r for r in data.instances[PROD] if r["promotedData"])
    promoted = await backend.get(
        ok["executionId"], collection="instances:Production", include=None, detail="summary"
    )
    name = ok["promotedData"][0]["promotedVariableName"]
    assert promoted.fields == {name: int(ok["promotedData"][0]["promotedValueJson"])}


async def test_missing_process_error_shows_title_detail_and_trace_id(
    backend: FrendsBackend,
) -> None:
    with pytest.raises(BackendNotFoundError) as caught:
        await backend.get("424242", collection=None, include=None, detail="summary")
    text = caught.value.for_model()
    assert "no process version 424242" in text
    assert "backend said: Not Found: Process not found (traceId 00-" in text
    assert "guid@version" in text


async def test_validation_problem_shows_the_field_message_and_trace_id(
    backend: FrendsBackend,
) -> None:
    with pytest.raises(BackendRequestError) as caught:
        await backend.http.get_json("processes", params=[("PageSize", "500")])
    assert caught.value.vendor_message is not None
    assert caught.value.vendor_message.startswith(
        "One or more validation errors occurred.: PageSize: Maximum page size is 200. (traceId 00-"
    )


async def test_rejected_token_is_an_auth_error_from_the_problem_body(sim: SimulatorCore) -> None:
    backend = make_backend(sim, token="wrong-token")
    with pytest.raises(BackendAuthError) as caught:
        await backend.discover()
    assert (caught.value.vendor_message or "").startswith("Unauthorized (traceId 00-")
    await backend.aclose()


async def test_bad_ids_are_refused_with_the_accepted_forms(backend: FrendsBackend) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await backend.get("Order Sync", collection=None, include=None, detail="summary")
    assert "guid@version" in (caught.value.hint or "")
    with pytest.raises(InvalidArgumentError):
        await backend.get("12", collection="instances", include=None, detail="summary")


async def test_native_export_is_the_whole_bpmn_with_secrets_scrubbed(
    backend: FrendsBackend, data: FrendsData
) -> None:
    d = canary_versions(data)[-1]
    exported = await backend.native_export(d.guid, collection=None)
    assert exported is not None
    extension, content = exported
    assert extension == "bpmn"
    text = content.decode()
    assert CANARY_SECRET not in text
    assert text == bpmn(d).replace(CANARY_SECRET, SECRET_MASK)
    xml.dom.minidom.parseString(content)  # still well-formed
    assert await backend.native_export("x", collection="instances") is None


async def test_check_reports_the_definition_count(backend: FrendsBackend, data: FrendsData) -> None:
    shown = sum(1 for d in data.definitions if d.latest or d.is_draft)
    assert await backend.check() == f"ok, {shown} processes in processes"
