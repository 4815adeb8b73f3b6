"""Compact text for the model: one line per process, dates as days, nulls left out.

A list answer's text is its table (tools/table.py) as lines: a header of column names,
then one line of cells per process, rendered from the structured answer alone. Other
answers carry their typed result in structuredContent beside a text written to be read.
Vendor text is data: every value a backend supplied passes through tools/safe_text.py
(`cell` inside a ` | ` row, `line` elsewhere), so no value can add a line, forge one the
server writes, or a separator.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tools import safe_text
from tools.export_process import ExportResult
from tools.list_backends import BackendsResult, CollectionView
from tools.model import Counted, ProcessDetail, ProcessSummary, SummaryResult
from tools.table import ListPage


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


# Only a detail is rendered as one line now (a list answer is a table).
Row = ProcessSummary | ProcessDetail


def _status(row: Row) -> str | None:
    if row.status and row.native_status and row.native_status != row.status:
        return f"{row.status}/{row.native_status}"
    return row.status or row.native_status


def process_line(row: Row, *, show_backend: bool) -> str:
    head = f"{row.backend}:{row.id}" if show_backend else row.id
    parts = [safe_text.cell(head), safe_text.cell(row.name)]
    if (status := _status(row)) is not None:
        parts.append(f"[{safe_text.cell(status)}]")
    labelled = (
        ("template", row.template),
        ("owner", row.owner),
        ("created", _day(row.created_at)),
        ("updated", _day(row.updated_at)),
        ("due", _day(row.due_at)),
        ("progress", row.progress),
        ("took", row.duration),
        ("tags", ",".join(row.tags) if row.tags else None),
    )
    parts.extend(f"{k}={safe_text.cell(v)}" for k, v in labelled if v)
    if row.extra:
        parts.append(safe_text.cell(json.dumps(row.extra, separators=(",", ":"), default=str)))
    return " | ".join(parts)


def _cell(value: Any) -> str:
    """One cell of the answer's table as the text shows it (vendor text made safe)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text.cell(value)
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return safe_text.cell(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    return safe_text.cell(json.dumps(value))


def list_text(page: ListPage) -> str:
    """The table of a list answer, as lines: rendered from the structured answer alone,
    so a client that shows only structuredContent misses nothing this says."""
    head = f"{page.count} process{'es' if page.count != 1 else ''}"
    if page.total is not None:
        head += f" of {page.total}"
    if page.scanned is not None:
        head += f" (examined {page.scanned} rows)"
    lines = [head]
    if page.applied:
        lines.append(
            "filtered here, not by the backend: "
            + "; ".join(f"{a.backend}.{a.field} {a.mode}" for a in page.applied)
        )
    if page.shared:
        lines.append("every row: " + " | ".join(f"{k}={_cell(v)}" for k, v in page.shared.items()))
    if page.rows:
        lines.append(" | ".join(safe_text.cell(c) for c in page.columns))
        lines.extend(" | ".join(_cell(v) for v in row) for row in page.rows)
    lines.extend(f"warning: {safe_text.line(w)}" for w in page.warnings or ())
    if page.next_cursor:
        lines.append(f"more: call again with cursor={page.next_cursor}")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def detail_text(detail: ProcessDetail) -> str:
    lines = [process_line(detail, show_backend=True)]
    if detail.description:
        lines.append(f"description: {safe_text.line(detail.description)}")
    times = (
        ("started", _day(detail.started_at)),
        ("completed", _day(detail.completed_at)),
    )
    if any(v for _, v in times):
        lines.append(" | ".join(f"{k}={v}" for k, v in times if v))
    if detail.tasks is not None:
        lines.append(f"tasks ({len(detail.tasks)}):")
        for t in detail.tasks:
            bits = [
                f"  {t.position}." if t.position is not None else "  -",
                f"[{safe_text.cell(str(t.status))}]",
                safe_text.cell(t.name),
            ]
            if t.owner:
                bits.append(f"owner={safe_text.cell(t.owner)}")
            if t.due_at:
                bits.append(f"due={_day(t.due_at)}")
            if t.completed_at:
                bits.append(f"done={_day(t.completed_at)}")
            if t.overdue:
                bits.append("OVERDUE")
            lines.append(" ".join(bits))
    if detail.fields:
        lines.append("fields:")
        lines.extend(
            f"  {safe_text.line(k)}: {safe_text.line(_value(v))}" for k, v in detail.fields.items()
        )
    for name, section in (detail.sections or {}).items():
        lines.append(f"{name}: {safe_text.line(_value(section))}")
    lines.extend(f"note: {safe_text.line(n)}" for n in detail.notes or ())
    return "\n".join(lines)


def backends_text(result: BackendsResult) -> str:
    lines = [f"server time {result.server_time.isoformat()}"]
    if not result.backends:
        lines.append("no backends configured: start with --sandbox or see README 'Configuration'")
    for b in result.backends:
        if not b.usable:
            lines.append(f"{b.name}: UNUSABLE - {safe_text.line(b.problem or '')}")
            continue
        desc = f" - {safe_text.line(b.description)}" if b.description else ""
        lines.append(f"{b.name} (kind {b.kind}){desc}; default collection {b.default_collection}")
        shown: dict[str, str] = {}  # rendered body -> first collection with it
        for c in b.collections:
            lines.append(f"  collection {safe_text.line(c.name)}: {safe_text.line(c.description)}")
            body = _collection_body(c)
            # Collections that differ only in name (Frends agent groups) are said once.
            if body in shown:
                lines.append(f"    statuses, filters and sorts as {shown[body]}")
                continue
            shown[body] = safe_text.line(c.name)
            lines.extend(body.splitlines())
    return "\n".join(lines)


def _collection_body(c: CollectionView) -> str:
    lines: list[str] = []
    if c.statuses:
        lines.append(
            "    statuses: " + ", ".join(f"{safe_text.line(n)}->{u}" for n, u in c.statuses.items())
        )
    by_mode: dict[str, list[str]] = {}
    for field, info in c.filters.items():
        by_mode.setdefault(info.mode, []).append(field)
    for mode in ("native", "narrowed", "local", "unsupported"):
        if mode in by_mode:
            lines.append(f"    {mode}: {', '.join(by_mode[mode])}")
    own_order = "none (rows come in the backend's own order)"
    lines.append(f"    sorts: {', '.join(c.sorts) or own_order}")
    if c.sections:
        lines.append(f"    get_process include: {', '.join(c.sections)}")
    lines.append(
        "    summarize: vendor totals when every filter is native"
        if c.counts == "vendor totals"
        else "    summarize: counts rows (the vendor reports no total)"
    )
    if c.attributes:
        lines.append(
            "    where attributes: "
            + ", ".join(
                f"{safe_text.line(k)} ({safe_text.line(v)})" for k, v in c.attributes.items()
            )
        )
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n} B"


