"""Every sandbox backend, in process: its simulator behind an ASGI transport, unthrottled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest

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


@pytest.fixture(params=SANDBOXES, ids=lambda m: str(m.NAME))
def sim(request: pytest.FixtureRequest) -> Sim:
    return open_sim(request.param)


@pytest.fixture
async def backend(sim: Sim) -> AsyncIterator[Backend]:
    b = sim.backend()
    yield b
    await b.aclose()
