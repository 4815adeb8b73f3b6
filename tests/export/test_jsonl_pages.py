"""JSON Lines from lean rows are byte for byte what pydantic's `model_dump(mode="json",
exclude_none=True)` of the same row gave when rows were models (ProcessDetail still is
one, with the row's fields first): times, tuples, sets, non-finite floats, nested nulls."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from tools.exportformats import JsonlRows
from tools.model import ProcessDetail, ProcessSummary
from tools.safe_text import json_lines_safe

TEXT = st.text(st.sampled_from([*'ab ,"\\\n', "\u2028", "\x85", "é", "\x00"]), max_size=5)
# UTC, another offset, and naive: pydantic wrote `Z`, `+02:00` and nothing.
WHEN = st.builds(
    lambda s, us, tz: (datetime(2020, 1, 1) + timedelta(seconds=s, microseconds=us)).replace(
        tzinfo=tz
    ),
    st.integers(0, 10**9),
    st.sampled_from([0, 5000]),
    st.sampled_from([UTC, timezone(timedelta(hours=2)), None]),
)
# Non-finite floats often (pydantic wrote them as null): st.floats() draws them rarely.
ODD = st.sampled_from([math.inf, -math.inf, math.nan])
SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | ODD | TEXT | WHEN
VALUE = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(TEXT, inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def rows(draw: st.DrawFn) -> ProcessSummary:
    maybe = st.none() | TEXT
    return ProcessSummary(
        backend=draw(TEXT),
        collection="c",
        id=draw(TEXT),
        name=draw(TEXT),
        status=draw(st.none() | st.sampled_from(["open", "failed"])),
        owner=draw(maybe),
        tags=draw(st.none() | st.lists(TEXT, max_size=2)),
        created_at=draw(st.none() | WHEN),
        due_at=draw(st.none() | WHEN),
        url=draw(maybe),
        extra=draw(st.none() | st.dictionaries(st.sampled_from(["n", "s", "x"]), VALUE)),
    )


def as_model(row: ProcessSummary, **dump: object) -> dict[str, object]:
    return ProcessDetail(**row.as_dict()).model_dump(mode="json", exclude_none=True, **dump)


def line(data: dict[str, object]) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (json_lines_safe(text) + "\n").encode()


@settings(max_examples=200, deadline=None)
@given(st.lists(rows(), max_size=6))
def test_every_field_is_dumped_as_the_model_dumped_it(page: list[ProcessSummary]) -> None:
    assert JsonlRows().rows(page) == b"".join(line(as_model(r)) for r in page)


def plain(value: object) -> bool:
    """No time inside: json.dumps refuses one, and an extra.KEY column is passed as is."""
    if isinstance(value, list | tuple):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(plain(v) for v in value.values())
    return not isinstance(value, datetime)


COLUMNS = ["id", "name", "created_at", "extra.n", "tags", "extra.s"]


@settings(max_examples=200, deadline=None)
@given(st.lists(rows(), max_size=6))
def test_chosen_columns_are_the_model_dump_plus_raw_extras_in_column_order(
    page: list[ProcessSummary],
) -> None:
    page = [r for r in page if plain(r.extra)]
    expected = []
    for r in page:
        data = as_model(r, include={"id", "name", "created_at", "tags"})
        extra = r.extra or {}
        for c in ("extra.n", "extra.s"):
            if c.removeprefix("extra.") in extra:
                data[c] = extra[c.removeprefix("extra.")]
        expected.append(line({c: data[c] for c in COLUMNS if c in data}))
    assert JsonlRows(COLUMNS).rows(page) == b"".join(expected)
