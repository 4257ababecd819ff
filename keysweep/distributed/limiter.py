"""API rate limits shared by every worker through Redis, so N workers on one token together stay
under a forge's limit and all wait for its reset.

Per host, two keys (prefix `keysweep:rate:`):
- `<host>:log`: a sorted set of the requests of the last second (a sliding window, as servers count,
  held SLACK longer); a request takes a place only while fewer than the host's rate are in it. A 304
  gives it back (GitHub does not count it).
- `<host>:until`: when the server said to stop (`Retry-After`, or `X-RateLimit-Remaining: 0` until
  `X-RateLimit-Reset`): no worker sends to that host before then.
Both are checked and taken in one Lua script, so two workers never take the last place twice. Worker
clocks are assumed in step (NTP), as they are for TLS.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable, Mapping

from keysweep.http import requested_wait

PREFIX = "keysweep:rate:"
MARGIN = 0.05  # seconds past a reset before sending again
# A place is held this long past its window, so network jitter cannot squeeze two of keysweep's
# windows into one of the server's.
SLACK = 0.1

# KEYS: log, until. ARGV: now, period, limit, member. Returns {taken (0/1), seconds to wait}.
ACQUIRE = """
local now = tonumber(ARGV[1]); local period = tonumber(ARGV[2]); local limit = tonumber(ARGV[3])
local untilv = tonumber(redis.call('GET', KEYS[2]) or '0')
if untilv > now then return {0, tostring(untilv - now)} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(period * 1000) + 1000)
  return {1, '0'}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + period - now)}
"""
# KEYS: until. ARGV: until (epoch seconds), ttl ms. Only ever moves later.
HOLD = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""


class SharedThrottle:
    """Throttle's interface (`acquire`, `release`) over Redis, plus `observe(headers)`."""

    def __init__(self, redis, host: str, rate: float, *, prefix: str = PREFIX,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], Any] = asyncio.sleep,
                 max_hold: float = 3600.0) -> None:
        self.redis, self.host = redis, host
        self.limit, self.period = (int(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
        self.log_key, self.until_key = f"{prefix}{host}:log", f"{prefix}{host}:until"
        self.clock, self.sleep, self.max_hold = clock, sleep, max_hold
        self._acquire = redis.register_script(ACQUIRE)
        self._hold = redis.register_script(HOLD)

    async def acquire(self) -> str:
        member = uuid.uuid4().hex
        while True:
            taken, wait = await self._acquire(keys=[self.log_key, self.until_key],
                                              args=[repr(self.clock()), self.period + SLACK, self.limit, member])
            if int(taken):
                return member
            await self.sleep(min(max(float(wait), 0.0) + MARGIN, self.max_hold))

    async def release(self, slot: str) -> None:
        await self.redis.zrem(self.log_key, slot)

    async def observe(self, headers: Mapping[str, str]) -> None:
        wait = requested_wait(headers, now=self.clock)
        if wait is None or wait <= 0:
            return
        wait = min(wait, self.max_hold)
        await self._hold(keys=[self.until_key], args=[repr(self.clock() + wait), int(wait * 1000) + 1000])


def connect(url: str):
    import redis.asyncio  # noqa: PLC0415  (only a worker sharing limits needs it)

    return redis.asyncio.Redis.from_url(url)


def share_limits(http, url: str, *, prefix: str = PREFIX):
    """Make `http` (a keysweep.http.HttpClient) throttle through the Redis at `url`; returns the
    client (close it with `await client.aclose()` once done)."""
    client = connect(url)
    http.throttle_factory = lambda host, rate: SharedThrottle(client, host, rate, prefix=prefix)
    return client
