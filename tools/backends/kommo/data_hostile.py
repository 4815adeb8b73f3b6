"""Hostile records of the Kommo sandbox (tools/sim/hostile.py): leads, and a few contacts,
companies and customers, whose names, custom-field values and tags break naive rendering.

Each is a copy of a regular record, given an id and a creation time in the gap between
two neighbours, so ids still rise with creation (data_spec.KommoData) and every regular
record keeps its id, its values and its place. Drawn from a stream of their own.
"""

from __future__ import annotations

import copy
import random

from tools.backends.kommo.data_spec import Json, KommoData
from tools.sim import hostile

# How many hostile names each entity gets (leads get every one).
PER_ENTITY = {"contacts": 3, "companies": 3, "customers": 3}
_TEXT_FIELDS = {"leads": "Campaign code", "companies": "Address", "contacts": "Position"}


def add_hostile(data: KommoData, rng: random.Random) -> None:
    tag_id = 1 + max((t["id"] for tags in data.tags.values() for t in tags), default=90000)
    tag: Json = {"id": tag_id, "name": hostile.TAG, "color": "#000000"}
    data.tags["leads"].append(tag)
    for entity, rows in (
        ("leads", data.leads),
        ("contacts", data.contacts),
        ("companies", data.companies),
        ("customers", data.customers),
    ):
        names = hostile.NAMES[: PER_ENTITY.get(entity, len(hostile.NAMES))]
        for n, name in enumerate(names):
            row = _slot(rows, rng)
            if row is None:
                break
            row["name"] = name
            _hostile_values(row, data, entity, n)
            if entity == "leads" and n % 2:
                row["_embedded"]["tags"] = [dict(tag)]


def _slot(rows: list[Json], rng: random.Random) -> Json | None:
    """A copy of a random row, inserted after it with an id and a creation second between
    its neighbours'; None when no gap is wide enough (a tiny data set)."""
    gaps = [
        i
        for i in range(len(rows) - 1)
        if rows[i + 1]["id"] - rows[i]["id"] >= 2
        and rows[i + 1]["created_at"] - rows[i]["created_at"] >= 2
    ]
    if not gaps:
        return None
    i = rng.choice(gaps)
    before, after = rows[i], rows[i + 1]
    row = copy.deepcopy(before)
    row["id"] = rng.randint(before["id"] + 1, after["id"] - 1)
    created = rng.randint(before["created_at"] + 1, after["created_at"] - 1)
    shift = created - before["created_at"]
    row["created_at"] = created
    row["updated_at"] = max(created, row["updated_at"] + shift)
    if row.get("closed_at") is not None:
        row["closed_at"] = min(row["updated_at"], row["closed_at"] + shift)
    rows.insert(i + 1, row)
    return row


def _hostile_values(row: Json, data: KommoData, entity: str, n: int) -> None:
    """A text custom field with a hostile value, where the entity has one."""
    name = _TEXT_FIELDS.get(entity)
    field = next((f for f in data.custom_fields[entity] if f["name"] == name), None)
    if field is None:
        return
    value = hostile.FIELD_VALUES[n % len(hostile.FIELD_VALUES)]
    entry = {
        "field_id": field["id"],
        "field_name": field["name"],
        "field_code": field["code"],
        "field_type": field["type"],
        "values": [{"value": value}],
    }
    kept = [v for v in row.get("custom_fields_values") or () if v["field_id"] != field["id"]]
    row["custom_fields_values"] = [*kept, entry]
