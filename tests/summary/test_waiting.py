"""Counting under a quota (issue 13's rule, waiting is not failing): a summary that cannot
fit its next request in the call's budget answers with what it counted, marks the counts
as lower bounds and says when to ask again; never an error. Client, limiter and the
Tallyfy simulator (its quota enforced per organization) share virtual time."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sim.virtual_time import VirtualTime, instances_on
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData, generate
from tools.backends.tallyfy.simulator import create_app
from tools.model import SummaryResult
from tools.sim import RateLimit
from tools.summarize import summarize_processes

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def data() -> TallyfyData:
    return generate(seed=5, runs=700)


async def summary(
    data: TallyfyData, per_minute: int, **arguments: Any
) -> tuple[SummaryResult, int]:
    """One summary against a fresh vendor and client at `per_minute`, and the vendor's 429s."""
    time = VirtualTime()
    core = create_app(
        data, token=sandbox.TOKEN, rate_limit=RateLimit(per_minute, 60.0), clock=time.clock
    )
    core.sleep = time.sleep
    core.set_network(0.15, seed=3)
    settings = sandbox.settings(
        "http://tallyfy.test", data.org_id, rate_limit_per_minute=per_minute
    )
    instances = instances_on(time, settings, core)
    answers: list[SummaryResult] = []

    async def call() -> None:
        answers.append(
            await summarize_processes(
                instances, {"backend": sandbox.NAME, **arguments}, clock=time.clock
            )
        )

    await time.run(call)
    await instances.aclose()
    return answers[0], core.rate_limited


async def test_vendor_totals_the_quota_cannot_fit_say_when_instead_of_failing(
    data: TallyfyData,
) -> None:
    # Five counts, three a minute: the fourth would wait about a minute, past the 25 s.
    result, refused = await summary(data, 3, group_by=["native_status"])
    assert refused == 0
    assert not result.exact
    assert result.rows == []
    (note,) = [w for w in result.warnings or [] if "not counted" in w]
    assert note.startswith(f"{sandbox.NAME} not counted: Tallyfy allows 3 requests/min; the ")
    assert note.endswith("call again then")


async def test_rows_counted_until_the_quota_are_lower_bounds_with_when(
    data: TallyfyData,
) -> None:
    # Counting rows (the update time is checked here): the users and five of the seven
    # pages fill the window of six; the sixth page would wait about a minute.
    result, refused = await summary(data, 6, updated_before="2026-10-01", group_by=["template"])
    assert refused == 0
    assert result.rows
    assert not result.exact
    assert {exact for *_, exact in result.rows} == {False}
    note = next(w for w in result.warnings or [] if "before the quota" in w)
    assert "Tallyfy allows 6 requests/min; the next page can start in " in note
    assert result.counted[0].examined is not None
    assert 0 < result.counted[0].examined < len(data.runs)


async def test_within_the_quota_the_same_counts_are_exact(data: TallyfyData) -> None:
    result, _ = await summary(data, 100, group_by=["native_status"])
    assert result.exact
    assert result.total == len(data.runs)
    assert not [w for w in result.warnings or [] if "not counted" in w]
