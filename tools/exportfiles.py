"""Export files: safe names inside one directory, written atomically, never half-there.

A file is written under a hidden temporary name in the export directory itself (so the
final rename is atomic on every filesystem), hashed as it is written, and renamed only
once the export succeeded. Without `overwrite`, the rename is a hard link, which fails
if the name exists even when two exports race for it. Anything that goes wrong -
an error, a cancelled call - removes the temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path
from types import TracebackType
from typing import IO

from tools.errors import InvalidArgumentError

MAX_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
TEMP_PREFIX = ".partial-"


def safe_name(name: str, extension: str) -> str:
    """A file name for the export directory: letters, digits, '.', '_' and '-' only.

    A name that tries to leave the directory (a separator, '..', an absolute path, a
    leading dot) is refused rather than quietly rewritten, so the caller learns that
    exports only ever land in the export directory."""
    raw = name.strip()
    if not raw:
        raise InvalidArgumentError(
            "file_name is empty", field="file_name", hint="leave file_name out for a generated one"
        )
    if "/" in raw or "\\" in raw or raw.startswith(".") or ".." in raw or "\0" in raw:
        raise InvalidArgumentError(
            f"file_name {name!r} tries to leave the export directory",
            field="file_name",
            hint="give a plain file name like 'stuck-onboarding.csv' (no folders, no '..'); "
            "exports always go to the configured export directory",
        )
    cleaned = _UNSAFE.sub("-", raw).strip("-")
    suffix = "." + extension
    if not cleaned.lower().endswith(suffix):
        cleaned += suffix
    if len(cleaned) > MAX_NAME:
        cleaned = cleaned[: MAX_NAME - len(suffix)].rstrip("-.") + suffix
    return cleaned


def resolve_in(directory: Path, name: str) -> Path:
    """The path of an existing export `name`; refuses anything outside `directory`."""
    if not name or name != Path(name).name or name.startswith("."):
        raise InvalidArgumentError(
            f"{name!r} is not an export file name", hint="use the name export_process returned"
        )
    root = directory.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise InvalidArgumentError(
            f"no export named {name!r}", hint="run export_process first; it returns the name"
        )
    return path


class AtomicExport:
    """Write one export file: `with AtomicExport(dir, name) as out: out.write(...)`, then
    `out.commit()`. Leaving the block without commit removes every trace."""

    def __init__(self, directory: Path, name: str, *, overwrite: bool = False) -> None:
        self.directory = directory
        self.path = directory / name
        self.overwrite = overwrite
        self.size = 0
        self._hash = hashlib.sha256()
        self._temp: Path | None = None
        self._file: IO[bytes] | None = None
        self.committed = False

    def __enter__(self) -> AtomicExport:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and not self.overwrite:
            raise _exists(self.path.name)
        self._temp = self.directory / f"{TEMP_PREFIX}{secrets.token_hex(6)}-{self.path.name}"
        # O_EXCL: never write through a file or link someone placed at the temporary name.
        fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=1 << 16)
        return self

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
        os.chmod(self._temp, 0o644)
        if self.overwrite:
            os.replace(self._temp, self.path)
        else:
            try:
                os.link(self._temp, self.path)
            except FileExistsError:
                raise _exists(self.path.name) from None
            finally:
                self._temp.unlink(missing_ok=True)
        self._temp = None
        self.committed = True

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
            self._temp.unlink(missing_ok=True)
            self._temp = None


def _exists(name: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"an export named {name!r} already exists",
        field="file_name",
        hint="choose another file_name, or pass overwrite=true to replace it",
    )
