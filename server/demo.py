"""`process-mcp demo`: the sandbox, the real server over stdio, and a real MCP client
asking what a person would ask. Everything printed comes back through the protocol."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from typing import Any

import anyio

WIDTH = 100
LINE_MAX = 220


def _show(title: str, args: dict[str, Any], result: Any) -> None:
    print("\n" + "=" * WIDTH)
    print(f"> {title}")
    print(f"  call: {json.dumps(args)}")
    print("-" * WIDTH)
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    marker = "  (isError) " if result.is_error else ""
    for line in text.splitlines():
        line = marker + line
        print(line if len(line) <= LINE_MAX else line[: LINE_MAX - 4] + " ...")


def _tokens(text: str) -> str:
    """Claude tokens where the tokenizer is installed (a dev dependency), else bytes / 4."""
    try:
        from anthropic_tokenizer import count_tokens  # type: ignore[import-untyped]
    except ImportError:
        return f"~{len(text.encode()) // 4:,}"
    return f"{count_tokens(text):,}"


def _size(result: Any) -> str:
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    data = json.dumps(result.structured_content or {}, separators=(",", ":"))
    return f"text {_tokens(text)} tokens, structuredContent {_tokens(data)}"


def _records(answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A list answer's rows as objects (its columns, plus the values every row shares)."""
    if not answer or answer.get("count", 0) == 0:
        return []
    shared = answer.get("shared") or {}
    return [{**shared, **dict(zip(answer["columns"], r, strict=True))} for r in answer["rows"]]


async def _run(seed: int) -> int:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    exports = tempfile.mkdtemp(prefix="process-mcp-demo-")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "server", "serve", "--sandbox", "--seed", str(seed)],
        env={"PROCESS_MCP_LOG_LEVEL": "WARNING", "PROCESS_MCP_EXPORT_DIR": exports},
    )
    try:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await _conversation(session)
    finally:
        shutil.rmtree(exports, ignore_errors=True)
    print("\n" + "=" * WIDTH)
    print("Next: `uv run process-mcp serve --sandbox` behind Claude Desktop (see README).")
    return 0


async def _conversation(session: Any) -> None:
    from tools.filter_text import filter_arguments

    init = await session.initialize()
    tools = await session.list_tools()
    print(f"connected to {init.server_info.name} {init.server_info.version} over stdio")
    print("tools: " + ", ".join(t.name for t in tools.tools))

    async def call(title: str, name: str, args: dict[str, Any]) -> Any:
        result = await session.call_tool(name, args)
        _show(title, {"tool": name, **args}, result)
        return result

    backends = await call("What can I search?", "list_backends", {})
    now = datetime.fromisoformat(backends.structured_content["server_time"])
    name = "tallyfy-sandbox"
    first = await call(
        "The five newest open runs",
        "list_processes",
        {"backend": name, "status": ["open"], "limit": 5},
    )
    cursor = first.structured_content.get("next_cursor")
    if cursor:
        await call(
            "...and the next five (cursor)",
            "list_processes",
            {"backend": name, "status": ["open"], "limit": 5, "cursor": cursor},
        )
    stale = (now - timedelta(days=30)).date().isoformat()
    stuck_query = {
        "backend": "all",
        "text": "onboarding",
        "status": ["open"],
        "updated_before": stale,
    }
    stuck = await call(
        "Which onboarding runs are stuck? (open, no change in 30 days)",
        "list_processes",
        stuck_query,
    )
    per_owner = await call(
        "The same question as one count: stuck onboarding runs per owner",
        "summarize_processes",
        filter_arguments({**stuck_query, "group_by": ["owner"]}),
    )
    print(f"  answer sizes: list_processes {_size(stuck)}; summarize_processes {_size(per_owner)}")
    more = stuck.structured_content.get("next_cursor")
    if more:
        await call(
            "...and five more of them (the cursor carries the skipped instances along)",
            "list_processes",
            {**stuck_query, "limit": 5, "cursor": more},
        )
    rows = _records(stuck.structured_content) or _records(first.structured_content)
    if rows:
        row = rows[0]
        await call(
            "Why is the first one stuck? (tasks)",
            "get_process",
            {"backend": row["backend"], "id": row["id"]},
        )
    for backend in backends.structured_content["backends"]:
        if backend["name"] == name or not backend.get("usable"):
            continue
        await call(
            f"Three newest in {backend['name']} ({backend['kind']})",
            "list_processes",
            {"backend": backend["name"], "limit": 3},
        )
    await call(
        "Vendor text is data: names with line breaks, ANSI colours or formulas stay one row",
        "list_processes",
        {"backend": name, "text": "hostile", "limit": 4},
    )
    await call(
        "Bad input gets an actionable error",
        "list_processes",
        {"backend": name, "limit": 5000},
    )
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    args = {"backend": name, "filter": "status = 'open'", "format": "csv"}
    exported = await session.call_tool("export_process", args, progress_callback=on_progress)
    _show("Export every open run to a CSV file", {"tool": "export_process", **args}, exported)
    if not exported.is_error:
        uri = exported.structured_content["uri"]
        read = await session.read_resource(uri)
        body = read.contents[0].text
        cells = [c for row in csv.reader(io.StringIO(body, newline="")) for c in row]
        guarded = sum(c[:2] in ("'=", "'+", "'-", "'@", "'\t", "'\r") for c in cells)
        print(
            f"  resources/read {uri}: {len(body)} characters, {len(progress)} progress notes, "
            f"{guarded} formula cells neutralised (a leading ', OWASP)"
        )


def demo(seed: int = 7) -> int:
    return anyio.run(_run, seed)
