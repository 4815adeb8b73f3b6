"""Tallyfy adapter behaviour beyond translation: refusals, get_process, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backends.tallyfy.conftest import BASE, UNTHROTTLED, make_backend
from tools.backends.registry import create_backend
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.adapter import TallyfyBackend
from tools.backends.tallyfy.data import TallyfyData
from tools.backends.tallyfy.simulator import Readings, create_app
from tools.errors import (
    BackendAuthError,
    BackendNotFoundError,
    InvalidArgumentError,
    UnsupportedQueryError,
)
from tools.export_process import export_process
from tools.get_process import get_process
from tools.instances import Instances
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio


async def plan(backend: TallyfyBackend, **args: Any) -> Any:
    return await backend.plan(parse_query({"backend": backend.name, **args}))


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        ({"where": {"x": 1}}, UnsupportedQueryError, "filters that work here"),
        ({"sort": "-updated_at"}, UnsupportedQueryError, "-created_at"),
        ({"status": ["failed"]}, UnsupportedQueryError, "open, completed and cancelled"),
        ({"native_status": ["paused"]}, InvalidArgumentError, "active, problem"),
        (
            {"status": ["completed"], "native_status": ["active"]},
            InvalidArgumentError,
            "keep only one",
        ),
        ({"collection": "tasks"}, UnsupportedQueryError, "use one of: runs"),
        ({"tags": ["no-such-tag"]}, InvalidArgumentError, "urgent"),
        ({"template": "Moon Landing"}, InvalidArgumentError, "Customer Onboarding"),
        ({"owner": "nobody@nowhere.test"}, InvalidArgumentError, "give a user id or email"),
    ],
)
async def test_unusable_filters_are_refused_with_what_works_instead(
    backend: TallyfyBackend, args: dict[str, Any], error: type[Exception], fix: str
) -> None:
    with pytest.raises(error) as caught:
        await plan(backend, **args)
    assert fix in caught.value.for_model()  # type: ignore[attr-defined]


async def test_owner_given_by_name_suggests_the_matching_email(
    backend: TallyfyBackend, data: TallyfyData
) -> None:
    user = data.users[3]
    with pytest.raises(InvalidArgumentError) as caught:
        await plan(backend, owner=user["full_name"])
    assert user["email"] in (caught.value.hint or "")


async def test_failed_among_other_statuses_is_a_warning_not_a_refusal(
    backend: TallyfyBackend,
) -> None:
    result = await plan(backend, status=["completed", "failed"])
    assert result.warnings == ["no Tallyfy run is ever failed"]


async def test_summary_rows_carry_names_not_ids(backend: TallyfyBackend, data: TallyfyData) -> None:
    page = await run_list([backend], parse_query({"backend": backend.name, "limit": 50}))
    emails = {u["email"] for u in data.users}
    tag_titles = {t["title"] for t in data.tags}
    assert all(r.owner in emails for r in page.processes)
    assert any(r.tags for r in page.processes)
    assert all(set(r.tags or ()) <= tag_titles for r in page.processes)
    assert all(r.template and r.created_at and r.status for r in page.processes)


async def test_get_includes_tasks_by_default_with_owner_emails(
    backend: TallyfyBackend, data: TallyfyData
) -> None:
    run = next(r for r in data.runs if r["status"] == "delayed")
    detail = await backend.get(run["id"], collection=None, include=None, detail="summary")
    assert detail.id == run["id"]
    assert detail.tasks
    assert [t.name for t in detail.tasks] == [t["title"] for t in data.tasks[run["id"]]]
    assert detail.fields is None
    assert detail.extra is None


async def test_get_full_has_every_section_and_extra_fields(
    backend: TallyfyBackend, data: TallyfyData
) -> None:
    run = data.runs[-1]
    detail = await backend.get(run["id"], collection=None, include=None, detail="full")
    assert detail.tasks is not None
    assert detail.fields is not None
    assert detail.sections
    assert detail.sections["definition"]["title"] == run["checklist_title"]
    assert detail.extra
    assert detail.extra["increment_id"] == run["increment_id"]


async def test_get_only_the_sections_asked_for(backend: TallyfyBackend, data: TallyfyData) -> None:
    run = data.runs[0]
    detail = await backend.get(
        run["id"], collection=None, include=frozenset({"fields"}), detail="summary"
    )
    assert detail.tasks is None
    assert detail.fields is not None


async def test_kickoff_fields_are_shown_by_label_not_by_timeline_id(
    backend: TallyfyBackend, data: TallyfyData
) -> None:
    run = next(r for r in data.runs if r["prerun"])
    detail = await backend.get(
        run["id"], collection=None, include=frozenset({"fields"}), detail="summary"
    )
    definitions = data.kickoff_fields[run["checklist_id"]]
    label = {f["timeline_id"]: f["label"] for f in definitions}
    assert detail.fields == {label[k]: v for k, v in run["prerun"].items()}


async def test_get_unknown_section_is_refused(backend: TallyfyBackend, data: TallyfyData) -> None:
    with pytest.raises(InvalidArgumentError, match="no section variables"):
        await backend.get(
            data.runs[0]["id"], collection=None, include=frozenset({"variables"}), detail="summary"
        )


@pytest.mark.parametrize("status", [403, 404])
async def test_get_missing_run_is_not_found_with_a_fix_whether_tallyfy_says_403_or_404(
    data: TallyfyData, status: int
) -> None:
    # "A missing or forbidden run returns 404 or 403" (reference B.6).
    sim = create_app(
        data,
        token=sandbox.TOKEN,
        rate_limit=None,
        readings=Readings(missing_run_status=status),
    )
    backend = make_backend(sim, data)
    with pytest.raises(BackendNotFoundError) as caught:
        await backend.get("0" * 32, collection=None, include=None, detail="summary")
    await backend.aclose()
    text = caught.value.for_model()
    assert f"HTTP {status}" in text
    assert "list_processes" in text
    assert "token variable" not in text


async def test_a_403_for_an_organization_the_token_cannot_see_stays_an_auth_error(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    settings = sandbox.settings(BASE, "f" * 32, rate_limit_per_minute=UNTHROTTLED)
    backend = create_backend(settings, transport=httpx.ASGITransport(app=sim))
    with pytest.raises(BackendAuthError) as caught:
        await backend.get(data.runs[0]["id"], collection=None, include=None, detail="summary")
    await backend.aclose()
    assert caught.value.status == 403


async def test_wrong_token_is_an_auth_error_that_never_shows_the_token(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    backend = make_backend(sim, data, token="stolen-secret-value")
    with pytest.raises(BackendAuthError) as caught:
        await run_list([backend], parse_query({"backend": backend.name, "limit": 1}))
    await backend.aclose()
    text = caught.value.for_model()
    assert "HTTP 401" in text
    assert "Unauthenticated" in text
    assert "sandbox-tallyfy-token" not in text
    assert "stolen-secret-value" not in text


HOSTILE_IDS = ["zz/../{id}", "{id}?x=y", "{id}#x", "../../etc/passwd", " ", ".", "?a=b", ".."]


@pytest.mark.parametrize("template", HOSTILE_IDS)
async def test_a_hostile_run_id_never_fetches_anything_and_says_what_ids_look_like(
    sim: SimulatorCore, data: TallyfyData, template: str
) -> None:
    backend = make_backend(sim, data)
    instances = Instances([backend])
    hostile = template.format(id=data.runs[0]["id"])
    args = {"backend": backend.name, "id": hostile}

    async def get() -> None:
        await get_process(instances, args)

    async def export() -> None:
        await export_process(instances, args, directory=Path("unused"))

    for tool in (get, export):
        with pytest.raises(InvalidArgumentError) as caught:
            await tool()
        text = caught.value.for_model()
        # get_process strips surrounding blanks before the adapter sees the id.
        shown = text.removeprefix("not a valid Tallyfy run id: ").split(" (ids look", 1)[0]
        assert shown in (
            json.dumps(hostile, ensure_ascii=False),
            json.dumps(hostile.strip(), ensure_ascii=False),
        ), text
        assert "ids look like 32 hexadecimal characters" in text
        assert "base URL" not in text
    await instances.aclose()
    assert [r.path for r in sim.requests if "/runs/" in r.path] == []


async def test_a_run_id_of_the_right_shape_is_fetched_as_one_segment(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    backend = make_backend(sim, data)
    run = data.runs[0]
    detail = await backend.get(run["id"], collection=None, include=None, detail="summary")
    await backend.aclose()
    assert detail.id == run["id"]
    assert f"/api/organizations/{data.org_id}/runs/{run['id']}" in [r.path for r in sim.requests]
