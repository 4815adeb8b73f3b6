"""Vendor text is data: it is shown, never obeyed, and it never shapes the answer.

Every value a backend supplies (names, owners, tags, templates, statuses, field values,
task names, descriptions, vendor messages) reaches the model's text through `line` or
`cell`, so no vendor value can end a line, start one, or split one row into two. The
rule, for text read by a model or a terminal:

- Line breaks of every kind are shown as escapes, never sent: `\\n`, `\\r`, `\\t` as those
  two characters; every other control character (C0, DEL, C1 including U+0085 NEL) as
  `\\xHH`; the Unicode line and paragraph separators U+2028/U+2029 and the bidirectional
  controls (U+061C, U+200E/F, U+202A-E, U+2066-9: "Trojan Source" reordering) as
  `\\uHHHH`. So an ANSI escape `ESC[31m` reads `\\x1b[31m`: visible, and inert in a
  terminal. Nothing is stripped, so nothing a vendor sent is hidden from the reader.
- Inside a row whose cells are joined by ` | `, `cell` also shows every `|` as `\\|`: a
  bare `|` in a row line is always a separator the server wrote.
- Backslashes are left as they are: `\\n` in the text may be the vendor's own two
  characters. The rule guarantees lines and separators, not a reversible encoding; the
  exact value is in structuredContent (JSON) and in exports.

Everything else (letters of every script, emoji and their joiners, ordinary spaces) is
left alone. Ids go through `cell` too: a well-formed id is unchanged by it.

For files the rules differ (see tools/exportformats.py): JSON Lines and JSON escape only
what a line splitter would break on, and CSV neutralises formula-leading cells.
"""

from __future__ import annotations

from collections.abc import Mapping

# Unicode bidirectional formatting characters (Trojan Source, CVE-2021-42574).
BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
# What `str.splitlines` (and so most line readers) breaks on, besides \n and \r.
LINE_BREAKS = frozenset({0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029})

_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _escape(code: int) -> str:
    if code in _NAMED:
        return _NAMED[code]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_LINE_TABLE: Mapping[int, str] = {
    c: _escape(c) for c in (*_CONTROLS, 0x2028, 0x2029, *sorted(BIDI_CONTROLS))
}
_CELL_TABLE: Mapping[int, str] = {**_LINE_TABLE, ord("|"): "\\|"}


def line(text: str) -> str:
    """Vendor text on a line of its own (a description, a warning, a field value)."""
    # isprintable() is False for every character the table changes (and for some it
    # leaves, such as U+00A0): the common, clean value costs one scan.
    if text.isprintable():
        return text
    return text.translate(_LINE_TABLE)


def cell(text: str) -> str:
    """Vendor text inside a row whose cells are joined by ` | `."""
    if text.isprintable() and "|" not in text:
        return text
    return text.translate(_CELL_TABLE)


def lines(text: str) -> list[str]:
    """Text the server lays out as several lines (a preview of a file), each made safe.

    Split only at `\\n` (a file's own line ends); every other break is shown escaped."""
    return [line(part.removesuffix("\r")) for part in text.split("\n")]


def json_lines_safe(encoded: str) -> str:
    """JSON text (from json.dumps, ensure_ascii=False) that every line reader keeps on one
    line: json.dumps escapes the C0 controls but leaves U+0085, U+2028 and U+2029 raw,
    which Python's splitlines (and JavaScript before ES2019) treat as line ends. They can
    only occur inside strings, where `\\uHHHH` is an exact escape, so the JSON is unchanged."""
    if encoded.isascii():
        return encoded
    for code in (0x85, 0x2028, 0x2029):
        encoded = encoded.replace(chr(code), f"\\u{code:04x}")
    return encoded
