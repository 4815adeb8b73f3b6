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
- where positions are computable (page numbers, offsets) several pages are fetched at
  once, up to the backend's `parallel_pages`;
- cursors are opaque, checksummed and bound to the query that produced them.

In a fan-out (`backend="all"`) an instance that cannot take the query is skipped and one
that fails is reported, on every page, while the others answer; the cursor records both
(tools/cursor.py), so it keeps working. A skipped instance stays skipped for the whole
walk. A failed one is tried again on the next page from where it stopped: none of its rows
is lost or repeated, but those that sort before rows already returned come late, and the
page says so.

Progress is the count of rows examined (handed out or rejected by a local filter), against
the sum of the totals the backends reported so far; tools.progress throttles it.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from tools import notices
from tools.backends.base import Backend, Capabilities, Plan
from tools.cursor import (
    RETRY,
    SKIPPED,
    CursorState,
    _check_entry,
    check_kind,
    decode_cursor,
    encode_cursor,
    is_live,
)
from tools.errors import BackendError, InvalidCursorError, ProcessMcpError
from tools.model import ApplyNote, ListResult, ProcessSummary
from tools.progress import Progress, ProgressFn, as_progress
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

REJOINED = (
    "answering again after failing on an earlier page: its rows continue from where it "
    "stopped, so some may sort before rows already returned"
)
STILL_SKIPPED = (
    "it could not take this query when this walk began, and rows joining mid-walk would "
    "sort before rows already returned; call again without cursor to include it"
)


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
    # Cursor entries of instances without a stream: ended, skipped, or failed to start.
    entries: CursorState = field(default_factory=dict)
    failed: dict[str, Any] = field(default_factory=dict)
    capped: bool = False
    emitted: int = 0

    async def warn(self, message: str) -> None:
        """A warning for the answer, and its live copy for the client (tools.notices)."""
        self.warnings.append(message)
        await notices.warn(message, source="process_mcp.paging")

    async def skip(self, name: str, reason: str) -> None:
        self.entries[name] = SKIPPED
        await self.warn(f"{name} skipped: {reason}")

    async def fail(self, name: str, at: Any, exc: BackendError) -> None:
        self.entries[name] = {RETRY: at}
        await self.warn(f"{name} failed: {exc.for_model()}")

    @property
    def total(self) -> int | None:
        """Sum of the backends' totals, when every stream knows its own and filters nothing."""
        if not self.streams or self.failed or any(s.local_fields for s in self.streams):
            return None
        totals = [s.total for s in self.streams]
        if any(t is None for t in totals):
            return None
        return sum(t for t in totals if t is not None)

    @property
    def examined(self) -> int:
        return sum(s.examined for s in self.streams)

    def next_state(self) -> CursorState:
        state = dict(self.entries)
        for stream in self.streams:
            name = stream.backend.name
            if name in self.failed:
                at = self.failed[name]
                state[name] = None if at is None else {RETRY: at}
            else:
                state[name] = stream.resume()
        return state


async def _prepare(backend: Backend, query: ProcessQuery) -> tuple[Plan, Capabilities]:
    await backend.discover()
    _check_where_types(backend, query)
    plan = await backend.plan(query)
    return plan, backend.capabilities().for_collection(plan.collection)


