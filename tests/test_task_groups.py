"""A fault in one of several reads at once is one clean error, never an ExceptionGroup
traceback (issue 13: a 500 on one Frends definitions page escaped from a task group; the
CLI printed the traceback and MCP made it an internal error)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tools.backends.frends import sandbox
from tools.backends.frends.data import generate
from tools.backends.frends.simulator import create_app
from tools.backends.registry import create_backend
from tools.errors import BackendUnavailableError, InvalidArgumentError, explained
from tools.export_process import export_process
from tools.instances import Instances
from tools.sim import Fault, SimulatorCore
from tools.tasks import gather

pytestmark = pytest.mark.anyio

# Four definitions pages: a text filter reads them all, pages 2-4 at once.
DATA = generate(seed=3, processes=700, instances=200)
# A 500 on every definitions page after the first, for good. Retry-After: 0 lets the
# client give up after its four attempts without waiting.
DOWN = Fault(kind="status", status=500, retry_after=0, path=r"/processes$", after=1, times=None)


def frends() -> SimulatorCore:
    sim = create_app(DATA, token=sandbox.TOKEN)
    sim.faults.add(DOWN)
    return sim


async def test_an_export_reading_definitions_in_parallel_fails_with_one_clean_error(
    tmp_path: Path,
) -> None:
    settings = sandbox.settings("http://frends.test", rate_limit_per_minute=1_000_000)
    backend = create_backend(settings, transport=httpx.ASGITransport(app=frends()))
    instances = Instances([backend])
    with pytest.raises(BackendUnavailableError) as caught:
        await export_process(
            instances,
            {"backend": settings.name, "collection": "instances", "text": "sync"},
            directory=tmp_path,
        )
    await instances.aclose()
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert "HTTP 500" in caught.value.for_model()


async def test_through_mcp_it_is_an_error_result_naming_the_500_not_an_internal_error(
    tmp_path: Path,
) -> None:
    settings = sandbox.settings("http://frends.test", rate_limit_per_minute=1_000_000)
    server = build_server(
        Settings(instances=[settings], export_dir=tmp_path),
        transports={settings.name: httpx.ASGITransport(app=frends())},
    )
    args = {"backend": settings.name, "collection": "instances", "text": "sync"}
    async with Client(server) as client:
        listed = await client.call_tool("list_processes", args)
        exported = await client.call_tool("export_process", args)
    for result in (listed, exported):
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "HTTP 500" in text
        assert "internal error" not in text


async def test_gather_raises_the_first_failure_as_itself() -> None:
    async def fine() -> int:
        return 1

    async def bad() -> int:
        raise InvalidArgumentError("nope")

    assert await gather([fine, fine], 1) == [1, 1]
    with pytest.raises(InvalidArgumentError):
        await gather([fine, bad, fine])


def test_an_explained_failure_is_found_inside_nested_groups() -> None:
    inner = BackendUnavailableError("down", backend="b")
    group = ExceptionGroup("outer", [ValueError("x"), ExceptionGroup("inner", [inner])])
    assert explained(group) is inner
    assert explained(ValueError("x")) is None
