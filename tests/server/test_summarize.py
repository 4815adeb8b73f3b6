"""summarize_processes through the SDK's in-memory client against the real server (its
Tallyfy instance answered by the simulator), and the due-date filters it shares with
list_processes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client

from server.render import summary_text
from tests.server.conftest import NAME, text
from tests.server.conftest import rows as rows_of
from tools.backends.tallyfy.data import TallyfyData
from tools.model import Counted, GroupCount, SummaryResult

pytestmark = pytest.mark.anyio


async def rows(client: Client, **filters: Any) -> list[dict[str, Any]]:
    result = await client.call_tool("list_processes", {"backend": NAME, "limit": 1000, **filters})
    assert not result.is_error, text(result)
    assert not result.structured_content["has_more"]
    return rows_of(result)


async def test_counts_per_group_come_as_lines_and_as_structured_content(
    client: Client, tallyfy_data: TallyfyData
) -> None:
    result = await client.call_tool(
        "summarize_processes", {"backend": NAME, "group_by": ["native_status"]}
    )
    assert not result.is_error, text(result)
    answer = result.structured_content
    by_status = Counter(r["status"] for r in tallyfy_data.runs)
    assert answer["columns"] == ["native_status", "count", "exact"]
    assert {status: n for status, n, _ in answer["rows"]} == by_status
    assert [n for _, n, _ in answer["rows"]] == sorted(by_status.values(), reverse=True)
    assert all(exact is True for *_, exact in answer["rows"])
    assert answer["total"] == len(tallyfy_data.runs)
    assert answer["exact"]
    lines = text(result).splitlines()
    assert lines[0] == f"{len(tallyfy_data.runs)} processes in 5 groups by native_status, " + (
        "every count exact"
    )
    assert lines[1] == f"counted: {NAME} vendor totals (5 requests)"
    top, count = by_status.most_common(1)[0]
    assert lines[2] == f"{count} | {top}"


async def test_the_stuck_question_counts_what_the_list_call_returns(client: Client) -> None:
    stuck = {"text": "onboarding", "status": ["open"], "updated_before": "2026-10-23"}
    listed = await rows(client, **stuck)
    result = await client.call_tool(
        "summarize_processes", {"backend": NAME, **stuck, "group_by": ["owner"]}
    )
    assert not result.is_error, text(result)
    groups = {owner: n for owner, n, _ in result.structured_content["rows"]}
    assert groups == Counter(r.get("owner", "(none)") for r in listed)
    assert "filtered here, not by the backend:" in text(result)


async def test_overdue_means_open_and_due_before_now_in_both_tools(
    client: Client, tallyfy_data: TallyfyData
) -> None:
    overdue = await rows(client, overdue=True, fields=["status", "due_at"])
    now = datetime.now(UTC)
    assert overdue
    today = now.strftime("%Y%m%d")  # list rows show days
    assert all(r["status"] == "open" and r["due_at"] <= today for r in overdue)
    expected = sum(
        r["status"] in ("active", "problem", "delayed")
        and datetime.fromisoformat(r["due_date"].replace("Z", "+00:00")) < now
        for r in tallyfy_data.runs
    )
    assert len(overdue) == expected
    result = await client.call_tool(
        "summarize_processes", {"backend": NAME, "overdue": True, "group_by": ["template"]}
    )
    assert result.structured_content["total"] == expected
    later = await rows(client, due_after="2026-11-20", due_before="2026-12-01", fields=["due_at"])
    assert later
    assert all("20261120" <= r["due_at"] < "20261201" for r in later)


async def test_a_bad_grouping_is_an_error_result_that_says_how_to_fix_it(client: Client) -> None:
    result = await client.call_tool(
        "summarize_processes", {"backend": NAME, "group_by": ["colour"]}
    )
    assert result.is_error
    assert '"colour" is not something to group by' in text(result)
    assert "How to fix: use one or two of: status, native_status, template" in text(result)
    paged = await client.call_tool("summarize_processes", {"backend": NAME, "limit": 10})
    assert paged.is_error
    assert "counts every match" in text(paged)


async def test_progress_counts_rows_as_they_are_counted(
    client: Client, tallyfy_data: TallyfyData
) -> None:
    seen: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append(done)

    result = await client.call_tool(
        "summarize_processes",
        {"backend": NAME, "group_by": ["created_month"]},
        progress_callback=on_progress,
    )
    assert not result.is_error
    assert seen
    assert seen == sorted(set(seen))
    assert seen[-1] == len(tallyfy_data.runs)


def test_twenty_groups_fit_in_a_short_text() -> None:
    # About 300 tokens (benchmarks/summary.py counts them with a tokenizer); bytes / 4 here.
    result = SummaryResult.of(
        ["owner", "status"],
        [
            GroupCount(key=[f"someone.{i}@example.test", "open"], count=300 - i, exact=i % 3 > 0)
            for i in range(20)
        ],
        total=5000,
        exact=False,
        counted=[Counted(backend=NAME, method="rows", requests=50, examined=5000, capped=True)],
    )
    rendered = summary_text(result)
    assert "counted 5,000 of at least 5,000 rows: a lower bound" in rendered
    assert rendered.splitlines()[2] == "300+ | someone.0@example.test | open"
    assert len(rendered.encode()) <= 1200
