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
  order, said in a warning, with every row checked against the date bounds (no early
  stop); in a fan-out such an instance is skipped (nothing to merge it by), with the fix
  in the warning;
- an instance skipped or failing in a fan-out is said on every page and recorded in the
  cursor, which stays valid (tools/fanout.py);
- where positions are computable (page numbers, offsets) several pages are fetched at
  once, up to the backend's `parallel_pages`;
- cursors are opaque, checksummed and bound to the query that produced them.

Which instances answer, are skipped or failed (and what that leaves in a fan-out's
cursor), and the progress they report: tools/fanout.py.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from tools.backends.base import Backend
from tools.cursor import CursorState, decode_cursor, encode_cursor, is_live
from tools.errors import BackendError, QuotaWaitError
from tools.fanout import REJOINED, STILL_SKIPPED, Run, Watch, open_run
from tools.model import ApplyNote, ListResult, ProcessSummary
from tools.progress import Progress, ProgressFn, as_progress
from tools.query import ProcessQuery, is_descending, sort_key
from tools.stream import InstanceStream, ScanCapReachedError, page_geometry

__all__ = [
    "REJOINED",
    "STILL_SKIPPED",
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

# -- the list operation ---------------------------------------------------------------------


Emit = Callable[[list[ProcessSummary]], Awaitable[None]]


async def _merge(run: Run, emit: Emit, limit: int | None, *, stop_on_quota: bool = False) -> int:
    """Hand rows to `emit` in query order until `limit` (None: the end); returns the count.

    Rows go to `emit` in batches, in order: those taken from the pages already fetched,
    handed over before the merge waits for another page (and at the end), so a consumer
    works per page (one csv `writerows`) and a batch holds at most the rows fetched.
    Rows are taken without awaiting while the fetched pages last (`InstanceStream.ready`).

    `stop_on_quota` (a list call): a stream whose next page would wait past the call's
    deadline for a quota ends the merge there, like the scan cap, so that the call answers
    with the rows it has and a cursor that resumes right after them (`run.quota_stop`).

    Prefetches run in a task group that lives exactly as long as the merge; whatever is
    still in flight at the end is cancelled. Errors travel through the streams, never out
    of the group itself."""
    streams, query = run.streams, run.query
    descending = is_descending(query.sort)
    heap: list[tuple[Any, int]] = []
    count = 0
    batch: list[ProcessSummary] = []
    unbounded = 1 << 30  # "the rest": page sizes become the maximum, the window stays full
    # One stream needs no ordering key: its rows are already in order.
    keyed = len(streams) > 1

    def push(i: int, row: ProcessSummary) -> None:
        key = _Ordered(sort_key(query.sort, row), descending) if keyed else None
        heapq.heappush(heap, (key, i))

    async def advance(i: int) -> None:
        nonlocal batch
        stream = streams[i]
        if stream.ready():
            row = stream.peeked
            if row is not None:
                push(i, row)
            return
        if batch:
            rows, batch = batch, []
            await emit(rows)
        try:
            row = await stream.peek(unbounded if limit is None else limit - count)
        except ScanCapReachedError:
            run.capped = True
            return
        except QuotaWaitError as exc:
            if not stop_on_quota:
                raise
            run.quota_stop = exc
            return
        except BackendError as exc:
            if not run.fan_out:
                raise
            run.failed[stream.backend.name] = stream.resume()
            await run.warn(f"{stream.backend.name} failed: {exc.for_model()}")
            stream.done = True
            return
        if row is not None:
            push(i, row)

    async def merge() -> None:
        nonlocal count
        for i in range(len(streams)):
            await advance(i)
            if run.stopped:
                return
        while heap and (limit is None or count < limit) and not run.stopped:
            _, i = heapq.heappop(heap)
            batch.append(streams[i].pop())
            count += 1
            if not keyed:
                # One stream: its rows are in order, so the fetched ones go at once.
                more = streams[i].take(unbounded if limit is None else limit - count)
                batch.extend(more)
                count += len(more)
            run.emitted = count
            if limit is None or count < limit:
                await advance(i)

    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        for stream in streams:
            stream.task_group = tg
        try:
            await merge()
            if batch:
                await emit(batch)
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
    watch = Watch(as_progress(progress), cap=query.limit)
    try:
        run = watch.run = await open_run(backends, query, state, on_page=watch)
    except QuotaWaitError as exc:
        return waiting_answer(exc, query)
    rows: list[ProcessSummary] = []

    async def keep(batch: list[ProcessSummary]) -> None:
        rows.extend(batch)

    await _merge(run, keep, query.limit, stop_on_quota=True)

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
    if run.quota_stop is not None:
        then = "call again with next_cursor then" if has_more else "call again then"
        run.warnings.append(f"{quota_note(run.quota_stop)}; {then}")
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


def waiting_answer(exc: QuotaWaitError, query: ProcessQuery) -> ListResult:
    """Waiting is not failing: when the quota cannot fit a request before any row was read
    (discovery, a name lookup, the first page), the answer is empty and says when to ask."""
    again = " with the same cursor" if query.cursor else " with the same arguments"
    note = f"{quota_note(exc)}; no rows were read yet: call again then{again}"
    return ListResult(
        processes=[], count=0, has_more=True, next_cursor=query.cursor, warnings=[note]
    )


def quota_note(exc: QuotaWaitError) -> str:
    """ "Tallyfy allows 100 requests/min; the next page can start in 41 s"."""
    what = exc.quota or f"{exc.backend} asks to wait (HTTP 429)"
    return f"{what}; the next page can start in {math.ceil(exc.ready_in)} s"


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
    # The scan cap stopped it (only with `scan_cap=True`): rows past it were not seen.
    capped: bool = False
    # A quota stopped it (only with `stop_on_quota=True`): when the next page can start.
    quota_stop: QuotaWaitError | None = None


async def stream_rows(
    backends: Sequence[Backend],
    query: ProcessQuery,
    emit: Emit,
    *,
    max_rows: int | None = None,
    progress: Progress | ProgressFn | None = None,
    scan_cap: bool = False,
    stop_on_quota: bool = False,
) -> StreamStats:
    """Every row matching `query`, in order, handed to `emit` as pages arrive (a list of
    rows at a time: those of a page, or of the pages fetched so far in a fan-out).

    The same streams as run_list, without a cursor and (unless `scan_cap`: each
    instance's `max_scan`, as in a list call) without a scan cap: memory holds at most the
    window of in-flight pages per instance, whatever the number of rows. Progress goes to
    `progress` after every page; the last notification is the caller's (it knows what
    became of the rows). With `stop_on_quota` (a count within a quick call's budget) a
    page that would wait past the deadline ends the stream there, as in a list call."""
    watch = Watch(as_progress(progress), cap=max_rows)
    run = watch.run = await open_run(
        backends,
        query.with_changes(cursor=None),
        None,
        on_page=watch,
        max_scan=None if scan_cap else 1 << 62,
    )
    count = await _merge(run, emit, max_rows, stop_on_quota=stop_on_quota)
    return StreamStats(
        rows=count,
        scanned=sum(s.scanned for s in run.streams),
        examined=run.examined,
        requests=sum(s.requests for s in run.streams),
        total=run.total,
        applied=run.applied,
        warnings=run.warnings,
        capped=run.capped,
        quota_stop=run.quota_stop,
    )


@dataclass(frozen=True)
class _Ordered:
    """Heap entry ordering that honours the sort direction."""

    key: tuple[Any, ...]
    descending: bool

    def __lt__(self, other: _Ordered) -> bool:
        return self.key > other.key if self.descending else self.key < other.key
