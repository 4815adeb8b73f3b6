"""The OpenAI Agents SDK as a real client (issue 12, item 7): it connects to `process-mcp
serve --sandbox` over stdio and converts every tool with convert_schemas_to_strict=True.
Without the issue's change, list_processes and export_process fell back to non-strict
(the free-form `where` object), logged as "Error converting MCP schema to strict mode".
In strict mode the model must send every parameter, null for those it does not mean; such
calls answer as if the nulls were left out."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from agents.mcp import MCPServerStdio, MCPUtil
from agents.run_context import RunContextWrapper

from tests.server.conftest import rows
from tests.server.serving import SERVE

pytestmark = pytest.mark.anyio
TALLYFY = "tallyfy-sandbox"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the Agents SDK runs on asyncio


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[MCPServerStdio]:
    env = dict(os.environ, PROCESS_MCP_EXPORT_DIR=str(tmp_path), PROCESS_MCP_LOG_LEVEL="WARNING")
    params: Any = {"command": SERVE[0], "args": SERVE[1:], "env": env}
    async with MCPServerStdio(params=params, client_session_timeout_seconds=60) as s:
        yield s


def strict_call(schema: dict[str, Any], **given: Any) -> str:
    """Arguments as a model in strict mode writes them: every property, null if unused."""
    return json.dumps({name: given.get(name) for name in schema["properties"]})


async def test_every_tool_converts_to_strict_without_falling_back(
    server: MCPServerStdio, caplog: pytest.LogCaptureFixture
) -> None:
    tools = await server.list_tools()
    assert {t.name for t in tools} >= {"list_processes", "export_process", "get_process"}
    with caplog.at_level(logging.INFO, logger="openai.agents"):
        converted = {
            t.name: MCPUtil.to_function_tool(t, server, convert_schemas_to_strict=True)
            for t in tools
        }
    assert {name: f.strict_json_schema for name, f in converted.items()} == {
        t.name: True for t in tools
    }
    assert "Error converting MCP schema to strict mode" not in caplog.text
    listing = converted["list_processes"].params_json_schema
    assert listing["required"] == list(listing["properties"])  # strict: every one required


async def test_a_strict_call_with_nulls_answers_as_if_they_were_left_out(
    server: MCPServerStdio,
) -> None:
    tools = {t.name: t for t in await server.list_tools()}
    tool = tools["list_processes"]
    schema = MCPUtil.to_function_tool(tool, server, True).params_json_schema
    context = RunContextWrapper(context=None)
    answer = await MCPUtil.invoke_mcp_tool(
        server, tool, context, strict_call(schema, backend=TALLYFY, limit=3)
    )
    plain = await server.call_tool("list_processes", {"backend": TALLYFY, "limit": 3})
    assert not plain.is_error
    text = answer if isinstance(answer, str) else json.dumps(answer, default=str)
    first_row = rows(plain)[0]["id"]  # type: ignore[index]
    assert first_row in text
    assert "How to fix" not in text, text

    # And a strict export: nulls for every filter, the file, the format.
    export = tools["export_process"]
    schema = MCPUtil.to_function_tool(export, server, True).params_json_schema
    result = await server.call_tool(
        "export_process", json.loads(strict_call(schema, backend=TALLYFY, max_rows=2))
    )
    assert not result.is_error, result.content
    assert result.structured_content["format"] == "csv"  # type: ignore[index]
    assert result.structured_content["rows"] == 2  # type: ignore[index]
