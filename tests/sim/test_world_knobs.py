"""The sandbox's realistic knobs (issue 13, item 7): latency with jitter, a seeded fault mix
with resets and truncated bodies (over a real loopback socket too), row counts, and a
config written for the running simulators."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.cli import _parser
from server.sandbox_cli import sizes, write_config
from server.settings import load_settings
from tools.backends.tallyfy import sandbox as tallyfy
from tools.errors import ConfigError
from tools.sandbox import Sandbox
from tools.sim import Fault, FaultPlan, SimServer

HEADERS = {
    "Authorization": f"Bearer {tallyfy.TOKEN}",
    "X-Tallyfy-Client": "APIClient",
    "Accept": "application/json",
}


def runs_url(base: str, org: str) -> str:
    return f"{base.rstrip('/')}{tallyfy.PREFIX}/organizations/{org}/runs"


def test_a_reset_drops_the_connection_mid_body_and_a_truncated_body_is_cut_but_whole() -> None:
    parts = tallyfy.open_sandbox(7)
    parts.core.rate_limit = None
    org = parts.describe["org"]
    with SimServer(parts.core) as server, httpx.Client(headers=HEADERS) as client:
        whole = client.get(runs_url(server.url, org))
        parts.core.faults.add(Fault(kind="reset"))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(runs_url(server.url, org))
        parts.core.faults.add(Fault(kind="truncated"))
        cut = client.get(runs_url(server.url, org))
    assert whole.status_code == cut.status_code == 200
    assert cut.content == whole.content[: len(whole.content) // 2]
    assert int(cut.headers["content-length"]) == len(cut.content)


def test_the_random_mix_is_seeded_and_keeps_to_its_rate() -> None:
    def draws(seed: int) -> list[str]:
        plan = FaultPlan()
        plan.random_mix(0.1, seed=seed)
        return [(f.kind + str(f.status)) if (f := plan.take("/x")) else "." for _ in range(2000)]

    first = draws(3)
    assert first == draws(3)
    assert first != draws(4)
    assert 150 < sum(d != "." for d in first) < 250
    with pytest.raises(ValueError, match="from 0 to 1"):
        FaultPlan().random_mix(1.5)


def test_latency_is_jittered_a_quarter_either_way() -> None:
    core = tallyfy.open_sandbox(7).core
    core.set_network(0.2)
    assert core.latency == pytest.approx(0.15)
    assert core.latency_jitter == pytest.approx(0.1)


def test_the_sandbox_applies_latency_faults_and_sizes_to_its_simulators(tmp_path: Path) -> None:
    with Sandbox(seed=7, latency=0.2, faults=0.1, sizes={"tallyfy": 120}) as running:
        cores = {i.settings.kind: i.core for i in running.instances}
        assert all(c.latency == pytest.approx(0.15) for c in cores.values())
        assert all(c.faults.random_rate == 0.1 for c in cores.values())
        # Tallyfy's 100/min and 1,000/h per organization, Kommo's 7/s: server side.
        assert [(r.max_requests, r.per_seconds) for r in cores["tallyfy"].rate_limits] == [
            (100, 60.0),
            (1000, 3600.0),
        ]
        assert cores["kommo"].rate_limit is not None
        assert (cores["kommo"].rate_limit.max_requests, cores["kommo"].rate_limit.per_seconds) == (
            7,
            1.0,
        )
        config = write_config(running, tmp_path / "world")
        settings = load_settings(config, env={})
        urls = {i.settings.name: i.settings.base_url for i in running.instances}
    assert {i.name: i.base_url for i in settings.instances} == urls
    assert not settings.problems  # every token found in the secrets file beside it
    assert oct((tmp_path / "world" / "secrets.toml").stat().st_mode & 0o777) == "0o600"


def test_the_command_lines_take_the_knobs() -> None:
    args = _parser().parse_args(
        ["sandbox", "--latency", "200", "--faults", "0.1", "--size", "tallyfy=12000"]
    )
    assert (args.latency, args.faults, sizes(args.size)) == (200.0, 0.1, {"tallyfy": 12000})
    serve = _parser().parse_args(["serve", "--sandbox", "--latency", "150", "--faults", "0.05"])
    assert (serve.latency, serve.faults) == (150.0, 0.05)
    assert sizes(["500"]) == {"*": 500}
    with pytest.raises(SystemExit):
        _parser().parse_args(["sandbox", "--faults", "2"])
    with pytest.raises(ConfigError):
        sizes(["tallyfy=lots"])
