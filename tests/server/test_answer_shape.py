"""Issue 12: a list answer is one lean table that both channels carry, and `fields` picks
its columns. Through the real server in memory, every sandbox backend behind its simulator.

Some clients show the model only structuredContent (Claude Code, pydantic-ai), others only
the text, so structuredContent must say everything the text says: its rows and their ids,
the cursor, the warnings (skipped instances among them), what was filtered here."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.render import list_text
from tests.export.conftest import memory_client, open_sim
from tests.server.conftest import records, text
from tools import safe_text
from tools.fields import ROW_FIELDS
from tools.sandbox import SANDBOXES
from tools.table import ListPage

pytestmark = pytest.mark.anyio
SIMS = [open_sim(m, seed=9) for m in SANDBOXES]
TALLYFY = "tallyfy-sandbox"
# The README's headline query: Frends and yuuvis are skipped (a warning on every page),
# Tallyfy filters status only narrowed and update time locally.
HEADLINE = {"text": "onboarding", "status": ["open"], "updated_before": "2026-10-23"}

CALLS = [
    pytest.param({"backend": TALLYFY, "limit": 7}, id="one-backend"),
    pytest.param({"backend": TALLYFY, "limit": 7, "detail": "ids"}, id="ids"),
    pytest.param({"backend": TALLYFY, "limit": 3, "detail": "full"}, id="full"),
    pytest.param({"backend": "all", **HEADLINE, "limit": 4}, id="fan-out-with-skips"),
    pytest.param({"backend": "all", "text": "hostile", "limit": 12}, id="hostile-fan-out"),
    pytest.param({"backend": "kommo-sandbox", "collection": "contacts", "limit": 5}, id="kommo"),
    pytest.param({"backend": "yuuvis-sandbox", "limit": 5}, id="yuuvis-warning"),
    pytest.param({"backend": TALLYFY, "updated_before": "2000-01-01"}, id="no-rows"),
    pytest.param({"backend": TALLYFY, "limit": 4, "fields": ["tags", "due_at"]}, id="fields"),
]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with memory_client(SIMS, tmp_path) as c:
        yield c


async def listed(client: Client, args: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    result = await client.call_tool("list_processes", args)
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content, text(result).split("\n")


def read(path: str) -> str:
    """An exported file (sync: a bare pathlib call in async code is flagged as blocking)."""
    return Path(path).read_text(encoding="utf-8")


def row_lines(lines: list[str]) -> list[str]:
    """The text's row lines: after the line of column names, up to the server's own."""
    i = 1
    while i < len(lines) and lines[i].startswith(("filtered here", "every row: ")):
        i += 1
    if i >= len(lines) or lines[i].startswith(("warning: ", "more: ")):
        return []
    return [li for li in lines[i + 1 :] if not li.startswith(("warning: ", "more: "))]


# -- the structured answer says everything the text says ------------------------------------


@pytest.mark.parametrize("args", CALLS)
async def test_the_text_is_rendered_from_the_structured_answer_alone(
    client: Client, args: dict[str, Any]
) -> None:
    answer, lines = await listed(client, args)
    assert list_text(ListPage.model_validate(answer)) == "\n".join(lines)


@pytest.mark.parametrize("args", CALLS)
async def test_every_row_and_id_the_text_shows_is_in_the_structured_answer(
    client: Client, args: dict[str, Any]
) -> None:
    answer, lines = await listed(client, args)
    shown = row_lines(lines)
    assert len(shown) == len(answer["rows"]) == answer["count"]
    assert answer["columns"][0] == "id"
    ids = [r[0] for r in answer["rows"]]
    # Ids come first on each line, exact (tools/safe_text leaves a well-formed id alone).
    assert [line.split(" | ")[0] for line in shown] == ids
    for line, cells in zip(shown, answer["rows"], strict=True):
        assert len(line.split(" | ")) >= len(cells)  # a vendor's `|` is escaped, never bare


@pytest.mark.parametrize("args", CALLS)
async def test_the_cursor_warnings_and_local_filters_of_the_text_are_structured_too(
    client: Client, args: dict[str, Any]
) -> None:
    answer, lines = await listed(client, args)
    more = [
        li.removeprefix("more: call again with cursor=") for li in lines if li.startswith("more: ")
    ]
    assert more == ([answer["next_cursor"]] if answer.get("next_cursor") else [])
    warned = [li.removeprefix("warning: ") for li in lines if li.startswith("warning: ")]
    assert warned == [safe_text.line(w) for w in answer.get("warnings", [])]
    local = [li for li in lines if li.startswith("filtered here")]
    notes = answer.get("applied", [])
    assert len(local) == (1 if notes else 0)
    for note in notes:
        assert note["mode"] in ("narrowed", "local")
        assert f"{note['backend']}.{note['field']} {note['mode']}" in local[0]


async def test_a_fan_out_with_skipped_instances_says_so_in_the_structured_answer(
    client: Client,
) -> None:
    answer, _ = await listed(client, {"backend": "all", **HEADLINE, "limit": 4})
    skipped = {w.split(" skipped:")[0] for w in answer["warnings"] if " skipped:" in w}
    assert skipped == {"frends-sandbox", "yuuvis-sandbox"}
    assert {a["backend"] for a in answer["applied"]} >= {TALLYFY}
    # Rows from several instances: each row names its own, usable with get_process.
    for row in records(answer):
        got = await client.call_tool("get_process", {"backend": row["backend"], "id": row["id"]})
        assert not got.is_error, text(got)


async def test_values_every_row_shares_are_said_once_and_the_rows_keep_the_rest(
    client: Client,
) -> None:
    answer, lines = await listed(client, {"backend": TALLYFY, "status": ["open"], "limit": 6})
    assert answer["shared"]["backend"] == TALLYFY
    assert answer["shared"]["status"] == "open"
    assert "status" not in answer["columns"]
    shared = next(li for li in lines if li.startswith("every row: "))
    assert shared.startswith(f"every row: backend={TALLYFY} | collection=runs | status=open")
    assert {r["status"] for r in records(answer)} == {"open"}


async def test_summary_dates_are_days_and_full_dates_exact_times(client: Client) -> None:
    summary, _ = await listed(client, {"backend": TALLYFY, "limit": 3})
    full, _ = await listed(client, {"backend": TALLYFY, "limit": 3, "detail": "full"})
    days = [r["created_at"] for r in records(summary)]
    stamps = [r["created_at"] for r in records(full)]
    assert all(len(d) == 8 and d.isdigit() for d in days)
    assert [s[:10].replace("-", "") for s in stamps] == days
    assert all(s.endswith("Z") and "T" in s for s in stamps)


async def test_summary_shows_the_date_the_rows_are_ordered_by(client: Client) -> None:
    # Kommo contacts sort by update time only: the answer takes that order, and its date.
    args = {"backend": "kommo-sandbox", "collection": "contacts", "limit": 8}
    by_update, _ = await listed(client, args)
    assert "updated_at" in by_update["columns"]
    assert "created_at" not in by_update["columns"]
    days = [r["updated_at"] for r in records(by_update)]
    assert days == sorted(days, reverse=True)
    by_creation, _ = await listed(client, {"backend": TALLYFY, "limit": 8})
    assert "created_at" in by_creation["columns"]
    assert "updated_at" not in by_creation["columns"]


# -- fields ---------------------------------------------------------------------------------


async def test_fields_picks_the_columns_and_id_always_comes_first(client: Client) -> None:
    answer, lines = await listed(
        client, {"backend": TALLYFY, "limit": 6, "fields": ["owner", "due_at", "progress"]}
    )
    assert answer["columns"][0] == "id"
    shown = set(answer["columns"]) | set(answer.get("shared", {}))
    assert shown == {"id", "backend", "collection", "owner", "due_at", "progress"}
    assert lines[2] == " | ".join(answer["columns"])
    for row in records(answer):
        got = await client.call_tool("get_process", {"backend": row["backend"], "id": row["id"]})
        assert not got.is_error, text(got)
        assert got.structured_content["owner"] == row.get("owner")


async def test_fields_without_id_and_with_a_backend_field_still_lead_with_the_id(
    client: Client,
) -> None:
    answer, _ = await listed(
        client, {"backend": TALLYFY, "limit": 3, "fields": ["extra.increment_id", "name"]}
    )
    assert answer["columns"] == ["id", "extra.increment_id", "name"]
    assert all(isinstance(r[1], int) for r in answer["rows"])
    only_ids, _ = await listed(client, {"backend": TALLYFY, "limit": 3, "fields": []})
    assert only_ids["columns"] == ["id"]


async def test_fields_follow_the_detail_for_dates_and_the_cursor_keeps_working(
    client: Client,
) -> None:
    args = {"backend": TALLYFY, "limit": 3, "fields": ["created_at"], "detail": "full"}
    first, _ = await listed(client, args)
    assert all(r["created_at"].endswith("Z") for r in records(first))
    second, _ = await listed(client, {**args, "fields": ["name"], "cursor": first["next_cursor"]})
    whole, _ = await listed(client, {"backend": TALLYFY, "limit": 6, "detail": "ids"})
    walked = [r["id"] for r in records(first) + records(second)]
    assert walked == [r["id"] for r in records(whole)]


@pytest.mark.parametrize("tool", ["list_processes", "export_process"])
async def test_an_unknown_field_is_refused_with_the_valid_names(client: Client, tool: str) -> None:
    result = await client.call_tool(tool, {"backend": TALLYFY, "fields": ["owner", "colour"]})
    assert result.is_error
    message = text(result)
    assert 'unknown field(s) "colour"' in message
    assert "How to fix: fields are: " + ", ".join(ROW_FIELDS) in message
    assert "extra.KEY" in message


async def test_the_former_columns_parameter_is_refused_with_its_new_name(client: Client) -> None:
    result = await client.call_tool("export_process", {"backend": TALLYFY, "columns": ["id"]})
    assert result.is_error
    assert "columns is now called fields" in text(result)


async def test_a_csv_export_takes_its_columns_from_fields(client: Client, tmp_path: Path) -> None:
    args = {"backend": TALLYFY, "max_rows": 5, "fields": ["name", "owner", "extra.increment_id"]}
    result = await client.call_tool("export_process", args)
    assert not result.is_error, text(result)
    body = read(result.structured_content["path"])
    table = list(csv.reader(io.StringIO(body, newline="")))
    assert table[0] == ["id", "name", "owner", "extra.increment_id"]
    assert len(table) == 6
    listed_ids, _ = await listed(client, {"backend": TALLYFY, "limit": 5, "detail": "ids"})
    assert [r[0] for r in table[1:]] == [r[0] for r in listed_ids["rows"]]


async def test_a_fan_out_export_with_fields_names_each_rows_instance(client: Client) -> None:
    args = {"backend": "all", "max_rows": 6, "format": "jsonl", "fields": ["name"]}
    result = await client.call_tool("export_process", args)
    assert not result.is_error, text(result)
    lines = read(result.structured_content["path"]).splitlines()
    got = [json.loads(line) for line in lines]
    assert len(got) == 6
    assert all(list(r) == ["backend", "id", "name"] for r in got)
