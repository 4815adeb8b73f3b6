"""Fan-out cursors (`backend="all"`) when instances are skipped or fail.

A skipped instance (it cannot take the query) and a failed one (unreachable) are reported
on every page, and the cursor keeps working: walking to the end returns every row of the
instances that answer, once each. A failed instance is tried again on the next page from
where it stopped; a skipped one stays skipped for the whole walk.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.memory_backend import BASE, MemoryBackend, sample_rows
from tests.test_paging import ids, queries, row_lists, walk
from tools.backends.base import PageResult, Plan, Position
from tools.cursor import RETRY, SKIPPED
from tools.errors import BackendUnavailableError, InvalidCursorError, UnsupportedQueryError
from tools.model import ListResult, ProcessSummary
from tools.paging import REJOINED, STILL_SKIPPED, decode_cursor, encode_cursor, run_list
from tools.query import ProcessQuery, evaluate


class Refusing(MemoryBackend):
    """Cannot filter by the fields in `refuses`, as Frends definitions have no status."""

    def __init__(self, *args: object, refuses: frozenset[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.refuses = refuses

    async def plan(self, query: ProcessQuery) -> Plan:
        for name in sorted(self.refuses & set(query.used_filters())):
            raise UnsupportedQueryError(
                f"{self.name} cannot filter by {name}", backend=self.name, field=name
            )
        return await super().plan(query)


class Outage(MemoryBackend):
    """The first `times` requests for a page holding a row at a position in `down` fail
    (HTTP 503), as an outage would; the next ones succeed."""

    def __init__(
        self, *args: object, down: frozenset[int], times: int = 1, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.down = dict.fromkeys(down, times)
        self.failures = 0

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        offset = int(str(at).removeprefix("t")) if at is not None else 0
        hit = [i for i in range(offset, offset + size) if self.down.get(i)]
        if hit:
            for i in hit:
                self.down[i] -= 1
            self.failures += 1
            raise BackendUnavailableError("down", backend=self.name, status=503)
        return await super().fetch_page(plan, at, size)


class Unreachable(MemoryBackend):
    """Discovery fails the first `times` calls, as an instance that is down would."""

    def __init__(self, *args: object, times: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.times = times

    async def discover(self) -> None:
        if self.times > 0:
            self.times -= 1
            raise BackendUnavailableError("unreachable", backend=self.name, status=503)


# Three instances per example make each one slower than the two-instance property of
# tests/test_paging.py; fewer examples keep the file near its time.
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rows(n: int, prefix: str = "p") -> list[ProcessSummary]:
    """Rows whose times interleave across instances (and sometimes tie)."""
    return sample_rows(
        n,
        prefix,
        created=lambda i: BASE + timedelta(hours=i * 7 % 97),
        owner=lambda i: "ann@x.test" if i % 2 else "bob@x.test",
    )


async def walk_on(backends: list[MemoryBackend], query: ProcessQuery) -> list[ListResult]:
    """The pages from the query's cursor to the end."""
    pages: list[ListResult] = []
    while True:
        page = await run_list(backends, query)
        pages.append(page)
        if page.next_cursor is None or len(pages) > 100:
            return pages
        query = query.with_changes(cursor=page.next_cursor)


def walked(pages: list[ListResult]) -> list[ProcessSummary]:
    return [r for p in pages for r in p.processes]


@SETTINGS
@given(
    left=row_lists("l"),
    right=row_lists("r"),
    third=row_lists("t"),
    query=queries("all"),
    down=st.sets(st.integers(0, 45)).map(frozenset),
    addressing=st.sampled_from(["page", "offset", "token"]),
    page_size=st.integers(1, 8),
)
def test_walking_to_the_end_returns_every_answering_row_once_whatever_skips_or_fails(
    left, right, third, query, down, addressing, page_size
) -> None:
    alpha = MemoryBackend("alpha", left, max_page_size=5)
    beta = Outage(
        "beta", right, down=down, addressing=addressing, max_page_size=page_size, parallel_pages=2
    )
    gamma = Refusing("gamma", third, refuses=frozenset({"owner", "tags"}))
    refused = bool({"owner", "tags"} & set(query.used_filters()))
    pages = anyio.run(walk, [alpha, beta, gamma], query)
    got = ids(walked(pages))
    answering = alpha.rows + beta.rows + ([] if refused else gamma.rows)
    expected = ids(evaluate(query, answering))
    assert len(got) == len(set(got)), "no row twice"
    assert sorted(got) == sorted(expected), "no row missing"
    if beta.failures == 0:
        assert got == expected, "without failures the walk is in query order"
    for page in pages:
        assert any(w.startswith("gamma skipped:") for w in page.warnings) == refused


def test_a_skipped_instance_is_reported_on_every_page_and_the_cursor_keeps_working() -> None:
    answering = MemoryBackend("alpha", rows(23), max_page_size=4)
    refusing = Refusing("gamma", rows(9, "g"), refuses=frozenset({"status"}))
    query = ProcessQuery(backend="all", status=("open",), limit=5)
    pages = anyio.run(walk, [answering, refusing], query)
    assert len(pages) == 5
    assert ids(walked(pages)) == ids(evaluate(query, answering.rows))
    for page in pages:
        assert "gamma skipped: gamma cannot filter by status" in page.warnings
    first = decode_cursor(pages[0].next_cursor or "", query.fingerprint())
    assert first["gamma"] == SKIPPED


