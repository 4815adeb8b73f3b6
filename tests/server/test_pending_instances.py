"""`serve --sandbox` answers initialize while its simulators start: instances still starting
are added on the first call that needs them, which waits for them."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client

from server.app import build_server
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
