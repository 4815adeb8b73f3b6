"""Shared state for replicas (issue 13, item 4), against a real redis-server on a loopback
port (tests/services.py: skipped locally without the binary, never in CI).

Replicas are several SharedState objects on one Redis, each with its own clients, as
separate processes would have. The pacing tests run on virtual time (the store takes the
limiter's clock, `client_clock=True`); the restart tests use Redis's own clock and only
ask, never wait.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import load_settings
from tests.services import free_port
from tests.sim.virtual_time import VirtualTime
from tools.backends.chakra import sandbox as chakra_sandbox
from tools.backends.chakra.data import generate as chakra_data
from tools.backends.chakra.simulator import create_app as chakra_app
from tools.backends.kommo import sandbox as kommo_sandbox
from tools.errors import ConfigError
from tools.instances import Instances
from tools.list_processes import list_processes
from tools.shared_state import SharedState

pytestmark = pytest.mark.anyio


def replica(
    url: str, settings: Any, core: Any, time: VirtualTime | None = None
) -> tuple[SharedState, Instances]:
    """One replica: its own shared-state client and instances, on one Redis."""
    options: dict[str, Any] = {}
    if time is not None:
        options = {"clock": time.clock, "sleep": time.sleep, "client_clock": True}
    shared = SharedState(url, **options)
    clocks = {"clock": time.clock, "sleep": time.sleep} if time else {}
    from tools.backends.registry import create_backend

    backend = create_backend(
        settings,
        transport=httpx.ASGITransport(app=core),
        quotas=shared.quotas,
        shared_cache=shared.cache,
        **clocks,
    )
    return shared, Instances([backend])


async def test_replicas_on_one_redis_keep_kommo_at_7_arrivals_a_second(redis_url: str) -> None:
    time = VirtualTime()
    parts = kommo_sandbox.open_sandbox(3, size=800)
    core = parts.core
    core.clock, core.sleep = time.clock, time.sleep
    core.rate_limits = core.rate_limits  # Kommo's 7/s, on virtual time
    core.set_network(0.15, seed=2)
    settings = parts.settings("http://kommo.test")  # Kommo's own published limit
    replicas = [replica(redis_url, settings, core, time) for _ in range(3)]

    def job(instances: Instances) -> Any:
        async def run() -> None:
            for _ in range(3):
                result = await list_processes(
                    instances,
                    {"backend": settings.name, "limit": 500, "detail": "ids"},
                    budget=None,
                )
                assert result.count == 500

        return run

    await time.run(*(job(instances) for _, instances in replicas))
    for shared, instances in replicas:
        await instances.aclose()
        await shared.aclose()
    assert len(core.arrivals) > 20
    assert core.rate_limited == 0
    assert core.busiest_window(1.0) <= 7


async def test_a_window_kept_in_redis_survives_a_restart(redis_url: str) -> None:
    account = "tallyfy|https://go.tallyfy.com/api|org=abc"
    before = SharedState(redis_url)
    limiter = before.quotas.limiter(account, 2, 60.0)
    for _ in range(2):
        async with limiter.slot():
            pass  # two requests sent and answered
    await before.aclose()

    after = SharedState(redis_url)  # the process restarted: nothing in its memory
    store = after.quotas.limiter(account, 2, 60.0)._store
    answer = await store.reserve(0.0)
    await after.aclose()
    assert answer.token is None
    assert answer.retry_in is not None
    assert 59.0 < answer.retry_in <= 60.0


async def test_a_429_seen_by_one_replica_holds_the_others(redis_url: str) -> None:
    account = "kommo|https://acme.kommo.com"
    one, two = SharedState(redis_url), SharedState(redis_url)
    await one.quotas.limiter(account, 7, 1.0).hold(30.0)
    answer = await two.quotas.limiter(account, 7, 1.0)._store.reserve(0.0)
    await one.aclose()
    await two.aclose()
    assert answer.held
    assert answer.retry_in is not None
    assert 29.0 < answer.retry_in <= 30.0


async def test_a_slot_left_in_flight_by_a_dead_replica_counts_as_done_when_its_lease_ends(
    redis_url: str,
) -> None:
    from tools.shared_state import RedisSlots

    shared = SharedState(redis_url)
    redis = shared._redis
    slots = RedisSlots(redis, "acct", 1, 60.0, client_clock=True, lease=5.0)
    taken = await slots.reserve(0.0)  # and the replica died: never completed
    assert taken.token is not None
    still = await slots.reserve(4.0)
    after_lease = await slots.reserve(6.0)
    await shared.aclose()
    assert still.token is None
    # Counted as completed at its lease's end (5 s), so free a window after that.
    assert after_lease.token is None
    assert after_lease.retry_in == pytest.approx(59.0)


async def test_replicas_share_discovery_so_only_one_reads_the_chakra_config(
    redis_url: str,
) -> None:
    data = chakra_data(seed=4, leads=30, tickets=10, visits=10)
    core = chakra_app(data, token=chakra_sandbox.TOKEN)
    settings = chakra_sandbox.settings("http://chakra.test")
    owner = data.users[0]["username"]  # an owner filter needs the users directory too
    replicas = [replica(redis_url, settings, core) for _ in range(3)]
    for _, instances in replicas:
        await list_processes(instances, {"backend": settings.name, "limit": 5, "owner": owner})
    for shared, instances in replicas:
        await instances.aclose()
        await shared.aclose()
    reads = [r.path for r in core.requests]
    assert reads.count("/v1/ext/config") == 1
    assert reads.count("/v1/ext/users") == 1
    assert sum(p.endswith("/list") for p in reads) == 3  # list pages are never shared


async def test_an_unreachable_redis_is_a_clear_error_not_a_traceback() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    parts = kommo_sandbox.open_sandbox(3)
    shared, instances = replica(url, parts.settings("http://kommo.test"), parts.core)
    with pytest.raises(ConfigError) as caught:
        await list_processes(instances, {"backend": kommo_sandbox.NAME, "limit": 5})
    await instances.aclose()
    await shared.aclose()
    text = caught.value.for_model()
    assert "(Redis) is unreachable" in text
    assert "PROCESS_MCP_REDIS_URL" in text


def test_the_redis_url_comes_from_the_environment_or_the_server_table(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server]\nredis_url = "redis://cache.internal:6379/2"\n')
    assert load_settings(config, env={}).redis_url == "redis://cache.internal:6379/2"
    env = {"PROCESS_MCP_REDIS_URL": "redis://:s3cret@10.0.0.5:6379/0"}
    assert load_settings(config, env=env).redis_url == env["PROCESS_MCP_REDIS_URL"]
    assert load_settings(None, env={}, read_file=False).redis_url is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('redis_url = "http://cache:6379"', "must be a Redis URL"),
        ('redis_url = "redis://:pw@cache:6379/0"', "carries a password"),
        ("list_budget_seconds = 0", "not a number from 1 to 3600"),
        ('export_max_minutes = "long"', "not a number from 1 to 1440"),
    ],
)
def test_bad_server_settings_are_refused_with_the_fix(
    tmp_path: Path, line: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[server]\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert message in caught.value.for_model()


def test_the_waiting_budgets_are_read_from_the_server_table(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[server]\nlist_budget_seconds = 40\nexport_max_minutes = 90\n")
    settings = load_settings(config, env={})
    assert settings.list_budget_seconds == 40.0
    assert settings.export_max_seconds == 90 * 60.0
