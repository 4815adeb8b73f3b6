"""File formats of export_process: rows as CSV or JSON Lines, one process as JSON or Markdown.

Rows are encoded a page at a time (the export streams), and nothing in a file depends on
when it was written: the same data gives byte-identical files, which is what lets a test
compare a run with injected faults against a clean one.

Vendor text is data in files too (see tools/safe_text.py for the text the model reads):
- CSV follows the OWASP CSV-injection guidance: a cell whose first character is `=`, `+`,
  `-`, `@`, tab, CR or NUL would start a formula in a spreadsheet, so it gets a leading
  single quote and is quoted (`"'=HYPERLINK(...)"`). A cell that is a plain negative
  number (`-12`, `-0.5`) or a number the vendor sent as a number is left as it is: a
  spreadsheet reads it as a number, and no formula fits in it; `-2+3` is neutralised.
  Cells holding `;` or a tab are quoted too, so a spreadsheet that splits on them (a
  semicolon locale) cannot start a new cell, with a formula, inside one. Line breaks in
  a cell stay (quoted, as RFC 4180 allows): the file keeps the vendor's exact value.
- JSON Lines and JSON escape U+0085, U+2028 and U+2029 (`\\u2028`): valid JSON either way,
  but line readers split on them raw. A JSON Lines record is one line for every reader.
- Markdown flattens every table cell and heading to one line (`|` escaped), puts a
  description in a block quote and a section in a fence longer than any it contains, so
  vendor text cannot add a heading, a table row or a line outside its block.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import chain
from operator import attrgetter
from typing import Any

from pydantic_core import to_jsonable_python

from tools.fields import EXTRA_PREFIX, is_extra
from tools.model import ProcessDetail, ProcessSummary
from tools.safe_text import cell as one_line_cell
from tools.safe_text import json_lines_safe

LIST_FORMATS = ("csv", "jsonl")
DETAIL_FORMATS = ("json", "markdown", "native")
# By file extension: each gets its own resource template, so reads carry the right type.
MIME = {
    "csv": "text/csv",
    "jsonl": "application/jsonl",
    "json": "application/json",
    "md": "text/markdown",
    "bpmn": "application/xml",
    "xml": "application/xml",
}
EXTENSION = {"csv": "csv", "jsonl": "jsonl", "json": "json", "markdown": "md"}

# The columns of a CSV export when `fields` is left out (tools/fields.py names them all).
DEFAULT_COLUMNS: tuple[str, ...] = (
    "backend",
    "collection",
    "id",
    "name",
    "status",
    "native_status",
    "template",
    "owner",
    "created_at",
    "updated_at",
    "due_at",
    "progress",
    "url",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:  # the common case first: this runs for every cell of every row
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


# OWASP CSV injection: the characters that make a spreadsheet read a cell as a formula
# (`=`, `+`, `-`, `@`, tab, CR; ASVS 1.2.10 adds NUL) when they come first.
FORMULA_LEADS = frozenset("=+-@\t\r\x00")
_PLAIN_NEGATIVE = re.compile(r"-\d+(?:\.\d+)?")
_QUOTE_IF = re.compile(r'[",;\t\r\n]')


def neutralised(value: Any, text: str) -> str | None:
    """The cell as written when `text` (the cell of `value`) would start a formula; None
    when it is safe as it is."""
    if not text or text[0] not in FORMULA_LEADS:
        return None
    if type(value) in (int, float) or _PLAIN_NEGATIVE.fullmatch(text):
        return None
    return "'" + text


def _risky(text: str) -> bool:
    return text[:1] in FORMULA_LEADS or ";" in text or "\t" in text


# A few substring scans of a whole page's cells, joined and each led by a unit separator,
# find every cell that could be risky: a `;` or tab anywhere, or a formula lead after a
# separator (a cell's start). A cell holding the separator itself may be flagged falsely;
# flagged rows are judged cell by cell with `_risky`, so that only costs time.
_UNIT = "\x1f"
# A literal first: the scanner jumps from separator to separator (a tenth of the cost of
# one substring search per lead).
_LEAD_MARK = re.compile(_UNIT + "[" + re.escape("".join(sorted(FORMULA_LEADS))) + "]")
# The only characters that make csv.writer (QUOTE_MINIMAL, the default dialect) write a
# cell other than as it is (checked over every code point): a row without them is its
# cells joined by commas, which costs a sixth of the writer.
_WRITER_QUOTES = ('"', ",", "\r", "\n")


def _maybe_risky(joined: str) -> bool:
    return ";" in joined or "\t" in joined or _LEAD_MARK.search(joined) is not None


def _quoted(joined: str) -> bool:
    return any(q in joined for q in _WRITER_QUOTES)


class CsvRows:
    """CSV with a header row; spreadsheet-friendly (RFC 4180 line ends, UTF-8), formula
    cells neutralised (module docstring).

    A page of rows is encoded at once (`rows`), as the standard CSV writer writes them
    row by row, byte for byte: every row's values read by one getter, the cells of the
    whole page checked by a few substring scans, and a page with no cell to guard or
    quote (nearly all) written as cells joined by commas. On any other page, each row
    is judged alone: one to guard by `_guarded_line`, runs of ones to quote by one
    `writerows` of the C writer, the rest joined. At 10,000 rows these per-row costs were
    most of an export's CPU."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self._values = _values_of(self.columns)
        # csv.writer writes a row of one empty cell as `""`: one column, always the writer.
        self._joinable = len(self.columns) > 1

    def header(self) -> bytes:
        self._writer.writerow(self.columns)
        return self._take().encode()

    def row(self, row: ProcessSummary) -> bytes:
        return self.rows((row,))

    def rows(self, rows: Sequence[ProcessSummary]) -> bytes:
        """The lines of `rows`, in order, as one block."""
        values = [self._values(r) for r in rows]
        table = [
            [v if type(v) is str else "" if v is None else _cell(v) for v in vs] for vs in values
        ]
        page = _UNIT + _UNIT.join(chain.from_iterable(table))
        if self._joinable and not _maybe_risky(page) and not _quoted(page):
            return "".join([",".join(cells) + "\r\n" for cells in table]).encode()
        out: list[str] = []
        quoted: list[list[str]] = []  # a run of rows for the writer, kept in order
        for vs, cells in zip(values, table, strict=True):
            joined = _UNIT + _UNIT.join(cells)
            if _maybe_risky(joined) and any(_risky(c) for c in cells):
                line = _guarded_line(vs, cells)
            elif not self._joinable or _quoted(joined):
                quoted.append(cells)
                continue
            else:
                line = ",".join(cells) + "\r\n"
            if quoted:
                out.append(self._written(quoted))
                quoted = []
            out.append(line)
        if quoted:
            out.append(self._written(quoted))
        return "".join(out).encode()

    def _written(self, table: list[list[str]]) -> str:
        self._writer.writerows(table)
        return self._take()

    def _take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


