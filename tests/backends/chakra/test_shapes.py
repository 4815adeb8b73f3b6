"""Typed decoding of Chakra processes (tools/backends/chakra/shapes.py): a list answer
missing a field the adapter needs is a clear error naming the backend and the field;
fields no shape declares are ignored; the extras are there whenever an answer shows them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.chakra.conftest import make_backend
from tests.backends.tamper import Tamper, extra_column, refusal, same_answers
from tools.backends.chakra import sandbox
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
LIST = r"/process/list$"


def _query(**args: Any) -> Any:
    return parse_query({"backend": sandbox.NAME, "limit": 30, **args})


def _tampered(sim: SimulatorCore, change: Any) -> Tamper:
    return Tamper(sim, LIST, change, method="POST")


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_a_process_without_its_id_is_an_error_naming_chakra_and_the_field(
    sim: SimulatorCore, detail: str
) -> None:
    def drop_id(body: dict[str, Any]) -> None:
        del body["_data"][1]["id"]

    text = await refusal(make_backend(_tampered(sim, drop_id)), _query(detail=detail))
    assert text.startswith(f"[{sandbox.NAME}] unexpected response shape")
    assert "missing required field `id` - at `$._data[1]`" in text


async def test_a_mistyped_field_names_its_path(sim: SimulatorCore) -> None:
    def assignee_as_number(body: dict[str, Any]) -> None:
        body["_data"][2]["assignedTo"] = 5

    text = await refusal(make_backend(_tampered(sim, assignee_as_number)), _query())
    assert "Expected `str | null`, got `int` - at `$._data[2].assignedTo`" in text


@pytest.mark.parametrize("args", [{}, {"detail": "full"}, {"text": "corp"}])
async def test_fields_no_shape_declares_are_ignored(
    sim: SimulatorCore, args: dict[str, Any]
) -> None:
    def add_unknown(body: dict[str, Any]) -> None:
        body["_meta"]["cursor"] = "x"
        for row in body["_data"]:
            row["record"] = {"data": {"big": "x" * 100}}
            row["newVendorField"] = [1, {"two": 2}]

    tamper = _tampered(sim, add_unknown)
    await same_answers(make_backend(sim), make_backend(tamper), _query(**args))
    assert tamper.changed


async def test_an_extra_column_at_summary_detail_carries_its_values(sim: SimulatorCore) -> None:
    lean = await extra_column(make_backend(sim), _query(), "state_name")
    assert not any(r.search_text for r in lean)
