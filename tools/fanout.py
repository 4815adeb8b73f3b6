"""The instances of one list or export operation: which answer, which are skipped or
failed, what they leave in the cursor, and the progress they report.

In a fan-out (`backend="all"`) an instance that cannot take the query is skipped and one
that fails is reported, on every page, while the others answer; the cursor records both
(tools/cursor.py), so it keeps working:

- a skipped instance stays skipped for the whole walk (so does one whose collection has
  no sorts: its rows cannot be merged by the query's sort). Each page plans it again, to
  say why in the same words; even if it could answer now, its rows would sort before
  rows already returned, so the page says to start over for it instead;
- a failed instance (unreachable, an HTTP error) is tried again on the next page from
  where it stopped (from its start when it failed before its first row): none of its rows
  is lost or repeated, but those that sort before rows already returned come late, and
  that page says so. While it keeps failing, each page reports it and `has_more` stays
  true: the same cursor is the way to try again later.

Progress is the count of rows examined (handed out, or rejected by a local filter),
against the sum of the totals the backends reported so far; tools.progress throttles it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools import notices
from tools.backends.base import Backend, Capabilities, FieldSupport, Plan
from tools.cursor import RETRY, SKIPPED, CursorState, _check_entry, check_kind
from tools.errors import (
    BackendError,
    InvalidCursorError,
    ProcessMcpError,
    QuotaWaitError,
    UnsupportedQueryError,
)
from tools.model import ApplyNote
from tools.progress import Progress
from tools.query import ProcessQuery, check_where_types
from tools.stream import InstanceStream

REJOINED = (
    "answering again after failing on an earlier page: its rows continue from where it "
    "stopped, so some may sort before rows already returned"
)
STILL_SKIPPED = (
    "it could not take this query when this walk began, and rows joining mid-walk would "
    "sort before rows already returned; call again without cursor to include it"
)


def _notes(name: str, plan: Plan) -> list[ApplyNote]:
    return [
        ApplyNote(backend=name, field=f, mode=s.mode, note=s.note) for f, s in plan.applied.items()
    ]


@dataclass
class Run:
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
    # A quota wait the call could not afford ended it (list calls only): see tools/paging.
    quota_stop: QuotaWaitError | None = None
    emitted: int = 0

    @property
    def stopped(self) -> bool:
        """The call ends here with what it has: the scan cap, or a quota."""
        return self.capped or self.quota_stop is not None

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


async def prepare(backend: Backend, query: ProcessQuery) -> tuple[Plan, Capabilities]:
    """The backend's plan for `query`, with every filter it uses accounted for."""
    await backend.discover()
    _check_where_types(backend, query)
    plan = await backend.plan(query)
    _account_for_every_filter(backend, query, plan)
    return plan, backend.capabilities().for_collection(plan.collection)


def _account_for_every_filter(backend: Backend, query: ProcessQuery, plan: Plan) -> None:
    """Nothing is silently dropped: a filter the plan does not mention (a vocabulary
    word newer than the adapter's translation) is refused where the collection declares
    it unsupported, and otherwise checked here, row by row."""
    info = backend.capabilities().collection(plan.collection)
    for name in query.used_filters():
        if name in plan.applied:
            continue
        support = info.support(name) if info is not None else FieldSupport("unsupported")
        if support.mode == "unsupported":
            if info is None:
                raise UnsupportedQueryError(
                    f"{backend.name} cannot filter by {name}", backend=backend.name, field=name
                )
            backend.refuse(info, name, support.note)
        plan.applied[name] = FieldSupport("local", support.note)


async def open_run(
    backends: Sequence[Backend],
    query: ProcessQuery,
    state: CursorState | None,
    *,
    on_page: Callable[[], Awaitable[None]] | None,
    max_scan: int | None = None,
) -> Run:
    run = Run(query=query, fan_out=len(backends) > 1)
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
            plan, caps = await prepare(backend, query)
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
        info = caps.collection(plan.collection)
        unsorted = info is not None and not info.sorts
        if unsorted:
            assert info is not None
            own = f"rows in {backend.kind.capitalize()}'s own order: {info.name} cannot be sorted"
            if run.fan_out:
                # Checked before SKIPPED below, so every page gives this reason again.
                await run.skip(
                    name,
                    f"{own}, so they cannot be merged with other instances' rows by "
                    f"{query.sort}; ask backend={name} alone",
                )
                continue
            run.warnings.append(f"{name}: {own}")
        if entry == SKIPPED:
            await run.skip(name, STILL_SKIPPED)
            continue
        if start is not None:
            _check_entry(start, caps.addressing, caps.max_page_size)
        if retried:
            await run.warn(f"{name}: {REJOINED}")
        run.applied.extend(_notes(name, plan))
        run.warnings.extend(f"{name}: {w}" for w in plan.warnings)
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
                start=start,
                max_scan=backend.settings.max_scan if max_scan is None else max_scan,
                early_stop=native_date_sort,
                on_page=on_page,
            )
        )
    return run


class Watch:
    """Reports a run's progress after every page: rows examined so far, against the sum
    of the totals reported so far plus the rows read from backends that report none (so
    the total never falls below the count), capped at the rows the call stops at when
    every filter is native (the limit, or an export's max_rows)."""

    def __init__(self, reporter: Progress | None, cap: int | None) -> None:
        self.reporter = reporter
        self.cap = cap
        self.run: Run | None = None

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
