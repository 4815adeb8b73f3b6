"""list_backends: what each instance is and which filters it applies where."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.backends.base import Capabilities, CollectionInfo
from tools.errors import ProcessMcpError
from tools.instances import Instances
from tools.model import FilterMode, Status
from tools.query import FILTER_FIELDS
from tools.tasks import gather


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterInfo(_Model):
    mode: FilterMode
    note: str | None = None


class CollectionView(_Model):
    name: str
    description: str
    statuses: dict[str, Status] = Field(description="Native status -> unified status.")
    filters: dict[str, FilterInfo]
    sorts: list[str]
    sections: list[str] = Field(description="Sections get_process can include.")
    attributes: dict[str, str] | None = None
    max_page_size: int | None = Field(None, description="Only where it differs from the backend's.")
    counts: Literal["vendor totals", "rows"] = Field(
        "rows",
        description="How summarize_processes counts: vendor totals (when every filter is "
        "native) or rows.",
    )


class BackendView(_Model):
    name: str
    kind: str | None = None
    usable: bool
    description: str | None = None
    problem: str | None = None
    default_collection: str | None = None
    max_page_size: int | None = None
    collections: list[CollectionView] = Field(default_factory=list)


class BackendsResult(_Model):
    backends: list[BackendView]
    server_time: datetime = Field(description="Now, UTC: for relative dates.")


def _collection(info: CollectionInfo, caps: Capabilities, totals: bool) -> CollectionView:
    own = info.paging.max_page_size if info.paging else None
    return CollectionView(
        name=info.name,
        description=info.description,
        statuses=dict(info.statuses),
        filters={
            f: FilterInfo(mode=s.mode, note=s.note) for f in FILTER_FIELDS if (s := info.support(f))
        },
        sorts=list(info.sorts),
        sections=list(info.sections),
        attributes=dict(info.attributes) or None,
        max_page_size=own if own != caps.max_page_size else None,
        counts="vendor totals" if totals else "rows",
    )


async def list_backends(instances: Instances) -> BackendsResult:
    """Every instance, usable or not. Discovery (e.g. Chakra's procedures) runs for all
    instances at once, so one slow backend costs its own latency, not the sum."""
    problems: dict[str, str] = {}

    def discover(name: str) -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            try:
                await instances.backends[name].discover()
            except ProcessMcpError as exc:
                problems[name] = exc.for_model()

        return call

    await gather([discover(name) for name in instances.names])

    views: list[BackendView] = []
    for name in instances.names:
        backend = instances.backends[name]
        if name in problems:
            views.append(
                BackendView(name=name, kind=backend.kind, usable=False, problem=problems[name])
            )
            continue
        caps = backend.capabilities()
        views.append(
            BackendView(
                name=name,
                kind=backend.kind,
                usable=True,
                description=backend.settings.description,
                default_collection=caps.default_collection,
                max_page_size=caps.max_page_size,
                collections=[
                    _collection(c, caps, backend.reports_totals(c.name)) for c in caps.collections
                ],
            )
        )
    for name, problem in sorted(instances.problems.items()):
        views.append(BackendView(name=name, usable=False, problem=problem.for_model()))
    return BackendsResult(backends=views, server_time=datetime.now(UTC).replace(microsecond=0))
