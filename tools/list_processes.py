"""list_processes: validate the arguments, run the paging driver, shape rows by detail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.instances import Instances
from tools.model import ListResult, ProcessSummary
from tools.paging import ProgressFn, run_list
from tools.query import parse_query

_IDS_ONLY = {"backend", "collection", "id", "name"}


def shape(row: ProcessSummary, detail: str) -> ProcessSummary:
    if detail == "ids":
        return ProcessSummary.model_validate(row.model_dump(include=_IDS_ONLY))
    if detail == "summary" and row.extra is not None:
        return row.model_copy(update={"extra": None})
    return row


async def list_processes(
    instances: Instances,
    arguments: Mapping[str, Any],
    *,
    progress: ProgressFn | None = None,
) -> ListResult:
    query = parse_query(arguments)
    result = await run_list(instances.select(query.backend), query, progress=progress)
    result.processes = [shape(r, query.detail) for r in result.processes]
    return result
