"""PHP-style bracket query parameters, as Kommo's servers read them.

`filter[statuses][0][pipeline_id]=5&filter[id][]=1&filter[id][]=2` becomes
`{"filter": {"statuses": {"0": {"pipeline_id": "5"}}, "id": ["1", "2"]}}`.

Several values may arrive in three forms (reference section 3), and `values()` reads all
three the same way:
- `filter[x][]=a&filter[x][]=b`   (the Kommo reference's `filter[id][]`),
- `filter[x][0]=a&filter[x][1]=b` (amoCRM.ru's indexed form),
- `filter[x]=a&filter[x]=b`       (the bare key repeated, Kommo's filtration page).
The last form is ambiguous on a PHP stack, which keeps only the last value; `repeated`
chooses between honouring every value ("all", what Kommo documents) and PHP's "last".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

Repeated = Literal["all", "last"]
Tree = dict[str, Any]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class BracketError(ValueError):
    """A parameter that cannot be read; `path` names it in Kommo's dotted style."""

    def __init__(self, path: str, detail: str, code: str = "InvalidType") -> None:
        super().__init__(detail)
        self.path = path
        self.detail = detail
        self.code = code


def split_key(key: str) -> list[str] | None:
    """`filter[a][]` -> ["filter", "a", ""]; None for a malformed key."""
    match = _KEY.match(key)
    if match is None:
        return None
    return [match.group(1), *_PART.findall(match.group(2))]


def parse(pairs: Iterable[tuple[str, str]], *, repeated: Repeated = "all") -> Tree:
    root: Tree = {}
    for key, value in pairs:
        parts = split_key(key)
        if parts is None:
            raise BracketError(key, f"malformed parameter name {key!r}", "InvalidName")
        _insert(root, parts, value, key, repeated)
    return root


def _insert(node: Tree, parts: list[str], value: str, key: str, repeated: Repeated) -> None:
    *path, leaf = parts
    for i, part in enumerate(path):
        if i == len(path) - 1 and leaf == "":  # `a[x][]=v`: append to a[x]
            existing = node.get(part)
            if existing is None:
                node[part] = [value]
            elif isinstance(existing, list):
                existing.append(value)
            else:
                raise BracketError(key, f"{key!r} mixes forms of one parameter")
            return
        if part == "":
            part = str(len(node))  # `a[][b]`: a new element, as PHP does
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BracketError(key, f"{key!r} mixes a plain value with nested keys")
        node = child
    existing = node.get(leaf)
    if isinstance(existing, dict):
        raise BracketError(key, f"{key!r} mixes a plain value with nested keys")
    if existing is None or repeated == "last":
        node[leaf] = value
    elif isinstance(existing, list):
        existing.append(value)
    else:
        node[leaf] = [existing, value]


def path_of(parts: Iterable[str]) -> str:
    return ".".join(parts)


def values(node: Any, path: str) -> list[str]:
    """Several values in any of the three forms (a single value is a list of one)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [str(v) for v in node]
    if isinstance(node, dict) and node and all(k.isdigit() for k in node):
        out: list[str] = []
        for k in sorted(node, key=int):
            item = node[k]
            if not isinstance(item, str):
                raise BracketError(f"{path}.{k}", "expected a plain value")
            out.append(item)
        return out
    raise BracketError(path, "expected a value or a list of values")


def scalar(node: Any, path: str) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list) and node:
        return str(node[-1])  # a repeated single-valued key: the last one wins
    raise BracketError(path, "expected a single value")


def integer(text: str, path: str) -> int:
    if not re.fullmatch(r"-?\d+", text.strip()):
        raise BracketError(path, f"{text!r} is not an integer")
    return int(text)
