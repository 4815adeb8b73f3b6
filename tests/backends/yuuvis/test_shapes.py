"""Typed decoding of yuuvis instances (tools/backends/yuuvis/shapes.py): a page missing a
field the adapter needs is a clear error naming the backend and the field; fields no
shape declares are ignored; the extras are there whenever an answer shows them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backends.tamper import Tamper, extra_column, refusal, same_answers
from tests.backends.yuuvis.conftest import make_backend
from tools.backends.yuuvis import sandbox
from tools.backends.yuuvis.data import YuuvisData
from tools.query import parse_query
from tools.sim import SimulatorCore

pytestmark = pytest.mark.anyio
LIST = r"/bpm-engine/api/processes$"


def _query(**args: Any) -> Any:
    return parse_query({"backend": sandbox.NAME, "limit": 30, **args})


@pytest.mark.parametrize("detail", ["summary", "full"])
async def test_an_instance_without_its_id_is_an_error_naming_yuuvis_and_the_field(
    sim: SimulatorCore, data: YuuvisData, detail: str
) -> None:
    def drop_id(body: dict[str, Any]) -> None:
        del body["objects"][1]["id"]

    backend = make_backend(Tamper(sim, LIST, drop_id), data)
    text = await refusal(backend, _query(detail=detail))
    assert text.startswith(f"[{sandbox.NAME}] unexpected response shape")
    assert "missing required field `id` - at `$.objects[1]`" in text


async def test_a_mistyped_field_names_its_path(sim: SimulatorCore, data: YuuvisData) -> None:
    def duration_as_text(body: dict[str, Any]) -> None:
        body["objects"][2]["durationInMillis"] = "long"

    text = await refusal(make_backend(Tamper(sim, LIST, duration_as_text), data), _query())
    assert "Expected `int | null`, got `str` - at `$.objects[2].durationInMillis`" in text


@pytest.mark.parametrize("args", [{}, {"detail": "full"}, {"where": {"businessKeyLike": "%"}}])
async def test_fields_no_shape_declares_are_ignored(
    sim: SimulatorCore, data: YuuvisData, args: dict[str, Any]
) -> None:
    def add_unknown(body: dict[str, Any]) -> None:
        body["newPagingHint"] = {"cursor": "x"}
        for row in body["objects"]:
            row["tenantId"] = "acme"
            row["variables"] = [{"name": "amount", "type": "long", "value": 3}]

    tamper = Tamper(sim, LIST, add_unknown)
    await same_answers(make_backend(sim, data), make_backend(tamper, data), _query(**args))
    assert tamper.changed


async def test_an_extra_column_at_summary_detail_carries_its_values(
    sim: SimulatorCore, data: YuuvisData
) -> None:
    lean = await extra_column(make_backend(sim, data), _query(), "definition_id")
    assert not any(r.attributes for r in lean)
