"""The `process-mcp` command: serve, sandbox, demo, check, export.

Heavy imports (the SDK, simulators) happen inside the subcommands so that `--help` and
`check` start fast and `serve` loads only what it uses.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tools.errors import ConfigError

if TYPE_CHECKING:
    from server.app import Pending
    from server.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="process-mcp",
        description="MCP server for looking up business processes across several backends.",
    )
    from server import __version__

    parser.add_argument("--version", action="version", version=f"process-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--transport", choices=("stdio", "http", "sse"), default="stdio")
    serve.add_argument("--host", default="127.0.0.1", help="bind address for http/sse")
    serve.add_argument("--port", type=int, default=8765, help="port for http/sse (0 = any)")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="extra Host header value to accept over http/sse (e.g. mcp.example.com)",
    )
    serve.add_argument(
        "--stateless",
        action="store_true",
        help="http only: no sessions, one JSON body per answer, so replicas behind a load "
        "balancer need no sticky sessions",
    )
    _common(serve)

    from server.sandbox_cli import add_parser as add_sandbox_parser

    add_sandbox_parser(sub)

    demo = sub.add_parser("demo", help="sandbox + real server + real client, a few calls")
    demo.add_argument("--seed", type=int, default=7)

    check = sub.add_parser("check", help="validate the configuration and reach every instance")
    _common(check)

    from server.export_cli import add_parser

    _common(add_parser(sub))
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="config file (default: user config dir)")
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="add the simulated backends (without --config, only them)",
    )
    p.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    from server.sandbox_cli import add_world_options

    add_world_options(p, prefix="with --sandbox: ")


def _fail(message: str) -> int:
    print(f"process-mcp: {message}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def _settings(args: argparse.Namespace) -> Iterator[Settings]:
    from server.settings import load_settings

    config, sandbox = args.config, args.sandbox
    settings = load_settings(config, read_file=not (sandbox and config is None))
    if not sandbox:
        yield settings
        return
    from server.sandbox_cli import world
    from tools.sandbox import Sandbox

    with Sandbox(seed=args.seed, **world(args)) as running:
        settings.instances.extend(running.settings())
        yield settings


@contextlib.contextmanager
def _background_sandbox(args: argparse.Namespace) -> Iterator[tuple[Settings, Pending]]:
    """`serve --sandbox`: the simulators start on a thread once the server serves, so
    `initialize` does not wait for them; the first call needing a backend does."""
    from server.sandbox_cli import world
    from server.settings import load_settings
    from tools.sandbox_thread import BackgroundSandbox

    settings = load_settings(args.config, read_file=args.config is not None)
    with BackgroundSandbox(seed=args.seed, **world(args)) as running:
        yield settings, running


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "serve":
        gc.enable()  # run() held it off for start-up; serve() enables it once it serves
    try:
        if args.command == "serve":
            from server.serve import serve

            if args.sandbox:
                with _background_sandbox(args) as (settings, pending):
                    return serve(settings, args, pending=pending)
            with _settings(args) as settings:
                return serve(settings, args)
        if args.command == "check":
            from server.check import check

            with _settings(args) as settings:
                return check(settings)
        if args.command == "export":
            from server.export_cli import run_export
            from server.logs import setup_logging

            with _settings(args) as settings:
                setup_logging("WARNING")
                return run_export(settings, args)
        if args.command == "sandbox":
            from server.sandbox_cli import run_sandbox

            return run_sandbox(args)
        if args.command == "demo":
            from server.demo import demo

            return demo(args.seed)
    except ConfigError as exc:
        return _fail(exc.for_model())
    except KeyboardInterrupt:
        return 130
    return 2


def run() -> NoReturn:
    """The `process-mcp` command (and `python -m server`): `main`, then the exit.

    Once main has returned, every cleanup of ours has run (the lifespan closed the
    instances, the sandbox stopped its simulators). What the interpreter would still do
    is tear down every module and free every object one by one: a quarter of a second or
    more with the sandbox's data in memory, which a client that closed stdin waits for.
    So: the atexit handlers (the export temporaries' cleanup among them, and logging's
    flush), the standard streams flushed, and the process ends. With a non-daemon thread
    still alive the interpreter's own exit runs instead, so that it is joined.

    The cyclic garbage collector is off while the modules load (their classes and
    schemas are all kept, and collecting over them cost about 40 ms of every start):
    `serve` turns it back on before it serves (server.serve.gc_after_start), every other
    command at once."""
    gc.disable()
    code = main()
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(not t.daemon for t in others):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # Closed, or the reader left: nothing to keep.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
