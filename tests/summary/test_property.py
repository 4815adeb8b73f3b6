"""The property of issue 17: for random filters and groupings, summarize_processes counts
exactly what counting the rows list_processes returns over the same sandbox data gives
(groups marked exact), and never more (lower bounds).

Filter values come from the rows themselves (statuses, templates, owners, tags, words of
names, dates next to rows' own), so most draws match something; a filter a backend
refuses must be refused by both tools alike. Some draws count with a small scan cap, so
lower bounds are exercised too.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.export.conftest import Sim, open_sim
from tools import groups
from tools.backends.base import Backend
from tools.errors import InputError
from tools.instances import Instances
from tools.list_processes import natural_sort
from tools.model import STATUSES, ProcessSummary
from tools.paging import run_list
from tools.query import DATE_FIELDS, ProcessQuery
from tools.sandbox import SANDBOXES
from tools.summarize import summarize

SIMS = {m.NAME: open_sim(m, seed=9) for m in SANDBOXES}
ROWS: dict[tuple[str, str], list[ProcessSummary]] = {}
SLICEABLE = ("status", "native_status", "template", "owner", "backend", "collection")


async def walk(backend: Backend, query: ProcessQuery) -> list[ProcessSummary]:
    """Every row list_processes returns for `query`, page by page through cursors."""
    query, _ = await natural_sort([backend], query, explicit=False)
    rows: list[ProcessSummary] = []
    cursor = None
    while True:
        page = await run_list([backend], query.with_changes(limit=1000, cursor=cursor))
        rows.extend(page.processes)
        if not page.has_more:
            return rows
        cursor = page.next_cursor


def collections(sim: Sim) -> dict[str, set[str]]:
    """Each collection and the filters it takes (drawing others only makes refusals)."""

    async def body() -> dict[str, set[str]]:
        backend = sim.backend()
        try:
            await backend.discover()
            caps = backend.capabilities()
            # Frends' other agent groups repeat the first; one is enough.
            return {
                c.name: {f for f, s in c.fields.items() if s.mode != "unsupported"}
                for c in caps.collections
                if ":" not in c.name
            }
        finally:
            await backend.aclose()

    return anyio.run(body)


def rows_of(name: str, collection: str) -> list[ProcessSummary]:
    if (name, collection) not in ROWS:

        async def body() -> list[ProcessSummary]:
            backend = SIMS[name].backend()
            try:
                return await walk(backend, ProcessQuery(backend=name, collection=collection))
            finally:
                await backend.aclose()

        ROWS[name, collection] = anyio.run(body)
    return ROWS[name, collection]


@st.composite
def questions(draw: st.DrawFn, name: str) -> tuple[ProcessQuery, tuple[str, ...], int | None]:
    taken = collections(SIMS[name])
    collection = draw(st.sampled_from(sorted(taken)))
    rows = rows_of(name, collection)
    q: dict[str, Any] = {"backend": name, "collection": collection}
    row = draw(st.sampled_from(rows)) if rows else None

    # One draw in three asks what vendor totals can answer: few filters, sliceable groups.
    countable = draw(st.integers(0, 2)) == 0

    def maybe(odds: int, field: str, *, native: bool = False) -> bool:
        if (countable and not native) or field not in taken[collection]:
            return False
        return row is not None and draw(st.integers(0, odds)) == 0

    if maybe(3, "status", native=True):
        q["status"] = draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=2))
    if maybe(4, "native_status", native=True) and row and row.native_status:
        q["native_status"] = [row.native_status]
    if maybe(4, "template", native=True) and row and row.template:
        q["template"] = row.template
    if maybe(4, "owner") and row and row.owner:
        q["owner"] = row.owner_id if row.owner_id and draw(st.booleans()) else row.owner
    if maybe(5, "tags") and row and row.tags:
        q["tags"] = [row.tags[0]]
    if maybe(4, "text") and row and len(row.name) > 3:
        start = draw(st.integers(0, len(row.name) - 3))
        q["text"] = row.name[start : start + 3]
    for bound in DATE_FIELDS:
        if maybe(5, bound) and row is not None:
            moment = getattr(row, bound.rsplit("_", 1)[0] + "_at")
            if moment is not None:
                q[bound] = (moment + timedelta(days=draw(st.integers(-30, 30)))).isoformat()
    if "status" not in q and maybe(6, "due_before"):
        q["overdue"] = True
    choices = SLICEABLE if countable else groups.GROUP_BY
    dimensions = tuple(
        draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2, unique=True))
    )
    cap = draw(st.sampled_from([None, None, None, 100]))
    return ProcessQuery.model_validate(q), dimensions, cap


def check(query: ProcessQuery, dimensions: tuple[str, ...], cap: int | None) -> None:
    sim = SIMS[query.backend]
    counting = (
        sim
        if cap is None
        else Sim(sim.module, sim.core, sim.settings.model_copy(update={"max_scan": cap}))
    )

    async def body() -> None:
        lister, counter = sim.backend(), counting.backend()
        try:
            refused: str | None = None
            try:
                rows = await walk(lister, query)
            except InputError as exc:
                refused = exc.message
            if refused is not None:
                with pytest.raises(InputError) as also:
                    await summarize(Instances([counter]), query, dimensions)
                assert also.value.message == refused
                return
            result = await summarize(Instances([counter]), query, dimensions)
        finally:
            await lister.aclose()
            await counter.aclose()
        expected = Counter(groups.key(dimensions, r, query.now) for r in rows)
        for group in result.groups():
            want = expected[tuple(group.key)]
            if group.exact:
                assert group.count == want, (group, want)
            else:
                assert group.count <= want, (group, want)
        if result.more_groups is None:
            exact = {tuple(g.key) for g in result.groups() if g.exact}
            if result.exact and len(exact) == len(result.groups()):
                assert {tuple(g.key): g.count for g in result.groups()} == +expected
        assert (result.total == len(rows)) if result.exact else (result.total <= len(rows))
        if cap is None:
            assert result.exact
            assert all(g.exact for g in result.groups())

    anyio.run(body)


@pytest.mark.parametrize("name", sorted(SIMS))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_counts_equal_the_rows_list_processes_returns_or_are_at_most_them(
    name: str, data: st.DataObject
) -> None:
    check(*data.draw(questions(name)))
