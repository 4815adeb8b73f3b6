"""Rows that move while an export pages through them are written once, and counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.memory_backend import MemoryBackend
from tools.backends.base import PageResult, Plan, Position
from tools.export_process import export_process
from tools.instances import Instances
from tools.model import ProcessSummary

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(i: int) -> ProcessSummary:
    return ProcessSummary(
        backend="m", collection="items", id=f"p{i:04d}", name=f"Process {i}",
        created_at=T0 + timedelta(hours=i),
    )  # fmt: skip


class InsertingBackend(MemoryBackend):
    """After the first page, `arrivals` new processes are created: offset paging in
    newest-first order then shows the rows at each later page boundary a second time."""

    def __init__(self, rows: list[ProcessSummary], arrivals: int) -> None:
        super().__init__("m", rows, addressing="offset", max_page_size=10)
        self.arrivals = arrivals

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        page = await super().fetch_page(plan, at, size)
        if len(self.fetches) == 1:
            newest = len(self.rows) + 1000
            self.rows += [row(newest + k) for k in range(self.arrivals)]
        return page


@pytest.mark.parametrize("arrivals", [1, 3])
async def test_rows_seen_twice_while_data_moves_are_written_once_and_reported(
    tmp_path: Path, arrivals: int
) -> None:
    original = [row(i) for i in range(45)]
    backend = InsertingBackend(original, arrivals)
    result = await export_process(
        Instances([backend]), {"backend": "m", "format": "jsonl"}, directory=tmp_path
    )
    ids = [json.loads(x)["id"] for x in (tmp_path / result.file_name).read_text().splitlines()]
    assert len(ids) == len(set(ids)), "no id is written twice"
    assert {r.id for r in original} <= set(ids), "no original row is lost"
    assert result.duplicates_removed == arrivals
    assert result.rows == len(ids)
    await backend.aclose()
