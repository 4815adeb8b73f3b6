"""`process-mcp check`: validate the configuration and reach every instance, one line each.

It says where it looked for the config file and how to write one, and when a backend
refuses a token that it accepted (403), it names the account setting (org, tenant,
subdomain) that most likely points at the wrong account.
"""

from __future__ import annotations

import anyio

from server.logs import setup_logging
from server.settings import Settings, env_var
from tools.backends.base import Backend
from tools.errors import ProcessMcpError
from tools.instances import Instances

CHECK_SECONDS = 20
# Settings that pick the account inside a vendor: wrong, and a valid token is refused.
ACCOUNT_FIELDS = ("org", "tenant", "subdomain")
EXAMPLE = """\
  [instances.my-runs]
  kind = "tallyfy"
  org = "<your Tallyfy organization id>"
"""


def likely_cause(backend: Backend, exc: ProcessMcpError) -> str | None:
    """For a 401/403 on an instance with an account setting: that setting, named."""
    status = getattr(exc, "status", None)
    if status not in (401, 403):
        return None
    scoped = [(f, value) for f in ACCOUNT_FIELDS if (value := getattr(backend.settings, f, None))]
    if not scoped:
        return None
    fields = " / ".join(f for f, _ in scoped)
    shown = ", ".join(f"{f} = {v!r}" for f, v in scoped)
    where = f"[instances.{backend.name}]"
    if status == 403:
        return (
            f"likely cause: a wrong {fields} ({shown}): the token was accepted, but this "
            f"account cannot see that one; check {fields} in {where}, or use a token of "
            "that account"
        )
    return (
        f"likely cause: the token, or a wrong {fields} ({shown}) that the token does not "
        f"belong to; check {where} and {env_var(backend.name, 'token')}"
    )


async def _check_all(settings: Settings) -> list[tuple[str, bool, str]]:
    instances = Instances.from_settings(settings.instances, settings.problems)
    lines: list[tuple[str, bool, str]] = []
    try:
        for name in instances.names:
            backend = instances.backends[name]
            label = f"{name} ({backend.kind}, {backend.settings.base_url})"
            try:
                with anyio.fail_after(CHECK_SECONDS):
                    lines.append((label, True, await backend.check()))
            except TimeoutError:
                lines.append((label, False, f"no answer within {CHECK_SECONDS} s"))
            except ProcessMcpError as exc:
                message = exc.for_model().replace("\n", " | ")
                cause = likely_cause(backend, exc)
                lines.append((label, False, f"{message} | {cause}" if cause else message))
    finally:
        await instances.aclose()
    for name, problem in sorted(settings.problems.items()):
        lines.append((name, False, problem.for_model().replace("\n", " | ")))
    return lines


def _where(settings: Settings) -> str:
    if settings.config_path is not None:
        return f"configuration: {settings.config_path}"
    if settings.searched is not None:
        return (
            f"configuration: no config file at {settings.searched} (--config or "
            "PROCESS_MCP_CONFIG point elsewhere)"
        )
    return "configuration: sandbox only (no config file read)"


def check(settings: Settings) -> int:
    setup_logging("WARNING")
    print(_where(settings))
    if not settings.instances and not settings.problems:
        target = settings.searched or "a config file"
        print(f"no instances configured. To add one, create {target} with, for example:")
        print(EXAMPLE)
        print(
            f"then set the token: export {env_var('my-runs', 'token')}=... and run "
            "`process-mcp check` again. Every kind and key: README, 'Configuration'. "
            "To try the simulated backends instead: `process-mcp check --sandbox`."
        )
        return 1
    results = anyio.run(_check_all, settings)
    for label, ok, message in results:
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {message}")
    failed = sum(1 for _, ok, _ in results if not ok)
    print(f"{len(results) - failed} of {len(results)} instances reachable")
    return 1 if failed else 0
