"""One quota per vendor account (issue 13, item 3): instances that point at the same account
(the base URL plus the org, subdomain or tenant) share one limiter whatever their names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.sim.virtual_time import VirtualTime
from tools.backends.base import InstanceSettings
from tools.backends.chakra.adapter import ChakraBackend
from tools.backends.kommo.adapter import KommoBackend, KommoSettings
from tools.backends.registry import KINDS
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.adapter import TallyfyBackend
from tools.backends.tallyfy.data import generate
from tools.backends.tallyfy.info import TallyfySettings
from tools.backends.tallyfy.simulator import create_app
from tools.backends.yuuvis.adapter import YuuvisBackend
from tools.backends.yuuvis.info import YuuvisSettings
from tools.instances import Instances
from tools.limiter import Quotas
from tools.list_processes import list_processes
from tools.sim import RateLimit


def tallyfy(
    name: str, url: str = "https://go.tallyfy.com/api", org: str = "abc"
) -> InstanceSettings:
    return TallyfySettings(name=name, base_url=url, org=org, token=SecretStr("t"))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (tallyfy("one"), tallyfy("two")),
        (tallyfy("one"), tallyfy("two", url="HTTPS://Go.Tallyfy.com:443/api/")),
        (tallyfy("one", org="ABC"), tallyfy("two", org="abc")),
        (
            KommoSettings(name="one", subdomain="acme", token=SecretStr("t")),
            KommoSettings(name="two", base_url="https://acme.kommo.com/", token=SecretStr("u")),
        ),
    ],
)
def test_instances_of_one_account_have_one_key_whatever_their_names(
    a: InstanceSettings, b: InstanceSettings
) -> None:
    backend = KINDS[a.kind]
    assert backend.account_key(a) == backend.account_key(b)


def test_another_org_subdomain_tenant_or_host_is_another_account() -> None:
    assert TallyfyBackend.account_key(tallyfy("a", org="one")) != TallyfyBackend.account_key(
        tallyfy("a", org="two")
    )
    assert TallyfyBackend.account_key(tallyfy("a")) != TallyfyBackend.account_key(
        tallyfy("a", url="https://eu.tallyfy.com/api")
    )
    acme, globex = (
        KommoSettings(name="k", subdomain=s, token=SecretStr("t")) for s in ("acme", "globex")
    )
    assert KommoBackend.account_key(acme) != KommoBackend.account_key(globex)
    tenants = [
        YuuvisSettings(name="y", base_url="https://y.example", tenant=t, token=SecretStr("t"))
        for t in ("acme", "globex")
    ]
    assert YuuvisBackend.account_key(tenants[0]) != YuuvisBackend.account_key(tenants[1])


def test_chakra_accounts_are_told_apart_by_token_never_showing_it() -> None:
    one, two = (
        InstanceSettings(name="c", kind="chakra", base_url="https://api.chakrahq.com", token=t)
        for t in (SecretStr("token-one"), SecretStr("token-two"))
    )
    key = ChakraBackend.account_key(one)
    assert key != ChakraBackend.account_key(two)
    assert "token-one" not in key


@pytest.mark.anyio
async def test_two_instance_names_for_one_org_share_one_window_at_the_vendor() -> None:
    time = VirtualTime()
    data = generate(seed=2, runs=300)
    vendor = create_app(data, token=sandbox.TOKEN, rate_limit=RateLimit(4, 60.0), clock=time.clock)
    vendor.sleep = time.sleep
    vendor.set_network(0.1, seed=1)
    names = ("acme-runs", "acme-ops")
    instances = Instances.from_settings(
        [
            sandbox.settings("http://tallyfy.test", data.org_id, name=n, rate_limit_per_minute=4)
            for n in names
        ],
        transports={n: httpx.ASGITransport(app=vendor) for n in names},
        quotas=Quotas(clock=time.clock, sleep=time.sleep),
    )
    answers: list[Any] = []

    async def session() -> None:
        for name in (*names, *names):
            answers.append(
                await list_processes(
                    instances, {"backend": name, "limit": 100, "detail": "ids"}, budget=None
                )
            )

    await time.run(session)
    await instances.aclose()
    assert [a.count for a in answers] == [100] * 4
    assert vendor.rate_limited == 0  # the second name waited in the shared window
    assert vendor.busiest_window(60.0) <= 4
    assert len(vendor.arrivals) == 6  # users once per instance, one page per call


def test_the_stricter_of_two_limits_for_one_account_paces_both() -> None:
    quotas = Quotas()
    first = quotas.limiter("tallyfy|https://go.tallyfy.com/api|org=abc", 100, 60.0)
    second = quotas.limiter("tallyfy|https://go.tallyfy.com/api|org=abc", 30, 60.0)
    assert first is second
    assert first.max_requests == 30
