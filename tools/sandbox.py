"""Every simulator on 127.0.0.1 with seeded data: for --sandbox, the demo and the tests.

Each backend folder has a `sandbox.py` with `NAME` and `open_sandbox(seed, strict=...)`;
adding a backend to the sandbox is one line in SANDBOXES.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType

from tools.backends.base import InstanceSettings
from tools.backends.chakra import sandbox as chakra
from tools.backends.frends import sandbox as frends
from tools.backends.kommo import sandbox as kommo
from tools.backends.tallyfy import sandbox as tallyfy
from tools.backends.yuuvis import sandbox as yuuvis
from tools.sim import RateLimit, SandboxParts, SimServer, SimulatorCore

# One line per backend; keep the trailing comma so each entry stays on its own line.
SANDBOXES: tuple[ModuleType, ...] = (
    tallyfy,
    frends,
    chakra,
    yuuvis,
    kommo,
    # (next backends here)
)


def sandbox_kind(module: ModuleType) -> str:
    """A sandbox module's backend kind: "tallyfy" for tallyfy-sandbox."""
    return str(module.NAME).split("-")[0]


def sandbox_of(kind: str) -> ModuleType:
    """The sandbox module of a backend kind."""
    return next(m for m in SANDBOXES if sandbox_kind(m) == kind)


@dataclass
class SandboxInstance:
    settings: InstanceSettings
    core: SimulatorCore
    server: SimServer
    details: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, str]:
        """What a person needs to call the simulator by hand (sandbox tokens are public)."""
        return dict(self.details)


def _tallyfy_window(parts: SandboxParts, window: float) -> None:
    """Tallyfy's quotas over `window` seconds instead of a minute (the hourly one over 60
    windows), and the instance told the same, so its limiter paces to them."""
    parts.core.rate_limits = (RateLimit(100, window), RateLimit(1000, 60 * window))
    parts.describe["quota"] = f"100 per {window:g} s, 1000 per {60 * window:g} s"
    make = parts.settings

    def settings(url: str) -> InstanceSettings:
        update = {"rate_limit_per_minute": 100, "rate_limit_window_seconds": window}
        return make(url).model_copy(update=update)

    parts.settings = settings


class Sandbox:
    """Starts every backend's simulator; stops them all on exit.

    The world's conditions, on request: `latency` seconds a request (jittered a quarter
    either way), `faults` a share of requests answered with one of the kit's fault mix
    (429, 5xx, timeouts, resets, truncated bodies: tools/sim/faults.py), and `sizes` rows
    per kind ("tallyfy": 12000; "*" for every kind). Each simulator enforces its vendor's
    documented quota per account (Tallyfy 100/min and 1,000/h per organization, Kommo 7/s),
    server side: the quota windows are the sandbox process's, so they outlive a restart of
    a server or export pointed at it, as a vendor's do."""

    def __init__(
        self,
        seed: int = 7,
        *,
        strict: bool = True,
        latency: float = 0.0,
        faults: float = 0.0,
        sizes: Mapping[str, int] | None = None,
        tallyfy_window: float | None = None,
    ) -> None:
        self.seed = seed
        self.strict = strict
        self.latency = latency
        self.faults = faults
        self.sizes = dict(sizes or {})
        # Tallyfy's quotas counted over this many seconds instead of a minute (and its
        # hourly one over 60 times that): tests see a full window without waiting one.
        self.tallyfy_window = tallyfy_window
        self.instances: list[SandboxInstance] = []

    def _size(self, module: ModuleType) -> int | None:
        return self.sizes.get(sandbox_kind(module), self.sizes.get("*"))

    def __enter__(self) -> Sandbox:
        try:
            for index, module in enumerate(SANDBOXES):
                size = self._size(module)
                parts: SandboxParts = module.open_sandbox(
                    self.seed, strict=self.strict, **({"size": size} if size else {})
                )
                if self.latency:
                    parts.core.set_network(self.latency, seed=self.seed + index)
                if self.faults:
                    parts.core.faults.random_mix(self.faults, seed=self.seed + index)
                if module is tallyfy and self.tallyfy_window is not None:
                    _tallyfy_window(parts, self.tallyfy_window)
                server = SimServer(parts.core).start()
                self.instances.append(
                    SandboxInstance(parts.settings(server.url), parts.core, server, parts.describe)
                )
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        # Ask all first, then wait: the shutdowns overlap instead of adding up.
        for inst in self.instances:
            inst.server.request_stop()
        for inst in self.instances:
            inst.server.join()

    def settings(self) -> list[InstanceSettings]:
        return [i.settings for i in self.instances]

    def instance(self, name: str) -> SandboxInstance:
        return next(i for i in self.instances if i.settings.name == name)
