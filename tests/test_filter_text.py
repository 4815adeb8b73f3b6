"""`filter`, list_processes' filters as one expression (tools/filter_text.py): each term
means what the typed parameter means, the rest is `where`, and nothing is re-read."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.errors import InvalidArgumentError
from tools.filter_text import expand_filter, filter_text, parse_filter
from tools.model import STATUSES


def test_each_term_is_the_typed_filter_of_the_same_name() -> None:
    assert parse_filter(
        'status in ("open", "failed") and updated_before = "2026-10-01" and owner = "ann" '
        'and overdue = true and tags = ("vip", "eu") and native_status = "active"'
    ) == {
        "status": ["open", "failed"],
        "updated_before": "2026-10-01",
        "owner": "ann",
        "overdue": True,
        "tags": ["vip", "eu"],
        "native_status": ["active"],
    }


def test_row_dates_compared_with_ge_and_lt_are_the_after_and_before_bounds() -> None:
    assert parse_filter('created_at >= "2026-01-01" and due_at < "2026-02-01"') == {
        "created_after": "2026-01-01",
        "due_before": "2026-02-01",
    }


@pytest.mark.parametrize("op", [">", "<=", "=", "!="])
def test_a_row_date_with_an_inexact_operator_is_refused_with_both_bounds_shown(op: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_filter(f'updated_at {op} "2026-01-01"')
    assert caught.value.field == "filter"
    assert "updated_after, inclusive" in (caught.value.hint or "")


def test_other_terms_are_kept_as_one_where_expression() -> None:
    assert parse_filter(
        'status = "open" and budget >= 40000 and (city = "Pune" or city = "Goa")'
    ) == {"status": ["open"], "where": 'budget >= 40000 and (city = "Pune" or city = "Goa")'}


def test_a_quoted_name_is_always_an_attribute() -> None:
    assert parse_filter('"status" = "x" and owner = "ann"') == {
        "where": '"status" = "x"',
        "owner": "ann",
    }


def test_a_top_level_or_keeps_its_meaning_as_one_where_expression() -> None:
    # `a or b and c` is `a or (b and c)`: it must not be split at the and.
    assert parse_filter("a = 1 or b = 2 and c = 3") == {"where": "a = 1 or b = 2 and c = 3"}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('status = "open" or budget > 5', "more than one condition on status"),
        ('budget > 5 or status = "open"', "status is inside an or-group"),
        ('(owner = "a" or b = 1)', "owner is inside an or-group"),
        ('status != "open"', "status takes = (or in), not !="),
        ('template in ("a", "b")', "template takes one value, not a list"),
        ("overdue = false", "overdue takes only true"),
        ("updated_before = 20261001", "a date goes in quotes"),
        ('status = "open" and status = "failed"', "status appears twice"),
        ('status = "open" and', "a term is missing at the end"),
        ("   ", "filter is empty"),
        ('owner = "a', "unexpected"),
    ],
)
def test_a_filter_that_cannot_mean_the_typed_filters_is_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_filter(text)
    assert says in caught.value.message
    assert caught.value.field == "filter"
    assert caught.value.hint


def test_a_filter_given_both_ways_is_refused_rather_than_overridden() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        expand_filter({"status": ["failed"], "filter": 'status = "open"'})
    assert caught.value.message == "status is given twice: as a parameter and inside filter"


def test_without_a_filter_the_arguments_are_unchanged() -> None:
    assert expand_filter({"backend": "all", "filter": None}) == {"backend": "all"}
    assert expand_filter({"status": ["open"]}) == {"status": ["open"]}


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "status": st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3, unique=True),
        "native_status": st.lists(_TEXT.filter(bool), min_size=1, max_size=3),
        "tags": st.lists(_TEXT.filter(bool), min_size=1, max_size=3),
        "text": _TEXT.filter(bool),
        "owner": _TEXT.filter(bool),
        "template": _TEXT.filter(bool),
        "created_after": st.just("2026-01-01"),
        "due_before": st.just("2026-02-01T09:00:00Z"),
        "overdue": st.just(True),
    },
).filter(bool)


@given(_FILTERS)
def test_written_filters_read_back_as_the_same_typed_filters(filters: dict[str, Any]) -> None:
    assert parse_filter(filter_text(filters)) == filters
