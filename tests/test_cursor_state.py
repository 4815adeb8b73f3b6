"""Cursors whose state is impossible are refused as malformed (issue 14, item 4): the
checksum is not keyed, so the state itself is checked against what the driver writes."""

from __future__ import annotations

import hashlib
import json

import anyio
import pytest

from tests.memory_backend import MemoryBackend, sample_rows
from tools.cursor import MAX_OFFSET, MAX_TOKEN_CHARS, encode_cursor, pack_cursor
from tools.errors import InvalidCursorError
from tools.paging import run_list
from tools.query import ProcessQuery


def _forge(state: object, fingerprint: str) -> str:
    """A cursor with a valid checksum and the right query over any state, even one that
    is not JSON: what someone editing one could make."""
    body = state if isinstance(state, bytes) else json.dumps(state).encode()
    return pack_cursor(hashlib.sha256(fingerprint.encode()).digest()[:6], body)


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
    "state",
    [["m", 5], "m", 5, {}, b"{not json", b"\xff\xfe"],
    ids=["a-list", "a-string", "a-number", "no-instances", "not-json", "not-utf8"],
)
def test_a_cursor_whose_state_is_no_map_of_instances_is_refused(state: object) -> None:
    backend = MemoryBackend("m", sample_rows(30))
    with pytest.raises(InvalidCursorError, match="malformed") as caught:
        _run(backend, _forge(state, QUERY.fingerprint()))
    assert "without cursor" in (caught.value.hint or "")


def test_a_cursor_of_the_earlier_text_layout_is_refused_as_another_version() -> None:
    import base64

    body = json.dumps({"v": 1, "q": QUERY.fingerprint(), "s": {"m": 5}}, separators=(",", ":"))
    check = hashlib.sha256(body.encode()).hexdigest()[:10]
    old = base64.urlsafe_b64encode(f"{check}{body}".encode()).decode().rstrip("=")
    with pytest.raises(InvalidCursorError, match="incompatible version"):
        _run(MemoryBackend("m", sample_rows(30)), old)


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
