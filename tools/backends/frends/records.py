"""The records Frends sandbox data is made of: definitions (one per version or draft),
their steps and variables, and the data set (`FrendsData`), plus the wire time format.
`tools.backends.frends.data` generates them; `wire` renders a definition as the API does."""

from __future__ import annotations

import bisect
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

CANARY_SECRET = "frends-canary-Q7xW9zK2vLp4"
CANARY_PROCESS = "Sync Customers from Salesforce to SAP"
FRENDS_VERSION = "6.2.0.4711"


@dataclass(frozen=True)
class Step:
    """One BPMN element of a process; `task` is the Frends task (selectedTypeId)."""

    kind: str  # start | task | code | decision | call | end
    name: str
    task: str | None = None
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Variable:
    name: str
    value: Any
    is_secret: bool = False
    description: str | None = None


@dataclass
class Definition:
    """One process version (or draft), as `GET /processes` lists it."""

    id: int
    guid: str
    version: int
    name: str
    kind: str
    modified: datetime
    modifier: str
    description: str | None
    change: str | None
    is_subprocess: bool
    is_draft: bool
    trigger: str
    trigger_params: dict[str, str]
    steps: tuple[Step, ...]
    variables: tuple[Variable, ...]
    documentation: str | None = None
    latest: bool = False
    draft_id: int | None = None
    base_id: int | None = None


@dataclass(frozen=True)
class FrendsData:
    seed: int
    now: datetime
    users: list[str]
    environments: list[Json]
    agent_groups: list[Json]
    definitions: list[Definition]  # by id (= by modified time)
    instances: dict[int, list[Json]] = field(default_factory=dict)  # agent group -> oldest first

    def definition(self, process_id: int) -> Definition | None:
        i = bisect.bisect_left(self.definitions, process_id, key=lambda d: d.id)
        if i < len(self.definitions) and self.definitions[i].id == process_id:
            return self.definitions[i]
        return None

    def instance_rows(self) -> int:
        return sum(len(v) for v in self.instances.values())


def iso(moment: datetime) -> str:
    """Frends' form: UTC with milliseconds and a Z (`2025-09-07T10:06:08.662Z`)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
