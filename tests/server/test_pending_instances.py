"""`serve --sandbox` answers initialize while its simulators start: instances still starting
are added on the first call that needs them, which waits for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from server.app import begin_after_handshake, build_server
from server.settings import Settings
from tests.backends.tallyfy.conftest import UNTHROTTLED
from tests.server.conftest import NAME, text
from tools.backends.base import InstanceSettings
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio


async def test_initialize_does_not_wait_for_pending_instances_and_the_first_call_does(
    tallyfy_data: TallyfyData, tallyfy_sim: SimulatorCore, tmp_path: Path
) -> None:
    asked = anyio.Event()
    started = anyio.Event()
    inst = sandbox.settings(
        "http://tallyfy.test", tallyfy_data.org_id, rate_limit_per_minute=UNTHROTTLED
    )

    class Starting:
        begun = False

        def begin(self) -> None:
            self.begun = True

        async def ready(self) -> list[InstanceSettings]:
            asked.set()
            await started.wait()
            return [inst]

    pending = Starting()
    settings = Settings(instances=[], export_dir=tmp_path)
    transports = {NAME: httpx.ASGITransport(app=tallyfy_sim)}
    server = build_server(settings, transports=transports, pending=pending)
    answers: list[str] = []
    async with Client(server) as client:  # initialize answered: nothing has waited yet
        assert pending.begun  # started once the server serves
        assert not asked.is_set()

        async def call() -> None:
            answers.append(text(await client.call_tool("list_backends", {})))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await asked.wait()
            assert answers == []  # the call waits for the instances
            started.set()
        again = text(await client.call_tool("list_backends", {}))
    assert NAME in answers[0]
    assert NAME in again
    assert [i.name for i in settings.instances] == [NAME]  # added once, not per call


async def test_instances_that_fail_to_start_make_the_call_an_error_not_a_hang(
    tmp_path: Path,
) -> None:
    class Failing:
        def begin(self) -> None:
            pass

        async def ready(self) -> list[InstanceSettings]:
            raise RuntimeError("the sandbox simulators did not start")

    server = build_server(Settings(instances=[], export_dir=tmp_path), pending=Failing())
    async with Client(server) as client:
        result = await client.call_tool("list_backends", {})
    assert result.is_error
    assert "internal error" in text(result)


class _Counting:
    """Pending instances that only count how often they were asked to begin."""

    def __init__(self) -> None:
        self.begun = 0

    def begin(self) -> None:
        self.begun += 1

    async def ready(self) -> list[InstanceSettings]:
        return []


class _Message:
    def __init__(self, method: str) -> None:
        self.method = method


async def test_after_the_handshake_initialize_begins_nothing_and_the_next_message_does() -> None:
    pending = _Counting()
    middleware = begin_after_handshake(pending.begin)
    seen: list[str] = []

    async def call_next(ctx: Any) -> None:
        seen.append(ctx.method)

    await middleware(_Message("initialize"), call_next)
    assert pending.begun == 0
    await middleware(_Message("notifications/initialized"), call_next)
    assert pending.begun == 1
    await middleware(_Message("tools/list"), call_next)  # a 2026-era first request too
    assert seen == ["initialize", "notifications/initialized", "tools/list"]  # all passed on


async def test_over_stdio_the_pending_instances_begin_after_the_handshake_not_when_serving(
    tmp_path: Path,
) -> None:
    pending = _Counting()
    settings = Settings(instances=[], export_dir=tmp_path)
    server = build_server(settings, pending=pending, begin_pending="handshake")
    async with Client(server) as client:
        # tools/list needs no backend (it never waits for them): only the middleware begins.
        await client.list_tools()
        assert pending.begun >= 1
    serving = _Counting()
    build_server(settings, pending=serving)  # the default: the lifespan begins them
    assert serving.begun == 0  # not at build time either
