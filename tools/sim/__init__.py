"""Shared kit for the vendor simulators: fault injection, request recording, rate limits,
a silent loopback server, and deterministic fake data (`tools.sim.fake`)."""

from tools.sim.app import RateLimit, RecordedRequest, SimulatorCore, SlidingWindow
from tools.sim.faults import ErrorBody, Fault, FaultKind, FaultPlan, json_error_body
from tools.sim.parts import SandboxParts
from tools.sim.serve import SimServer, SimServerGroup

__all__ = [
    "ErrorBody",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "RateLimit",
    "RecordedRequest",
    "SandboxParts",
    "SimServer",
    "SimServerGroup",
    "SimulatorCore",
    "SlidingWindow",
    "json_error_body",
]
