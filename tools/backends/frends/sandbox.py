"""The Frends instance of the sandbox: seeded data behind the simulator."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tools.backends.frends.adapter import FrendsSettings
from tools.backends.frends.data import generate
from tools.backends.frends.simulator import ListedVersions, create_app
from tools.sim import SandboxParts, SimulatorCore

NAME = "frends-sandbox"
TOKEN = "sandbox-frends-token"
PREFIX = "/api/v1"
AGENT_GROUP = "Production"


def build(
    seed: int,
    *,
    processes: int = 300,
    instances: int = 600,
    strict: bool = True,
    listed_versions: ListedVersions = "latest",
) -> SimulatorCore:
    return create_app(
        generate(seed=seed, processes=processes, instances=instances),
        token=TOKEN,
        strict=strict,
        listed_versions=listed_versions,
    )


def settings(
    url: str, *, name: str = NAME, rate_limit_per_minute: int | None = None
) -> FrendsSettings:
    """Settings for an instance pointing at a running simulator. Frends publishes no rate
    limit, so `rate_limit_per_minute` is only there for the common sandbox interface."""
    return FrendsSettings(
        name=name,
        kind="frends",
        base_url=url.rstrip("/") + PREFIX,
        token=SecretStr(TOKEN),
        agent_group=AGENT_GROUP,
        description="Simulated Frends tenant (sandbox data)",
        rate_limit_per_minute=rate_limit_per_minute,
    )


def open_sandbox(seed: int, *, strict: bool = True, size: int | None = None) -> SandboxParts:
    """The sandbox's Frends instance (the common entry point of every backend's sandbox);
    `size` asks for that many listed definition rows and as many executions (benchmarks:
    the tenant then lists every version, so a list or export meets `size` rows), None for
    the sandbox's default (each process's latest version and its draft are listed)."""
    rows: dict[str, Any] = (
        {"processes": size, "instances": size, "listed_versions": "every"} if size else {}
    )
    return SandboxParts(
        core=build(seed, strict=strict, **rows),
        settings=lambda url: settings(url),
        describe={"token": TOKEN, "agent_group": AGENT_GROUP},
    )
