"""Lists and exports under real quotas and restarts (issue 13, item 1), through the Tallyfy
simulator with its quota enforced server side, per organization, as the vendor does.

- a list that cannot fit its next page in its wall budget answers with the rows it has,
  a cursor, and when the next page can start; never an error;
- an export runs at the vendor's pace, its waits in progress, and can be cancelled;
- after a restart (a new client, the vendor's window still full) both still work.

Client, limiter and simulator share virtual time: minutes of quota pass in milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.export.conftest import names
from tests.sim.virtual_time import VirtualTime, instances_on
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData, generate
from tools.backends.tallyfy.simulator import create_app
from tools.export_process import export_process
from tools.instances import Instances
from tools.list_processes import list_processes
from tools.progress import Progress, reporting
from tools.sim import RateLimit, SimulatorCore, busiest_window

pytestmark = pytest.mark.anyio

PER_MINUTE = 3


@pytest.fixture(scope="module")
def data() -> TallyfyData:
    return generate(seed=5, runs=700)


def sorted_runs(data: TallyfyData) -> list[dict[str, Any]]:
    """Every run in the list's default order (newest first), as the vendor sorts them."""
    return sorted(data.runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)


def vendor(data: TallyfyData, time: VirtualTime, per_minute: int = PER_MINUTE) -> SimulatorCore:
    """Tallyfy with a window of a few requests a minute (as an instance's
    rate_limit_per_minute sets it on our side), 110-190 ms of latency."""
    core = create_app(
        data, token=sandbox.TOKEN, rate_limit=RateLimit(per_minute, 60.0), clock=time.clock
    )
    core.sleep = time.sleep
    core.set_network(0.15, seed=3)
    return core


def client(
    core: SimulatorCore, data: TallyfyData, time: VirtualTime, per_minute: int = PER_MINUTE
) -> Instances:
    """A fresh process's client: its own quota windows, empty (a restart)."""
    settings = sandbox.settings(
        "http://tallyfy.test", data.org_id, rate_limit_per_minute=per_minute
    )
    return instances_on(time, settings, core)


async def listing(instances: Instances, time: VirtualTime, **args: Any) -> Any:
    return await list_processes(
        instances, {"backend": sandbox.NAME, "detail": "ids", **args}, clock=time.clock
    )


async def test_a_list_the_quota_cannot_finish_in_time_answers_with_its_rows_and_when(
    data: TallyfyData,
) -> None:
    time = VirtualTime()
    core = vendor(data, time, per_minute=6)
    instances = client(core, data, time, per_minute=6)
    answers: list[Any] = []

    async def session() -> None:
        # Pages 1-4 (in flight at once), the users and page 5 fill the window of 6; page 6
        # would wait about 60 s, longer than the call's 25 s.
        answers.append(await listing(instances, time, limit=600))
        await time.sleep(61.0)  # a caller that waits as told
        answers.append(await listing(instances, time, limit=100, cursor=answers[0].next_cursor))

    await time.run(session)
    await instances.aclose()
    first, second = answers
    assert first.count == 500
    assert first.has_more
    assert first.next_cursor
    note = next(w for w in first.warnings or [] if "next page can start" in w)
    assert note.startswith("Tallyfy allows 6 requests/min; the next page can start in ")
    assert "call again with next_cursor then" in note
    # The cursor resumes exactly after the rows given: no gap, no overlap.
    ids = [r["id"] for r in first.records() + second.records()]
    assert len(ids) == len(set(ids)) == 600
    assert ids == [r["id"] for r in sorted_runs(data)[:600]]
    assert core.rate_limited == 0


async def test_a_list_that_meets_a_full_vendor_window_after_a_restart_is_not_an_error(
    data: TallyfyData,
) -> None:
    time = VirtualTime()
    core = vendor(data, time)
    before, after = client(core, data, time), client(core, data, time)
    answers: list[Any] = []

    async def session() -> None:
        await listing(before, time, limit=200)  # users and two pages: the window is full
        answers.append(await listing(after, time, limit=100))  # the "restarted" process

    await time.run(session)
    await before.aclose()
    await after.aclose()
    (answer,) = answers
    assert core.rate_limited >= 1  # the vendor's 429 is how the new process learns
    assert answer.count == 0
    assert answer.has_more
    assert any("the next page can start in" in w for w in answer.warnings or []), answer


