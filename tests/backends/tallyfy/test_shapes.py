"""Typed decoding of Tallyfy runs (tools/backends/tallyfy/shapes.py): a page missing a
field the adapter needs is a clear error naming the backend and the field; fields no
shape declares are ignored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.tallyfy.conftest import make_backend
from tests.backends.tamper import Tamper
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import TallyfyData
from tools.errors import BackendResponseError
from tools.paging import run_list
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
RUNS = r"/runs$"


def _list(tamper: Any, data: TallyfyData, **args: Any) -> Any:
    backend = make_backend(tamper, data)
    return backend, parse_query({"backend": sandbox.NAME, "limit": 20, **args})


def _tampered(sim: SimulatorCore, change: Any) -> Tamper:
    return Tamper(sim, RUNS, change)


async def test_a_run_without_its_id_is_an_error_naming_tallyfy_and_the_field(
    sim: SimulatorCore, data: TallyfyData
) -> None:
    def drop_id(body: dict[str, Any]) -> None:
        del body["data"][1]["id"]

    backend, query = _list(_tampered(sim, drop_id), data)
    with pytest.raises(BackendResponseError) as caught:
        await run_list([backend], query)
    text = caught.value.for_model()
    assert text.startswith(f"[{sandbox.NAME}] unexpected response shape")
    assert "missing required field `id`" in text
    assert "$.data[1]" in text
    await backend.aclose()


async def test_a_mistyped_field_names_its_path(sim: SimulatorCore, data: TallyfyData) -> None:
    def owner_as_text(body: dict[str, Any]) -> None:
        body["data"][2]["owner_id"] = "someone"

    backend, query = _list(_tampered(sim, owner_as_text), data)
    with pytest.raises(BackendResponseError, match=r"\$\.data\[2\]\.owner_id"):
        await run_list([backend], query)
    await backend.aclose()


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_fields_no_shape_declares_are_ignored(
    sim: SimulatorCore, data: TallyfyData, detail: str
) -> None:
    def add_unknown(body: dict[str, Any]) -> None:
        for row in body["data"]:
            row["new_vendor_field"] = {"nested": [1, "two"]}
            row["progress"]["new_counter"] = 3
        body["meta"]["pagination"]["new_hint"] = "x"

    plain, query = _list(sim, data)
    tamper = _tampered(sim, add_unknown)
    tampered, _ = _list(tamper, data)
    query = query.with_changes(detail=detail)
    expected, got = await run_list([plain], query), await run_list([tampered], query)
    assert tamper.changed
    assert got.processes == expected.processes
    assert got.total == expected.total
    await plain.aclose()
    await tampered.aclose()
