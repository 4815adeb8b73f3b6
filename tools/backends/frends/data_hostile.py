"""Hostile records of the Frends sandbox (tools/sim/hostile.py): one process per hostile
name (its name, modifier, description, a step and a variable break naive rendering), and
an execution of each in production, some failed with a hostile exception text or started
by hand by a hostile user name.

They come after every regular record, from a stream of their own, with the next ids
(definitions stay in id order; the simulator lists by time). Their times lie inside the
data's span and repeat no whole second, so every order by time stays total.
"""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta

from tools.backends.frends.records import (
    Definition,
    FrendsData,
    Step,
    Variable,
    iso,
    new_uuid,
    parse_time,
)
from tools.sim import fake, hostile

PRODUCTION = 3


def add_hostile(data: FrendsData, rng: random.Random) -> None:
    if not data.definitions:
        return
    taken = {d.modified.replace(microsecond=0) for d in data.definitions}
    next_id = data.definitions[-1].id + 1
    added: list[Definition] = []
    lo, hi = data.now - timedelta(days=500), data.now - timedelta(days=30)
    for n, name in enumerate(hostile.NAMES):
        moment = _free_second(rng, lo, hi, taken)
        steps = (
            Step("start", "Start"),
            Step("task", hostile.TASK, "Frends.HTTP.Request", (("Url", hostile.FIELD_VALUES[1]),)),
            Step("end", "Return"),
        )
        definition = Definition(
            id=next_id + n,
            guid=new_uuid(rng),
            version=1,
            name=name,
            kind="api",
            modified=moment + timedelta(milliseconds=rng.randint(0, 999)),
            modifier=hostile.OWNER if n % 2 else rng.choice(data.users),
            description=hostile.DESCRIPTION if n % 2 == 0 else None,
            change="Initial version",
            is_subprocess=False,
            is_draft=False,
            trigger="Http",
            trigger_params={"method": "POST", "path": f"/api/v1/hostile-{n + 1}"},
            steps=steps,
            variables=(Variable("Note", hostile.FIELD_VALUES[n % len(hostile.FIELD_VALUES)]),),
            latest=True,
        )
        added.append(definition)
    data.definitions.extend(added)
    _executions(data, added, rng)


def _free_second(rng: random.Random, lo: datetime, hi: datetime, taken: set[datetime]) -> datetime:
    while True:
        moment = fake.datetime_between(rng, lo, hi)
        if moment not in taken:
            taken.add(moment)
            return moment


def _executions(data: FrendsData, definitions: list[Definition], rng: random.Random) -> None:
    """One production execution per hostile process: a copy of a regular one, re-pointed."""
    rows = data.instances.get(PRODUCTION) or []
    templates = [r for r in rows if r.get("parentId") is None]
    if not templates:
        return
    taken = {parse_time(r["startTimeUtc"]).replace(microsecond=0) for r in rows}
    next_id = 1 + max(r["id"] for group in data.instances.values() for r in group)
    for n, d in enumerate(definitions):
        row = copy.deepcopy(rng.choice(templates))
        start = _free_second(rng, d.modified, data.now - timedelta(hours=1), taken)
        start += timedelta(milliseconds=rng.randint(0, 999))
        failed = n % 3 == 0
        row.update(
            {
                "id": next_id + n,
                "processId": d.id,
                "processVersion": d.version,
                "processGuid": d.guid,
                "executionId": new_uuid(rng),
                "state": "Failed" if failed else "Ok",
                "startTimeUtc": iso(start),
                "endTimeUtc": iso(start + timedelta(seconds=rng.randint(1, 600))),
                "utcDate": iso(start.replace(hour=0, minute=0, second=0, microsecond=0)),
                "utcHour": start.hour,
                "triggerId": d.id * 10 + 1,
                "exception": hostile.DESCRIPTION if failed else None,
                "acknowledgedUtc": None,
                "comment": None,
                "userName": hostile.OWNER if n % 2 else None,
                "triggerName": "Manual" if n % 2 else "HTTP POST /api/v1/hostile",
                "promotedData": [],
                "promotedColumns": [],
                "rootProcessId": None,
                "parentName": None,
            }
        )
        rows.append(row)
    rows.sort(key=lambda r: r["startTimeUtc"])
