"""The sandbox started on a thread, for `serve --sandbox`: the server answers `initialize`
while the simulators come up (data generation and imports included), and the first call that
needs a backend waits for them. The thread starts when the server is serving (`begin`,
from its lifespan) or when a call first needs it, whichever comes first: started at once,
it would share the interpreter with the server's own imports and slow `initialize`."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio.to_thread

if TYPE_CHECKING:
    from tools.backends.base import InstanceSettings
    from tools.sandbox import Sandbox


class BackgroundSandbox:
    def __init__(self, seed: int = 7, **options: Any) -> None:
        """`options`: the keywords of tools.sandbox.Sandbox (strict, latency, faults...)."""
        self.seed = seed
        self.options = options
        self.sandbox: Sandbox | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="sandbox-start", daemon=True)
        self._begun = threading.Lock()

    def _start(self) -> None:
        try:
            # Imported here: the simulators' modules load off the main thread too.
            from tools.sandbox import Sandbox

            self.sandbox = Sandbox(self.seed, **self.options).__enter__()
        except BaseException as exc:  # re-raised by ready(), in the call that waits
            self._error = exc
        finally:
            self._done.set()

    def begin(self) -> None:
        if self._begun.acquire(blocking=False):
            self._thread.start()

    async def ready(self) -> list[InstanceSettings]:
        """The sandbox instances' settings, once every simulator accepts connections."""
        self.begin()
        if not self._done.is_set():
            await anyio.to_thread.run_sync(self._done.wait)
        if self._error is not None or self.sandbox is None:
            raise RuntimeError("the sandbox simulators did not start") from self._error
        return self.sandbox.settings()

    def __enter__(self) -> BackgroundSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread.is_alive():
            self._thread.join()
        if self.sandbox is not None:
            self.sandbox.stop()
