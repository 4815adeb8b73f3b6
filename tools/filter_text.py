"""`filter`: list_processes' filters written as one expression, for the tools that take the
same filters (summarize_processes, export_process):

    status in ('open') and updated_before = '2026-10-01' and owner = 'ann@example.com'
    overdue = true and template = 'Onboarding' and budget >= 40000

Why one string there: every client sends every tool's input schema to the model on every
turn. list_processes publishes each filter as its own typed parameter (fourteen of them);
publishing the same fourteen again on two more tools would cost about 550 tokens of
tools/list for no new meaning (benchmarks/sizes.py counts them). One bounded string is
valid for every client's schema rules (OpenAI strict, Gemini), and it reads as the
`where` expressions agents already write.

The rules, kept few so the expression means exactly what the typed parameters mean:
- Terms are joined by `and` (filters are ANDed, as in list_processes).
- A term whose bare name is a filter of list_processes is that filter: `name = value`, or
  `name in (...)` for the list filters (status, native_status, tags; tags means all of
  them, as the typed parameter does). `created_at >= X` / `< X` are created_after /
  created_before (the same for updated_at and due_at): after is inclusive, before is not.
- Every other term is an attribute condition, exactly as list_processes' `where` reads it
  (and/or and parentheses allowed among them); a quoted name is always an attribute, so an
  attribute called "status" is written "status" = "x".
- The typed parameters themselves are also taken (the way list_processes takes them); a
  filter given both ways is refused, so nothing is silently overridden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from tools.arguments import json_kind, shown
from tools.bounds import FILTER_CHARS
from tools.errors import InvalidArgumentError
from tools.query import DATE_FIELDS, QUERY_FILTERS
from tools.where_text import Token, lex, parse_term

EXAMPLE = "status in ('open') and updated_before = '2026-10-01'"
_LISTS = ("status", "native_status", "tags")
# A row date compared with an operator: the filter each operator means.
_DATE_OPS = {
    f"{stem}_at": {">=": f"{stem}_after", "<": f"{stem}_before"}
    for stem in ("created", "updated", "due")
}
_NAMES = frozenset(k for k in QUERY_FILTERS if k != "where") | frozenset(_DATE_OPS)


def expand_filter(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments with `filter` replaced by the typed filters it writes (and the rest
    of it as `where`). Without `filter` (or with null), the arguments as they are."""
    out = dict(arguments)
    text = out.pop("filter", None)
    if text is None:
        return out
    for name, value in parse_filter(text).items():
        if name in out:
            raise InvalidArgumentError(
                f"{name} is given twice: as a parameter and inside filter",
                field=name,
                hint=f"give {name} once, in filter (e.g. {EXAMPLE}) or as the parameter",
            )
        out[name] = value
    return out


def parse_filter(text: Any) -> dict[str, Any]:
    """The typed filters of one filter expression; attribute terms become `where` text."""
    if not isinstance(text, str):
        raise _error(f"filter must be a string, not {json_kind(text)}")
    if len(text) > FILTER_CHARS:
        raise _error(
            f"filter is longer than {FILTER_CHARS} characters",
            "shorten it (a long any-of list is better split over several calls)",
        )
    if not text.strip():
        raise _error("filter is empty", f"give at least one term, e.g. {EXAMPLE}, or leave it out")
    filters: dict[str, Any] = {}
    rest: list[str] = []
    for start, end, tokens in _terms(text):
        piece = text[start:end]
        head = tokens[0]
        if head.kind == "name" and head.text in _NAMES:
            name, value = _vocabulary(piece, head.text)
            if name in filters:
                raise _error(
                    f"{name} appears twice in filter",
                    f'give {name} once (a list filter takes several values: {name} in ("a", "b"))',
                )
            filters[name] = value
            continue
        inner = _filter_conditions(tokens)
        if inner:
            raise _error(
                f"{inner[0]} is inside an or-group or parentheses",
                f"filters are ANDed: write {inner[0]} as its own term joined by and; "
                "or and parentheses join attribute conditions only",
            )
        rest.append(piece.strip())
    if rest:
        # No term holds a top-level or (then nothing is split), so and-joining keeps meaning.
        filters["where"] = " and ".join(rest)
    return filters


def _terms(text: str) -> list[tuple[int, int, list[Token]]]:
    """The top-level `and` terms of `text`: (start, end, tokens) each."""
    tokens = _lexed(text)
    if any(_top_level(tokens, "or")):
        # `a or b and c` is `a or (b and c)`: splitting it at and would change its meaning,
        # so it is one term (a where expression, or refused if it names a filter).
        return [(0, len(text), tokens[:-1])]
    terms: list[tuple[int, int, list[Token]]] = []
    start, begin = 0, 0
    for end in [*_top_level(tokens, "and"), len(tokens) - 1]:  # the last: the end token
        tok = tokens[end]
        if end == begin:
            raise _error(
                "a term is missing" + (" before and" if tok.kind != "end" else " at the end"),
                f"join whole terms with and, e.g. {EXAMPLE}",
            )
        terms.append((start, tok.pos, tokens[begin:end]))
        start, begin = tok.pos + len(tok.text), end + 1
    return terms


