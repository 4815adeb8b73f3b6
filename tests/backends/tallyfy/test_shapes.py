"""Typed decoding of Tallyfy runs (tools/backends/tallyfy/shapes.py): a page missing a
field the adapter needs is a clear error naming the backend and the field; fields no
shape declares are ignored; the extras are there whenever an answer shows them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.tallyfy.conftest import make_backend
from tests.backends.tamper import Tamper, extra_column, refusal, same_answers
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
RUNS = r"/runs$"


def _query(**args: Any) -> Any:
    return parse_query({"backend": sandbox.NAME, "limit": 20, **args})


async def test_a_run_without_its_id_is_an_error_naming_tallyfy_and_the_field(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    def drop_id(body: dict[str, Any]) -> None:
        del body["data"][1]["id"]

    text = await refusal(make_backend(Tamper(sim, RUNS, drop_id), data), _query())
    assert text.startswith(f"[{sandbox.NAME}] unexpected response shape")
    assert "missing required field `id` - at `$.data[1]`" in text


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_a_mistyped_field_names_its_path(
    sim: SimulatorCore, data: TallyfyData, detail: str
) -> None:
    def owner_as_text(body: dict[str, Any]) -> None:
        body["data"][2]["owner_id"] = "someone"

    backend = make_backend(Tamper(sim, RUNS, owner_as_text), data)
    text = await refusal(backend, _query(detail=detail))
    assert "Expected `int | null`, got `str` - at `$.data[2].owner_id`" in text


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_fields_no_shape_declares_are_ignored(
    sim: SimulatorCore, data: TallyfyData, detail: str
) -> None:
    def add_unknown(body: dict[str, Any]) -> None:
        for row in body["data"]:
            row["new_vendor_field"] = {"nested": [1, "two"]}
            row["progress"]["new_counter"] = 3
        body["meta"]["pagination"]["new_hint"] = "x"

    tamper = Tamper(sim, RUNS, add_unknown)
    await same_answers(make_backend(sim, data), make_backend(tamper, data), _query(detail=detail))
    assert tamper.changed


async def test_an_extra_column_at_summary_detail_still_carries_its_values(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    await extra_column(make_backend(sim, data), _query(), "increment_id")
