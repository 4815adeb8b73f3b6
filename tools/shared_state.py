"""State that replicas share: the quota windows of each vendor account and the discovery
caches, in Redis when `PROCESS_MCP_REDIS_URL` (or `[server] redis_url`) is set, else in
this process (`SharedState(None)`: the quota windows of tools.limiter, no shared cache).

Supported: Redis 6.2 or later (tested with Debian bookworm's 7.0), through the `redis`
client library (redis-py 5 or later, its asyncio API). Anything speaking the Redis protocol
with Lua scripting and TIME (Valkey, KeyDB) should do.

Why redis directly, not the `limits` library's moving window: `limits` counts a request
when it starts, and a window of starts lets more than the limit ARRIVE at the vendor under
jittered latency (tools/limiter.py explains why). Our limiter holds a slot from send to
response and for one window after the response; RedisSlots keeps exactly those slots, so
replicas pace arrivals at the vendor's published figures with no margin, as one process
does. Three small Lua scripts keep each step atomic:

- `reserve`: drop completions that left the window and in-flight leases that ran out (a
  replica died mid-request: counted as completed when its lease ended), then take a slot
  if fewer than the limit are held and no hold is in force; else say when to ask again;
- `complete`: move the slot from in flight to completed, anchored now;
- `hold`: no slot before a moment (a 429 said the vendor's window is full).

Time is Redis's own clock (TIME), the same for every replica and across restarts of any
of them, so a window kept in Redis survives a restart: the restarted process waits for
the vendor's window its previous life filled. Keys expire a window (plus the lease) after
their last use, so idle accounts leave nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from tools import redact
from tools.errors import ConfigError
from tools.limiter import Quotas, Reservation

if TYPE_CHECKING:
    from tools.shared_cache import SharedCache

log = logging.getLogger("process_mcp.shared")

# Longest a request may stay in flight before its slot counts as completed: far above
# our timeouts (20 s a read), so only a replica that died leaves one this long.
LEASE_SECONDS = 120.0
# When every slot is in flight somewhere, how often to ask again (completions on other
# replicas wake no local waiter).
POLL_SECONDS = 0.05
PREFIX = "process-mcp"

_NOW = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
"""

# KEYS: done, flight, hold. ARGV: now|'', max, per, lease, token, poll.
RESERVE = (
    _NOW
    + """
local max, per, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local hold = tonumber(redis.call('GET', KEYS[3]) or '0')
if now < hold then return {2, tostring(hold - now)} end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 1, #expired, 2 do redis.call('ZADD', KEYS[1], expired[i + 1], expired[i]) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
local held = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
if held < max then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
  local ttl = math.ceil((per + lease) * 1000)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest == 0 then return {0, ARGV[6]} end
return {0, tostring(math.max(tonumber(oldest[2]) + per - now, 0.000001))}
"""
)

# KEYS: done, flight. ARGV: now|'', token, ttl ms.
COMPLETE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

# KEYS: hold. ARGV: now|'', seconds.
HOLD = (
    _NOW
    + """
local till = now + tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > current then
  local ms = math.ceil(tonumber(ARGV[2]) * 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.6f', till), 'PX', ms)
end
return 1
"""
)


