"""list_processes: validate the arguments, run the paging driver, lay the rows out as the
answer's table (tools/table.py) with the columns of `fields` or `detail`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from tools.backends.base import Backend
from tools.errors import QuotaWaitError, UnsupportedQueryError
from tools.instances import Instances
from tools.model import ListResult
from tools.operation import LIST_BUDGET_SECONDS, Clock, operation
from tools.paging import run_list, waiting_answer
from tools.progress import Progress, ProgressFn
from tools.query import ProcessQuery, parse_query
from tools.table import ListPage, page


async def natural_sort(
    backends: Sequence[Backend], query: ProcessQuery, *, explicit: bool
) -> tuple[ProcessQuery, str | None]:
    """When the caller left `sort` out and the one backend's collection cannot give the
    default order (Kommo contacts sort by update time only), use that collection's own
    first order instead of refusing, and say so. An explicit sort is never changed, and a
    fan-out keeps one order so that its streams can be merged.

    A collection with no sorts at all (Kommo customers) comes in the vendor's own order:
    an explicit sort is refused, and without one the driver says whose order it is."""
    if len(backends) != 1:
        return query, None
    backend = backends[0]
    await backend.discover()
    info = backend.capabilities().collection(query.collection)
    if info is not None and not info.sorts and explicit:
        raise UnsupportedQueryError(
            f"{backend.name} ({backend.kind}, {info.name}) cannot sort: the vendor documents "
            f"no order for {info.name}, so rows come in its own order",
            backend=backend.name,
            field="sort",
            hint=f"leave sort out; filter by dates (created_after, updated_before, ...) to "
            f"narrow {info.name} instead",
        )
    if explicit or info is None or not info.sorts or query.sort in info.sorts:
        return query, None
    chosen = info.sorts[0]
    note = f"sorted by {chosen}: {backend.name} ({info.name}) cannot sort by {query.sort}"
    return query.with_changes(sort=chosen), note


async def list_rows(
    instances: Instances,
    arguments: Mapping[str, Any],
    *,
    progress: Progress | ProgressFn | None = None,
    budget: float | None = LIST_BUDGET_SECONDS,
    clock: Clock = time.monotonic,
) -> tuple[ProcessQuery, ListResult]:
    """The validated query and its rows, as canonical objects.

    `budget`: the call's wall budget for quota waits (kept from an operation already
    running: the server's, with `[server] list_budget_seconds`). When a quota makes the
    next page impossible within it, the answer has the rows so far, a cursor, and when
    the next page can start; never an error for waiting."""
    with operation(budget, clock=clock) as op:
        query = parse_query(arguments)
        backends = instances.select(query.backend)
        explicit = arguments.get("sort") is not None
        try:
            query, note = await natural_sort(backends, query, explicit=explicit)
        except QuotaWaitError as exc:
            return query, waiting_answer(exc, query)
        result = await run_list(backends, query, progress=progress)
        if note:
            result.warnings.insert(0, note)
        # Retries that cost time, and long quota waits, are the answer's news too.
        result.warnings.extend(op.notes())
        return query, result


async def list_processes(
    instances: Instances,
    arguments: Mapping[str, Any],
    *,
    progress: Progress | ProgressFn | None = None,
    budget: float | None = LIST_BUDGET_SECONDS,
    clock: Clock = time.monotonic,
) -> ListPage:
    """The tool's answer: the rows as a table with the columns of `fields` or `detail`."""
    query, result = await list_rows(
        instances, arguments, progress=progress, budget=budget, clock=clock
    )
    return page(result, detail=query.detail, sort=query.sort, fields=query.fields)
