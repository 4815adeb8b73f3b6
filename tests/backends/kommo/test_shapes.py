"""Typed decoding of Kommo rows (tools/backends/kommo/shapes.py): a page missing a field
the adapter needs is a clear error naming the backend and the field; fields no shape
declares are ignored; the custom fields are read whenever an answer or a filter needs
them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.kommo.conftest import make_backend
from tests.backends.tamper import Tamper, extra_column, refusal, same_answers
from tools.backends.kommo import sandbox
from tools.backends.kommo.simulator import KommoCore
from tools.query import parse_query

pytestmark = pytest.mark.anyio
LEADS = r"/api/v4/leads$"


def _query(**args: Any) -> Any:
    return parse_query({"backend": sandbox.NAME, "limit": 30, **args})


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_a_lead_without_its_id_is_an_error_naming_kommo_and_the_field(
    sim: KommoCore, detail: str
) -> None:
    def drop_id(body: dict[str, Any]) -> None:
        del body["_embedded"]["leads"][1]["id"]

    text = await refusal(make_backend(Tamper(sim, LEADS, drop_id)), _query(detail=detail))
    assert text.startswith(f"[{sandbox.NAME}] unexpected response shape")
    assert "missing required field `id` - at `$._embedded.leads[1]`" in text


async def test_a_mistyped_custom_field_names_its_path(sim: KommoCore) -> None:
    def field_id_as_text(body: dict[str, Any]) -> None:
        lead = next(r for r in body["_embedded"]["leads"] if r["custom_fields_values"])
        lead["custom_fields_values"][0]["field_id"] = "one"

    backend = make_backend(Tamper(sim, LEADS, field_id_as_text))
    text = await refusal(backend, _query(where={"Lead source": "Website"}))
    assert "`$._embedded.leads[" in text
    assert "].custom_fields_values[0].field_id`" in text


@pytest.mark.parametrize(
    "args", [{}, {"detail": "full"}, {"where": {"Seats": {">=": 10}}}, {"text": "corp"}]
)
async def test_fields_no_shape_declares_are_ignored(sim: KommoCore, args: dict[str, Any]) -> None:
    def add_unknown(body: dict[str, Any]) -> None:
        body["_embedded"]["new_list"] = [{"id": "x"}]
        for row in body["_embedded"]["leads"]:
            row["new_vendor_field"] = {"nested": [1, "two"]}
            row["_embedded"]["new_relation"] = [{"id": 1}]
            for cf in row["custom_fields_values"] or ():
                cf["is_computed"] = False
                cf["values"][0]["enum_code"] = "NEW"

    tamper = Tamper(sim, LEADS, add_unknown)
    await same_answers(make_backend(sim), make_backend(tamper), _query(**args))
    assert tamper.changed


async def test_an_extra_column_at_summary_detail_carries_its_values(sim: KommoCore) -> None:
    lean = await extra_column(make_backend(sim), _query(), "price")
    assert not any(r.search_text or r.attributes for r in lean)
