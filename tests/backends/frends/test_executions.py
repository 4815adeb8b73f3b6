"""Executions name the version they ran, whatever the definitions list shows: each version id
is read once (`GET /processes/{id}`), a plain listing reads no definition page, and a
failing read is one clean error, never an ExceptionGroup."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.frends.conftest import make_backend
from tools.backends.frends import sandbox
from tools.backends.frends.data import FrendsData, generate
from tools.backends.frends.simulator import create_app
from tools.errors import BackendError
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import Fault, SimulatorCore

pytestmark = pytest.mark.anyio
PROD = 3
LIST = "/api/v1/processes"


def reads_by_id(sim: SimulatorCore) -> list[str]:
    return [r.path for r in sim.requests if r.path.startswith(LIST + "/")]


def list_pages(sim: SimulatorCore) -> list[Any]:
    return [r for r in sim.requests if r.path == LIST]


def unlisted(data: FrendsData) -> set[int]:
    """Version ids the default simulator never lists (older published versions)."""
    return {d.id for d in data.definitions if not d.latest and not d.is_draft}


async def executions(sim: SimulatorCore, **args: Any) -> Any:
    backend = make_backend(sim)
    try:
        query = {"backend": backend.name, "collection": "instances", **args}
        return await run_list([backend], parse_query(query))
    finally:
        await backend.aclose()


@pytest.mark.parametrize("execution_guids", [True, False])
async def test_every_execution_is_named_after_the_version_it_ran(
    data: FrendsData, execution_guids: bool
) -> None:
    sim = create_app(data, token=sandbox.TOKEN, execution_guids=execution_guids)
    result = await executions(sim, limit=300)
    by_execution = {r["executionId"]: r for r in data.instances[PROD]}
    ran = [data.definition(by_execution[row.id]["processId"]) for row in result.processes]
    assert [row.name for row in result.processes] == [d.name for d in ran if d]
    assert [row.template_id for row in result.processes] == [d.guid for d in ran if d]
    assert sum(1 for d in ran if d and d.id in unlisted(data)) > 20


async def test_a_first_listing_reads_each_version_once_and_no_definition_page() -> None:
    # 5,000 definitions are 25 pages of 200: reading them all used to come first.
    big = generate(seed=3, processes=5000, instances=400)
    sim = create_app(big, token=sandbox.TOKEN)
    backend = make_backend(sim)
    args = {"backend": backend.name, "collection": "instances", "limit": 20}
    first = await run_list([backend], parse_query(args))
    second = await run_list([backend], parse_query({**args, "cursor": first.next_cursor}))
    shown = [*first.processes, *second.processes]
    detail = await backend.get(shown[0].id, collection="instances", include=None, detail="full")
    await backend.aclose()
    assert list_pages(sim) == []
    by_execution = {r["executionId"]: r for rows in big.instances.values() for r in rows}
    versions = {by_execution[row.id]["processId"] for row in shown}
    reads = reads_by_id(sim)
    assert sorted(reads) == sorted(f"{LIST}/{v}" for v in versions)  # each one once
    assert all(not row.name.startswith("process ") for row in shown)
    assert detail.name == shown[0].name


async def test_text_and_template_find_executions_of_unlisted_versions(data: FrendsData) -> None:
    sim = create_app(data, token=sandbox.TOKEN, execution_guids=False)
    old = next(
        r
        for r in data.instances[PROD]
        if r["processId"] in unlisted(data) and r["parentId"] is None
    )
    version = data.definition(old["processId"])
    assert version is not None
    word = version.name.split()[-1].lower()
    by_text = await executions(sim, text=word, limit=1000)
    by_name = await executions(sim, template=version.name, limit=1000)
    by_guid = await executions(sim, template=version.guid, limit=1000)
    for result in (by_text, by_name, by_guid):
        assert old["executionId"] in {r.id for r in result.processes}
    assert all(word in r.name.lower() for r in by_text.processes)
    wanted = {
        r["executionId"]
        for r in data.instances[PROD]
        if (d := data.definition(r["processId"])) and d.guid == version.guid
    }
    assert {r.id for r in by_name.processes} == wanted == {r.id for r in by_guid.processes}


@pytest.mark.parametrize(
    ("path", "args"),
    [
        # The second definitions page, read for a text filter's process names.
        (r"/processes$", {"text": "sync"}),
        # One version read by id, for a plain listing's names.
        (r"/processes/\d+$", {}),
    ],
)
async def test_a_failing_read_is_one_clean_backend_error(path: str, args: dict[str, Any]) -> None:
    big = generate(seed=3, processes=700, instances=200)  # four definitions pages
    sim = create_app(big, token=sandbox.TOKEN)
    sim.faults.add(Fault(kind="status", status=500, path=path, after=1, times=None))
    with pytest.raises(BackendError) as caught:
        await executions(sim, limit=50, **args)
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert "HTTP 500" in caught.value.for_model()


async def test_an_ids_listing_reads_no_version_the_answer_does_not_name(data: FrendsData) -> None:
    sim = create_app(data, token=sandbox.TOKEN)
    backend = make_backend(sim)
    args = {"backend": backend.name, "collection": "instances", "limit": 50}
    try:
        ids = await run_list([backend], parse_query({**args, "detail": "ids"}))
        assert reads_by_id(sim) == []
        named = await run_list([backend], parse_query(args))
    finally:
        await backend.aclose()
    assert [row.id for row in named.processes] == [row.id for row in ids.processes]
    assert reads_by_id(sim)  # the summary names them, so it reads the unseen versions
    assert all(not row.name.startswith("process ") for row in named.processes)
