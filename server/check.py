"""`process-mcp check`: validate the configuration and reach every instance, one line each."""

from __future__ import annotations

import anyio

from server.logs import setup_logging
from server.settings import Settings
from tools.errors import ProcessMcpError
from tools.instances import Instances

CHECK_SECONDS = 20


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
                lines.append((label, False, exc.for_model().replace("\n", " | ")))
    finally:
        await instances.aclose()
    for name, problem in sorted(settings.problems.items()):
        lines.append((name, False, problem.for_model().replace("\n", " | ")))
    return lines


def check(settings: Settings) -> int:
    setup_logging("WARNING")
    where = settings.config_path or "no config file"
    print(f"configuration: {where}")
    if not settings.instances and not settings.problems:
        print("no instances configured (see README, 'Configuration'), or use --sandbox")
        return 1
    results = anyio.run(_check_all, settings)
    for label, ok, message in results:
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {message}")
    failed = sum(1 for _, ok, _ in results if not ok)
    print(f"{len(results) - failed} of {len(results)} instances reachable")
    return 1 if failed else 0
