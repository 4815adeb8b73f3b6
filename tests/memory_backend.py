"""An in-memory backend: a real implementation of the Backend contract over a list of rows.

It lets the paging driver be tested against every addressing style, page size and mix of
native and local filters without HTTP. It is not a mock: it answers from its data exactly
as the contract says a backend must.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from tools.backends.base import (
    Addressing,
    Backend,
    Capabilities,
    CollectionInfo,
    FieldSupport,
    InstanceSettings,
    PageResult,
    Plan,
    Position,
)
from tools.http import ClientConfig, create_client
from tools.model import Detail, ProcessDetail, ProcessSummary
from tools.query import FILTER_FIELDS, SORT_KEYS, ProcessQuery, evaluate


class MemoryBackend(Backend):
    kind: ClassVar[str] = "memory"

    def __init__(
        self,
        name: str,
        rows: list[ProcessSummary],
        *,
        addressing: Addressing = "page",
        max_page_size: int = 10,
        native: frozenset[str] = frozenset(),
        parallel_pages: int = 1,
        total_known: bool = True,
        max_scan: int = 5000,
        sorts: tuple[str, ...] = SORT_KEYS,
    ) -> None:
        settings = InstanceSettings(
            name=name, kind="memory", base_url="http://memory.invalid", max_scan=max_scan
        )
        super().__init__(
            settings, create_client(ClientConfig(backend=name, base_url=settings.base_url))
        )
        self.rows = [r.replace(backend=name) for r in rows]
        self.addressing = addressing
        self.max_page_size = max_page_size
        self.native = native
        self.parallel_pages = parallel_pages
        self.total_known = total_known
        # No sorts: the rows come in their list order whatever the query's sort, as a
        # vendor that documents no order (Kommo customers) lists them.
        self.sorts = sorts
        self.fetches: list[tuple[Any, int]] = []

    @classmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        return {}

    def capabilities(self) -> Capabilities:
        fields = {f: FieldSupport("native" if f in self.native else "local") for f in FILTER_FIELDS}
        return Capabilities(
            kind="memory",
            collections=(CollectionInfo("items", "test rows", fields, self.sorts),),
            default_collection="items",
            max_page_size=self.max_page_size,
            addressing=self.addressing,
            parallel_pages=self.parallel_pages,
            total_known=self.total_known,
        )

    async def plan(self, query: ProcessQuery) -> Plan:
        info = self.collection_info(query.collection)
        applied = {f: info.support(f) for f in query.used_filters()}
        return Plan(collection="items", native=query, applied=applied, sort=query.sort)

    def _native_rows(self, query: ProcessQuery) -> list[ProcessSummary]:
        dropped = {f: None for f in FILTER_FIELDS if f not in self.native}
        kept = evaluate(query.with_changes(**dropped), self.rows)
        if not self.sorts:
            ids = {r.id for r in kept}
            return [r for r in self.rows if r.id in ids]
        return kept

    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult:
        assert size <= self.max_page_size
        self.fetches.append((at, size))
        rows = self._native_rows(plan.native)
        if self.addressing == "token":
            offset = int(str(at).removeprefix("t")) if at is not None else 0
        else:
            offset = int(at or 0)
            if self.addressing == "page":
                assert offset % size == 0, "page addressing needs aligned offsets"
        page = rows[offset : offset + size]
        end = offset + len(page)
        more = end < len(rows)
        if self.addressing == "token":
            nxt: Position = f"t{end}" if more else None
        else:
            nxt = end if more else None
        return PageResult(page, nxt, len(rows) if self.total_known else None)

    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail:
        row = next(r for r in self.rows if r.id == process_id)
        return ProcessDetail(**row.as_dict())


BASE = datetime(2025, 1, 1, tzinfo=UTC)


def sample_rows(
    n: int,
    prefix: str = "p",
    *,
    created: Callable[[int], datetime] = lambda i: BASE + timedelta(days=i),
    owner: Callable[[int], str | None] = lambda i: None,
) -> list[ProcessSummary]:
    """n open rows with ids {prefix}0000.., one a day unless `created` says otherwise."""
    return [
        ProcessSummary(
            backend="m",
            collection="items",
            id=f"{prefix}{i:04d}",
            name=f"run {i}",
            status="open",
            owner=owner(i),
            created_at=created(i),
        )
        for i in range(n)
    ]
