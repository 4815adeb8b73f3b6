"""export_process through the real server in memory, for every sandbox backend: each
format read back through resources/read and from the file, progress, refusals."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.export.conftest import Sim, memory_client, names, open_sim
from tests.server.conftest import rows, text
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio
SIMS = [open_sim(m, seed=9) for m in SANDBOXES]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    """The real server in memory with every sandbox backend behind its simulator."""
    async with memory_client(SIMS, tmp_path) as c:
        yield c


async def test_a_collection_without_the_default_order_uses_its_own_when_sort_is_omitted(
    client: Client, tmp_path: Path
) -> None:
    args = {"backend": "kommo-sandbox", "collection": "contacts", "limit": 5}
    listed = await client.call_tool("list_processes", args)
    assert not listed.is_error, text(listed)
    assert "sorted by -updated_at" in listed.structured_content["warnings"][0]
    stamps = [r["updated_at"] for r in rows(listed)]
    assert stamps == sorted(stamps, reverse=True)
    explicit = await client.call_tool("list_processes", {**args, "sort": "-created_at"})
    assert explicit.is_error
    assert "-updated_at" in text(explicit)
    export_args = {"backend": "kommo-sandbox", "collection": "contacts", "max_rows": 5}
    exported = await client.call_tool("export_process", export_args)
    assert not exported.is_error, text(exported)
    assert "sorted by -updated_at" in exported.structured_content["warnings"][0]


async def read_back(client: Client, result: Any, tmp_path: Path) -> str:
    """The file's text via resources/read, checked against the file itself."""
    links = [c for c in result.content if c.type == "resource_link"]
    assert len(links) == 1
    link = links[0]
    assert link.uri == result.structured_content["uri"]
    read = await client.read_resource(link.uri)
    content = read.contents[0]
    assert content.mime_type == link.mime_type == result.structured_content["mime_type"]
    on_disk = (tmp_path / result.structured_content["file_name"]).read_bytes()
    assert content.text.encode() == on_disk
    assert link.size == len(on_disk) == result.structured_content["size_bytes"]
    return str(content.text)


@pytest.mark.parametrize("sim", SIMS, ids=lambda s: s.settings.name)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_list_exports_read_back_through_resources_read(
    client: Client, tmp_path: Path, sim: Sim, fmt: str
) -> None:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    result = await client.call_tool(
        "export_process",
        {"backend": sim.settings.name, "format": fmt, "max_rows": 150},
        progress_callback=on_progress,
    )
    assert not result.is_error, text(result)
    body = await read_back(client, result, tmp_path)
    rows = result.structured_content["rows"]
    if fmt == "csv":  # a record may span lines: a quoted cell keeps a vendor's line break
        assert len(list(csv.reader(io.StringIO(body, newline="")))) == rows + 1
    else:
        assert len(body.strip("\n").splitlines()) == rows
    assert progress, "an export reports progress"
    assert progress[-1][0] == rows
    assert f"Exported {rows} rows as {fmt}" in text(result)


@pytest.mark.parametrize("sim", SIMS, ids=lambda s: s.settings.name)
async def test_one_process_exports_as_json_markdown_and_native_where_it_exists(
    client: Client, tmp_path: Path, sim: Sim
) -> None:
    name = sim.settings.name
    page = await client.call_tool("list_processes", {"backend": name, "limit": 1})
    first = rows(page)[0]["id"]
    as_json = await client.call_tool("export_process", {"backend": name, "id": first})
    assert json.loads(await read_back(client, as_json, tmp_path))["id"] == first
    as_md = await client.call_tool(
        "export_process", {"backend": name, "id": first, "format": "markdown"}
    )
    assert (await read_back(client, as_md, tmp_path)).startswith("# ")
    native = await client.call_tool(
        "export_process", {"backend": name, "id": first, "format": "native"}
    )
    if native.is_error:
        assert "has no native export format" in text(native)
    else:
        assert (await read_back(client, native, tmp_path)).lstrip().startswith("<")


async def test_a_file_name_that_leaves_the_directory_is_an_error_result(
    client: Client, tmp_path: Path
) -> None:
    name = SIMS[0].settings.name
    result = await client.call_tool(
        "export_process", {"backend": name, "file_name": "../../etc/cron.d/x"}
    )
    assert result.is_error
    assert "tries to leave the export directory" in text(result)
    assert names(tmp_path) == []


async def test_reading_a_resource_outside_the_export_directory_fails(client: Client) -> None:
    with pytest.raises(Exception, match=r"not|invalid|export"):
        await client.read_resource("export://csv/..%2F..%2Fsecrets.csv")
    with pytest.raises(Exception, match="no export named"):
        await client.read_resource("export://csv/never-written.csv")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"format": "markdown"}, "is for exporting one process"),
        ({"id": "x", "format": "csv"}, "is for list exports"),
        ({"id": "x", "status": ["open"]}, "only apply to list exports"),
        ({"columns": ["id"]}, "columns is now called fields"),
        ({"fields": ["id", "colour"]}, 'unknown field(s) "colour"'),
        ({"fields": ["name", "name"]}, 'names "name" twice'),
        ({"limit": 5}, 'unknown parameter "limit"'),
        ({"format": "xlsx"}, "format"),
    ],
)
async def test_bad_export_arguments_are_refused_with_a_fix(
    client: Client, args: dict[str, Any], message: str
) -> None:
    result = await client.call_tool("export_process", {"backend": SIMS[0].settings.name, **args})
    assert result.is_error
    assert message in text(result)
    assert "How to fix" in text(result)


async def test_a_fan_out_export_reports_strictly_rising_throttled_progress(
    client: Client, tmp_path: Path
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    started = time.monotonic()
    result = await client.call_tool(
        "export_process", {"backend": "all", "format": "jsonl"}, progress_callback=on_progress
    )
    elapsed = time.monotonic() - started
    assert not result.is_error, text(result)
    values = [s[0] for s in seen]
    assert values == sorted(set(values)), "every value is higher than the one before"
    assert len(seen) <= 2 * elapsed + 2, "about two a second, plus the first and the last"
    last = seen[-1]
    assert last[0] == last[1], "the last notification says the work is complete"
    assert last[2] == f"{result.structured_content['rows']} rows written to " + str(
        result.structured_content["file_name"]
    )
    assert seen[0][1] is not None, "the total goes out as soon as a backend reports one"
