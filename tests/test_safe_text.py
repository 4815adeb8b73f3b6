"""Vendor text is data: tools/safe_text.py keeps every value on its line and in its cell."""

from __future__ import annotations

import json

import pytest

from tools import safe_text
from tools.sim import hostile

BREAKERS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize("value", [*hostile.NAMES, hostile.OWNER, hostile.TAG, hostile.TASK])
def test_a_hostile_value_stays_on_one_line(value: str) -> None:
    shown = safe_text.cell(value)
    assert shown.splitlines() == [shown]
    assert not any(c in shown for c in BREAKERS)
    assert not any(c in shown for c in "\x1b\u202e\x7f")


def test_escapes_are_visible_and_named_where_common() -> None:
    assert safe_text.line("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert safe_text.line("\x1b[31mred") == "\\x1b[31mred"
    assert safe_text.line("x\u2028y\u2029z\x85w") == "x\\u2028y\\u2029z\\x85w"
    assert safe_text.line("bidi \u202eevil\u2066") == "bidi \\u202eevil\\u2066"


def test_a_cell_cannot_forge_the_row_separator() -> None:
    shown = safe_text.cell("A | owner=mallory | [done]")
    assert " | " not in shown
    assert shown == "A \\| owner=mallory \\| [done]"
    assert safe_text.line("A | B") == "A | B"  # a line of its own has no cells


@pytest.mark.parametrize(
    "value",
    ["Onboarding - Gekko & Co", "Müller GmbH", "東京 支店", "Ünïcødé 🙂‍↔️", "C:\\path", "a\u00a0b"],
)
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert safe_text.cell(value) == value
    assert safe_text.line(value) == value


def test_a_preview_splits_only_at_its_own_line_ends() -> None:
    assert safe_text.lines("one\r\ntwo\u2028three\nfour") == ["one", "two\\u2028three", "four"]


def test_json_lines_escape_leaves_the_same_json() -> None:
    value = {"name": "a\u2028b\u2029c\x85d\ne", "ok": "plain"}
    text = safe_text.json_lines_safe(json.dumps(value, ensure_ascii=False))
    assert text.splitlines() == [text]
    assert json.loads(text) == value
