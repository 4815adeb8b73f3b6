"""hypothesis-jsonschema 0.23.1 (its latest release) draws objects with the old
`many(...).more()` loop of Hypothesis' internals, which newer Hypothesis replaced by a
context manager. This adapter gives it the old face over the new one; it is applied only
when the installed Hypothesis lacks `more()`, and only to hypothesis-jsonschema."""

from __future__ import annotations

import types
from typing import Any

import hypothesis_jsonschema._from_schema as from_schema_module
from hypothesis.internal.conjecture import utils as cu


class _OldStyleMany:
    def __init__(self, data: Any, min_size: int, max_size: float, average_size: float) -> None:
        # Each element's draws happen between two more() calls, inside the element's span.
        self._many = cu.many(data, min_size=min_size, max_size=max_size, average_size=average_size)
        self._many.__enter__()
        self._steps = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._steps)
        except StopIteration:
            self._many.__exit__(None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


def install() -> None:
    if hasattr(cu.many, "more"):
        return
    shim = types.SimpleNamespace(**{**vars(cu), "many": _OldStyleMany})
    from_schema_module.cu = shim  # type: ignore[assignment]
