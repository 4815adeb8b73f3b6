"""Nothing vanishes without a word: left-out sub-processes are announced with the switch that
lists them (list text, structured warnings, export report); an owner the engine cannot take
is refused with how to find the id; a malformed instance id never becomes a path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.yuuvis.conftest import BASE, LIST_PATH, UNTHROTTLED, make_backend, ordinary
from tools.backends.yuuvis import sandbox
from tools.backends.yuuvis.adapter import SUBPROCESSES_LEFT_OUT, YuuvisBackend
from tools.backends.yuuvis.data import YuuvisData
from tools.errors import InvalidArgumentError, UnsupportedQueryError
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
SWITCH = 'where="excludeSubprocesses = false"'


def list_calls(sim: SimulatorCore) -> list[Any]:
    return [r for r in sim.requests if r.path == LIST_PATH]


async def listing(backend: YuuvisBackend, **args: Any) -> Any:
    return await run_list([backend], parse_query({"backend": backend.name, **args}))


# -- sub-processes --------------------------------------------------------------------------


async def test_every_answer_that_leaves_sub_processes_out_says_so_with_the_switch(
    sim: SimulatorCore, data: YuuvisData, tmp_path: Path
) -> None:
    settings = Settings(
        instances=[sandbox.settings(BASE, data, rate_limit_per_minute=UNTHROTTLED)],
        export_dir=tmp_path,
    )
    server = build_server(settings, transports={sandbox.NAME: httpx.ASGITransport(app=sim)})
    name = sandbox.NAME
    async with Client(server) as client:
        listed = await client.call_tool("list_processes", {"backend": name, "limit": 1000})
        every = await client.call_tool(
            "list_processes",
            {"backend": name, "limit": 1000, "where": {"excludeSubprocesses": False}},
        )
        exported = await client.call_tool("export_process", {"backend": name, "format": "csv"})
        fanned = await client.call_tool("list_processes", {"backend": "all", "limit": 5})
    assert data.parent  # the generated data has sub-processes
    assert listed.structured_content is not None
    assert every.structured_content is not None
    assert (
        listed.structured_content["count"] + len(data.parent) == every.structured_content["count"]
    )
    note = f"{name}: {SUBPROCESSES_LEFT_OUT}"
    assert note in listed.structured_content["warnings"]
    assert SWITCH in listed.content[0].model_dump()["text"]
    assert not any("sub-process" in w for w in every.structured_content.get("warnings", []))
    assert exported.structured_content is not None
    assert note in exported.structured_content["warnings"]
    assert SWITCH in exported.content[0].model_dump()["text"]
    assert fanned.structured_content is not None
    assert note in fanned.structured_content["warnings"]


async def test_the_switch_is_documented_where_agents_look(backend: YuuvisBackend) -> None:
    info = backend.capabilities().collection("instances")
    assert info is not None
    assert SWITCH in info.description
    assert "excludeSubprocesses" in info.attributes


async def test_an_explicit_exclusion_is_announced_too(backend: YuuvisBackend) -> None:
    result = await listing(backend, where={"excludeSubprocesses": True}, limit=5)
    assert f"{backend.name}: {SUBPROCESSES_LEFT_OUT}" in result.warnings


# -- owner ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["Jane Doe", "jane.doe@acme.test", "jdoe", "12345"])
async def test_an_owner_that_is_no_user_id_is_refused_before_any_request(
    backend: YuuvisBackend, sim: SimulatorCore, who: str
) -> None:
    with pytest.raises(UnsupportedQueryError) as caught:
        await listing(backend, owner=who)
    text = caught.value.for_model()
    assert f"owner {json.dumps(who)} is not a user id" in text
    assert "no user directory" in text
    assert "shows every user's id in the owner column" in text
    assert list_calls(sim) == []


async def test_an_ordinary_user_naming_someone_by_name_is_told_where_ids_come_from(
    user_backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData
) -> None:
    other = next(u for u in data.users if not u["admin"] and u != ordinary(data))
    with pytest.raises(UnsupportedQueryError) as caught:
        await listing(user_backend, owner=other["username"])
    text = caught.value.for_model()
    assert "identity provider" in text
    assert f"owner={ordinary(data)['id']}" in text
    assert list_calls(sim) == []


async def test_the_admin_naming_itself_by_login_name_sends_its_id(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    admin = data.admin
    backend = make_backend(sim, data, update={"username": admin["username"]})
    result = await listing(backend, owner=admin["username"], limit=500)
    await backend.aclose()
    assert {r.owner_id for r in result.processes} == {admin["id"]}
    assert all(r.param("startedBy") == admin["id"] for r in list_calls(sim))


async def test_the_admin_naming_itself_without_a_configured_id_is_told_to_set_it(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    admin = data.admin
    backend = make_backend(sim, data, update={"username": admin["username"], "user_id": None})
    with pytest.raises(UnsupportedQueryError) as caught:
        await listing(backend, owner=admin["username"])
    await backend.aclose()
    assert "set user_id" in caught.value.for_model()
    assert list_calls(sim) == []


async def test_an_ordinary_user_naming_itself_without_a_configured_id_gets_all_it_sees(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    user = ordinary(data)
    backend = make_backend(sim, data, username=user["username"], update={"user_id": None})
    result = await listing(backend, owner=user["username"], limit=1000)
    await backend.aclose()
    top_level = [i for i in data.own_instances(user["id"]) if i["id"] not in data.parent]
    assert result.count == len(top_level)
    assert all(r.param("startedBy") is None for r in list_calls(sim))


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template", ["zz/../{id}", "{id}?x=y", "{id}#x", "../../etc/passwd", " ", ".", "?a=b"]
)
async def test_hostile_instance_ids_never_become_a_path(
    backend: YuuvisBackend, sim: SimulatorCore, data: YuuvisData, template: str
) -> None:
    hostile = template.format(id=data.instances[0]["id"])
    with pytest.raises(InvalidArgumentError) as caught:
        await backend.get(hostile, collection=None, include=None, detail="full")
    text = caught.value.for_model()
    assert "not a valid yuuvis process instance id" in text
    assert "ids look like a uuid" in text
    assert "base URL" not in text
    assert sim.requests == []
