"""Issue 12: null for any optional parameter means "not given", on every tool; the bounds
the schemas publish (maxLength, maxItems, minimum, maximum) are exactly the ones the server
enforces; and an error never repeats more than about 200 characters of any argument.
Through the real server in memory, every sandbox backend behind its simulator. The cases
are read from the published schemas, so a parameter added later is covered too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from server.catalog import TOOLS
from tests.export.conftest import memory_client, open_sim
from tests.server.conftest import rows, text
from tools.bounds import QUOTE_CHARS
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio
SIMS = {s.settings.name: s for s in (open_sim(m, seed=9) for m in SANDBOXES)}
TALLYFY = "tallyfy-sandbox"
SCHEMAS = {t.name: t.input_schema for t in TOOLS}
MEGABYTE = 1_000_000


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with memory_client(list(SIMS.values()), tmp_path) as c:
        yield c


async def a_process_id(client: Client) -> str:
    listed = await client.call_tool("list_processes", {"backend": TALLYFY, "limit": 1})
    return str(rows(listed)[0]["id"])


async def base_arguments(client: Client, tool: str) -> dict[str, Any]:
    """The smallest call of each tool that does real work."""
    if tool == "list_processes":
        return {"backend": TALLYFY, "limit": 3}
    if tool == "get_process":
        return {"backend": TALLYFY, "id": await a_process_id(client)}
    if tool == "export_process":
        return {"backend": TALLYFY, "max_rows": 3}
    return {}


def optional(tool: str) -> list[str]:
    schema = SCHEMAS[tool]
    return [p for p in schema["properties"] if p not in schema.get("required", [])]


def essence(tool: str, answer: dict[str, Any]) -> Any:
    """What must not change when a null is added (export file names carry a timestamp)."""
    if tool == "export_process":
        return {k: answer.get(k) for k in ("format", "rows", "total", "preview", "mime_type")}
    return answer


@pytest.mark.parametrize(
    ("tool", "parameter"),
    [(t, p) for t in ("list_processes", "get_process", "export_process") for p in optional(t)],
)
async def test_null_for_an_optional_parameter_answers_as_if_it_were_left_out(
    client: Client, tool: str, parameter: str
) -> None:
    base = await base_arguments(client, tool)
    without = {k: v for k, v in base.items() if k != parameter}
    expected = await client.call_tool(tool, without)
    got = await client.call_tool(tool, {**without, parameter: None})
    assert not expected.is_error, text(expected)
    assert not got.is_error, text(got)
    assert essence(tool, got.structured_content) == essence(tool, expected.structured_content)


@pytest.mark.parametrize("tool", ["list_processes", "get_process", "export_process"])
async def test_a_strict_clients_call_with_every_unused_parameter_null_works(
    client: Client, tool: str
) -> None:
    base = await base_arguments(client, tool)
    every = {p: base.get(p) for p in SCHEMAS[tool]["properties"]}
    expected = await client.call_tool(tool, base)
    got = await client.call_tool(tool, every)
    assert not got.is_error, text(got)
    assert essence(tool, got.structured_content) == essence(tool, expected.structured_content)


async def test_a_required_parameter_sent_as_null_is_missing_and_an_unknown_one_is_refused(
    client: Client,
) -> None:
    missing = await client.call_tool("get_process", {"backend": TALLYFY, "id": None})
    assert missing.is_error
    assert "id is required" in text(missing)
    for tool in SCHEMAS:
        base = await base_arguments(client, tool)
        unknown = await client.call_tool(tool, {**base, "colour": None})
        assert unknown.is_error, tool
        assert 'unknown parameter "colour"' in text(unknown) or "takes no parameters" in text(
            unknown
        ), tool


# -- bounds -------------------------------------------------------------------------------


def bounds(tool: str) -> list[tuple[str, str, int]]:
    """(parameter, kind, bound) for every bound the schema publishes."""
    out = []
    for name, prop in SCHEMAS[tool]["properties"].items():
        node = prop["anyOf"][0] if "anyOf" in prop else prop
        for key in ("maxLength", "maxItems", "minimum", "maximum"):
            if key in node:
                out.append((name, key, node[key]))
        if "maxLength" in node.get("items", {}):
            out.append((name, "items.maxLength", node["items"]["maxLength"]))
    return out


def sized(tool: str, name: str, kind: str, size: int) -> Any:
    """A value of `size` for the bound `kind` of parameter `name`."""
    node = SCHEMAS[tool]["properties"][name]
    if kind == "maxLength":
        return "x" * size
    if kind == "items.maxLength":
        return ["x" * size]
    if kind == "maxItems":
        enum = node["items"].get("enum")
        return [enum[0] if enum else "id" if name == "fields" else "x"] * size
    return size  # minimum / maximum


CASES = [(t.name, *b) for t in TOOLS for b in bounds(t.name)]


def test_the_schemas_publish_bounds_for_every_string_and_list() -> None:
    for tool, schema in SCHEMAS.items():
        for name, prop in schema["properties"].items():
            node = prop["anyOf"][0] if "anyOf" in prop else prop
            kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
            if "string" in kinds and "enum" not in node:
                assert "maxLength" in node, (tool, name)
            if "array" in kinds:
                assert "maxItems" in node, (tool, name)
                assert "maxLength" in node["items"] or "enum" in node["items"], (tool, name)


@pytest.mark.parametrize(("tool", "name", "kind", "bound"), CASES)
async def test_the_server_enforces_exactly_the_published_bound(
    client: Client, tool: str, name: str, kind: str, bound: int
) -> None:
    base = await base_arguments(client, tool)
    over = bound - 1 if kind == "minimum" else bound + 1
    past = await client.call_tool(tool, {**base, name: sized(tool, name, kind, over)})
    assert past.is_error, (name, kind)
    message = text(past)
    if kind in ("minimum", "maximum"):
        assert f"from {SCHEMAS[tool]['properties'][name]['minimum']} to" in message
    else:
        unit = "items" if kind == "maxItems" else "characters"
        assert re.search(rf"(longer|more) than {bound} {unit}", message), message
    at = await client.call_tool(tool, {**base, name: sized(tool, name, kind, bound)})
    # At the bound the value may still be wrong (not a date, no such tag), but not too big.
    assert not re.search(r"(longer|more) than \d+|from \d+ to", text(at)), text(at)


# -- big inputs, small errors ---------------------------------------------------------------


def longest_run(message: str, char: str) -> int:
    return max((len(m) for m in re.findall(f"{re.escape(char)}+", message)), default=0)


def huge_calls() -> list[tuple[str, dict[str, Any]]]:
    """Every parameter of every tool carrying a megabyte, plus a megabyte parameter name."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for tool, schema in SCHEMAS.items():
        base = {"backend": TALLYFY} if "backend" in schema.get("required", []) else {}
        if tool == "get_process":
            base["id"] = "x"
        calls.append((tool, {**base, "Q" * MEGABYTE: 1}))
        for name, prop in schema["properties"].items():
            node = prop["anyOf"][0] if "anyOf" in prop else prop
            kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
            value: Any = ["Q" * MEGABYTE] if "array" in kinds else "Q" * MEGABYTE
            calls.append((tool, {**base, name: value}))
    calls.append(("list_processes", {"backend": TALLYFY, "where": "Q" * (MEGABYTE // 1000)}))
    calls.append(("list_processes", {"backend": TALLYFY, "where": {"Q" * MEGABYTE: 1}}))
    calls.append(("list_processes", {"backend": TALLYFY, "where": {"a": {"Q" * MEGABYTE: 1}}}))
    calls.append(("nope" + "Q" * MEGABYTE, {}))
    return calls


async def test_an_error_quotes_at_most_about_200_characters_of_any_argument(
    client: Client,
) -> None:
    for tool, args in huge_calls():
        try:
            result = await client.call_tool(tool, args)
            message = text(result)
            assert result.is_error, (tool, list(args))
        except MCPError as exc:  # an unknown tool is a protocol error
            message = str(exc)
        assert longest_run(message, "Q") <= QUOTE_CHARS, (tool, [k[:20] for k in args])
        assert len(message) < 2_000, (tool, [k[:20] for k in args], message[:300])


async def test_a_prompt_argument_of_a_megabyte_is_not_repeated_back(client: Client) -> None:
    for arguments in ({"days": "Q" * MEGABYTE}, {"backend": "Q" * MEGABYTE}):
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("stuck_processes", arguments)
        assert longest_run(str(caught.value), "Q") <= QUOTE_CHARS
