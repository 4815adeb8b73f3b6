"""The sandbox started on a thread, for `serve --sandbox`: the server answers `initialize`
while the simulators come up (data generation and imports included), and the first call that
needs a backend waits for them."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import anyio.to_thread

from tools.backends.base import InstanceSettings

if TYPE_CHECKING:
    from tools.sandbox import Sandbox


class BackgroundSandbox:
    def __init__(self, seed: int = 7, *, strict: bool = True) -> None:
        self.seed = seed
        self.strict = strict
        self.sandbox: Sandbox | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="sandbox-start", daemon=True)

    def _start(self) -> None:
        try:
            # Imported here: the simulators' modules load off the main thread too.
            from tools.sandbox import Sandbox

            self.sandbox = Sandbox(self.seed, strict=self.strict).__enter__()
        except BaseException as exc:  # re-raised by ready(), in the call that waits
            self._error = exc
        finally:
            self._done.set()

    async def ready(self) -> list[InstanceSettings]:
        """The sandbox instances' settings, once every simulator accepts connections."""
        if not self._done.is_set():
            await anyio.to_thread.run_sync(self._done.wait)
        if self._error is not None or self.sandbox is None:
            raise RuntimeError("the sandbox simulators did not start") from self._error
        return self.sandbox.settings()

    def __enter__(self) -> BackgroundSandbox:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join()
        if self.sandbox is not None:
            self.sandbox.stop()
