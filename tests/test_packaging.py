"""What the package says about itself: version, metadata, typing marker, icon."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from server import __version__
from server.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"process-mcp {__version__}"


def test_metadata_has_classifiers_urls_keywords_and_ships_typing_markers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "Typing :: Typed" in project["classifiers"]
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(project["urls"])
    assert "mcp" in project["keywords"]
    for package in ("server", "tools"):
        assert (ROOT / package / "py.typed").exists()
    svg = (ROOT / "server" / "icons" / "process-mcp.svg").read_text()
    assert svg.startswith("<svg")
    assert len(svg) < 2048
