"""Listing Frends: one page of definitions (page numbers) or of executions (continuation
tokens) as rows, decoded as the shapes of tools/backends/frends/shapes.py; the extras and
`where` attributes of a row are built only when the query reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tools.backends.base import PageResult, Plan, Position, RowParts
from tools.backends.frends import convert
from tools.backends.frends.directory import version_ids
from tools.backends.frends.shapes import DefinitionRow, Execution, ExecutionPage, FullExecution
from tools.model import ProcessSummary

if TYPE_CHECKING:
    from tools.backends.frends.adapter import FrendsBackend

EVERY_PART = RowParts()


@dataclass(frozen=True)
class ProcessList:
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class InstanceList:
    group: int
    params: tuple[tuple[str, str], ...]
    # Nothing can match (e.g. no process name contains the text): no request at all.
    empty: bool = False


async def fetch_page(backend: FrendsBackend, plan: Plan, at: Position, size: int) -> PageResult:
    native = plan.native
    if isinstance(native, InstanceList):
        return await _instance_page(backend, plan.collection, native, at, size, plan.parts)
    assert isinstance(native, ProcessList)
    offset = int(at or 0)
    if offset % size:
        raise AssertionError("page addressing needs page-aligned offsets")
    params = [*native.params, ("PageNumber", str(offset // size + 1)), ("PageSize", str(size))]
    rows, total, has_next = await backend.reader.page(params)
    summaries = definition_rows(backend, rows, plan.parts)
    end = offset + len(rows)
    more = has_next and bool(rows) and (total is None or end < total)
    return PageResult(rows=summaries, next=end if more else None, total=total)


async def _instance_page(
    backend: FrendsBackend,
    collection: str,
    native: InstanceList,
    at: Position,
    size: int,
    parts: RowParts,
) -> PageResult:
    if native.empty:
        return PageResult(rows=[], next=None)
    params = list(native.params)
    if at is not None:
        params.append(("continuationToken", str(at)))
    params.append(("pageSize", str(size)))
    # The fields only the extras and `where` read are decoded only when asked for.
    full = parts.extra or parts.attributes
    shape: type[ExecutionPage[Execution]] = (
        ExecutionPage[FullExecution] if full else ExecutionPage[Execution]
    )
    body = await backend.http.get_typed(f"instances/{native.group}", shape, params=params)
    if parts.names:
        # Each unseen version is one GET /processes/{id}: only when the answer or a
        # filter reads the names (a plain ids listing does not).
        await backend.directory.resolve(version_ids(body.data))
    scrub = backend.secrets.scrubber()
    rows: list[ProcessSummary] = []
    for raw in body.data:
        name, guid = backend.directory.describe(raw)
        rows.append(
            convert.instance_summary(backend.name, collection, raw, name, scrub, guid, parts)
        )
    return PageResult(rows=rows, next=body.next_continuation_token or None)


def definition_rows(
    backend: FrendsBackend, rows: list[DefinitionRow], parts: RowParts = EVERY_PART
) -> list[ProcessSummary]:
    """Summaries of definition rows, each scrubbed of its own secret values and of every
    secret already known. Values met while listing are not added to the instance-wide
    set: an export of 10,000 definitions would otherwise grow one regex (and the
    process-wide log filter) by thousands of values, making each row cost more than the
    last. get_process and native exports still learn and register what they see."""
    known = backend.secrets.scrubber()
    return [
        convert.definition_summary(
            backend.name, r, convert.Scrubber(convert.secret_values(r), then=known), parts
        )
        for r in rows
    ]
