"""The definitions executions refer to, and the agent groups executions live in."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from tools.backends.frends import convert
from tools.backends.frends.reads import PARALLEL_READS
from tools.backends.frends.shapes import DefinitionRow, Execution
from tools.tasks import gather

if TYPE_CHECKING:
    from tools.backends.frends.adapter import FrendsBackend

DIRECTORY_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class AgentGroup:
    id: int
    name: str  # internal name
    label: str  # display name and environment


@dataclass(frozen=True)
class Version:
    guid: str
    name: str


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text.strip()) == 36


class Directory:
    """Names of definition versions, for executions and for text and template filters.

    An execution names its process only by version id (`processId`) and guid. Each version
    id is read once (`GET /processes/{id}`) and cached for good, since a published version
    never changes: the definitions list need not show older versions at all, and reading
    it whole costs one page per 200 definitions, so plain listings never read it. Text and
    template filters need every process's name: they read the whole list, once (and again
    when an execution of a process the list did not show turns up, at most once a minute).
    Every version read teaches the scrubber its secret values, for execution texts."""

    def __init__(self, backend: FrendsBackend) -> None:
        self._backend = backend
        self._lock = anyio.Lock()
        self.by_id: dict[int, Version | None] = {}  # version id -> guid and name; None: 404
        self.names: dict[str, set[str]] = {}  # guid -> every name its versions had
        self._listed: set[str] = set()  # guids the whole list showed
        self._listed_at: float | None = None
        self._unlisted_seen = False

    async def ensure_listing(self) -> None:
        """Every listed definition's name, for text and template filters."""
        async with self._lock:
            stale = self._listed_at is not None and (
                time.monotonic() - self._listed_at > DIRECTORY_REFRESH_SECONDS
            )
            if self._listed_at is None or (self._unlisted_seen and stale):
                rows = await self._backend.reader.every_definition()
                for raw in rows:
                    self._learn(raw)
                self._listed = {(r.unique_identifier or "").lower() for r in rows}
                self._listed_at = time.monotonic()
                self._unlisted_seen = False

    async def resolve(self, ids: Iterable[int]) -> None:
        """Read the versions among `ids` not read before, a few at a time."""
        async with self._lock:
            missing = sorted({i for i in ids if i not in self.by_id})
            if not missing:
                return
            read = self._backend.reader.version

            def call(version_id: int) -> Callable[[], Awaitable[dict[str, Any] | None]]:
                return lambda: read(version_id)

            found = await gather([call(i) for i in missing], PARALLEL_READS)
            for version_id, raw in zip(missing, found, strict=True):
                if raw is None:
                    self.by_id[version_id] = None  # not found: asked once, not again
                else:
                    self._learn(convert.as_row(raw, self._backend.name))

    def _learn(self, raw: DefinitionRow) -> None:
        guid = (raw.unique_identifier or "").lower()
        name = raw.name or ""
        self.by_id[raw.id] = Version(guid, name)
        self.names.setdefault(guid, set()).add(name)
        if self._listed_at is not None and guid not in self._listed:
            self._unlisted_seen = True
        self._backend.secrets.learn(convert.secret_values(raw), register=False)

    def describe(self, row: Execution) -> tuple[str | None, str | None]:
        """The executed version's name (else a name its process had; None when unknown)
        and its process guid (the row's, else the version's)."""
        pid = row.process_id
        found = self.by_id.get(pid) if pid is not None else None
        guid = (row.process_guid or "").lower() or (found.guid if found else None)
        if found is not None:
            return found.name, guid
        names = self.names.get(guid or "")
        return (sorted(names)[0] if names else None), guid

    def guids(self, match: Callable[[str], bool]) -> set[str]:
        return {g for g, names in self.names.items() if any(match(n) for n in names)}


def version_ids(rows: Iterable[Execution]) -> set[int]:
    """The version ids (`processId`) a page of executions names."""
    return {r.process_id for r in rows if r.process_id is not None}
