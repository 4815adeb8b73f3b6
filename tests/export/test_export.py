"""export_process for every sandbox backend: formats, streaming equivalence, faults,
cancellation and duplicates, at the tools layer (the MCP path is in tests/server)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.export.conftest import Sim, names
from tools.backends.base import Backend
from tools.errors import InvalidArgumentError, UnsupportedQueryError
from tools.export_process import ExportResult, export_process
from tools.exportfiles import TEMP_PREFIX
from tools.instances import Instances
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import Fault

pytestmark = pytest.mark.anyio


async def export(backend: Backend, directory: Path, **args: Any) -> ExportResult:
    return await export_process(
        Instances([backend]), {"backend": backend.name, **args}, directory=directory
    )


async def listed_ids(backend: Backend, **filters: Any) -> list[str]:
    """The same query paged through list_processes' driver, 100 rows a call."""
    ids: list[str] = []
    cursor = None
    while True:
        args = {"backend": backend.name, "limit": 100, **filters}
        page = await run_list([backend], parse_query({**args, "cursor": cursor}))
        ids += [r.id for r in page.processes]
        if not page.has_more:
            return ids
        cursor = page.next_cursor


async def test_a_jsonl_export_holds_exactly_the_rows_list_processes_pages_through(
    backend: Backend, tmp_path: Path
) -> None:
    result = await export(backend, tmp_path, format="jsonl")
    lines = (tmp_path / result.file_name).read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == await listed_ids(backend)
    assert result.rows == len(rows) > 0
    assert result.duplicates_removed == 0
    assert all(r["backend"] == backend.name for r in rows)


async def test_a_csv_export_has_the_header_and_one_record_per_row(
    backend: Backend, tmp_path: Path
) -> None:
    result = await export(backend, tmp_path, fields=["id", "name", "status", "created_at"])
    data = (tmp_path / result.file_name).read_bytes()
    records = list(csv.reader(io.StringIO(data.decode())))
    assert records[0] == ["id", "name", "status", "created_at"]
    assert [r[0] for r in records[1:]] == await listed_ids(backend)
    assert result.size_bytes == len(data)
    assert result.preview.splitlines()[0] == "id,name,status,created_at"


async def test_a_filtered_export_matches_the_filtered_list(
    backend: Backend, tmp_path: Path
) -> None:
    await backend.discover()
    info = backend.collection_info(None)
    # Another order than the default where the backend has one; a filter it supports.
    sort = next((s for s in info.sorts if s != "-created_at"), info.sorts[0])
    usable = [f for f in ("status", "text") if info.support(f).mode != "unsupported"]
    filters: dict[str, Any] = {"sort": sort}
    if "status" in usable:
        filters["status"] = ["open", "completed"]
    elif usable:
        filters["text"] = "a"
    result = await export(backend, tmp_path, format="jsonl", **filters)
    ids = [json.loads(x)["id"] for x in (tmp_path / result.file_name).read_text().splitlines()]
    assert ids == await listed_ids(backend, **filters)


async def test_injected_429_and_5xx_leave_the_file_byte_identical(sim: Sim, tmp_path: Path) -> None:
    clean = sim.backend()
    first = await export(clean, tmp_path, file_name="clean", format="jsonl")
    await clean.aclose()
    sim.core.reset()
    sim.core.faults.add(Fault(kind="status", status=429, retry_after=0, after=0))
    sim.core.faults.add(Fault(kind="status", status=503, after=1))
    sim.core.faults.add(Fault(kind="html", status=502, after=2))
    faulty = sim.backend()
    second = await export(faulty, tmp_path, file_name="faulty", format="jsonl")
    await faulty.aclose()
    assert sim.core.faults.pending == [], "every injected fault fired"
    assert (tmp_path / "clean.jsonl").read_bytes() == (tmp_path / "faulty.jsonl").read_bytes()
    assert first.sha256 == second.sha256


async def test_cancelling_mid_export_leaves_no_file(backend: Backend, tmp_path: Path) -> None:
    with anyio.CancelScope() as scope:

        async def cancel_on_first_page(done: float, total: float | None, message: str) -> None:
            scope.cancel()

        await export_process(
            Instances([backend]),
            {"backend": backend.name, "file_name": "cancelled"},
            directory=tmp_path,
            progress=cancel_on_first_page,
        )
    assert scope.cancelled_caught
    assert names(tmp_path) == []


async def test_max_rows_stops_the_export_and_says_so(backend: Backend, tmp_path: Path) -> None:
    result = await export(backend, tmp_path, format="jsonl", max_rows=7)
    assert result.rows == 7
    assert len((tmp_path / result.file_name).read_text().splitlines()) == 7
    assert any("max_rows=7" in w for w in result.warnings)


@pytest.mark.parametrize("fmt", ["json", "markdown"])
async def test_one_process_exports_in_full(backend: Backend, tmp_path: Path, fmt: str) -> None:
    first = (await listed_ids(backend))[0]
    result = await export(backend, tmp_path, id=first, format=fmt)
    text = (tmp_path / result.file_name).read_text()
    if fmt == "json":
        assert json.loads(text)["id"] == first
    else:
        assert text.startswith("# ")
        assert first in text
    assert result.rows is None


async def test_native_format_is_the_backends_own_or_refused(
    backend: Backend, tmp_path: Path
) -> None:
    first = (await listed_ids(backend))[0]
    if backend.native_format is None:
        with pytest.raises(UnsupportedQueryError) as caught:
            await export(backend, tmp_path, id=first, format="native")
        assert "json or markdown" in (caught.value.hint or "")
        return
    result = await export(backend, tmp_path, id=first, format="native")
    assert result.file_name.endswith("." + backend.native_format)
    assert (tmp_path / result.file_name).stat().st_size > 0


async def test_an_existing_name_is_refused_before_any_row_is_fetched(
    sim: Sim, backend: Backend, tmp_path: Path
) -> None:
    (tmp_path / "taken.csv").write_text("keep me")
    sim.core.clear()
    with pytest.raises(InvalidArgumentError) as caught:
        await export(backend, tmp_path, file_name="taken.csv")
    assert "overwrite" in (caught.value.hint or "")
    assert sim.core.requests == []
    assert (tmp_path / "taken.csv").read_text() == "keep me"
    assert not [n for n in names(tmp_path) if n.startswith(TEMP_PREFIX)]


async def test_an_extra_column_holds_what_the_full_rows_carry(
    backend: Backend, tmp_path: Path
) -> None:
    # Rows build their extras only when an answer shows them: a file that names one
    # extra column still gets every value the whole rows have.
    whole = await export(backend, tmp_path, format="jsonl", file_name="whole")
    rows = [json.loads(line) for line in (tmp_path / whole.file_name).read_text().splitlines()]
    key = next(k for r in rows for k in r.get("extra") or {})
    picked = await export(
        backend, tmp_path, format="jsonl", fields=["name", f"extra.{key}"], file_name="picked"
    )
    lines = (tmp_path / picked.file_name).read_text().splitlines()
    got = {r["id"]: r.get(f"extra.{key}") for r in map(json.loads, lines)}
    assert got == {r["id"]: (r.get("extra") or {}).get(key) for r in rows}
    assert any(v is not None for v in got.values())
