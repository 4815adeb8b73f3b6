"""The contract of a cache shared by replicas (Redis: tools.shared_state), kept apart so
that the HTTP settings can name it without importing a Redis client.

What goes in: raw 2xx bodies of discovery reads (Chakra config and users, Kommo
pipelines and fields, Frends definitions), under a key that names the account, a digest
of the credentials and the URL, so that two tokens with different rights never share an
entry. Never a credential, never a list page."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Protocol

# How long replicas share a discovery response: a pipeline or field renamed in the vendor's
# UI shows after at most this long (each instance also keeps its own copy, as before).
DISCOVERY_TTL = 300.0


class SharedCache(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The stored value, or None (missing, expired, or the store unreachable)."""
        ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store `value` for `ttl` seconds; a store that is unreachable forgets it."""
        ...


def cache_key(account: str, headers: Mapping[str, str], url: str) -> str:
    """The shared cache's key of a read: the account, a digest of the credentials (two
    tokens may see different things) and the URL, hashed so no secret is stored."""
    digest = hashlib.sha256()
    for part in (account, *sorted(headers.items()), url):
        digest.update(repr(part).encode() + b"\0")
    return f"process-mcp:cache:{digest.hexdigest()}"
