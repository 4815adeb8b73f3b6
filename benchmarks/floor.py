"""The CPU floor of an export: typed decoding of only the fields the csv uses, mapping them
to its cells and one csv.writerows per page, on the list pages the export itself read
(recorded at the transport). Reported beside the client's CPU (benchmarks/export.py), in
the same run, so the ratio to the floor is visible.

The shapes here are the benchmark's own, not the adapters': the floor is what the work
costs done plainly, whatever the project's decoding does. Directory lookups (owner names,
status names) are dictionary gets, as the project's are; the cells are the default csv
columns (backend, collection, id, name, status, native status, template, owner, created,
updated, due, progress, url)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

Cells = tuple[Any, ...]


def _iso(text: str | None) -> str:
    return datetime.fromisoformat(text).isoformat() if text else ""


def _epoch(seconds: float | None) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat() if seconds else ""


class _Progress(msgspec.Struct):
    complete: int = 0
    total: int = 0


class _TallyfyRun(msgspec.Struct):
    id: str
    name: str | None = None
    status: str | None = None
    checklist_title: str | None = None
    owner_id: int | None = None
    created_at: str | None = None
    last_updated: str | None = None
    due_date: str | None = None
    progress: _Progress | None = None


class _TallyfyPage(msgspec.Struct):
    data: list[_TallyfyRun]


def _tallyfy(page: _TallyfyPage, names: dict[Any, str]) -> list[Cells]:
    return [
        (
            "tallyfy",
            "runs",
            r.id,
            r.name,
            names.get(r.status),
            r.status,
            r.checklist_title,
            names.get(r.owner_id),
            _iso(r.created_at),
            _iso(r.last_updated),
            _iso(r.due_date),
            f"{r.progress.complete}/{r.progress.total}" if r.progress else "",
            "",
        )
        for r in page.data
    ]


class _FrendsRow(msgspec.Struct, rename="camel"):
    id: int
    name: str | None = None
    version: int | None = None
    unique_identifier: str | None = None
    modifier: str | None = None
    modified: str | None = None
    is_not_latest_version: bool | None = None


class _FrendsPage(msgspec.Struct):
    data: list[_FrendsRow]


def _frends(page: _FrendsPage, names: dict[Any, str]) -> list[Cells]:
    return [
        (
            "frends",
            "processes",
            r.id,
            r.name,
            "",
            "old" if r.is_not_latest_version else "latest",
            names.get(r.unique_identifier),
            r.modifier,
            _iso(r.modified),
            "",
            "",
            "",
            "",
        )
        for r in page.data
    ]


class _ChakraRow(msgspec.Struct, rename="camel"):
    id: str
    status: str | None = None
    state: str | None = None
    assigned_to: str | None = None
    data: dict[str, Any] = {}
    next_action_at: int | None = None
    created_at: int | None = None
    updated_at: int | None = None


class _ChakraPage(msgspec.Struct):
    data: list[_ChakraRow] = msgspec.field(name="_data")


def _chakra(page: _ChakraPage, names: dict[Any, str]) -> list[Cells]:
    return [
        (
            "chakra",
            "lead",
            r.id,
            f"{r.data.get('lead_id')} · {r.data.get('company')}",
            names.get(r.status),
            names.get(r.state),
            "Lead",
            names.get(r.assigned_to),
            _epoch(r.created_at / 1000 if r.created_at else None),
            _epoch(r.updated_at / 1000 if r.updated_at else None),
            _epoch(r.next_action_at / 1000 if r.next_action_at else None),
            "",
            "",
        )
        for r in page.data
    ]


class _YuuvisRow(msgspec.Struct, rename="camel"):
    id: str
    name: str | None = None
    process_definition_name: str | None = None
    start_user_id: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    suspended: bool = False


class _YuuvisPage(msgspec.Struct):
    objects: list[_YuuvisRow]


def _yuuvis(page: _YuuvisPage, names: dict[Any, str]) -> list[Cells]:
    return [
        (
            "yuuvis",
            "instances",
            r.id,
            r.name,
            "done" if r.end_time else "open",
            "suspended" if r.suspended else ("completed" if r.end_time else "running"),
            r.process_definition_name,
            names.get(r.start_user_id, r.start_user_id),
            _iso(r.start_time),
            _iso(r.end_time),
            "",
            "",
            "",
        )
        for r in page.objects
    ]


class _KommoLead(msgspec.Struct):
    id: int
    name: str | None = None
    status_id: int | None = None
    pipeline_id: int | None = None
    responsible_user_id: int | None = None
    created_at: int | None = None
    updated_at: int | None = None
    closest_task_at: int | None = None


class _KommoEmbedded(msgspec.Struct):
    leads: list[_KommoLead]


class _KommoPage(msgspec.Struct):
    embedded: _KommoEmbedded = msgspec.field(name="_embedded")


def _kommo(page: _KommoPage, names: dict[Any, str]) -> list[Cells]:
    return [
        (
            "kommo",
            "leads",
            r.id,
            r.name,
            names.get(r.status_id),
            names.get(r.status_id),
            names.get(r.pipeline_id),
            names.get(r.responsible_user_id),
            _epoch(r.created_at),
            _epoch(r.updated_at),
            _epoch(r.closest_task_at),
            "",
            "",
        )
        for r in page.embedded.leads
    ]


# kind -> (the list page's shape, its cells, what a list request's URL path ends with)
FLOORS: dict[str, tuple[type[Any], Callable[[Any, dict[Any, str]], list[Cells]], str]] = {
    "tallyfy": (_TallyfyPage, _tallyfy, "/runs"),
    "frends": (_FrendsPage, _frends, "/processes"),
    "chakra": (_ChakraPage, _chakra, "/process/list"),
    "yuuvis": (_YuuvisPage, _yuuvis, "/processes"),
    "kommo": (_KommoPage, _kommo, "/leads"),
}


class Recorder(httpx.AsyncBaseTransport):
    """A real HTTP transport that keeps the body of every list page it fetched."""

    def __init__(self, kind: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.suffix = FLOORS[kind][2]
        self.pages: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        # The bytes as sent (the client decodes any content-encoding once, as usual).
        kept = httpx.Response(
            response.status_code, headers=response.headers, content=raw, request=request
        )
        if request.url.path.endswith(self.suffix) and raw:
            self.pages.append(await kept.aread())
            kept = httpx.Response(
                response.status_code, headers=response.headers, content=raw, request=request
            )
        return kept

    async def aclose(self) -> None:
        await self.inner.aclose()


def floor_seconds(kind: str, pages: list[bytes]) -> tuple[float, int]:
    """CPU seconds of decode + map + csv for the recorded pages, and the rows written."""
    shape, cells, _ = FLOORS[kind]
    decoder = msgspec.json.Decoder(shape)
    names: dict[Any, str] = {}
    writer = csv.writer(io.StringIO())
    rows = 0
    start = time.process_time()
    for body in pages:
        page = cells(decoder.decode(body), names)
        writer.writerows(page)
        rows += len(page)
    return time.process_time() - start, rows
