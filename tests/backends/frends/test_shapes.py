"""Typed decoding of Frends executions (tools/backends/frends/shapes.py): a page missing a
field the adapter needs is a clear error naming the backend and the field; fields no
shape declares are ignored; the extras are there whenever an answer shows them. (The
definition pages' own shape: tests/test_typed_decode.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.frends.conftest import make_backend
from tests.backends.tamper import Tamper, extra_column, refusal, same_answers
from tools.backends.frends import sandbox
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
INSTANCES = r"/api/v1/instances/\d+$"


def _query(**args: Any) -> Any:
    return parse_query({"backend": sandbox.NAME, "collection": "instances", "limit": 30, **args})


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_an_execution_without_its_id_is_an_error_naming_frends_and_the_field(
    sim: SimulatorCore, detail: str
) -> None:
    def drop_id(body: dict[str, Any]) -> None:
        del body["data"][1]["executionId"]

    text = await refusal(make_backend(Tamper(sim, INSTANCES, drop_id)), _query(detail=detail))
    assert text.startswith(f"[{sandbox.NAME}] unexpected response shape")
    assert "missing required field `executionId` - at `$.data[1]`" in text


async def test_a_mistyped_field_names_its_path(sim: SimulatorCore) -> None:
    def version_as_text(body: dict[str, Any]) -> None:
        body["data"][2]["processVersion"] = "three"

    text = await refusal(
        make_backend(Tamper(sim, INSTANCES, version_as_text)), _query(detail="full")
    )
    assert "Expected `int | null`, got `str` - at `$.data[2].processVersion`" in text


@pytest.mark.parametrize("args", [{}, {"detail": "full"}, {"where": {"child": False}}])
async def test_fields_no_shape_declares_are_ignored(
    sim: SimulatorCore, args: dict[str, Any]
) -> None:
    def add_unknown(body: dict[str, Any]) -> None:
        body["nextLink"] = {"href": "x", "extra": [1]}
        for row in body["data"]:
            row["triggerRequest"] = {"body": "x" * 200, "headers": {"a": "b"}}
            row["newVendorField"] = [1, {"two": 2}]

    tamper = Tamper(sim, INSTANCES, add_unknown)
    await same_answers(make_backend(sim), make_backend(tamper), _query(**args))
    assert tamper.changed


async def test_an_extra_column_at_summary_detail_carries_its_values(sim: SimulatorCore) -> None:
    lean = await extra_column(make_backend(sim), _query(), "instance_id")
    assert not any(r.attributes for r in lean)
