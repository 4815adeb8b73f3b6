"""summarize_processes, below the MCP layer: the requests each backend's count costs
(goldens, as the simulators saw them), when vendor totals are trusted and when rows are
counted instead, lower bounds past the scan cap, and fan-out failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from tests.export.conftest import Sim, open_sim
from tools.backends.chakra import sandbox as chakra
from tools.backends.frends import sandbox as frends
from tools.backends.kommo import sandbox as kommo
from tools.backends.tallyfy import sandbox as tallyfy
from tools.backends.yuuvis import sandbox as yuuvis
from tools.errors import InvalidArgumentError
from tools.instances import Instances
from tools.model import SummaryResult
from tools.sandbox import SANDBOXES
from tools.sim import Fault
from tools.summarize import parse_summary, summarize_processes

pytestmark = pytest.mark.anyio


async def summary(sims: Sequence[Sim], **arguments: Any) -> SummaryResult:
    backends = [s.backend() for s in sims]
    try:
        return await summarize_processes(Instances(backends), arguments)
    finally:
        for b in backends:
            await b.aclose()


def wire(sim: Sim, ending: str) -> list[list[tuple[str, str]] | dict[str, Any]]:
    """The list requests the simulator saw (paths ending in `ending`): query parameters,
    or the JSON body of a POST."""
    return [
        json.loads(r.body) if r.method == "POST" else r.query
        for r in sim.core.requests
        if r.path.endswith(ending)
    ]


# -- goldens: the count requests per backend ---------------------------------------------


async def test_tallyfy_counts_each_native_status_with_one_per_page_1_request() -> None:
    sim = open_sim(tallyfy)
    result = await summary([sim], backend=tallyfy.NAME, group_by=["native_status"])
    assert wire(sim, "/runs") == [
        [("status", "active"), ("per_page", "1")],
        [("status", "problem"), ("per_page", "1")],
        [("status", "delayed"), ("per_page", "1")],
        [("status", "complete"), ("per_page", "1")],
        [("archived", "only"), ("per_page", "1")],
    ]
    assert len(sim.core.requests) == 5  # nothing else: no directory, no page of rows
    assert result.counted[0].method == "vendor totals"
    assert result.counted[0].requests == 5
    assert result.exact
    assert all(g.exact for g in result.groups())
    runs = sim.core.app.state.data.runs
    assert result.total == len(runs)
    assert {tuple(g.key): g.count for g in result.groups()} == {
        (s,): sum(r["status"] == s for r in runs) for s in {r["status"] for r in runs}
    }


async def test_tallyfy_open_runs_per_status_cost_one_request_per_open_native_status() -> None:
    sim = open_sim(tallyfy)
    result = await summary([sim], backend=tallyfy.NAME, status=["open"], group_by=["status"])
    assert wire(sim, "/runs") == [
        [("status", s), ("per_page", "1")] for s in ("active", "problem", "delayed")
    ]
    assert [(g.key, g.exact) for g in result.groups()] == [(["open"], True)]


async def test_tallyfy_templates_are_counted_with_the_total_beside_them() -> None:
    sim = open_sim(tallyfy)
    result = await summary([sim], backend=tallyfy.NAME, group_by=["template"])
    data = sim.core.app.state.data
    counts = wire(sim, "/runs")
    assert counts[0] == [("archived", "true"), ("per_page", "1")]  # the query's own total
    assert sorted(counts[1:]) == sorted(
        [("archived", "true"), ("checklist_id", c["id"]), ("per_page", "1")]
        for c in data.checklists
    )
    assert result.counted[0].requests == len(data.checklists) + 1
    assert sum(g.count for g in result.groups()) == result.total == len(data.runs)


async def test_yuuvis_counts_each_definition_with_a_page_of_one() -> None:
    sim = open_sim(yuuvis)
    result = await summary([sim], backend=yuuvis.NAME, group_by=["template"])
    counts = wire(sim, "/processes")
    assert counts[0] == [
        ("excludeSubprocesses", "true"),
        ("sort", "desc"),
        ("page", "0"),
        ("size", "1"),
    ]
    keys = sorted(dict(q)["processDefinitionKey"] for q in counts[1:])
    assert keys == sorted({d["key"] for d in sim.core.app.state.data.definitions})
    assert all(dict(q)["size"] == "1" for q in counts)
    assert result.counted[0].method == "vendor totals"
    assert result.exact


async def test_frends_counts_definitions_per_instance_with_a_page_size_of_one() -> None:
    sim = open_sim(frends)
    result = await summary([sim], backend=frends.NAME, group_by=["backend"])
    assert wire(sim, "/processes") == [[("PageNumber", "1"), ("PageSize", "1")]]
    assert result.groups()[0].key == [frends.NAME]
    assert result.counted[0].method == "vendor totals"
    assert result.exact


async def test_chakra_reports_no_total_so_its_rows_are_counted_in_pages_of_100() -> None:
    sim = open_sim(chakra)
    result = await summary([sim], backend=chakra.NAME, group_by=["native_status"])
    pages = wire(sim, "/process/list")
    assert [(p["skip"], p["limit"]) for p in pages] == [(100 * i, 100) for i in range(len(pages))]
    assert result.counted[0].method == "rows"
    assert result.counted[0].examined == result.total
    assert result.exact


async def test_kommo_reports_no_total_so_its_leads_are_counted_in_pages_of_250() -> None:
    sim = open_sim(kommo)
    result = await summary([sim], backend=kommo.NAME, group_by=["template"])
    pages = wire(sim, "/leads")
    assert [dict(p)["limit"] for p in pages] == ["250"] * len(pages)
    assert [dict(p)["page"] for p in pages] == [str(i + 1) for i in range(len(pages))]
    assert result.counted[0].method == "rows"
    assert result.exact
    assert result.total == len(sim.core.app.state.data.leads)


@pytest.mark.parametrize("module", SANDBOXES, ids=lambda m: str(m.NAME))
async def test_list_backends_says_how_each_default_collection_is_counted(module: Any) -> None:
    sim = open_sim(module)
    backend = sim.backend()
    try:
        await backend.discover()
        said = backend.reports_totals(None)
    finally:
        await backend.aclose()
    result = await summary([sim], backend=module.NAME, group_by=["backend"])
    assert result.counted[0].method == ("vendor totals" if said else "rows")
    assert said == (module.NAME in (tallyfy.NAME, yuuvis.NAME, frends.NAME))


# -- when vendor totals are not trusted ----------------------------------------------------


async def test_a_query_filtered_here_is_counted_from_rows() -> None:
    sim = open_sim(tallyfy)
    result = await summary([sim], backend=tallyfy.NAME, text="onboarding", group_by=["status"])
    assert result.counted[0].method == "rows"
    assert all(("per_page", "1") not in q for q in wire(sim, "/runs"))
    assert [a.field for a in result.applied] == ["text"]


async def test_rows_missing_from_every_directory_group_send_the_count_to_the_rows() -> None:
    sim = open_sim(tallyfy)
    data = sim.core.app.state.data
    gone = data.checklists.pop()  # its runs stay, its template leaves the directory
    result = await summary([sim], backend=tallyfy.NAME, group_by=["template"])
    assert result.counted[0].method == "rows"
    assert result.counted[0].requests > len(data.checklists) + 1  # counts, then pages
    got = {g.key[0]: g.count for g in result.groups()}
    assert got[gone["title"]] == sum(r["checklist_id"] == gone["id"] for r in data.runs)
    assert result.exact


async def test_directory_values_that_rows_do_not_show_are_counted_from_rows() -> None:
    # Frends definitions filter by process guid, but a definition row shows no template.
    small = frends.build(5, processes=6, instances=6)
    small.rate_limit = None
    sim = Sim(frends, small, open_sim(frends).settings)
    result = await summary([sim], backend=frends.NAME, group_by=["template"])
    assert result.counted[0].method == "rows"
    assert [g.key for g in result.groups()] == [["(none)"]]
    assert any(("PageSize", "1") in q for q in wire(sim, "/processes"))


# -- lower bounds --------------------------------------------------------------------------


def capped(sim: Sim, max_scan: int) -> Sim:
    return Sim(sim.module, sim.core, sim.settings.model_copy(update={"max_scan": max_scan}))


async def test_past_the_scan_cap_every_count_is_a_lower_bound_and_says_so() -> None:
    sim = capped(open_sim(chakra), 100)
    result = await summary([sim], backend=chakra.NAME, group_by=["owner"])
    counted = result.counted[0]
    assert counted.capped
    assert counted.examined == 100
    assert counted.of is None
    assert not result.exact
    assert not any(g.exact for g in result.groups())
    assert result.total == 100 < len(sim.core.app.state.data.processes["lead"])


async def test_a_capped_count_fetches_no_page_past_the_cap() -> None:
    sim = capped(open_sim(kommo), 100)  # Kommo pages hold 250, three in flight
    result = await summary([sim], backend=kommo.NAME, group_by=["template"])
    assert result.counted[0].capped
    assert len(wire(sim, "/leads")) == 1
    assert result.counted[0].requests == 1


async def test_a_capped_count_with_native_filters_knows_the_total_but_not_the_groups() -> None:
    sim = capped(open_sim(tallyfy), 100)
    result = await summary([sim], backend=tallyfy.NAME, group_by=["created_month"])
    runs = len(sim.core.app.state.data.runs)
    assert result.exact
    assert result.total == runs
    assert result.counted[0].of == runs
    assert result.counted[0].examined == 100
    assert not any(g.exact for g in result.groups())
    assert sum(g.count for g in result.groups()) == 100


async def test_with_backend_among_the_groups_a_capped_instance_leaves_others_exact() -> None:
    sims = [capped(open_sim(chakra), 100), open_sim(kommo)]
    result = await summary(sims, group_by=["backend", "status"])
    exact = {g.exact for g in result.groups() if g.key[0] == kommo.NAME}
    assert exact == {True}
    assert {g.exact for g in result.groups() if g.key[0] == chakra.NAME} == {False}
    assert not result.exact


async def test_a_failing_instance_in_a_fan_out_is_reported_and_makes_counts_lower_bounds() -> None:
    sims = [open_sim(tallyfy), open_sim(kommo)]
    sims[1].core.faults.add(Fault(kind="status", status=500, path="/leads$", times=None))
    result = await summary(sims, group_by=["status"])
    assert any(w.startswith(f"{kommo.NAME} failed:") for w in result.warnings)
    assert [c.backend for c in result.counted] == [tallyfy.NAME]
    assert not result.exact
    assert not any(g.exact for g in result.groups())


async def test_an_instance_that_cannot_take_the_query_is_skipped_in_a_fan_out() -> None:
    sims = [open_sim(tallyfy), open_sim(yuuvis)]
    result = await summary(sims, overdue=True, group_by=["backend"])
    assert [g.key for g in result.groups()] == [[tallyfy.NAME]]
    assert any(w.startswith(f"{yuuvis.NAME} skipped:") for w in result.warnings)
    assert "due date" in " ".join(result.warnings)
    assert result.exact  # a skipped instance is outside the question, as in a list


# -- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"limit": 5}, "counts every match, so it has no limit"),
        ({"group_by": ["colour"]}, '"colour" is not something to group by'),
        ({"group_by": ["owner", "owner"]}, "one or two different names"),
        ({"group_by": ["owner", "status", "template"]}, "more than 2 items"),
        ({"group_by": []}, "one or two different names"),
        ({"group_by": 3}, "is not an array of names"),
        ({"overdue": False}, "overdue takes only true"),
        ({"overdue": True, "status": ["completed"]}, "leaves out open"),
        ({"status": ["late"]}, "status"),
    ],
)
def test_bad_arguments_are_refused_with_how_to_fix_them(
    arguments: dict[str, Any], says: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_summary(arguments)
    assert says in caught.value.for_model()
    assert caught.value.hint


def test_group_by_defaults_to_the_instance_and_takes_one_name_as_a_list() -> None:
    assert parse_summary({})[1] == ("backend",)
    assert parse_summary({"group_by": "owner", "text": None})[1] == ("owner",)
