"""The real-service fixtures themselves: a redis-server of our own answers on loopback."""

from __future__ import annotations

import redis

from tests.services import RedisServer


def test_redis_fixture_serves_an_empty_database_on_loopback(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
        assert client.dbsize() == 0
        client.set("probe", "1")
    finally:
        client.close()


def test_each_test_gets_the_server_flushed(redis_url: str, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get("probe") is None
        assert redis_server.url == redis_url
    finally:
        client.close()
