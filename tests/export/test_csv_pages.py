"""A page of rows encoded at once is byte for byte the rows encoded one by one the way
the standard CSV writer writes them (formula cells guarded), whatever the cells hold."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tools.exportformats import DEFAULT_COLUMNS, CsvRows, _cell, neutralised
from tools.model import ProcessSummary

# The characters the writer, the guard and the page scan treat specially, among plain ones
# (plain ones most often, so that rows with only one special character are common too).
SPECIAL = st.sampled_from([*"\",;\t\r\n=+-@\x00\x1f'|", "\u2028"])
PLAIN = st.sampled_from([*"abc 1.", "é"])
TEXT = st.lists(st.one_of(PLAIN, PLAIN, PLAIN, SPECIAL), max_size=6).map("".join)
MAYBE = st.none() | TEXT
WHEN = st.none() | st.integers(0, 10**9).map(
    lambda s: datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
)


@st.composite
def rows(draw: st.DrawFn) -> ProcessSummary:
    return ProcessSummary(
        backend=draw(TEXT),
        collection="c",
        id=draw(TEXT),
        name=draw(TEXT),
        native_status=draw(MAYBE),
        template=draw(MAYBE),
        owner=draw(MAYBE),
        tags=draw(st.none() | st.lists(TEXT, max_size=3)),
        created_at=draw(WHEN),
        progress=draw(MAYBE),
        extra=draw(st.none() | st.dictionaries(st.sampled_from(["n", "s"]), MAYBE | st.integers())),
    )


def one_by_one(columns: list[str], page: list[ProcessSummary]) -> bytes:
    """The rule row by row: a row with a cell to guard gets its guarded cells (and every
    cell holding a separator) quoted; any other row is csv.writer's line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in page:
        values = [value_of(row, c) for c in columns]
        cells = [_cell(v) for v in values]
        if any(c[:1] in "=+-@\t\r\x00" or ";" in c or "\t" in c for c in cells):
            parts = []
            for value, text in zip(values, cells, strict=True):
                guarded = neutralised(value, text)
                if guarded is not None or any(q in text for q in '",;\t\r\n'):
                    text = guarded if guarded is not None else text
                    parts.append('"' + text.replace('"', '""') + '"')
                else:
                    parts.append(text)
            if len(parts) == 1 and not parts[0]:
                parts[0] = '""'
            out.write(",".join(parts) + "\r\n")
        else:
            writer.writerow(cells)
    return out.getvalue().encode()


def value_of(row: ProcessSummary, column: str) -> object:
    if column.startswith("extra."):
        return (row.extra or {}).get(column.removeprefix("extra."))
    return getattr(row, column)


COLUMN_SETS = [
    list(DEFAULT_COLUMNS),
    ["id"],
    ["id", "name"],
    ["id", "tags", "extra.n", "extra.s", "created_at"],
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COLUMN_SETS), st.lists(rows(), max_size=12))
def test_a_page_is_the_rows_written_one_by_one(
    columns: list[str], page: list[ProcessSummary]
) -> None:
    encoder = CsvRows(columns)
    assert encoder.header() + encoder.rows(page) == one_by_one(columns, page)


def test_a_clean_page_and_a_page_with_one_hostile_row_both_match_the_writer() -> None:
    clean = [
        ProcessSummary(backend="b", collection="c", id=str(i), name=f"run {i}") for i in range(5)
    ]
    hostile = [*clean[:2], clean[2].replace(name="=1+2"), clean[3].replace(name='a "b", c')]
    for page in (clean, hostile):
        encoder = CsvRows(DEFAULT_COLUMNS)
        assert encoder.header() + encoder.rows(page) == one_by_one(list(DEFAULT_COLUMNS), page)
    assert b'"\'=1+2"' in CsvRows(DEFAULT_COLUMNS).rows(hostile)
