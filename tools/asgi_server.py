"""A uvicorn server that stops as soon as it is asked: for the simulators (tools/sim) and the
MCP server's HTTP transports (server/serve.py).

uvicorn looks at `should_exit` every 0.1 s, and once stopping waits another 0.1 s for
connections to close even when there are none. Here a stop wakes the main loop at once
(from a signal handler or another thread), and with no connection or task left the
shutdown skips uvicorn's waits; with a client still connected it takes uvicorn's graceful
path unchanged (requests in flight finish, idle keep-alive connections are closed)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import FrameType

import uvicorn


class PromptServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)

    def wake(self) -> None:
        """From any thread or a signal handler: the main loop sees `should_exit` now."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.wake()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            if self._wake is None:
                await asyncio.sleep(0.1)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = self.server_state
        if state.connections or state.tasks:
            await super().shutdown(sockets=sockets)
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
