"""API rate limits shared by workers through Redis (issue 16): N workers on one token together stay
under the forge's limit, and when the forge says "nothing left until the reset", none of them sends
before it. Each "worker" here is a throttle or an HTTP client of its own, with its own Redis
connection, as in separate processes; they share only the Redis keys."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from tests.fakes.forge import FakeGitHub, ForgeBehaviour

REDIS_URL = os.environ.get("KEYSWEEP_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix():
    """Keys of this test's own (parallel runs never share a limit), deleted afterwards."""
    pytest.importorskip("redis")
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    name = f"keysweep-test:{uuid.uuid4().hex[:12]}:"
    yield name
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)
    client.close()


class Clock:
    """A frozen clock that moves only when a throttle sleeps (each sleep is recorded)."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def throttles(prefix: str, clock: Clock, rate: float, count: int = 2):
    from keysweep.distributed.limiter import SharedThrottle, connect

    clients = [connect(REDIS_URL) for _ in range(count)]
    return clients, [SharedThrottle(c, "api.github.test", rate, prefix=prefix, clock=clock, sleep=clock.sleep)
                     for c in clients]


def test_two_workers_share_one_window(prefix):
    clock = Clock()

    async def scenario():
        clients, (first, second) = throttles(prefix, clock, rate=3)
        try:
            for _ in range(3):
                await first.acquire()   # the first worker takes the host's three places of this second
            assert clock.slept == []
            await second.acquire()       # the other worker waits for one of them to leave the window
            assert len(clock.slept) == 1 and 0.9 <= clock.slept[0] <= 1.3
            await first.acquire()
            slot = await second.acquire()  # the new second's three places, taken at once…
            assert len(clock.slept) == 1
            await second.release(slot)   # …one given back (a 304, which GitHub does not count)…
            await first.acquire()
            assert len(clock.slept) == 1  # …and taken again at once
            await second.acquire()       # the window is full again: a wait
            assert len(clock.slept) == 2
        finally:
            for client in clients:
                await client.aclose()

    asyncio.run(scenario())


def test_a_reset_seen_by_one_worker_holds_every_worker(prefix):
    clock = Clock()

    async def scenario():
        clients, (first, second) = throttles(prefix, clock, rate=100)
        try:
            await first.acquire()
            # GitHub's answer once the token's budget is spent: nothing remaining until the reset.
            await first.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.now) + 40)})
            await second.acquire()
            assert sum(clock.slept) >= 40  # the other worker sent nothing before the reset
            before = len(clock.slept)
            await first.observe({"X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": str(int(clock.now) + 3600)})
            await first.acquire()
            assert len(clock.slept) == before  # budget left: no wait
            await second.observe({"Retry-After": "7"})  # a 429's (or a secondary limit's) Retry-After
            await first.acquire()
            assert clock.slept[-1] >= 7
        finally:
            for client in clients:
                await client.aclose()

    asyncio.run(scenario())


def test_workers_on_one_token_stay_under_the_forges_limit(prefix):
    """Two HTTP clients allowed 3 requests a second each, sharing the limit, against a forge that
    answers 429 past 5 a second: together they never see a 429 (unshared, they would send 6)."""
    from keysweep.distributed.limiter import share_limits
    from keysweep.http import HttpClient

    behaviour = ForgeBehaviour(rate_per_second=5)
    with FakeGitHub(behaviour) as forge:
        forge.add_org("acme")
        host = forge.url.split("://", 1)[1]

        async def worker() -> list[int]:
            async with HttpClient(rate_limits={host: 3}) as http:
                shared = share_limits(http, REDIS_URL, prefix=prefix)
                try:
                    return [(await http.request("GET", f"{forge.url}/orgs/acme/actions/variables", retry=False)).status
                            for _ in range(6)]
                finally:
                    await shared.aclose()

        async def both():
            return await asyncio.gather(worker(), worker())

        statuses = [s for each in asyncio.run(both()) for s in each]
    assert behaviour.statuses[429] == 0 and 429 not in statuses, behaviour.statuses
    assert statuses == [200] * 12
