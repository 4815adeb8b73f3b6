"""What agents see: every tool's schema is snapshotted (a change is a reviewed diff) and
held to the invariants that keep it portable across clients.

Refresh the snapshot after an intended change with:
    UPDATE_SNAPSHOTS=1 uv run pytest tests/server/test_inventory.py
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.catalog import TOOLS
from server.settings import Settings
from tests.server import schema_rules
from tools.export_args import PUBLISHED as EXPORT_PUBLISHED
from tools.get_process import GetArgs
from tools.query import ProcessQuery
from tools.summarize import PUBLISHED as SUMMARY_PUBLISHED

pytestmark = pytest.mark.anyio
SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"
# The whole tools/list answer, in bytes of compact JSON: about its 2,500-token budget
# (benchmarks/sizes.py counts the tokens; 8,693 bytes are 2,297 tokens).
BUDGET = 10_000


async def listed() -> list[dict[str, Any]]:
    async with Client(build_server(Settings())) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def walk(node: Any, path: str = "$") -> Any:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


async def test_tool_schemas_match_the_reviewed_snapshot() -> None:
    current = json.dumps(await listed(), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "run with UPDATE_SNAPSHOTS=1 once to create the snapshot"
    assert current == SNAPSHOT.read_text(), "tool schemas changed: review, then UPDATE_SNAPSHOTS=1"


# Tools that write (only export files, into the export directory); every other is read-only.
WRITERS = {"export_process"}


async def test_every_tool_declares_read_only_and_not_destructive() -> None:
    for tool in await listed():
        assert tool["annotations"]["readOnlyHint"] is (tool["name"] not in WRITERS), tool["name"]
        assert tool["annotations"]["destructiveHint"] is False, tool["name"]


async def test_no_schema_uses_refs_or_defs() -> None:
    for tool in await listed():
        for schema in (tool["inputSchema"], tool.get("outputSchema", {})):
            for path, node in walk(schema):
                assert not (isinstance(node, dict) and ({"$ref", "$defs"} & node.keys())), (
                    tool["name"],
                    path,
                )


@pytest.mark.parametrize(
    ("rules", "name"),
    [
        (schema_rules.portable_problems, "portable (MCP, VS Code, ...)"),
        (schema_rules.gemini_problems, "Gemini function declarations"),
    ],
)
async def test_every_tool_follows_each_clients_schema_rules(rules: Any, name: str) -> None:
    problems = {t["name"]: rules(t) for t in await listed()}
    assert not any(problems.values()), f"{name}: {problems}"


async def test_every_tool_follows_openai_strict_rules_after_the_agents_sdks_conversion() -> None:
    from agents.strict_schema import ensure_strict_json_schema

    for tool in await listed():
        schema = copy.deepcopy(tool["inputSchema"])
        # As agents.mcp.util.MCPUtil.to_function_tool converts (convert_schemas_to_strict).
        converted = ensure_strict_json_schema(schema, _reject_open_objects=schema != {})
        assert schema_rules.openai_strict_problems(tool, converted) == [], tool["name"]


BROKEN = {
    "name": "bad tool!",
    "inputSchema": {
        "type": "object",
        "properties": {
            "a": {"type": ["string", "integer"], "description": "two types"},
            "b": {"type": "array", "description": "no items"},
            "c": {"$ref": "#/$defs/C"},
            "d": {"type": "string", "enum": ["x", None], "format": "uri", "default": "x"},
            "e": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "sibling"},
            "f-g": {"type": "object", "additionalProperties": {}, "description": "open"},
        },
        "required": ["z"],
    },
}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            schema_rules.portable_problems,
            ["bad tool!", "additionalProperties must be false", "'z'", "$ref", "properties.c: no",
             "without typed items", "properties.d: no description"],
        ),
        (
            schema_rules.gemini_problems,
            ["function name", "one type", "an array needs items", "['$ref']", "enums are",
             "format 'uri'", "anyOf must be the only field", "nested additionalProperties",
             "'f-g'"],
        ),
        (
            lambda tool: schema_rules.openai_strict_problems(tool, tool["inputSchema"]),
            ["function name", "properties.b: optional", "['default']", "format 'uri'",
             "additionalProperties must be false", "every property must be required"],
        ),
    ],
)  # fmt: skip
def test_each_rule_set_catches_what_it_is_there_for(rules: Any, expected: list[str]) -> None:
    found = "\n".join(rules(BROKEN))
    for problem in expected:
        assert problem in found, (problem, found)


async def test_tools_list_fits_the_size_budget() -> None:
    assert len(json.dumps(await listed(), separators=(",", ":"))) < BUDGET


@pytest.mark.parametrize(
    ("tool", "fields"),
    [
        ("list_processes", set(ProcessQuery.model_fields)),
        ("get_process", set(GetArgs.model_fields)),
        # The list filters as one `filter` expression (tools/filter_text.py).
        ("export_process", set(EXPORT_PUBLISHED)),
        ("summarize_processes", set(SUMMARY_PUBLISHED)),
    ],
)
def test_published_parameters_are_exactly_the_validated_ones(tool: str, fields: set[str]) -> None:
    definition = next(t for t in TOOLS if t.name == tool)
    assert set(definition.input_schema["properties"]) == fields


def test_enums_in_schemas_match_the_vocabulary() -> None:
    from tools.get_process import SECTIONS
    from tools.groups import GROUP_BY
    from tools.model import STATUSES
    from tools.query import SORT_KEYS

    props = next(t for t in TOOLS if t.name == "list_processes").input_schema["properties"]
    assert props["status"]["items"]["enum"] == list(STATUSES)
    assert props["sort"]["anyOf"][0]["enum"] == list(SORT_KEYS)
    get_props = next(t for t in TOOLS if t.name == "get_process").input_schema["properties"]
    assert get_props["include"]["items"]["enum"] == list(SECTIONS)
    summary = next(t for t in TOOLS if t.name == "summarize_processes").input_schema
    assert summary["properties"]["group_by"]["items"]["enum"] == list(GROUP_BY)


async def test_output_schemas_never_admit_null_because_answers_omit_empty_fields() -> None:
    for tool in await listed():
        for path, node in walk(tool["outputSchema"]):
            assert node != {"type": "null"}, (tool["name"], path)
            assert not (isinstance(node, dict) and node.get("type") == "null"), (tool["name"], path)
