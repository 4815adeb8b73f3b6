from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.tallyfy.conftest import UNTHROTTLED
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData, generate
from tools.backends.tallyfy.simulator import create_app
from tools.sim import SimulatorCore
from tools.table import ListPage

NAME = sandbox.NAME


@pytest.fixture(scope="session")
def tallyfy_data() -> TallyfyData:
    return generate(seed=7, runs=120)


@pytest.fixture
def tallyfy_sim(tallyfy_data: TallyfyData) -> SimulatorCore:
    return create_app(tallyfy_data, token=sandbox.TOKEN, strict=True, rate_limit=None)


@pytest.fixture
def server_settings(tallyfy_data: TallyfyData, tmp_path: Path) -> Settings:
    inst = sandbox.settings(
        "http://tallyfy.test", tallyfy_data.org_id, rate_limit_per_minute=UNTHROTTLED
    )
    return Settings(instances=[inst], export_dir=tmp_path / "exports")


@pytest.fixture
async def client(server_settings: Settings, tallyfy_sim: SimulatorCore) -> AsyncIterator[Client]:
    """The real server, in memory, its Tallyfy instance answered by the simulator."""
    server = build_server(server_settings, transports={NAME: httpx.ASGITransport(app=tallyfy_sim)})
    async with Client(server) as c:
        yield c


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def records(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A list answer's rows as objects: the values every row shares plus each row's own
    cells (tools/table.py), read from structuredContent as a client gets it."""
    return ListPage.model_validate(answer).records()


def rows(result: Any) -> list[dict[str, Any]]:
    return records(result.structured_content)
