"""The paging driver against in-memory backends of every shape.

The central property: walking a query page by page through cursors returns exactly what
the local evaluator returns over the same rows, in the same order - whatever the
addressing style, page size, limit, scan cap or mix of native and local filters.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.memory_backend import BASE, MemoryBackend, sample_rows
from tools.errors import BackendUnavailableError, InvalidCursorError, UnsupportedQueryError
from tools.instances import Instances
from tools.list_processes import list_processes
from tools.model import STATUSES, ListResult, ProcessSummary
from tools.paging import decode_cursor, encode_cursor, page_geometry, run_list
from tools.query import FILTER_FIELDS, SORT_KEYS, ProcessQuery, evaluate

NAMES = ["Onboarding Acme", "onboarding Globex", "Quarterly close", "Vendor review", "Office move"]
OWNERS = ["ann@x.test", "bob@x.test", None]
TEMPLATES = ["Onboarding", "Close", None]
TAGS = ["urgent", "vip", "legal"]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def row_lists(draw: st.DrawFn, prefix: str = "p") -> list[ProcessSummary]:
    rows = []
    for i in range(draw(st.integers(0, 45))):
        created = BASE + timedelta(hours=draw(st.integers(0, 400)))  # collisions on purpose
        rows.append(
            ProcessSummary(
                backend="m",
                collection="items",
                id=f"{prefix}{i:03d}",
                name=draw(st.sampled_from(NAMES)),
                status=draw(st.sampled_from(STATUSES)),
                native_status=draw(st.sampled_from(["a", "b", "c"])),
                owner=draw(st.sampled_from(OWNERS)),
                template=draw(st.sampled_from(TEMPLATES)),
                tags=draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
                created_at=created,
                updated_at=created + timedelta(hours=draw(st.integers(0, 300))),
            )
        )
    return rows


def _hours(draw: st.DrawFn) -> datetime:
    return BASE + timedelta(hours=draw(st.integers(0, 700)))


@st.composite
def queries(draw: st.DrawFn, backend: str = "m") -> ProcessQuery:
    q: dict[str, object] = {
        "backend": backend,
        "sort": draw(st.sampled_from(SORT_KEYS)),
        "limit": draw(st.integers(1, 12)),
    }
    if draw(st.booleans()):
        q["status"] = draw(st.lists(st.sampled_from(STATUSES), min_size=1, unique=True))
    if draw(st.booleans()):
        q["text"] = draw(st.sampled_from(["onboard", "ACME", "o", "close"]))
    if draw(st.booleans()):
        q["created_after"] = _hours(draw)
    if draw(st.booleans()):
        q["created_before"] = BASE + timedelta(hours=800)
    if draw(st.booleans()):
        q["updated_before"] = _hours(draw) + timedelta(hours=400)
    if draw(st.booleans()):
        q["owner"] = draw(st.sampled_from(["ann@x.test", "BOB@x.test"]))
    if draw(st.booleans()):
        q["tags"] = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=2, unique=True))
    return ProcessQuery.model_validate(q)


async def walk(backends: list[MemoryBackend], query: ProcessQuery) -> list[ListResult]:
    pages: list[ListResult] = []
    cursor = None
    for _ in range(1000):
        page = await run_list(backends, query.with_changes(cursor=cursor))
        assert page.count == len(page.processes) <= query.limit
        pages.append(page)
        if not page.has_more:
            assert page.next_cursor is None
            return pages
        cursor = page.next_cursor
    raise AssertionError("cursor walk did not end")


def ids(rows: list[ProcessSummary]) -> list[tuple[str, str]]:
    return [(r.backend, r.id) for r in rows]


backend_shapes = st.fixed_dictionaries(
    {
        "addressing": st.sampled_from(["page", "offset", "token"]),
        "max_page_size": st.integers(1, 12),
        "native": st.sets(st.sampled_from(FILTER_FIELDS[:-1])).map(frozenset),
        "parallel_pages": st.integers(1, 4),
        "total_known": st.booleans(),
        "max_scan": st.sampled_from([3, 7, 5000]),
    }
)


@SETTINGS
@given(rows=row_lists(), query=queries(), shape=backend_shapes)
def test_cursor_walk_equals_local_evaluation_for_any_backend_shape(rows, query, shape) -> None:
    backend = MemoryBackend("m", rows, **shape)
    pages = anyio.run(walk, [backend], query)
    walked = [r for p in pages for r in p.processes]
    assert ids(walked) == ids(evaluate(query, backend.rows))


@SETTINGS
@given(
    left=row_lists("l"),
    right=row_lists("r"),
    query=queries("all"),
    shapes=st.tuples(backend_shapes, backend_shapes),
)
def test_fan_out_merges_instances_in_query_order_without_loss(left, right, query, shapes) -> None:
    a = MemoryBackend("alpha", left, **shapes[0])
    b = MemoryBackend("beta", right, **shapes[1])
    pages = anyio.run(walk, [a, b], query)
    walked = [r for p in pages for r in p.processes]
    assert ids(walked) == ids(evaluate(query, a.rows + b.rows))


def test_limit_within_one_page_costs_one_request_of_exactly_that_size() -> None:
    backend = MemoryBackend("m", sample_rows(500), max_page_size=100)
    result = anyio.run(run_list, [backend], ProcessQuery(backend="m", limit=5))
    assert (result.count, result.total, result.has_more) == (5, 500, True)
    assert backend.fetches == [(0, 5)]


def test_native_filters_fetch_ceil_n_over_page_size_pages_in_parallel_waves() -> None:
    backend = MemoryBackend("m", sample_rows(1000), max_page_size=100, parallel_pages=4)
    result = anyio.run(run_list, [backend], ProcessQuery(backend="m", limit=1000))
    assert (result.count, result.has_more) == (1000, False)
    assert sorted(backend.fetches) == [(i * 100, 100) for i in range(10)]


def test_resuming_at_an_unaligned_offset_picks_a_page_size_that_needs_one_request() -> None:
    backend = MemoryBackend("m", sample_rows(500), max_page_size=100)
    first = anyio.run(run_list, [backend], ProcessQuery(backend="m", limit=5))
    backend.fetches.clear()
    query = ProcessQuery(backend="m", limit=50, cursor=first.next_cursor)
    second = anyio.run(run_list, [backend], query)
    assert second.count == 50
    assert len(backend.fetches) == 1


def test_date_bound_on_a_date_sorted_stream_stops_early() -> None:
    backend = MemoryBackend("m", sample_rows(1000), max_page_size=50, native=frozenset())
    query = ProcessQuery(backend="m", limit=100, created_after=BASE + timedelta(days=980))
    result = anyio.run(run_list, [backend], query)
    assert [r.id for r in result.processes] == [f"p{i:04d}" for i in range(999, 979, -1)]
    assert not result.has_more
    assert len(backend.fetches) == 1  # the first 50 rows already pass the bound


def test_scan_cap_returns_partial_page_with_cursor_and_warning() -> None:
    backend = MemoryBackend("m", sample_rows(300), max_page_size=20, max_scan=40)
    query = ProcessQuery(backend="m", text="no such name")
    result = anyio.run(run_list, [backend], query)
    assert (result.count, result.has_more) == (0, True)
    assert result.next_cursor
    assert result.scanned == 40
    assert any("scan cap 40" in w for w in result.warnings)
    assert [(a.field, a.mode) for a in result.applied] == [("text", "local")]


def test_total_is_reported_only_when_every_filter_is_native() -> None:
    native = MemoryBackend("m", sample_rows(30), native=frozenset({"status"}))
    local = MemoryBackend("m", sample_rows(30))
    q = ProcessQuery(backend="m", status=("open",))
    assert anyio.run(run_list, [native], q).total == 30
    assert anyio.run(run_list, [local], q).total is None


def test_cursor_from_another_query_is_refused_with_a_fix() -> None:
    backend = MemoryBackend("m", sample_rows(30))
    first = anyio.run(run_list, [backend], ProcessQuery(backend="m", limit=5))
    other = ProcessQuery(backend="m", limit=5, text="run", cursor=first.next_cursor)
    with pytest.raises(InvalidCursorError) as err:
        anyio.run(run_list, [backend], other)
    assert "different query" in err.value.message
    assert "repeat the exact filters" in (err.value.hint or "")


@pytest.mark.parametrize("garbage", ["x", "AAAA", "not a cursor!", encode_cursor("f", {})[:-3]])
def test_garbage_cursor_is_refused_not_crashed(garbage: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(garbage, "f")


def test_changing_limit_or_detail_keeps_a_cursor_valid() -> None:
    q = ProcessQuery(backend="m", limit=5)
    cursor = encode_cursor(q.fingerprint(), {"m": 5})
    assert decode_cursor(cursor, q.with_changes(limit=50, detail="ids").fingerprint()) == {"m": 5}


@given(st.integers(0, 5000), st.integers(1, 1000), st.integers(1, 250))
def test_page_geometry_never_needs_more_requests_than_the_largest_page(offset, need, max_size):
    size = page_geometry(offset, need, max_size)
    assert 1 <= size <= max_size

    def count(s: int) -> int:
        return (offset + need - 1) // s - offset // s + 1

    assert count(size) <= count(max_size)


class FlakyBackend(MemoryBackend):
    """Fails on one page offset, as a backend outage mid-stream would."""

    attempts: list[object]

    async def fetch_page(self, plan, at, size):  # type: ignore[no-untyped-def]
        self.__dict__.setdefault("attempts", []).append(at)
        if at == 20:
            raise BackendUnavailableError("down", backend=self.name, status=503)
        return await super().fetch_page(plan, at, size)


def test_a_failed_prefetch_that_is_never_needed_fails_nothing() -> None:
    # Each instance prefetches enough for the whole limit, but the merge takes about half
    # from each: "bad" fetches its failing third page and never has to read it.
    good = MemoryBackend("good", sample_rows(30), max_page_size=10, parallel_pages=4)
    bad = FlakyBackend("bad", sample_rows(30), max_page_size=10, parallel_pages=4)
    result = anyio.run(run_list, [bad, good], ProcessQuery(backend="all", limit=30))
    assert 20 in bad.attempts  # the failing page was prefetched...
    assert result.count == 30
    assert result.warnings == []  # ...and never needed


def test_failure_in_a_parallel_wave_surfaces_as_the_typed_backend_error() -> None:
    backend = FlakyBackend("m", sample_rows(100), max_page_size=10, parallel_pages=4)
    with pytest.raises(BackendUnavailableError):
        anyio.run(run_list, [backend], ProcessQuery(backend="m", limit=100))


def test_fan_out_reports_a_failing_instance_and_answers_from_the_others() -> None:
    good = MemoryBackend("good", sample_rows(30), max_page_size=10)
    bad = FlakyBackend("bad", sample_rows(30), max_page_size=10, parallel_pages=4)
    result = anyio.run(run_list, [bad, good], ProcessQuery(backend="all", limit=60))
    assert {r.backend for r in result.processes} == {"good", "bad"}
    assert sum(r.backend == "good" for r in result.processes) == 30
    assert any(w.startswith("bad failed:") and "HTTP 503" in w for w in result.warnings)
    assert result.has_more  # the failed instance can be retried through the cursor


@pytest.mark.parametrize("entry", ["12", -1, True, [None, 0, 5], 1.5])
def test_a_well_formed_cursor_with_a_bad_position_is_refused(entry: object) -> None:
    backend = MemoryBackend("m", sample_rows(30))
    query = ProcessQuery(backend="m", limit=5)
    forged = query.with_changes(cursor=encode_cursor(query.fingerprint(), {"m": entry}))
    with pytest.raises(InvalidCursorError):
        anyio.run(run_list, [backend], forged)


def test_a_cursor_is_refused_when_the_set_of_instances_changed() -> None:
    a, b = MemoryBackend("a", sample_rows(10)), MemoryBackend("b", sample_rows(10))
    query = ProcessQuery(backend="all", limit=3)
    first = anyio.run(run_list, [a], query)
    with pytest.raises(InvalidCursorError, match="instances behind this cursor changed"):
        anyio.run(run_list, [a, b], query.with_changes(cursor=first.next_cursor))


# -- collections with no sorts: the vendor's own order ----------------------------------------


def vendor_order(query: ProcessQuery, rows: list[ProcessSummary]) -> list[ProcessSummary]:
    """What a walk of a collection with no sorts returns: the evaluator's rows, in the
    order the backend lists them (not the query's sort)."""
    kept = {r.id for r in evaluate(query, rows)}
    return [r for r in rows if r.id in kept]


@SETTINGS
@given(rows=row_lists(), query=queries(), shape=backend_shapes)
def test_a_collection_with_no_sorts_walks_whole_in_the_backends_own_order(
    rows, query, shape
) -> None:
    backend = MemoryBackend("m", rows, sorts=(), **shape)
    pages = anyio.run(walk, [backend], query)
    walked = [r for p in pages for r in p.processes]
    # No overlap, no gap, and no early stop on a date bound: the rows are in no date order.
    assert ids(walked) == ids(vendor_order(query, backend.rows))
    own = "m: rows in Memory's own order: items cannot be sorted"
    assert all(own in p.warnings for p in pages)


def test_a_date_bound_on_a_stream_in_vendor_order_checks_every_row() -> None:
    # The list holds days 50-99, then 0-49. Were it sorted by -created_at, day 0 (past the
    # bound) would end the stream early; in vendor order the driver must read on.
    rows = sample_rows(100)
    shuffled = rows[50:] + rows[:50]
    backend = MemoryBackend("m", shuffled, max_page_size=10, sorts=())
    query = ProcessQuery(backend="m", limit=100, created_after=BASE + timedelta(days=20))
    result = anyio.run(run_list, [backend], query)
    expected = [f"p{i:04d}" for i in [*range(50, 100), *range(20, 50)]]
    assert [r.id for r in result.processes] == expected
    assert len(backend.fetches) == 10  # every page read, none skipped by early stop


def test_a_fan_out_leaves_out_an_instance_in_vendor_order_and_keeps_its_cursor_valid() -> None:
    sorted_ = MemoryBackend("sorted", sample_rows(12), max_page_size=5)
    natural = MemoryBackend("natural", sample_rows(12), max_page_size=5, sorts=())
    query = ProcessQuery(backend="all", limit=5)
    pages = anyio.run(walk, [sorted_, natural], query)
    walked = [r for p in pages for r in p.processes]
    assert ids(walked) == ids(evaluate(query, sorted_.rows))
    assert natural.fetches == []
    skipped = [w for w in pages[0].warnings if w.startswith("natural skipped:")]
    assert len(skipped) == 1
    assert "cannot be merged" in skipped[0]
    assert "ask backend=natural alone" in skipped[0]


def test_a_fan_out_cursor_survives_an_instance_the_plan_refused() -> None:
    class Refusing(MemoryBackend):
        async def plan(self, query):  # type: ignore[no-untyped-def]
            raise UnsupportedQueryError("no", backend=self.name, field="status")

    good, bad = (
        MemoryBackend("good", sample_rows(12), max_page_size=5),
        Refusing("bad", sample_rows(3)),
    )
    query = ProcessQuery(backend="all", limit=5)
    pages = anyio.run(walk, [good, bad], query)
    assert ids([r for p in pages for r in p.processes]) == ids(evaluate(query, good.rows))
    assert "bad skipped: no" in pages[0].warnings


def test_tools_refuse_an_explicit_sort_on_a_collection_with_no_sorts() -> None:
    backend = MemoryBackend("m", sample_rows(12), sorts=())
    instances = Instances([backend])
    with pytest.raises(UnsupportedQueryError) as caught:
        anyio.run(list_processes, instances, {"backend": "m", "sort": "-created_at"})
    assert caught.value.field == "sort"
    assert "leave sort out" in caught.value.for_model()
    result = anyio.run(list_processes, instances, {"backend": "m", "limit": 3})
    assert [r["id"] for r in result.records()] == ["p0000", "p0001", "p0002"]
    assert result.warnings == ["m: rows in Memory's own order: items cannot be sorted"]
