"""A least-recently-used cache of encoded bodies, bounded by the bytes it holds.

Simulators serve read-only data, so an encoded answer can be served again as is; the bound
is in bytes, not entries, because one Frends row carries kilobytes of BPMN and a page of
them megabytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class ByteCache:
    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable, build: Callable[[], bytes]) -> bytes:
        """The cached bytes for `key`, else `build()` (kept if it fits the budget)."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        body = build()
        if len(body) <= self.max_bytes:
            self._items[key] = body
            self.size += len(body)
            while self.size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.size -= len(old)
        return body
