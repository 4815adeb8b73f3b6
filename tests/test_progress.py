"""tools.progress: strictly increasing values, at most one notification per interval plus the
first and the last, on a fake clock (no sleeps); and what the paging driver reports."""

from __future__ import annotations

from itertools import pairwise

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.memory_backend import MemoryBackend, sample_rows
from tests.sim.virtual_time import FakeClock
from tools.model import ProcessSummary
from tools.paging import run_list, stream_rows
from tools.progress import Progress, current, note, reporting
from tools.query import ProcessQuery

pytestmark = pytest.mark.anyio

Sent = list[tuple[float, float | None, str]]


class Sink:
    """Records what was sent, and when on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: Sent = []
        self.times: list[float] = []

    async def __call__(self, done: float, total: float | None, message: str) -> None:
        self.sent.append((done, total, message))
        self.times.append(self.clock.now)


def reporter(interval: float = 0.5) -> tuple[Progress, Sent, FakeClock]:
    clock = FakeClock()
    sink = Sink(clock)
    return Progress(sink, interval=interval, clock=clock), sink.sent, clock


async def test_the_first_update_goes_out_at_once_and_a_repeat_never() -> None:
    progress, sent, clock = reporter()
    await progress.update(0, 500, "0 of 500 rows")
    for _ in range(9):
        clock.now += 1
        await progress.update(0, 500, "0 of 500 rows")
    assert sent == [(0, 500, "0 of 500 rows")]


async def test_updates_inside_the_interval_wait_and_the_newest_goes_out_after_it() -> None:
    progress, sent, clock = reporter()
    await progress.update(10, None, "10")
    clock.now += 0.2
    await progress.update(20, None, "20")
    clock.now += 0.2
    await progress.update(30, 100, "30")
    assert [s[0] for s in sent] == [10]
    clock.now += 0.1  # 0.5 s after the first
    await progress.update(40, 100, "40")
    assert sent[-1] == (40, 100, "40")


async def test_finish_is_sent_whatever_the_throttle_says() -> None:
    progress, sent, clock = reporter()
    await progress.update(10, 100, "10")
    clock.now += 0.01
    await progress.update(60, 100, "60")
    await progress.finish(100, 100, "done")
    assert sent == [(10, 100, "10"), (100, 100, "done")]


async def test_finish_at_the_value_already_sent_sends_nothing_more() -> None:
    progress, sent, _ = reporter()
    await progress.update(100, 100, "100")
    await progress.finish(100, 100, "written")
    assert sent == [(100, 100, "100")]


async def test_a_note_rises_by_a_fraction_of_a_row_and_rows_still_rise_past_it() -> None:
    progress, sent, clock = reporter()
    await progress.update(58, 200, "58 of 200 rows")
    clock.now += 1
    await progress.note("waiting 3 s for the vendor's quota")
    clock.now += 1
    await progress.note("still waiting")
    clock.now += 1
    await progress.update(59, 200, "59 of 200 rows")
    assert [s[0] for s in sent] == [58, 58.5, 58.75, 59]
    assert sent[1] == (58.5, 200, "waiting 3 s for the vendor's quota")


async def test_a_note_inside_the_interval_rides_on_the_waiting_rows() -> None:
    progress, sent, clock = reporter()
    await progress.update(5, None, "5")
    clock.now += 0.1
    await progress.update(9, None, "9")
    await progress.note("waiting")
    clock.now += 0.5
    await progress.note("waiting")
    assert sent == [(5, None, "5"), (9, None, "waiting")]


async def test_concurrent_reports_go_out_in_increasing_order() -> None:
    progress, sent, clock = reporter(interval=0.0)

    async def report(value: int) -> None:
        clock.now += 1
        await progress.update(value, None, str(value))

    async with anyio.create_task_group() as tg:
        for value in (1, 3, 2, 5, 4, 6):
            tg.start_soon(report, value)
    values = [s[0] for s in sent]
    assert values == sorted(set(values))


async def test_the_current_reporter_gets_notes_from_code_below_the_call() -> None:
    progress, sent, _ = reporter()
    await note("nobody is watching")  # no current reporter: nothing happens
    with reporting(progress):
        assert current() is progress
        await note("waiting for the quota")
    assert current() is None
    assert sent == [(0.0, None, "waiting for the quota")]


async def test_without_a_sink_nothing_is_sent_and_nothing_fails() -> None:
    progress = Progress(None)
    await progress.update(1, 2, "x")
    await progress.note("x")
    await progress.finish(2, 2, "x")
    assert progress.sent == 0


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["update", "note", "tick"]),
            st.integers(0, 50),
            st.floats(0, 0.7),
        ),
        max_size=60,
    )
)
def test_any_sequence_of_reports_is_strictly_increasing_and_throttled(
    steps: list[tuple[str, int, float]],
) -> None:
    async def body() -> None:
        clock = FakeClock()
        sink = Sink(clock)
        progress = Progress(sink, clock=clock)
        done = 0
        for kind, rows, wait in steps:
            clock.now += wait
            if kind == "update":
                done += rows
                await progress.update(done, None, "")
            elif kind == "note":
                await progress.note("n")
        await progress.finish(done + 1, done + 1, "end")
        values = [s[0] for s in sink.sent]
        assert all(a < b for a, b in pairwise(values))
        assert values[-1] == done + 1
        # Every gap but the last (finish) respects the interval.
        gaps = [b - a for a, b in pairwise(sink.times)][:-1]
        assert all(gap >= 0.5 for gap in gaps)

    anyio.run(body)


# -- the paging driver's progress ---------------------------------------------------------


class Ticking(FakeClock):
    """Each reading moves time on by `step` seconds."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


