"""The opaque cursor: base64 JSON with a checksum, bound to the query's fingerprint.

It holds per instance where its stream resumes, and nothing secret, so it needs no key,
survives restarts and works on every replica."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from tools.errors import InvalidCursorError

CURSOR_VERSION = 1


# -- cursor ---------------------------------------------------------------------------------

# Per instance: an int offset (page/offset addressing), [token, skip, size] (token
# addressing), or None when that instance's stream has ended.
CursorState = dict[str, Any]


def encode_cursor(fingerprint: str, state: CursorState) -> str:
    body = json.dumps({"v": CURSOR_VERSION, "q": fingerprint, "s": state}, separators=(",", ":"))
    check = hashlib.sha256(body.encode()).hexdigest()[:10]
    return base64.urlsafe_b64encode(f"{check}{body}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> CursorState:
    restart = "call list_processes again without cursor to start from the first page"
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        check, body = raw[:10], raw[10:]
        if hashlib.sha256(body.encode()).hexdigest()[:10] != check:
            raise ValueError("checksum")
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidCursorError(
            "cursor is not valid (it may be truncated or edited)",
            hint="pass next_cursor exactly as it was returned, or " + restart,
        ) from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise InvalidCursorError("cursor is from an incompatible version", hint=restart)
    if data.get("q") != fingerprint:
        raise InvalidCursorError(
            "cursor belongs to a different query (filters, backend, collection or sort changed)",
            hint="repeat the exact filters of the call that returned this cursor, or " + restart,
        )
    state = data.get("s")
    if not isinstance(state, dict):
        raise InvalidCursorError("cursor is not valid", hint=restart)
    return state


def _check_entry(entry: Any, addressing: str) -> None:
    """A checksum catches accidents, not a hand-made cursor: check the shape too."""
    if entry is None:
        return
    if addressing == "token":
        ok = (
            isinstance(entry, list)
            and len(entry) == 3
            and (entry[0] is None or isinstance(entry[0], str))
            and isinstance(entry[1], int)
            and isinstance(entry[2], int)
            and entry[1] >= 0
            and entry[2] >= 0  # 0: the stream never fetched, its page size is not chosen yet
        )
    else:
        ok = isinstance(entry, int) and not isinstance(entry, bool) and entry >= 0
    if not ok:
        raise InvalidCursorError(
            "cursor is not valid", hint="call list_processes again without cursor"
        )
