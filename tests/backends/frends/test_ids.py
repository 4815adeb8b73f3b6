"""Frends ids are data, never paths: a version id is an integer, a process a guid (or
guid@version), an execution a uuid; anything else is refused before any request."""

from __future__ import annotations

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.frends.conftest import BASE, UNTHROTTLED
from tools.backends.frends import sandbox
from tools.backends.frends.adapter import FrendsBackend
from tools.backends.frends.data import FrendsData
from tools.errors import InvalidArgumentError
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
PROD = 3


def hostile(good: str) -> list[str]:
    return [f"zz/../{good}", f"{good}?x=y", f"{good}#x", "../../etc/passwd", " ", ".", "?a=b"]


def version_id(data: FrendsData) -> str:
    return str(data.definitions[0].id)


def execution_id(data: FrendsData) -> str:
    return str(data.instances[PROD][0]["executionId"])


@pytest.mark.parametrize("index", range(7))
async def test_hostile_definition_ids_are_refused_before_any_request(
    backend: FrendsBackend, sim: SimulatorCore, data: FrendsData, index: int
) -> None:
    await backend.discover()
    sent = len(sim.requests)
    guid = data.definitions[0].guid
    for bad in (hostile(version_id(data))[index], hostile(f"{guid}@1")[index]):
        with pytest.raises(InvalidArgumentError) as caught:
            await backend.get(bad, collection=None, include=None, detail="summary")
        text = caught.value.for_model()
        assert "not a valid Frends process id" in text
        assert "ids look like a version id such as 2042" in text
        assert "base URL" not in text
    assert len(sim.requests) == sent


@pytest.mark.parametrize("index", range(7))
async def test_hostile_execution_ids_are_refused_before_any_request(
    backend: FrendsBackend, sim: SimulatorCore, data: FrendsData, index: int
) -> None:
    await backend.discover()
    sent = len(sim.requests)
    with pytest.raises(InvalidArgumentError) as caught:
        await backend.get(
            hostile(execution_id(data))[index],
            collection="instances",
            include=None,
            detail="summary",
        )
    assert "not a valid Frends execution id" in caught.value.for_model()
    assert "ids look like a uuid" in caught.value.for_model()
    assert len(sim.requests) == sent


async def test_well_formed_ids_reach_exactly_their_path(
    backend: FrendsBackend, sim: SimulatorCore, data: FrendsData
) -> None:
    d = data.definitions[0]
    await backend.get(str(d.id), collection=None, include=frozenset(), detail="summary")
    await backend.get(
        f"{d.guid.upper()}@{d.version}", collection=None, include=frozenset(), detail="summary"
    )
    await backend.get(
        execution_id(data).upper(), collection="instances", include=None, detail="summary"
    )
    paths = [r.path for r in sim.requests if not r.path.endswith("/environments")]
    assert paths[:3] == [
        f"/api/v1/processes/{d.id}",
        f"/api/v1/processes/{d.guid}/versions/{d.version}",
        f"/api/v1/instances/{PROD}/{execution_id(data)}/details",
    ]


async def test_a_real_client_gets_the_refusal_as_an_error_result(sim: SimulatorCore) -> None:
    settings = Settings(instances=[sandbox.settings(BASE, rate_limit_per_minute=UNTHROTTLED)])
    server = build_server(settings, transports={sandbox.NAME: httpx.ASGITransport(app=sim)})
    async with Client(server) as client:
        result = await client.call_tool(
            "get_process", {"backend": sandbox.NAME, "id": "zz/../2001"}
        )
    assert result.is_error
    text = result.content[0].model_dump()["text"]
    assert 'not a valid Frends process id: "zz/../2001"' in text