def _guarded_line(values: Sequence[Any], cells: Sequence[str]) -> str:
    fields: list[str] = []
    for value, text in zip(values, cells, strict=True):
        guarded = neutralised(value, text)
        if guarded is not None or _QUOTE_IF.search(text):
            text = guarded if guarded is not None else text
            fields.append('"' + text.replace('"', '""') + '"')
        else:
            fields.append(text)
    if len(fields) == 1 and not fields[0]:
        fields[0] = '""'  # as csv.writer writes a row of one empty cell
    return ",".join(fields) + "\r\n"


def _values_of(columns: Sequence[str]) -> Callable[[ProcessSummary], Sequence[Any]]:
    """A row's value for each column, in order: one C getter when every column is a
    field (the default columns), a reader per column when some are backend extras."""
    if len(columns) > 1 and not any(is_extra(c) for c in columns):
        return attrgetter(*columns)
    readers = [_reader(c) for c in columns]
    return lambda row: [read(row) for read in readers]


def _reader(column: str) -> Callable[[ProcessSummary], Any]:
    if is_extra(column):
        key = column.removeprefix("extra.")
        return lambda row: (row.extra or {}).get(key)
    return attrgetter(column)


# json.dumps(o, ensure_ascii=False, separators=(",", ":")), without a new encoder per call.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JsonlRows:
    """One JSON object per line, empty fields left out, backend extras included; with
    `columns`, only those keys (an `extra.KEY` column under that name).

    Values are made JSON as pydantic's `model_dump(mode="json")` made them when rows
    were models (`to_jsonable_python`: times as `...Z` in UTC, tuples and sets as
    lists, non-finite floats as null), once per page; an `extra.KEY` column's value goes
    to json.dumps as the backend gave it, as it always did."""

    def __init__(self, columns: Sequence[str] | None = None) -> None:
        self.columns = tuple(columns) if columns is not None else None
        self._plain = [c for c in self.columns or () if not is_extra(c)]
        self._extras = [c for c in self.columns or () if is_extra(c)]

    def header(self) -> bytes:
        return b""

    def row(self, row: ProcessSummary) -> bytes:
        return self.rows((row,))

    def rows(self, rows: Sequence[ProcessSummary]) -> bytes:
        """The lines of `rows`, in order, as one block."""
        if self.columns is None:
            objects = to_jsonable_python([r.present() for r in rows], inf_nan_mode="null")
        else:
            plain = [{c: v for c in self._plain if (v := getattr(r, c)) is not None} for r in rows]
            objects = [
                self._picked(row, data)
                for row, data in zip(
                    rows, to_jsonable_python(plain, inf_nan_mode="null"), strict=True
                )
            ]
        text = "".join([_compact(o) + "\n" for o in objects])
        return json_lines_safe(text).encode()

    def _picked(self, row: ProcessSummary, data: dict[str, Any]) -> dict[str, Any]:
        if self._extras:
            extra = row.extra or {}
            data |= {
                c: extra[c[len(EXTRA_PREFIX) :]]
                for c in self._extras
                if c[len(EXTRA_PREFIX) :] in extra
            }
        assert self.columns is not None
        return {c: data[c] for c in self.columns if c in data}


