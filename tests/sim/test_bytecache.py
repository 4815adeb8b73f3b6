"""The simulators' encoded-body cache is bounded by bytes and evicts the least recent."""

from __future__ import annotations

from tools.sim.bytecache import ByteCache


def counting(body: bytes, calls: list[bytes]) -> bytes:
    calls.append(body)
    return body


def test_a_cached_body_is_served_again_without_building_it() -> None:
    cache = ByteCache(100)
    calls: list[bytes] = []
    assert cache.get("a", lambda: counting(b"x" * 10, calls)) == b"x" * 10
    assert cache.get("a", lambda: counting(b"other", calls)) == b"x" * 10
    assert calls == [b"x" * 10]


def test_the_bound_is_in_bytes_and_the_least_recently_used_goes_first() -> None:
    cache = ByteCache(30)
    for key in "abc":
        cache.get(key, lambda: b"1234567890")
    cache.get("a", lambda: b"unused")  # a is now the most recent
    cache.get("d", lambda: b"1234567890")  # 40 bytes: b, the least recent, goes
    assert cache.size == 30
    assert len(cache) == 3
    rebuilt: list[bytes] = []
    cache.get("b", lambda: counting(b"1234567890", rebuilt))
    cache.get("a", lambda: counting(b"never", rebuilt))
    assert rebuilt == [b"1234567890"]


def test_a_body_larger_than_the_budget_is_served_but_not_kept() -> None:
    cache = ByteCache(5)
    assert cache.get("big", lambda: b"1234567890") == b"1234567890"
    assert len(cache) == 0
    assert cache.size == 0
