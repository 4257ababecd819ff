"""Where the broker is and how tasks behave: `[distributed]` in keysweep.toml, overridden by
`--broker` / `$KEYSWEEP_BROKER_URL` (plain Python: no Celery here)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from keysweep.errors import KeysweepError

BROKER_ENV = "KEYSWEEP_BROKER_URL"
QUEUE_ENV = "KEYSWEEP_QUEUE"
DEFAULT_QUEUE = "keysweep"
# Celery's own default for Redis is an hour: a task whose worker died waits that long before another
# worker gets it. Five minutes bounds the wait; a unit taking longer than this is delivered twice
# (harmless to the findings: tasks are idempotent; but each delivery is an attempt), so raise it for
# repositories that take longer to read (docs/scale-out.md, "Failures").
DEFAULT_VISIBILITY_TIMEOUT = 300
DEFAULT_MAX_ATTEMPTS = 3
KEYS = {"broker", "result_backend", "queue", "visibility_timeout", "max_attempts", "rate_limit_redis"}
REDIS_SCHEMES = ("redis", "rediss")
AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class DistributedConfig:
    broker: str
    queue: str = DEFAULT_QUEUE
    result_backend: str | None = None
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    rate_limit_redis: str | None = None

    @property
    def is_redis(self) -> bool:
        return urlsplit(self.broker).scheme in REDIS_SCHEMES

    @property
    def redis_transport_options(self) -> dict[str, int]:
        """How a Redis broker gives a lost worker's unit back: once unacknowledged for
        `visibility_timeout`, found by the next of each worker's checks, every tenth of the timeout
        (1 to 10 s). Celery's own pace is a check every 100 s, whatever the timeout. One worker checks
        at a time (a lock in Redis); a worker killed while checking holds the others off until its
        lock expires: a minute at most here (Celery's: 5). Two checks overlapping give nothing back
        twice (each unit is moved back in a transaction)."""
        interval = max(1, min(10, self.visibility_timeout // 10))
        return {"visibility_timeout": self.visibility_timeout, "unacked_restore_interval": interval,
                "unacked_restore_throttle": 1, "unacked_mutex_expire": max(10, min(60, self.visibility_timeout))}

    @property
    def backend(self) -> str:
        """Where results go: the broker's Redis, or RabbitMQ's `rpc://` (replies to the sender)."""
        if self.result_backend:
            return self.result_backend
        return self.broker if self.is_redis else "rpc://"

    @property
    def sweeps_queue(self) -> str:
        """Where scheduled sweeps wait for the worker that runs them (`keysweep worker --sweeps`)."""
        return f"{self.queue}.sweeps"

    @property
    def limiter_redis(self) -> str | None:
        """The Redis that shares API rate limits between workers: the broker's, unless set apart."""
        return self.rate_limit_redis or (self.broker if self.is_redis else None)


def redacted_url(url: str) -> str:
    """A broker URL fit for a message: the password replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit((parts.scheme, f"{user}:***@{netloc[2]}", parts.path, parts.query, ""))


def checked_broker(url: str, what: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES + AMQP_SCHEMES:
        raise KeysweepError(f"{what} {redacted_url(url)!r}: expected a redis:// or amqp:// URL")
    return url


def distributed_config(settings, broker: str | None = None, *, queue: str | None = None,
                       required: bool = False) -> DistributedConfig | None:
    """The distributed setup, or None for a local sweep. Raises KeysweepError (exit 2) on anything
    malformed."""
    section: dict[str, Any] = settings.section("distributed") if settings is not None else {}
    where = f"{getattr(settings, 'config_path', None) or 'keysweep.toml'}: [distributed]"
    unknown = sorted(set(section) - KEYS)
    if unknown:
        raise KeysweepError(f"{where} has unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KEYS))})")
    if broker:
        url, what = broker, "--broker"
    elif os.environ.get(BROKER_ENV):
        url, what = os.environ[BROKER_ENV], f"${BROKER_ENV}"
    elif section.get("broker"):
        url, what = section["broker"], f"{where} broker"
    else:
        if required:
            raise KeysweepError(f"no broker: pass --broker URL, set ${BROKER_ENV} or [distributed] broker")
        return None
    if not isinstance(url, str):
        raise KeysweepError(f"{what} must be a URL string")
    checked_broker(url, what)
    numbers = {}
    for key, default, low in (("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT, 1), ("max_attempts", DEFAULT_MAX_ATTEMPTS, 1)):
        value = section.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise KeysweepError(f"{where} {key} must be an integer ≥ {low}")
        numbers[key] = value
    for key in ("queue", "result_backend", "rate_limit_redis"):
        if key in section and not (isinstance(section[key], str) and section[key]):
            raise KeysweepError(f"{where} {key} must be a non-empty string")
    queue = queue or os.environ.get(QUEUE_ENV) or section.get("queue") or DEFAULT_QUEUE
    return DistributedConfig(broker=url, queue=queue,
                             result_backend=section.get("result_backend"), rate_limit_redis=section.get("rate_limit_redis"),
                             **numbers)
