"""CSV cells that would start a spreadsheet formula are neutralised (OWASP CSV injection);
every other cell is written exactly as the standard CSV writer writes it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from tools.exportformats import CsvRows
from tools.model import ProcessSummary

COLUMNS = ["id", "name", "owner", "tags", "extra.amount"]


def row(name: str, **more: Any) -> ProcessSummary:
    return ProcessSummary(backend="b", collection="c", id="1", name=name, **more)


def written(summary: ProcessSummary, columns: list[str] = COLUMNS) -> tuple[bytes, list[str]]:
    line = CsvRows(columns).row(summary)
    return line, next(csv.reader(io.StringIO(line.decode(), newline="")))


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil.test","x")',
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\t=1+2",
        "\r=1+2",
        "\x00=1",
        "-",
    ],
)
def test_a_formula_leading_cell_gets_a_quote_and_is_quoted(name: str) -> None:
    line, cells = written(row(name))
    assert cells[1] == "'" + name
    assert b",\"'" in line  # quoted, quote first: text for every spreadsheet


@pytest.mark.parametrize("value", ["-12", "-0.5", "-1200.75"])
def test_a_plain_negative_number_stays_a_number(value: str) -> None:
    _, cells = written(row(value))
    assert cells[1] == value


def test_numbers_the_vendor_sent_as_numbers_are_never_prefixed() -> None:
    _, cells = written(row("n", extra={"amount": -1e-05}))
    assert cells[4] == "-1e-05"
    _, cells = written(row("n", extra={"amount": "-1e-05"}))
    assert cells[4] == "'-1e-05"  # text: it could be anything


def test_a_list_cell_is_judged_by_its_first_character_and_quoted_for_its_semicolons() -> None:
    line, cells = written(row("n", tags=["=bad", "ok"]))
    assert cells[3] == "'=bad;ok"
    line, cells = written(row("n", tags=["ok", "=bad"]))
    assert cells[3] == "ok;=bad"
    assert b'"ok;=bad"' in line  # a semicolon-locale spreadsheet cannot start a cell there


def test_clean_rows_are_byte_identical_to_the_standard_writer() -> None:
    samples = [
        row("Onboarding - Gekko & Co", owner="a@b.test", tags=["x"]),
        row('A "quoted", name\nwith a line', created_at=datetime(2026, 1, 2, tzinfo=UTC)),
        row("", owner=None),
    ]
    for summary in samples:
        line, _ = written(summary, [*COLUMNS, "created_at"])
        values = [summary.id, summary.name, summary.owner or "", ";".join(summary.tags or ())]
        created = summary.created_at.isoformat() if summary.created_at else ""
        buffer = io.StringIO()
        csv.writer(buffer).writerow([*values, "", created])
        assert line == buffer.getvalue().encode()


def test_a_guarded_row_reads_back_to_the_same_cells_but_the_prefix() -> None:
    summary = row("=1+2", owner='o, "x"', tags=["a;b", "\tc"])
    _, cells = written(summary)
    assert cells == ["1", "'=1+2", 'o, "x"', "a;b;\tc", ""]
