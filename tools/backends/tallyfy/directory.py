"""The organization's users, tags and checklists: small lists read whole (every page) once
and cached, for owners' e-mails, tag names and template titles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from tools.backends.tallyfy.shapes import ListPage

if TYPE_CHECKING:
    from tools.http import BackendHttp

Json = dict[str, Any]
PAGE = 100


class Directory:
    """Users, tags and checklists of one organization, fetched once and cached."""

    def __init__(self, read: Callable[[str], Awaitable[list[Json]]]) -> None:
        self._read = read
        self._lock = anyio.Lock()
        self._cache: dict[str, list[Json]] = {}

    def cached(self, kind: str) -> list[Json] | None:
        return self._cache.get(kind)

    async def load(self, kind: str, *, fresh: bool = False) -> list[Json]:
        """`fresh` re-reads the list (suggestions do, once per their TTL)."""
        async with self._lock:
            if fresh or kind not in self._cache:
                self._cache[kind] = await self._read(kind)
            return self._cache[kind]


async def all_pages(http: BackendHttp, org_path: str, kind: str) -> list[Json]:
    """Every row of a small directory endpoint (users, tags, checklists)."""
    out: list[Json] = []
    page = 1
    while True:
        body = await http.get_typed(
            f"{org_path}/{kind}",
            ListPage[Json],
            params=[("page", str(page)), ("per_page", str(PAGE))],
        )
        out.extend(body.data)
        total = body.total
        if not body.data or (total is not None and len(out) >= total) or len(body.data) < PAGE:
            return out
        page += 1
