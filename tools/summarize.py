"""summarize_processes: how many processes match the list filters, per group, in one call.

Each instance is counted the cheapest exact way it allows (tools/tally.py): by the
vendor's own totals, one small request per group, where its totals are exact for the
filter; otherwise by counting the rows through the shared paging driver, up to the scan
cap, after which every count it touched is a lower bound and says so. Instances are
counted concurrently; in a fan-out one that cannot take the query is skipped and one that
fails is reported (its rows could be in any group, so every count becomes a lower bound),
while the others answer. Waiting is not failing: where a quota cannot fit the next
request within the call's budget (tools/operation.py), the instance is counted as far as
it got (or not at all), its counts become lower bounds, and the answer says when to ask
again, even with one instance.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from tools import notices
from tools.arguments import given, shown
from tools.backends.base import Backend
from tools.errors import BackendError, InvalidArgumentError, ProcessMcpError, QuotaWaitError
from tools.filter_text import expand_filter
from tools.groups import GROUP_BY, MAX_DIMENSIONS
from tools.instances import Instances
from tools.model import GroupCount, SummaryResult
from tools.operation import LIST_BUDGET_SECONDS, Clock, operation
from tools.paging import quota_note
from tools.progress import Progress, ProgressFn, as_progress
from tools.query import QUERY_FILTERS, ProcessQuery, parse_query
from tools.tally import Tally, tally
from tools.tasks import gather

PARAMETERS = ("backend", "collection", *QUERY_FILTERS, "group_by")
# Published: the filters as one expression (tools/filter_text.py); the typed ones above
# are taken too.
PUBLISHED = ("backend", "collection", "filter", "group_by")
DEFAULT_GROUP_BY = ("backend",)
# Groups an answer lists; the rest are summed into one line.
MAX_GROUPS = 50
_PAGING = ("limit", "cursor", "sort", "detail", "fields")


def parse_group_by(value: Any) -> tuple[str, ...]:
    choices = ", ".join(GROUP_BY)
    if value is None:
        return DEFAULT_GROUP_BY
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidArgumentError(
            f"group_by: {shown(value)} is not an array of names",
            field="group_by",
            hint=f'pass one or two of: {choices}, e.g. ["owner"]',
        )
    unknown = [v for v in value if v not in GROUP_BY]
    if unknown:
        raise InvalidArgumentError(
            f"group_by: {shown(unknown[0])} is not something to group by",
            field="group_by",
            hint=f"use one or two of: {choices}",
        )
    if len(value) > MAX_DIMENSIONS:
        raise InvalidArgumentError(
            f"group_by has more than {MAX_DIMENSIONS} items: {shown(list(value))}",
            field="group_by",
            hint='group by one or two, e.g. ["owner"] or ["template", "status"]',
        )
    if not value or len(set(value)) < len(value):
        raise InvalidArgumentError(
            f"group_by takes one or two different names, not {shown(list(value))}",
            field="group_by",
            hint='e.g. ["owner"] or ["template", "status"]; leave it out to group by backend',
        )
    return tuple(value)


def parse_summary(arguments: Mapping[str, Any]) -> tuple[ProcessQuery, tuple[str, ...]]:
    """The list filters (validated as list_processes validates them) and the grouping."""
    arguments = expand_filter(given(arguments, (*PARAMETERS, "filter")))
    unknown = [k for k in arguments if k not in PARAMETERS]
    if unknown:
        name = unknown[0]
        hint = "valid parameters are: " + ", ".join(PUBLISHED)
        if name in _PAGING:
            hint = (
                f"drop {name}: summarize_processes counts every match, so it has no {name} "
                f"(list_processes pages through rows); {hint}"
            )
        raise InvalidArgumentError(f"unknown parameter {shown(name)}", field=name, hint=hint)
    dimensions = parse_group_by(arguments.get("group_by"))
    query = parse_query({k: v for k, v in arguments.items() if k != "group_by"})
    return query, dimensions


class _Counting:
    """Progress in rows counted so far, across every instance (values only rise)."""

    def __init__(self, reporter: Progress | None) -> None:
        self.reporter = reporter
        self.rows = 0

    async def add(self, rows: int) -> None:
        self.rows += rows
        if self.reporter is not None and rows:
            await self.reporter.update(self.rows, None, f"counted {self.rows} rows")


async def summarize_processes(
    instances: Instances,
    arguments: Mapping[str, Any],
    *,
    progress: Progress | ProgressFn | None = None,
    budget: float | None = LIST_BUDGET_SECONDS,
    clock: Clock = time.monotonic,
) -> SummaryResult:
    """The tool's answer. `budget`: the call's wall budget for quota waits, as for a list
    (kept from an operation already running: the server's)."""
    with operation(budget, clock=clock) as op:
        query, dimensions = parse_summary(arguments)
        result = await summarize(instances, query, dimensions, progress=progress)
        # Retries that cost time, and long quota waits, are the answer's news too.
        notes = op.notes()
        if notes:
            result.warnings = [*(result.warnings or []), *notes]
        return result


async def summarize(
    instances: Instances,
    query: ProcessQuery,
    dimensions: Sequence[str],
    *,
    progress: Progress | ProgressFn | None = None,
) -> SummaryResult:
    """The groups of `query`'s matches over the instances it names."""
    backends = instances.select(query.backend)
    fan_out = len(backends) > 1
    counting = _Counting(as_progress(progress))
    tallies: dict[str, Tally] = {}
    failed: list[str] = []
    warnings: list[str] = []
    errors: list[Exception] = []

    async def one(backend: Backend) -> None:
        try:
            tallies[backend.name] = await tally(backend, query, dimensions, counting.add)
        except QuotaWaitError as exc:
            # Waiting is not failing: the counts leave this instance out, and say when.
            failed.append(backend.name)
            await warn(f"{backend.name} not counted: {quota_note(exc)}; call again then")
        except BackendError as exc:
            if not fan_out:
                errors.append(exc)
                return
            failed.append(backend.name)
            await warn(f"{backend.name} failed: {exc.for_model()}")
        except ProcessMcpError as exc:
            if not fan_out:
                errors.append(exc)
                return
            await warn(f"{backend.name} skipped: {exc.message}")

    async def warn(message: str) -> None:
        """For the answer, and live for the client, as a list call says it."""
        warnings.append(message)
        await notices.warn(message, source="process_mcp.summarize")

    await gather([partial(one, b) for b in backends])
    if errors:
        raise errors[0]
    ordered = [tallies[b.name] for b in backends if b.name in tallies]
    result = merge(ordered, dimensions, failed)
    # As list answers say it: the filters checked here, not those the backend applied.
    applied = [a for t in ordered for a in t.applied if a.mode != "native"]
    result.applied = applied or None
    result.warnings = [w for t in ordered for w in t.warnings] + warnings or None
    if counting.reporter is not None:
        await counting.reporter.finish(
            counting.rows, counting.rows, f"counted {result.total} processes"
        )
    return result


def merge(
    tallies: Sequence[Tally], dimensions: Sequence[str], failed: Sequence[str]
) -> SummaryResult:
    """Every instance's groups added up. A group is exact when no instance that could hold
    rows of it was counted only in part (capped, or failed): with `backend` among the
    dimensions, an instance holds rows of its own groups only."""
    counts: Counter[tuple[str, ...]] = Counter()
    for t in tallies:
        counts.update(t.counts)
    partial = [t.backend for t in tallies if not t.exact] + list(failed)
    at = dimensions.index("backend") if "backend" in dimensions else None

    def exact(key: tuple[str, ...]) -> bool:
        return not any(at is None or key[at] == name for name in partial)

    ranked = sorted((item for item in counts.items() if item[1]), key=lambda kv: (-kv[1], kv[0]))
    shown_groups = ranked[:MAX_GROUPS]
    rest = ranked[MAX_GROUPS:]
    return SummaryResult.of(
        dimensions,
        [GroupCount(key=list(k), count=n, exact=exact(k)) for k, n in shown_groups],
        total=sum(t.total for t in tallies),
        exact=all(t.total_exact for t in tallies) and not failed,
        more_groups=len(rest) or None,
        more_count=sum(n for _, n in rest) or None,
        counted=[t.counted for t in tallies],
    )
