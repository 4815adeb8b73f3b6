"""Wire forms of Frends definitions: the full `DtoProcessGet` object, BPMN XML included.

Rendered from a `Definition` record on demand and deterministically (no randomness here), so
the simulator can serve 10,000 versions without holding 10,000 BPMN documents, and every
call returns byte-identical objects.
"""

from __future__ import annotations

import itertools
import json
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tools.backends.frends.records import FRENDS_VERSION, Definition, Json, Step, iso

BPMN_NS = {
    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xmlns:bpmn2": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "xmlns:bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "xmlns:dc": "http://www.omg.org/spec/DD/20100524/DC",
    "xmlns:di": "http://www.omg.org/spec/DD/20100524/DI",
    "xmlns:frends": "http://frends.com/bpmn/extensions",
}
_TAG = {
    "start": "startEvent",
    "task": "serviceTask",
    "code": "scriptTask",
    "decision": "exclusiveGateway",
    "call": "callActivity",
    "end": "endEvent",
}
_TYPE = {
    "start": "Start",
    "task": "Task",
    "code": "Code",
    "decision": "ExclusiveDecision",
    "call": "Subprocess",
    "end": "Return",
}
_SIZE = {"start": (36, 36), "end": (36, 36), "decision": (50, 50)}


def element_id(index: int, step: Step) -> str:
    return f"{_TYPE[step.kind]}_{index + 1}"


def definition_wire(d: Definition) -> Json:
    """The object `GET /processes/{id}` returns as `data` (and each list row, plus links)."""
    return {
        "isDeleted": False,
        "version": d.version,
        "uniqueIdentifier": d.guid,
        "id": d.id,
        "name": d.name,
        "modified": iso(d.modified),
        "modifier": d.modifier,
        "description": d.description,
        "isNotLatestVersion": not d.latest and not d.is_draft,
        "changeDescription": d.change,
        "bpmn": bpmn(d),
        "elementParameters": element_parameters(d),
        "manualTrigger": [],
        "obsoleteTasks": [],
        "draftId": d.draft_id,
        "idOfBaseProcessForDraft": d.base_id,
        "isDraft": d.is_draft,
        "isSubprocess": d.is_subprocess,
        "graphData": graph_data(d),
        "triggerData": [{"type": d.trigger, "parameters": d.trigger_params}],
        "majorVersion": 1,
        "minorVersion": d.version - 1,
        "isMigration": False,
        "activateIfNew": False,
        "frendsVersion": FRENDS_VERSION,
        "ignoreDependencyConflicts": False,
        "documentationMarkdown": d.documentation,
        "targetFramework": "net8.0",
        "apiSpecId": None,
        "isForMonitoringRule": False,
        "validationOnly": False,
        "cancellationDisabled": False,
        "processVariables": [
            {
                "name": v.name,
                "value": v.value,
                "isSecret": v.is_secret,
                "mode": "EnvironmentReference"
                if isinstance(v.value, str) and v.value.startswith("#env.")
                else "Value",
                "description": v.description,
            }
            for v in d.variables
        ],
        "processTemplate": None,
        "processTemplateDeviated": None,
        "nextProcessTemplate": None,
    }


