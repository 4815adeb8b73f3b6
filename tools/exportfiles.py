"""Export files: safe names inside one directory, written atomically, never half-there.

A file is written under a hidden temporary name in the export directory itself (so the
final rename is atomic on every filesystem), hashed as it is written, and renamed only
once the export succeeded. Without `overwrite`, the rename is a hard link, which fails
if the name exists even when two exports race for it; a generated name then moves on to
the next free one (`-2`, `-3`, ...), so concurrent exports never collide. Anything that
goes wrong - an error, a cancelled call - removes the temporary file; so does SIGTERM
(a handler removes every live temporary, then lets the signal do what it did before).
What only kill -9 or a power cut can leave behind, `.partial-*` files untouched for an
hour, is removed when the server starts (an hour, because another replica sharing the
directory may be writing one right now: a live export touches its file at every write).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

from tools.arguments import shown
from tools.errors import InvalidArgumentError, ProcessMcpError

MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
TEMP_PREFIX = ".partial-"
STALE_SECONDS = 3600


def safe_name(name: str, extension: str) -> str | None:
    """A file name for the export directory: letters, digits, '.', '_' and '-' only.

    A name that tries to leave the directory (a separator, '..', an absolute path, a
    leading dot) is refused rather than quietly rewritten, so the caller learns that
    exports only ever land in the export directory. None when nothing usable is left
    (`🙂.csv`): the caller generates a name (and says so), rather than write a dot-file
    that resources/read would refuse."""
    raw = name.strip()
    if not raw:
        raise InvalidArgumentError(
            "file_name is empty", field="file_name", hint="leave file_name out for a generated one"
        )
    if "/" in raw or "\\" in raw or raw.startswith(".") or ".." in raw or "\0" in raw:
        raise InvalidArgumentError(
            f"file_name {shown(name)} tries to leave the export directory",
            field="file_name",
            hint="give a plain file name like 'stuck-onboarding.csv' (no folders, no '..'); "
            "exports always go to the configured export directory",
        )
    # No leading '.' or '-' once cleaned: a hidden file, or one that reads as an option.
    cleaned = _UNSAFE.sub("-", raw).strip("-").lstrip(".-")
    suffix = "." + extension
    if cleaned.lower().endswith(suffix):
        cleaned = cleaned[: -len(suffix)]
    stem = cleaned.rstrip("-.")[: MAX_NAME - len(suffix)].rstrip("-.")
    return stem + suffix if stem else None


def resolve_in(directory: Path, name: str) -> Path:
    """The path of an existing export `name`; refuses anything outside `directory`."""
    if not name or name != Path(name).name or name.startswith("."):
        raise InvalidArgumentError(
            f"{shown(name)} is not an export file name",
            hint="use the name export_process returned",
        )
    root = directory.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise InvalidArgumentError(
            f"no export named {shown(name)}",
            hint="run export_process first; it returns the name",
        )
    return path


class AtomicExport:
    """Write one export file: `with AtomicExport(dir, name) as out: out.write(...)`, then
    `out.commit()`. Leaving the block without commit removes every trace.

    `unique=True` (a generated name): never refused and never replacing anything; the
    file takes the first free name of `name`, `name-2`, `name-3`, ... at commit time, and
    `path` says which."""

    def __init__(
        self, directory: Path, name: str, *, overwrite: bool = False, unique: bool = False
    ) -> None:
        self.directory = directory
        self.path = directory / name
        self.overwrite = overwrite and not unique
        self.unique = unique
        self.size = 0
        self._hash = hashlib.sha256()
        self._temp: Path | None = None
        self._file: IO[bytes] | None = None
        self.committed = False

    def __enter__(self) -> AtomicExport:
        self.directory.mkdir(parents=True, exist_ok=True)
        sweep_once(self.directory)
        if self.unique:
            self.path = next(c for c in self._candidates() if not c.exists())
        elif self.path.exists() and not self.overwrite:
            raise _exists(self.path.name)
        self._temp = self.directory / f"{TEMP_PREFIX}{secrets.token_hex(6)}-{self.path.name}"
        # O_EXCL: never write through a file or link someone placed at the temporary name.
        fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        _live.add(self._temp)
        self._file = os.fdopen(fd, "wb", buffering=1 << 16)
        return self

    def _candidates(self) -> Iterator[Path]:
        stem, dot, extension = self.path.name.rpartition(".")
        stem, extension = (stem, dot + extension) if dot else (extension, "")
        yield self.directory / f"{stem}{extension}"
        n = 2
        while True:
            yield self.directory / f"{stem}-{n}{extension}"
            n += 1

    def write(self, data: bytes) -> None:
        assert self._file is not None, "use AtomicExport as a context manager"
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> None:
        assert self._file is not None
        assert self._temp is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        try:
            os.chmod(self._temp, 0o644)
            if self.overwrite:
                os.replace(self._temp, self.path)
            else:
                self._link()
        except FileNotFoundError:
            # The temporary is gone: SIGTERM's cleanup removed it while the server stops.
            raise ProcessMcpError(
                "the export was interrupted: the server is shutting down",
                hint="call export_process again once the server is back",
            ) from None
        finally:
            _live.discard(self._temp)
            self._temp.unlink(missing_ok=True)
        self._temp = None
        self.committed = True

    def _link(self) -> None:
        assert self._temp is not None
        candidates = self._candidates() if self.unique else iter((self.path,))
        for candidate in candidates:
            try:
                os.link(self._temp, candidate)
            except FileExistsError:
                if not self.unique:
                    raise _exists(self.path.name) from None
                continue
            self.path = candidate
            return

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self._temp is not None:
            _live.discard(self._temp)
            self._temp.unlink(missing_ok=True)
            self._temp = None


def _exists(name: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"an export named {shown(name)} already exists",
        field="file_name",
        hint="choose another file_name, or pass overwrite=true to replace it",
    )


# -- temporaries left behind ----------------------------------------------------------------


class _LiveTemporaries:
    """The temporary files being written in this process, for the SIGTERM handler."""

    def __init__(self) -> None:
        self._paths: set[Path] = set()
        self._lock = threading.Lock()
        self._installed = False

    def add(self, path: Path) -> None:
        with self._lock:
            self._paths.add(path)
            if not self._installed:
                self._installed = True
                _install_cleanup()

    def discard(self, path: Path) -> None:
        with self._lock:
            self._paths.discard(path)

    def remove_all(self) -> None:
        # No lock: a signal handler may run while this thread holds it.
        for path in list(self._paths):
            with contextlib.suppress(OSError):
                path.unlink()


_live = _LiveTemporaries()


def _install_cleanup() -> None:
    """SIGTERM removes the temporaries, then does what it did before (the previous
    handler, or the default: the process ends by that signal)."""
    atexit.register(_live.remove_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread; atexit still runs
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        _live.remove_all()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_term)


def sweep_partials(directory: Path, *, older_than: float = STALE_SECONDS) -> list[str]:
    """Remove `.partial-*` files not written to for `older_than` seconds; their names."""
    removed: list[str] = []
    cutoff = time.time() - older_than
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for path in entries:
        if not path.name.startswith(TEMP_PREFIX):
            continue
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path.name)
        except OSError:
            continue
    return removed


_swept: set[Path] = set()


def sweep_once(directory: Path) -> None:
    """sweep_partials, once per directory per process (at start, or the first export)."""
    key = directory.resolve()
    if key not in _swept:
        _swept.add(key)
        sweep_partials(directory)


# -- reading back ---------------------------------------------------------------------------

# resources/read answers a file whole up to this size; a larger one is read in parts of
# about this size (whole lines each), so one answer never floods a client or a model.
MAX_READ_BYTES = 5 * 1024 * 1024


def part_count(size: int, part_bytes: int = MAX_READ_BYTES) -> int:
    return max(1, -(-size // part_bytes))


def read_part(path: Path, part: int, part_bytes: int = MAX_READ_BYTES) -> bytes:
    """Part `part` (1-based) of a file: from the first line that starts at or after byte
    (part-1) x part_bytes to the first that starts at or after part x part_bytes. Every
    line is in exactly one part; the parts joined are the file."""
    with path.open("rb") as fh:
        start = _line_start(fh, (part - 1) * part_bytes, part_bytes)
        end = _line_start(fh, part * part_bytes, part_bytes)
        fh.seek(start)
        return fh.read(max(0, end - start))


def _line_start(fh: IO[bytes], offset: int, longest: int) -> int:
    """The first line start at or after `offset` (a line longer than a part is cut at a
    UTF-8 character start instead, so a part stays bounded and decodable)."""
    if offset <= 0:
        return 0
    size = fh.seek(0, os.SEEK_END)
    if offset >= size:
        return size
    fh.seek(offset - 1)
    window = fh.read(longest + 1)
    newline = window.find(b"\n")
    if newline >= 0:
        return offset + newline
    if offset - 1 + len(window) >= size:
        return size
    # No line end within a part's length: cut before the next UTF-8 lead byte.
    cut = 1
    while cut < len(window) and window[cut] & 0xC0 == 0x80:
        cut += 1
    return offset - 1 + cut


def too_large_notice(path: Path, uri: str) -> str:
    size = path.stat().st_size
    parts = part_count(size)
    return (
        f"{path.name} is {size:,} bytes ({size / 1_048_576:.1f} MB), more than the "
        f"{MAX_READ_BYTES // 1_048_576} MB that resources/read returns in one answer.\n"
        f"It is at {path}.\n"
        f"Read it in {parts} parts of about {MAX_READ_BYTES // 1_048_576} MB (whole lines "
        f"each): resources/read {uri}/part/1 ... {uri}/part/{parts}; or read the file from "
        "disk; or export fewer rows (max_rows) or a narrower query."
    )