async def _open(
    backends: Sequence[Backend],
    query: ProcessQuery,
    state: CursorState | None,
    *,
    on_page: Callable[[], Awaitable[None]] | None,
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
        for entry in state.values():
            check_kind(entry, fan_out=run.fan_out)
    for backend in backends:
        name = backend.name
        entry = None if state is None else state[name]
        if state is not None and entry is None:
            run.entries[name] = None
            continue
        retried = isinstance(entry, dict)
        start = entry[RETRY] if isinstance(entry, dict) else entry
        try:
            plan, caps = await _prepare(backend, query)
        except BackendError as exc:
            if not run.fan_out:
                raise
            if entry == SKIPPED:
                await run.skip(name, exc.for_model())
            else:
                await run.fail(name, start, exc)
            continue
        except ProcessMcpError as exc:
            if not run.fan_out:
                raise
            await run.skip(name, exc.message)
            continue
        if entry == SKIPPED:
            await run.skip(name, STILL_SKIPPED)
            continue
        if start is not None:
            _check_entry(start, caps.addressing, caps.max_page_size)
        if retried:
            await run.warn(f"{name}: {REJOINED}")
        run.applied.extend(_notes(name, plan))
        run.warnings.extend(f"{name}: {w}" for w in plan.warnings)
        native_date_sort = plan.sort == query.sort and query.sort.lstrip("-") in (
            "created_at",
            "updated_at",
        )
        run.streams.append(
            InstanceStream(
                backend=backend,
                caps=caps,
                plan=plan,
                query=query,
                start=start,
                max_scan=backend.settings.max_scan if max_scan is None else max_scan,
                early_stop=native_date_sort,
                on_page=on_page,
            )
        )
    return run


class _Watch:
    """Reports a run's progress after every page: rows examined so far, against the sum
    of the totals reported so far plus the rows read from backends that report none (so
    the total never falls below the count), capped at the rows the call stops at when
    every filter is native (the limit, or an export's max_rows)."""

    def __init__(self, reporter: Progress | None, cap: int | None) -> None:
        self.reporter = reporter
        self.cap = cap
        self.run: _Run | None = None

    def total(self) -> int | None:
        assert self.run is not None
        streams = self.run.streams
        lefts = [s.left for s in streams]
        if all(left is None for left in lefts):
            return None
        total = sum(
            s.examined if left is None else left for s, left in zip(streams, lefts, strict=True)
        )
        if self.cap is not None and not any(s.local_fields for s in streams):
            total = min(total, self.cap)
        return total

    async def __call__(self) -> None:
        if self.reporter is None or self.run is None:
            return
        done, total = self.run.examined, self.total()
        if done == 0 and total is None:
            return  # nothing to say yet: the first notification waits for a total or a row
        of = "" if total is None else f" of {total}"
        if any(s.local_fields for s in self.run.streams):
            message = f"examined {done}{of} rows, {self.run.emitted} match"
        else:
            message = f"{done}{of} rows"
        await self.reporter.update(done, total, message)


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
            run.emitted = count
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
    progress: Progress | ProgressFn | None = None,
) -> ListResult:
    """Answer a list query over one or more backend instances."""
    fingerprint = query.fingerprint()
    state = decode_cursor(query.cursor, fingerprint) if query.cursor else None
    watch = _Watch(as_progress(progress), cap=query.limit)
    run = watch.run = await _open(backends, query, state, on_page=watch)
    rows: list[ProcessSummary] = []

    async def keep(row: ProcessSummary) -> None:
        rows.append(row)

    await _merge(run, keep, query.limit)

    next_state = run.next_state()
    has_more = any(is_live(v) for v in next_state.values())
    next_cursor = encode_cursor(fingerprint, next_state) if has_more else None

    scanned = sum(s.scanned for s in run.streams)
    if run.capped:
        limit_hint = min(s.max_scan for s in run.streams)
        run.warnings.append(
            f"stopped after examining {scanned} rows (scan cap {limit_hint}) with "
            f"{len(rows)} matches; call again with next_cursor to keep scanning, or add a "
            "filter the backend applies natively (see list_backends)"
        )
    if watch.reporter is not None:
        done = run.examined
        await watch.reporter.finish(done, done, f"examined {done} rows, {len(rows)} returned")
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
    # Rows handed out or rejected by a local filter: the unit of progress.
    examined: int
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
    progress: Progress | ProgressFn | None = None,
) -> StreamStats:
    """Every row matching `query`, in order, handed to `emit` as pages arrive.

    The same streams as run_list, without a cursor or scan cap: memory holds at most the
    window of in-flight pages per instance, whatever the number of rows. Progress goes to
    `progress` after every page; the last notification is the caller's (it knows what
    became of the rows)."""
    watch = _Watch(as_progress(progress), cap=max_rows)
    run = watch.run = await _open(
        backends, query.with_changes(cursor=None), None, on_page=watch, max_scan=1 << 62
    )
    count = await _merge(run, emit, max_rows)
    return StreamStats(
        rows=count,
        scanned=sum(s.scanned for s in run.streams),
        examined=run.examined,
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
