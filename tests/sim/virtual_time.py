"""Fake and virtual time for tests. With virtual time, clients, limiters and simulators of
concurrent tasks share one clock that jumps to the next wake-up once every task is
blocked, so a test of many seconds of quota windows and latency runs in milliseconds and
never sleeps for real."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import httpx
from anyio.lowlevel import checkpoint
from starlette.types import ASGIApp

from tools.backends.base import InstanceSettings
from tools.backends.registry import create_backend
from tools.instances import Instances
from tools.limiter import Quotas


class FakeClock:
    """A clock that moves only when the test sets `now`."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def all_other_tasks_blocked() -> None:
    """anyio's wait_all_tasks_blocked without its 0.1 s polling sleep (same asyncio check)."""
    me = asyncio.current_task()
    while True:
        await checkpoint()
        if all(task is me or task.done() or _waiting(task) for task in asyncio.all_tasks()):
            return


def _waiting(task: asyncio.Task[Any]) -> bool:
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is not None and not waiter.done()


class FakeTime:
    """A clock that only moves when someone sleeps; records every requested delay (for one
    task at a time; concurrent tasks need `VirtualTime`)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await checkpoint()


class VirtualTime:
    """`clock` and `sleep` for every party of a test; `run` drives the jobs to the end."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = anyio.Event()
        entry = (self.now + max(seconds, 0.0), next(self._order), wake)
        heapq.heappush(self._sleepers, entry)
        try:
            await wake.wait()
        finally:
            if not wake.is_set():  # cancelled: a dead sleeper must not move the clock
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    async def run(self, *jobs: Callable[[], Coroutine[Any, Any, None]]) -> None:
        left = len(jobs)

        def finishing(job: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], Any]:
            async def run() -> None:
                nonlocal left
                try:
                    await job()
                finally:
                    left -= 1

            return run

        with anyio.fail_after(10):  # real seconds: a deadlock fails instead of hanging
            async with anyio.create_task_group() as tg:
                for job in jobs:
                    tg.start_soon(finishing(job))
                while left:
                    await all_other_tasks_blocked()
                    if not self._sleepers:
                        # Blocked without a sleeper: a cancellation still being delivered
                        # (its tasks wake on the next loop turns), or a deadlock, which
                        # fail_after ends. Only the jobs' end ends the driving.
                        await checkpoint()
                        continue
                    deadline, _, wake = heapq.heappop(self._sleepers)
                    self.now = max(self.now, deadline)
                    wake.set()


def instances_on(
    time: VirtualTime, settings: InstanceSettings, app: ASGIApp, *, seed: int = 0
) -> Instances:
    """One backend reaching `app` in process, on `time`: its clock, its sleeps and quota
    windows of its own, empty (as a freshly started process has them), and its backoff
    jitter drawn from `seed`. Unseeded jitter made runs differ: the delays decide which
    concurrent request reaches a simulator first, and so which one draws which seeded
    fault (a fault-mix export once used up a retry budget under load, and passed alone)."""
    backend = create_backend(
        settings,
        transport=httpx.ASGITransport(app=app),
        clock=time.clock,
        sleep=time.sleep,
        quotas=Quotas(clock=time.clock, sleep=time.sleep),
        rng=random.Random(seed),
    )
    return Instances([backend])
