"""Shared kit for the vendor simulators: fault injection, request recording, rate limits,
a silent loopback server, and deterministic fake data (`tools.sim.fake`)."""

from tools.sim.app import (
    Arrival,
    RateLimit,
    RecordedRequest,
    SimulatorCore,
    SlidingWindow,
    busiest_window,
)
from tools.sim.faults import ErrorBody, Fault, FaultKind, FaultPlan, json_error_body
from tools.sim.parts import SandboxParts
from tools.sim.serve import SimServer, SimServerGroup

__all__ = [
    "Arrival",
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
    "busiest_window",
    "json_error_body",
]
