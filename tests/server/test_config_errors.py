"""Configuration errors that teach, and `check` that says where it looked and why a 403."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.check import check
from server.settings import Settings, load_settings
from tests.server.test_settings import write
from tools.backends.tallyfy import sandbox as tallyfy
from tools.errors import ConfigError
from tools.sandbox import Sandbox

BROKEN = """
[server]
log_levl = "INFO"

[instance.x]
kind = "tallyfy"

[instances.acme-runs]
kind = "tallyfy"
org = "o"
base_ur = "https://go.tallyfy.com/api"
tokn_env = "X"

[instances.acme-crm]
kind = "komo"
"""


def test_every_problem_of_a_file_comes_in_one_error_with_the_nearest_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, BROKEN), {})
    text = caught.value.for_model()
    assert "has 6 problems" in text
    for expected in [
        "unknown section [instance] (did you mean instances?)",
        "unknown [server] key log_levl (did you mean log_level?)",
        "instance 'acme-runs' (tallyfy) has no token",
        "unknown key base_ur (did you mean base_url?)",
        "unknown key tokn_env (did you mean token_env?)",
        "unknown kind 'komo' (did you mean kommo?)",
    ]:
        assert expected in text


def test_an_instance_with_several_problems_lists_them_all_and_the_others_still_load(
    tmp_path: Path,
) -> None:
    config = (
        '[instances.a]\nkind = "tallyfy"\nbase_ur = "x"\ntimeout_seconds = "soon"\n'
        '[instances.b]\nkind = "tallyfy"\norg = "o"\n'
    )
    env = {"PROCESS_MCP_A_TOKEN": "t-a", "PROCESS_MCP_B_TOKEN": "t-b"}
    settings = load_settings(write(tmp_path, config), env)
    assert [i.name for i in settings.instances] == ["b"]
    message = settings.problems["a"].message
    assert "instance 'a' has 3 problems" in message
    assert "unknown key base_ur (did you mean base_url?)" in message
    assert "org: Field required" in message
    assert "timeout_seconds: Input should be a valid number" in message


def test_a_key_far_from_every_valid_one_lists_what_the_table_takes(tmp_path: Path) -> None:
    config = '[instances.a]\nkind = "tallyfy"\norg = "o"\ncolour = 1\n'
    problem = load_settings(write(tmp_path, config), {"PROCESS_MCP_A_TOKEN": "t"}).problems["a"]
    assert "did you mean" not in problem.message
    assert "takes: base_url, description, kind, max_scan, org" in (problem.hint or "")


def test_check_without_a_config_names_the_path_and_how_to_create_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings = load_settings(None, {})
    assert check(settings) == 1
    out = capsys.readouterr().out
    expected = tmp_path / "process-mcp" / "config.toml"
    assert f"no config file at {expected}" in out
    assert f"create {expected} with" in out
    assert "[instances.my-runs]" in out
    assert "export PROCESS_MCP_MY_RUNS_TOKEN=" in out
    assert "process-mcp check --sandbox" in out


def test_check_names_a_wrong_org_as_the_likely_cause_of_a_403(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Sandbox(seed=7) as sandbox:
        good = sandbox.instance(tallyfy.NAME).settings
        wrong = good.model_copy(update={"org": "not-our-org"})
        assert check(Settings(instances=[wrong])) == 1
    out = capsys.readouterr().out
    assert "FAIL tallyfy-sandbox" in out
    assert "403" in out
    assert "likely cause: a wrong org (org = 'not-our-org')" in out
    assert "[instances.tallyfy-sandbox]" in out
