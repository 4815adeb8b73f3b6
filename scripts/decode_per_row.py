"""Decode + map per row, on list pages captured from each sandbox simulator (issue 15).

Each backend's `fetch_page` runs over the same captured pages, replayed from memory (no
simulator, no network), so the figure is the adapter's client-side work per row: the HTTP
client's bookkeeping, decoding and mapping into rows. The script uses only the adapter
contract, so the same file measures another checkout (`PYTHONPATH=<checkout>`) for a
before/after pair. Noisy while other work runs: report it with the load average.

    uv run python scripts/decode_per_row.py [rows] [repeats]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx

from tools.backends.registry import create_backend
from tools.query import parse_query
from tools.sandbox import SANDBOXES

# Collections measured besides each backend's default.
COLLECTIONS = {"frends-sandbox": (None, "instances")}


class Replay(httpx.AsyncBaseTransport):
    """Answers from the simulator once, then from memory."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: dict[tuple[str, str, bytes], tuple[int, list[tuple[bytes, bytes]], bytes]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, str(request.url), request.content)
        if key not in self.seen:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            self.seen[key] = (response.status_code, list(response.headers.raw), body)
        status, headers, body = self.seen[key]
        return httpx.Response(status, headers=headers, content=body)


async def measure(
    module: Any, rows: int, repeats: int, detail: str, collection: str | None
) -> float:
    parts = module.open_sandbox(5, strict=False, size=rows)
    parts.core.rate_limit = None
    settings = parts.settings(f"http://{module.NAME}.test").model_copy(
        update={"rate_limit_per_minute": 1_000_000}
    )
    backend = create_backend(settings, transport=Replay(httpx.ASGITransport(app=parts.core)))
    await backend.discover()
    args = {"backend": backend.name, "limit": 1000, "detail": detail, "collection": collection}
    query = parse_query({k: v for k, v in args.items() if v is not None})
    plan = await backend.plan(query)
    size = backend.capabilities().for_collection(query.collection).max_page_size

    async def walk() -> int:
        count, at = 0, None
        while count < rows:
            page = await backend.fetch_page(plan, at, size)
            count += len(page.rows)
            at = page.next
            if at is None:
                break
        return count

    await walk()  # fills the replay and every directory the rows need
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        count = await walk()
        best = min(best, (time.process_time() - start) / count * 1e6)
    await backend.aclose()
    return best


async def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(f"load average {os.getloadavg()[0]:.2f}; {rows} rows, best of {repeats}, CPU us/row")
    for module in SANDBOXES:
        for collection in COLLECTIONS.get(module.NAME, (None,)):
            summary = await measure(module, rows, repeats, "summary", collection)
            full = await measure(module, rows, repeats, "full", collection)
            name = f"{module.NAME} {collection or ''}"
            print(f"{name:26} summary {summary:6.1f}   full {full:6.1f}")


if __name__ == "__main__":
    asyncio.run(main())