def _layout(d: Definition) -> list[tuple[str, Step, int, int, int, int]]:
    """(element id, step, x, y, width, height): left to right, one lane."""
    out = []
    x = 150
    for i, step in enumerate(d.steps):
        w, h = _SIZE.get(step.kind, (100, 80))
        out.append((element_id(i, step), step, x, 200 - h // 2, w, h))
        x += w + 60
    return out


def bpmn(d: Definition) -> str:
    """A BPMN 2.0 document of a few kilobytes: the process, its flows and its diagram."""
    layout = _layout(d)
    process_id = "Process_" + d.guid.replace("-", "")[:12]
    flows = [(f"Flow_{i + 1}", a[0], b[0]) for i, (a, b) in enumerate(itertools.pairwise(layout))]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    ns = " ".join(f'{k}="{v}"' for k, v in BPMN_NS.items())
    lines.append(
        f'<bpmn2:definitions {ns} id="Definitions_{d.id}" '
        f'targetNamespace="http://bpmn.io/schema/bpmn" exporter="Frends" '
        f'exporterVersion="{FRENDS_VERSION}">'
    )
    lines.append(
        f'  <bpmn2:process id="{process_id}" name={quoteattr(d.name)} isExecutable="true">'
    )
    if d.documentation:
        lines.append(f"    <bpmn2:documentation>{escape(d.documentation)}</bpmn2:documentation>")
    for i, (eid, step, *_rest) in enumerate(layout):
        tag = _TAG[step.kind]
        lines.append(f"    <bpmn2:{tag} id={quoteattr(eid)} name={quoteattr(step.name)}>")
        if step.task or step.params:
            lines.append("      <bpmn2:extensionElements>")
            if step.task:
                lines.append(f"        <frends:task type={quoteattr(step.task)} />")
            for key, value in step.params:
                lines.append(
                    f"        <frends:parameter name={quoteattr(key)}>{escape(value)}"
                    "</frends:parameter>"
                )
            lines.append("      </bpmn2:extensionElements>")
        if i > 0:
            lines.append(f"      <bpmn2:incoming>Flow_{i}</bpmn2:incoming>")
        if i + 1 < len(layout):
            lines.append(f"      <bpmn2:outgoing>Flow_{i + 1}</bpmn2:outgoing>")
        if step.kind == "start" and d.trigger == "Schedule":
            lines.append("      <bpmn2:timerEventDefinition />")
        lines.append(f"    </bpmn2:{tag}>")
    for fid, src, dst in flows:
        lines.append(f'    <bpmn2:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}" />')
    lines.append("  </bpmn2:process>")
    lines.append('  <bpmndi:BPMNDiagram id="BPMNDiagram_1">')
    lines.append(f'    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="{process_id}">')
    for eid, _step, x, y, w, h in layout:
        lines.append(f'      <bpmndi:BPMNShape id="{eid}_di" bpmnElement="{eid}">')
        lines.append(f'        <dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />')
        lines.append("      </bpmndi:BPMNShape>")
    boxes = {eid: (x, y, w, h) for eid, _s, x, y, w, h in layout}
    for fid, src, dst in flows:
        sx, sy, sw, sh = boxes[src]
        tx, ty, _tw, th = boxes[dst]
        lines.append(f'      <bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">')
        lines.append(f'        <di:waypoint x="{sx + sw}" y="{sy + sh // 2}" />')
        lines.append(f'        <di:waypoint x="{tx}" y="{ty + th // 2}" />')
        lines.append("      </bpmndi:BPMNEdge>")
    lines.append("    </bpmndi:BPMNPlane>")
    lines.append("  </bpmndi:BPMNDiagram>")
    lines.append("</bpmn2:definitions>")
    return "\n".join(lines)


def element_parameters(d: Definition) -> list[Json]:
    out: list[Json] = []
    for i, step in enumerate(d.steps):
        parameters: dict[str, Any] = {key: value for key, value in step.params}
        if step.kind == "code":
            parameters["Expression"] = f"// {step.name}\nreturn #var.input;"
        if step.kind == "start":
            parameters["Trigger"] = {"type": d.trigger, **d.trigger_params}
        out.append(
            {
                "id": element_id(i, step),
                "type": _TYPE[step.kind],
                "parameters": parameters,
                "selectedTypeId": step.task,
                "promoteResultAs": None,
                "name": step.name,
                "description": None,
                "isDefault": False,
                "shouldRetry": step.kind == "task",
                "maxRetryCount": 3 if step.kind == "task" else 0,
                "shouldNotLogResult": False,
                "shouldDispose": False,
            }
        )
    return out


def graph_data(d: Definition) -> Json:
    return {
        "zoom": 1.0,
        "cells": {
            eid: {"x": x, "y": y, "width": w, "height": h, "label": step.name}
            for eid, step, x, y, w, h in _layout(d)
        },
    }


def encoded(obj: Any) -> bytes:
    """Compact JSON, as ASP.NET's System.Text.Json writes it (non-ASCII kept as is)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
