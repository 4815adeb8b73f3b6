"""Frends objects to canonical rows, secret scrubbing, and Problem Details to messages.

Secrets. Frends does not say whether the API masks `isSecret` process variables, and its own
docs warn the values are not masked downstream, so every value of a secret variable is
treated as leaked wherever it may show up: it is replaced by `SECRET_MASK` in the variable
itself and scrubbed out of every other string we pass on (names, descriptions, change notes,
BPMN, task parameters, exception texts). Values long enough to be recognisable are also
registered with `tools.redact`, so no log line or error text can carry them either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tools import decode, redact
from tools.backends.base import RowParts
from tools.backends.frends.shapes import DefinitionRow, Execution, FullExecution
from tools.model import ProcessSummary, Status, human_duration, parse_time

if TYPE_CHECKING:
    import httpx

SECRET_MASK = "[secret]"
# Shorter secret values ("true", "1234") are masked in their variable but not hunted for in
# other text: they would mangle ordinary words while protecting nothing.
MIN_SCRUB = 6
SUMMARY_TEXT_MAX = 200
EVERY_PART = RowParts()

# Instance states: "Ok" is the documented example; Running and Failed follow the documented
# stateFilter values (ShowRunning, ShowSuccessful, ShowFailed).
NATIVE_STATES: dict[str, Status] = {"Running": "open", "Ok": "completed", "Failed": "failed"}
# Definition "states": not statuses, but what tells versions apart (filtered locally).
DEFINITION_STATES = ("latest", "previous", "draft")


# -- secrets --------------------------------------------------------------------------------


def as_row(raw: Mapping[str, Any], backend: str) -> DefinitionRow:
    """A definition read whole (a single GET) as the row shape the summary reads."""
    return decode.convert(raw, DefinitionRow, backend=backend)


def secret_values(row: DefinitionRow) -> frozenset[str]:
    """Values of the definition's secret process variables, as text."""
    found: set[str] = set()
    for var in row.process_variables or ():
        if not var.is_secret:
            continue
        value = var.value
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        if len(text) >= MIN_SCRUB:
            found.add(text)
    return frozenset(found)


class Scrubber:
    """Replaces every occurrence of any of `secrets` with SECRET_MASK, in one regex pass
    (a few values: plain replaces, which beat compiling a pattern for one row)."""

    FEW = 4

    def __init__(self, secrets: Iterable[str], then: Scrubber | None = None) -> None:
        # `then`: applied after these secrets (a row's own values, then the instance's).
        # Longest first: a secret containing another is masked whole.
        ordered = sorted({s for s in secrets if len(s) >= MIN_SCRUB}, key=lambda s: (-len(s), s))
        self._few = ordered if len(ordered) <= self.FEW else None
        self._pattern = (
            re.compile("|".join(map(re.escape, ordered))) if ordered and self._few is None else None
        )
        self._then = then

    def __call__(self, text: str) -> str:
        if self._few is not None:
            for secret in self._few:
                if secret in text:
                    text = text.replace(secret, SECRET_MASK)
        elif self._pattern is not None:
            text = self._pattern.sub(SECRET_MASK, text)
        return self._then(text) if self._then is not None else text

    def deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.deep(v) for v in value]
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        return value


