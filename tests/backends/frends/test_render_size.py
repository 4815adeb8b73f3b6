"""Tokens (design.md section 9): one rendered list page is far smaller than the raw vendor
JSON for the same rows. Frends lists each definition with its whole BPMN, element
parameters and graph data, so this is where the compact rendering pays most.

`page_sizes` is what the benchmark figure uses; run with `-s` to see the numbers."""

from __future__ import annotations

import httpx
import pytest

from server.render import list_text
from tests.backends.frends.conftest import BASE
from tools.backends.frends import sandbox
from tools.backends.frends.adapter import FrendsBackend
from tools.instances import Instances
from tools.list_processes import list_processes
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
ROWS = 20


async def page_sizes(
    backend: FrendsBackend, sim: SimulatorCore, collection: str | None, rows: int = ROWS
) -> tuple[int, int]:
    """(bytes of the rendered list text, bytes of the vendor's JSON) for the first `rows`
    rows of a collection, at the default detail level."""
    query: dict[str, object] = {"backend": backend.name, "limit": rows}
    if collection is not None:
        query["collection"] = collection
    # The tool's own path: rows shaped for detail=summary, then rendered as the model sees them.
    result = await list_processes(Instances([backend]), query)
    text = list_text(result).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim),
        base_url=f"{BASE}{sandbox.PREFIX}",
        headers={"Authorization": f"Bearer {sandbox.TOKEN}"},
    ) as raw:
        if collection is None:
            response = await raw.get("/processes", params={"PageNumber": 1, "PageSize": rows})
            ids = [str(r["id"]) for r in response.json()["data"]]
        else:
            params = {"stateFilter": "ShowAll", "pageSize": str(rows)}
            response = await raw.get("/instances/3", params=params)
            ids = [r["executionId"] for r in response.json()["data"]]
    assert ids == [r["id"] for r in result.records()], "the same rows on both sides"
    return len(text), len(response.content)


@pytest.mark.parametrize(("collection", "factor"), [(None, 40), ("instances", 3)])
async def test_a_rendered_list_page_is_many_times_smaller_than_the_vendor_json(
    backend: FrendsBackend, sim: SimulatorCore, collection: str | None, factor: int
) -> None:
    text_bytes, raw_bytes = await page_sizes(backend, sim, collection)
    name = collection or "processes"
    print(f"\nfrends {name}: {ROWS} rows, text {text_bytes} B, raw JSON {raw_bytes} B")
    assert text_bytes * factor < raw_bytes