async def test_an_export_after_a_restart_waits_for_the_vendor_and_shows_the_waits(
    data: TallyfyData, tmp_path: Path
) -> None:
    time = VirtualTime()
    core = vendor(data, time)
    messages: list[str] = []

    async def sink(done: float, total: float | None, message: str) -> None:
        messages.append(message)

    results: list[Any] = []

    async def session() -> None:
        for run in range(2):  # the second export is a restarted process: empty windows
            instances = client(core, data, time)
            progress = Progress(sink, clock=time.clock)
            with reporting(progress):
                results.append(
                    await export_process(
                        instances,
                        {"backend": sandbox.NAME, "format": "csv", "file_name": f"run{run}.csv"},
                        directory=tmp_path,
                        progress=progress,
                        clock=time.clock,
                    )
                )
            await instances.aclose()

    await time.run(session)
    first, second = results
    assert first.rows == second.rows == len(data.runs)
    assert first.sha256 == second.sha256
    accepted = [a.at for a in core.arrivals if not a.limited]
    assert busiest_window(accepted, 60.0) <= PER_MINUTE
    assert any(m.startswith("waiting ") and m.endswith(" s for Tallyfy's quota") for m in messages)
    assert any("waited" in w and "for the quota" in w for w in second.warnings)


async def test_an_export_waiting_for_the_quota_can_be_cancelled_and_leaves_no_file(
    data: TallyfyData, tmp_path: Path
) -> None:
    time = VirtualTime()
    core = vendor(data, time)
    instances = client(core, data, time)
    cancelled_at: list[float] = []

    async def session() -> None:
        with anyio.CancelScope() as scope:

            async def sink(done: float, total: float | None, message: str) -> None:
                if message.startswith("waiting "):
                    cancelled_at.append(time.clock())
                    scope.cancel()  # the person pressed Ctrl-C, the client sent cancel

            progress = Progress(sink, clock=time.clock)
            with reporting(progress):
                await export_process(
                    instances,
                    {"backend": sandbox.NAME, "format": "csv", "file_name": "all.csv"},
                    directory=tmp_path,
                    progress=progress,
                    clock=time.clock,
                )

    await time.run(session)
    await instances.aclose()
    assert cancelled_at
    assert cancelled_at[0] < 60.0  # while waiting, not after
    assert names(tmp_path) == []


async def test_an_export_that_would_pass_its_maximum_stops_saying_how_to_allow_more(
    data: TallyfyData, tmp_path: Path
) -> None:
    time = VirtualTime()
    core = vendor(data, time)
    instances = client(core, data, time)
    caught: list[BaseException] = []

    async def session() -> None:
        try:
            await export_process(
                instances,
                {"backend": sandbox.NAME, "format": "csv"},
                directory=tmp_path,
                max_seconds=45.0,
                clock=time.clock,
            )
        except Exception as exc:
            caught.append(exc)

    await time.run(session)
    await instances.aclose()
    (error,) = caught
    text = str(error)
    assert "longer than its maximum of 45 s" in text
    assert "export_max_minutes" in text
    assert names(tmp_path) == []


async def test_a_get_that_needed_a_retry_says_so_in_its_notes(data: TallyfyData) -> None:
    from tools.get_process import get_process
    from tools.sim import Fault

    time = VirtualTime()
    core = vendor(data, time, per_minute=100)
    core.faults.add(Fault(kind="status", status=500, path=r"/runs/"))
    instances = client(core, data, time, per_minute=100)
    details: list[Any] = []

    async def session() -> None:
        args = {"backend": sandbox.NAME, "id": data.runs[0]["id"]}
        details.append(await get_process(instances, args, clock=time.clock))

    await time.run(session)
    await instances.aclose()
    (detail,) = details
    assert detail.id == data.runs[0]["id"]
    assert any("1 read retried (HTTP 500)" in n for n in detail.notes or []), detail.notes
