"""A base_url with userinfo (`https://user:pass@host`) is refused when the config loads:
credentials belong in the environment, and `process-mcp check` must not print them."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.check import check
from server.settings import load_settings

PASSWORD = "pa55+w/rd="


def write_config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[instances.acme-runs]\nkind = "tallyfy"\norg = "o1"\nbase_url = "{base_url}"\n'
        '[instances.acme-bpm]\nkind = "yuuvis"\nbase_url = "https://api.yuuvis.test"\n'
        'tenant = "acme"\n'
    )
    return path


ENV = {"PROCESS_MCP_ACME_RUNS_TOKEN": "tok-12345", "PROCESS_MCP_ACME_BPM_TOKEN": "tok-67890"}


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://jane:{PASSWORD}@go.tallyfy.com/api",
        "https://jane@go.tallyfy.com/api",
        f"HTTPS://:{PASSWORD}@go.tallyfy.com",
    ],
)
def test_a_base_url_with_userinfo_is_refused_at_load_saying_where_credentials_go(
    tmp_path: Path, base_url: str
) -> None:
    settings = load_settings(write_config(tmp_path, base_url), ENV)
    assert [i.name for i in settings.instances] == ["acme-bpm"]
    problem = settings.problems["acme-runs"].for_model()
    assert "base_url must not carry a user name or password" in problem
    assert "credentials belong in the environment" in problem
    assert PASSWORD not in problem
    assert "jane" not in problem


def test_check_prints_the_refusal_and_never_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, f"https://jane:{PASSWORD}@127.0.0.1:9/api")
    settings = load_settings(path, {"PROCESS_MCP_ACME_RUNS_TOKEN": "tok-12345"})
    assert check(settings) == 1
    out = capsys.readouterr().out
    assert "FAIL acme-runs" in out
    assert "credentials belong in the environment" in out
    assert PASSWORD not in out
    assert "jane" not in out


def test_a_plain_base_url_and_an_at_sign_in_the_query_are_accepted(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, "https://go.tallyfy.com/api?x=a@b"), ENV)
    assert {i.name for i in settings.instances} == {"acme-runs", "acme-bpm"}
