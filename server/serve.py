"""Running the server on a transport, and the sandbox on its own."""

from __future__ import annotations

import argparse
import gc
import logging
import socket
import sys
from typing import TYPE_CHECKING, Any

import anyio

from server.logs import setup_logging
from server.sessions import SessionLimits, StreamGuard, make_room
from server.settings import Settings
from tools.errors import ConfigError

if TYPE_CHECKING:
    from server.app import Pending

log = logging.getLogger("process_mcp.serve")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on the connections a socket accepts
    # only when it does, and without it every keep-alive response waited ~40 ms (Nagle
    # holding the body until the client's delayed ACK of the headers).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited on Linux too
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="pick another --port (0 picks a free one)",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _auth_kwargs(settings: Settings, url: str) -> dict[str, Any]:
    if settings.http_token is None:
        return {}
    from mcp.server.auth.settings import AuthSettings

    from server.auth import StaticTokenVerifier

    return {
        "token_verifier": StaticTokenVerifier(settings.http_token.get_secret_value()),
        "auth": AuthSettings(
            issuer_url=url.rsplit("/", 1)[0],
            resource_server_url=url,
            validate_token_resource=False,
        ),
    }


def _security(host: str, port: int, extra: list[str]) -> Any:
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = ["127.0.0.1", "localhost", "[::1]"]
    if host not in LOOPBACK:
        hosts.append(host)
    hosts.extend(extra)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{h}:*" for h in hosts] + hosts,
        allowed_origins=[f"http://{h}:*" for h in hosts] + [f"https://{h}:*" for h in hosts],
    )


def serve(settings: Settings, args: argparse.Namespace, *, pending: Pending | None = None) -> int:
    from server.app import build_server

    stateless = getattr(args, "stateless", False)
    if stateless and args.transport != "http":
        raise ConfigError(
            f"--stateless applies to --transport http, not {args.transport}",
            hint="add --transport http (stdio and sse keep one session per connection)",
        )
    setup_logging(settings.log_level)
    for name, problem in settings.problems.items():
        log.warning("instance %s is unusable: %s", name, problem.for_model())
    names = ", ".join(i.name for i in settings.instances) or "none"
    log.info("backends: %s%s", names, " (and the sandbox's, starting)" if pending else "")
    if args.transport == "stdio":
        server = build_server(settings, pending=pending, begin_pending="handshake")
        gc_after_start()
        server.run()
        return 0
    if args.host not in LOOPBACK and settings.http_token is None:
        raise ConfigError(
            f"refusing to listen on {args.host} without authentication",
            hint="set PROCESS_MCP_HTTP_TOKEN to a long random value (clients then send "
            "'Authorization: Bearer <token>'), or bind to 127.0.0.1",
        )
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    path = "/mcp" if args.transport == "http" else "/sse"
    url = f"http://{args.host}:{port}{path}"
    server = build_server(settings, pending=pending, **_auth_kwargs(settings, url))
    security = _security(args.host, port, args.allow_host)
    app = http_app(server, args.transport, security, args.host, settings.sessions, stateless)
    gc_after_start()
    # One line on stderr that scripts (and tests using --port 0) can wait for.
    print(f"process-mcp listening on {url}", file=sys.stderr, flush=True)
    anyio.run(_uvicorn, app, sock)
    return 0


def gc_after_start() -> None:
    """The collector back on, if the command line held it off for start-up (server.cli.run).
    What start-up built lives as long as the server: frozen, later collections skip it."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def http_app(
    server: Any,
    transport: str,
    security: Any,
    host: str,
    limits: SessionLimits,
    stateless: bool = False,
) -> Any:
    """The ASGI app of an HTTP transport, with the session and stream limits of
    server.sessions. Stateless: no sessions at all, and every answer one JSON body (so a
    load balancer needs no stickiness; progress notifications have no stream to go on)."""
    if transport == "sse":
        app = server.sse_app(transport_security=security, host=host)
        return StreamGuard(app, limits, kind="legacy", path="/sse")
    if stateless:
        app = server.streamable_http_app(
            transport_security=security, host=host, stateless_http=True, json_response=True
        )
    else:
        app = server.streamable_http_app(
            transport_security=security,
            host=host,
            session_idle_timeout=limits.idle_seconds,
            max_sessions=limits.max_sessions,
        )
        make_room(server.session_manager, limits, security)
    return StreamGuard(app, limits, kind="streamable", path="/mcp")


async def _uvicorn(app: Any, sock: socket.socket) -> None:
    import uvicorn

    from tools.asgi_server import PromptServer

    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    # SIGTERM stops it at once, not at uvicorn's next 0.1 s poll (and without its 0.1 s
    # wait for connections when none are left).
    await PromptServer(config).serve(sockets=[sock])
