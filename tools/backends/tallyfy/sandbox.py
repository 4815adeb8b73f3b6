"""The Tallyfy instance of the sandbox: seeded data behind the simulator."""

from __future__ import annotations

from pydantic import SecretStr

from tools.backends.tallyfy.adapter import TallyfySettings
from tools.backends.tallyfy.data import generate
from tools.backends.tallyfy.simulator import create_app
from tools.sim import SandboxParts, SimulatorCore

NAME = "tallyfy-sandbox"
TOKEN = "sandbox-tallyfy-token"
PREFIX = "/api"


def build(seed: int, *, runs: int = 300, strict: bool = True) -> tuple[SimulatorCore, str]:
    """The simulator app and the organization id its data lives under."""
    data = generate(seed=seed, runs=runs)
    return create_app(data, token=TOKEN, strict=strict, prefix=PREFIX), data.org_id


def settings(
    url: str, org: str, *, name: str = NAME, rate_limit_per_minute: int | None = None
) -> TallyfySettings:
    """Settings for an instance pointing at a running simulator. Tests and benchmarks lift
    the client's rate limit, which would otherwise pace them at Tallyfy's 100/minute."""
    return TallyfySettings(
        name=name,
        kind="tallyfy",
        base_url=url.rstrip("/") + PREFIX,
        org=org,
        token=SecretStr(TOKEN),
        description="Simulated Tallyfy organization (sandbox data)",
        rate_limit_per_minute=rate_limit_per_minute,
    )


def open_sandbox(seed: int, *, strict: bool = True, size: int | None = None) -> SandboxParts:
    """The sandbox's Tallyfy instance (the common entry point of every backend's sandbox);
    `size` asks for that many runs (benchmarks), None for the sandbox's default."""
    core, org = build(seed, strict=strict, **({"runs": size} if size else {}))
    return SandboxParts(
        core=core,
        settings=lambda url: settings(url, org),
        describe={"token": TOKEN, "org": org},
    )
