"""Counting in one call against paging the rows (issue 17).

    uv run python benchmarks/summary.py          # prints Markdown tables for the README

1. Requests and wall time of a 5-group summary (Tallyfy runs per native status: active,
   problem, delayed, complete, archived) against paging the same rows with list_processes
   (limit 1000, cursor; waiting as told when a page must wait for the quota), on the
   Tallyfy sandbox simulator in its own process as `process-mcp sandbox --latency 200`
   serves it (200 ms a request, jittered a quarter either way), with Tallyfy's quota on
   both sides: the simulator keeps it as the vendor does (100 requests a minute, 1,000 an
   hour, 429 past them), and the client's limiter paces at the same published figures.
   Each measurement gets a fresh simulator and a fresh client, so no quota window carries
   over; one request (`check`) opens the connection first and is not counted (it does
   count against the quota).
2. The headline question, "which onboarding runs are stuck, per owner?", over the whole
   sandbox: the list_processes call and the summarize_processes call, the tokens of each
   answer in both channels (text; structuredContent as JSON).
3. Answers of 20-odd groups, in tokens: Tallyfy runs by template and status (24 groups
   of the sandbox), and 20 groups of owner e-mails and status (ten sandbox users).

Tokens are Claude tokens, counted offline with the `anthropic-tokenizer` package (a dev
dependency).
"""

from __future__ import annotations

import json
import math
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from anthropic_tokenizer import count_tokens
from mcp import Client
from simproc import SEED, simulator_process

from server.app import build_server
from server.logs import setup_logging
from server.render import summary_text
from server.settings import Settings
from tools.backends.registry import create_backend
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import generate
from tools.instances import Instances
from tools.list_processes import list_processes
from tools.model import Counted, GroupCount, SummaryResult
from tools.sandbox import SANDBOXES
from tools.summarize import summarize_processes

LATENCY = 0.200
# 10,000 rows page in 101 requests, one past Tallyfy's 100 a minute: a list call answers
# with the rows it has and when the next page can start, and the walk waits as told.
SIZES = (300, 2_000, 5_000, 10_000)
REPEAT = {300: 3, 2_000: 3, 5_000: 3, 10_000: 1}
WAIT = re.compile(r"the next page can start in (\d+) s")
GROUPS = ["native_status"]
STUCK = {"text": "onboarding", "status": ["open"], "updated_before": "2026-10-23"}


def tokens(text: str) -> str:
    return f"{count_tokens(text):,}"


async def measure(rows: int, how: str) -> tuple[int, float]:
    """Requests the client sent and seconds it took, with a fresh simulator and client."""
    data = generate(seed=SEED, runs=rows)  # what the simulator process generates too
    org, total = data.org_id, len(data.runs)  # the hostile records ride along
    with simulator_process("tallyfy", rows, LATENCY, world=True) as sim:
        backend = create_backend(sandbox.settings(sim.url, org))  # Tallyfy's published limits
        instances = Instances([backend])
        await backend.check()  # opens the connection; not counted
        before = backend.http.stats.requests
        start = time.perf_counter()
        if how == "summary":
            result = await summarize_processes(
                instances, {"backend": sandbox.NAME, "group_by": GROUPS}
            )
            assert result.exact, result
            assert len(result.groups()) == 5, result
        else:
            cursor, seen = None, 0
            while True:
                page = await list_processes(
                    instances, {"backend": sandbox.NAME, "limit": 1000, "cursor": cursor}
                )
                seen += page.count
                if not page.next_cursor:
                    break
                cursor = page.next_cursor
                # Waiting is not failing: a page the quota cannot fit comes later, as told.
                told = next((WAIT.search(w) for w in page.warnings or [] if WAIT.search(w)), None)
                if told:
                    await anyio.sleep(int(told.group(1)))
            assert seen == total, (seen, total)
        elapsed = time.perf_counter() - start
        requests = backend.http.stats.requests - before
        await backend.aclose()
    return requests, elapsed