def export_text(result: ExportResult) -> str:
    what = f"{result.rows} rows" if result.rows is not None else "1 process"
    lines = [
        f"Exported {what} as {result.format} to {result.path} "
        f"({_size(result.size_bytes)}, sha256 {result.sha256[:16]}...)",
        f"Read it back: resources/read {result.uri}",
    ]
    if result.total is not None and result.rows is not None:
        lines.append(f"matching rows reported by the backend: {result.total}")
    if result.duplicates_removed:
        lines.append(
            f"{result.duplicates_removed} rows seen twice while data moved were written once"
        )
    local = [a for a in result.applied if a.mode in ("narrowed", "local")]
    if local:
        lines.append("checked here: " + ", ".join(f"{a.field} ({a.backend})" for a in local))
    lines += [f"warning: {safe_text.line(w)}" for w in result.warnings]
    # Indented: a preview line is the file's (vendor text), never a line of the server's.
    lines += ["preview:", *(f"  {p}" for p in safe_text.lines(result.preview))]
    return "\n".join(lines)


def _counted(c: Counted) -> str:
    requests = f"{c.requests} request{'s' if c.requests != 1 else ''}"
    if c.method == "vendor totals":
        return f"{c.backend} vendor totals ({requests})"
    examined = f"{c.examined or 0:,}"
    if c.capped:
        of = f"{c.of:,}" if c.of is not None else f"at least {examined}"
        return f"{c.backend} counted {examined} of {of} rows: a lower bound (scan cap; {requests})"
    return f"{c.backend} examined {examined} rows ({requests})"


def summary_text(result: SummaryResult) -> str:
    """A head line, how each instance was counted, then one line per group, largest
    first: `count | value[ | value]`, a `+` after a count that is a lower bound."""
    listed = result.groups()
    groups = len(listed) + (result.more_groups or 0)
    head = f"{result.total:,}{'' if result.exact else '+'} processes in {groups} group"
    head += f"{'s' if groups != 1 else ''} by {' and '.join(result.group_by)}"
    every = result.exact and all(g.exact for g in listed)
    head += ", every count exact" if every else "; N+ = at least N (a lower bound)"
    lines = [head, "counted: " + "; ".join(_counted(c) for c in result.counted)]
    if result.applied:
        lines.append(
            "filtered here, not by the backend: "
            + "; ".join(f"{a.backend}.{a.field} {a.mode}" for a in result.applied)
        )
    for g in listed:
        count = f"{g.count:,}{'' if g.exact else '+'}"
        lines.append(" | ".join([count, *(safe_text.cell(k) for k in g.key)]))
    if result.more_groups:
        lines.append(
            f"... {result.more_groups} smaller groups: {result.more_count or 0:,} processes"
        )
    lines.extend(f"warning: {safe_text.line(w)}" for w in result.warnings or ())
    return "\n".join(lines)
