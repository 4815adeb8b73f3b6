"""How a Chakra process is named and what a `text` filter reads, per procedure.

A process has no name field (reference A.5): people know it by its primary-key value
(`lead_id: "LEAD-910"`, A7/A16) and by what it is about (the lead's company, the
ticket's subject). A row is named `<key> · <title>`, e.g. `LEAD-0012 · Globex Corp`.

The primary key, in this order:
1. the `primary_key` setting of the instance (procedure short id -> attribute short id);
2. the attribute the config marks (`primaryKey`/`isPrimaryKey`, or the procedure's
   `primaryKey`); how the config marks it is not documented, so it may not;
3. a guess: the text attribute `<procedure>_id`, else the first text attribute with the
   word "id" in its short id or label (`visit_id`, "Ticket ID").

The title (the `title_attribute` setting, "" for none, else a guess): among the text
attributes other than the key, the first whose short id or label holds the earliest of
TITLE_WORDS (title, subject, company, ..., name), else the first text attribute.

`text` has no vendor operator (Chakra's query has only = != > >= < <=), so it is checked
here, against the name and the values of the text-like attributes (SEARCHED_TYPES; a
select counts by its label), attached to each row as `search_text`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tools.backends.chakra.schema import Attribute, Procedure, Schema
from tools.errors import ConfigError

TEXT_TYPES = frozenset({"text", "string"})
SEARCHED_TYPES = frozenset(
    {"text", "string", "textarea", "longtext", "email", "phone", "url", "select", "multiselect"}
)
TITLE_WORDS = (
    "title",
    "subject",
    "company",
    "organisation",
    "organization",
    "account",
    "customer",
    "site",
    "name",
)
SEPARATOR = " · "
MAX_TITLE_CHARS = 60
_WORD = re.compile(r"[a-z0-9]+")


def _words(attribute: Attribute) -> list[str]:
    return _WORD.findall(f"{attribute.short_id} {attribute.name}".replace("_", " ").lower())


@dataclass(frozen=True)
class Naming:
    key: Attribute | None
    key_source: str  # "set", "config", "guessed" or "none"
    title: Attribute | None
    title_source: str  # "set", "guessed" or "none"
    searched: tuple[Attribute, ...]

    def describe(self) -> str:
        """For list_backends: how rows are named, and where that choice came from."""
        parts = [a.short_id for a in (self.key, self.title) if a is not None]
        if not parts:
            return "named by their id (the primary_key and title_attribute settings name them)"
        sources = [
            source
            for attribute, source in ((self.key, self.key_source), (self.title, self.title_source))
            if attribute is not None
        ]
        origin = {"set": "from settings", "config": "from the config", "guessed": "guessed"}
        said = (
            origin[sources[0]]
            if len(set(sources)) == 1
            else (f"key {origin[self.key_source]}, title {origin[self.title_source]}")
        )
        if "guessed" in sources:
            said += "; settings primary_key, title_attribute"
        return f"named {SEPARATOR.join(parts)} ({said})"

    def name(self, data: Mapping[str, Any]) -> str | None:
        key = _shown(data.get(self.key.short_id)) if self.key else None
        title = _shown(data.get(self.title.short_id)) if self.title else None
        if title and len(title) > MAX_TITLE_CHARS:
            title = title[: MAX_TITLE_CHARS - 1] + "…"
        return SEPARATOR.join(v for v in (key, title) if v) or None

    def search_text(self, data: Mapping[str, Any]) -> list[str]:
        out: list[str] = []
        for attribute in self.searched:
            value = data.get(attribute.short_id)
            for item in value if isinstance(value, list) else [value]:
                shown = _shown(item)
                if shown is not None:
                    out.append(attribute.label(shown))
        return out


def _shown(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list) or value == "":
        return None
    return str(value)


def choose(proc: Procedure, key: str | None = None, title: str | None = None) -> Naming:
    """The naming of `proc`; `key`/`title` are the instance's settings for it (already
    checked to be attribute short ids; a title of "" means none)."""
    texts = [a for a in proc.attributes if a.type in TEXT_TYPES]
    if key is not None:
        key_attr, key_source = proc.attribute(key), "set"
    elif proc.marked_key is not None:
        key_attr, key_source = proc.marked_key, "config"
    else:
        own = next((a for a in texts if a.short_id == f"{proc.short_id}_id"), None)
        key_attr = own or next((a for a in texts if "id" in _words(a)), None)
        key_source = "guessed" if key_attr else "none"
    if title is not None:
        title_attr, title_source = (proc.attribute(title) if title else None), "set"
    else:
        title_attr = _guess_title([a for a in texts if a is not key_attr])
        title_source = "guessed" if title_attr else "none"
    if title_attr is None:
        title_source = "none"
    return Naming(
        key=key_attr,
        key_source=key_source,
        title=title_attr,
        title_source=title_source,
        searched=tuple(a for a in proc.attributes if a.type in SEARCHED_TYPES),
    )


def _guess_title(candidates: list[Attribute]) -> Attribute | None:
    def rank(attribute: Attribute) -> int:
        words = _words(attribute)
        return next((i for i, w in enumerate(TITLE_WORDS) if w in words), len(TITLE_WORDS))

    if not candidates:
        return None
    return min(candidates, key=rank)  # min keeps the first of equal rank: config order


def check_settings(
    schema: Schema, primary_key: Mapping[str, str], title_attribute: Mapping[str, str], name: str
) -> None:
    """Every procedure and attribute the settings name must exist: a typo would otherwise
    name every row by its id without a word."""
    known = ", ".join(p.short_id for p in schema.procedures)
    for setting, chosen in (("primary_key", primary_key), ("title_attribute", title_attribute)):
        for sid, attr in chosen.items():
            proc = schema.procedure(sid)
            if proc is None:
                raise ConfigError(
                    f"{setting} of '{name}' names procedure {sid!r}, which is not in the config",
                    hint=f"procedures there: {known}",
                )
            if proc.attribute(attr) is None and (attr or setting == "primary_key"):
                listed = ", ".join(a.short_id for a in proc.attributes)
                raise ConfigError(
                    f"{setting}.{sid} of '{name}' is {attr!r}, which is not an attribute of {sid}",
                    hint=f"attributes of {sid}: {listed}",
                )