class Secrets:
    """Every secret value learnt so far (plus registered credentials), as one Scrubber."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self._cache: tuple[frozenset[str], Scrubber] | None = None

    def learn(self, values: Iterable[str], *, register: bool = True) -> None:
        """`register=False` keeps the values out of the process-wide log filter: the
        directory learns every definition's secrets (to scrub execution texts), and
        thousands of values there would slow every log line of every backend."""
        for value in values:
            if value not in self.known:
                self.known.add(value)
                if register:
                    redact.register_secret(value)

    def scrubber(self) -> Scrubber:
        every = frozenset(self.known) | redact.registered_secrets()
        if self._cache is None or self._cache[0] != every:
            self._cache = (every, Scrubber(every))
        return self._cache[1]


def masked_variables(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for var in raw.get("processVariables") or ():
        if isinstance(var, dict):
            value = SECRET_MASK if var.get("isSecret") else var.get("value")
            out.append({**var, "value": value})
    return out


def first_line(text: Any, scrub: Scrubber, limit: int = SUMMARY_TEXT_MAX) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    line = scrub(text.strip().splitlines()[0].strip())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def bounded(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit] + "…", True)


# -- rows -----------------------------------------------------------------------------------


def definition_state(row: DefinitionRow) -> str:
    if row.is_draft:
        return "draft"
    return "previous" if row.is_not_latest_version else "latest"


def definition_summary(
    backend: str, raw: DefinitionRow, scrub: Scrubber, parts: RowParts = EVERY_PART
) -> ProcessSummary:
    """One version of a process. `modified` is when the version was saved, which for a
    published (immutable) version is also when it was created: it is `created_at`."""
    state = definition_state(raw)
    version = raw.version
    guid = raw.unique_identifier or None
    row = ProcessSummary(
        backend=backend,
        collection="processes",
        id=str(raw.id),
        name=scrub(raw.name or ""),
        native_status=state,
        template_id=guid,
        owner=scrub(raw.modifier) if raw.modifier else None,
        created_at=parse_time(raw.modified),
        extra=_definition_extra(raw, guid, scrub) if parts.extra else None,
    )
    if not parts.attributes:
        return row
    return row.with_attributes(
        {
            "version": version,
            "latest": state == "latest",
            "draft": state == "draft",
            "subprocess": bool(raw.is_subprocess),
            "guid": guid,
        }
    )


def _definition_extra(raw: DefinitionRow, guid: str | None, scrub: Scrubber) -> dict[str, Any]:
    extra = {
        "version": raw.version,
        "guid": guid,
        "subprocess": True if raw.is_subprocess else None,
        "description": first_line(raw.description, scrub),
        "change": first_line(raw.change_description, scrub),
        "base_version_id": raw.id_of_base_process_for_draft,
    }
    return {k: v for k, v in extra.items() if v is not None}


def as_execution(raw: Execution | Mapping[str, Any], backend: str) -> Execution:
    """An execution decoded from a list page as is; one read whole (its details) as the
    full shape."""
    return decode.row(raw, Execution, FullExecution, backend=backend)


def instance_summary(
    backend: str,
    collection: str,
    raw: Execution | Mapping[str, Any],
    process_name: str | None,
    scrub: Scrubber,
    process_guid: str | None = None,
    parts: RowParts = EVERY_PART,
) -> ProcessSummary:
    """One execution, named after its process (the executed version's name); the guid
    comes from the row, else from the executed version (`process_guid`). The extras and
    the `where` attributes need it decoded as a FullExecution."""
    row = as_execution(raw, backend)
    state = row.state or None
    started = parse_time(row.start_time_utc)
    ended = parse_time(row.end_time_utc)
    guid = (row.process_guid or "").lower() or process_guid
    name = scrub(process_name) if process_name else f"process {guid or row.process_id}"
    full = row if isinstance(row, FullExecution) else None
    out = ProcessSummary(
        backend=backend,
        collection=collection,
        id=row.execution_id,
        name=name,
        status=NATIVE_STATES.get(state or ""),
        native_status=state,
        template=name if process_name else None,
        template_id=guid,
        owner=scrub(row.user_name) if row.user_name else None,
        created_at=started,
        updated_at=ended or started,
        duration=human_duration((ended - started).total_seconds()) if started and ended else None,
        extra=_instance_extra(full, scrub) if parts.extra and full else None,
    )
    if parts.attributes and full:
        out.with_attributes(
            {
                "version": full.process_version,
                "child": full.parent_id is not None,
                "acknowledged": full.acknowledged_utc is not None,
                "trigger": full.trigger_name,
                "agent": full.agent_name,
            }
        )
    return out


def _instance_extra(row: FullExecution, scrub: Scrubber) -> dict[str, Any]:
    extra = {
        "instance_id": row.id,
        "version": row.process_version,
        "trigger": first_line(row.trigger_name, scrub),
        "agent": row.agent_name,
        "parent": first_line(row.parent_name, scrub),
        "ended_at": row.end_time_utc,
        "acknowledged_at": row.acknowledged_utc,
        "error": first_line(row.exception, scrub),
    }
    return {k: v for k, v in extra.items() if v is not None}


# -- errors ---------------------------------------------------------------------------------


def frends_error_message(response: httpx.Response) -> str | None:
    """Problem Details -> "title: detail (traceId ...)"; validation errors add the first
    field message. A long detail goes after the trace id, so the id survives the client's
    300-character cut."""
    from tools.http import default_error_message
    from tools.vendor_messages import VENDOR_MESSAGE_MAX

    try:
        body = response.json()
    except ValueError:
        return default_error_message(response)
    if not isinstance(body, dict) or not ({"title", "detail"} & set(body)):
        return default_error_message(response)
    parts = [str(body.get("title") or f"HTTP {response.status_code}")]
    detail = body.get("detail")
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        name, messages = next(iter(errors.items()))
        first = messages[0] if isinstance(messages, list) and messages else messages
        detail = f"{detail + '; ' if detail else ''}{name}: {first}"
    title = parts[0]
    trace = body.get("traceId")
    tail = f" (traceId {trace})" if isinstance(trace, str) and trace else ""
    if not (isinstance(detail, str) and detail.strip()):
        return title + tail
    # Never cut here: the client scrubs secrets and only then cuts to length, so a long
    # detail goes last (after the trace id) and is the part that the cut shortens.
    text = f"{title}: {detail.strip()}{tail}"
    return text if len(text) <= VENDOR_MESSAGE_MAX else f"{title}{tail}: {detail.strip()}"
