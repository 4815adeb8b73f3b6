"""How Chakra rows are named (`<key> · <title>`) and what `text` reads: the rule on
hand-made configs, the settings that override it, and the sandbox's rows through it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.chakra.conftest import make_backend
from tools.backends.chakra import sandbox
from tools.backends.chakra.data import ChakraData
from tools.backends.chakra.naming import choose
from tools.backends.chakra.schema import Procedure, parse_config
from tools.backends.chakra.simulator import create_app
from tools.errors import ConfigError
from tools.paging import run_list
from tools.query import parse_query

pytestmark = pytest.mark.anyio


def procedure(*attributes: dict[str, Any], sid: str = "deal", **extra: Any) -> Procedure:
    config = {
        "procedures": [{"id": "p1", "shortId": sid, **extra}],
        "attributes": [{"procedure": "p1", **a} for a in attributes],
    }
    return parse_config(config).procedures[0]


def attr(short_id: str, type_: str = "text", name: str | None = None, **extra: Any) -> Any:
    return {"shortId": short_id, "name": name or short_id, "type": type_, **extra}


# -- the rule ------------------------------------------------------------------------------


def test_key_is_the_one_the_config_marks_on_the_attribute_or_the_procedure() -> None:
    attrs = [attr("code"), attr("ref", primaryKey=True), attr("company")]
    assert choose(procedure(*attrs)).key_source == "config"
    assert choose(procedure(*attrs)).key.short_id == "ref"  # type: ignore[union-attr]
    named = procedure(attr("code"), attr("ref"), primaryKey="code")
    assert choose(named).key.short_id == "code"  # type: ignore[union-attr]


def test_an_unmarked_key_is_guessed_from_the_procedure_name_then_the_word_id() -> None:
    own = procedure(attr("ref_id"), attr("deal_id"), sid="deal")
    assert choose(own).key.short_id == "deal_id"  # type: ignore[union-attr]
    worded = procedure(attr("paid", "text"), attr("code", name="Order ID"))
    naming = choose(worded)
    assert naming.key.short_id == "code"  # type: ignore[union-attr]  # not "paid"
    assert naming.key_source == "guessed"
    assert choose(procedure(attr("company"), attr("score", "number"))).key is None


def test_title_prefers_title_subject_company_then_name_else_the_first_text() -> None:
    p = procedure(attr("lead_id"), attr("name", name="Contact name"), attr("company"), attr("city"))
    assert choose(p).title.short_id == "company"  # type: ignore[union-attr]
    p = procedure(attr("ticket_id"), attr("customer_name"), attr("subject"))
    assert choose(p).title.short_id == "subject"  # type: ignore[union-attr]
    p = procedure(attr("visit_id"), attr("city"), attr("site_name"))
    assert choose(p).title.short_id == "site_name"  # type: ignore[union-attr]
    p = procedure(attr("visit_id"), attr("email", "email"), attr("city"), attr("area"))
    assert choose(p).title.short_id == "city"  # type: ignore[union-attr]


def test_settings_override_both_and_an_empty_title_means_the_key_alone() -> None:
    p = procedure(attr("lead_id"), attr("ref"), attr("company"), attr("name"))
    naming = choose(p, key="ref", title="name")
    assert (naming.key.short_id, naming.title.short_id) == ("ref", "name")  # type: ignore[union-attr]
    assert "from settings" in naming.describe()
    bare = choose(p, title="")
    assert bare.title is None
    assert bare.name({"lead_id": "L-1", "company": "Globex"}) == "L-1"


def test_name_joins_key_and_title_and_falls_back_to_either() -> None:
    naming = choose(procedure(attr("lead_id"), attr("company")))
    assert naming.name({"lead_id": "LEAD-0012", "company": "Globex Corp"}) == (
        "LEAD-0012 · Globex Corp"
    )
    assert naming.name({"lead_id": "LEAD-0012"}) == "LEAD-0012"
    assert naming.name({"company": "Globex Corp", "lead_id": ""}) == "Globex Corp"
    assert naming.name({}) is None
    long = naming.name({"lead_id": "L", "company": "x" * 300}) or ""
    assert len(long) < 80
    assert long.endswith("…")


def test_search_text_is_the_text_like_values_with_select_labels() -> None:
    options = [{"value": "trade_show", "label": "Trade show"}, "website"]
    naming = choose(
        procedure(
            attr("lead_id"),
            attr("email", "email"),
            attr("phone", "phone"),
            attr("source", "select", options=options),
            attr("tags", "multiselect", options=options),
            attr("notes", "textarea"),
            attr("budget", "number"),
            attr("won", "boolean"),
        )
    )
    data = {
        "lead_id": "L-1",
        "email": "a@globex.test",
        "phone": 9876543210,
        "source": "trade_show",
        "tags": ["website", "trade_show"],
        "notes": "Referred by Initech",
        "budget": 5000,
        "won": True,
    }
    assert naming.search_text(data) == [
        "L-1",
        "a@globex.test",
        "9876543210",
        "Trade show",
        "website",
        "Trade show",
        "Referred by Initech",
    ]


# -- through the adapter -----------------------------------------------------------------


async def names(data: ChakraData, sim_options: dict[str, Any], **settings: Any) -> list[str]:
    backend = make_backend(create_app(data, token=sandbox.TOKEN, **sim_options), settings=settings)
    result = await run_list([backend], parse_query({"backend": backend.name, "limit": 30}))
    await backend.aclose()
    return [r.name for r in result.processes]


@pytest.mark.parametrize("marking", ["none", "attribute", "procedure"])
async def test_rows_are_named_alike_however_the_config_marks_the_key(
    data: ChakraData, marking: str
) -> None:
    got = await names(data, {"key_marking": marking})
    newest = sorted(data.processes["lead"], key=lambda p: p["createdAt"], reverse=True)[:30]
    want = [
        " · ".join(v for v in (p["data"]["lead_id"], p["data"].get("company")) if v) for p in newest
    ]
    assert got == want
    assert any(" · " in n for n in got)


async def test_title_attribute_setting_names_rows_by_that_attribute(data: ChakraData) -> None:
    got = await names(data, {}, title_attribute={"lead": "name"})
    newest = sorted(data.processes["lead"], key=lambda p: p["createdAt"], reverse=True)[:30]
    assert got == [f"{p['data']['lead_id']} · {p['data']['name']}" for p in newest]


async def test_primary_key_setting_names_rows_where_the_guess_is_wrong(data: ChakraData) -> None:
    got = await names(data, {}, primary_key={"lead": "email"}, title_attribute={"lead": ""})
    newest = sorted(data.processes["lead"], key=lambda p: p["createdAt"], reverse=True)[:30]
    assert got == [p["data"]["email"] for p in newest]


@pytest.mark.parametrize(
    ("settings", "fix"),
    [
        ({"title_attribute": {"invoice": "x"}}, "procedures there: lead, ticket, fieldvisit"),
        ({"title_attribute": {"lead": "compnay"}}, "attributes of lead: lead_id, name, company"),
        ({"primary_key": {"lead": ""}}, "attributes of lead: lead_id"),
    ],
)
async def test_naming_settings_that_name_nothing_are_a_config_error(
    data: ChakraData, settings: dict[str, Any], fix: str
) -> None:
    backend = make_backend(create_app(data, token=sandbox.TOKEN), settings=settings)
    with pytest.raises(ConfigError) as caught:
        await backend.discover()
    await backend.aclose()
    assert fix in caught.value.for_model()
