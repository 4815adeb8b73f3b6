"""Export files: names stay inside the directory; writes are atomic and never clobber."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tools.errors import InvalidArgumentError
from tools.exportfiles import TEMP_PREFIX, AtomicExport, resolve_in, safe_name


@pytest.mark.parametrize(
    "name",
    ["../x.csv", "a/b.csv", "..", "..\\x.csv", "/etc/passwd", ".hidden.csv", "ok..csv", "a\0b"],
)
def test_a_name_that_could_leave_the_directory_is_refused(name: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        safe_name(name, "csv")
    assert "export directory" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("stuck onboarding", "stuck-onboarding.csv"),
        ("report.csv", "report.csv"),
        ("Q4: close*?", "Q4-close.csv"),
        ("résumé", "r-sum.csv"),
    ],
)
def test_names_are_sanitized_and_get_the_format_extension(name: str, expected: str) -> None:
    assert safe_name(name, "csv") == expected


def test_long_names_are_cut_but_keep_the_extension() -> None:
    name = safe_name("x" * 500, "jsonl")
    assert len(name) <= 120
    assert name.endswith(".jsonl")


def test_a_committed_export_has_the_content_size_and_sha256_written(tmp_path: Path) -> None:
    with AtomicExport(tmp_path, "a.csv") as out:
        out.write(b"id,name\r\n")
        out.write(b"1,x\r\n")
        out.commit()
    data = (tmp_path / "a.csv").read_bytes()
    assert data == b"id,name\r\n1,x\r\n"
    assert out.size == len(data)
    assert out.sha256 == hashlib.sha256(data).hexdigest()
    assert list(tmp_path.iterdir()) == [tmp_path / "a.csv"]


def test_a_failed_export_leaves_no_file_and_no_temporary(tmp_path: Path) -> None:
    def export_that_fails() -> None:
        with AtomicExport(tmp_path, "a.csv") as out:
            out.write(b"partial")
            raise RuntimeError("backend failed mid-export")

    with pytest.raises(RuntimeError):
        export_that_fails()
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_overwritten_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"old")
    with pytest.raises(InvalidArgumentError) as caught, AtomicExport(tmp_path, "a.csv"):
        pass
    assert "overwrite=true" in (caught.value.hint or "")
    assert (tmp_path / "a.csv").read_bytes() == b"old"
    with AtomicExport(tmp_path, "a.csv", overwrite=True) as out:
        out.write(b"new")
        out.commit()
    assert (tmp_path / "a.csv").read_bytes() == b"new"


def test_a_file_that_appears_during_the_export_is_not_clobbered(tmp_path: Path) -> None:
    with AtomicExport(tmp_path, "a.csv") as out:
        out.write(b"mine")
        (tmp_path / "a.csv").write_bytes(b"theirs")  # another export won the race
        with pytest.raises(InvalidArgumentError):
            out.commit()
    assert (tmp_path / "a.csv").read_bytes() == b"theirs"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_resolve_in_only_finds_finished_exports_inside_the_directory(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x")
    (tmp_path / f"{TEMP_PREFIX}1-b.csv").write_bytes(b"x")
    assert resolve_in(tmp_path, "a.csv") == (tmp_path / "a.csv").resolve()
    for bad in ("../a.csv", f"{TEMP_PREFIX}1-b.csv", "missing.csv", "sub/a.csv", ""):
        with pytest.raises(InvalidArgumentError):
            resolve_in(tmp_path, bad)
