"""Cursors whose state is impossible are refused as malformed (issue 14, item 4): the
checksum is not keyed, so the state itself is checked against what the driver writes."""

from __future__ import annotations

import base64
import hashlib
import json

import anyio
import pytest

from tests.memory_backend import MemoryBackend, sample_rows
from tools.cursor import MAX_OFFSET, MAX_TOKEN_CHARS, encode_cursor
from tools.errors import InvalidCursorError
from tools.paging import run_list
from tools.query import ProcessQuery


def _forge(body: dict[str, object]) -> str:
    """A cursor with a valid checksum over any body: what someone editing one could make."""
    text = json.dumps(body, separators=(",", ":"))
    check = hashlib.sha256(text.encode()).hexdigest()[:10]
    return base64.urlsafe_b64encode(f"{check}{text}".encode()).decode().rstrip("=")


def _run(backend: MemoryBackend, cursor: str, limit: int = 5) -> object:
    query = ProcessQuery(backend=backend.name, limit=limit, cursor=cursor)
    return anyio.run(run_list, [backend], query)


QUERY = ProcessQuery(backend="m", limit=5)


@pytest.mark.parametrize(
    "entry",
    [MAX_OFFSET + 1, 2**62, -1, -(2**40)],
    ids=["past-32-bit", "huge", "negative", "very-negative"],
)
def test_an_offset_no_backend_could_hold_is_refused_as_malformed(entry: int) -> None:
    backend = MemoryBackend("m", sample_rows(30))
    cursor = encode_cursor(QUERY.fingerprint(), {"m": entry})
    with pytest.raises(InvalidCursorError, match="malformed"):
        _run(backend, cursor)


@pytest.mark.parametrize(
    "body",
    [
        {"v": 1, "q": QUERY.fingerprint(), "s": {"m": 5}, "x": 1},
        {"v": 1, "q": QUERY.fingerprint(), "s": {"m": 5}, "admin": True},
        {"v": 1, "q": QUERY.fingerprint(), "s": {}},
    ],
    ids=["unknown-key", "another-unknown-key", "no-instances"],
)
def test_a_cursor_with_unknown_keys_or_no_state_is_refused(body: dict[str, object]) -> None:
    backend = MemoryBackend("m", sample_rows(30))
    with pytest.raises(InvalidCursorError, match="malformed") as caught:
        _run(backend, _forge(body))
    assert "without cursor" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "entry",
    [
        ["t", 3, 0],  # inside a page of no size
        ["t", 0, 11],  # a page larger than the collection's maximum (10)
        ["t", -1, 5],
        ["t", 0, MAX_OFFSET + 1],
        ["x" * (MAX_TOKEN_CHARS + 1), 0, 5],
        [7, 0, 5],
        ["t", 0],
    ],
)
def test_an_impossible_token_position_is_refused(entry: list[object]) -> None:
    backend = MemoryBackend("m", sample_rows(30), addressing="token", max_page_size=10)
    cursor = encode_cursor(QUERY.fingerprint(), {"m": entry})
    with pytest.raises(InvalidCursorError, match="malformed"):
        _run(backend, cursor)


@pytest.mark.parametrize("addressing", ["page", "offset", "token"])
def test_cursors_the_driver_writes_still_walk_every_row(addressing: str) -> None:
    backend = MemoryBackend("m", sample_rows(37), addressing=addressing, max_page_size=10)  # type: ignore[arg-type]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = ProcessQuery(backend="m", limit=7, cursor=cursor)
        result = anyio.run(run_list, [backend], query)
        seen += [r.id for r in result.processes]
        cursor = result.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 37
