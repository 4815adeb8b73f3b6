"""Configuration: one TOML file plus the environment, loaded once into typed settings.

    # config.toml
    [instances.acme-runs]          # the instance name is yours; agents use it as `backend`
    kind = "tallyfy"
    org = "3a1b..."
    # base_url = "https://go.tallyfy.com/api"   (each kind has a default)

Secrets never live in the config file or on the command line. For each secret field
(`token`) of instance NAME the value comes from, in order:
  1. the variable named by `token_env` in the instance table, if set;
  2. PROCESS_MCP_<NAME>_TOKEN (NAME upper-cased, other characters as `_`);
  3. a secrets file (PROCESS_MCP_SECRETS_FILE, default `secrets.toml` beside the config):
         [acme-runs]
         token = "..."
An instance whose secret is missing is kept, marked unusable, with the variable to set.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import platformdirs
from pydantic import SecretStr, ValidationError

from server.config_errors import Problems, did_you_mean, validation_problems
from server.sessions import SessionLimits
from tools.errors import ConfigError
from tools.operation import EXPORT_MAX_SECONDS, LIST_BUDGET_SECONDS
from tools.redact import register_secret

if TYPE_CHECKING:
    from tools.backends.base import InstanceSettings

APP = "process-mcp"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SECTIONS = ("instances", "server")
# [server] key -> (SessionLimits field, environment variable, whole number?)
SESSION_KEYS = {
    "session_idle_timeout": ("idle_seconds", "PROCESS_MCP_SESSION_IDLE_TIMEOUT", False),
    "max_sessions": ("max_sessions", "PROCESS_MCP_MAX_SESSIONS", True),
    "max_streams": ("max_streams", "PROCESS_MCP_MAX_STREAMS", True),
    "stream_seconds": ("stream_seconds", "PROCESS_MCP_STREAM_SECONDS", False),
}
SERVER_KEYS = (
    "log_level",
    "export_dir",
    "redis_url",
    "list_budget_seconds",
    "export_max_minutes",
    *SESSION_KEYS,
)


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def env_var(instance: str, secret: str) -> str:
    return f"PROCESS_MCP_{re.sub(r'[^A-Za-z0-9]', '_', instance).upper()}_{secret.upper()}"


@dataclass
class Settings:
    instances: list[InstanceSettings] = field(default_factory=list)
    # Instances that could not be set up, with the reason (and the fix) for each.
    problems: dict[str, ConfigError] = field(default_factory=dict)
    config_path: Path | None = None
    # Where the config file was looked for (whether or not it was there): for `check`.
    searched: Path | None = None
    http_token: SecretStr | None = None
    log_level: LogLevel = "INFO"
    # Where export_process writes; nothing is ever written anywhere else.
    export_dir: Path = field(default_factory=lambda: default_export_dir())
    # HTTP transports: idle expiry and caps on sessions and event streams.
    sessions: SessionLimits = field(default_factory=SessionLimits)
    # Shared state for replicas (quota windows, discovery caches); None: in this process.
    redis_url: str | None = None
    # How long a quick call (list_processes, get_process, ...) may wait for quotas, and how
    # long an export may take at the vendor's pace (tools/operation.py).
    list_budget_seconds: float = LIST_BUDGET_SECONDS
    export_max_minutes: float = EXPORT_MAX_SECONDS / 60

    @property
    def export_max_seconds(self) -> float:
        return self.export_max_minutes * 60


def default_export_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "exports"


def _log_level(value: str, where: str) -> LogLevel:
    level = value.strip().upper()
    if level not in get_args(LogLevel):
        source = "PROCESS_MCP_LOG_LEVEL" if where == "env" else "[server] log_level"
        raise ConfigError(
            f"{source} is {value!r}, not a log level",
            hint="use one of: " + ", ".join(get_args(LogLevel)),
        )
    return cast(LogLevel, level)


def _session_limits(
    server: Mapping[str, Any], env: Mapping[str, str], problems: Problems
) -> SessionLimits:
    """The environment wins over the file, as for every other setting."""
    values: dict[str, Any] = {}
    for key, (attr, var, whole) in SESSION_KEYS.items():
        raw, source = (env[var], var) if env.get(var) else (server.get(key), f"[server] {key}")
        if raw is None:
            continue
        try:
            number = float(str(raw).strip())
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number <= 0 or (whole and not number.is_integer()):
            kind = "a whole number" if whole else "a number of seconds"
            problems.add(f"{source} is {str(raw)!r}, not {kind} above 0", f"set it to {kind}")
            continue
        values[attr] = int(number) if whole else number
    return dataclasses.replace(SessionLimits(), **values)


def _redis_url(value: Any, source: str, problems: Problems) -> str | None:
    text = str(value).strip() if isinstance(value, str) else ""
    if not text.startswith(("redis://", "rediss://", "unix://")):
        problems.add(
            f"{source} must be a Redis URL",
            "write redis://HOST:PORT/DB (rediss:// for TLS, unix:///path for a socket)",
        )
        return None
    from urllib.parse import urlsplit

    password = urlsplit(text).password
    if password and source.startswith("["):
        problems.add(
            f"{source} carries a password, and secrets never live in the config file",
            "remove it there and set PROCESS_MCP_REDIS_URL (which wins) to the whole URL",
        )
        return None
    if password:
        # A password in the URL is a secret like any other: scrubbed wherever it appears.
        register_secret(password)
    return text


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not valid TOML: {exc}", hint="fix the syntax"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def _secrets_file(config_path: Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    named = env.get("PROCESS_MCP_SECRETS_FILE")
    path = Path(named) if named else (config_path.parent / "secrets.toml" if config_path else None)
    if path is None or not path.exists():
        if named:
            raise ConfigError(
                f"PROCESS_MCP_SECRETS_FILE points to {path}, which does not exist",
                hint="create it or unset the variable",
            )
        return {}
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"secrets file {path} is readable by other users",
            hint=f"run: chmod 600 {path}",
        )
    return _read_toml(path, "secrets file")


def _instance(
    name: str,
    table: Mapping[str, Any],
    secrets: Mapping[str, Any],
    env: Mapping[str, str],
) -> InstanceSettings:
    """One instance's settings, or one ConfigError naming every problem of its table."""
    # Imported here: the adapters load only when a config names instances, so that
    # `serve --sandbox` (or an empty config) answers `initialize` without them.
    from tools.backends.registry import KINDS

    problems = Problems()
    if not NAME_RE.match(name):
        problems.add(
            f"instance name {name!r} is not allowed",
            "use lower-case letters, digits, '-' and '_' (agents type this name)",
        )
    if not isinstance(table, Mapping):
        problems.add(f"[instances.{name}] must be a table")
        raise problems.error(f"instance {name!r}")
    kind = table.get("kind")
    if kind not in KINDS:
        problems.add(
            f"instance {name!r}: unknown kind {kind!r}{did_you_mean(str(kind), KINDS)}",
            "kind must be one of: " + ", ".join(sorted(KINDS)),
        )
        raise problems.error(f"instance {name!r}")
    backend = KINDS[kind]
    # Only the secrets' own *_env keys are the loader's; any other key goes to validation,
    # so a typo such as `tokn_env` is reported rather than dropped.
    env_keys = {f"{secret}_env" for secret in backend.secret_fields}
    values = {k: v for k, v in table.items() if k not in env_keys}
    for secret in backend.secret_fields:
        if secret in values:
            problems.add(
                f"instance {name!r}: {secret} must not be written in the config file",
                f"remove it and set {env_var(name, secret)} (or use a secrets file)",
            )
            del values[secret]
        named_var = table.get(f"{secret}_env")
        candidates = [named_var] if named_var else []
        candidates.append(env_var(name, secret))
        value = next((env[v] for v in candidates if env.get(v)), None)
        if value is None:
            value = (secrets.get(name) or {}).get(secret)
        if not value:
            problems.add(
                f"instance {name!r} ({kind}) has no {secret}",
                f"set the environment variable {candidates[0]}"
                + (f" or {candidates[1]}" if len(candidates) > 1 else "")
                + f", or add {secret} under [{name}] in the secrets file",
            )
            continue
        register_secret(str(value))
        values[secret] = value
    try:
        settings = backend.settings_model.model_validate({**values, "name": name, "kind": kind})
    except ValidationError as exc:
        validation_problems(exc, backend.settings_model, name, problems)
    if problems:
        raise problems.error(f"instance {name!r}")
    return settings


