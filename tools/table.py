"""The answer of list_processes as both channels carry it: a table, lean and self-sufficient.

Some clients show the model only the text, others only structuredContent as JSON (Claude
Code's JSON.stringify, pydantic-ai), so the two hold the same table and the text is
rendered from this answer alone (server/render.py): nothing the text says is missing here.

The shape (issue 12), for a page of rows:
- `columns` names the cells of every row, `id` first; `rows` holds one array per process,
  its cells in that order (null: the process has no such value). Column names are the
  row fields that `fields` takes (tools/fields.py).
- `shared` holds what every row has in common, said once instead of in each row: always
  the backend and collection when one instance answered, and on a page of two or more
  rows any other column whose value is the same in every row. A row is `shared` plus its
  cells. A column no row has a value for is left out.
- Dates are days (YYYYMMDD) except at detail=full, which has exact times.
- `count`, `total`, `scanned`, `has_more`, `next_cursor`, `warnings` as before; `applied`
  lists only the filters that were not applied by the backend itself (narrowed or
  local): every other filter ran there.

Why columns and not one object per row: an object repeats every key in every row (the
keys were about half of each row's tokens), and a row's cells cost about what its text
line does, so the larger channel is no longer the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.fields import WHERE_FIELDS, default_fields, reader
from tools.model import ApplyNote, ListResult, ProcessSummary


class ListPage(BaseModel):
    """The answer of list_processes."""

    model_config = ConfigDict(extra="forbid")

    shared: dict[str, Any] | None = Field(None, description="Values every row has, said once.")
    columns: list[str] = Field(description="The name of each cell of a row; id first.")
    rows: list[list[Any]] = Field(description="One array of cells per process.")
    count: int
    total: int | None = Field(None, description="Total matches, only when the backend knows it.")
    scanned: int | None = Field(None, description="Rows examined when filtering locally.")
    has_more: bool = Field(description="True when next_cursor can fetch more.")
    next_cursor: str | None = None
    applied: list[ApplyNote] | None = Field(
        None, description="Filters checked here rather than by the backend."
    )
    warnings: list[str] | None = None

    def records(self) -> list[dict[str, Any]]:
        """Each row as one object (shared values and its own cells), for callers that
        prefer that; empty cells left out."""
        base = dict(self.shared or {})
        return [
            {**base, **{k: v for k, v in zip(self.columns, r, strict=True) if v is not None}}
            for r in self.rows
        ]


def _same(values: Sequence[Any]) -> bool:
    first = values[0]
    return first is not None and all(v == first for v in values[1:])


def page(
    result: ListResult, *, detail: str, sort: str, fields: Sequence[str] | None = None
) -> ListPage:
    """`result`'s rows as a table with the columns `fields` names (or the detail's own)."""
    names = tuple(fields) if fields is not None else default_fields(detail, sort)
    summary = fields is None and detail == "summary"
    exact = detail == "full"
    wanted = [*WHERE_FIELDS, *(n for n in names if n not in WHERE_FIELDS)]
    readers = [reader(n, exact_times=exact, summary=summary) for n in wanted]
    rows: list[ProcessSummary] = result.processes
    table = [[read(r) for read in readers] for r in rows]
    shared: dict[str, Any] = {}
    keep: list[int] = []
    for i, name in enumerate(wanted):
        values = [t[i] for t in table]
        if name == "id":
            keep.append(i)
        elif not values or all(v is None for v in values):
            continue
        elif _same(values) and (len(values) > 1 or name in WHERE_FIELDS):
            shared[name] = values[0]
        else:
            keep.append(i)
    # id first, then backend and collection when they vary (a fan-out), then the rest.
    keep.sort(key=lambda i: (wanted[i] != "id", i))
    applied = [a for a in result.applied if a.mode != "native"]
    return ListPage(
        shared=shared or None,
        columns=[wanted[i] for i in keep],
        rows=[[t[i] for i in keep] for t in table],
        count=result.count,
        total=result.total,
        scanned=result.scanned,
        has_more=result.has_more,
        next_cursor=result.next_cursor,
        applied=applied or None,
        warnings=list(result.warnings) or None,
    )
