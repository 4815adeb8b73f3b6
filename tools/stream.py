"""One backend instance's rows as a stream: pages fetched (in parallel where positions
are computable), filtered locally where the backend could not, in the query's order."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from tools.backends.base import Backend, Capabilities, PageResult, Plan, Position
from tools.model import ProcessSummary
from tools.query import ProcessQuery, field_matches, past_bound

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


@dataclass(slots=True)
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
    # Called after every page arrives and whenever the rows fetched so far are used up
    # (the driver reports progress from it: totals come with pages, counts with use).
    on_page: Callable[[], Awaitable[None]] | None = None

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
    _past: Callable[[ProcessSummary], bool] | None = None
    # The plan's local fields, worked out once (Plan computes them on every read).
    _local: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._local = tuple(self.plan.local_fields)
        if self.early_stop:
            self._past = past_bound(self.query, self.plan.sort)
        if self.caps.addressing == "token":
            if self.start is None:
                self._fetch_at, self._skip = None, 0
            else:
                self._fetch_at, self._skip, self._size = self.start
        else:
            self._fetch_at = int(self.start or 0)
        self._resume = self._position(self._fetch_at, self._skip)

    @property
    def local_fields(self) -> tuple[str, ...]:
        return self._local

    @property
    def left(self) -> int | None:
        """Rows from where this call started to the end, once the backend said its total."""
        if self.total is None:
            return None
        origin = 0 if self.caps.addressing == "token" else int(self.start or 0)
        return max(0, self.total - origin)

    @property
    def examined(self) -> int:
        """Rows handed out or rejected: a row peeked at but not yet taken does not count,
        so with native filters this is exactly the rows emitted."""
        return self.scanned - (self._peeked is not None)

    def _position(self, at: Position, skip: int) -> Any:
        if self.caps.addressing == "token":
            return [at, skip, self._size]
        return at

    async def peek(self, need: int) -> ProcessSummary | None:
        """The next matching row, fetching pages as needed; None when the stream is over."""
        while not self.ready():
            if self.scanned >= self.max_scan:
                raise ScanCapReachedError
            if self.on_page is not None and self.requests:
                await self.on_page()
            await self._fill(need)
        return None if self._peeked is None else self._peeked.row

    def ready(self) -> bool:
        """Move to the next matching row among those fetched, without waiting: True when
        it is known (`peeked`) or the stream is over, False when a page must be fetched.
        The merge takes rows through this while they last, and awaits only for a page."""
        while self._peeked is None:
            if self.done:
                return True
            if not self._buffer:
                if self._source_done:
                    self.done = True
                    return True
                return False
            item = self._buffer.popleft()
            self.scanned += 1
            if self._past is not None and self._past(item.row):
                self.done = True
                self._buffer.clear()
                return True
            if not self._local or all(field_matches(self.query, f, item.row) for f in self._local):
                self._peeked = item
            else:
                self._resume = item.after
        return True

    @property
    def peeked(self) -> ProcessSummary | None:
        """The row `ready` moved to (None once the stream is over)."""
        return None if self._peeked is None else self._peeked.row

    def take(self, most: int) -> list[ProcessSummary]:
        """Up to `most` next matching rows among those fetched (`pop` for each), without
        waiting: fewer when a page must be fetched first or the stream is over."""
        rows: list[ProcessSummary] = []
        while len(rows) < most and self.ready() and self._peeked is not None:
            item, self._peeked = self._peeked, None
            self._resume = item.after
            rows.append(item.row)
        return rows

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
            # Nor past the scan cap: a count that stops there wants no more pages.
            budget = self.max_scan - self.scanned - len(self._buffer) - size * len(self._pending)
            more = math.ceil(budget / size) if budget > 0 else 0
            target = min(target, max(1, len(self._pending) + more))
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
        if self.on_page is not None:
            await self.on_page()
        return page
