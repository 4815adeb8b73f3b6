"""What an agent reads, in Claude tokens: list pages in both channels, raw vendor JSON, tools/list.

    uv run python benchmarks/sizes.py          # Markdown tables for the README, then the targets

It exits 1 when a target is missed (each is printed with PASS or FAIL and the distance).

Tokens are counted with the `anthropic-tokenizer` package (a dev dependency; it runs
offline, with the BPE it embeds, and never calls an API here), not estimated from bytes.

For each sandbox backend and collection, list_processes with limit 20 through the real
server in memory, at detail ids, summary and full:
- text: the text content block, as a client that shows the text passes it on;
- structured: structuredContent as compact JSON, as the server sends it and as clients
  that show only it (Claude Code's JSON.stringify, pydantic-ai) hand it to the model;
- both: the two together (a client that forwards everything).
Each figure is the whole answer divided by its rows, so the header, the cursor and the
warnings are counted too. Raw vendor JSON: the bodies of every vendor response that call
needed once name lookups are cached, per row. tools/list: the model-visible part (names,
descriptions, input schemas, which is what a client turns into tool definitions) and the
whole answer as sent (titles, annotations, output schemas, icons and all).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anthropic_tokenizer import count_tokens
from mcp import Client

from server.app import build_server
from server.logs import setup_logging
from server.settings import Settings
from tools.sandbox import SANDBOXES

ROWS = 20
UNTHROTTLED = 1_000_000
DETAILS = ("ids", "summary", "full")

# Issue 12's targets.
SUMMARY_MEDIAN = 50  # median row over all collections, larger channel, summary detail
SUMMARY_WORST = 70  # no collection above this
IDS_ROW = 25  # every collection at ids detail, larger channel
VISIBLE_TOOLS = 1_500  # names, descriptions, input schemas
WHOLE_TOOLS = 2_500  # the whole tools/list JSON


def compact(value: Any) -> str:
    """JSON as the server writes it (pydantic: no spaces, non-ASCII as is) and as
    JavaScript's JSON.stringify writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Recording(httpx.AsyncBaseTransport):
    """The simulator's transport, keeping the response bodies it hands back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        self.bodies.append(body)
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )


@dataclass
class Page:
    rows: int
    text: int
    structured: int

    def per_row(self, tokens: int) -> float:
        return tokens / self.rows

    @property
    def larger(self) -> float:
        return self.per_row(max(self.text, self.structured))


@dataclass
class Collection:
    backend: str
    name: str
    raw: float = 0.0  # raw vendor JSON tokens per row
    pages: dict[str, Page] = field(default_factory=dict)


async def tools_list(client: Client) -> tuple[int, int, int]:
    """(model-visible, whole, of which the 2026-era server-info stamp in _meta)."""
    tools = await client.list_tools()
    sent = tools.model_dump(mode="json", by_alias=True, exclude_none=True)
    visible = [
        {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
        for t in tools.tools
    ]
    meta = count_tokens(compact(sent["_meta"])) if "_meta" in sent else 0
    return count_tokens(compact(visible)), count_tokens(compact(sent)), meta


async def one_collection(
    client: Client, backend: dict[str, Any], collection: dict[str, Any], recorder: Recording
) -> Collection:
    entry = Collection(backend["kind"], collection["name"])
    args: dict[str, Any] = {"backend": backend["name"], "collection": collection["name"]}
    args["limit"] = ROWS
    if collection["sorts"]:
        args["sort"] = collection["sorts"][0]
    for detail in DETAILS:
        call = args | {"detail": detail}
        await client.call_tool("list_processes", call)  # warm name caches
        recorder.bodies.clear()
        result = await client.call_tool("list_processes", call)
        structured = result.structured_content or {}
        rows = structured.get("count", 0)
        if result.is_error or not rows:
            break
        text = "\n".join(c.text for c in result.content if c.type == "text")
        entry.pages[detail] = Page(rows, count_tokens(text), count_tokens(compact(structured)))
        if detail == "summary":
            bodies = (b.decode("utf-8", "replace") for b in recorder.bodies)
            entry.raw = sum(map(count_tokens, bodies)) / rows
    return entry


async def measure() -> tuple[list[Collection], tuple[int, int, int]]:
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
    measured: list[Collection] = []
    async with Client(build_server(settings, transports=transports)) as client:
        listing = await tools_list(client)
        listed = await client.call_tool("list_backends", {})
        for backend in listed.structured_content["backends"]:
            for collection in backend.get("collections", []):
                if ":" in collection["name"]:
                    continue  # Frends' other agent groups: the same shape again
                recorder = transports[backend["name"]]
                entry = await one_collection(client, backend, collection, recorder)
                if entry.pages:
                    measured.append(entry)
    return measured, listing


def report(measured: list[Collection], listing: tuple[int, int, int]) -> bool:
    visible, whole, meta = listing
    print(f"Tokens per row of a {ROWS}-row list_processes page (Claude tokenizer)\n")
    print(
        "| backend | collection | detail | text | structured | both | raw vendor JSON "
        "| larger channel vs raw |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in measured:
        for detail, p in c.pages.items():
            raw = f"{c.raw:,.0f}" if detail == "summary" else ""
            ratio = f"{c.raw / p.larger:.1f}x smaller" if detail == "summary" else ""
            print(
                f"| {c.backend} | {c.name} | {detail} | {p.per_row(p.text):.1f} "
                f"| {p.per_row(p.structured):.1f} | {p.per_row(p.text + p.structured):.1f} "
                f"| {raw} | {ratio} |"
            )
    print("\n| tools/list | tokens |\n|---|---|")
    print(f"| model-visible (names, descriptions, input schemas) | {visible:,} |")
    print(f"| whole answer as sent (compact JSON) | {whole:,} |")
    print(f"| ... of which the server-info stamp (`_meta`, 2026-07-28 era, icon) | {meta:,} |")

    summary = {f"{c.backend}/{c.name}": c.pages["summary"].larger for c in measured}
    ids = {f"{c.backend}/{c.name}": c.pages["ids"].larger for c in measured}
    worst_summary = max(summary, key=summary.__getitem__)
    worst_ids = max(ids, key=ids.__getitem__)
    within = sum(v <= IDS_ROW for v in ids.values())
    median = statistics.median(summary.values())
    checks = [
        ("summary: median row, larger channel", median, SUMMARY_MEDIAN),
        (f"summary: worst collection ({worst_summary})", summary[worst_summary], SUMMARY_WORST),
        (
            f"ids: worst collection ({worst_ids}; {within} of {len(ids)} within)",
            ids[worst_ids],
            IDS_ROW,
        ),
        ("tools/list model-visible", visible, VISIBLE_TOOLS),
        ("tools/list whole", whole, WHOLE_TOOLS),
    ]
    print("\n| target | measured | limit | result |\n|---|---|---|---|")
    ok = True
    for name, value, limit in checks:
        passed = value <= limit
        ok &= passed
        verdict = (
            f"PASS ({limit - value:,.1f} to spare)"
            if passed
            else f"FAIL ({value - limit:,.1f} over)"
        )
        print(f"| {name} | {value:,.1f} | {limit:,} | {verdict} |")
    return ok


def main() -> None:
    setup_logging("ERROR")
    measured, listing = anyio.run(measure)
    sys.exit(0 if report(measured, listing) else 1)


if __name__ == "__main__":
    main()
