"""Suggestions for argument values (MCP completions), from what the backends know.

A person types a prefix and the client asks after every keystroke, so nothing here makes a
request per keystroke: each (instance, field, collection) list is fetched once through
`Backend.suggest`, kept for `ttl` seconds, and filtered locally. Concurrent askers share
one fetch; a failed or slow fetch answers with what is known (or nothing) and is retried
only after `retry_after` seconds, so a broken backend is not hammered either.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from tools.backends.base import Backend
from tools.errors import ProcessMcpError
from tools.export_index import list_exports
from tools.instances import ALL, Instances
from tools.model import STATUSES
from tools.tasks import gather

MAX_VALUES = 100  # the protocol's limit for one completion answer
# Fields a backend answers (Backend.suggest); the rest are known here.
BACKEND_FIELDS = ("collection", "native_status", "include", "template", "owner")
FILTERS = ("native_status", "template", "owner")
DAYS = ("7", "14", "30", "60", "90")
PERIODS = ("7d", "30d", "90d", "this-week", "last-week", "this-month", "last-month")


@dataclass(frozen=True)
class Suggestions:
    values: tuple[str, ...]
    total: int
    has_more: bool


@dataclass
class _Entry:
    values: tuple[str, ...]
    expires: float


def match(candidates: Iterable[str], prefix: str) -> Suggestions:
    """Values starting with `prefix` (case-insensitive), then those with a word starting
    with it ("onb" finds "Customer Onboarding"); first occurrence wins, order kept."""
    wanted = prefix.strip().casefold()
    starts: dict[str, None] = {}
    words: dict[str, None] = {}
    for value in candidates:
        folded = value.casefold()
        if folded.startswith(wanted):
            starts.setdefault(value, None)
        elif wanted and any(w.startswith(wanted) for w in _words(folded)):
            words.setdefault(value, None)
    found = list(starts) + [v for v in words if v not in starts]
    return Suggestions(tuple(found[:MAX_VALUES]), len(found), len(found) > MAX_VALUES)


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() or c in "@.-_" else " " for c in text).split()]


class SuggestionCache:
    """Per-instance suggestion lists with a TTL. `clock` is injectable for tests."""

    def __init__(
        self,
        *,
        ttl: float = 300.0,
        retry_after: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.retry_after = retry_after
        self.timeout = timeout
        self._clock = clock
        self._entries: dict[tuple[str, str, str | None], _Entry] = {}
        self._locks: dict[tuple[str, str, str | None], anyio.Lock] = {}

    async def values(self, backend: Backend, field: str, collection: str | None) -> tuple[str, ...]:
        key = (backend.name, field, collection)
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry.expires:
            return entry.values
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry.expires:
                return entry.values  # another asker refreshed it while we waited
            try:
                with anyio.fail_after(self.timeout):
                    await backend.discover()
                    fresh = (
                        tuple(dict.fromkeys(await backend.suggest(field, collection)))
                        if _filters_by(backend, field, collection)
                        else ()
                    )
                entry = _Entry(fresh, self._clock() + self.ttl)
            except (ProcessMcpError, TimeoutError):
                # Keep what we had; ask again later, not at the next keystroke.
                kept = entry.values if entry is not None else ()
                entry = _Entry(kept, self._clock() + self.retry_after)
            self._entries[key] = entry
            return entry.values


async def suggest(
    instances: Instances,
    cache: SuggestionCache,
    field: str,
    prefix: str,
    *,
    backend: str | None = None,
    collection: str | None = None,
    export_dir: Path | None = None,
    extension: str | None = None,
) -> Suggestions:
    """Values for `field` matching `prefix`. `backend` (a name or "all") and `collection`
    narrow per-backend fields to what was already chosen; unknown names give nothing."""
    if field == "backend":
        return match([ALL, *instances.names], prefix)
    if field == "status":
        return match(STATUSES, prefix)
    if field == "days":
        return match(DAYS, prefix)
    if field == "period":
        return match(PERIODS, prefix)
    if field == "export_name" and export_dir is not None:
        return match((e.name for e in list_exports(export_dir, extension)), prefix)
    if field not in BACKEND_FIELDS:
        return match((), prefix)
    chosen = _chosen(instances, backend)
    lists: list[Sequence[str]] = [()] * len(chosen)

    def one(i: int, b: Backend) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            lists[i] = await cache.values(b, field, collection)

        return call

    await gather([one(i, b) for i, b in enumerate(chosen)])
    return match((v for values in lists for v in values), prefix)


def _filters_by(backend: Backend, field: str, collection: str | None) -> bool:
    """Whether the collection can filter by `field` at all: no use offering values for
    a filter that would be refused (Kommo contacts have no pipeline)."""
    if field not in FILTERS:
        return True
    info = backend.capabilities().collection(collection)
    return info is not None and info.support(field).mode != "unsupported"


def _chosen(instances: Instances, backend: str | None) -> list[Backend]:
    if backend in (None, "", ALL):
        return [instances.backends[n] for n in instances.names]
    found = instances.backends.get(backend)
    return [found] if found is not None else []