def _server_table(
    server: Any, settings: Settings, config_path: Path, env: Mapping[str, str], problems: Problems
) -> None:
    if not isinstance(server, Mapping):
        problems.add("[server] must be a table", "write it as [server] with key = value lines")
        return
    for key in sorted(set(server) - set(SERVER_KEYS)):
        problems.add(
            f"unknown [server] key {key}{did_you_mean(key, SERVER_KEYS)}",
            "[server] takes " + ", ".join(SERVER_KEYS[:-1]) + " and " + SERVER_KEYS[-1],
        )
    for key, low, high in (("list_budget_seconds", 1, 3600), ("export_max_minutes", 1, 24 * 60)):
        if key not in server:
            continue
        value = server[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            problems.add(
                f"[server] {key} is {value!r}, not a number from {low} to {high}",
                f"write it as {key} = {25 if key == 'list_budget_seconds' else 30}",
            )
        else:
            setattr(settings, key, float(value))
    if "redis_url" in server and not env.get("PROCESS_MCP_REDIS_URL"):
        settings.redis_url = _redis_url(server["redis_url"], "[server] redis_url", problems)
    if "log_level" in server:
        try:
            settings.log_level = _log_level(str(server["log_level"]), "file")
        except ConfigError as exc:
            problems.extend(exc)
    settings.sessions = _session_limits(server, env, problems)
    if "export_dir" in server and not env.get("PROCESS_MCP_EXPORT_DIR"):
        # Relative paths are read from the config file's folder, not the current one.
        configured = Path(str(server["export_dir"])).expanduser()
        settings.export_dir = (
            configured if configured.is_absolute() else config_path.parent / configured
        )


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    read_file: bool = True,
) -> Settings:
    """Read the config file (if any) and the environment. Raises ConfigError only for
    problems with the file as a whole; per-instance problems are collected.
    `read_file=False` (sandbox only) still honours the environment."""
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("PROCESS_MCP_CONFIG"))
    config_path = path or (
        Path(env["PROCESS_MCP_CONFIG"]) if env.get("PROCESS_MCP_CONFIG") else default_config_path()
    )
    settings = Settings(log_level=_log_level(env.get("PROCESS_MCP_LOG_LEVEL", "INFO"), "env"))
    if env.get("PROCESS_MCP_EXPORT_DIR"):
        settings.export_dir = Path(env["PROCESS_MCP_EXPORT_DIR"]).expanduser()
    if env.get("PROCESS_MCP_REDIS_URL"):
        problems_env = Problems()
        settings.redis_url = _redis_url(
            env["PROCESS_MCP_REDIS_URL"], "PROCESS_MCP_REDIS_URL", problems_env
        )
        if problems_env:
            raise problems_env.error("PROCESS_MCP_REDIS_URL")
    if env.get("PROCESS_MCP_HTTP_TOKEN"):
        settings.http_token = SecretStr(env["PROCESS_MCP_HTTP_TOKEN"])
        register_secret(env["PROCESS_MCP_HTTP_TOKEN"])
    from_env = Problems()
    settings.sessions = _session_limits({}, env, from_env)
    if from_env:
        raise from_env.error("the environment")
    if not read_file:
        return settings
    settings.searched = config_path
    if not config_path.exists():
        if explicit:
            raise ConfigError(
                f"config file {config_path} does not exist",
                hint="create it (see README, 'Configuration') or run with --sandbox",
            )
        return settings
    settings.config_path = config_path
    data = _read_toml(config_path, "config file")
    problems = Problems()
    for section in sorted(set(data) - set(SECTIONS)):
        problems.add(
            f"unknown section [{section}]{did_you_mean(section, SECTIONS)}",
            "top-level sections are [server] and [instances.NAME]",
        )
    _server_table(data.get("server") or {}, settings, config_path, env, problems)
    secrets = _secrets_file(config_path, env)
    instances = data.get("instances") or {}
    if not isinstance(instances, Mapping):
        problems.add("instances must be tables", "write each as [instances.NAME]")
        instances = {}
    for name, table in instances.items():
        try:
            settings.instances.append(_instance(name, table, secrets, env))
        except ConfigError as exc:
            settings.problems[name] = exc
    if problems:
        # The file as a whole is wrong: report it with every instance's problems too,
        # so one round of fixing is enough.
        for problem in settings.problems.values():
            problems.extend(problem)
        raise problems.error(f"config file {config_path}")
    return settings
