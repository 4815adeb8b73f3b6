"""Hostile processes of the Chakra sandbox (tools/sim/hostile.py): the attribute a row is
named by (a lead's company, a ticket's subject, a visit's site) holds a hostile name, and
other text attributes hostile values.

Each is a copy of a regular process with a uuid of its own, a creation time between two
neighbours' (lists stay oldest first, times distinct) and a primary key of its own
(`LEAD-H01`): every regular process keeps its uuid, key, values and place. Drawn from a
stream of their own.
"""

from __future__ import annotations

import copy
import random
import uuid
from typing import Any

from tools.sim import hostile

Json = dict[str, Any]

# Procedure -> (primary key, the title attribute naming.py picks, another text attribute).
ATTRIBUTES = {
    "lead": ("lead_id", "company", "city"),
    "ticket": ("ticket_id", "subject", "customer_email"),
    "fieldvisit": ("visit_id", "site_name", "city"),
}


def add_hostile(processes: dict[str, list[Json]], rng: random.Random) -> None:
    for procedure, rows in processes.items():
        key, title, other = ATTRIBUTES.get(procedure, (None, None, None))
        if key is None or title is None or other is None:
            continue
        for n, name in enumerate(hostile.NAMES):
            row = _slot(rows, rng)
            if row is None:
                break
            prefix = str(row["data"].get(key, procedure.upper())).split("-")[0]
            row["data"][key] = f"{prefix}-H{n + 1:02d}"
            row["data"][title] = name
            row["data"][other] = hostile.FIELD_VALUES[n % len(hostile.FIELD_VALUES)]
            if procedure == "lead" and n % 2 == 0:
                row["data"]["notes"] = hostile.DESCRIPTION


def _slot(rows: list[Json], rng: random.Random) -> Json | None:
    """A copy of a random process, inserted after it with a creation time between its
    neighbours'; None when no gap is wide enough."""
    gaps = [i for i in range(len(rows) - 1) if rows[i + 1]["createdAt"] - rows[i]["createdAt"] >= 2]
    if not gaps:
        return None
    i = rng.choice(gaps)
    before, after = rows[i], rows[i + 1]
    row = copy.deepcopy(before)
    row["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    created = rng.randint(before["createdAt"] + 1, after["createdAt"] - 1)
    row["updatedAt"] = max(created, row["updatedAt"] + created - before["createdAt"])
    row["createdAt"] = created
    rows.insert(i + 1, row)
    return row
