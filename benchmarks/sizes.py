"""What an agent reads: one list page's text against the vendor's raw JSON for the same rows.

    uv run python benchmarks/sizes.py          # prints a Markdown table for the README

For each sandbox backend (every collection): list_processes with limit 20 through the real
server in memory; the raw size is the body of every vendor response that call needed once
name lookups are cached (list pages only). Tokens are estimated as bytes / 4.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import httpx
from mcp import Client

from server.app import build_server
from server.logs import setup_logging
from server.settings import Settings
from tools.sandbox import SANDBOXES

ROWS = 20
UNTHROTTLED = 1_000_000


class Recording(httpx.AsyncBaseTransport):
    """The simulator's transport, counting the response bytes it hands back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bytes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.bytes += len(body)
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


async def main() -> None:
    setup_logging("ERROR")
    instances, transports = [], {}
    for module in SANDBOXES:
        parts = module.open_sandbox(7, strict=True)
        parts.core.rate_limit = None
        settings = parts.settings(f"http://{module.NAME}.bench").model_copy(
            update={"rate_limit_per_minute": UNTHROTTLED}
        )
        instances.append(settings)
        transports[settings.name] = Recording(httpx.ASGITransport(app=parts.core))
    settings = Settings(instances=instances, export_dir=Path(tempfile.mkdtemp()))
    print(f"List page of {ROWS} rows: text the model reads vs the vendor's JSON for those rows\n")
    print("| backend | collection | text per row | raw JSON per row | smaller by |")
    print("|---|---|---|---|---|")
    async with Client(build_server(settings, transports=transports)) as client:
        listed = await client.call_tool("list_backends", {})
        for backend in listed.structured_content["backends"]:
            for collection in backend.get("collections", []):
                if ":" in collection["name"]:
                    continue  # Frends' other agent groups: the same shape again
                args = {"backend": backend["name"], "collection": collection["name"]}
                args |= {"limit": ROWS, "sort": collection["sorts"][0]}
                await client.call_tool("list_processes", args)  # warm name caches
                recorder = transports[backend["name"]]
                recorder.bytes = 0
                result = await client.call_tool("list_processes", args)
                rows = result.structured_content.get("count", 0)
                if result.is_error or not rows:
                    continue
                text = len(result.content[0].text.encode())
                print(
                    f"| {backend['name']} | {collection['name']} | {text // rows} B "
                    f"(~{text // rows // 4} tokens) | {recorder.bytes // rows} B "
                    f"| {recorder.bytes / text:.1f}x |"
                )


if __name__ == "__main__":
    anyio.run(main)
