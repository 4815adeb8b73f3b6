"""An asyncio event loop on virtual time, for code whose timers we cannot inject: the SDK's
session idle expiry and event streams run on the loop's clock (anyio deadlines). When no
callback is ready and no socket has data, the loop's clock jumps to the next timer instead
of waiting, so minutes of idle sessions pass in milliseconds and nothing sleeps for real.

Only for tests that do no real I/O (ASGI apps called through httpx.ASGITransport):

    run_virtual(main)          # like anyio.run(main), on a VirtualLoop
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import Any

import anyio


class _Selector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # Nothing scheduled and nothing to read: give threads a real moment, then
            # call it a deadlock rather than hang.
            ready = super().select(5.0)
            if not ready:
                raise RuntimeError("virtual loop: every task waits and no timer is set")
            return ready
        self._loop.virtual_now += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual_now = 0.0
        super().__init__(_Selector(self))

    def time(self) -> float:
        return self.virtual_now


def run_virtual(main: Callable[[], Awaitable[Any]]) -> Any:
    return anyio.run(main, backend="asyncio", backend_options={"loop_factory": VirtualLoop})
