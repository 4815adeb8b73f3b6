"""The unified vocabulary: parsing with actionable errors, and the evaluator's semantics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tools.errors import InvalidArgumentError
from tools.model import ProcessSummary, human_duration
from tools.query import matches, parse_query, past_bound, where_matches


def row(**fields: Any) -> ProcessSummary:
    base: dict[str, Any] = {
        "backend": "b",
        "collection": "c",
        "id": "1",
        "name": "Onboarding - ACME",
    }
    return ProcessSummary(**{**base, **fields})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31", datetime(2025, 1, 31, tzinfo=UTC)),
        ("2025-01-31T09:30:00Z", datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
        ("2025-01-31T09:30:00", datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
        ("2025-01-31T11:30:00+02:00", datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
    ],
)
def test_dates_parse_to_aware_utc(text: str, expected: datetime) -> None:
    assert parse_query({"created_after": text}).created_after == expected


def test_a_single_value_is_accepted_where_a_list_is_expected() -> None:
    query = parse_query({"status": "open", "tags": "vip"})
    assert (query.status, query.tags) == (("open",), ("vip",))


def test_ranges_must_not_be_empty() -> None:
    with pytest.raises(InvalidArgumentError, match="must be earlier than"):
        parse_query({"updated_after": "2025-02-01", "updated_before": "2025-02-01"})


def test_text_and_owner_and_template_are_case_insensitive() -> None:
    r = row(owner="Ann@X.test", owner_id="7", template="Customer Onboarding", template_id="c1")
    assert matches(parse_query({"text": "acme"}), r)
    assert matches(parse_query({"owner": "ann@x.TEST"}), r)
    assert matches(parse_query({"owner": "7"}), r)
    assert matches(parse_query({"template": "customer onboarding"}), r)
    assert not matches(parse_query({"template": "c2"}), r)


def test_tags_mean_all_of() -> None:
    r = row(tags=["VIP", "legal"])
    assert matches(parse_query({"tags": ["vip"]}), r)
    assert matches(parse_query({"tags": ["vip", "Legal"]}), r)
    assert not matches(parse_query({"tags": ["vip", "urgent"]}), r)


def test_after_is_inclusive_and_before_exclusive() -> None:
    r = row(created_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert matches(parse_query({"created_after": "2025-01-01"}), r)
    assert not matches(parse_query({"created_before": "2025-01-01"}), r)


def test_rows_without_a_date_never_match_a_date_bound() -> None:
    assert not matches(parse_query({"updated_after": "2000-01-01"}), row())


def test_where_operators_lists_and_maps() -> None:
    attrs = {"amount": 120, "stage": "won", "city": None}
    assert where_matches({"amount": {">=": 100, "<": 200}}, attrs)
    assert where_matches({"stage": ["won", "lost"]}, attrs)
    assert where_matches({"stage": {"!=": ["open"]}}, attrs)
    assert not where_matches({"amount": {">": 120}}, attrs)
    assert not where_matches({"city": "Oslo"}, attrs)
    assert not where_matches({"amount": {">": "a string"}}, attrs)  # incomparable: no match


def test_where_or_needs_any_member_and_and_needs_every_member() -> None:
    attrs = {"amount": 120, "stage": "won", "city": "Pune"}
    assert where_matches({"or": [{"stage": "lost"}, {"city": "Pune"}]}, attrs)
    assert not where_matches({"or": [{"stage": "lost"}, {"city": "Oslo"}]}, attrs)
    assert where_matches({"and": [{"stage": "won"}, {"amount": {">": 100}}]}, attrs)
    assert not where_matches({"and": [{"stage": "won"}, {"amount": {">": 200}}]}, attrs)
    nested = {"city": "Pune", "or": [{"stage": "lost"}, {"and": [{"amount": 120}]}]}
    assert where_matches(nested, attrs)
    assert not where_matches({**nested, "city": "Oslo"}, attrs)


def test_where_nesting_up_to_three_groups_is_accepted() -> None:
    three = {"or": [{"and": [{"or": [{"a": 1}, {"b": 2}]}]}]}
    assert parse_query({"where": three}).where == three


@pytest.mark.parametrize(
    ("where", "message", "hint"),
    [
        ({"a": {"~": 1}}, 'unknown operator "~"', "operators are =, !=, >, >=, <, <="),
        (
            {"or": [{"and": [{"or": [{"and": [{"a": 1}]}]}]}]},
            "nest deeper than 3 levels",
            "at most 3",
        ),
        ({"or": {"a": 1}}, "where.or must be a non-empty list", '{"or": [{"a": 1}'),
        ({"or": []}, "where.or must be a non-empty list", "or"),
        ({}, "where: empty object", "leave where out"),
        ({"a": {"x": 1}}, 'unknown operator "x"', "any-of pass a list"),
        ({"a": {">": [1, 2]}}, "is not a string or number", "compare"),
        ({"a": {"b": 1}, "or": [{"c": 1}]}, 'unknown operator "b"', "operators"),
        ({"a": []}, "a list must hold at least one", "any of several"),
    ],
)
def test_bad_where_is_refused_with_an_actionable_hint(
    where: dict[str, object], message: str, hint: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_query({"where": where})
    assert message in str(caught.value)
    assert hint in (caught.value.hint or "")


def test_past_bound_only_on_the_sorted_date_and_in_its_direction() -> None:
    q = parse_query({"created_after": "2025-06-01", "created_before": "2025-09-01"})
    early = row(created_at=datetime(2025, 5, 1, tzinfo=UTC))
    late = row(created_at=datetime(2025, 10, 1, tzinfo=UTC))
    newest_first, oldest_first = past_bound(q, "-created_at"), past_bound(q, "created_at")
    assert newest_first is not None
    assert oldest_first is not None
    assert newest_first(early)
    assert not newest_first(late)
    assert oldest_first(late)
    assert past_bound(q, "name") is None  # nothing to check per row
    assert past_bound(parse_query({}), "-created_at") is None  # no bound in that direction


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (45, "45s"), (125, "2m 5s"), (3600, "1h"), (5700, "1h 35m"), (90000, "1d 1h")],
)
def test_durations_show_the_two_largest_units(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_text_also_matches_the_search_text_a_backend_attaches() -> None:
    lead = row(name="Deal 42").with_search_text(["Globex Corp", None, "https://globex.test"])
    assert matches(parse_query({"text": "globex"}), lead)
    assert matches(parse_query({"text": "deal"}), lead)
    assert not matches(parse_query({"text": "initech"}), lead)
    assert not matches(parse_query({"text": "globex"}), row(name="Deal 42"))


def test_text_is_read_without_surrounding_whitespace_both_when_sent_and_rechecked() -> None:
    # A vendor that trims its search term finds "Globex Corp" for "  globex "; the local
    # re-check must read the same term or it drops that row.
    query = parse_query({"text": "  globex \n"})
    assert query.text == "globex"
    assert matches(query, row(name="Globex Corp"))


def test_text_of_whitespace_only_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        parse_query({"text": "   "})
