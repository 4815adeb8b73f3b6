"""Completions from each sandbox backend's own directory, through the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import PromptReference

from server.app import build_server
from server.settings import Settings
from tools.sandbox import Sandbox

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=7) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(instances=sandbox.settings(), export_dir=tmp_path)
    async with Client(build_server(settings)) as c:
        yield c


async def values(client: Client, arg: str, typed: str, **context: str) -> list[str]:
    prompt = "owner_workload" if arg == "owner" else "stuck_processes"
    got = await client.complete(
        PromptReference(type="ref/prompt", name=prompt),
        {"name": arg, "value": typed},
        context,
    )
    return got.completion.values


@pytest.mark.parametrize(
    ("backend", "collection", "typed", "expected"),
    [
        ("tallyfy-sandbox", "", "cust", "Customer Onboarding"),
        ("kommo-sandbox", "", "", "Sales"),
        ("chakra-sandbox", "lead", "", "Lead"),
        ("yuuvis-sandbox", "", "", None),
        ("frends-sandbox", "instances", "", None),
    ],
)
async def test_template_names_come_from_each_backends_directory(
    client: Client,
    sandbox: Sandbox,
    backend: str,
    collection: str,
    typed: str,
    expected: str | None,
) -> None:
    context = {"backend": backend, **({"collection": collection} if collection else {})}
    got = await values(client, "template", typed, **context)
    assert got, f"{backend} offered no template"
    if expected is not None:
        assert expected in got
    assert all(v.casefold().startswith(typed) or typed in v.casefold() for v in got)


async def test_owners_are_values_the_owner_filter_accepts(client: Client) -> None:
    emails = await values(client, "owner", "", backend="tallyfy-sandbox")
    assert emails
    assert all("@" in e for e in emails)
    # Each suggestion works as a filter, as offered.
    rows = await client.call_tool(
        "list_processes", {"backend": "tallyfy-sandbox", "owner": emails[0], "limit": 1}
    )
    assert not rows.is_error
    usernames = await values(client, "owner", "", backend="chakra-sandbox")
    assert usernames
    assert all("@" not in u for u in usernames)


async def test_typing_a_template_costs_one_directory_request(
    client: Client, sandbox: Sandbox
) -> None:
    core = sandbox.instance("tallyfy-sandbox").core
    before = len([r for r in core.requests if r.path.endswith("/checklists")])
    for typed in ["", "c", "cu", "cus", "cust", "custo"]:
        await values(client, "template", typed, backend="tallyfy-sandbox")
    after = len([r for r in core.requests if r.path.endswith("/checklists")])
    assert after - before <= 1
