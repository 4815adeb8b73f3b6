"""The lean row (a slotted dataclass) and the models at the edge agree."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tools.fields import ROW_FIELDS
from tools.model import ProcessDetail, ProcessSummary


def test_a_detail_starts_with_every_field_of_a_row_in_its_order_with_its_defaults() -> None:
    row_fields = [f for f in dataclasses.fields(ProcessSummary) if f.init]
    detail = list(ProcessDetail.model_fields.items())[: len(row_fields)]
    assert [name for name, _ in detail] == [f.name for f in row_fields] == list(ROW_FIELDS)
    for (_, info), f in zip(detail, row_fields, strict=True):
        required = f.default is dataclasses.MISSING
        assert info.is_required() == required, f.name
        if not required:
            assert info.default == f.default, f.name


def test_rows_are_slotted_and_take_keywords_only() -> None:
    row = ProcessSummary(backend="b", collection="c", id="1", name="n")
    with pytest.raises(AttributeError):
        row.unknown = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        ProcessSummary("b", "c", "1", "n")  # type: ignore[misc]


def test_a_detail_is_built_from_a_row_dump_and_the_dump_leaves_attributes_out() -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    row = ProcessSummary(
        backend="b", collection="c", id="1", name="n", tags=["x"], created_at=when, extra={"k": 1}
    ).with_attributes({"secret_attr": 1})
    dumped = row.as_dict(exclude={"extra"})
    assert "extra" not in dumped
    assert "_attributes" not in dumped
    assert "attributes" not in dumped
    dumped["tags"].append("y")  # a copy: the row keeps its own list
    assert row.tags == ["x"]
    detail = ProcessDetail(**row.as_dict())
    assert (detail.id, detail.created_at, detail.extra) == ("1", when, {"k": 1})


def test_replace_keeps_attributes_and_search_text_and_equality_counts_them() -> None:
    row = (
        ProcessSummary(backend="b", collection="c", id="1", name="n")
        .with_attributes({"a": 1})
        .with_search_text(["t", None])
    )
    moved = row.replace(backend="other")
    assert (moved.backend, moved.attributes, moved.search_text) == ("other", {"a": 1}, ("t",))
    assert row.replace() == row
    assert row.replace().with_attributes({"a": 2}) != row


def test_present_is_the_fields_with_a_value_in_field_order() -> None:
    row = ProcessSummary(backend="b", collection="c", id="1", name="", owner="o", url=None)
    assert list(row.present().items()) == [
        ("backend", "b"),
        ("collection", "c"),
        ("id", "1"),
        ("name", ""),
        ("owner", "o"),
    ]
