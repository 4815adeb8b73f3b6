"""Deterministic Kommo sandbox data: one account with users, lead pipelines and their
stages, custom fields, tags, loss reasons, and the four entity lists (leads, contacts,
companies, customers).

Entities are stored in their wire form (what `GET /api/v4/{entity}/{id}` returns without
`with`, minus `_links`, which the simulator adds because they depend on the request's
host). Relations that only appear with `with=` live in side tables.

Ids are fixed-width numbers (8 digits for entities), so their text order equals their
numeric order: the unified sort breaks ties by the id as text, Kommo by the id as number.
Times are Unix seconds, spread over two years ending at `now`.

Leads with no linked company record usually carry their company's name in the Company
text custom field instead; some are named after a person ("Rosa Chen inquiry"), so their
company is in that field only, and a text search must look there (as Kommo's `query`
does). Those values come from a second random stream, so adding them left every other
generated value as it was.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.backends.kommo.data_hostile import add_hostile
from tools.backends.kommo.data_spec import (
    CUSTOMER_STATUS_IDS,
    DEFAULT_NOW,
    ENTITIES,
    FIELDS,
    INCOMING,
    LEAD_TITLES,
    LOSS_REASONS,
    LOST,
    OUTCOME_WEIGHTS,
    PIPELINES,
    POSITIONS,
    SPAN,
    TAG_COLORS,
    TAGS,
    WON,
    Json,
    KommoData,
    ts,
)
from tools.sim import fake

# Re-exported: the simulator, adapter tests and benchmarks read the data's shape here.
__all__ = ["ENTITIES", "LOST", "TAGS", "WON", "Json", "KommoData", "generate"]


def generate(
    seed: int = 7,
    leads: int = 300,
    contacts: int = 150,
    companies: int = 60,
    customers: int = 40,
    now: datetime = DEFAULT_NOW,
    *,
    hostile_records: bool = True,
) -> KommoData:
    """The entities, plus (unless `hostile_records=False`) the hostile records of
    data_hostile.py, which leave every regular one as it is."""
    side = random.Random(seed * 1_000_003 + 17)
    data = _Generator(random.Random(seed), now, side).build(
        seed, leads, contacts, companies, customers
    )
    if hostile_records:
        add_hostile(data, random.Random(f"kommo-hostile-{seed}"))
    return data


class _Generator:
    def __init__(self, rng: random.Random, now: datetime, side: random.Random) -> None:
        self.rng = rng
        self.side = side  # draws added later, kept apart so the main stream is unchanged
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.account_id = 30000000 + rng.randrange(1_000_000)
        self._next_field_id = 880001
        self._next_enum_id = 770001

    def build(
        self, seed: int, n_leads: int, n_contacts: int, n_companies: int, n_customers: int
    ) -> KommoData:
        self.users = self._users()
        self.user_ids = [u["id"] for u in self.users]
        self.pipelines = self._pipelines()
        self.fields = {entity: self._fields(entity) for entity in ENTITIES}
        self.tags = self._tags()
        loss_reasons = [
            {
                "id": 5100001 + i,
                "name": name,
                "sort": 10 * (i + 1),
                "created_at": ts(self.now - SPAN - timedelta(days=30)),
                "updated_at": ts(self.now - SPAN - timedelta(days=30)),
            }
            for i, name in enumerate(LOSS_REASONS)
        ]
        self.loss_reason_ids = [r["id"] for r in loss_reasons]
        companies = self._companies(n_companies)
        contacts = self._contacts(n_contacts, companies)
        leads, lead_contacts = self._leads(n_leads, companies, contacts)
        customers = self._customers(n_customers, companies)
        contact_leads: dict[int, list[int]] = {}
        for lead_id, ids in lead_contacts.items():
            for contact_id in ids:
                contact_leads.setdefault(contact_id, []).append(lead_id)
        return KommoData(
            seed=seed,
            now=self.now,
            account_id=self.account_id,
            users=self.users,
            pipelines=self.pipelines,
            custom_fields=self.fields,
            tags=self.tags,
            loss_reasons=loss_reasons,
            leads=leads,
            contacts=contacts,
            companies=companies,
            customers=customers,
            lead_contacts=lead_contacts,
            contact_leads=contact_leads,
        )

    # -- account -----------------------------------------------------------------------

    def _users(self) -> list[Json]:
        return [
            {
                "id": 10400001 + 7 * i,
                "name": person.full_name,
                "email": fake.email(person, "acme-crm.test"),
                "lang": "en",
                "rights": {"is_admin": i == 0, "is_free": False, "is_active": True},
            }
            for i, person in enumerate(fake.people(self.rng, 9))
        ]

    def _pipelines(self) -> list[Json]:
        out: list[Json] = []
        status_id = 61000001
        for index, (name, stages, won, lost, _) in enumerate(PIPELINES):
            pipeline_id = 7700001 + 11 * index
            statuses: list[Json] = []
            names = [(INCOMING, 1), *((s, 0) for s in stages)]
            for sort, (stage, kind) in enumerate(names):
                statuses.append(self._status(status_id, stage, 10 * (sort + 1), pipeline_id, kind))
                status_id += 1
            statuses.append(self._status(WON, won, 10000, pipeline_id, 0, editable=False))
            statuses.append(self._status(LOST, lost, 11000, pipeline_id, 0, editable=False))
            out.append(
                {
                    "id": pipeline_id,
                    "name": name,
                    "sort": index + 1,
                    "is_main": index == 0,
                    "is_unsorted_on": True,
                    "is_archive": False,
                    "account_id": self.account_id,
                    "_embedded": {"statuses": statuses},
                }
            )
        return out

    def _status(
        self, sid: int, name: str, sort: int, pipeline_id: int, kind: int, editable: bool = True
    ) -> Json:
        colors = ("#c1c1c1", "#99ccff", "#ffcc66", "#ffff99", "#deff81", "#ccff66", "#d5d8db")
        return {
            "id": sid,
            "name": name,
            "sort": sort,
            "is_editable": editable,
            "pipeline_id": pipeline_id,
            "color": colors[sort // 10 % len(colors)] if editable else "#d5d8db",
            "type": kind,
            "account_id": self.account_id,
        }

    def _fields(self, entity: str) -> list[Json]:
        out: list[Json] = []
        for sort, (name, kind, code, options) in enumerate(FIELDS[entity]):
            enums = None
            if options:
                enums = []
                for i, value in enumerate(options):
                    enums.append({"id": self._next_enum_id, "value": value, "sort": i + 1})
                    self._next_enum_id += 1
            out.append(
                {
                    "id": self._next_field_id,
                    "name": name,
                    "type": kind,
                    "account_id": self.account_id,
                    "code": code,
                    "sort": 10 * (sort + 1),
                    "is_api_only": False,
                    "enums": enums,
                    "group_id": None,
                    "required_statuses": [],
                    "is_deletable": code is None,
                    "is_predefined": code is not None,
                    "entity_type": entity,
                    "remind": None,
                }
            )
            self._next_field_id += 1
        return out

    def _tags(self) -> dict[str, list[Json]]:
        out: dict[str, list[Json]] = {}
        tag_id = 90001
        for entity, names in TAGS.items():
            out[entity] = []
            for i, name in enumerate(names):
                out[entity].append({"id": tag_id, "name": name, "color": TAG_COLORS[i % 6]})
                tag_id += 1
        return out

    # -- shared pieces -------------------------------------------------------------------

    def _times(self, n: int, first_id: int) -> list[tuple[int, datetime]]:
        """(id, created) pairs, oldest first; ids rise with creation, with gaps."""
        rng = self.rng
        moments = sorted(
            fake.datetime_between(rng, self.now - SPAN, self.now - timedelta(hours=2))
            for _ in range(n)
        )
        out: list[tuple[int, datetime]] = []
        next_id = first_id
        for moment in moments:
            next_id += rng.randint(1, 40)
            out.append((next_id, moment))
        return out

    def _tag_list(self, entity: str) -> list[Json]:
        k = self.rng.choices((0, 1, 2, 3), (45, 30, 17, 8))[0]
        return [dict(t) for t in self.rng.sample(self.tags[entity], min(k, len(self.tags[entity])))]

    def _value(self, field: Json, value: Any, enum_code: str | None = None) -> Json:
        item: Json = {"value": value}
        if field["enums"] and field["type"] == "select":
            enum = next(e for e in field["enums"] if e["value"] == value)
            item["enum_id"] = enum["id"]
        if enum_code is not None:
            enum = next(e for e in field["enums"] if e["value"] == enum_code)
            item = {"value": value, "enum_id": enum["id"], "enum_code": enum_code}
        return {
            "field_id": field["id"],
            "field_name": field["name"],
            "field_code": field["code"],
            "field_type": field["type"],
            "values": [item],
        }

    def _field(self, entity: str, name: str) -> Json:
        return next(f for f in self.fields[entity] if f["name"] == name)

    def _base(self, entity_id: int, created: datetime, updated: datetime) -> Json:
        rng = self.rng
        creator = rng.choice([*self.user_ids, 0]) if rng.random() < 0.95 else 0
        return {
            "id": entity_id,
            "responsible_user_id": rng.choice(self.user_ids),
            "group_id": 0,
            "created_by": creator,
            "updated_by": rng.choice([*self.user_ids, 0]),
            "created_at": ts(created),
            "updated_at": ts(updated),
        }

    def _updated(self, created: datetime) -> datetime:
        rng = self.rng
        if rng.random() < 0.15:
            return created
        latest = min(self.now, created + timedelta(days=rng.randint(1, 240)))
        return fake.datetime_between(rng, created, latest)

    def _closest_task(self, created: datetime, open_: bool) -> int | None:
        rng = self.rng
        if not open_ or rng.random() < 0.3:
            return None
        if rng.random() < 0.25:  # overdue
            return ts(max(created, self.now - timedelta(days=rng.randint(1, 20))))
        return ts(self.now + timedelta(days=rng.randint(0, 30), hours=rng.randint(1, 9)))

    # -- entities ------------------------------------------------------------------------

    def _companies(self, n: int) -> list[Json]:
        rng = self.rng
        out: list[Json] = []
        for cid, created in self._times(n, 31000000):
            name = fake.company(rng)
            updated = self._updated(created)
            values = []
            if rng.random() < 0.8:
                phone = f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                values.append(self._value(self._field("companies", "Phone"), phone, "WORK"))
            if rng.random() < 0.6:
                web = f"https://{fake.domain(name)}"
                values.append(self._value(self._field("companies", "Web"), web))
            if rng.random() < 0.4:
                address = f"{rng.randint(1, 200)} Main Street, {fake.city(rng)}"
                values.append(self._value(self._field("companies", "Address"), address))
            if rng.random() < 0.7:
                industry = rng.choice(FIELDS["companies"][3][3])
                values.append(self._value(self._field("companies", "Industry"), industry))
            row = {
                "id": cid,
                "name": name,
                **self._base(cid, created, updated),
                "closest_task_at": self._closest_task(created, rng.random() < 0.3),
                "is_deleted": False,
                "custom_fields_values": values or None,
                "account_id": self.account_id,
                "_embedded": {"tags": self._tag_list("companies")},
            }
            out.append(row)
        return out

    def _contacts(self, n: int, companies: list[Json]) -> list[Json]:
        rng = self.rng
        out: list[Json] = []
        for cid, created in self._times(n, 41000000):
            who = fake.person(rng)
            company = rng.choice(companies) if companies and rng.random() < 0.7 else None
            domain = fake.domain(company["name"]) if company else "mail.test"
            values = []
            if rng.random() < 0.75:
                phone = f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                code = rng.choice(("WORK", "MOB"))
                values.append(self._value(self._field("contacts", "Phone"), phone, code))
            if rng.random() < 0.8:
                address = fake.email(who, domain)
                values.append(self._value(self._field("contacts", "Email"), address, "WORK"))
            if rng.random() < 0.5:
                values.append(
                    self._value(self._field("contacts", "Position"), rng.choice(POSITIONS))
                )
            updated = self._updated(created)
            out.append(
                {
                    "id": cid,
                    "name": who.full_name,
                    "first_name": who.first_name,
                    "last_name": who.last_name,
                    **self._base(cid, created, updated),
                    "closest_task_at": self._closest_task(created, rng.random() < 0.3),
                    "is_deleted": False,
                    "is_unsorted": False,
                    "custom_fields_values": values or None,
                    "account_id": self.account_id,
                    "_embedded": {
                        "tags": self._tag_list("contacts"),
                        "companies": [{"id": company["id"]}] if company else [],
                    },
                }
            )
        return out

    def _leads(
        self, n: int, companies: list[Json], contacts: list[Json]
    ) -> tuple[list[Json], dict[int, list[int]]]:
        rng = self.rng
        weights = [p[4] for p in PIPELINES]
        outcomes = list(OUTCOME_WEIGHTS)
        products = FIELDS["leads"][1][3]
        out: list[Json] = []
        links: dict[int, list[int]] = {}
        for lid, created in self._times(n, 21000000):
            pipeline = rng.choices(self.pipelines, weights)[0]
            statuses = pipeline["_embedded"]["statuses"]
            outcome = rng.choices(outcomes, [OUTCOME_WEIGHTS[o] for o in outcomes])[0]
            if created > self.now - timedelta(days=20):
                outcome = "open" if rng.random() < 0.8 else outcome
            if outcome == "won":
                status = WON
            elif outcome == "lost":
                status = LOST
            else:
                status = rng.choice([s["id"] for s in statuses if s["id"] not in (WON, LOST)])
            updated = self._updated(created)
            closed = None
            if status in (WON, LOST):
                updated = max(updated, min(self.now, created + timedelta(days=rng.randint(1, 90))))
                closed = ts(fake.datetime_between(rng, created, updated))
            company = rng.choice(companies) if companies and rng.random() < 0.75 else None
            person = fake.person(rng)
            product = rng.choice(products)
            title = rng.choice(LEAD_TITLES)
            company_name = company["name"] if company else fake.company(rng)
            name = title.format(company=company_name, product=product, person=person.full_name)
            values = []
            if rng.random() < 0.7:
                source = rng.choice(FIELDS["leads"][0][3])
                values.append(self._value(self._field("leads", "Lead source"), source))
            if rng.random() < 0.6:
                values.append(self._value(self._field("leads", "Product"), product))
            if rng.random() < 0.4:
                values.append(
                    self._value(self._field("leads", "Budget approved"), rng.random() < 0.5)
                )
            if rng.random() < 0.5:
                # Kommo sends numeric values as strings.
                seats = str(rng.choice((5, 10, 25, 50, 100, 250)))
                values.append(self._value(self._field("leads", "Seats"), seats))
            if rng.random() < 0.25:
                code = f"CMP-{rng.randint(10, 99)}{rng.choice('ABCDEF')}"
                values.append(self._value(self._field("leads", "Campaign code"), code))
            if company is None and self.side.random() < 0.85:
                values.append(self._value(self._field("leads", "Company"), company_name))
            row = {
                "id": lid,
                "name": name,
                "price": rng.choice((0, 500, 1200, 2500, 4800, 9900, 15000, 32000, 75000)),
                **self._base(lid, created, updated),
                "status_id": status,
                "pipeline_id": pipeline["id"],
                "loss_reason_id": rng.choice(self.loss_reason_ids) if status == LOST else None,
                "closed_at": closed,
                "closest_task_at": self._closest_task(created, status not in (WON, LOST)),
                "is_deleted": False,
                "custom_fields_values": values or None,
                "score": None,
                "account_id": self.account_id,
                "labor_cost": None,
                "_embedded": {
                    "tags": self._tag_list("leads"),
                    "companies": [{"id": company["id"]}] if company else [],
                },
            }
            out.append(row)
            k = rng.choices((0, 1, 2), (25, 60, 15))[0]
            if contacts and k:
                links[lid] = [c["id"] for c in rng.sample(contacts, min(k, len(contacts)))]
        return out, links

    def _customers(self, n: int, companies: list[Json]) -> list[Json]:
        rng = self.rng
        out: list[Json] = []
        for cid, created in self._times(n, 51000000):
            company = rng.choice(companies) if companies else None
            name = company["name"] if company and rng.random() < 0.7 else fake.company(rng)
            purchases = rng.randint(0, 24)
            check = rng.choice((300, 900, 1500, 4000, 12000))
            values = []
            if rng.random() < 0.8:
                plan = rng.choice(FIELDS["customers"][0][3])
                values.append(self._value(self._field("customers", "Plan"), plan))
            if rng.random() < 0.5:
                values.append(
                    self._value(self._field("customers", "Auto-renew"), rng.random() < 0.6)
                )
            updated = self._updated(created)
            next_date = self.now + timedelta(days=rng.randint(-30, 120))
            out.append(
                {
                    "id": cid,
                    "name": name,
                    "next_price": check,
                    "next_date": ts(next_date.replace(hour=0, minute=0, second=0)),
                    **self._base(cid, created, updated),
                    "status_id": rng.choice(CUSTOMER_STATUS_IDS),
                    "periodicity": rng.choice((30, 90, 365)),
                    "closest_task_at": self._closest_task(created, rng.random() < 0.4),
                    "is_deleted": False,
                    "custom_fields_values": values or None,
                    "ltv": purchases * check,
                    "purchases_count": purchases,
                    "average_check": check if purchases else 0,
                    "account_id": self.account_id,
                    "_embedded": {"segments": [], "tags": self._tag_list("customers")},
                }
            )
        return out
