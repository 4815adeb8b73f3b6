"""What one Kommo account knows about itself: pipelines with their stages, users, custom
fields. Fetched once per instance, on first need, and cached (an anyio.Lock keeps the
parallel page fetches of one query from loading the same thing several times)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from tools.errors import BackendAuthError, BackendRequestError
from tools.model import Status

WON, LOST = 142, 143
Json = dict[str, Any]
Getter = Callable[[str, list[tuple[str, str]]], Awaitable[Any]]

# Kommo's page caps for the directory endpoints (users 250; custom fields 50).
USERS_PAGE = 250
FIELDS_PAGE = 50
MAX_DIRECTORY_PAGES = 100


def unified_status(status_id: int | None) -> Status | None:
    """Mapped by id, never by name: 142 and 143 exist in every pipeline and may be renamed."""
    if status_id is None:
        return None
    if status_id == WON:
        return "completed"
    if status_id == LOST:
        return "cancelled"
    return "open"


@dataclass(frozen=True)
class Stage:
    id: int
    name: str
    pipeline_id: int
    sort: int
    type: int  # 1: the "Incoming leads" (unsorted) stage

    @property
    def status(self) -> Status:
        status = unified_status(self.id)
        assert status is not None
        return status


@dataclass(frozen=True)
class Pipeline:
    id: int
    name: str
    stages: tuple[Stage, ...]
    is_main: bool = False
    is_archive: bool = False


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str | None

    @property
    def label(self) -> str:
        return self.email or self.name


@dataclass(frozen=True)
class CustomField:
    id: int
    name: str
    type: str
    code: str | None
    enums: tuple[tuple[int, str], ...] = ()


class ApiBlockedError(BackendAuthError):
    """Kommo answers every request with an HTML 403 page: the account or IP is blocked."""


class Directory:
    def __init__(self, get: Getter) -> None:
        self._get = get
        self._lock = anyio.Lock()
        self._pipelines: tuple[Pipeline, ...] | None = None
        self._users: tuple[User, ...] | None = None
        self.users_problem: str | None = None
        self._fields: dict[str, tuple[CustomField, ...]] = {}
        self.fields_problem: dict[str, str] = {}

    # -- cached views (None until loaded) --------------------------------------------------

    @property
    def known_pipelines(self) -> tuple[Pipeline, ...] | None:
        return self._pipelines

    def known_fields(self, entity: str) -> tuple[CustomField, ...] | None:
        return self._fields.get(entity)

    # -- loaders ---------------------------------------------------------------------------

    async def pipelines(self, *, fresh: bool = False) -> tuple[Pipeline, ...]:
        """`fresh` re-reads them (suggestions do, once per their TTL)."""
        async with self._lock:
            if fresh or self._pipelines is None:
                body = await self._get("api/v4/leads/pipelines", [])
                raw = ((body or {}).get("_embedded") or {}).get("pipelines") or []
                self._pipelines = tuple(_pipeline(p) for p in raw if isinstance(p, dict))
            return self._pipelines

    async def users(self, *, fresh: bool = False) -> tuple[User, ...]:
        async with self._lock:
            if fresh or self._users is None:
                try:
                    raw = await self._all("api/v4/users", "users", USERS_PAGE)
                except ApiBlockedError:
                    raise
                except (BackendAuthError, BackendRequestError) as exc:
                    # Listing users needs rights the token may lack; rows then show ids.
                    self.users_problem = exc.message
                    raw = []
                self._users = tuple(
                    User(int(u["id"]), str(u.get("name") or u["id"]), u.get("email") or None)
                    for u in raw
                    if isinstance(u, dict) and "id" in u
                )
            return self._users

    async def fields(self, entity: str) -> tuple[CustomField, ...]:
        async with self._lock:
            if entity not in self._fields:
                try:
                    raw = await self._all(
                        f"api/v4/{entity}/custom_fields", "custom_fields", FIELDS_PAGE
                    )
                except BackendRequestError as exc:
                    if exc.status != 402:
                        raise
                    # 402: the plan lacks this entity (customers must be switched on).
                    self.fields_problem[entity] = exc.message
                    raw = []
                self._fields[entity] = tuple(_field(f) for f in raw if isinstance(f, dict))
            return self._fields[entity]

    async def _all(self, path: str, key: str, size: int) -> list[Json]:
        """Every row of a small paged directory; a 204 or a short page ends it."""
        out: list[Json] = []
        for page in range(1, MAX_DIRECTORY_PAGES + 1):
            body = await self._get(path, [("page", str(page)), ("limit", str(size))])
            rows = ((body or {}).get("_embedded") or {}).get(key) or []
            out.extend(rows)
            count = (body or {}).get("_page_count")
            if len(rows) < size or (isinstance(count, int) and page >= count):
                break
        return out


def _pipeline(raw: Json) -> Pipeline:
    pid = int(raw["id"])
    statuses = ((raw.get("_embedded") or {}).get("statuses")) or []
    stages = tuple(
        sorted(
            (
                Stage(
                    id=int(s["id"]),
                    name=str(s.get("name") or s["id"]),
                    pipeline_id=pid,
                    sort=int(s.get("sort") or 0),
                    type=int(s.get("type") or 0),
                )
                for s in statuses
                if isinstance(s, dict) and "id" in s
            ),
            key=lambda s: (s.sort, s.id),
        )
    )
    return Pipeline(
        id=pid,
        name=str(raw.get("name") or pid),
        stages=stages,
        is_main=bool(raw.get("is_main")),
        is_archive=bool(raw.get("is_archive")),
    )


def _field(raw: Json) -> CustomField:
    enums = tuple(
        (int(e["id"]), str(e.get("value")))
        for e in raw.get("enums") or ()
        if isinstance(e, dict) and "id" in e
    )
    return CustomField(
        id=int(raw["id"]),
        name=str(raw.get("name") or raw["id"]),
        type=str(raw.get("type") or "text"),
        code=raw.get("code"),
        enums=enums,
    )