def _top_level(tokens: list[Token], word: str) -> list[int]:
    """Where the keyword `word` stands outside every parenthesis and bracket."""
    found: list[int] = []
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.text in ("(", "["):
            depth += 1
        elif tok.text in (")", "]"):
            depth -= 1
        elif depth == 0 and tok.kind == "name" and tok.text.casefold() == word:
            found.append(i)
    return found


def _lexed(text: str) -> list[Token]:
    try:
        return lex(text)
    except InvalidArgumentError as exc:
        raise _renamed(exc) from None


def _filter_conditions(tokens: list[Token]) -> list[str]:
    """The filter names used as a condition's name (a bare word before an operator or
    in) anywhere in `tokens`."""
    return [
        tok.text
        for tok, after in pairwise(tokens)
        if tok.kind == "name"
        and tok.text in _NAMES
        and (after.kind == "op" or after.text.casefold() in ("in", "not"))
    ]


def _vocabulary(piece: str, name: str) -> tuple[str, Any]:
    """One `name = value` / `name in (...)` term as the typed filter it means."""
    try:
        tree = parse_term(piece)
    except InvalidArgumentError as exc:
        raise _renamed(exc) from None
    if set(tree) != {name}:
        raise _error(
            f"the term {shown(piece.strip())} is more than one condition on {name}",
            f"filters are ANDed: write {name} as its own term joined by and, e.g. {EXAMPLE}",
        )
    rhs = tree[name]
    if name in _DATE_OPS:
        return _date_term(name, rhs)
    if isinstance(rhs, dict):
        op = next(iter(rhs))
        raise _error(
            f"{name} takes = (or in), not {op}",
            f"list the values you want: {name} in (...)"
            if name in _LISTS
            else f'write {name} = "..."; see list_processes for what {name} means',
        )
    if isinstance(rhs, list):
        if name not in _LISTS:
            raise _error(
                f"{name} takes one value, not a list",
                f'write {name} = "..."; lists go with {", ".join(_LISTS)}',
            )
        return name, rhs
    if name in _LISTS:
        return name, [rhs]
    if name == "overdue" and rhs is not True:
        raise _error("overdue takes only true", "write overdue = true, or leave it out")
    if name in DATE_FIELDS and not isinstance(rhs, str):
        raise _error(
            f"{name}: a date goes in quotes, not {json_kind(rhs)}",
            f'write {name} = "2026-10-01"',
        )
    return name, rhs


def _date_term(name: str, rhs: Any) -> tuple[str, Any]:
    ops = _DATE_OPS[name]
    if isinstance(rhs, dict) and len(rhs) == 1:
        op, value = next(iter(rhs.items()))
        if op in ops and isinstance(value, str):
            return ops[op], value
    stem = name.removesuffix("_at")
    raise _error(
        f"{name} is compared with >= or < and a date in quotes",
        f'write {name} >= "2026-01-01" ({stem}_after, inclusive) or {name} < "2026-02-01" '
        f"({stem}_before, exclusive)",
    )


def _renamed(exc: InvalidArgumentError) -> InvalidArgumentError:
    return _error(exc.message.removeprefix("where: "), exc.hint)


def _error(message: str, hint: str | None = None) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"filter: {message}" if not message.startswith("filter") else message,
        field="filter",
        hint=hint or f"e.g. {EXAMPLE}",
    )


def filter_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Tool arguments with their list filters written as one `filter` (for examples and
    prompts); every other parameter (backend, collection, group_by, ...) as it is."""
    filters = {k: v for k, v in arguments.items() if k in QUERY_FILTERS}
    out = {k: v for k, v in arguments.items() if k not in filters}
    text = filter_text(filters)
    return {**out, "filter": text} if text else out


def filter_text(filters: Mapping[str, Any]) -> str:
    """Typed list filters written as one filter expression (the inverse of parse_filter,
    for examples and prompts): {"status": ["open"], "owner": "ann"} is
    status = "open" and owner = "ann"."""
    terms: list[str] = []
    for name, value in filters.items():
        if value is None:
            continue
        if name == "where":
            # Parenthesised, so that an or inside it stays inside it.
            terms.append(f"({value})")
        elif isinstance(value, list | tuple):
            values = ", ".join(_quoted(v) for v in value)
            if len(value) == 1:
                terms.append(f"{name} = {values}")
            else:
                # tags holds all of them: `=` reads better than `in` there.
                terms.append(f"{name} {'=' if name == 'tags' else 'in'} ({values})")
        else:
            terms.append(f"{name} = {_quoted(value)}")
    return " and ".join(terms)


def _quoted(value: Any) -> str:
    """A value in single quotes, which need no escaping inside a JSON string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)
