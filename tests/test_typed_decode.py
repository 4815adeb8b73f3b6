"""Typed decoding at the HTTP boundary (tools/decode.py): only declared fields are read, and
a body of another shape is a clear error naming the backend and the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.test_http import Backend, make_client, ok
from tools.backends.frends.shapes import DefinitionPage
from tools.decode import convert
from tools.errors import BackendResponseError

pytestmark = pytest.mark.anyio

ROW = {"id": 7, "name": "Orders", "bpmn": "<bpmn2:definitions/>" * 100, "unknownField": [1]}


async def test_only_the_declared_fields_are_decoded_and_unknown_ones_are_skipped() -> None:
    http = make_client(Backend(ok({"data": [ROW], "paging": {"totalCount": 1}})))
    page = await http.get_typed("processes", DefinitionPage)
    assert page.data[0].id == 7
    assert page.data[0].name == "Orders"
    assert page.paging is not None
    assert page.paging.total_count == 1
    assert not hasattr(page.data[0], "bpmn")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": [{"name": "no id"}]}, "$.data[0]"),  # a required field missing
        ({"data": [ROW, {**ROW, "id": "seven"}]}, "$.data[1].id"),  # mistyped
        ({"paging": {}}, "data"),  # the page's own array missing
    ],
)
async def test_a_body_of_another_shape_names_the_backend_and_the_field(
    body: dict[str, Any], field: str
) -> None:
    http = make_client(Backend(ok(body)))
    with pytest.raises(BackendResponseError) as caught:
        await http.get_typed("processes", DefinitionPage)
    text = caught.value.for_model()
    assert text.startswith("[tallyfy] unexpected response shape")
    assert field in text
    assert "request: GET" in text


async def test_a_2xx_body_that_is_not_json_is_the_malformed_json_error() -> None:
    http = make_client(Backend(httpx.Response(200, text="<html>login</html>")))
    with pytest.raises(BackendResponseError) as caught:
        await http.get_typed("processes", DefinitionPage)
    assert "malformed JSON in response" in caught.value.for_model()


def test_an_object_read_whole_converts_with_the_same_errors() -> None:
    assert convert({"data": [ROW]}, DefinitionPage, backend="frends").data[0].id == 7
    with pytest.raises(BackendResponseError, match=r"\[frends\].*\$\.data"):
        convert({"data": "x"}, DefinitionPage, backend="frends")


async def test_a_2xx_body_that_does_not_parse_is_read_again_and_a_shape_error_is_not() -> None:
    backend = Backend(httpx.Response(200, text="<html>cut"), ok({"data": [ROW]}))
    http = make_client(backend)
    page = await http.get_typed("processes", DefinitionPage)
    assert page.data[0].id == 7
    assert len(backend.requests) == 2
    wrong = Backend(ok({"data": [{"name": "no id"}]}))
    with pytest.raises(BackendResponseError):
        await make_client(wrong).get_typed("processes", DefinitionPage)
    assert len(wrong.requests) == 1


async def test_an_empty_2xx_body_is_none_only_where_the_caller_allows_it() -> None:
    http = make_client(Backend(httpx.Response(204)))
    assert await http.get_typed_or_none("leads", DefinitionPage) is None
    with pytest.raises(BackendResponseError, match="malformed JSON in response"):
        await make_client(Backend(httpx.Response(204))).get_typed("leads", DefinitionPage)
