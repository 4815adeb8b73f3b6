"""list_backends: what each instance is and which filters it applies where."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from tools.backends.base import CollectionInfo
from tools.instances import Instances
from tools.model import FilterMode, Status
from tools.query import FILTER_FIELDS


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


def _collection(info: CollectionInfo) -> CollectionView:
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
    )


def list_backends(instances: Instances) -> BackendsResult:
    views: list[BackendView] = []
    for name in instances.names:
        backend = instances.backends[name]
        caps = backend.capabilities()
        views.append(
            BackendView(
                name=name,
                kind=backend.kind,
                usable=True,
                description=backend.settings.description,
                default_collection=caps.default_collection,
                max_page_size=caps.max_page_size,
                collections=[_collection(c) for c in caps.collections],
            )
        )
    for name, problem in sorted(instances.problems.items()):
        views.append(BackendView(name=name, usable=False, problem=problem.for_model()))
    return BackendsResult(backends=views, server_time=datetime.now(UTC).replace(microsecond=0))
