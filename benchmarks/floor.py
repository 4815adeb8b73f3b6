"""The CPU floor of an export: typed decoding of only the fields used, mapping to the csv
cells and one csv.writerows per page, on list pages captured from the simulator. Reported
beside the client's CPU (benchmarks/export.py) so the ratio to the floor is visible.

Only backends whose rows are declared as Structs have a floor here (Frends so far)."""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from typing import Any

import msgspec

from tools.backends.base import Backend
from tools.backends.frends.shapes import DefinitionPage


def _frends_cells(body: bytes, decoder: msgspec.json.Decoder[Any]) -> list[tuple[Any, ...]]:
    page: DefinitionPage = decoder.decode(body)
    return [
        (r.id, r.name, r.version, r.unique_identifier, r.modifier, r.modified) for r in page.data
    ]


FLOORS: dict[str, tuple[type[Any], Callable[[bytes, msgspec.json.Decoder[Any]], list[Any]]]] = {
    "frends": (DefinitionPage, _frends_cells),
}


async def capture(kind: str, backend: Backend, rows: int) -> list[bytes]:
    """The list pages an export reads, as the simulator sends them."""
    size = backend.capabilities().for_collection(None).max_page_size
    pages = math.ceil(rows / size)
    out = []
    for number in range(1, pages + 1):
        params = [("PageNumber", str(number)), ("PageSize", str(size))]
        out.append((await backend.http.request("GET", "processes", params=params)).content)
    return out


def floor_seconds(kind: str, pages: list[bytes]) -> float:
    """CPU seconds of decode + map + csv for the captured pages."""
    shape, cells = FLOORS[kind]
    decoder = msgspec.json.Decoder(shape)
    sink = io.StringIO()
    writer = csv.writer(sink)
    start = time.process_time()
    for body in pages:
        writer.writerows(cells(body, decoder))
    return time.process_time() - start
