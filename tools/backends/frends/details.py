"""get_process for Frends: one definition version or one execution, with the sections asked for.

Sizes are bounded (what was cut is said in `notes`) and every string passes through the
secret scrubber: a definition's own secret values, plus every secret learnt so far.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tools.backends.frends import convert
from tools.backends.frends.directory import version_ids
from tools.backends.frends.shapes import DefinitionRow
from tools.model import Detail, ProcessDetail, TaskInfo, parse_time

if TYPE_CHECKING:
    from tools.backends.frends.adapter import FrendsBackend

MAX_BPMN_CHARS = 4000
MAX_DESCRIPTION_CHARS = 1000
MAX_VALUE_CHARS = 300
MAX_VERSIONS = 20


class DetailBuilder:
    def __init__(self, backend: FrendsBackend) -> None:
        self.backend = backend

    async def definition(
        self, raw: Mapping[str, Any], sections: frozenset[str], detail: Detail
    ) -> ProcessDetail:
        backend = self.backend
        row = convert.as_row(raw, backend.name)
        backend.secrets.learn(convert.secret_values(row))
        history: list[DefinitionRow] = []
        if "history" in sections and raw.get("uniqueIdentifier"):
            history = await self._history(raw)
            for version in history:
                backend.secrets.learn(convert.secret_values(version))
        scrub = backend.secrets.scrubber()
        summary = convert.definition_summary(backend.name, row, scrub)
        notes: list[str] = []
        description = None
        if isinstance(raw.get("description"), str):
            description, cut = convert.bounded(
                scrub(raw["description"].strip()), MAX_DESCRIPTION_CHARS
            )
            if cut:
                notes.append(f"description cut to {MAX_DESCRIPTION_CHARS} characters")
        result = ProcessDetail(
            **summary.as_dict(exclude={"extra"}),
            extra=summary.extra if detail == "full" else None,
            description=description or None,
        )
        if "tasks" in sections:
            result.tasks = _elements(raw.get("elementParameters"), scrub)
        if "variables" in sections:
            result.fields = _variables(raw, scrub, notes)
        extra_sections: dict[str, Any] = {}
        if "definition" in sections:
            extra_sections["definition"] = _definition(raw, scrub, notes)
        if "history" in sections:
            extra_sections["history"] = _history(history, scrub, notes)
        result.sections = extra_sections or None
        result.notes = notes or None
        return result

    async def _history(self, raw: Mapping[str, Any]) -> list[DefinitionRow]:
        """Every version of the process, newest first (at most MAX_VERSIONS). The list may
        show only the latest version and its draft: the others are read by number."""
        reader = self.backend.reader
        guid = str(raw["uniqueIdentifier"]).lower()
        listed = await reader.versions(guid)
        numbers = {r.version for r in listed if not r.is_draft}
        top = max((n for n in (*numbers, raw.get("version")) if isinstance(n, int)), default=0)
        room = MAX_VERSIONS - len(listed)
        missing = [n for n in range(top, 0, -1) if n not in numbers][: max(0, room)]
        numbered = await reader.numbered(guid, missing)
        return listed + [convert.as_row(r, self.backend.name) for r in numbered]

    async def instance(
        self,
        collection: str,
        raw: Mapping[str, Any],
        sections: frozenset[str],
        detail: Detail,
    ) -> ProcessDetail:
        backend = self.backend
        pid = raw.get("processId")
        row = convert.as_execution(raw, backend.name)
        await backend.directory.resolve(version_ids([row]))
        scrub = backend.secrets.scrubber()
        name, guid = backend.directory.describe(row)
        summary = convert.instance_summary(backend.name, collection, row, name, scrub, guid)
        notes: list[str] = []
        description = None
        if isinstance(raw.get("exception"), str) and raw["exception"].strip():
            description, cut = convert.bounded(
                scrub(raw["exception"].strip()), MAX_DESCRIPTION_CHARS
            )
            if cut:
                notes.append(f"exception cut to {MAX_DESCRIPTION_CHARS} characters")
        result = ProcessDetail(
            **summary.as_dict(exclude={"extra"}),
            extra=summary.extra if detail == "full" else None,
            description=description,
            started_at=summary.created_at,
            completed_at=parse_time(raw.get("endTimeUtc")),
        )
        if "fields" in sections:
            result.fields = _promoted(raw, scrub, notes) or None
        if "definition" in sections:
            result.sections = {
                "definition": {
                    "process": name,
                    "guid": guid,
                    "version": raw.get("processVersion"),
                    "version_id": pid,
                    "get_process": f"id={pid} (collection processes)",
                }
            }
        result.notes = notes or None
        return result


def _value(value: Any, scrub: convert.Scrubber, label: str, notes: list[str]) -> Any:
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"))
        if len(text) <= MAX_VALUE_CHARS:
            return scrub.deep(value)
        value = text
    if isinstance(value, str):
        shown, cut = convert.bounded(scrub(value), MAX_VALUE_CHARS)
        if cut:
            notes.append(f"{label} cut to {MAX_VALUE_CHARS} characters")
        return shown
    return value


def _elements(raw: Any, scrub: convert.Scrubber) -> list[TaskInfo]:
    tasks: list[TaskInfo] = []
    for position, element in enumerate(raw or (), start=1):
        if not isinstance(element, dict):
            continue
        name = str(element.get("name") or element.get("id") or "")
        if element.get("selectedTypeId"):
            name += f" ({element['selectedTypeId']})"
        tasks.append(
            TaskInfo(
                id=str(element.get("id")),
                name=scrub(name),
                status=str(element.get("type")) if element.get("type") else None,
                position=position,
            )
        )
    return tasks


def _variables(raw: Mapping[str, Any], scrub: convert.Scrubber, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var in convert.masked_variables(raw):
        name = str(var.get("name"))
        out[name] = _value(var.get("value"), scrub, f"variable {name}", notes)
    return out


def _definition(
    raw: Mapping[str, Any], scrub: convert.Scrubber, notes: list[str]
) -> dict[str, Any]:
    # Scrub before cutting: a secret straddling the cut must not leave half of itself.
    xml = scrub(str(raw.get("bpmn") or ""))
    shown, cut = convert.bounded(xml, MAX_BPMN_CHARS)
    if cut:
        notes.append(
            f"BPMN cut from {len(xml)} to {MAX_BPMN_CHARS} characters; "
            "export_process writes the whole file"
        )
    triggers = scrub.deep(raw.get("triggerData") or [])
    return {
        "bpmn": shown,
        "bpmn_chars": len(xml),
        "triggers": triggers if len(json.dumps(triggers)) <= MAX_VALUE_CHARS else "(too long)",
        "frends_version": raw.get("frendsVersion"),
        "target_framework": raw.get("targetFramework"),
    }


def _history(rows: list[DefinitionRow], scrub: convert.Scrubber, notes: list[str]) -> list[Any]:
    ordered = sorted(rows, key=lambda r: r.modified or "", reverse=True)
    if len(ordered) > MAX_VERSIONS:
        notes.append(f"history shows the newest {MAX_VERSIONS} of {len(ordered)} versions")
    return [
        {
            "id": r.id,
            "version": r.version,
            "state": convert.definition_state(r),
            "modified": r.modified,
            "modifier": r.modifier,
            "change": convert.first_line(r.change_description, scrub),
        }
        for r in ordered[:MAX_VERSIONS]
    ]


def _promoted(raw: Mapping[str, Any], scrub: convert.Scrubber, notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in raw.get("promotedData") or ():
        if not isinstance(item, dict) or not item.get("promotedVariableName"):
            continue
        name = str(item["promotedVariableName"])
        value: Any = item.get("promotedValueJson")
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[name] = _value(value, scrub, f"promoted {name}", notes)
    return out
