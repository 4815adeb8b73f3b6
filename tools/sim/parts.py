"""What each backend's `sandbox.py` hands the sandbox: one simulator plus its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.backends.base import InstanceSettings
    from tools.sim.app import SimulatorCore


@dataclass
class SandboxParts:
    """A seeded simulator, and how to point an instance at it once it has a URL."""

    core: SimulatorCore
    # Base URL of the running simulator -> settings of an instance that uses it.
    settings: Callable[[str], InstanceSettings]
    # What a person needs to call the simulator by hand (sandbox credentials are public).
    describe: dict[str, str] = field(default_factory=dict)
