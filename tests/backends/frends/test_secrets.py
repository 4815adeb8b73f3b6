"""The canary secret never leaves the server: not in any tool answer (every detail level and
every section), not in an export file, not in an error text, not in a log line.

The simulator serves the canary in clear in a secret process variable, a task parameter,
the BPMN documentation, a change description and an execution's exception text."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.backends.frends.conftest import BASE, UNTHROTTLED
from tools.backends.frends import sandbox
from tools.backends.frends.convert import SECRET_MASK
from tools.backends.frends.data import CANARY_PROCESS, CANARY_SECRET, FrendsData
from tools.backends.frends.info import INSTANCE_SECTIONS, PROCESS_SECTIONS
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio

NAME = sandbox.NAME
COLLECTIONS = ["instances", "instances:Development", "instances:Test", "instances:Production"]


def section_choices(sections: tuple[str, ...]) -> list[list[str] | None]:
    return [None, *([s] for s in sections), list(sections)]


def exported_texts(directory: Path) -> list[str]:
    return [p.read_text() for p in directory.iterdir() if p.is_file()]


class Recorder:
    """Calls tools and keeps everything they answered, text and structured content."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.seen: list[str] = []

    async def __call__(self, tool: str, **args: Any) -> Any:
        result = await self.client.call_tool(tool, args)
        for part in result.content:
            self.seen.append(part.model_dump_json())
        self.seen.append(json.dumps(result.structured_content))
        return result


async def test_the_canary_never_appears_in_answers_exports_errors_or_logs(
    sim: SimulatorCore, data: FrendsData, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        instances=[sandbox.settings(BASE, rate_limit_per_minute=UNTHROTTLED)],
        export_dir=tmp_path,
        log_level="DEBUG",
    )
    server = build_server(settings, transports={NAME: httpx.ASGITransport(app=sim)})
    versions = [d for d in data.definitions if d.name == CANARY_PROCESS]
    failed = next(
        r
        for rows in data.instances.values()
        for r in rows
        if CANARY_SECRET in (r["exception"] or "")
    )
    async with Client(server) as client:
        call = Recorder(client)
        await call("list_backends")
        for detail in ("ids", "summary", "full"):
            await call("list_processes", backend=NAME, limit=200, detail=detail)
            for collection in COLLECTIONS:
                await call(
                    "list_processes", backend=NAME, collection=collection, limit=300, detail=detail
                )
        await call("list_processes", backend=NAME, text="Salesforce to SAP", detail="full")
        await call(
            "list_processes", backend=NAME, collection="instances", status=["failed"], detail="full"
        )
        refs = [str(d.id) for d in versions] + [versions[0].guid, f"{versions[0].guid}@2"]
        for ref in refs:
            for include in section_choices(PROCESS_SECTIONS):
                for detail in ("summary", "full"):
                    args = {"include": include} if include is not None else {}
                    await call("get_process", backend=NAME, id=ref, detail=detail, **args)
        for include in section_choices(INSTANCE_SECTIONS):
            for detail in ("summary", "full"):
                args = {"include": include} if include is not None else {}
                await call(
                    "get_process",
                    backend=NAME,
                    id=failed["executionId"],
                    collection="instances:Production",
                    detail=detail,
                    **args,
                )
        for fmt in ("native", "json", "markdown"):
            await call("export_process", backend=NAME, id=str(versions[-1].id), format=fmt)
        await call("export_process", backend=NAME, format="jsonl", max_rows=200)
        await call("export_process", backend=NAME, collection="instances", format="csv")
        # An argument that quotes the secret back: the error text is scrubbed too.
        refused = await call("get_process", backend=NAME, id=CANARY_SECRET)
        assert refused.is_error

    exported = exported_texts(tmp_path)
    assert len(exported) == 5
    everything = "\n".join(call.seen + exported)
    # The paths were exercised: masked values and scrubbed texts are there ...
    assert f'"SapPassword": "{SECRET_MASK}"' in "\n".join(exported)
    assert f"passwd={SECRET_MASK}" in everything
    assert f"password '{SECRET_MASK}'" in everything
    assert f"Rotated SAP password to {SECRET_MASK}" in everything
    # ... and the canary itself is nowhere: not in answers, files, errors or logs.
    assert CANARY_SECRET not in everything
    assert caplog.records, "the server logged at DEBUG"
    assert CANARY_SECRET not in caplog.text
    # The simulator did send it: the scrubbing is what kept it out.
    assert any(r.path.endswith("/processes") for r in sim.requests)
