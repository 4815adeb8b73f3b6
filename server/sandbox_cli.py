"""`process-mcp sandbox`: the simulated backends on their own, as a vendor would run them,
with the world's latency and faults on request, and a config that points at them."""

from __future__ import annotations

import argparse
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.logs import setup_logging
from tools.errors import ConfigError

if TYPE_CHECKING:
    from tools.backends.base import InstanceSettings
    from tools.sandbox import Sandbox


def add_world_options(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """--latency and --faults: what the sandbox and `serve --sandbox` share."""
    p.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="MS",
        help=f"{prefix}answer each request after about MS milliseconds (jittered by a "
        "quarter either way), like a vendor across the internet",
    )
    p.add_argument(
        "--faults",
        type=_rate,
        default=0.0,
        metavar="RATE",
        help=f"{prefix}answer a share RATE (0 to 1) of requests with a fault: 429, 500, "
        "502, 503, a timeout, a reset connection or a truncated body",
    )


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "sandbox",
        help="run the simulated backends alone, print URLs",
        description="The simulated backends on 127.0.0.1, each enforcing its vendor's "
        "documented quota per account (Tallyfy 100/min, Kommo 7/s). They keep their quota "
        "windows while they run, so a server or export pointed at them and restarted "
        "meets full windows, as it would at the vendor.",
    )
    p.add_argument("--seed", type=int, default=7)
    add_world_options(p)
    p.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="[KIND=]N",
        help="rows per backend (tallyfy=12000 for one kind; repeatable)",
    )
    p.add_argument(
        "--write-config",
        type=Path,
        metavar="DIR",
        help="write DIR/config.toml and DIR/secrets.toml pointing at these simulators "
        "(then: process-mcp export --config DIR/config.toml ...)",
    )
    return p


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 0 to 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share of requests from 0 to 1")
    return value


def sizes(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        kind, _, count = value.rpartition("=")
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(
                f"--size {value!r} is not a row count",
                hint="write --size 12000 (every kind) or --size tallyfy=12000",
            )
        out[kind or "*"] = int(count)
    return out


def world(args: argparse.Namespace) -> dict[str, Any]:
    """The Sandbox keywords of --latency and --faults."""
    return {"latency": args.latency / 1000.0, "faults": args.faults}


def run_sandbox(args: argparse.Namespace) -> int:
    from tools.sandbox import Sandbox

    setup_logging("WARNING")
    with Sandbox(seed=args.seed, sizes=sizes(args.size), **world(args)) as sandbox:
        print("Simulated backends (Ctrl-C to stop):")
        for inst in sandbox.instances:
            s = inst.settings
            print(f"  {s.name:<18} kind={s.kind:<8} {s.base_url}")
            for key, value in inst.describe().items():
                print(f"  {'':<18} {key}={value}")
        if args.latency or args.faults:
            print(f"\nlatency about {args.latency:g} ms a request; faults in {args.faults:.0%}")
        if args.write_config:
            config = write_config(sandbox, args.write_config)
            print(f"\nconfig written to {config} (tokens in secrets.toml beside it)")
        print("\nThese are plain HTTP APIs shaped like the vendors'; point a config at them, or")
        print("run `process-mcp serve --sandbox` to serve them through MCP.", flush=True)
        stop = threading.Event()
        try:
            stop.wait()
        except KeyboardInterrupt:
            print("stopped")
    return 0


def write_config(sandbox: Sandbox, directory: Path) -> Path:
    """config.toml with one table per simulator, secrets.toml (mode 600) with the tokens."""
    from tools.backends.registry import KINDS

    directory.mkdir(parents=True, exist_ok=True)
    config: list[str] = ["# Written by process-mcp sandbox: the simulators of one run.", ""]
    secrets: list[str] = []
    for inst in sandbox.instances:
        settings = inst.settings
        secret_names = KINDS[settings.kind].secret_fields
        config.append(f"[instances.{settings.name}]")
        config.extend(_lines(_public(settings, secret_names)))
        config.append("")
        values = {n: _secret(settings, n) for n in secret_names if _secret(settings, n)}
        if values:
            secrets.append(f"[{settings.name}]")
            secrets.extend(_lines(values))
            secrets.append("")
    path = directory / "config.toml"
    path.write_text("\n".join(config), encoding="utf-8")
    secret_path = directory / "secrets.toml"
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(secrets))
    os.chmod(secret_path, 0o600)
    return path


def _public(settings: InstanceSettings, secret_names: tuple[str, ...]) -> dict[str, Any]:
    dumped = settings.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    dumped["kind"] = settings.kind
    dumped["base_url"] = settings.base_url
    skip = {"name", *secret_names}
    return {k: v for k, v in dumped.items() if k not in skip}


def _secret(settings: InstanceSettings, name: str) -> str | None:
    value = getattr(settings, name, None)
    return value.get_secret_value() if value is not None else None


def _lines(values: Mapping[str, Any]) -> list[str]:
    # JSON strings, numbers and booleans are TOML too; a table of them is an inline table.
    def toml(value: Any) -> str:
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + " }"
        if isinstance(value, list):
            return "[" + ", ".join(toml(v) for v in value) + "]"
        return json.dumps(value)

    return [f"{key} = {toml(value)}" for key, value in values.items()]
