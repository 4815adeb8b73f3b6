"""The files in the export directory, newest first: for resources/list and completions.

Only finished exports are listed: hidden names (the atomic writer's temporary files start
with a dot) and extensions export_process never writes are left out, so every entry can
be read back through its `export://EXT/NAME` URI.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tools.errors import InvalidArgumentError
from tools.export_process import export_uri
from tools.exportformats import MIME


@dataclass(frozen=True)
class ExportFile:
    name: str
    extension: str
    size: int
    modified_ns: int

    @property
    def uri(self) -> str:
        return export_uri(self.name)

    @property
    def mime_type(self) -> str:
        return MIME[self.extension]

    @property
    def modified(self) -> str:
        when = datetime.fromtimestamp(self.modified_ns / 1e9, UTC).replace(microsecond=0)
        return when.isoformat()


def list_exports(directory: Path, extension: str | None = None) -> list[ExportFile]:
    """Every finished export (of one extension, if given), newest first, then by name."""
    found: list[ExportFile] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []  # not created yet: nothing exported so far
    for entry in entries:
        name = entry.name
        ext = name.rsplit(".", 1)[-1] if "." in name else ""
        if name.startswith(".") or ext not in MIME or (extension and ext != extension):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # removed while we looked
        found.append(ExportFile(name, ext, stat.st_size, stat.st_mtime_ns))
    found.sort(key=_order)
    return found


def _order(f: ExportFile) -> tuple[int, str]:
    return (-f.modified_ns, f.name)


def page(
    files: list[ExportFile], cursor: str | None, size: int
) -> tuple[list[ExportFile], str | None]:
    """One page after `cursor`. The cursor holds the last entry's place (time, name), not
    an offset, so an export written between two pages shifts nothing: it sorts first."""
    start = 0
    if cursor is not None:
        after = _decode(cursor)
        start = next((i for i, f in enumerate(files) if _order(f) > after), len(files))
    chunk = files[start : start + size]
    more = start + size < len(files)
    return chunk, (_encode(chunk[-1]) if more and chunk else None)


def _encode(last: ExportFile) -> str:
    raw = json.dumps({"m": last.modified_ns, "n": last.name}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        return (-int(data["m"]), str(data["n"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            "this resources/list cursor is not one this server gave out",
            field="cursor",
            hint="list again without a cursor and use the nextCursor of that answer",
        ) from None
