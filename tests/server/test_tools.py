"""The three tools through the SDK's in-memory client against the real server."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.server.conftest import NAME, rows, text
from tools.backends.tallyfy.data import TallyfyData
from tools.errors import ConfigError
from tools.sim import Fault, SimulatorCore

pytestmark = pytest.mark.anyio


async def call(client: Client, tool: str, **args: Any) -> Any:
    return await client.call_tool(tool, args)


async def test_tools_list_has_four_read_only_tools_and_the_file_writing_export(
    client: Client,
) -> None:
    tools = (await client.list_tools()).tools
    names = [t.name for t in tools]
    assert names == [
        "list_backends",
        "list_processes",
        "summarize_processes",
        "get_process",
        "export_process",
    ]
    read_only = {t.name for t in tools if t.annotations and t.annotations.read_only_hint}
    assert read_only == {"list_backends", "list_processes", "summarize_processes", "get_process"}


async def test_list_backends_reports_instance_collections_and_filter_modes(client: Client) -> None:
    result = await call(client, "list_backends")
    assert not result.is_error
    backend = result.structured_content["backends"][0]
    assert (backend["name"], backend["kind"], backend["usable"]) == (NAME, "tallyfy", True)
    runs = backend["collections"][0]
    assert runs["name"] == "runs"
    modes = {f: info["mode"] for f, info in runs["filters"].items()}
    assert modes["text"] == "narrowed"
    assert modes["created_after"] == "local"
    assert modes["where"] == "unsupported"
    assert modes["due_before"] == "local"
    assert runs["counts"] == "vendor totals"
    assert "summarize: vendor totals when every filter is native" in text(result)
    assert "server_time" in result.structured_content
    assert "local: created_after" in text(result)
    assert "due_after, due_before" in text(result)


async def test_list_pages_through_cursor_without_overlap_or_gap(client: Client) -> None:
    first = await call(client, "list_processes", backend=NAME, limit=5)
    assert first.structured_content["count"] == 5
    cursor = first.structured_content["next_cursor"]
    second = await call(client, "list_processes", backend=NAME, limit=5, cursor=cursor)
    both = await call(client, "list_processes", backend=NAME, limit=10)
    ids = [p["id"] for r in (first, second) for p in rows(r)]
    assert ids == [p["id"] for p in rows(both)]
    assert len(set(ids)) == 10


async def test_list_text_is_one_line_per_process_and_carries_the_cursor(
    client: Client, tallyfy_data: TallyfyData
) -> None:
    result = await call(client, "list_processes", backend=NAME, limit=3)
    lines = text(result).splitlines()
    assert lines[0] == f"3 processes of {len(tallyfy_data.runs)}"  # 120 and the hostile ones
    assert lines[1].startswith(f"every row: backend={NAME} | collection=runs")
    assert lines[2] == " | ".join(result.structured_content["columns"])
    assert result.structured_content["columns"][:2] == ["id", "name"]
    for line, row in zip(lines[3:6], rows(result), strict=True):
        assert line.startswith(row["id"] + " | " + row["name"] + " | ")
    assert lines[-1] == f"more: call again with cursor={result.structured_content['next_cursor']}"


async def test_detail_ids_returns_the_ids_and_where_they_are(client: Client) -> None:
    result = await call(client, "list_processes", backend=NAME, limit=2, detail="ids")
    assert result.structured_content["columns"] == ["id"]
    assert result.structured_content["shared"] == {"backend": NAME, "collection": "runs"}
    assert {frozenset(r) for r in rows(result)} == {frozenset({"backend", "collection", "id"})}


async def test_detail_full_adds_backend_specific_fields(client: Client) -> None:
    result = await call(client, "list_processes", backend=NAME, limit=2, detail="full")
    assert "increment_id" in rows(result)[0]["extra"]


async def test_get_process_on_a_listed_id_returns_its_tasks(client: Client) -> None:
    listed = await call(client, "list_processes", backend=NAME, status=["open"], limit=1)
    row = rows(listed)[0]
    result = await call(client, "get_process", backend=NAME, id=row["id"])
    assert not result.is_error
    assert result.structured_content["id"] == row["id"]
    assert result.structured_content["tasks"]
    assert "tasks (" in text(result)


async def test_arrays_sent_as_json_text_are_accepted(client: Client) -> None:
    # Some clients (Claude Desktop among them) send arrays as JSON strings.
    result = await call(client, "list_processes", backend=NAME, status='["completed"]', limit=2)
    assert not result.is_error
    assert {p["status"] for p in rows(result)} == {"completed"}


async def test_fan_out_over_all_instances_names_each_row_backend(client: Client) -> None:
    result = await call(client, "list_processes", limit=4)
    assert not result.is_error
    assert {p["backend"] for p in rows(result)} == {NAME}


async def test_progress_is_reported_while_scanning(
    client: Client, tallyfy_data: TallyfyData
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    result = await client.call_tool(
        "list_processes",
        {"backend": NAME, "updated_before": "2000-01-01", "limit": 5},
        progress_callback=on_progress,
    )
    assert result.structured_content["count"] == 0
    assert seen
    assert seen[-1][:2] == (len(tallyfy_data.runs),) * 2, "the last: every run examined, done"
    values = [s[0] for s in seen]
    assert values == sorted(set(values)), "values only rise"


BAD_CALLS = [
    ({"backend": "nope"}, 'unknown backend "nope"', "use one of: tallyfy-sandbox"),
    ({"backend": NAME, "colour": "red"}, 'unknown parameter "colour"', "valid parameters"),
    ({"backend": NAME, "created_after": "last tuesday"}, "not an ISO 8601", "2025-01-31"),
    ({"backend": NAME, "limit": 0}, "limit must be an integer from 1 to 1000", "next_cursor"),
    ({"backend": NAME, "limit": 5000}, "limit must be an integer from 1 to 1000", "between 1"),
    ({"backend": NAME, "cursor": "garbage"}, "cursor is not valid", "without cursor"),
    ({"backend": NAME, "where": {"amount": {">": 5}}}, "cannot filter by where", "text, owner"),
    ({"backend": NAME, "status": ["failed"]}, "never failed", "open, completed"),
    ({"backend": NAME, "sort": "-updated_at"}, "cannot sort by -updated_at", "-created_at"),
    ({"backend": NAME, "owner": "ghost@x.test"}, 'no user "ghost@x.test"', "user id or email"),
]


@pytest.mark.parametrize(("args", "problem", "fix"), BAD_CALLS)
async def test_bad_input_is_an_error_result_that_says_how_to_fix_it(
    client: Client, args: dict[str, Any], problem: str, fix: str
) -> None:
    result = await client.call_tool("list_processes", args)
    assert result.is_error
    message = text(result)
    assert problem in message
    assert "How to fix:" in message
    assert fix in message.split("How to fix:")[1]
    assert "Traceback" not in message


async def test_cursor_from_another_query_is_refused(client: Client) -> None:
    first = await call(client, "list_processes", backend=NAME, limit=2)
    cursor = first.structured_content["next_cursor"]
    result = await call(client, "list_processes", backend=NAME, limit=2, text="x", cursor=cursor)
    assert result.is_error
    assert "different query" in text(result)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"id": "abc"}, "backend is required"),
        ({"backend": NAME}, "id is required"),
        ({"backend": NAME, "id": "abc", "include": ["bpmn"]}, "not a section"),
        ({"backend": NAME, "id": "0" * 32}, "no run"),
        ({"backend": NAME, "id": "abc", "verbose": True}, 'unknown parameter "verbose"'),
    ],
)
async def test_get_process_bad_input_is_actionable(
    client: Client, args: dict[str, Any], problem: str
) -> None:
    result = await client.call_tool("get_process", args)
    assert result.is_error
    assert problem in text(result)
    assert "How to fix:" in text(result)


async def test_list_backends_refuses_arguments(client: Client) -> None:
    result = await call(client, "list_backends", verbose=True)
    assert result.is_error
    assert "takes no parameters" in text(result)


async def test_backend_outage_is_an_error_naming_backend_and_status(
    client: Client, tallyfy_sim: SimulatorCore
) -> None:
    tallyfy_sim.faults.add(Fault(kind="html", status=502, path="/runs$", times=None))
    result = await call(client, "list_processes", backend=NAME, limit=2)
    message = text(result)
    assert result.is_error
    assert f"[{NAME}]" in message
    assert "HTTP 502" in message
    assert "HTML page" in message


async def test_secrets_never_appear_in_answers_even_when_pasted_into_a_call(
    client: Client,
) -> None:
    for tool, args in [
        ("list_backends", {}),
        ("list_processes", {"backend": NAME, "limit": 3, "detail": "full"}),
        ("list_processes", {"backend": NAME, "owner": "sandbox-tallyfy-token"}),
        ("get_process", {"backend": NAME, "id": "sandbox-tallyfy-token"}),
    ]:
        result = await client.call_tool(tool, args)
        assert "sandbox-tallyfy-token" not in text(result), (tool, args)
        assert "sandbox-tallyfy-token" not in str(result.structured_content)


async def test_an_instance_missing_its_token_is_listed_as_unusable_with_the_fix() -> None:
    problem = ConfigError(
        "instance 'acme' (tallyfy) has no token", hint="set PROCESS_MCP_ACME_TOKEN"
    )
    async with Client(build_server(Settings(problems={"acme": problem}))) as client:
        listed = await call(client, "list_backends")
        (view,) = listed.structured_content["backends"]
        assert (view["name"], view["usable"]) == ("acme", False)
        assert "PROCESS_MCP_ACME_TOKEN" in view["problem"]
        refused = await call(client, "list_processes", backend="acme")
        assert refused.is_error
        assert "PROCESS_MCP_ACME_TOKEN" in text(refused)