def test_a_skipped_instance_stays_skipped_even_when_it_could_answer_later() -> None:
    answering = MemoryBackend("alpha", rows(10), max_page_size=4)
    refusing = Refusing("gamma", rows(9, "g"), refuses=frozenset({"status"}))
    query = ProcessQuery(backend="all", status=("open",), limit=4)
    first = anyio.run(run_list, [answering, refusing], query)
    refusing.refuses = frozenset()
    second = anyio.run(
        run_list, [answering, refusing], query.with_changes(cursor=first.next_cursor)
    )
    assert {r.backend for r in second.processes} == {"alpha"}
    assert f"gamma skipped: {STILL_SKIPPED}" in second.warnings


def test_an_instance_unreachable_on_the_first_page_joins_from_its_start_on_the_next() -> None:
    answering = MemoryBackend("alpha", rows(12), max_page_size=4)
    down = Unreachable("beta", rows(6, "b"), times=1)
    query = ProcessQuery(backend="all", limit=5)
    first = anyio.run(run_list, [answering, down], query)
    assert any(w.startswith("beta failed:") and "HTTP 503" in w for w in first.warnings)
    assert {r.backend for r in first.processes} == {"alpha"}
    assert decode_cursor(first.next_cursor or "", query.fingerprint())["beta"] == {RETRY: None}
    pages = [
        first,
        *anyio.run(walk_on, [answering, down], query.with_changes(cursor=first.next_cursor)),
    ]
    assert f"beta: {REJOINED}" in pages[1].warnings
    got = ids(walked(pages))
    assert sorted(got) == sorted(ids(answering.rows + down.rows))
    assert len(got) == len(set(got))


def test_an_instance_that_fails_mid_walk_is_retried_from_where_it_stopped() -> None:
    answering = MemoryBackend("alpha", rows(20), max_page_size=5)
    # Twice: the first failure hits a prefetch that call does not need (and drops).
    flaky = Outage("beta", rows(20, "b"), down=frozenset({10}), times=2, max_page_size=5)
    query = ProcessQuery(backend="all", limit=8)
    pages = anyio.run(walk, [answering, flaky], query)
    failed = [
        i for i, p in enumerate(pages) if any(w.startswith("beta failed") for w in p.warnings)
    ]
    assert len(failed) == 1
    assert f"beta: {REJOINED}" in pages[failed[0] + 1].warnings
    got = ids(walked(pages))
    assert sorted(got) == sorted(ids(answering.rows + flaky.rows))
    assert len(got) == len(set(got))


def test_a_permanently_skipped_instance_does_not_keep_the_walk_going() -> None:
    answering = MemoryBackend("alpha", rows(3), max_page_size=5)
    refusing = Refusing("gamma", rows(3, "g"), refuses=frozenset({"status"}))
    result = anyio.run(
        run_list, [answering, refusing], ProcessQuery(backend="all", status=("open",))
    )
    assert (result.count, result.has_more, result.next_cursor) == (3, False, None)


@pytest.mark.parametrize(
    "entry",
    [{RETRY: "x"}, {RETRY: 1, "extra": 2}, {"again": 1}, "skip", 2.5],
)
def test_a_forged_fan_out_entry_is_refused(entry: object) -> None:
    a, b = MemoryBackend("a", rows(10)), MemoryBackend("b", rows(10))
    query = ProcessQuery(backend="all", limit=3)
    forged = encode_cursor(query.fingerprint(), {"a": 0, "b": entry})
    with pytest.raises(InvalidCursorError, match="malformed"):
        anyio.run(run_list, [a, b], query.with_changes(cursor=forged))


@pytest.mark.parametrize("entry", [SKIPPED, {RETRY: 0}])
def test_a_single_instance_cursor_never_carries_fan_out_entries(entry: object) -> None:
    backend = MemoryBackend("m", rows(10))
    query = ProcessQuery(backend="m", limit=3)
    forged = encode_cursor(query.fingerprint(), {"m": entry})
    with pytest.raises(InvalidCursorError, match="malformed"):
        anyio.run(run_list, [backend], query.with_changes(cursor=forged))


def test_a_retry_entry_with_a_bad_position_is_refused() -> None:
    a, b = MemoryBackend("a", rows(10)), MemoryBackend("b", rows(10))
    query = ProcessQuery(backend="all", limit=3)
    forged = encode_cursor(query.fingerprint(), {"a": 0, "b": {RETRY: -4}})
    with pytest.raises(InvalidCursorError, match="malformed"):
        anyio.run(run_list, [a, b], query.with_changes(cursor=forged))


def test_an_instance_in_vendor_order_is_skipped_for_the_same_reason_on_every_page() -> None:
    answering = MemoryBackend("alpha", rows(14), max_page_size=4)
    natural = MemoryBackend("natural", rows(6, "n"), sorts=())
    pages = anyio.run(walk, [answering, natural], ProcessQuery(backend="all", limit=4))
    assert len(pages) == 4
    for page in pages:
        (skip,) = [w for w in page.warnings if w.startswith("natural skipped:")]
        assert "cannot be merged" in skip
    assert natural.fetches == []
