"""The opaque cursor: base64 of a small binary header and JSON state, bound to the query.

It holds per instance where its stream resumes, and nothing secret. Layout (version 2):
one version byte, a 5-byte checksum, a 6-byte tag of the query's fingerprint, then the
state as compact JSON; all of it base64url without padding. Binary, because a cursor is
in every list answer, in both channels: hex and JSON keys in base64 cost about twice the
tokens (59 against 35 for one instance, counted with benchmarks/sizes.py's tokenizer).

The checksum is NOT keyed (a choice, issue 14): it catches truncated or garbled cursors,
while a hand-made one is caught by checking its state instead - offsets that are
non-negative integers below MAX_OFFSET, a token position whose skip lies inside a page of
at most the collection's page size - and is then no more than a query the caller could
have sent anyway. With no key there is nothing to configure or rotate, and a cursor
survives restarts and works on every replica."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from tools.errors import InvalidCursorError

CURSOR_VERSION = 2
_CHECK, _TAG = 5, 6
_HEAD = 1 + _CHECK + _TAG
# No vendor's list can be paged this far: their page and skip parameters are 32-bit.
MAX_OFFSET = 2**31 - 1
MAX_TOKEN_CHARS = 4096


# -- cursor ---------------------------------------------------------------------------------

# Per instance, one entry:
# - an int offset (page/offset addressing) or [token, skip, size] (token addressing): where
#   its stream resumes;
# - None: its stream has ended;
# - "skipped" (fan-out only): it cannot take this query (a filter it cannot apply, an owner
#   it does not know). Every later page checks again and says so, and never asks it for
#   rows: rows joining mid-walk would sort before rows already returned;
# - {"retry": position} (fan-out only): it failed (unreachable, an error); the next page
#   tries it again from that position (None: from its start), so none of its rows is lost.
CursorState = dict[str, Any]
SKIPPED = "skipped"
RETRY = "retry"


def _tag(fingerprint: str) -> bytes:
    return hashlib.sha256(fingerprint.encode()).digest()[:_TAG]


def _check(tag: bytes, body: bytes) -> bytes:
    return hashlib.sha256(tag + body).digest()[:_CHECK]


def pack_cursor(tag: bytes, body: bytes) -> str:
    """Any tag and state bytes as a cursor with a valid checksum (tests forge with it)."""
    raw = bytes([CURSOR_VERSION]) + _check(tag, body) + tag + body
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def encode_cursor(fingerprint: str, state: CursorState) -> str:
    body = json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()
    return pack_cursor(_tag(fingerprint), body)


def decode_cursor(cursor: str, fingerprint: str) -> CursorState:
    restart = "call list_processes again without cursor to start from the first page"
    invalid = InvalidCursorError(
        "cursor is not valid (it may be truncated or edited)",
        hint="pass next_cursor exactly as it was returned, or " + restart,
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, binascii.Error):
        raise invalid from None
    if raw[:1] != bytes([CURSOR_VERSION]):
        # Version 1 cursors were base64 text, whose first byte is a hex digit.
        if raw[:1].isalnum():
            raise InvalidCursorError("cursor is from an incompatible version", hint=restart)
        raise invalid
    check, tag, body = raw[1 : 1 + _CHECK], raw[1 + _CHECK : _HEAD], raw[_HEAD:]
    if len(raw) <= _HEAD or _check(tag, body) != check:
        raise invalid
    if tag != _tag(fingerprint):
        raise InvalidCursorError(
            "cursor belongs to a different query (filters, backend, collection or sort changed)",
            hint="repeat the exact filters of the call that returned this cursor, or " + restart,
        )
    try:
        state = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise _malformed() from None
    if not isinstance(state, dict) or not state:
        raise _malformed()
    return state


def _malformed() -> InvalidCursorError:
    return InvalidCursorError(
        "cursor is malformed (its state is not one this server writes)",
        hint="pass next_cursor exactly as it was returned, or call list_processes again "
        "without cursor to start from the first page",
    )


def check_kind(entry: Any, *, fan_out: bool) -> None:
    """The entry is of a kind this server writes (its position is checked later, against
    the collection's addressing, by `_check_entry`)."""
    if entry is None or isinstance(entry, int | list):
        return
    if fan_out and entry == SKIPPED:
        return
    if fan_out and isinstance(entry, dict) and set(entry) == {RETRY}:
        inner = entry[RETRY]
        if inner is None or isinstance(inner, int | list):
            return
    raise _malformed()


def is_live(entry: Any) -> bool:
    """The entry still has rows to give (an ended or skipped instance has none)."""
    return entry is not None and entry != SKIPPED


def _check_entry(entry: Any, addressing: str, max_page_size: int | None = None) -> None:
    """A checksum catches accidents, not a hand-made cursor: check that the state is one
    the driver could have written for this collection."""
    if entry is None:
        return
    if addressing == "token":
        ok = (
            isinstance(entry, list)
            and len(entry) == 3
            and (entry[0] is None or isinstance(entry[0], str))
            and all(_count(v) for v in entry[1:])
            # size 0: the stream never fetched, so it cannot be inside a page yet
            and (entry[2] > 0 or entry[1] == 0)
            and (max_page_size is None or entry[2] <= max_page_size)
            and (entry[0] is None or len(entry[0]) <= MAX_TOKEN_CHARS)
        )
    else:
        ok = _count(entry)
    if not ok:
        raise _malformed()


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_OFFSET
