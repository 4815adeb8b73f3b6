"""Paging `backend: "all"` to the end through a real MCP client (in memory) over the five
sandbox simulators, while some instances are skipped.

The README's headline query skips Frends (definitions have no status) and yuuvis (no update
time). Its cursor must keep working: every page says who was skipped, and the walk returns
each matching row exactly once, in the query's order. The references are one big call and
each answering instance listed alone (whose paging the equivalence tests hold to the
local evaluator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.export.conftest import memory_client, open_sim
from tests.server.conftest import records, rows, text
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio
SIMS = [open_sim(m, seed=9) for m in SANDBOXES]
HEADLINE = {"text": "onboarding", "status": ["open"], "updated_before": "2026-10-23"}
SKIPS = {"frends-sandbox", "yuuvis-sandbox"}
# The README's second fan-out: three instances answer, interleaved in created order.
STUCK = {"status": ["open"], "updated_before": "2026-10-01"}
# Frends definitions have no status; the four others answer.
RECENT_OPEN = {"status": ["open"], "created_after": "2026-10-01"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """The real server in memory with every sandbox backend behind its simulator."""
    async with memory_client(SIMS, tmp_path) as c:
        yield c


async def call(client: Client, **args: Any) -> dict[str, Any]:
    result = await client.call_tool("list_processes", args)
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def walk(client: Client, **args: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while len(pages) < 500:
        page = await call(client, **args, **({"cursor": cursor} if cursor else {}))
        assert page["count"] == len(records(page)) <= args["limit"]
        pages.append(page)
        cursor = page.get("next_cursor")
        if not page["has_more"]:
            assert cursor is None
            return pages
    raise AssertionError("the walk did not end")


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["backend"], r["id"]) for r in rows]


def skipped(page: dict[str, Any]) -> set[str]:
    return {w.split(" skipped:")[0] for w in page.get("warnings", []) if " skipped:" in w}


CASES = [
    pytest.param(HEADLINE, SKIPS, 1, id="headline-1"),
    pytest.param(HEADLINE, SKIPS, 4, id="headline-4"),
    pytest.param(HEADLINE, SKIPS, 25, id="headline-25"),
    pytest.param(STUCK, SKIPS, 4, id="stuck-4"),
    pytest.param(STUCK, SKIPS, 25, id="stuck-25"),
    pytest.param(RECENT_OPEN, {"frends-sandbox"}, 3, id="recent-3"),
    pytest.param(RECENT_OPEN, {"frends-sandbox"}, 40, id="recent-40"),
]


@pytest.mark.parametrize(("filters", "skips", "limit"), CASES)
async def test_a_fan_out_walk_with_skipped_instances_returns_each_row_once_in_order(
    client: Client, filters: dict[str, Any], skips: set[str], limit: int
) -> None:
    whole = await call(client, backend="all", **filters, limit=1000)
    assert not whole["has_more"]
    assert skipped(whole) == skips
    pages = await walk(client, backend="all", **filters, limit=limit)
    walked = [r for p in pages for r in records(p)]

    assert keys(walked) == keys(records(whole)), "no overlap, no gap, the same order"
    assert len(set(keys(walked))) == len(walked)
    stamps = [datetime.fromisoformat(r["created_at"]) for r in walked]
    assert stamps == sorted(stamps, reverse=True)
    for page in pages:
        assert skipped(page) == skips, "every page says who was skipped"


@pytest.mark.parametrize("filters", [HEADLINE, STUCK], ids=["headline", "stuck"])
async def test_the_walk_holds_what_each_answering_instance_lists_alone(
    client: Client, filters: dict[str, Any]
) -> None:
    pages = await walk(client, backend="all", **filters, limit=7)
    walked = keys([r for p in pages for r in records(p)])
    alone: list[tuple[str, str]] = []
    for sim in SIMS:
        name = sim.settings.name
        if name in SKIPS:
            continue
        alone += keys([r for p in await walk(client, backend=name, **filters, limit=100)
                       for r in records(p)])  # fmt: skip
    assert sorted(walked) == sorted(alone)
    assert len({b for b, _ in walked}) >= (1 if filters is HEADLINE else 3)


async def test_every_page_of_a_fan_out_names_each_row_instance_in_the_text(client: Client) -> None:
    args: dict[str, Any] = {"backend": "all", **HEADLINE, "limit": 5}
    for _ in range(10):
        result = await client.call_tool("list_processes", args)
        assert not result.is_error, text(result)
        lines = text(result).splitlines()
        shared = next((li for li in lines if li.startswith("every row: ")), "")
        for row in rows(result):
            [line] = [li for li in lines if li.startswith(f"{row['id']} | ")]
            # In its own cells, or said once for the page when every row shares it.
            assert f" | {row['backend']} | " in line or f"backend={row['backend']}" in shared
        cursor = result.structured_content.get("next_cursor")
        if cursor is None:
            return
        args["cursor"] = cursor
    raise AssertionError("the walk did not end")
