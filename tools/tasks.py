"""Several awaits at once, without the ExceptionGroup of a bare task group.

An anyio task group raises its children's failures wrapped in an ExceptionGroup, which no
`except BackendError` catches: a 500 on one of several parallel reads would then escape
as a traceback (through MCP, an internal error). Every place that runs things side by side
goes through `gather`, which raises the first failure as itself once the others have
stopped; the paging driver's own group collects its errors the same way (tools/paging.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

T = TypeVar("T")


async def gather(calls: Sequence[Callable[[], Awaitable[T]]], limit: int | None = None) -> list[T]:
    """The results of `calls`, in order, at most `limit` running at once (None: all). The
    first failure cancels the rest and is raised as itself once they have stopped."""
    results: list[T | None] = [None] * len(calls)
    failures: list[Exception] = []
    slots = anyio.Semaphore(limit or max(1, len(calls)))

    async with anyio.create_task_group() as tg:

        async def run(index: int, call: Callable[[], Awaitable[T]]) -> None:
            try:
                async with slots:
                    results[index] = await call()
            except Exception as exc:  # collected here, so the group never wraps it
                failures.append(exc)
                tg.cancel_scope.cancel()

        for index, call in enumerate(calls):
            tg.start_soon(run, index, call)
    if failures:
        raise failures[0]
    return results  # type: ignore[return-value]  # every slot is filled when none failed
