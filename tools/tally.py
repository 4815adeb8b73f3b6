"""Counting one instance's matches per group: by the vendor's totals where they are exact,
by counting rows otherwise.

Vendor totals (`Backend.count`: Tallyfy `meta.pagination.total`, yuuvis `totalNumItems`,
Frends `paging.totalCount`, each from a one-row page) are used when the query and every
group's slice of it (tools/groups.py) plan with no local check, so each total is exact.
One request per group, at most COUNT_CONCURRENCY in flight, each within the instance's
quota (the HTTP client's limiter). Template and owner groups come from the backend's
directory, so the query's own total is asked for as well: rows in none of the groups (a
template missing from the directory) or in two would make the groups disagree with it,
and then the rows are counted instead. With more groups than COUNT_BUDGET, the total
comes first, and the rows are counted when reading them takes fewer requests.

Counting rows goes through the shared paging driver (`stream_rows` with the scan cap), so
local filters, early stop and parallel pages work as in a list call. Past the cap the
groups it found are lower bounds, and so is the total unless the vendor reported it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from tools import groups
from tools.backends.base import Backend, Capabilities, Count, Plan
from tools.errors import ProcessMcpError
from tools.fanout import prepare
from tools.list_processes import natural_sort
from tools.model import ApplyNote, Counted, ProcessSummary
from tools.paging import quota_note, stream_rows
from tools.query import ProcessQuery
from tools.tasks import gather

COUNT_CONCURRENCY = 8
COUNT_BUDGET = 20

Key = tuple[str, ...]
AddRows = Callable[[int], Awaitable[None]]


@dataclass
class Tally:
    backend: str
    counts: Counter[Key]
    total: int
    total_exact: bool
    # False: counting stopped at the scan cap, so every group it touched is a lower bound.
    exact: bool
    counted: Counted
    applied: list[ApplyNote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def tally(
    backend: Backend, query: ProcessQuery, dimensions: Sequence[str], add: AddRows
) -> Tally:
    """One instance's groups. Raises what planning or the backend raises."""
    query, _ = await natural_sort([backend], query, explicit=False)
    plan, caps = await prepare(backend, query)
    spent: list[int] = []
    native = await _by_vendor_totals(backend, query, plan, caps, dimensions, add, spent)
    if native is None:
        counted = await _by_rows(backend, query, dimensions, add)
        counted.counted.requests += sum(spent)
        return counted
    native.applied = [
        ApplyNote(backend=backend.name, field=f, mode=s.mode, note=s.note)
        for f, s in plan.applied.items()
    ]
    native.warnings = [f"{backend.name}: {w}" for w in plan.warnings]
    return native


def _shows(
    dimensions: Sequence[str], key: Key, sample: ProcessSummary | None, now: datetime
) -> bool:
    """Whether a row counted for a group shows that group (a directory value that rows
    show differently, such as a guid where rows show no template, would not)."""
    return sample is None or groups.key(dimensions, sample, now) == key


async def _by_vendor_totals(
    backend: Backend,
    query: ProcessQuery,
    plan: Plan,
    caps: Capabilities,
    dimensions: Sequence[str],
    add: AddRows,
    spent: list[int],
) -> Tally | None:
    """The groups from one count request each, or None when they would not be exact
    (the requests that found it out are added to `spent`).

    Every group's plan must be native (the query's own may narrow: Tallyfy's open is
    three native statuses, each counted exactly)."""
    info = caps.collection(plan.collection)
    found = None if info is None else await groups.slices(dimensions, backend, info, query)
    if found is None:
        return None
    plans: list[tuple[Key, Plan]] = []
    for piece in found:
        try:
            sliced, _ = await prepare(backend, query.with_changes(**piece.changes))
        except ProcessMcpError:
            return None
        if sliced.local_fields:
            return None
        plans.append((piece.key, sliced))
    requests = 0
    total: int | None = None
    needs_total = any(d in groups.NEEDS_TOTAL for d in dimensions)
    if (needs_total or len(plans) > COUNT_BUDGET) and plan.local_fields:
        return None  # the query's own total would not be exact
    if len(plans) + needs_total > COUNT_BUDGET:
        first = await backend.count(plan)
        requests += first is not None
        if first is None or math.ceil(first.total / caps.max_page_size) <= len(plans):
            spent.append(requests)
            return None  # no totals here, or reading the rows costs fewer requests
        total, needs_total = first.total, False

    counts: Counter[Key] = Counter()
    answers: list[Count | None] = []

    async def count(key: Key | None, p: Plan) -> None:
        nonlocal requests, total
        answer = await backend.count(p)
        answers.append(answer)
        if answer is None:
            return
        requests += 1
        if key is None:
            total = answer.total
        elif answer.total:
            if not _shows(dimensions, key, answer.sample, query.now):
                answers.append(None)  # the group's rows show another value: count rows
                return
            counts[key] += answer.total

    asked: list[tuple[Key | None, Plan]] = [(None, plan)] if needs_total else []
    asked += plans
    # At most COUNT_CONCURRENCY in flight; each also waits its turn in the quota limiter.
    await gather([partial(count, key, p) for key, p in asked], limit=COUNT_CONCURRENCY)
    summed = sum(counts.values())
    if None in answers or (total is not None and total != summed):
        # No totals for this collection, a group whose rows show another value, or rows
        # in no group (a template missing from the directory) or in two.
        spent.append(requests)
        return None
    await add(summed)  # only now: had the counts been refused, the rows would be counted
    return Tally(
        backend=backend.name,
        counts=counts,
        total=summed,
        total_exact=True,
        exact=True,
        counted=Counted(backend=backend.name, method="vendor totals", requests=requests),
    )


async def _by_rows(
    backend: Backend, query: ProcessQuery, dimensions: Sequence[str], add: AddRows
) -> Tally:
    counts: Counter[Key] = Counter()
    now = query.now

    async def emit(rows: list[ProcessSummary]) -> None:
        counts.update(groups.key(dimensions, row, now) for row in rows)
        await add(len(rows))

    stats = await stream_rows([backend], query, emit, scan_cap=True, stop_on_quota=True)
    total_known = stats.total is not None
    stopped = stats.capped or stats.quota_stop is not None
    warnings = list(stats.warnings)
    if stats.quota_stop is not None:
        warnings.append(
            f"{backend.name}: counted {stats.examined:,} rows before the quota: "
            f"{quota_note(stats.quota_stop)}; call again then for every count"
        )
    return Tally(
        backend=backend.name,
        counts=counts,
        total=stats.total if stats.total is not None else stats.rows,
        total_exact=total_known or not stopped,
        exact=not stopped,
        counted=Counted(
            backend=backend.name,
            method="rows",
            requests=stats.requests,
            examined=stats.examined,
            of=stats.total if stats.capped else None,
            capped=stats.capped or None,
        ),
        applied=stats.applied,
        warnings=warnings,
    )
