"""The Kommo instance of the sandbox: seeded data behind the simulator."""

from __future__ import annotations

from pydantic import SecretStr

from tools.backends.kommo.adapter import KommoSettings
from tools.backends.kommo.data import generate
from tools.backends.kommo.simulator import KommoCore, create_app
from tools.sim import SandboxParts

NAME = "kommo-sandbox"
TOKEN = "sandbox-kommo-token"


def build(seed: int, *, leads: int = 300, strict: bool = True) -> KommoCore:
    return create_app(generate(seed=seed, leads=leads), token=TOKEN, strict=strict)


def settings(
    url: str, *, name: str = NAME, rate_limit_per_minute: int | None = None
) -> KommoSettings:
    """Settings for an instance pointing at a running simulator. Tests and benchmarks lift
    the client's rate limit, which would otherwise pace them at Kommo's 7 per second."""
    return KommoSettings(
        name=name,
        kind="kommo",
        base_url=url.rstrip("/"),
        token=SecretStr(TOKEN),
        description="Simulated Kommo account (sandbox data)",
        rate_limit_per_minute=rate_limit_per_minute,
    )


def open_sandbox(seed: int, *, strict: bool = True, size: int | None = None) -> SandboxParts:
    """The sandbox's Kommo instance (the common entry point of every backend's sandbox);
    `size` asks for that many leads, the default collection (benchmarks)."""
    return SandboxParts(
        core=build(seed, strict=strict, **({"leads": size} if size else {})),
        settings=lambda url: settings(url),
        describe={"token": TOKEN, "api": "/api/v4/leads"},
    )
