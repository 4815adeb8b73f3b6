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
from tools.sim import SandboxParts, SimServer, SimulatorCore

# One line per backend; keep the trailing comma so each entry stays on its own line.
SANDBOXES: tuple[ModuleType, ...] = (
    tallyfy,
    frends,
    chakra,
    yuuvis,
    kommo,
    # (next backends here)
)


@dataclass
class SandboxInstance:
    settings: InstanceSettings
    core: SimulatorCore
    server: SimServer
    details: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, str]:
        """What a person needs to call the simulator by hand (sandbox tokens are public)."""
        return dict(self.details)


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
    ) -> None:
        self.seed = seed
        self.strict = strict
        self.latency = latency
        self.faults = faults
        self.sizes = dict(sizes or {})
        self.instances: list[SandboxInstance] = []

    def _size(self, module: ModuleType) -> int | None:
        kind = str(module.NAME).split("-")[0]
        return self.sizes.get(kind, self.sizes.get("*"))

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
        for inst in self.instances:
            inst.server.stop()

    def settings(self) -> list[InstanceSettings]:
        return [i.settings for i in self.instances]

    def instance(self, name: str) -> SandboxInstance:
        return next(i for i in self.instances if i.settings.name == name)
