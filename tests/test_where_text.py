"""The `where` expression: what it means (the tree every backend translates, the same as
the object form of earlier versions) and what a mistake gets back."""

from __future__ import annotations

from typing import Any

import pytest

from tools.bounds import NAME_CHARS, WHERE_CHARS
from tools.errors import InvalidArgumentError
from tools.query import parse_query, where_matches
from tools.where_text import parse_where


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('city = "Pune"', {"city": "Pune"}),
        ("city == 'Pune'", {"city": "Pune"}),
        ("budget >= 40000", {"budget": {">=": 40000}}),
        ("budget > 1.5e3", {"budget": {">": 1500.0}}),
        ("delta < -5", {"delta": {"<": -5}}),
        ("reopened = TRUE", {"reopened": True}),
        ("reopened != false", {"reopened": {"!=": False}}),
        ("stage <> 'won'", {"stage": {"!=": "won"}}),
        ('stage in ("won", "lost")', {"stage": ["won", "lost"]}),
        ('stage IN ["won"]', {"stage": ["won"]}),
        ('stage = ("won", "lost")', {"stage": ["won", "lost"]}),
        ('stage not in ("open")', {"stage": {"!=": ["open"]}}),
        ('stage != ["open", "new"]', {"stage": {"!=": ["open", "new"]}}),
        ('"Deal size" >= 10', {"Deal size": {">=": 10}}),
        ("123456 = 'x'", {"123456": "x"}),
        ("cf-1.total >= 2", {"cf-1.total": {">=": 2}}),
        ("город = 'Пуна'", {"город": "Пуна"}),
        ('"or" = 1', None),  # and/or are never attribute names (they are groups)
        ('name = "say \\"hi\\""', {"name": 'say "hi"'}),
        ("name = 'it''s'", {"name": "it's"}),
        # and: one flat object (keys of one object all hold); the same attribute twice
        # merges its operators, or becomes an and group when they collide.
        ('city = "Pune" and budget >= 1', {"city": "Pune", "budget": {">=": 1}}),
        ("budget >= 1 and budget < 9", {"budget": {">=": 1, "<": 9}}),
        ("a != 1 and a != 2", {"a": {"!=": 1}, "and": [{"a": {"!=": 2}}]}),
        # or, and precedence: and binds tighter.
        ("a = 1 or b = 2 and c = 3", {"or": [{"a": 1}, {"b": 2, "c": 3}]}),
        ("(a = 1 or b = 2) and c = 3", {"or": [{"a": 1}, {"b": 2}], "c": 3}),
        ("(a = 1 or (b = 2 or c = 3))", {"or": [{"a": 1}, {"b": 2}, {"c": 3}]}),
        (
            "(a = 1 or b = 2) and (c = 3 or d = 4)",
            {"or": [{"a": 1}, {"b": 2}], "and": [{"or": [{"c": 3}, {"d": 4}]}]},
        ),
        (
            'budget >= 40000 and (city = "Pune" or city = "Mumbai")',
            {"budget": {">=": 40000}, "or": [{"city": "Pune"}, {"city": "Mumbai"}]},
        ),
    ],
)
def test_an_expression_becomes_the_tree_backends_translate(
    text: str, tree: dict[str, Any] | None
) -> None:
    if tree is None:
        with pytest.raises(InvalidArgumentError, match="cannot be an attribute name"):
            parse_where(text)
        return
    assert parse_where(text) == tree
    assert parse_query({"where": text}).where == tree


def test_the_object_form_of_earlier_versions_is_read_as_json_text_or_as_an_object() -> None:
    tree = {"or": [{"city": "Pune"}, {"budget": {">=": 40000}}]}
    expression = 'city = "Pune" or budget >= 40000'
    assert parse_query({"where": tree}).where == tree
    assert parse_query({"where": '{"or": [{"city": "Pune"}, {"budget": {">=": 40000}}]}'}).where
    # The same question in either form is the same query, so a cursor from one serves both.
    assert (
        parse_query({"where": expression}).fingerprint()
        == parse_query({"where": tree}).fingerprint()
    )


def test_an_expression_means_the_same_as_the_object_it_replaces() -> None:
    rows = [
        {"city": "Pune", "budget": 10},
        {"city": "Goa", "budget": 50_000},
        {"city": "Delhi", "budget": 100},
        {"city": "Mumbai"},
    ]
    text = 'budget >= 40000 or city in ("Pune", "Mumbai") and not_there != 1'
    tree = {"or": [{"budget": {">=": 40000}}, {"city": ["Pune", "Mumbai"], "not_there": {"!=": 1}}]}
    parsed = parse_where(text)
    assert [where_matches(parsed, r) for r in rows] == [where_matches(tree, r) for r in rows]
    assert [where_matches(parsed, r) for r in rows] == [True, True, False, True]