async def counting_against_paging() -> None:
    print(
        f"5-group summary vs paging the same rows: Tallyfy sandbox, {LATENCY * 1000:.0f} ms "
        "per request, Tallyfy's quota (100/min, 1,000/h) on simulator and client\n"
    )
    print("| runs | summarize_processes: requests (minimum) | wall | paging list_processes: "
          "requests (minimum) | wall |")  # fmt: skip
    print("|---|---|---|---|---|")
    for rows in SIZES:
        summary = [await measure(rows, "summary") for _ in range(REPEAT[rows])]
        paging = [await measure(rows, "paging") for _ in range(REPEAT[rows])]
        total = len(generate(seed=SEED, runs=rows).runs)
        pages = math.ceil(total / 100)
        s_wall = [t for _, t in summary]
        p_wall = [t for _, t in paging]
        print(
            f"| {total:,} | {summary[0][0]} (5) | {span(s_wall)} | {paging[0][0]} ({pages}) "
            f"| {span(p_wall)} |"
        )


def span(seconds: list[float]) -> str:
    lo, hi = min(seconds), max(seconds)
    if hi < 10:
        return f"{lo * 1000:,.0f}-{hi * 1000:,.0f} ms" if lo != hi else f"{lo * 1000:,.0f} ms"
    return f"{statistics.median(seconds):,.1f} s"


def channels(result: Any) -> tuple[str, str]:
    text = "\n".join(c.text for c in result.content if c.type == "text")
    return text, json.dumps(result.structured_content, separators=(",", ":"))


async def headline() -> None:
    instances, transports = [], {}
    for module in SANDBOXES:
        parts = module.open_sandbox(SEED, strict=True)
        parts.core.rate_limit = None
        settings = parts.settings(f"http://{module.NAME}.bench").model_copy(
            update={"rate_limit_per_minute": 1_000_000}
        )
        instances.append(settings)
        transports[settings.name] = httpx.ASGITransport(app=parts.core)
    settings = Settings(instances=instances, export_dir=Path(tempfile.mkdtemp()))
    async with Client(build_server(settings, transports=transports)) as client:
        listed = await client.call_tool("list_processes", {"backend": "all", **STUCK})
        counted = await client.call_tool(
            "summarize_processes", {"backend": "all", **STUCK, "group_by": ["owner"]}
        )
        wide = await client.call_tool(
            "summarize_processes",
            {"backend": sandbox.NAME, "group_by": ["template", "status"]},
        )
    rows = listed.structured_content.get("count", 0)
    more = " (first page; more by cursor)" if listed.structured_content.get("next_cursor") else ""
    print("\nWhich onboarding runs are stuck, per owner? (whole sandbox)\n")
    print("| call | answer | text | structuredContent |")
    print("|---|---|---|---|")
    text, data = channels(listed)
    print(f"| list_processes | {rows} rows{more} | {tokens(text)} | {tokens(data)} |")
    text, data = channels(counted)
    groups = len(counted.structured_content["rows"])
    total = counted.structured_content["total"]
    print(
        f"| summarize_processes | {total} processes in {groups} groups | {tokens(text)} "
        f"| {tokens(data)} |"
    )
    text, data = channels(wide)
    groups = len(wide.structured_content["rows"])
    print(
        f"\nTallyfy runs by template and status: {groups} groups, text {tokens(text)} tokens, "
        f"structured {tokens(data)}"
    )


def twenty_groups() -> None:
    """Owner and status: ten of the sandbox's Tallyfy users, open and completed each."""
    emails = [u["email"] for u in generate(seed=SEED, runs=20).users][:10]
    keys = [[email, status] for status in ("open", "completed") for email in emails]
    result = SummaryResult.of(
        ["owner", "status"],
        [GroupCount(key=key, count=400 - 7 * i, exact=True) for i, key in enumerate(keys)],
        total=5_000,
        exact=False,
        counted=[
            Counted(backend="acme-runs", method="vendor totals", requests=21),
            Counted(backend="acme-crm", method="rows", requests=20, examined=5000, capped=True),
        ],
    )
    text = summary_text(result)
    data = json.dumps(result.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
    print(
        f"20 groups by owner (e-mail) and status: text {tokens(text)} tokens, "
        f"structured {tokens(data)}"
    )


async def main() -> None:
    setup_logging("ERROR")
    await headline()
    twenty_groups()
    print()
    await counting_against_paging()


if __name__ == "__main__":
    anyio.run(main)
