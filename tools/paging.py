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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import json
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tools.backends.base import Backend, Capabilities, PageResult, Plan, Position
from tools.errors import BackendError, InvalidCursorError, ProcessMcpError
from tools.model import ApplyNote, ListResult, ProcessSummary
from tools.query import ProcessQuery, field_matches, is_descending, past_bound, sort_key

ProgressFn = Callable[[float, float | None, str], Awaitable[None]]

CURSOR_VERSION = 1


# -- cursor ---------------------------------------------------------------------------------

# Per instance: an int offset (page/offset addressing), [token, skip, size] (token
# addressing), or None when that instance's stream has ended.
CursorState = dict[str, Any]


def encode_cursor(fingerprint: str, state: CursorState) -> str:
    body = json.dumps({"v": CURSOR_VERSION, "q": fingerprint, "s": state}, separators=(",", ":"))
    check = hashlib.sha256(body.encode()).hexdigest()[:10]
    return base64.urlsafe_b64encode(f"{check}{body}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> CursorState:
    restart = "call list_processes again without cursor to start from the first page"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        check, body = raw[:10], raw[10:]
        if hashlib.sha256(body.encode()).hexdigest()[:10] != check:
            raise ValueError("checksum")
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidCursorError(
            "cursor is not valid (it may be truncated or edited)",
            hint="pass next_cursor exactly as it was returned, or " + restart,
        ) from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise InvalidCursorError("cursor is from an incompatible version", hint=restart)
    if data.get("q") != fingerprint:
        raise InvalidCursorError(
            "cursor belongs to a different query (filters, backend, collection or sort changed)",
            hint="repeat the exact filters of the call that returned this cursor, or " + restart,
        )
    state = data.get("s")
    if not isinstance(state, dict):
        raise InvalidCursorError("cursor is not valid", hint=restart)
    return state


def _check_entry(entry: Any, addressing: str) -> None:
    """A checksum catches accidents, not a hand-made cursor: check the shape too."""
    if entry is None:
        return
    if addressing == "token":
        ok = (
            isinstance(entry, list)
            and len(entry) == 3
            and (entry[0] is None or isinstance(entry[0], str))
            and isinstance(entry[1], int)
            and isinstance(entry[2], int)
            and entry[1] >= 0
            and entry[2] >= 0  # 0: the stream never fetched, its page size is not chosen yet
        )
    else:
        ok = isinstance(entry, int) and not isinstance(entry, bool) and entry >= 0
    if not ok:
        raise InvalidCursorError(
            "cursor is not valid", hint="call list_processes again without cursor"
        )


# -- page geometry --------------------------------------------------------------------------


def page_geometry(offset: int, need: int, max_size: int) -> int:
    """Page size for a page-number API that covers rows [offset, offset+need) in the fewest
    requests, then with the fewest wasted rows. Offsets need not be page-aligned."""
    need = max(1, need)
    best: tuple[int, int, int] | None = None
    for size in range(1, max_size + 1):
        first, last = offset // size, (offset + need - 1) // size
        count = last - first + 1
        waste = count * size - need
        key = (count, waste, size)
        if best is None or key < best:
            best = key
    assert best is not None
    return best[2]


# -- one instance ---------------------------------------------------------------------------


class ScanCapReachedError(Exception):
    """A stream examined its maximum number of rows without finishing the page."""


@dataclass
class _Pending:
    """One page fetch in flight, consumed strictly in page order."""

    offset: int
    done: anyio.Event = field(default_factory=anyio.Event)
    page: PageResult | None = None
    error: Exception | None = None


@dataclass
class _Row:
    row: ProcessSummary
    before: Any  # resume position that includes this row
    after: Any  # resume position just past this row


@dataclass
class InstanceStream:
    backend: Backend
    caps: Capabilities
    plan: Plan
    query: ProcessQuery
    start: Any  # decoded cursor entry, or None for the beginning
    max_scan: int
    early_stop: bool
    progress: Callable[[int], Awaitable[None]] | None = None

    scanned: int = 0
    requests: int = 0
    total: int | None = None
    done: bool = False
    _buffer: deque[_Row] = field(default_factory=deque)
    _peeked: _Row | None = None
    _resume: Any = None
    _fetch_at: Position = None
    _skip: int = 0
    _size: int = 0
    _source_done: bool = False
    _first_page: int = 0
    _pending: deque[_Pending] = field(default_factory=deque)
    task_group: TaskGroup | None = None

    def __post_init__(self) -> None:
        if self.caps.addressing == "token":
            if self.start is None:
                self._fetch_at, self._skip = None, 0
            else:
                self._fetch_at, self._skip, self._size = self.start
        else:
            self._fetch_at = int(self.start or 0)
        self._resume = self._position(self._fetch_at, self._skip)

    @property
    def local_fields(self) -> list[str]:
        return self.plan.local_fields

    def _position(self, at: Position, skip: int) -> Any:
        if self.caps.addressing == "token":
            return [at, skip, self._size]
        return at

    async def peek(self, need: int) -> ProcessSummary | None:
        """The next matching row, fetching pages as needed; None when the stream is over."""
        while self._peeked is None:
            if self.done:
                return None
            if not self._buffer:
                if self._source_done:
                    self.done = True
                    return None
                if self.scanned >= self.max_scan:
                    raise ScanCapReachedError
                await self._fill(need)
                continue
            item = self._buffer.popleft()
            self.scanned += 1
            if self.early_stop and past_bound(self.query, self.plan.sort, item.row):
                self.done = True
                self._buffer.clear()
                return None
            if all(field_matches(self.query, f, item.row) for f in self.local_fields):
                self._peeked = item
            else:
                self._resume = item.after
        return self._peeked.row

    def pop(self) -> ProcessSummary:
        assert self._peeked is not None
        item, self._peeked = self._peeked, None
        self._resume = item.after
        return item.row

    def resume(self) -> Any:
        """Cursor entry that continues right after the last row handed out."""
        if self._peeked is not None:
            return self._peeked.before
        if self.done or (self._source_done and not self._buffer):
            return None
        return self._resume

    # -- fetching -----------------------------------------------------------------------------

    async def _fill(self, need: int) -> None:
        if self.caps.addressing == "token":
            await self._fill_token(need)
        else:
            await self._fill_positional(need)

    def _wanted_rows(self, need: int) -> int:
        if self.local_fields:
            # Matches are sparse and unknown: scan in the largest pages.
            return self.caps.max_page_size
        return max(1, need)

    async def _fill_token(self, need: int) -> None:
        if not self._size:
            self._size = min(self.caps.max_page_size, self._wanted_rows(need))
        at, skip = self._fetch_at, self._skip
        page = await self._fetch(at, self._size)
        rows = page.rows
        for i, row in enumerate(rows):
            if i < skip:
                continue
            last = i + 1 == len(rows)
            after = [page.next, 0, self._size] if last else [at, i + 1, self._size]
            self._buffer.append(_Row(row, [at, i, self._size], after))
        if page.next is None:
            self._source_done = True
            if rows and len(rows) > skip:
                self._buffer[-1].after = None
        self._fetch_at, self._skip = page.next, 0

    async def _fill_positional(self, need: int) -> None:
        """Take the next page from a sliding window of in-flight fetches.

        Up to `parallel_pages` fetches run at once; as soon as the oldest is consumed the
        next one starts, so parsing one page overlaps the network wait of the others."""
        if not self._size:
            start = int(self._fetch_at or 0)
            wanted = self._wanted_rows(need)
            if self.caps.addressing == "page" and not self.local_fields:
                self._size = page_geometry(start, wanted, self.caps.max_page_size)
            else:
                self._size = min(self.caps.max_page_size, wanted)
            first = (start // self._size) * self._size if self.caps.addressing == "page" else start
            self._skip, self._fetch_at = start - first, first
            self._first_page = first
        self._schedule(need)
        head = self._pending.popleft()
        await head.done.wait()
        if head.error is not None:
            self._abandon()
            raise head.error
        assert head.page is not None
        self._take(head.offset, head.page)
        if not self._source_done and not self.local_fields:
            # The need is exact, so the next pages can start while this one is read.
            # (Filtered scans wait: early stop or a full page would waste a prefetch.)
            self._schedule(need)

    def _take(self, base: int, page: PageResult) -> None:
        drop = self._skip if base == self._first_page else 0
        for j, row in enumerate(page.rows):
            if j >= drop:
                self._buffer.append(_Row(row, base + j, base + j + 1))
        ended = page.next is None or len(page.rows) < self._size
        if self.total is not None and base + len(page.rows) >= self.total:
            ended = True
        if ended:
            self._source_done = True
            if self._buffer:
                self._buffer[-1].after = None
            self._abandon()

    def _schedule(self, need: int) -> None:
        """Top up the window of in-flight fetches to what is likely to be needed."""
        size = self._size
        if self.local_fields:
            # Matches are sparse: one page first, then the full window.
            target = 1 if self.requests == 0 and not self._pending else self.caps.parallel_pages
            budget = self.max_scan - self.scanned - len(self._buffer)
            target = min(target, max(1, math.ceil(budget / size)))
        else:
            missing = need - len(self._buffer) + (self._skip if self.requests == 0 else 0)
            target = math.ceil(missing / size) if missing > 0 else 0
        target = min(target, self.caps.parallel_pages)
        next_at = int(self._fetch_at or 0)
        while len(self._pending) < target:
            if self.total is not None and next_at >= self.total and self._pending:
                break
            pending = _Pending(next_at)
            self._pending.append(pending)
            self._spawn(pending)
            next_at += size
        self._fetch_at = next_at

    def _spawn(self, pending: _Pending) -> None:
        async def run() -> None:
            try:
                pending.page = await self._fetch(pending.offset, self._size)
            except Exception as exc:  # handed to the consumer, in page order
                pending.error = exc
            finally:
                pending.done.set()

        if self.task_group is None:
            raise RuntimeError("positional streams need a task group (use run_list)")
        self.task_group.start_soon(run)

    def _abandon(self) -> None:
        """Pages fetched past the end are not wanted; their results are simply dropped."""
        self._pending.clear()

    async def _fetch(self, at: Position, size: int) -> PageResult:
        page = await self.backend.fetch_page(self.plan, at, size)
        self.requests += 1
        if page.total is not None:
            self.total = page.total
        if self.progress is not None:
            await self.progress(len(page.rows))
        return page


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
            plan = await backend.plan(query)
        except ProcessMcpError as exc:
            if not run.fan_out:
                raise
            run.warnings.append(f"{backend.name} skipped: {exc.message}")
            continue
        caps = backend.capabilities().for_collection(plan.collection)
        if state is not None:
            _check_entry(state[backend.name], caps.addressing)
        run.applied.extend(_notes(backend.name, plan))
        run.warnings.extend(f"{backend.name}: {w}" for w in plan.warnings)
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
                start=None if state is None else state.get(backend.name),
                max_scan=backend.settings.max_scan if max_scan is None else max_scan,
                early_stop=native_date_sort,
                progress=on_page,
            )
        )
    return run


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
            run.warnings.append(f"{stream.backend.name} failed: {exc.for_model()}")
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