def detail_json(detail: ProcessDetail) -> bytes:
    data = detail.model_dump(mode="json", exclude_none=True)
    return (json_lines_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n").encode()


def detail_markdown(detail: ProcessDetail) -> bytes:
    """A readable document: the facts first, then tasks, fields and other sections."""
    d = detail
    out: list[str] = [f"# {_md(d.name)}", ""]
    facts: list[tuple[str, Any]] = [
        ("Backend", f"{d.backend} ({d.collection})"),
        ("Id", d.id),
        ("Status", " / ".join(str(v) for v in (d.status, d.native_status) if v)),
        ("Template", d.template),
        ("Owner", d.owner),
        ("Created", d.created_at),
        ("Updated", d.updated_at),
        ("Started", d.started_at),
        ("Completed", d.completed_at),
        ("Due", d.due_at),
        ("Progress", d.progress),
        ("Tags", ", ".join(d.tags) if d.tags else None),
        ("Link", d.url),
    ]
    out += ["| | |", "|---|---|"]
    out += [f"| {k} | {_md(_cell(v))} |" for k, v in facts if v not in (None, "")]
    if d.description:
        quoted = d.description.strip().split("\n")
        out += ["", "## Description", ""] + [f"> {_md(q)}".rstrip() for q in quoted]
    if d.tasks:
        out += ["", f"## Tasks ({len(d.tasks)})", "", "| # | Task | Status | Owner | Due | Done |"]
        out.append("|---|---|---|---|---|---|")
        for i, t in enumerate(d.tasks, 1):
            status = (t.status or "") + (" (OVERDUE)" if t.overdue else "")
            cells = [t.position or i, t.name, status, t.owner, t.due_at, t.completed_at]
            out.append("| " + " | ".join(_md(_cell(c)) for c in cells) + " |")
    if d.fields:
        out += ["", "## Fields", "", "| Field | Value |", "|---|---|"]
        out += [f"| {_md(k)} | {_md(_cell(v))} |" for k, v in d.fields.items()]
    for name, value in (d.sections or {}).items():
        out += ["", f"## {name.capitalize()}", ""]
        out += _section(value)
    if d.extra:
        out += ["", "## Backend fields", "", "| Field | Value |", "|---|---|"]
        out += [f"| {_md(k)} | {_md(_cell(v))} |" for k, v in d.extra.items()]
    if d.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in d.notes]
    return ("\n".join(out) + "\n").encode()


def _section(value: Any) -> list[str]:
    if isinstance(value, str):
        fence = "```"
        while fence in value:
            fence += "`"
        kind = "xml" if value.lstrip().startswith("<") else ""
        return [f"{fence}{kind}", value.rstrip(), fence]
    if isinstance(value, Mapping) and all(not isinstance(v, dict | list) for v in value.values()):
        return ["| Key | Value |", "|---|---|"] + [
            f"| {_md(str(k))} | {_md(_cell(v))} |" for k, v in value.items()
        ]
    text = json_lines_safe(json.dumps(value, ensure_ascii=False, indent=2, default=str))
    return ["```json", text, "```"]


def _md(text: str) -> str:
    """Table cells and headings: one line (tools/safe_text.py), pipes escaped."""
    return one_line_cell(text)