def shown_url(url: str) -> str:
    """The Redis URL without its password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisSlots:
    """One quota window's slots in Redis (the SlotStore of tools.limiter).

    `client_clock=True` uses the limiter's clock instead of Redis's TIME: tests drive the
    window on a fake clock with it; replicas must not (their clocks differ)."""

    def __init__(
        self,
        redis: Any,
        account: str,
        max_requests: int,
        per_seconds: float,
        *,
        url: str = "redis",
        client_clock: bool = False,
        lease: float = LEASE_SECONDS,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._redis = redis
        self._url = url
        self._client_clock = client_clock
        self._lease = lease
        self._poll = poll
        # The hash tag keeps one window's keys in one slot of a Redis Cluster.
        digest = hashlib.sha256(account.encode()).hexdigest()[:24]
        tag = f"{PREFIX}:quota:{{{digest}:{per_seconds:g}}}"
        self._done, self._flight, self._hold = f"{tag}:done", f"{tag}:flight", f"{tag}:hold"
        self._reserve = redis.register_script(RESERVE)
        self._complete = redis.register_script(COMPLETE)
        self._hold_script = redis.register_script(HOLD)

    def _now(self, now: float) -> str:
        return repr(now) if self._client_clock else ""

    async def reserve(self, now: float) -> Reservation:
        token = uuid.uuid4().hex
        keys = [self._done, self._flight, self._hold]
        args = [self._now(now), self.max_requests, repr(self.per_seconds)]
        args += [repr(self._lease), token, repr(self._poll)]
        got, wait = await self._run(self._reserve, keys, args)
        if int(got) == 1:
            return Reservation(token=token)
        return Reservation(retry_in=float(wait), held=int(got) == 2)

    async def complete(self, token: str, now: float) -> None:
        ttl = str(int((self.per_seconds + self._lease) * 1000))
        await self._run(self._complete, [self._done, self._flight], [self._now(now), token, ttl])

    async def hold(self, seconds: float, now: float) -> None:
        await self._run(self._hold_script, [self._hold], [self._now(now), repr(seconds)])

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        import redis.exceptions

        try:
            return await script(keys=keys, args=args)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            # No local fallback: pacing alone while other replicas pace together is how
            # an account gets blocked (Kommo blocks after repeated 429s).
            raise unreachable(self._url, exc) from None


def unreachable(url: str, exc: BaseException) -> ConfigError:
    return ConfigError(
        f"the shared state at {shown_url(url)} (Redis) is unreachable: {type(exc).__name__}",
        hint="start Redis there, or unset PROCESS_MCP_REDIS_URL and [server] redis_url to "
        "keep quota windows and caches in this process",
    )


class RedisCache:
    """The shared discovery cache in Redis. Failures are logged, never raised: a cache
    that is down costs a request, not an answer."""

    def __init__(self, redis: Any, url: str) -> None:
        self._redis = redis
        self._url = url

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except Exception as exc:
            log.warning("shared cache at %s: %s", shown_url(self._url), type(exc).__name__)
            return None
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self._redis.set(key, value, px=max(1, int(ttl * 1000)))
        except Exception as exc:
            log.warning("shared cache at %s: %s", shown_url(self._url), type(exc).__name__)


class SharedState:
    """The quota windows (and, with Redis, the discovery cache) of one server process.

    Without `redis_url` the windows live here (one per account and window, kept while the
    server rebuilds its instances) and there is no shared cache: each instance caches its
    own discovery, as always. With it, both live in Redis."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        client_clock: bool = False,
    ) -> None:
        self.redis_url = redis_url
        self._redis: Any = None
        self.cache: SharedCache | None = None
        if redis_url is None:
            self.quotas = Quotas(clock=clock, sleep=sleep)
            return
        self._redis = _client(redis_url)
        self.cache = RedisCache(self._redis, redis_url)

        def store(account: str, max_requests: int, per_seconds: float) -> RedisSlots:
            return RedisSlots(
                self._redis,
                account,
                max_requests,
                per_seconds,
                url=redis_url,
                client_clock=client_clock,
            )

        self.quotas = Quotas(clock=clock, sleep=sleep, stores=store)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


def _client(url: str) -> Any:
    try:
        import redis.asyncio
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ConfigError(
            "PROCESS_MCP_REDIS_URL is set but the redis client library is missing",
            hint="install process-mcp with its dependencies (redis is one of them)",
        ) from None
    from urllib.parse import urlsplit

    password = urlsplit(url).password
    if password:
        redact.register_secret(password)
    try:
        return redis.asyncio.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
    except ValueError as exc:
        raise ConfigError(
            f"PROCESS_MCP_REDIS_URL ({shown_url(url)}) is not a Redis URL: {exc}",
            hint="use redis://HOST:PORT/DB (rediss:// for TLS, unix:// for a socket)",
        ) from None
