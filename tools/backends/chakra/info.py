"""ChakraHQ's instance settings, the shapes of its ids, and how its errors read (facts:
shared/reference/chakra-and-tallyfy.md part A)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from tools.backends.base import InstanceSettings
from tools.ids import UUID, IdShape

if TYPE_CHECKING:
    import httpx

MAX_PAGE = 100
# A process is addressed by uuid (A2) or by its primary-key value, which Chakra's own API
# puts into a path as one segment (Update by PK, A16): so a value that could not be one
# segment (/ ? # \ %), or starts or ends with a space, is no process reference at all.
_REF = re.compile(r"[^\s/?#\\%](?:[^/?#\\%]*[^\s/?#\\%])?")
PROCESS_REF = IdShape(
    "Chakra process id",
    _REF,
    "a uuid such as 3f2b9c1e-8d4a-4b6e-9f10-2a7c5e8d1b44, or a primary-key value such as LEAD-0012",
)
PROCESS_UUID = IdShape("Chakra process uuid", UUID, "3f2b9c1e-8d4a-4b6e-9f10-2a7c5e8d1b44")
PROCEDURE = IdShape("Chakra procedure short id", None, "lead")


class ChakraSettings(InstanceSettings):
    kind: str = "chakra"
    base_url: str = "https://api.chakrahq.com"
    # The collection used when a call names none; default: the config's first procedure.
    default_procedure: str | None = None
    # How any-of lists are sent: as arrays (IN, the reference's reading of an undocumented
    # case) or as `or` groups of single values (documented, longer).
    any_of: Literal["array", "or"] = "array"
    # Procedure short id -> attribute short id, where the guess (naming.py) is wrong:
    # the attribute that names a process beside its key ("" for none) ...
    title_attribute: dict[str, str] = Field(default_factory=dict)
    # ... and its primary key, where the config does not mark it.
    primary_key: dict[str, str] = Field(default_factory=dict)


def chakra_error_message(response: httpx.Response) -> str | None:
    """Every `_errors` entry of the envelope (the SDK shows only the first)."""
    from tools.http import default_error_message

    try:
        body = response.json()
    except ValueError:
        return default_error_message(response)
    errors = body.get("_errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    return default_error_message(response)
