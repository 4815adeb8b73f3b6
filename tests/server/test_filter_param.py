"""summarize_processes and export_process publish list_processes' filters as one `filter`
expression: through the in-memory client it answers exactly what the typed filters answer
(which the server still takes), and a filter given both ways is refused."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from tests.server.conftest import NAME, text

pytestmark = pytest.mark.anyio

STUCK = {"text": "onboarding", "status": ["open"], "updated_before": "2026-10-23"}
STUCK_FILTER = 'text = "onboarding" and status = "open" and updated_at < "2026-10-23"'


async def call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text(result)
    answer: dict[str, Any] = result.structured_content
    return answer


async def test_summarize_with_filter_counts_what_the_typed_filters_count(client: Client) -> None:
    typed = await call(
        client, "summarize_processes", {"backend": NAME, **STUCK, "group_by": ["owner"]}
    )
    written = await call(
        client,
        "summarize_processes",
        {"backend": NAME, "filter": STUCK_FILTER, "group_by": ["owner"]},
    )
    assert typed["total"] > 0
    assert written["rows"] == typed["rows"]
    assert written["total"] == typed["total"]


async def test_export_with_filter_writes_the_file_the_typed_filters_write(client: Client) -> None:
    typed = await call(
        client, "export_process", {"backend": NAME, **STUCK, "file_name": "typed.csv"}
    )
    written = await call(
        client,
        "export_process",
        {"backend": NAME, "filter": STUCK_FILTER, "file_name": "written.csv"},
    )
    assert typed["rows"] > 0
    same = await anyio.Path(written["path"]).read_bytes()
    assert same == await anyio.Path(typed["path"]).read_bytes()


async def test_a_filter_also_given_as_a_parameter_is_an_error_result_naming_it(
    client: Client,
) -> None:
    result = await client.call_tool(
        "summarize_processes",
        {"backend": NAME, "status": ["failed"], "filter": 'status = "open"'},
    )
    assert result.is_error
    assert "status is given twice" in text(result)


async def test_an_unknown_parameter_names_the_published_ones(client: Client) -> None:
    result = await client.call_tool("summarize_processes", {"backend": NAME, "limit": 5})
    assert result.is_error
    assert "valid parameters are: backend, collection, filter, group_by" in text(result)
