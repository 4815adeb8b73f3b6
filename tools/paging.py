"""The paging driver: one implementation of limits, cursors and local filtering for all backends.

For each backend instance in the query, an `InstanceStream` turns pages into a stream of
matching rows in the query's sort order; `run_list` merges the streams (one stream for a
single backend, several for `backend="all"`) and stops at the limit.

What the driver guarantees:
- a call returns at most `limit` rows and a cursor that resumes exactly after the last
  row returned: no overlap, no gap (as long as the data does not move);
- rows a backend cannot filter itself are checked locally, and at most `max_scan` rows are
  examined per call; past that the call returns what it has, with a cursor and a warning;
- on a stream sorted by a date, a row beyond a date bound ends the stream (early stop);
- a collection with no sorts (`CollectionInfo.sorts == ()`) streams in the vendor's own
  order, said in a warning, with every row checked against the date bounds; in a fan-out
  such an instance is skipped (nothing to merge it by), with the fix in the warning;
- an instance skipped in a fan-out is finished in the cursor, which stays valid;
- where positions are computable (page numbers, offsets) several pages are fetched at
  once, up to the backend's `parallel_pages`;
- cursors are opaque, checksummed and bound to the query that produced them.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from tools import notices
from tools.backends.base import Backend, Plan
from tools.cursor import CursorState, _check_entry, decode_cursor, encode_cursor
from tools.errors import BackendError, InvalidCursorError, ProcessMcpError
from tools.model import ApplyNote, ListResult, ProcessSummary
from tools.query import ProcessQuery, check_where_types, is_descending, sort_key
from tools.stream import InstanceStream, ScanCapReachedError, page_geometry

__all__ = [
    "CursorState",
    "InstanceStream",
    "ProgressFn",
    "StreamStats",
    "decode_cursor",
    "encode_cursor",
    "page_geometry",
    "run_list",
    "stream_rows",
]

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]


# -- the list operation ---------------------------------------------------------------------


def _notes(name: str, plan: Plan) -> list[ApplyNote]:
    return [
        ApplyNote(backend=name, field=f, mode=s.mode, note=s.note) for f, s in plan.applied.items()
    ]


@dataclass
class _Run:
    """The streams of one list or export operation, and what they reported so far."""

    query: ProcessQuery
    fan_out: bool
    streams: list[InstanceStream] = field(default_factory=list)
    applied: list[ApplyNote] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    finished: dict[str, None] = field(default_factory=dict)
    failed: dict[str, Any] = field(default_factory=dict)
    capped: bool = False

    async def warn(self, message: str) -> None:
        """A warning for the answer, and its live copy for the client (tools.notices)."""
        self.warnings.append(message)
        await notices.warn(message, source="process_mcp.paging")

    @property
    def total(self) -> int | None:
        """Sum of the backends' totals, when every stream knows its own and filters nothing."""
        if not self.streams or self.failed or any(s.local_fields for s in self.streams):
            return None
        totals = [s.total for s in self.streams]
        if any(t is None for t in totals):
            return None
        return sum(t for t in totals if t is not None)


async def _open(
    backends: Sequence[Backend],
    query: ProcessQuery,
    state: CursorState | None,
    *,
    on_page: Callable[[int], Awaitable[None]] | None,
    max_scan: int | None = None,
) -> _Run:
    run = _Run(query=query, fan_out=len(backends) > 1)
    if state is not None:
        names = {b.name for b in backends}
        if set(state) != names:
            changed = sorted(set(state) ^ names)
            raise InvalidCursorError(
                f"the instances behind this cursor changed ({', '.join(changed)})",
                hint="call list_processes again without cursor to start over",
            )
    for backend in backends:
        if state is not None and state.get(backend.name, 0) is None:
            run.finished[backend.name] = None
            continue
        try:
            await backend.discover()
            _check_where_types(backend, query)
            plan = await backend.plan(query)
        except ProcessMcpError as exc:
            if not run.fan_out:
                raise
            await _skip(run, backend, exc.message)
            continue
        caps = backend.capabilities().for_collection(plan.collection)
        info = caps.collection(plan.collection)
        unsorted = info is not None and not info.sorts
        if unsorted:
            assert info is not None
            own = f"rows in {backend.kind.capitalize()}'s own order: {info.name} cannot be sorted"
            if run.fan_out:
                await _skip(
                    run,
                    backend,
                    f"{own}, so they cannot be merged with other instances' rows by "
                    f"{query.sort}; ask backend={backend.name} alone",
                )
                continue
            run.warnings.append(f"{backend.name}: {own}")
        if state is not None:
            _check_entry(state[backend.name], caps.addressing, caps.max_page_size)
        run.applied.extend(_notes(backend.name, plan))
        run.warnings.extend(f"{backend.name}: {w}" for w in plan.warnings)
        # Early stop needs rows in date order; a vendor-ordered stream is in none.
        native_date_sort = (
            not unsorted
            and plan.sort == query.sort
            and query.sort.lstrip("-") in ("created_at", "updated_at")
        )
        run.streams.append(
            InstanceStream(
                backend=backend,
                caps=caps,
                plan=plan,
                query=query,
                start=None if state is None else state.get(backend.name),
                max_scan=backend.settings.max_scan if max_scan is None else max_scan,
                early_stop=native_date_sort,
                progress=on_page,
            )
        )
    return run


async def _skip(run: _Run, backend: Backend, why: str) -> None:
    """Leave an instance out of a fan-out, and out of its cursor (finished), so the next
    page neither repeats the work nor finds the cursor's instances changed."""
    run.finished[backend.name] = None
    await run.warn(f"{backend.name} skipped: {why}")


