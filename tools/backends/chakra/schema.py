"""Chakra's schema as the adapter sees it: procedures, their attributes and states (from
`GET /v1/ext/config`) and users (from `GET /v1/ext/users`).

The config's exact shape is not documented beyond "procedures, attributes, stateTasks,
roles, pods, entities; maps uuids to schema" (reference A.3), so parsing is tolerant:
attributes and states may be top-level lists that name their procedure (by uuid or short
id) or lists nested inside each procedure; the primary key may be marked on the attribute
(`primaryKey`/`isPrimaryKey`) or named by the procedure (`primaryKey`, a short id or uuid),
or not marked at all (naming.py then guesses it, and settings can name it); a state's
process status is read from `status`/`type`/`category` when it holds OPEN, COMPLETED or
CANCELLED, and is otherwise unknown (None): the reference does not say that the config
links states to statuses, and a process's own `status` is what rows show anyway.
A select attribute's options may be plain values or `{value, label}` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.model import Status, parse_time

PROCESS_STATUS: dict[str, Status] = {
    "OPEN": "open",
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
}
UNIFIED_TO_STATUS = {v: k for k, v in PROCESS_STATUS.items()}
# Attribute types whose values are timestamps (A23): epoch ms, and ISO strings.
EPOCH_MS_TYPES = frozenset({"datetime"})
MAX_OPTIONS_SHOWN = 8


@dataclass(frozen=True)
class Attribute:
    id: str
    short_id: str
    name: str
    type: str
    options: tuple[str, ...] = ()
    primary_key: bool = False  # marked so in the config
    # (value, label) of select options whose label differs from the stored value.
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, value: str) -> str:
        """What a person sees for a stored select value (the value itself if unlabelled)."""
        return next((shown for stored, shown in self.labels if stored == value), value)

    def describe(self, *, key: bool = False) -> str:
        """Short text for list_backends: label, type, key marker, select options."""
        kind = self.type
        if self.options:
            shown = ", ".join(self.options[:MAX_OPTIONS_SHOWN])
            more = ", ..." if len(self.options) > MAX_OPTIONS_SHOWN else ""
            kind = f"{kind}: {shown}{more}"
        if self.type in EPOCH_MS_TYPES:
            kind += ", epoch ms"
        marker = ", primary key" if self.primary_key or key else ""
        return f"{self.name}; {kind}{marker}"


@dataclass(frozen=True)
class State:
    id: str
    short_id: str
    name: str
    status: Status | None  # None: the config does not say

    @property
    def line(self) -> str:
        """`DONE (completed)`, or the short id alone where the status is unknown."""
        return f"{self.short_id} ({self.status})" if self.status else self.short_id


@dataclass(frozen=True)
class Procedure:
    id: str
    short_id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    states: tuple[State, ...]

    @property
    def marked_key(self) -> Attribute | None:
        """The primary key as the config marks it, if it does."""
        return next((a for a in self.attributes if a.primary_key), None)

    @property
    def state_statuses_known(self) -> bool:
        return bool(self.states) and all(s.status is not None for s in self.states)

    def attribute(self, short_id: str) -> Attribute | None:
        return next((a for a in self.attributes if a.short_id == short_id), None)

    def state(self, ref: Any) -> State | None:
        """A state by uuid or short id: objects may carry either (A.5 leaves it open)."""
        if not isinstance(ref, str):
            return None
        return next((s for s in self.states if ref in (s.id, s.short_id)), None)


@dataclass(frozen=True)
class Schema:
    procedures: tuple[Procedure, ...]
    # Pod (team unit a process belongs to) uuid -> name.
    pods: Mapping[str, str] = field(default_factory=dict)

    def procedure(self, short_id: str) -> Procedure | None:
        return next((p for p in self.procedures if p.short_id == short_id), None)


@dataclass(frozen=True)
class User:
    id: str
    username: str
    name: str | None
    email: str | None


def chakra_time(value: Any) -> datetime | None:
    """Objects carry epoch ms (A.5); an ISO string is accepted too."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        return parse_time(text)
    return None


class SchemaError(ValueError):
    """The config body is not shaped as expected."""


def parse_config(config: Any) -> Schema:
    if not isinstance(config, Mapping) or not isinstance(config.get("procedures"), list):
        raise SchemaError("config has no procedures list")
    raw_procedures = [p for p in config["procedures"] if isinstance(p, Mapping)]
    top_attributes = _dicts(config.get("attributes"))
    top_states = _dicts(config.get("states"))
    procedures: list[Procedure] = []
    for raw in raw_procedures:
        pid, sid = str(raw.get("id") or ""), str(raw.get("shortId") or "")
        if not sid:
            continue

        def own(items: list[Mapping[str, Any]], pid: str = pid, sid: str = sid) -> list[Any]:
            return [
                i for i in items if str(i.get("procedure") or i.get("procedureId")) in (pid, sid)
            ]

        attrs = _dicts(raw.get("attributes")) + own(top_attributes)
        states = _dicts(raw.get("states")) + own(top_states)
        key_ref = raw.get("primaryKey")
        procedures.append(
            Procedure(
                id=pid,
                short_id=sid,
                name=str(raw.get("name") or sid),
                description=str(raw.get("description") or ""),
                attributes=tuple(_attribute(a, key_ref) for a in attrs if a.get("shortId")),
                states=tuple(_state(s) for s in states if s.get("shortId")),
            )
        )
    if not procedures:
        raise SchemaError("config lists no procedures")
    pods = {str(p["id"]): str(p["name"]) for p in _dicts(config.get("pods")) if p.get("name")}
    return Schema(tuple(procedures), pods)


def parse_users(body: Any) -> list[User]:
    rows = body if isinstance(body, list) else []
    users: list[User] = []
    for raw in _dicts(rows):
        if raw.get("id") is None or not raw.get("username"):
            continue
        users.append(
            User(
                id=str(raw["id"]),
                username=str(raw["username"]),
                name=_text(raw.get("name")),
                email=_text(raw.get("email")),
            )
        )
    return users


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _attribute(raw: Mapping[str, Any], key_ref: Any) -> Attribute:
    short_id = str(raw["shortId"])
    flagged = bool(raw.get("primaryKey") is True or raw.get("isPrimaryKey") is True)
    named = key_ref is not None and str(key_ref) in (short_id, str(raw.get("id")))
    options = list(_options(raw.get("options")))
    return Attribute(
        id=str(raw.get("id") or short_id),
        short_id=short_id,
        name=str(raw.get("name") or short_id),
        type=str(raw.get("type") or "text"),
        options=tuple(value for value, _ in options),
        primary_key=flagged or named,
        labels=tuple((value, label) for value, label in options if label != value),
    )


def _options(options: Any) -> Iterable[tuple[str, str]]:
    """(stored value, label) of each option; a plain option is its own label."""
    for option in options if isinstance(options, list) else ():
        if isinstance(option, Mapping):
            value = option.get("value", option.get("label"))
            if value is not None:
                yield str(value), str(option.get("label") or value)
        elif option is not None:
            yield str(option), str(option)


def _state(raw: Mapping[str, Any]) -> State:
    status: Status | None = None
    for key in ("status", "type", "category"):
        value = raw.get(key)
        if isinstance(value, str) and value.upper() in PROCESS_STATUS:
            status = PROCESS_STATUS[value.upper()]
            break
    short_id = str(raw["shortId"])
    return State(
        id=str(raw.get("id") or short_id),
        short_id=short_id,
        name=str(raw.get("name") or short_id),
        status=status,
    )
