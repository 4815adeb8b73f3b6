"""tools.notices: live warnings reach the installed sink, and never break the caller."""

from __future__ import annotations

import anyio
import pytest

from tools import notices

pytestmark = pytest.mark.anyio


async def test_a_notice_reaches_the_sink_of_its_block_and_its_child_tasks() -> None:
    got: list[tuple[str, str, str]] = []

    async def sink(level: notices.Level, message: str, source: str) -> None:
        got.append((level, message, source))

    with notices.sink(sink):
        await notices.warn("one skipped", source="process_mcp.test")
        async with anyio.create_task_group() as tg:
            tg.start_soon(notices.warn, "from a child task")
    await notices.warn("after the block: nobody listens")
    assert got == [
        ("warning", "one skipped", "process_mcp.test"),
        ("warning", "from a child task", "process_mcp"),
    ]


async def test_a_failing_sink_never_fails_the_caller() -> None:
    async def broken(level: notices.Level, message: str, source: str) -> None:
        raise ConnectionError("client went away")

    with notices.sink(broken):
        await notices.warn("still fine")