def _check_where_types(backend: Backend, query: ProcessQuery) -> None:
    """Once for every backend: a `where` value of the wrong JSON type for its attribute
    (a string against a number) would match nothing, so it is refused before any request."""
    if query.where is None:
        return
    info = backend.capabilities().collection(query.collection)
    if info is not None and info.attribute_types:
        scope = f"{backend.name} ({info.name})"
        check_where_types(query.where, info.attribute_types, scope=scope)


async def _merge(
    run: _Run, emit: Callable[[ProcessSummary], Awaitable[None]], limit: int | None
) -> int:
    """Hand rows to `emit` in query order until `limit` (None: the end); returns the count.

    Prefetches run in a task group that lives exactly as long as the merge; whatever is
    still in flight at the end is cancelled. Errors travel through the streams, never out
    of the group itself."""
    streams, query = run.streams, run.query
    descending = is_descending(query.sort)
    heap: list[tuple[Any, int]] = []
    count = 0
    unbounded = 1 << 30  # "the rest": page sizes become the maximum, the window stays full

    async def advance(i: int) -> None:
        stream = streams[i]
        try:
            row = await stream.peek(unbounded if limit is None else limit - count)
        except ScanCapReachedError:
            run.capped = True
            return
        except BackendError as exc:
            if not run.fan_out:
                raise
            run.failed[stream.backend.name] = stream.resume()
            await run.warn(f"{stream.backend.name} failed: {exc.for_model()}")
            stream.done = True
            return
        if row is not None:
            # One stream needs no ordering key: its rows are already in order.
            key = _Ordered(sort_key(query.sort, row), descending) if len(streams) > 1 else None
            heapq.heappush(heap, (key, i))

    async def merge() -> None:
        nonlocal count
        for i in range(len(streams)):
            await advance(i)
            if run.capped:
                return
        while heap and (limit is None or count < limit) and not run.capped:
            _, i = heapq.heappop(heap)
            await emit(streams[i].pop())
            count += 1
            if limit is None or count < limit:
                await advance(i)

    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        for stream in streams:
            stream.task_group = tg
        try:
            await merge()
        except Exception as exc:
            error = exc
        finally:
            tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return count


async def run_list(
    backends: Sequence[Backend],
    query: ProcessQuery,
    *,
    progress: ProgressFn | None = None,
) -> ListResult:
    """Answer a list query over one or more backend instances."""
    fingerprint = query.fingerprint()
    state = decode_cursor(query.cursor, fingerprint) if query.cursor else None
    fetched = 0

    async def on_page(rows: int) -> None:
        nonlocal fetched
        fetched += rows
        if progress is not None:
            await progress(fetched, None, f"fetched {fetched} rows")

    run = await _open(backends, query, state, on_page=on_page)
    rows: list[ProcessSummary] = []

    async def keep(row: ProcessSummary) -> None:
        rows.append(row)

    await _merge(run, keep, query.limit)

    next_state: CursorState = dict(run.finished)
    for stream in run.streams:
        name = stream.backend.name
        next_state[name] = run.failed[name] if name in run.failed else stream.resume()
    has_more = any(v is not None for v in next_state.values())
    next_cursor = encode_cursor(fingerprint, next_state) if has_more else None

    scanned = sum(s.scanned for s in run.streams)
    if run.capped:
        limit_hint = min(s.max_scan for s in run.streams)
        run.warnings.append(
            f"stopped after examining {scanned} rows (scan cap {limit_hint}) with "
            f"{len(rows)} matches; call again with next_cursor to keep scanning, or add a "
            "filter the backend applies natively (see list_backends)"
        )
    any_local = any(s.local_fields for s in run.streams)
    return ListResult(
        processes=rows,
        count=len(rows),
        has_more=has_more,
        next_cursor=next_cursor,
        total=run.total,
        scanned=scanned if any_local else None,
        applied=run.applied,
        warnings=run.warnings,
    )


@dataclass
class StreamStats:
    """What a whole-result stream (an export) saw."""

    rows: int
    scanned: int
    requests: int
    total: int | None
    applied: list[ApplyNote]
    warnings: list[str]


async def stream_rows(
    backends: Sequence[Backend],
    query: ProcessQuery,
    emit: Callable[[ProcessSummary], Awaitable[None]],
    *,
    max_rows: int | None = None,
    progress: ProgressFn | None = None,
) -> StreamStats:
    """Every row matching `query`, in order, handed to `emit` as pages arrive.

    The same streams as run_list, without a cursor or scan cap: memory holds at most the
    window of in-flight pages per instance, whatever the number of rows."""
    run: _Run | None = None
    emitted = 0

    async def on_page(_rows: int) -> None:
        if progress is not None and run is not None:
            total = run.total
            if max_rows is not None and total is not None:
                total = min(total, max_rows)
            await progress(emitted, total, f"{emitted} rows written")

    async def counted(row: ProcessSummary) -> None:
        nonlocal emitted
        await emit(row)
        emitted += 1

    run = await _open(
        backends, query.with_changes(cursor=None), None, on_page=on_page, max_scan=1 << 62
    )
    count = await _merge(run, counted, max_rows)
    return StreamStats(
        rows=count,
        scanned=sum(s.scanned for s in run.streams),
        requests=sum(s.requests for s in run.streams),
        total=run.total,
        applied=run.applied,
        warnings=run.warnings,
    )


@dataclass(frozen=True)
class _Ordered:
    """Heap entry ordering that honours the sort direction."""

    key: tuple[Any, ...]
    descending: bool

    def __lt__(self, other: _Ordered) -> bool:
        return self.key > other.key if self.descending else self.key < other.key
