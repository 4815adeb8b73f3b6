"""Every simulator on 127.0.0.1 with seeded data: for --sandbox, the demo and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from tools.backends.base import InstanceSettings
from tools.backends.tallyfy import sandbox as tallyfy
from tools.sim import SimServer, SimulatorCore


@dataclass
class SandboxInstance:
    settings: InstanceSettings
    core: SimulatorCore
    server: SimServer

    def describe(self) -> dict[str, str]:
        """What a person needs to call the simulator by hand (sandbox tokens are public)."""
        out = {"token": "sandbox-" + self.settings.kind + "-token"}
        org = getattr(self.settings, "org", None)
        if org:
            out["org"] = str(org)
        return out


class Sandbox:
    """Starts every backend's simulator; stops them all on exit."""

    def __init__(self, seed: int = 7, *, strict: bool = True) -> None:
        self.seed = seed
        self.strict = strict
        self.instances: list[SandboxInstance] = []

    def __enter__(self) -> Sandbox:
        try:
            core, org = tallyfy.build(self.seed, strict=self.strict)
            server = SimServer(core).start()
            self.instances.append(SandboxInstance(tallyfy.settings(server.url, org), core, server))
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
