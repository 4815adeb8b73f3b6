"""Every sandbox backend, in process: its simulator behind an ASGI transport, unthrottled."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tools.backends.base import Backend, InstanceSettings
from tools.backends.registry import create_backend
from tools.sandbox import SANDBOXES
from tools.sim import SimulatorCore

UNTHROTTLED = 1_000_000


def names(directory: Path) -> list[str]:
    """What is in the directory, temporary files included (sync: tests call it in async
    code, where a bare pathlib call is flagged as blocking)."""
    return sorted(p.name for p in directory.iterdir())


async def no_sleep(_seconds: float) -> None:
    """Retry waits pass instantly (Retry-After and backoff are tested in tests/test_http.py)."""


@dataclass
class Sim:
    module: ModuleType
    core: SimulatorCore
    settings: InstanceSettings

    def backend(self) -> Backend:
        return create_backend(
            self.settings, transport=httpx.ASGITransport(app=self.core), sleep=no_sleep
        )


def open_sim(module: ModuleType, seed: int = 5) -> Sim:
    parts = module.open_sandbox(seed, strict=True)
    parts.core.rate_limit = None
    settings = parts.settings(f"http://{module.NAME}.test").model_copy(
        update={"rate_limit_per_minute": UNTHROTTLED}
    )
    return Sim(module, parts.core, settings)


@asynccontextmanager
async def memory_client(sims: Sequence[Sim], export_dir: Path) -> AsyncIterator[Client]:
    """The real server in memory, each instance answered by its simulator."""
    settings = Settings(instances=[s.settings for s in sims], export_dir=export_dir)
    transports = {s.settings.name: httpx.ASGITransport(app=s.core) for s in sims}
    async with Client(build_server(settings, transports=transports)) as c:
        yield c


@pytest.fixture(params=SANDBOXES, ids=lambda m: str(m.NAME))
def sim(request: pytest.FixtureRequest) -> Sim:
    return open_sim(request.param)


@pytest.fixture
async def backend(sim: Sim) -> AsyncIterator[Backend]:
    b = sim.backend()
    yield b
    await b.aclose()
