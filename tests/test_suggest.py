"""Suggestion cache: one directory fetch per TTL, whatever the number of keystrokes."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from tests.memory_backend import MemoryBackend
from tools.errors import BackendError
from tools.instances import Instances
from tools.suggest import MAX_VALUES, SuggestionCache, match, suggest

pytestmark = pytest.mark.anyio


class Directory(MemoryBackend):
    """A memory backend with a template directory that counts its lookups."""

    def __init__(self, name: str, templates: Sequence[str]) -> None:
        super().__init__(name, [])
        self.templates = list(templates)
        self.lookups = 0
        self.fail = False
        self.gate: anyio.Event | None = None

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        if field_name != "template":
            return await super().suggest(field_name, collection)
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise BackendError("directory down", backend=self.name)
        return self.templates


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_match_puts_prefix_matches_before_word_matches_and_caps_at_100() -> None:
    got = match(["Customer Onboarding", "Onboarding", "Offboarding", "onboard"], "onb")
    assert got.values == ("Onboarding", "onboard", "Customer Onboarding")
    many = match([f"t{i}" for i in range(250)], "t")
    assert len(many.values) == MAX_VALUES
    assert many.total == 250
    assert many.has_more


async def test_typing_a_prefix_costs_one_lookup_until_the_ttl_runs_out() -> None:
    clock = Clock()
    backend = Directory("crm", ["Sales", "Support", "Onboarding"])
    instances = Instances([backend])
    cache = SuggestionCache(ttl=60, clock=clock)
    for typed in ["", "S", "Su", "Sup", "Supp"]:
        await suggest(instances, cache, "template", typed, backend="crm")
    assert backend.lookups == 1
    assert (await suggest(instances, cache, "template", "su", backend="crm")).values == ("Support",)
    backend.templates.append("Supply")
    clock.now += 59
    assert (await suggest(instances, cache, "template", "sup")).values == ("Support",)
    clock.now += 2
    assert (await suggest(instances, cache, "template", "sup")).values == ("Support", "Supply")
    assert backend.lookups == 2


async def test_concurrent_askers_share_one_lookup() -> None:
    backend = Directory("crm", ["Sales"])
    backend.gate = anyio.Event()
    instances = Instances([backend])
    cache = SuggestionCache(clock=Clock())
    answers: list[tuple[str, ...]] = []

    async def ask() -> None:
        answers.append((await suggest(instances, cache, "template", "s")).values)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        backend.gate.set()
    assert answers == [("Sales",)] * 5
    assert backend.lookups == 1


async def test_a_failing_directory_keeps_the_last_values_and_is_retried_later_not_per_key() -> None:
    clock = Clock()
    backend = Directory("crm", ["Sales"])
    instances = Instances([backend])
    cache = SuggestionCache(ttl=60, retry_after=10, clock=clock)
    await suggest(instances, cache, "template", "")
    backend.fail = True
    clock.now += 61
    for typed in ["", "s", "sa"]:
        assert (await suggest(instances, cache, "template", typed)).values == ("Sales",)
    assert backend.lookups == 2
    clock.now += 11
    await suggest(instances, cache, "template", "")
    assert backend.lookups == 3


async def test_all_merges_every_instance_and_an_unknown_backend_gives_nothing() -> None:
    instances = Instances([Directory("a", ["Sales", "Support"]), Directory("b", ["Sales", "Ops"])])
    cache = SuggestionCache(clock=Clock())
    assert (await suggest(instances, cache, "template", "", backend="all")).values == (
        "Sales",
        "Support",
        "Ops",
    )
    assert (await suggest(instances, cache, "template", "", backend="zzz")).values == ()
    assert (await suggest(instances, cache, "backend", "")).values == ("all", "a", "b")
