"""The definitions every execution refers to, and the agent groups executions live in."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from tools.backends.frends import convert

if TYPE_CHECKING:
    from tools.backends.frends.adapter import FrendsBackend

DIRECTORY_REFRESH_SECONDS = 60.0


@dataclass(frozen=True)
class AgentGroup:
    id: int
    name: str  # internal name
    label: str  # display name and environment


def is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text.strip()) == 36


class Directory:
    """Every definition's id, guid, version and name, loaded once (and again when an
    unknown version shows up, at most once a minute). Instances name their process by
    version id only, and text or template filters resolve names to guids here."""

    def __init__(self, backend: FrendsBackend) -> None:
        self._backend = backend
        self._lock = anyio.Lock()
        self.by_id: dict[int, tuple[str, str]] = {}  # version id -> (guid, name)
        self.names: dict[str, set[str]] = {}  # guid -> every name its versions had
        self._loaded_at: float | None = None

    async def ensure(self, wanted: set[int] | None = None) -> None:
        async with self._lock:
            stale = self._loaded_at is not None and (
                time.monotonic() - self._loaded_at > DIRECTORY_REFRESH_SECONDS
            )
            missing = bool(wanted and not wanted <= self.by_id.keys())
            if self._loaded_at is None or (missing and stale):
                await self._load()

    async def _load(self) -> None:
        rows = await self._backend.all_definitions()
        by_id: dict[int, tuple[str, str]] = {}
        names: dict[str, set[str]] = {}
        for raw in rows:
            guid = str(raw.get("uniqueIdentifier") or "").lower()
            name = str(raw.get("name") or "")
            if isinstance(raw.get("id"), int):
                by_id[raw["id"]] = (guid, name)
            names.setdefault(guid, set()).add(name)
            self._backend.secrets.learn(convert.secret_values(raw), register=False)
        self.by_id, self.names = by_id, names
        self._loaded_at = time.monotonic()

    def name_of(self, raw: Mapping[str, Any]) -> str | None:
        pid = raw.get("processId")
        found = self.by_id.get(pid) if isinstance(pid, int) else None
        if found is not None:
            return found[1]
        names = self.names.get(str(raw.get("processGuid") or "").lower())
        return sorted(names)[0] if names else None

    def guids(self, match: Callable[[str], bool]) -> set[str]:
        return {g for g, names in self.names.items() if any(match(n) for n in names)}
