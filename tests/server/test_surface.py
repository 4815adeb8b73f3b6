"""Prompts, completions, resources/list, logging and identity, through the SDK's client
against the real server (in memory), in both protocol eras."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, METHOD_NOT_FOUND, PromptReference, ResourceTemplateReference

from server.app import INSTRUCTIONS, build_server
from server.catalog import TOOLS
from server.prompts import period_range, render
from server.resources import list_page
from server.settings import Settings
from tests.server.conftest import NAME
from tools.backends.yuuvis import sandbox as yuuvis_sandbox
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
ERAS = ["auto", "legacy"]  # auto lands on 2026-07-28 against this server
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
YUUVIS = yuuvis_sandbox.NAME


@pytest.fixture
def two_settings(server_settings: Settings) -> tuple[Settings, SimulatorCore]:
    sim, data = yuuvis_sandbox.build(7, instances=40)
    server_settings.instances.append(yuuvis_sandbox.settings("http://yuuvis.test", data))
    return server_settings, sim


@pytest.fixture
def two_backends(two_settings: tuple[Settings, SimulatorCore], tallyfy_sim: SimulatorCore) -> Any:
    settings, yuuvis_sim = two_settings
    return build_server(
        settings,
        transports={
            NAME: httpx.ASGITransport(app=tallyfy_sim),
            YUUVIS: httpx.ASGITransport(app=yuuvis_sim),
        },
    )


@pytest.fixture(params=ERAS)
async def any_era(request: pytest.FixtureRequest, two_backends: Any) -> AsyncIterator[Client]:
    async with Client(two_backends, mode=request.param) as c:
        yield c


# -- prompts -------------------------------------------------------------------------------


async def test_prompts_list_names_three_prompts_with_their_arguments(any_era: Client) -> None:
    listed = await any_era.list_prompts()
    by_name = {p.name: p for p in listed.prompts}
    assert set(by_name) == {"stuck_processes", "status_report", "owner_workload"}
    owner = by_name["owner_workload"].arguments or []
    assert (owner[0].name, owner[0].required) == ("owner", True)
    assert {a.name for a in by_name["stuck_processes"].arguments or []} >= {
        "backend",
        "template",
        "days",
        "include",
    }


async def test_stuck_processes_expands_to_a_list_call_with_the_cutoff_date(any_era: Client) -> None:
    got = await any_era.get_prompt(
        "stuck_processes", {"backend": NAME, "template": "Customer Onboarding", "days": "10"}
    )
    text = got.messages[0].content.text  # type: ignore[union-attr]
    today = datetime.now(UTC).date()
    cutoff = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    assert f'"updated_before": "{cutoff}"' in text
    assert '"template": "Customer Onboarding"' in text
    assert '"status": ["open"]' in text
    assert "get_process" in text
    assert today.isoformat() in text


def test_status_report_periods_tile_and_are_half_open() -> None:
    assert period_range("7d", NOW) == (datetime(2026, 11, 16).date(), datetime(2026, 11, 23).date())
    assert period_range("last-month", NOW) == (
        datetime(2026, 10, 1).date(),
        datetime(2026, 11, 1).date(),
    )
    # NOW is a Sunday: this week started on Monday the 16th.
    assert period_range("this-week", NOW)[0] == datetime(2026, 11, 16).date()
    text = render("status_report", {"period": "last-month"}, NOW).messages[0].content.text  # type: ignore[union-attr]
    assert "\"filter\": \"created_after = '2026-10-01' and created_before = '2026-11-01'\"" in text
    assert "\"filter\": \"status = 'completed' and updated_after = '2026-10-01'" in text
    assert text.count("summarize_processes {") == 4
    assert '"group_by": ["backend"]' in text
    assert '"sort": "updated_at", "limit": 3' in text


def test_owner_workload_asks_for_the_owners_open_processes() -> None:
    got = render("owner_workload", {"owner": "dana.larsen@acme.test"}, NOW)
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert '"owner": "dana.larsen@acme.test", "status": ["open"]' in text


@pytest.mark.parametrize(
    ("name", "arguments", "says"),
    [
        ("nope", {}, 'unknown prompt "nope"; prompts/list names them: stuck_processes'),
        ("owner_workload", {}, "prompt owner_workload needs owner"),
        ("stuck_processes", {"days": "two"}, "days must be a whole number from 1 to 3650"),
        ("stuck_processes", {"include": "tasks,bogus"}, "unknown section(s) bogus"),
        ("stuck_processes", {"dayz": "3"}, 'has no argument "dayz"; it takes: backend'),
        ("status_report", {"period": "fortnight"}, "use Nd or Nw"),
        ("status_report", {"backend": "tallyfy-sandbx"}, 'did you mean "tallyfy-sandbox"?'),
    ],
)
async def test_a_bad_prompts_get_is_invalid_params_with_the_fix_and_no_traceback(
    any_era: Client,
    caplog: pytest.LogCaptureFixture,
    name: str,
    arguments: dict[str, str],
    says: str,
) -> None:
    with caplog.at_level(logging.INFO), pytest.raises(MCPError) as err:
        await any_era.get_prompt(name, arguments)
    assert err.value.error.code == INVALID_PARAMS
    assert says in err.value.error.message
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# -- completions ---------------------------------------------------------------------------


async def _complete(client: Client, prompt: str, arg: str, value: str, **context: str) -> list[str]:
    got = await client.complete(
        PromptReference(type="ref/prompt", name=prompt),
        {"name": arg, "value": value},
        context or None,
    )
    return got.completion.values


async def test_completion_suggests_backends_and_native_statuses_by_prefix(any_era: Client) -> None:
    assert await _complete(any_era, "stuck_processes", "backend", "") == ["all", NAME, YUUVIS]
    assert await _complete(any_era, "stuck_processes", "backend", "TAL") == [NAME]
    statuses = await _complete(any_era, "stuck_processes", "native_status", "", backend=NAME)
    assert statuses == ["active", "problem", "delayed", "complete", "archived"]
    assert await _complete(any_era, "stuck_processes", "native_status", "pro", backend=NAME) == [
        "problem"
    ]


async def test_completion_of_a_list_argument_completes_its_last_item(any_era: Client) -> None:
    got = await _complete(any_era, "stuck_processes", "include", "tasks,", backend=NAME)
    assert got == ["tasks,fields", "tasks,definition"]
    assert await _complete(any_era, "stuck_processes", "include", "tasks,fi", backend=NAME) == [
        "tasks,fields"
    ]


async def test_completion_for_days_period_and_collections(any_era: Client) -> None:
    assert await _complete(any_era, "stuck_processes", "days", "") == ["7", "14", "30", "60", "90"]
    assert "last-month" in await _complete(any_era, "status_report", "period", "last")
    assert await _complete(any_era, "status_report", "collection", "", backend=YUUVIS) == [
        "instances"
    ]


async def test_completion_of_an_unknown_reference_is_an_empty_list(any_era: Client) -> None:
    assert await _complete(any_era, "test_prompt_with_arguments", "arg1", "x") == []
    assert await _complete(any_era, "owner_workload", "nope", "x") == []


async def test_completion_offers_export_file_names_newest_first(
    any_era: Client, two_settings: tuple[Settings, SimulatorCore]
) -> None:
    directory = two_settings[0].export_dir
    _files(directory, ["old.csv", "new.csv", "other.jsonl", ".partial-x.csv"])
    got = await any_era.complete(
        ResourceTemplateReference(type="ref/resource", uri="export://csv/{name}"),
        {"name": "name", "value": ""},
    )
    assert got.completion.values == ["new.csv", "old.csv"]


# -- resources/list ------------------------------------------------------------------------


def _files(directory: Path, names: list[str]) -> None:
    """Files in `directory`, each one second newer than the one before."""
    directory.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        path = directory / name
        path.write_text("x" * (i + 1))
        stamp = 1_790_000_000 + i
        os.utime(path, (stamp, stamp))


async def test_resources_list_shows_exports_newest_first_with_size_and_mime(
    any_era: Client, two_settings: tuple[Settings, SimulatorCore]
) -> None:
    _files(two_settings[0].export_dir, ["a.csv", "b.jsonl", "c.md", ".partial-d.csv", "e.txt"])
    listed = await any_era.list_resources()
    got = [(r.name, r.mime_type, r.size) for r in listed.resources]
    assert got == [
        ("c.md", "text/markdown", 3),
        ("b.jsonl", "application/jsonl", 2),
        ("a.csv", "text/csv", 1),
    ]
    first = listed.resources[0]
    assert first.uri == "export://md/c.md"
    assert first.annotations is not None
    assert first.annotations.last_modified
    read = await any_era.read_resource(first.uri)
    assert read.contents[0].text == "xxx"  # type: ignore[union-attr]


def test_resources_list_pages_by_position_so_a_new_export_shifts_nothing(tmp_path: Path) -> None:
    _files(tmp_path, [f"f{i}.csv" for i in range(5)])
    first = list_page(tmp_path, None, size=2)
    assert [r.name for r in first.resources] == ["f4.csv", "f3.csv"]
    newest = tmp_path / "f9.csv"
    newest.write_text("new")
    os.utime(newest, (1_790_000_100, 1_790_000_100))
    second = list_page(tmp_path, first.next_cursor, size=2)
    third = list_page(tmp_path, second.next_cursor, size=2)
    assert [r.name for r in second.resources] == ["f2.csv", "f1.csv"]
    assert [r.name for r in third.resources] == ["f0.csv"]
    assert third.next_cursor is None


async def test_a_bad_resources_list_cursor_is_invalid_params(any_era: Client) -> None:
    with pytest.raises(MCPError) as err:
        await any_era.list_resources(cursor="not-a-cursor")
    assert err.value.error.code == INVALID_PARAMS
    assert "without a cursor" in err.value.error.message


# -- logging -------------------------------------------------------------------------------


async def _stuck_everywhere(client: Client) -> Any:
    # yuuvis has no update time, so a fan-out by updated_before skips it with a warning.
    return await client.call_tool(
        "list_processes", {"backend": "all", "updated_before": "2026-11-01", "limit": 2}
    )


async def test_legacy_session_gets_logging_and_a_warning_when_a_backend_is_skipped(
    two_backends: Any,
) -> None:
    messages: list[Any] = []

    async def on_log(params: Any) -> None:
        messages.append(params)

    async with Client(two_backends, mode="legacy", logging_callback=on_log) as client:
        assert client.server_capabilities.logging is not None
        result = await _stuck_everywhere(client)
        assert not result.is_error
        skipped = [m for m in messages if m.level == "warning" and YUUVIS in str(m.data)]
        assert skipped
        assert "skipped" in str(skipped[0].data)
        assert skipped[0].logger == "process_mcp.paging"
        messages.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.set_logging_level("error")
        await _stuck_everywhere(client)
        assert messages == []


async def test_modern_session_has_no_logging_capability_nor_set_level(two_backends: Any) -> None:
    messages: list[Any] = []

    async def on_log(params: Any) -> None:
        messages.append(params)

    async with Client(two_backends, logging_callback=on_log, log_level="debug") as client:
        assert client.protocol_version == "2026-07-28"
        assert client.server_capabilities.logging is None
        assert client.server_capabilities.completions is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(MCPError) as err:
                await client.set_logging_level("info")
        assert err.value.error.code == METHOD_NOT_FOUND
        result = await _stuck_everywhere(client)
        assert any("skipped" in w for w in result.structured_content["warnings"])
        assert messages == []


# -- identity ------------------------------------------------------------------------------


async def test_server_has_an_svg_icon_and_instructions_name_every_tool(any_era: Client) -> None:
    info = any_era.server_info
    assert info is not None
    assert info.icons
    assert info.icons[0].mime_type == "image/svg+xml"
    assert info.icons[0].src.startswith("data:image/svg+xml,%3Csvg")
    for tool in TOOLS:
        assert tool.name in INSTRUCTIONS
    assert len(INSTRUCTIONS.split()) <= 120


# -- tools/call and list changes -----------------------------------------------------------


async def test_an_unknown_tool_is_invalid_params_naming_the_tools(any_era: Client) -> None:
    with pytest.raises(MCPError) as err:
        await any_era.call_tool("list_process", {})
    assert err.value.error.code == INVALID_PARAMS
    assert "did you mean list_processes?" in err.value.error.message


async def test_discover_claims_list_changes_for_resources_only(two_backends: Any) -> None:
    async with Client(two_backends) as client:
        caps = client.server_capabilities
        assert caps.resources is not None
        assert caps.resources.list_changed
        assert caps.tools is not None
        assert not caps.tools.list_changed
        assert caps.prompts is not None
        assert not caps.prompts.list_changed


async def test_an_export_tells_listeners_that_the_resource_list_changed(two_backends: Any) -> None:
    async with Client(two_backends) as client, client.listen(resources_list_changed=True) as sub:
        done = await client.call_tool(
            "export_process", {"backend": NAME, "format": "jsonl", "max_rows": 3}
        )
        assert not done.is_error
        with anyio.fail_after(5):
            event = await sub.__anext__()
        assert "resource" in type(event).__name__.lower()
        listed = await client.list_resources(cache_mode="bypass")
        assert [r.uri for r in listed.resources] == [done.structured_content["uri"]]
