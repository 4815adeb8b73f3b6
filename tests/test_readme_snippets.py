"""Every client snippet of the README, run as written.

Each `<!-- snippet: NAME -->` block is parsed the way its client reads it (Claude Desktop,
Cursor and VS Code JSON; Claude Code's `claude mcp add` command line, with its greedy
`--env`), then its command is started from another directory with the environment an MCP
client gives a server: the SDK's default variables (HOME, PATH, ...) plus the snippet's
`env`. Only three things are filled in: the clone's path for `/path/to/process-mcp`, a
config file for `/path/to/config.toml` (pointing at the sandbox simulators), and the
sandbox's tokens for the `<...>` placeholders (and VS Code's `${input:...}`). A build
machine that reaches PyPI through its own CA also passes SSL_CERT_FILE, as its users would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tools.backends.kommo import sandbox as kommo
from tools.backends.tallyfy import sandbox as tallyfy
from tools.sandbox import Sandbox

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SNIPPET = re.compile(
    r"<!-- snippet: (?P<name>[\w-]+) -->\n```(?P<lang>\w+)\n(?P<body>.*?)\n```", re.S
)
SNIPPETS = {m["name"]: (m["lang"], m["body"]) for m in SNIPPET.finditer(README)}
CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor")
TOKENS = {
    "<Tallyfy personal access token>": tallyfy.TOKEN,
    "<Kommo long-lived token>": kommo.TOKEN,
}
TOOLS = {"list_backends", "list_processes", "summarize_processes", "get_process", "export_process"}


@dataclass
class Launch:
    command: str
    args: list[str]
    env: dict[str, str]


def from_json(body: str) -> Launch:
    data = json.loads(body)
    servers = data.get("mcpServers") or data["servers"]
    entry = servers["process-mcp"]
    assert entry.get("type", "stdio") == "stdio"
    inputs = {i["id"]: i for i in data.get("inputs", [])}
    env = {}
    for key, value in (entry.get("env") or {}).items():
        if m := re.fullmatch(r"\$\{input:([\w-]+)\}", value):
            assert m[1] in inputs, f"${{input:{m[1]}}} has no entry in inputs"
            value = f"<{inputs[m[1]]['description']}>"
        env[key] = value
    return Launch(entry["command"], list(entry["args"]), env)


def from_claude_code(body: str) -> Launch:
    """`claude mcp add NAME [options] -- COMMAND ARGS...`, read as Claude Code reads it:
    `--env` takes every following word up to the next option."""
    tokens = shlex.split(body)
    assert tokens[:3] == ["claude", "mcp", "add"]
    env: dict[str, str] = {}
    positional: list[str] = []
    i = 3
    while tokens[i] != "--":
        word = tokens[i]
        if word in ("-e", "--env"):
            i += 1
            while i < len(tokens) and not tokens[i].startswith("-"):
                key, sep, value = tokens[i].partition("=")
                assert sep, f"--env would swallow {tokens[i]!r}: put the name before --env"
                env[key] = value
                i += 1
            continue
        if word in ("-t", "--transport", "-s", "--scope"):
            assert word not in ("-t", "--transport") or tokens[i + 1] == "stdio"
            i += 2
            continue
        assert not word.startswith("-"), f"unknown option {word}"
        positional.append(word)
        i += 1
    assert positional == ["process-mcp"]
    command, *args = tokens[i + 1 :]
    return Launch(command, args, env)


def uvx() -> str:
    found = shutil.which("uvx")
    if found and "/shims/" in found:  # pyenv: the shim needs pyenv itself on PATH
        done = subprocess.run(["pyenv", "which", "uvx"], capture_output=True, text=True)
        found = done.stdout.strip() or None
    if not found:
        pytest.skip("uvx is not installed (pip install uv), so the snippets cannot run")
    return found


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=7) as running:
        yield running


@pytest.fixture
def config(sandbox: Sandbox, tmp_path: Path) -> Path:
    runs = sandbox.instance(tallyfy.NAME).settings
    crm = sandbox.instance(kommo.NAME).settings
    path = tmp_path / "config.toml"
    path.write_text(
        f'[instances.acme-runs]\nkind = "tallyfy"\nbase_url = "{runs.base_url}"\n'
        f'org = "{runs.org}"\n\n'  # type: ignore[attr-defined]
        f'[instances.acme-crm]\nkind = "kommo"\nbase_url = "{crm.base_url}"\n'
    )
    return path


def fill(text: str, config: Path) -> str:
    text = text.replace("/path/to/process-mcp", str(ROOT)).replace(
        "/path/to/config.toml", str(config)
    )
    for placeholder, token in TOKENS.items():
        text = text.replace(placeholder, token)
    assert "<" not in text, f"unfilled placeholder in {text!r}"
    assert "/path/to" not in text, f"unfilled path in {text!r}"
    return text


def test_every_client_has_a_sandbox_and_a_real_account_snippet() -> None:
    assert set(SNIPPETS) == {f"{c}-{v}" for c in CLIENTS for v in ("sandbox", "real")}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
async def test_snippet_runs_verbatim_from_another_directory(
    name: str, config: Path, tmp_path: Path
) -> None:
    lang, body = SNIPPETS[name]
    launch = from_claude_code(body) if lang == "sh" else from_json(body)
    assert launch.command == "uvx"
    assert launch.args[:2] == ["--from", "/path/to/process-mcp"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: fill(v, config) for k, v in launch.env.items()}
    env["PATH"] = f"{Path(uvx()).parent}:/usr/bin:/bin"
    if os.environ.get("SSL_CERT_FILE"):
        env["SSL_CERT_FILE"] = os.environ["SSL_CERT_FILE"]
    params = StdioServerParameters(
        command=launch.command,
        args=[fill(a, config) for a in launch.args],
        env=env,
        cwd=str(elsewhere),
    )
    async with Client(params, read_timeout_seconds=120) as client:
        info = client.server_info
        assert info is not None
        assert info.icons, "the icon ships in the installed package"
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == TOOLS
        listed = await client.call_tool("list_backends", {})
        backends = {b["name"]: b for b in listed.structured_content["backends"]}
        if name.endswith("-real"):
            assert set(backends) == {"acme-runs", "acme-crm"}
        else:
            assert tallyfy.NAME in backends
        assert all(b["usable"] for b in backends.values()), backends
        first = next(iter(sorted(backends)))
        rows = await client.call_tool("list_processes", {"backend": first, "limit": 2})
        assert rows.structured_content["count"] == 2


def test_the_uvx_install_brings_no_dev_tools(tmp_path: Path) -> None:
    probe = (
        "import importlib.util as u, sys; "
        "sys.exit(any(u.find_spec(m) for m in ('pytest', 'ruff', 'mypy', 'hypothesis')))"
    )
    env = {"PATH": f"{Path(uvx()).parent}:/usr/bin:/bin", "HOME": os.environ["HOME"]}
    if os.environ.get("SSL_CERT_FILE"):
        env["SSL_CERT_FILE"] = os.environ["SSL_CERT_FILE"]
    done = subprocess.run(
        ["uvx", "--from", str(ROOT), "python", "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
