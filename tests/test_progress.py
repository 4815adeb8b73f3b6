"""tools.progress: strictly increasing values, at most one notification per interval plus the
first and the last, on a fake clock (no sleeps)."""

from __future__ import annotations

from itertools import pairwise

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.progress import Progress, current, note, reporting

pytestmark = pytest.mark.anyio

Sent = list[tuple[float, float | None, str]]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """Records what was sent, and when on the fake clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: Sent = []
        self.times: list[float] = []

    async def __call__(self, done: float, total: float | None, message: str) -> None:
        self.sent.append((done, total, message))
        self.times.append(self.clock.now)


def reporter(interval: float = 0.5) -> tuple[Progress, Sent, Clock]:
    clock = Clock()
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
        clock = Clock()
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
