"""Deterministic Chakra sandbox data: a team with users, pods, three procedures (lead,
ticket, fieldvisit) with their attributes and states, and the processes of each.

Objects are kept in their wire form (what the external API returns), with the quirks of
reference part A.5: `assignedTo`, `createdBy`, `procedure` and `state` are uuids, and
`createdAt`/`updatedAt`/`nextActionAt` are epoch-millisecond integers. Attribute values
live in `data`, keyed by attribute short id; an attribute without a value is absent.

The config (`GET /v1/ext/config`) lists procedures, attributes and states as flat lists
linked by the procedure's uuid ("maps uuids to schema", A20). Two details the docs do not
show are left out unless asked for (`config(...)`, the simulator's flags), since a
careless adapter would lean on them:
- how the primary key is marked (A16 shows such a key, `lead_id`, but not how the config
  marks it): `key_marking` "none" (default), "attribute" (`primaryKey: true`) or
  "procedure" (the procedure's `primaryKey` names the short id);
- which process status a state stands for: `state_statuses=True` adds `status` to each
  state. Status and state are separate fields that Update sets separately (A6, A16), and
  the data says so: a few processes were cancelled while still in an open state.

Leads carry a `notes` attribute (textarea): some name another company ("Referred by
Initech"), and some leads have no `company` at all and are known only by the company
their notes name, so a text search must read attributes, not just the row name.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tools.backends.chakra.data_hostile import add_hostile
from tools.backends.chakra.specs import (
    CATEGORIES,
    CHANNELS,
    IST,
    LATER_ATTRIBUTES,
    NOTES,
    NOTES_ONLY,
    OUTCOMES,
    PRIORITIES,
    PROCEDURES,
    PURPOSES,
    SITES,
    SOURCES,
    SUBJECTS,
    ProcedureSpec,
    StateSpec,
)
from tools.sim import fake

Json = dict[str, Any]
KeyMarking = Literal["none", "attribute", "procedure"]

DEFAULT_NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
STATUSES = ("OPEN", "COMPLETED", "CANCELLED")


@dataclass(frozen=True)
class ChakraData:
    seed: int
    now: datetime
    team_id: str
    users: list[Json]
    pods: list[Json]
    procedures: list[Json]  # config order
    attributes: list[Json]  # every procedure's, each with "procedure": uuid
    states: list[Json]
    processes: dict[str, list[Json]]  # procedure short id -> processes, oldest first

    def config(self, *, key_marking: KeyMarking = "none", state_statuses: bool = False) -> Json:
        """The body of GET /v1/ext/config (inside `_data`), with the undocumented details
        (see the module docstring) only where asked for."""
        keys = {a["procedure"]: a["shortId"] for a in self.attributes if a["primaryKey"]}
        procedures = [
            {**p, "primaryKey": keys[p["id"]]} if key_marking == "procedure" else p
            for p in self.procedures
        ]
        attributes = [
            a if key_marking == "attribute" else {k: v for k, v in a.items() if k != "primaryKey"}
            for a in self.attributes
        ]
        states = [
            s if state_statuses else {k: v for k, v in s.items() if k != "status"}
            for s in self.states
        ]
        return {
            "team": {"id": self.team_id, "name": "Acme Field Services"},
            "procedures": procedures,
            "attributes": attributes,
            "states": states,
            "stateTasks": [],
            "roles": [{"id": _uuid_of("role-admin"), "name": "Admin"}],
            "pods": self.pods,
        }

    def procedure(self, short_id: str) -> Json:
        return next(p for p in self.procedures if p["shortId"] == short_id)

    def states_of(self, short_id: str) -> list[Json]:
        pid = self.procedure(short_id)["id"]
        return [s for s in self.states if s["procedure"] == pid]

    def attributes_of(self, short_id: str) -> list[Json]:
        pid = self.procedure(short_id)["id"]
        return [a for a in self.attributes if a["procedure"] == pid]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _uuid_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"chakra.sandbox/{name}"))


def _later_uuid(name: str) -> str:
    """A random-looking (version 4) uuid that draws nothing from the main stream."""
    return str(uuid.UUID(int=random.Random(name).getrandbits(128), version=4))


def generate(
    seed: int = 7,
    leads: int = 160,
    tickets: int = 100,
    visits: int = 60,
    now: datetime = DEFAULT_NOW,
    *,
    hostile_records: bool = True,
) -> ChakraData:
    """A team's data. `leads` is the default procedure's size: a benchmark that wants N
    rows in the default collection passes leads=N (10,000 take well under a second).
    Each procedure also gets the hostile processes of data_hostile.py (unless
    `hostile_records=False`), which leave every regular one as it is."""
    data = _Generator(random.Random(seed), now).build(
        seed, {"lead": leads, "ticket": tickets, "fieldvisit": visits}
    )
    _later_additions(random.Random(f"chakra-later-{seed}"), data)
    if hostile_records:
        add_hostile(data.processes, random.Random(f"chakra-hostile-{seed}"))
    return data


class _Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC).replace(microsecond=0)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def build(self, seed: int, counts: dict[str, int]) -> ChakraData:
        team_id = self.uuid()
        self.users = self._users()
        self.user_ids = [u["id"] for u in self.users]
        self.pods = [{"id": self.uuid(), "name": name} for name in ("North", "South", "West")]
        procedures: list[Json] = []
        attributes: list[Json] = []
        states: list[Json] = []
        processes: dict[str, list[Json]] = {}
        for spec in PROCEDURES:
            pid = self.uuid()
            procedures.append(
                {
                    "id": pid,
                    "shortId": spec.short_id,
                    "name": spec.name,
                    "description": spec.description,
                }
            )
            attributes += [
                {
                    "id": _later_uuid(f"{pid}/{a.short_id}")
                    if (spec.short_id, a.short_id) in LATER_ATTRIBUTES
                    else self.uuid(),
                    "shortId": a.short_id,
                    "name": a.name,
                    "type": a.type,
                    "procedure": pid,
                    "primaryKey": a.primary_key,
                    **({"options": list(a.options)} if a.options else {}),
                }
                for a in spec.attributes
            ]
            own_states = [
                {
                    "id": self.uuid(),
                    "shortId": s.short_id,
                    "name": s.name,
                    "procedure": pid,
                    "status": s.status,
                    "sequence": i,
                }
                for i, s in enumerate(spec.states, start=1)
            ]
            states += own_states
            processes[spec.short_id] = self._processes(
                spec, pid, team_id, own_states, counts.get(spec.short_id, 0)
            )
        return ChakraData(
            seed=seed,
            now=self.now,
            team_id=team_id,
            users=self.users,
            pods=self.pods,
            procedures=procedures,
            attributes=attributes,
            states=states,
            processes=processes,
        )

    def _users(self) -> list[Json]:
        rng = self.rng
        users: list[Json] = []
        for i, person in enumerate(fake.people(rng, 10)):
            created = fake.datetime_between(rng, self.now - 2 * SPAN, self.now - SPAN)
            users.append(
                {
                    "id": self.uuid(),
                    "username": fake.slug(person.full_name),
                    "name": person.full_name,
                    "email": fake.email(person, "acme-field.test"),
                    "role": "admin" if i < 2 else "agent",
                    "createdAt": ms(created),
                }
            )
        return users

    def _processes(
        self, spec: ProcedureSpec, pid: str, team_id: str, states: list[Json], n: int
    ) -> list[Json]:
        rng = self.rng
        by_short = {s["shortId"]: s for s in states}
        mix = _state_mix(rng, spec.states, n)
        stamps = self._creation_times(spec, mix)
        out: list[Json] = []
        for index, (state_spec, created) in enumerate(zip(mix, stamps, strict=True)):
            state = by_short[state_spec.short_id]
            is_open = state_spec.status == "OPEN"
            closed_after = timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 600))
            touched = from_ms(created) + (
                timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 900))
                if is_open
                else closed_after
            )
            latest = self.now - timedelta(minutes=rng.randint(5, 3000))
            updated = max(created, min(ms(latest), ms(touched))) + rng.randint(0, 999)
            creator = rng.choice(self.user_ids)
            assignee = None if rng.random() < 0.08 else rng.choice(self.user_ids)
            next_action = (
                ms(self.now + timedelta(days=rng.randint(-5, 20), hours=rng.randint(0, 23)))
                if is_open
                else None
            )
            values = self._values(spec.short_id, index + 1, state_spec, created)
            out.append(
                {
                    "id": self.uuid(),
                    "team": team_id,
                    "procedure": pid,
                    "createdBy": creator,
                    "assignedTo": assignee,
                    "belongsTo": rng.choice(self.pods)["id"],
                    "entity": None,
                    "record": None,
                    "status": state_spec.status,
                    "state": state["id"],
                    "data": values,
                    "derivedData": {},
                    "nextActionAt": next_action,
                    "createdAt": created,
                    "updatedAt": updated,
                }
            )
        return out

    def _creation_times(self, spec: ProcedureSpec, mix: list[StateSpec]) -> list[int]:
        """Epoch ms per process, distinct within the procedure; open ones are recent.
        The list is then sorted oldest first, so keys like LEAD-0001 follow creation."""
        rng = self.rng
        seen: set[int] = set()
        out: list[tuple[int, int]] = []
        hi_ms = ms(self.now - timedelta(hours=2))
        for i, state in enumerate(mix):
            days = 150 if state.status == "OPEN" else SPAN.days
            lo_ms = ms(self.now - timedelta(days=days))
            stamp = rng.randint(lo_ms, hi_ms)
            while stamp in seen:
                stamp = rng.randint(lo_ms, hi_ms)
            seen.add(stamp)
            out.append((stamp, i))
        out.sort()
        # Re-pair: the state of the k-th oldest is the state drawn for it.
        order = [i for _, i in out]
        mix[:] = [mix[i] for i in order]
        return [stamp for stamp, _ in out]

    def _values(self, procedure: str, number: int, state: StateSpec, created: int) -> Json:
        rng = self.rng
        person = fake.person(rng)
        org = fake.company(rng)
        where = fake.city(rng)
        values: Json
        if procedure == "lead":
            values = {
                "lead_id": f"LEAD-{number:04d}",
                "name": person.full_name,
                "company": org,
                "email": fake.email(person, fake.domain(org)),
                "phone_number": f"{rng.choice('6789')}{rng.randint(0, 999_999_999):09d}",
                "source": rng.choice(SOURCES),
                "city": where,
                "budget": rng.randint(5, 500) * 1000,
                "score": rng.randint(0, 100),
                "expected_close": created + rng.randint(7, 120) * 86_400_000,
            }
            for key, chance in (("phone_number", 0.15), ("budget", 0.12), ("expected_close", 0.3)):
                if rng.random() < chance:
                    del values[key]
        elif procedure == "ticket":
            subject = rng.choice(SUBJECTS).format(
                month=from_ms(created).strftime("%B"), number=rng.randint(10_000, 99_999)
            )
            values = {
                "ticket_id": f"TKT-{number:05d}",
                "subject": subject,
                "customer_email": fake.email(person, fake.domain(org)),
                "priority": rng.choices(PRIORITIES, (30, 40, 20, 10))[0],
                "category": rng.choice(CATEGORIES),
                "channel": rng.choice(CHANNELS),
                "reopened": rng.random() < 0.15,
                "sla_hours": rng.choice((4, 8, 24, 48)),
            }
        else:
            visit = from_ms(created) + timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 8))
            values = {
                "visit_id": f"FV-{number:04d}",
                "site_name": f"{org} {rng.choice(SITES)}",
                "city": where,
                "purpose": rng.choice(PURPOSES),
                # datetimeISO8601 attributes are strings; the team works in IST.
                "visit_date": visit.astimezone(IST).replace(microsecond=0).isoformat(),
            }
            if state.status == "COMPLETED":
                values["duration_minutes"] = rng.randint(2, 32) * 15
                values["outcome"] = rng.choice(OUTCOMES)
        return values


def _state_mix(rng: random.Random, states: tuple[StateSpec, ...], n: int) -> list[StateSpec]:
    """Exactly the target shares (rounded down, the rest open-first), in random order."""
    total = sum(s.weight for s in states)
    mix = [s for s in states for _ in range(n * s.weight // total)]
    mix += [states[0]] * (n - len(mix))
    rng.shuffle(mix)
    return mix


def _later_additions(rng: random.Random, data: ChakraData) -> None:
    """Lead notes naming companies, and processes cancelled without a state change."""
    open_states = {s["id"] for s in data.states if s["status"] == "OPEN"}
    for process in data.processes["lead"]:
        values = process["data"]
        other = fake.company(rng)
        month = from_ms(process["createdAt"] + 90 * 86_400_000).strftime("%B")
        roll = rng.random()
        if roll < 0.08:  # the company lives only in the notes
            del values["company"]
            values["notes"] = rng.choice(NOTES_ONLY).format(other=other)
        elif roll < 0.43:
            note = rng.choice(NOTES)
            values["notes"] = note.format(other=other, month=month, city=fake.city(rng))
    for rows in data.processes.values():
        for process in rows:
            # Update sets status and state separately (A6, A16): a lead dropped while it
            # was still CONTACTED keeps that state.
            if process["state"] in open_states and rng.random() < 0.05:
                process["status"] = "CANCELLED"
                process["nextActionAt"] = None
