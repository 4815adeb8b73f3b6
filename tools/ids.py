"""Process ids are data, never paths: one check and one quoting rule for every adapter.

An id comes from the model, which may have been handed it by hostile vendor text, so an
adapter never splices it into a URL as it stands. `path_segment` refuses what cannot be
an id at all (blank, `.` and `..`, control characters) and what does not have the shape
the vendor's ids are known to have, and quotes the rest so that it stays one path
segment: `/`, `?`, `#` and `%` are percent-encoded, so `zz/../<id>` or `<id>?x=y` can
neither reach another record nor add a query parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from tools.arguments import shown
from tools.bounds import ID_CHARS
from tools.errors import InvalidArgumentError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID_CHARS = ID_CHARS


@dataclass(frozen=True)
class IdShape:
    """What one vendor's ids look like, for the check and for the message that explains it."""

    what: str  # "Tallyfy run id"
    pattern: re.Pattern[str] | None  # None: the vendor's id shape is not documented
    example: str  # "32 hexadecimal characters, e.g. 4f1c..."


HEX32 = re.compile(r"[0-9a-fA-F]{32}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
INTEGER = re.compile(r"[1-9][0-9]{0,18}")


def check_id(value: str, shape: IdShape) -> str:
    """The id, unchanged, if it can be one of `shape`; else an error that says what ids look
    like (never "check the base URL": the id, not the configuration, is wrong)."""
    if (
        not value
        or not value.strip()
        or value in (".", "..")
        or len(value) > MAX_ID_CHARS
        or _CONTROL.search(value)
        or (shape.pattern is not None and not shape.pattern.fullmatch(value))
    ):
        raise InvalidArgumentError(
            f"not a valid {shape.what}: {shown(value, 60)} (ids look like {shape.example})",
            field="id",
            hint="pass an id exactly as a list_processes row shows it",
        )
    return value


def path_segment(value: str, shape: IdShape) -> str:
    """`value` checked against `shape` and quoted as exactly one URL path segment."""
    return quote(check_id(value, shape), safe="")
