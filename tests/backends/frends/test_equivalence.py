"""The key property (design.md section 7) for Frends, for both collections: listing through
the adapter and the simulator, page by page through cursors, returns exactly what the local
evaluator returns over the same rows, in the same order - also with injected faults, and
under both readings of the undocumented processName matching and of which versions the
definitions list shows.

Executions are checked against rows named from the generated data itself (the executed
version's name), not from anything the adapter looked up: about a third of the production
executions run a version the default simulator never lists (production lags behind the
latest version, and older executions ran older versions), on every page of the walk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backends.frends.conftest import make_backend
from tools.backends.base import RowParts
from tools.backends.frends import convert, sandbox
from tools.backends.frends.adapter import FrendsBackend
from tools.backends.frends.data import CANARY_SECRET, Definition, generate
from tools.backends.frends.simulator import create_app
from tools.model import ProcessSummary
from tools.paging import run_list
from tools.query import ProcessQuery, evaluate
from tools.sim import Fault, SimulatorCore

# 260 versions: a filtered scan (pages of 200) crosses a page boundary too.
DATA = generate(seed=23, processes=260, instances=420)
SIM = create_app(DATA, token=sandbox.TOKEN, strict=True)
WIDE_SIM = create_app(DATA, token=sandbox.TOKEN, strict=True, process_name_match="substring")
EVERY_SIM = create_app(DATA, token=sandbox.TOKEN, strict=True, listed_versions="every")
# Execution rows without processGuid: only processId (a version id) says what ran.
BARE_SIM = create_app(DATA, token=sandbox.TOKEN, strict=True, execution_guids=False)
PROD = 3
START = datetime(2024, 11, 1, tzinfo=UTC)
TEXTS = ["sync", "SAP", "api -", "orders", "sub -", "ly", "from salesforce to sap"]
GUIDS = sorted({d.guid for d in DATA.definitions})
NAMES = sorted({d.name for d in DATA.definitions})
OWNERS = sorted({d.modifier for d in DATA.definitions})
USERS = sorted({r["userName"] for r in DATA.instances[PROD] if r["userName"]})
PROCESS_WHERE = [
    {"draft": True},
    {"latest": True},
    {"version": {">=": 2}},
    {"or": [{"subprocess": True}, {"version": 1}]},
]
INSTANCE_WHERE = [
    {"child": True},
    {"acknowledged": True},
    {"version": {">=": 2}},
    {"or": [{"child": True}, {"agent": "prod-agent-02"}]},
]
RELAXED = settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


async def every_definition(backend: FrendsBackend, parts: RowParts) -> list[ProcessSummary]:
    return backend.definition_rows(await backend.reader.every_definition(), parts)


def executed(row: dict[str, Any]) -> Definition:
    version = DATA.definition(row["processId"])
    assert version is not None
    return version


async def every_instance(
    backend: FrendsBackend, collection: str, parts: RowParts
) -> list[ProcessSummary]:
    """The agent group's executions as the reference sees them: every state, every page,
    each named after the version it ran; the extras and `where` attributes only when the
    query reads them (as the adapter builds them)."""
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        params = [("stateFilter", "ShowAll"), ("pageSize", "200")]
        params += [("continuationToken", token)] if token else []
        body = await backend.http.get_json(f"instances/{PROD}", params=params)
        rows.extend(body["data"])
        token = body["nextContinuationToken"]
        if token is None:
            break
    # The canary execution's exception quotes its own version's secret: scrubbed as the
    # adapter does once it has read that version.
    scrub = convert.Scrubber([CANARY_SECRET])
    return [
        convert.instance_summary(
            backend.name, collection, r, executed(r).name, scrub, executed(r).guid, parts
        )
        for r in rows
    ]


def test_the_executions_checked_here_include_many_of_unlisted_versions() -> None:
    listed = {d.id for d in DATA.definitions if d.latest or d.is_draft}
    unlisted = [r for r in DATA.instances[PROD] if r["processId"] not in listed]
    assert len(unlisted) > len(DATA.instances[PROD]) // 4
    newest = sorted(DATA.instances[PROD], key=lambda r: r["startTimeUtc"], reverse=True)
    assert any(r["processId"] not in listed for r in newest[:45])  # on the first pages too


def _dates(draw: st.DrawFn, q: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if draw(st.integers(0, 3)) == 0:
            q[name] = START + timedelta(
                days=draw(st.integers(0, 760)), hours=draw(st.integers(0, 23))
            )


def _valid(q: dict[str, Any], cheap: tuple[str, ...]) -> ProcessQuery:
    # A filtered scan re-reads a 200-row page (~1.6 MB of JSON) per call: tiny limits there
    # would make hundreds of calls. Small limits stay for unfiltered walks and cheap filters.
    if set(q) - {"backend", "collection", "limit", *cheap}:
        q["limit"] = max(q["limit"], 8)
    query = ProcessQuery.model_validate(q)
    for lo, hi in (("created_after", "created_before"), ("updated_after", "updated_before")):
        if getattr(query, lo) and getattr(query, hi) and getattr(query, lo) >= getattr(query, hi):
            query = query.with_changes(**{hi: None})
    return query


@st.composite
def process_queries(draw: st.DrawFn) -> ProcessQuery:
    q: dict[str, Any] = {"backend": sandbox.NAME, "limit": draw(st.integers(1, 45))}
    if draw(st.integers(0, 3)) == 0:
        states = st.sampled_from(list(convert.DEFINITION_STATES))
        q["native_status"] = draw(st.lists(states, min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 2)) == 0:
        q["text"] = draw(st.sampled_from(TEXTS))
    if draw(st.integers(0, 4)) == 0:
        q["template"] = draw(st.sampled_from(GUIDS))
    if draw(st.integers(0, 4)) == 0:
        q["owner"] = draw(st.sampled_from(OWNERS))
    if draw(st.integers(0, 4)) == 0:
        q["where"] = draw(st.sampled_from(PROCESS_WHERE))
    _dates(draw, q, ("created_after", "created_before"))
    if draw(st.integers(0, 3)) == 0:  # the extras, built only when an answer shows them
        q["detail"] = "full"
    return _valid(q, cheap=("template",))


@st.composite
def instance_queries(draw: st.DrawFn) -> ProcessQuery:
    q: dict[str, Any] = {
        "backend": sandbox.NAME,
        "collection": draw(st.sampled_from(["instances", "instances:Production"])),
        "limit": draw(st.integers(1, 45)),
    }
    choice = draw(st.sampled_from(["none", "status", "native"]))
    if choice == "status":
        q["status"] = draw(
            st.lists(st.sampled_from(["open", "completed", "failed"]), min_size=1, unique=True)
        )
    elif choice == "native":
        q["native_status"] = draw(
            st.lists(st.sampled_from(["Running", "Ok", "Failed"]), min_size=1, unique=True)
        )
    if draw(st.integers(0, 3)) == 0:
        q["text"] = draw(st.sampled_from(TEXTS))
    if draw(st.integers(0, 4)) == 0:
        q["template"] = draw(st.sampled_from([*GUIDS[:20], *NAMES[:20]]))
    if USERS and draw(st.integers(0, 5)) == 0:
        q["owner"] = draw(st.sampled_from(USERS))
    if draw(st.integers(0, 4)) == 0:
        q["where"] = draw(st.sampled_from(INSTANCE_WHERE))
    _dates(draw, q, ("created_after", "created_before", "updated_after", "updated_before"))
    if draw(st.integers(0, 3)) == 0:  # the extras, built only when an answer shows them
        q["detail"] = "full"
    return _valid(q, cheap=("status", "native_status"))


async def walk(backend: FrendsBackend, query: ProcessQuery) -> list[ProcessSummary]:
    rows: list[ProcessSummary] = []
    cursor = None
    for _ in range(600):
        page = await run_list([backend], query.with_changes(cursor=cursor))
        assert page.count <= query.limit
        rows.extend(page.processes)
        if not page.has_more:
            return rows
        cursor = page.next_cursor
    raise AssertionError("cursor walk did not end")


# The reference rows never change: computed once per simulator and collection (through a
# separate client).
REFERENCE: dict[tuple[int, str, RowParts], list[ProcessSummary]] = {}


async def reference(
    backend: FrendsBackend, collection: str | None, sim: SimulatorCore, parts: RowParts
) -> list[ProcessSummary]:
    if collection is None:
        key = (id(sim), "processes", parts)
        if key not in REFERENCE:
            REFERENCE[key] = await every_definition(backend, parts)
        return REFERENCE[key]
    await backend.discover()
    name = backend.collection_info(collection).name
    if (id(sim), name, parts) not in REFERENCE:
        REFERENCE[id(sim), name, parts] = await every_instance(backend, name, parts)
    return REFERENCE[id(sim), name, parts]


def check(
    query: ProcessQuery,
    sim: SimulatorCore = SIM,
    *,
    reference_sim: SimulatorCore = SIM,
    **options: Any,
) -> None:
    async def body() -> None:
        scout = make_backend(reference_sim)
        try:
            rows = await reference(scout, query.collection, reference_sim, RowParts.of(query))
        finally:
            await scout.aclose()
        backend = make_backend(sim, **options)
        try:
            expected = evaluate(query, rows)
            got = await walk(backend, query)
        finally:
            await backend.aclose()
        assert [r.id for r in got] == [r.id for r in expected]
        assert got == expected

    anyio.run(body)


@RELAXED
@given(query=process_queries())
def test_process_listing_agrees_with_local_evaluation(query: ProcessQuery) -> None:
    check(query)


@RELAXED
@given(query=instance_queries())
def test_instance_listing_agrees_with_local_evaluation(query: ProcessQuery) -> None:
    check(query)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.one_of(process_queries(), instance_queries()))
def test_listing_agrees_when_the_tenant_lists_every_version(query: ProcessQuery) -> None:
    # The reference is what this tenant lists: every version for processes.
    check(query, EVERY_SIM, reference_sim=EVERY_SIM)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=instance_queries())
def test_listing_agrees_when_execution_rows_carry_no_process_guid(query: ProcessQuery) -> None:
    check(query, BARE_SIM, reference_sim=BARE_SIM)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.sampled_from(TEXTS), limit=st.integers(8, 40))
def test_substring_process_name_search_agrees_when_the_tenant_searches_substrings(
    text: str, limit: int
) -> None:
    query = ProcessQuery(backend=sandbox.NAME, text=text, limit=limit)
    check(query, WIDE_SIM, process_name_match="substring")
    # The safe default (names checked here) is right whatever the tenant does.
    check(query, WIDE_SIM)


@pytest.mark.parametrize("limit", [1, 9, 200, 260])
def test_every_definition_walks_without_overlap_or_gap(limit: int) -> None:
    check(ProcessQuery(backend=sandbox.NAME, limit=limit))


@pytest.mark.parametrize("limit", [1, 13, 200])
def test_every_execution_walks_without_overlap_or_gap(limit: int) -> None:
    check(ProcessQuery(backend=sandbox.NAME, collection="instances", limit=limit))


def _faulty(path: str, **flags: Any) -> tuple[SimulatorCore, list[float]]:
    sim = create_app(DATA, token=sandbox.TOKEN, strict=True, **flags)
    sim.faults.add(Fault(kind="status", status=503, path=path, after=1, times=2))
    sim.faults.add(Fault(kind="status", status=429, retry_after=2, path=path, after=3))
    sim.faults.add(Fault(kind="html", status=502, path=path, after=5))
    return sim, []


@pytest.mark.parametrize(
    "query",
    [
        ProcessQuery(backend=sandbox.NAME, limit=9),
        ProcessQuery(backend=sandbox.NAME, limit=3, native_status=("previous",)),
    ],
)
def test_injected_faults_mid_process_walk_lose_and_duplicate_nothing(query: ProcessQuery) -> None:
    sim, waits = _faulty(r"/processes$", listed_versions="every")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    check(query, sim, reference_sim=EVERY_SIM, sleep=sleep)
    assert any(w >= 2 for w in waits)  # Retry-After honoured
    assert not sim.faults.pending


@pytest.mark.parametrize(
    "query",
    [
        ProcessQuery(backend=sandbox.NAME, collection="instances", limit=11),
        ProcessQuery(backend=sandbox.NAME, collection="instances", limit=2, status=("failed",)),
        ProcessQuery(backend=sandbox.NAME, collection="instances", limit=4, text="sync"),
    ],
)
@pytest.mark.parametrize("path", [r"/instances/3$", r"/processes/\d+$"])
def test_injected_faults_mid_instance_walk_lose_and_duplicate_nothing(
    query: ProcessQuery, path: str
) -> None:
    sim, waits = _faulty(path)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    check(query, sim, sleep=sleep)
    assert any(w >= 2 for w in waits)
    assert not sim.faults.pending
