"""export_process: one process in full, or every process matching a list query, to a file.

Two modes, chosen by `id`:
- with `id`: the process with every section its backend has, as `json`, `markdown`, or
  `native` (the vendor's own form where one exists, such as Frends BPMN);
- without: the rows of a list query (the list_processes filters) as `csv` or `jsonl`,
  streamed to the file as pages arrive through the shared paging driver.
Its arguments are read in tools/export_args.py.

Rows that come back twice because data moved between page requests (offset paging
shifts when rows are inserted ahead of the position reached) are dropped by id and
counted. A shift repeats rows that were just written, so remembering the last
DEDUPE_WINDOW ids per instance catches any shift smaller than that, and memory stays flat
however many rows are exported (a full id set would grow with every row).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.arguments import shown
from tools.errors import InvalidArgumentError, QuotaWaitError, UnsupportedQueryError
from tools.export_args import (
    ExportArgs,
    columns_of,
    parse_export,
)
from tools.exportfiles import AtomicExport, safe_name
from tools.exportformats import (
    DEFAULT_COLUMNS,
    EXTENSION,
    MIME,
    CsvRows,
    JsonlRows,
    detail_json,
    detail_markdown,
)
from tools.instances import ALL, Instances
from tools.list_processes import natural_sort
from tools.model import ApplyNote, ProcessSummary
from tools.operation import EXPORT_MAX_SECONDS, Clock, operation
from tools.paging import stream_rows
from tools.progress import Progress, ProgressFn, as_progress
from tools.query import parse_query
from tools.safe_text import line as safe_line

DEDUPE_WINDOW = 1_000
PREVIEW_LINES = 6
PREVIEW_CHARS = 1500
URI_SCHEME = "export"


class ExportResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uri: str = Field(description="Read the file back with resources/read on this URI.")
    path: str
    file_name: str
    format: str
    mime_type: str
    size_bytes: int
    sha256: str
    rows: int | None = Field(None, description="Rows written (list exports).")
    total: int | None = Field(None, description="Matching rows, when the backend knows it.")
    duplicates_removed: int | None = Field(
        None, description="Rows seen twice because data moved while paging, dropped by id."
    )
    preview: str = Field(description="The first lines of the file.")
    applied: list[ApplyNote] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def export_uri(name: str) -> str:
    return f"{URI_SCHEME}://{name.rsplit('.', 1)[-1]}/{name}"


async def export_process(
    instances: Instances,
    arguments: Mapping[str, Any],
    *,
    directory: Path,
    progress: Progress | ProgressFn | None = None,
    max_seconds: float | None = EXPORT_MAX_SECONDS,
    clock: Clock = time.monotonic,
) -> ExportResult:
    """`max_seconds`: how long the export may take at the vendor's pace (kept from an
    operation already running: the server's, with `[server] export_max_minutes`). Quota
    waits show in progress ("waiting 41 s for Tallyfy's quota"); cancelling the call at
    any time stops it and leaves no file."""
    args, filters = parse_export(arguments)
    with operation(max_seconds, clock=clock) as op:
        try:
            if args.id is not None:
                result = await _export_one(instances, args, directory)
            else:
                result = await _export_list(
                    instances, args, filters, directory, as_progress(progress)
                )
        except QuotaWaitError as exc:
            if args.id is not None or op.budget is None:
                raise
            limit = f"{op.budget / 60:g} minutes" if op.budget >= 60 else f"{op.budget:g} s"
            raise QuotaWaitError(
                f"the export would take longer than its maximum of {limit}: {exc.message}",
                backend=exc.backend,
                ready_in=exc.ready_in,
                quota=exc.quota,
                request=exc.request,
                status=exc.status,
                hint="raise [server] export_max_minutes, or narrow the filters (or set "
                "max_rows) so that fewer pages are needed; no file was written",
            ) from None
        # Retries that cost time, and the quota waits, are the answer's news too.
        return result.model_copy(update={"warnings": [*result.warnings, *op.notes()]})


@dataclass(frozen=True)
class _Target:
    name: str
    # A generated name takes the next free one at commit; a caller's name is refused if
    # taken (unless overwrite).
    generated: bool
    note: str | None = None


def _target(args: ExportArgs, default: str, extension: str) -> _Target:
    generated = safe_name(default, extension) or f"export.{extension}"
    if not args.file_name:
        return _Target(generated, True)
    name = safe_name(args.file_name, extension)
    if name is None:
        return _Target(
            generated,
            True,
            f"file_name {shown(args.file_name)} has no letters or digits a file name may "
            f"carry; saved as {generated}",
        )
    if name != args.file_name:
        return _Target(
            name,
            False,
            f"file_name {shown(args.file_name)} saved as {name} (names keep letters, digits, "
            f"'.', '_' and '-', and end in .{extension})",
        )
    return _Target(name, False)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


async def _export_one(instances: Instances, args: ExportArgs, directory: Path) -> ExportResult:
    if args.backend == ALL:
        raise InvalidArgumentError(
            "exporting one process needs its instance, not 'all'",
            field="backend",
            hint="pass the backend the process came from (the row's backend field)",
        )
    backend = instances.get(args.backend)
    await backend.discover()
    process_id = args.id or ""
    if args.format == "native":
        native = await backend.native_export(process_id, collection=args.collection)
        if native is None:
            raise UnsupportedQueryError(
                f"{backend.name} ({backend.kind}) has no native export format",
                backend=backend.name,
                field="format",
                hint="use format json or markdown",
            )
        extension, content = native
    else:
        info = backend.collection_info(args.collection)
        detail = await backend.get(
            process_id,
            collection=args.collection,
            include=frozenset(info.sections),
            detail="full",
        )
        extension = EXTENSION[args.format or "json"]
        content = detail_json(detail) if args.format == "json" else detail_markdown(detail)
    target = _target(args, f"{backend.name}-{process_id}", extension)
    with AtomicExport(
        directory, target.name, overwrite=args.overwrite, unique=target.generated
    ) as out:
        out.write(content)
        out.commit()
    head = content[: PREVIEW_CHARS * 4].split(b"\n")[:PREVIEW_LINES]
    if head and not head[-1]:
        head.pop()  # the file's last line end
    result = _result(out, args.format or "json", extension, _preview(head))
    return result.model_copy(update={"warnings": [target.note] if target.note else []})


async def _export_list(
    instances: Instances,
    args: ExportArgs,
    filters: dict[str, Any],
    directory: Path,
    progress: Progress | None,
) -> ExportResult:
    query = parse_query(
        {**filters, "backend": args.backend, "collection": args.collection, "detail": "full"}
    )
    backends = instances.select(query.backend)
    fmt = args.format or "csv"
    columns = columns_of(args)
    if columns is not None:
        # The file's columns: adapters build the rows' extras only when one is asked for.
        query = query.with_changes(fields=columns)
    encoder = CsvRows(columns or DEFAULT_COLUMNS) if fmt == "csv" else JsonlRows(columns)
    scope = args.collection or "processes"
    target = _target(args, f"{args.backend}-{scope}-{_stamp()}", fmt)
    dedupe = _RecentIds(DEDUPE_WINDOW)
    head: list[bytes] = []

    with AtomicExport(
        directory, target.name, overwrite=args.overwrite, unique=target.generated
    ) as out:
        # After the name is claimed: a taken name is refused before any backend call.
        query, note = await natural_sort(backends, query, explicit="sort" in filters)
        header = encoder.header()
        if header:
            out.write(header)
            head.append(header)

        async def write(rows: list[ProcessSummary]) -> None:
            fresh = dedupe.fresh(rows)
            # The preview shows the first records one by one; the rest go a page at a time.
            first = max(0, PREVIEW_LINES - len(head))
            for row in fresh[:first]:
                line = encoder.row(row)
                out.write(line)
                head.append(line)
            if len(fresh) > first:
                out.write(encoder.rows(fresh[first:]))

        stats = await stream_rows(backends, query, write, max_rows=args.max_rows, progress=progress)
        out.commit()
    duplicates = dedupe.duplicates
    written = stats.rows - duplicates
    warnings = [n for n in (target.note, note) if n] + list(stats.warnings)
    if args.max_rows is not None and stats.rows >= args.max_rows:
        warnings.append(f"stopped at max_rows={args.max_rows}; more rows may match")
    if progress is not None:
        # In the unit of the driver's updates (rows examined), so the value still rises.
        done = stats.examined
        await progress.finish(done, done, f"{written} rows written to {out.path.name}")
    result = _result(out, fmt, fmt, _preview(head))
    return result.model_copy(
        update={
            "rows": written,
            "total": stats.total,
            "duplicates_removed": duplicates,
            "applied": stats.applied,
            "warnings": warnings,
        }
    )


class _RecentIds:
    """The last `window` ids of each instance, oldest forgotten first."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.duplicates = 0
        # Per instance: the ids, and the order they came in (to forget the oldest).
        self._recent: dict[str, tuple[set[str], deque[str]]] = {}

    def fresh(self, rows: list[ProcessSummary]) -> list[ProcessSummary]:
        """`rows` without those seen within the window (counted as duplicates)."""
        kept: list[ProcessSummary] = []
        for row in rows:
            recent = self._recent.get(row.backend)
            if recent is None:
                recent = self._recent[row.backend] = (set(), deque())
            ids, order = recent
            if row.id in ids:
                self.duplicates += 1
                continue
            ids.add(row.id)
            order.append(row.id)
            if len(order) > self.window:
                ids.discard(order.popleft())
            kept.append(row)
        return kept


def _preview(parts: list[bytes]) -> str:
    """The file's first records (CSV, JSON Lines) or lines (a document), one line each:
    a record's own line breaks (a quoted CSV cell) and anything else a line reader would
    break on are shown escaped (tools/safe_text.py), so the preview cannot add a line."""
    lines = [
        safe_line(p.decode("utf-8", errors="replace").removesuffix("\n").removesuffix("\r"))
        for p in parts
    ]
    preview = "\n".join(lines)
    return preview if len(preview) <= PREVIEW_CHARS else preview[:PREVIEW_CHARS] + "..."


def _result(out: AtomicExport, fmt: str, extension: str, preview: str) -> ExportResult:
    return ExportResult(
        uri=export_uri(out.path.name),
        path=str(out.path),
        file_name=out.path.name,
        format=fmt,
        mime_type=MIME.get(extension, "application/octet-stream"),
        size_bytes=out.size,
        sha256=out.sha256,
        preview=preview,
    )
