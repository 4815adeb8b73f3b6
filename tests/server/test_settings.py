"""Configuration: one file plus the environment; secrets never in the file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from server.settings import env_var, load_settings
from tools.errors import ConfigError

CONFIG = """
[instances.acme-runs]
kind = "tallyfy"
org = "org123"
description = "ACME"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_secret_comes_from_the_derived_environment_variable(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, CONFIG), {"PROCESS_MCP_ACME_RUNS_TOKEN": "t0ken-1"})
    (inst,) = settings.instances
    assert (inst.name, inst.kind, inst.base_url) == (
        "acme-runs",
        "tallyfy",
        "https://go.tallyfy.com/api",
    )
    assert inst.token is not None
    assert inst.token.get_secret_value() == "t0ken-1"
    assert "t0ken-1" not in repr(inst)


def test_missing_secret_keeps_the_instance_unusable_and_names_the_variable(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, CONFIG), {})
    assert settings.instances == []
    problem = settings.problems["acme-runs"]
    assert "has no token" in problem.message
    assert "PROCESS_MCP_ACME_RUNS_TOKEN" in (problem.hint or "")


def test_token_env_names_another_variable(tmp_path: Path) -> None:
    config = CONFIG + 'token_env = "MY_TALLYFY"\n'
    settings = load_settings(write(tmp_path, config), {"MY_TALLYFY": "abcdef"})
    assert settings.instances[0].token.get_secret_value() == "abcdef"  # type: ignore[union-attr]
    missing = load_settings(write(tmp_path, config), {})
    assert "MY_TALLYFY" in (missing.problems["acme-runs"].hint or "")


def test_token_written_in_the_config_file_is_refused(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, CONFIG + 'token = "oops"\n'), {})
    problem = settings.problems["acme-runs"]
    assert "must not be written in the config file" in problem.message


def test_secrets_file_beside_the_config_is_used_when_private(tmp_path: Path) -> None:
    secrets = write(tmp_path, '[acme-runs]\ntoken = "from-file"\n', "secrets.toml")
    os.chmod(secrets, 0o600)
    settings = load_settings(write(tmp_path, CONFIG), {})
    assert settings.instances[0].token.get_secret_value() == "from-file"  # type: ignore[union-attr]


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secrets = write(tmp_path, '[acme-runs]\ntoken = "from-file"\n', "secrets.toml")
    os.chmod(secrets, 0o644)
    with pytest.raises(ConfigError, match="readable by other users") as caught:
        load_settings(write(tmp_path, CONFIG), {})
    assert "chmod 600" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[instances.x]\nkind = "jira"\n', "unknown kind 'jira'"),
        ('[instances.x]\nkind = "tallyfy"\n', "org: Field required"),
        ('[instances.x]\nkind = "tallyfy"\norg = "o"\ncolour = 1\n', "unknown key colour"),
        ('[instances."Bad Name"]\nkind = "tallyfy"\n', "is not allowed"),
    ],
)
def test_bad_instances_are_reported_one_by_one(tmp_path: Path, text: str, problem: str) -> None:
    settings = load_settings(write(tmp_path, text), {"PROCESS_MCP_X_TOKEN": "secret"})
    assert problem in next(iter(settings.problems.values())).message


def test_bad_toml_and_unknown_sections_fail_the_whole_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[instances\n"), {})
    with pytest.raises(ConfigError, match="unknown section"):
        load_settings(write(tmp_path, "[backends.x]\n"), {})


def test_explicit_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", {})


def test_no_config_at_the_default_place_means_no_instances(tmp_path: Path) -> None:
    settings = load_settings(None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert (settings.instances, settings.problems) == ([], {})


def test_env_var_names_are_derived_from_instance_names() -> None:
    assert env_var("acme-runs", "token") == "PROCESS_MCP_ACME_RUNS_TOKEN"
    assert env_var("eu.crm_2", "token") == "PROCESS_MCP_EU_CRM_2_TOKEN"


def test_an_unknown_log_level_is_a_config_error_naming_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROCESS_MCP_LOG_LEVEL is 'chatty'"):
        load_settings(None, {"PROCESS_MCP_LOG_LEVEL": "chatty", "XDG_CONFIG_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"\[server\] log_level is 'loud'"):
        load_settings(write(tmp_path, '[server]\nlog_level = "loud"\n'), {})


def test_session_limits_come_from_the_server_table_and_the_environment_wins(
    tmp_path: Path,
) -> None:
    config = write(
        tmp_path,
        "[server]\nsession_idle_timeout = 120\nmax_sessions = 50\nstream_seconds = 90.5\n",
    )
    settings = load_settings(config, {"PROCESS_MCP_MAX_SESSIONS": "7"})
    limits = settings.sessions
    assert (limits.idle_seconds, limits.max_sessions, limits.stream_seconds) == (120, 7, 90.5)
    assert limits.max_streams == 100  # the default
    assert load_settings(env={}, read_file=False).sessions.idle_seconds == 300


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("max_sessions = 0", "[server] max_sessions is '0', not a whole number above 0"),
        ("max_streams = 2.5", "[server] max_streams is '2.5', not a whole number above 0"),
        (
            'session_idle_timeout = "soon"',
            "[server] session_idle_timeout is 'soon', not a number of seconds above 0",
        ),
    ],
)
def test_a_bad_session_limit_is_a_config_error_that_says_what_it_takes(
    tmp_path: Path, line: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_settings(write(tmp_path, f"[server]\n{line}\n"), {})
    with pytest.raises(ConfigError, match="PROCESS_MCP_STREAM_SECONDS is 'inf'"):
        load_settings(env={"PROCESS_MCP_STREAM_SECONDS": "inf"}, read_file=False)
