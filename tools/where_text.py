"""`where` as a short expression, the form the published schema takes:

    budget >= 40000 and (city = "Pune" or city = "Mumbai")
    stage in ("won", "lost") and reopened = true and "Deal size" < 5000

Why a string: OpenAI's strict schemas need every object to list its properties, so an
object keyed by attribute name cannot be written in them at all; a typed condition list
could be, but and/or nesting would need a recursive schema (`$ref`), which Gemini's
function declarations do not take, or three copies of the condition schema, which costs
every client hundreds of tokens on every turn. A string with `maxLength` is valid for
every client, and an expression is also what a model writes most readily.

Grammar (keywords in any case; text values in double or single quotes; an attribute
name is bare, or quoted when it has spaces or is a keyword):

    expr      := term (("and" | "or") term)*        "and" binds tighter than "or"
    term      := "(" expr ")" | name op value | name ["not"] "in" list
    op        := = | == | != | <> | > | >= | < | <=
    value     := "text" | 'text' | number | true | false | list   (a list only with = and !=)
    list      := "(" value, ... ")" | "[" value, ... "]"

The parser yields the tree tools/where.py defines, which every backend translates, so no
backend knows the syntax. The object form of earlier versions (`{"city": "Pune"}`) is
still accepted, as JSON text or as an object. Errors name the place and show the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tools.arguments import json_kind, label, shown
from tools.bounds import NAME_CHARS, WHERE_CHARS
from tools.errors import InvalidArgumentError
from tools.where import (
    BARE_NAME,
    KEYWORDS,
    WHERE_GROUPS,
    WHERE_MAX_DEPTH,
    WHERE_OPERATORS,
    condition_text,
    group,
    where_groups,
)

EXAMPLE = 'budget >= 40000 and (city = "Pune" or city = "Mumbai")'
_OPERATORS = {**{op: op for op in WHERE_OPERATORS}, "==": "=", "<>": "!="}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
    | (?P<name>"""
    + BARE_NAME.pattern
    + r""")
    | (?P<dq>"(?:[^"\\]|\\.)*")
    | (?P<sq>'(?:[^'\\]|\\.|'')*')
    | (?P<op>[=!<>~]+)
    | (?P<punct>[()\[\],])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # num, name, str, op, punct, end
    text: str  # as written
    value: Any  # the number, the unquoted text, the operator
    pos: int


def parse_where(value: Any) -> dict[str, Any]:
    """The where tree of an argument: an expression, JSON text of the object form, or an
    object (the older form, checked by tools.where.validate_where)."""
    if isinstance(value, Mapping):
        if len(json.dumps(value, ensure_ascii=False, default=str)) > WHERE_CHARS:
            raise _too_long()
        return dict(value)
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"where must be a string, not {json_kind(value)}",
            field="where",
            hint=f"write the conditions as one string, e.g. {EXAMPLE}",
        )
    if len(value) > WHERE_CHARS:
        raise _too_long()
    text = value.strip()
    if not text:
        raise InvalidArgumentError(
            "where is empty",
            field="where",
            hint='give at least one condition, e.g. city = "Pune", or leave where out',
        )
    if text.startswith("{"):
        return _object_text(text)
    tree = _Parser(text).parse()
    if where_groups(tree) > WHERE_MAX_DEPTH:
        raise InvalidArgumentError(
            f"where: and/or groups nest deeper than {WHERE_MAX_DEPTH} levels",
            field="where",
            hint=f"flatten the filter to at most {WHERE_MAX_DEPTH} nested parentheses of "
            "alternating and/or",
        )
    return tree


def lex(text: str) -> list[Token]:
    """The tokens of an expression, ending with an `end` token (tools/filter_text.py
    splits its terms on them)."""
    return _Parser(text).toks


def parse_term(text: str) -> dict[str, Any]:
    """The tree of an expression, without where's length and depth bounds (the caller
    holds its own)."""
    return _Parser(text).parse()


def _too_long() -> InvalidArgumentError:
    return InvalidArgumentError(
        f"where is longer than {WHERE_CHARS} characters",
        field="where",
        hint="shorten the filter (a long any-of list is better split over several calls)",
    )


def _object_text(text: str) -> dict[str, Any]:
    try:
        tree = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(
            f"where starts with {{ but is not valid JSON ({exc.msg}, character {exc.pos + 1})",
            field="where",
            hint=f"write it as an expression, e.g. {EXAMPLE}",
        ) from None
    if not isinstance(tree, dict):
        raise InvalidArgumentError(
            "where starts with { but is not one JSON object",
            field="where",
            hint=f"write it as an expression, e.g. {EXAMPLE}",
        )
    return tree


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = self._lex(text)
        self.i = 0

    # -- lexing ---------------------------------------------------------------------------

    def _lex(self, text: str) -> list[Token]:
        toks: list[Token] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                start = len(text) - len(text[pos:].lstrip())
                if start >= len(text):
                    break
                raise self._error(_unexpected(text[start]), start)
            kind = match.lastgroup or ""
            start = match.start(kind)
            raw = match.group(kind)
            toks.append(self._token(kind, raw, start))
            pos = match.end()
        toks.append(Token("end", "", None, len(text)))
        return toks

    def _token(self, kind: str, raw: str, pos: int) -> Token:
        if kind == "num":
            number = json.loads(raw)
            if isinstance(number, float) and number in (float("inf"), -float("inf")):
                raise self._error(f"{raw} is too large a number", pos)
            return Token("num", raw, number, pos)
        if kind == "dq":
            try:
                return Token("str", raw, json.loads(raw, strict=False), pos)
            except ValueError:
                raise self._error("a text value has a broken escape", pos) from None
        if kind == "sq":
            inner = raw[1:-1].replace("''", "'")
            return Token("str", raw, re.sub(r"\\(.)", r"\1", inner), pos)
        if kind == "op":
            if raw not in _OPERATORS:
                raise self._error(
                    f"unknown operator {raw}",
                    pos,
                    "operators are " + " ".join(WHERE_OPERATORS) + f", e.g. {EXAMPLE}",
                )
            return Token("op", raw, _OPERATORS[raw], pos)
        return Token(kind, raw, raw, pos)

    # -- parsing --------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def _next(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _word(self, tok: Token) -> str | None:
        return tok.text.casefold() if tok.kind == "name" else None

    def parse(self) -> dict[str, Any]:
        tree = self._or()
        if self.tok.kind != "end":
            raise self._stray(self.tok)
        return tree

    def _or(self) -> dict[str, Any]:
        return self._joined("or", self._and)

    def _and(self) -> dict[str, Any]:
        return self._joined("and", self._term)

    def _joined(self, word: str, part: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """part (word part)*: one group of `word`, or the part alone."""
        members = [part()]
        while self._word(self.tok) == word:
            self._next()
            members.append(part())
        return members[0] if len(members) == 1 else group(word, members)

    def _term(self) -> dict[str, Any]:
        tok = self.tok
        if tok.text == "(":
            self._next()
            inner = self._or()
            if self.tok.text != ")":
                raise self._error(
                    "a ( is not closed", tok.pos, "close every ( with a ), e.g. " + EXAMPLE
                )
            self._next()
            return inner
        if tok.kind == "end":
            raise self._error(
                "a condition is missing at the end",
                tok.pos,
                f"finish the filter with a condition, e.g. {EXAMPLE}",
            )
        return self._condition()

    def _condition(self) -> dict[str, Any]:
        tok = self._next()
        if tok.kind == "str":
            name = str(tok.value)
        elif tok.kind in ("name", "num") and (self._word(tok) or "") not in KEYWORDS:
            name = tok.text
        else:
            raise self._error(
                f"expected an attribute name, found {_shown_tok(tok)}",
                tok.pos,
                f"start each condition with an attribute, e.g. {EXAMPLE}",
            )
        if not name or len(name) > NAME_CHARS or name in WHERE_GROUPS:
            raise self._error(
                f"{shown(name, 40)} cannot be an attribute name",
                tok.pos,
                f"attribute names are 1 to {NAME_CHARS} characters, and not and/or",
            )
        op_tok = self.tok
        word = self._word(op_tok)
        if word in ("in", "not"):
            self._next()
            negated = word == "not"
            if negated and self._word(self._next()) != "in":
                raise self._error(
                    f"expected in after {name} not",
                    op_tok.pos,
                    f'write {name} not in ("a", "b")',
                )
            values = self._list(name)
            return {name: {"!=": values} if negated else values}
        if op_tok.kind != "op":
            raise self._error(
                f"expected an operator after {name}, found {_shown_tok(op_tok)}",
                op_tok.pos,
                "operators are "
                + " ".join(WHERE_OPERATORS)
                + " and in; e.g. "
                + condition_text(name, "=", "Pune"),
            )
        self._next()
        op = str(op_tok.value)
        if self.tok.text in ("(", "["):
            if op not in ("=", "!="):
                raise self._error(
                    f"a list goes only with =, != or in, not {op}",
                    self.tok.pos,
                    f'write {name} in ("a", "b") for any of several values',
                )
            values = self._list(name)
            return {name: values if op == "=" else {"!=": values}}
        value = self._value(name, op)
        return {name: value} if op == "=" else {name: {op: value}}

    def _list(self, name: str) -> list[Any]:
        open_tok = self._next()
        if open_tok.text not in ("(", "["):
            raise self._error(
                f"in takes a list, found {_shown_tok(open_tok)}",
                open_tok.pos,
                f'write {name} in ("a", "b")',
            )
        close = ")" if open_tok.text == "(" else "]"
        values: list[Any] = []
        while True:
            if self.tok.text == close and not values:
                raise self._error(
                    "an empty list matches nothing",
                    self.tok.pos,
                    f'name at least one value, e.g. {name} in ("a", "b")',
                )
            values.append(self._value(name, "in"))
            sep = self._next()
            if sep.text == close:
                return values
            if sep.text != ",":
                raise self._error(
                    f"expected , or {close} in the list, found {_shown_tok(sep)}",
                    sep.pos,
                    f'separate values with commas, e.g. {name} in ("a", "b")',
                )

    def _value(self, name: str, op: str) -> Any:
        tok = self._next()
        if tok.kind == "str":
            if len(tok.value) > NAME_CHARS:
                raise self._error(
                    f"a text value is longer than {NAME_CHARS} characters",
                    tok.pos,
                    f"compare with a value of at most {NAME_CHARS} characters",
                )
            return tok.value
        if tok.kind == "num":
            return tok.value
        word = self._word(tok)
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            raise self._error(
                "null is not a value a condition can compare with",
                tok.pos,
                "compare with text, a number, or true/false",
            )
        if tok.kind == "name":
            fix = condition_text(name, "=" if op == "in" else op, tok.text)
            raise self._error(
                f"{_shown_tok(tok)} is not a value: text goes in quotes", tok.pos, f"write {fix}"
            )
        raise self._error(
            f"expected a value after {op}, found {_shown_tok(tok)}",
            tok.pos,
            f"compare with text in quotes, a number, or true/false, e.g. {EXAMPLE}",
        )

    # -- errors ---------------------------------------------------------------------------

    def _stray(self, tok: Token) -> InvalidArgumentError:
        if tok.text == ")":
            return self._error("a ) has no matching (", tok.pos, "remove it, or add the (")
        return self._error(
            f"expected and/or before {_shown_tok(tok)}",
            tok.pos,
            f"join conditions with and / or, e.g. {EXAMPLE}",
        )

    def _error(self, what: str, pos: int, hint: str | None = None) -> InvalidArgumentError:
        before = label(" ".join(self.text[:pos].split()[-8:]), 200)
        before = before if len(before) <= 40 else "…" + before[-39:]
        place = f"at character {pos + 1}" + (f", after: {before}" if before else "")
        return InvalidArgumentError(
            f"where: {what} ({place})",
            field="where",
            hint=hint or f"fix the filter, e.g. {EXAMPLE}",
        )


def _unexpected(char: str) -> str:
    if char in "&|":
        return f"{char} is not how conditions are joined: use and / or"
    return f"unexpected {shown(char)}"


def _shown_tok(tok: Token) -> str:
    return "the end" if tok.kind == "end" else shown(tok.text, 40)
