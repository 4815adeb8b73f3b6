"""What summarize_processes groups by: each dimension's label for a row (when counting
rows), and its slices (when the vendor counts: one filter per group value).

A row's label is what its list row shows: the unified or native status, the template or
owner name, the instance, the collection, a period of its created or updated time (UTC
day, ISO week, month, quarter), or an age bucket (time since it was created, at the
query's `now`). A missing value is `(none)`.

Slices are the same groups seen from the other side: a filter that selects exactly the
rows of one label, so a backend that reports totals can count each group with one request.
Only dimensions whose values a backend knows in advance can be sliced: statuses (from its
capabilities), templates and owners (from its directory, `Backend.suggest`), and the
instance and collection (one value each). Periods and ages are counted from rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.backends.base import Backend, CollectionInfo
from tools.model import ProcessSummary
from tools.query import ProcessQuery

NONE = "(none)"
PERIODS = ("day", "week", "month", "quarter")
GROUP_BY: tuple[str, ...] = (
    "status",
    "native_status",
    "template",
    "owner",
    "backend",
    "collection",
    *(f"created_{p}" for p in PERIODS),
    *(f"updated_{p}" for p in PERIODS),
    "age",
)
MAX_DIMENSIONS = 2
# Upper bounds in days, youngest first; the last bucket is open-ended.
AGE_BUCKETS: tuple[tuple[int, str], ...] = ((7, "0-7d"), (30, "7-30d"), (90, "30-90d"))
AGE_BUCKETS += ((365, "90-365d"),)
OLDEST = "365d+"
# Dimensions whose groups are directory values, not a partition the vendor's statuses
# guarantee: counting them by slices needs the total too, for the rows in none of them.
NEEDS_TOTAL = frozenset({"template", "owner"})


def period(moment: datetime | None, unit: str) -> str:
    if moment is None:
        return NONE
    match unit:
        case "day":
            return moment.date().isoformat()
        case "week":
            year, week, _ = moment.isocalendar()
            return f"{year}-W{week:02d}"
        case "month":
            return f"{moment.year}-{moment.month:02d}"
        case _:
            return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return NONE
    days = (now - created).total_seconds() / 86400
    return next((label for bound, label in AGE_BUCKETS if days < bound), OLDEST)


def label(dimension: str, row: ProcessSummary, now: datetime) -> str:
    """The group a row belongs to along one dimension."""
    match dimension:
        case "status":
            return row.status or NONE
        case "native_status":
            return row.native_status or NONE
        case "template":
            return row.template or NONE
        case "owner":
            return row.owner or NONE
        case "backend":
            return row.backend
        case "collection":
            return row.collection
        case "age":
            return age(row.created_at, now)
    column, unit = dimension.split("_")
    return period(row.created_at if column == "created" else row.updated_at, unit)


def key(dimensions: Sequence[str], row: ProcessSummary, now: datetime) -> tuple[str, ...]:
    return tuple(label(d, row, now) for d in dimensions)


# -- slices -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """One group as a filter: its labels, and the query changes that select its rows."""

    key: tuple[str, ...]
    changes: Mapping[str, Any] = field(default_factory=dict)


def _in(value: str, allowed: Sequence[str] | None) -> bool:
    return allowed is None or value.casefold() in {a.casefold() for a in allowed}


def _status_slices(
    dimension: str, info: CollectionInfo, query: ProcessQuery
) -> list[tuple[str, dict[str, Any]]] | None:
    """One slice per native status the query admits (labelled by its unified status for
    `status`): the vendor's statuses partition the rows, so the slices add up to them."""
    if not info.statuses:
        return None
    out: list[tuple[str, dict[str, Any]]] = []
    for native, unified in info.statuses.items():
        if not _in(native, query.native_status) or not _in(unified, query.status):
            continue
        out.append((unified if dimension == "status" else native, {"native_status": (native,)}))
    return out


async def _dimension_slices(
    dimension: str, backend: Backend, info: CollectionInfo, query: ProcessQuery
) -> list[tuple[str, dict[str, Any]]] | None:
    if dimension == "backend":
        return [(backend.name, {})]
    if dimension == "collection":
        return [(info.name, {})]
    if dimension in ("status", "native_status"):
        return _status_slices(dimension, info, query)
    if dimension in NEEDS_TOTAL:
        if getattr(query, dimension) is not None:
            return None  # already filtered: rows show names, the filter may be an id
        # Versions of one definition share a name: one group, one filter.
        values = list(dict.fromkeys(await backend.suggest(dimension, info.name)))
        # Two values one filter cannot tell apart (titles differing in case) would be
        # counted twice: count rows instead.
        if not values or len({v.casefold() for v in values}) < len(values):
            return None
        return [(v, {dimension: v}) for v in values]
    return None


async def slices(
    dimensions: Sequence[str], backend: Backend, info: CollectionInfo, query: ProcessQuery
) -> list[Slice] | None:
    """Every group as a filter, or None when some dimension cannot be sliced here."""
    per_dimension = []
    for dimension in dimensions:
        found = await _dimension_slices(dimension, backend, info, query)
        if found is None:
            return None
        per_dimension.append(found)
    out: list[Slice] = []
    for combination in itertools.product(*per_dimension):
        changes: dict[str, Any] = {}
        for _, change in combination:
            if any(k in changes and changes[k] != v for k, v in change.items()):
                break  # status "completed" with native status "active": no such rows
            changes.update(change)
        else:
            out.append(Slice(tuple(lbl for lbl, _ in combination), changes))
    return out
