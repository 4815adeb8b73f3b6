"""The Chakra instance of the sandbox: seeded data behind the simulator."""

from __future__ import annotations

from pydantic import SecretStr

from tools.backends.chakra.adapter import ChakraSettings
from tools.backends.chakra.data import generate
from tools.backends.chakra.simulator import create_app
from tools.sim import SandboxParts, SimulatorCore

NAME = "chakra-sandbox"
TOKEN = "sandbox-chakra-token"


def build(
    seed: int, *, leads: int = 160, tickets: int = 100, visits: int = 60, strict: bool = True
) -> SimulatorCore:
    """The simulator app over freshly generated data (procedures lead, ticket, fieldvisit)."""
    data = generate(seed=seed, leads=leads, tickets=tickets, visits=visits)
    return create_app(data, token=TOKEN, strict=strict)


def settings(
    url: str, *, name: str = NAME, rate_limit_per_minute: int | None = None
) -> ChakraSettings:
    """Settings for an instance pointing at a running simulator (Chakra publishes no rate
    limit, so none is set unless asked for)."""
    return ChakraSettings(
        name=name,
        kind="chakra",
        base_url=url.rstrip("/"),
        token=SecretStr(TOKEN),
        description="Simulated ChakraHQ team: leads, tickets, field visits (sandbox data)",
        rate_limit_per_minute=rate_limit_per_minute,
    )


def open_sandbox(seed: int, *, strict: bool = True, size: int | None = None) -> SandboxParts:
    """The sandbox's Chakra instance (the common entry point of every backend's sandbox);
    `size` asks for that many leads, the default collection (benchmarks)."""
    return SandboxParts(
        core=build(seed, strict=strict, **({"leads": size} if size else {})),
        settings=lambda url: settings(url),
        describe={"token": TOKEN},
    )