async def export_progress(backends: list[MemoryBackend], step: float, **query: object) -> Sink:
    clock = Ticking(step)
    sink = Sink(clock)
    rows: list[ProcessSummary] = []

    async def keep(batch: list[ProcessSummary]) -> None:
        rows.extend(batch)

    progress = Progress(sink, clock=clock)
    q = ProcessQuery.model_validate({"backend": "all", **query})
    stats = await stream_rows(backends, q, keep, progress=progress)
    await progress.finish(stats.examined, stats.examined, f"{len(rows)} rows written")
    return sink


async def test_a_fan_out_export_reports_the_running_sum_of_the_totals() -> None:
    alpha = MemoryBackend("alpha", sample_rows(30, "a"), max_page_size=5)
    beta = MemoryBackend("beta", sample_rows(50, "b"), max_page_size=10)
    sink = await export_progress([alpha, beta], step=1.0)  # every update is due
    values = [s[0] for s in sink.sent]
    totals = [s[1] for s in sink.sent]
    assert values == sorted(set(values))
    assert totals[0] in (30, 50), "the first notification carries the first total reported"
    assert 80 in totals[:-1], "then the sum once both reported"
    assert totals[:-1] == sorted(totals[:-1])
    assert sink.sent[-1] == (80, 80, "80 rows written")


async def test_a_backend_without_a_total_counts_what_it_gave_so_the_total_never_lags() -> None:
    known = MemoryBackend("alpha", sample_rows(30, "a"), max_page_size=5)
    unknown = MemoryBackend("beta", sample_rows(40, "b"), max_page_size=10, total_known=False)
    sink = await export_progress([known, unknown], step=1.0)
    assert all(total is not None and done <= total for done, total, _ in sink.sent)
    assert sink.sent[-1][:2] == (70, 70)


async def test_without_any_total_progress_counts_rows_alone() -> None:
    unknown = MemoryBackend("beta", sample_rows(40, "b"), max_page_size=10, total_known=False)
    sink = await export_progress([unknown], step=1.0)
    assert [s[1] for s in sink.sent[:-1]] == [None] * (len(sink.sent) - 1)


async def test_an_export_of_many_pages_sends_about_two_a_second_plus_first_and_last() -> None:
    backends = [
        MemoryBackend(n, sample_rows(400, n), max_page_size=4, parallel_pages=3) for n in "abc"
    ]
    sink = await export_progress(backends, step=0.01)
    elapsed = sink.times[-1] - sink.times[0]
    assert len(sink.sent) <= elapsed / 0.5 + 2
    assert len(sink.sent) >= 3, "the bar moves during the export, not only at both ends"
    values = [s[0] for s in sink.sent]
    assert values == sorted(set(values))
    assert values[-1] == 1200


async def test_a_local_scan_reports_rows_examined_and_matches() -> None:
    backend = MemoryBackend("m", sample_rows(60, "m"), max_page_size=10)
    clock = Ticking(1.0)
    sink = Sink(clock)
    query = ProcessQuery(backend="m", text="run 1", limit=5)
    await run_list([backend], query, progress=Progress(sink, clock=clock))
    values = [s[0] for s in sink.sent]
    assert values == sorted(set(values))
    assert any("match" in message for _, _, message in sink.sent)
    assert sink.sent[-1][2].endswith("5 returned")
