"""Every simulator's data carries hostile records by default, on top of the regular ones,
which stay exactly what they were without them (tools/sim/hostile.py)."""

from __future__ import annotations

from typing import Any

from tools.backends.chakra.data import generate as chakra
from tools.backends.frends.data import generate as frends
from tools.backends.kommo.data import generate as kommo
from tools.backends.tallyfy.data import generate as tallyfy
from tools.backends.yuuvis.data import generate as yuuvis
from tools.sim import hostile


def regular(rows: list[dict[str, Any]], name: str = "name") -> list[dict[str, Any]]:
    return [r for r in rows if not hostile.is_hostile(r[name])]


def test_tallyfy_adds_a_hostile_run_per_name_and_keeps_the_rest() -> None:
    plain, data = tallyfy(seed=3, runs=60, hostile_records=False), tallyfy(seed=3, runs=60)
    assert sorted(r["name"] for r in data.runs if hostile.is_hostile(r["name"])) == sorted(
        hostile.NAMES
    )
    assert regular(data.runs) == plain.runs
    assert {k: v for k, v in data.tasks.items() if k in {r["id"] for r in plain.runs}} == (
        plain.tasks
    )
    assert any(t["title"] == hostile.TAG for t in data.tags)


def test_kommo_adds_hostile_records_to_every_entity_and_keeps_the_rest() -> None:
    plain, data = kommo(seed=3, leads=60, hostile_records=False), kommo(seed=3, leads=60)
    for entity in ("leads", "contacts", "companies", "customers"):
        rows = data.rows(entity)
        assert len(rows) > len(plain.rows(entity)), entity
        assert regular(rows) == plain.rows(entity), entity
        assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert len(data.leads) == len(plain.leads) + len(hostile.NAMES)


def test_chakra_adds_hostile_processes_to_every_procedure_and_keeps_the_rest() -> None:
    plain, data = chakra(seed=3, leads=40, hostile_records=False), chakra(seed=3, leads=40)
    titles = {"lead": "company", "ticket": "subject", "fieldvisit": "site_name"}
    for procedure, rows in data.processes.items():
        title = titles[procedure]
        hostile_rows = [r for r in rows if hostile.is_hostile(r["data"].get(title, ""))]
        assert len(hostile_rows) == len(hostile.NAMES), procedure
        assert [r for r in rows if r not in hostile_rows] == plain.processes[procedure]
        assert [r["createdAt"] for r in rows] == sorted(r["createdAt"] for r in rows)


def test_yuuvis_adds_a_hostile_instance_per_name_and_keeps_the_rest() -> None:
    plain, data = yuuvis(seed=3, instances=60, hostile_records=False), yuuvis(seed=3, instances=60)
    assert len(data.instances) == len(plain.instances) + len(hostile.NAMES)
    assert regular(data.instances) == plain.instances
    assert any(i["startUserId"] == hostile.OWNER for i in data.instances)


def test_frends_adds_a_hostile_process_and_execution_per_name_and_keeps_the_rest() -> None:
    plain = frends(seed=3, processes=60, instances=80, hostile_records=False)
    data = frends(seed=3, processes=60, instances=80)
    assert [d for d in data.definitions if not hostile.is_hostile(d.name)] == plain.definitions
    assert [d.id for d in data.definitions] == sorted(d.id for d in data.definitions)
    ids = {d.id for d in data.definitions if hostile.is_hostile(d.name)}
    assert len(ids) == len(hostile.NAMES)
    for group, rows in data.instances.items():
        assert [r for r in rows if r["processId"] not in ids] == plain.instances[group]
    assert sum(r["processId"] in ids for rows in data.instances.values() for r in rows) == len(ids)