def test_three_levels_of_and_or_are_accepted_and_a_fourth_is_refused() -> None:
    # Levels of the tree: an and that holds an or is one object ({"b": 2, "or": [...]}).
    three = "a = 1 or (b = 2 and (c = 3 or (d = 4 and (e = 5 or f = 6))))"
    assert parse_where(three) == {
        "or": [{"a": 1}, {"b": 2, "or": [{"c": 3}, {"d": 4, "or": [{"e": 5}, {"f": 6}]}]}]
    }
    with pytest.raises(InvalidArgumentError) as caught:
        parse_where(three.replace("f = 6", "(f = 6 and (g = 7 or h = 8))"))
    assert "nest deeper than 3 levels" in caught.value.message
    assert "at most 3" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "problem", "fix"),
    [
        ("city = Pune", '"Pune" is not a value: text goes in quotes', 'write city = "Pune"'),
        ("city in (Pune)", '"Pune" is not a value', 'write city = "Pune"'),
        ('city "Pune"', 'expected an operator after city, found "\\"Pune\\""', "operators are"),
        ("budget => 5", "unknown operator =>", "operators are = != > >= < <="),
        ("budget like 5", 'expected an operator after budget, found "like"', "in; e.g."),
        ('city = "Pune" budget > 5', 'expected and/or before "budget"', "join conditions"),
        ("city = 'Pune' && a = 1", "& is not how conditions are joined", "budget >= 40000"),
        ("(a = 1", "a ( is not closed", "close every ("),
        ("a = 1)", "a ) has no matching (", "remove it"),
        ("a = 1 and", "a condition is missing at the end", "finish the filter"),
        ("a >", "expected a value after >, found the end", "text in quotes"),
        ("a in ()", "an empty list matches nothing", 'a in ("a", "b")'),
        ("a > (1, 2)", "a list goes only with =, != or in, not >", 'a in ("a", "b")'),
        ("a = null", "null is not a value", "true/false"),
        ("a in 5", "in takes a list", 'a in ("a", "b")'),
        ("a not 5", "expected in after a not", "not in"),
        ("a in (1 2)", "expected , or ) in the list", "separate values with commas"),
        ("= 5", "expected an attribute name", "start each condition with an attribute"),
        ("a = 1 ; b = 2", 'unexpected ";"', "budget >= 40000"),
        ("   ", "where is empty", "leave where out"),
        ('{"city": "Pune"', "where starts with { but is not valid JSON", "as an expression"),
        ("[1]", "expected an attribute name", "attribute"),
    ],
)
def test_a_mistake_gets_what_is_wrong_where_and_how_to_fix_it(
    text: str, problem: str, fix: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_query({"where": text})
    assert caught.value.field == "where"
    assert problem in caught.value.message
    assert fix in (caught.value.hint or "")


def test_an_error_says_at_which_character_and_after_what() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_where("budget >= 40000 and city = Pune")
    assert "(at character 28, after: budget >= 40000 and city =)" in caught.value.message


def test_a_where_that_is_not_a_string_is_refused_with_the_string_form() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_query({"where": 5})
    assert "where must be a string, not the number 5" in caught.value.message
    assert "budget >= 40000" in (caught.value.hint or "")


def test_where_and_its_names_and_text_values_are_bounded() -> None:
    assert parse_where("a = 1" + " or a = 1" * ((WHERE_CHARS - 5) // 9))
    with pytest.raises(InvalidArgumentError, match=f"longer than {WHERE_CHARS} characters"):
        parse_where("a = 1" + " or a = 1" * (WHERE_CHARS // 9))
    with pytest.raises(InvalidArgumentError, match=f"longer than {WHERE_CHARS} characters"):
        parse_where({"a": "x" * WHERE_CHARS})
    long_name = "n" * (NAME_CHARS + 1)
    with pytest.raises(InvalidArgumentError, match="cannot be an attribute name") as caught:
        parse_where(f"{long_name} = 1")
    assert long_name not in str(caught.value)
    with pytest.raises(InvalidArgumentError, match=f"longer than {NAME_CHARS} characters"):
        parse_where(f"a = '{'v' * (NAME_CHARS + 1)}'")
    assert parse_where(f"{'n' * NAME_CHARS} = '{'v' * NAME_CHARS}'")
    # The object form holds to the same bounds.
    with pytest.raises(InvalidArgumentError, match="attribute names are 1 to"):
        parse_query({"where": {long_name: 1}})
    with pytest.raises(InvalidArgumentError, match="text value is longer"):
        parse_query({"where": {"a": ["v" * (NAME_CHARS + 1)]}})
