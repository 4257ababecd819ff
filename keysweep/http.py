"""One HTTP client for every remote call: a shared aiohttp session, a throttle per host, explicit
timeouts, and retries with exponential backoff on 429, 5xx and timeouts (honouring `Retry-After`
and GitHub/GitLab rate-limit headers).

Nothing here logs a request's headers or body: they may carry the credential being checked.
aiohttp is imported on first use, so commands that never reach the network don't pay for it, and
without the CA bundle it would load twice on import (`import_aiohttp`): the process's TLS trust is
read once, at its first HTTPS handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import random
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from keysweep.errors import TransportError as TransportError  # defined there: verifiers catch it without asyncio


def import_aiohttp() -> Any:
    """aiohttp, imported without reading the system CA bundle.

    aiohttp builds its two default TLS contexts (verified, and unverified for `ssl=False`) when it
    is imported, and each reads the CA bundle: about 70 ms of CPU, a third of aiohttp's import and
    more than all the requests of a second sweep that GitHub answers 304. Here their bundle is read
    just before their first handshake instead, so a process that speaks only plain HTTP (a local
    fake, a proxy on 127.0.0.1) never reads it, and one that speaks HTTPS reads it once: every
    keysweep request goes through aiohttp's verified default context. Nothing else changes: the
    same contexts, configured by aiohttp, trusting the same store."""
    if "aiohttp.connector" in sys.modules:  # imported already (by keysweep, or by anything else)
        return sys.modules["aiohttp"]
    with _IMPORTING:  # one thread patches and restores ssl at a time
        if "aiohttp.connector" in sys.modules:
            return sys.modules["aiohttp"]
        return _import_aiohttp_deferring_trust()


_IMPORTING = threading.Lock()


def _import_aiohttp_deferring_trust() -> Any:
    import ssl  # noqa: PLC0415

    load = ssl.SSLContext.set_default_verify_paths  # what reads the bundle (load_default_certs ends there)
    had_own = "set_default_verify_paths" in vars(ssl.SSLContext)
    deferred: list[ssl.SSLContext] = []

    def set_default_verify_paths(context: ssl.SSLContext) -> None:
        if _called_from_module("aiohttp.connector"):
            deferred.append(context)
        else:  # another caller (another thread, another library): as always
            load(context)

    ssl.SSLContext.set_default_verify_paths = set_default_verify_paths  # type: ignore[method-assign]
    try:
        import aiohttp  # noqa: PLC0415
    finally:
        if had_own:
            ssl.SSLContext.set_default_verify_paths = load  # type: ignore[method-assign]
        else:
            del ssl.SSLContext.set_default_verify_paths
    if deferred:
        lock = threading.Lock()

        class TrustOnFirstHandshake(ssl.SSLContext):
            """One of aiohttp's contexts, its trust store not read yet: read just before its first
            handshake, after which it is a plain ssl.SSLContext again. asyncio starts every TLS
            connection with `wrap_bio`; a blocking socket would use `wrap_socket`."""

            def _read_trust(self) -> None:
                with lock:
                    if type(self) is TrustOnFirstHandshake:
                        load(self)
                        self.__class__ = ssl.SSLContext

            def wrap_bio(self, *args: Any, **kwargs: Any) -> Any:
                self._read_trust()
                return ssl.SSLContext.wrap_bio(self, *args, **kwargs)

            def wrap_socket(self, *args: Any, **kwargs: Any) -> Any:
                self._read_trust()
                return ssl.SSLContext.wrap_socket(self, *args, **kwargs)

        for context in deferred:
            context.__class__ = TrustOnFirstHandshake
    return aiohttp


def _called_from_module(name: str, depth: int = 6) -> bool:
    """Whether a few frames above the caller of the caller run code of module `name`."""
    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == name:
            return True
        frame = frame.f_back
    return False


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# No provider answer keysweep reads is anywhere near this; a bigger body is not the documented
# answer (a proxy streaming something else, a hostile server) and is not held in memory whole.
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    attempts: int = 1
    truncated: bool = False  # the body was larger than MAX_BODY: `body` holds its start only

    def json(self) -> Any:
        """Parsed JSON body, or None when the body is not JSON (an HTML error page from a proxy) or
        was cut at the size cap."""
        if self.truncated:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server asking for a longer wait than this makes the call fail rather than stall a sweep.
    max_retry_after: float = 120.0


def requested_wait(response_headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked to wait (Retry-After, or a rate-limit reset with none remaining), or None."""
    retry_after = response_headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now())
            except (TypeError, ValueError):
                pass
    for remaining_header, reset_header in (("X-RateLimit-Remaining", "X-RateLimit-Reset"),
                                           ("RateLimit-Remaining", "RateLimit-Reset")):
        if response_headers.get(remaining_header) == "0" and response_headers.get(reset_header):
            try:
                reset = float(response_headers[reset_header])
            except ValueError:
                continue
            # GitHub sends an epoch time, GitLab's RateLimit-Reset is one too; small values are deltas.
            return max(0.0, reset - now() if reset > 1e9 else reset)
    return None


def rate_limited(response: Response) -> bool:
    """A 403 or 429 saying a rate limit ran out: GitHub answers its primary limit with
    `X-RateLimit-Remaining: 0` and its secondary limits with `Retry-After`
    (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api); GitLab sends
    `RateLimit-Remaining: 0`."""
    headers = response.headers
    return response.status in (403, 429) and (
        headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in headers
        or headers.get("RateLimit-Remaining") == "0")


def retry_delay(response_headers: Mapping[str, str], attempt: int, policy: RetryPolicy,
                now: Callable[[], float] = time.time) -> float:
    """Seconds to wait before the next attempt: the server's word when it gives one, else backoff."""
    asked = requested_wait(response_headers, now)
    if asked is not None:
        return min(asked, policy.max_retry_after)
    backoff = min(policy.max_delay, policy.base_delay * (2 ** (attempt - 1)))
    return backoff * (0.5 + random.random() / 2)


@dataclass
class HttpClient:
    """Create inside a running event loop; use as `async with HttpClient() as http:`."""

    timeout: float = 15.0
    rate_limits: dict[str, float] = field(default_factory=dict)  # host -> requests per second
    default_rate: float = 20.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], Any] = asyncio.sleep
    # Asked before each wait between attempts; False returns the last answer at once (a caller with
    # a time budget, `revoke --max-wait`, then decides what to do with the 429/5xx).
    may_wait: Callable[[float], bool] | None = None
    user_agent: str = "keysweep"
    requests_sent: int = 0
    max_body: int = MAX_BODY
    # (host, requests per second) -> a throttle with Throttle's `acquire`/`release` (either may be a
    # coroutine), optionally `observe(headers)`: one shared by processes (keysweep/distributed/limiter.py).
    throttle_factory: Callable[[str, float], Any] | None = None

    def __post_init__(self) -> None:
        self._session = None
        self._throttles: dict[str, Any] = {}

    async def __aenter__(self) -> "HttpClient":
        aiohttp = import_aiohttp()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": self.user_agent},
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    def _throttle(self, host: str) -> "Throttle":
        throttle = self._throttles.get(host)
        if throttle is None:
            rate = self.rate_limits.get(host, self.default_rate)
            throttle = self._throttles[host] = (self.throttle_factory(host, rate) if self.throttle_factory
                                                else Throttle(rate))
        return throttle

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      json_body: Any = None, data: Any = None, params: Mapping[str, str] | None = None,
                      retry: bool = True, retry_rate_limited: bool = False) -> Response:
        """Send with throttling and retries; the last response is returned whatever its status.

        `retry_rate_limited`: a 403 that says a rate limit ran out (`rate_limited`: how GitHub
        answers) is waited out and retried like a 429. Off by default: elsewhere a 403 is a refusal.
        Raises TransportError when no response came back after every attempt.
        """
        # aiohttp and its companions load with the first request: scan staged imports this module
        # for its types and never sends one.
        aiohttp = import_aiohttp()
        from multidict import CIMultiDict  # noqa: PLC0415

        if self._session is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        host = urlsplit(url).netloc
        attempts = self.policy.attempts if retry else 1
        last_error = ""
        throttle = self._throttle(host)
        for attempt in range(1, attempts + 1):
            slot = await throttle.acquire()
            try:
                self.requests_sent += 1
                async with self._session.request(method, url, headers=headers, json=json_body, data=data,
                                                 params=params, allow_redirects=False) as resp:
                    body, truncated = await read_capped(resp.content, self.max_body)
                    # Case-insensitive: servers send `x-ratelimit-remaining` as often as `X-RateLimit-Remaining`.
                    response = Response(resp.status, CIMultiDict(resp.headers), body, str(resp.url), attempt,
                                        truncated)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                last_error = type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"
                delay = retry_delay({}, attempt, self.policy)
                if attempt < attempts and self._may_wait(delay):
                    await self.sleep(delay)
                    continue
                raise TransportError(f"{method} {_safe_url(url)}: {last_error}") from None
            if response.status == 304:
                # A conditional request answered "not modified" is not counted by GitHub's rate limit:
                # it does not use this host's budget either, so a second sweep is not held back by it.
                released = throttle.release(slot)
                if inspect.isawaitable(released):
                    await released
            observe = getattr(throttle, "observe", None)
            if observe is not None:  # a shared throttle: every process holds back until the server's reset
                await observe(response.headers)
            retryable = response.status in RETRY_STATUSES or (retry_rate_limited and rate_limited(response))
            if retryable and attempt < attempts:
                delay = retry_delay(response.headers, attempt, self.policy)
                if self._may_wait(delay):
                    await self.sleep(delay)
                    continue
            return response
        raise TransportError(f"{method} {_safe_url(url)}: {last_error or 'no response'}")

    def _may_wait(self, seconds: float) -> bool:
        return self.may_wait is None or self.may_wait(seconds)


class Throttle:
    """At most `rate` requests in any one-second window, per host (a rate under 1 allows one request
    every 1/rate seconds). `release` gives a request's place back: an answer the server does not
    count against its limit (a 304) does not count here either."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.limit, self.period = (int(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
        self.clock, self.sleep = clock, sleep
        self._slots: deque[float] = deque()  # start times of the requests in the current window

    async def acquire(self) -> float:
        """Wait for a place in the window; returns the slot to `release`."""
        while True:
            now = self.clock()
            while self._slots and now - self._slots[0] >= self.period:
                self._slots.popleft()
            if len(self._slots) < self.limit:
                self._slots.append(now)
                return now
            await self.sleep(self._slots[0] + self.period - now)

    def release(self, slot: float) -> None:
        with contextlib.suppress(ValueError):  # already out of the window
            self._slots.remove(slot)


async def read_capped(stream: Any, cap: int) -> tuple[bytes, bool]:
    """At most `cap` bytes of a response body, and whether there was more (then reading stops)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(64 * 1024):
        if size + len(chunk) > cap:
            chunks.append(chunk[:cap - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _safe_url(url: str) -> str:
    """The URL without its query string, which can carry a key (`?key=AIza…`)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class ListingError(Exception):
    """A listing that could not be read whole: a page that did not come back as the documented 200
    JSON (`response` is the answer, or `error` the transport failure when there was none), or more
    pages than allowed (`pages`: the listing is cut, so nothing may be concluded from it)."""

    def __init__(self, url: str, response: Response | None = None, error: TransportError | None = None,
                 pages: int | None = None) -> None:
        if pages is not None:
            why = f"more than {pages} pages"
        elif response is not None:
            why = f"HTTP {response.status}" + (" without the documented listing" if 200 <= response.status < 300 else "")
        else:
            why = str(error)
        super().__init__(f"GET {_safe_url(url)}: {why}")
        self.url = url
        self.response = response
        self.error = error
        self.pages = pages


def _cursor_page(body: Any) -> bool:
    """The documented page: `{"data": [...], "has_more": bool, ...}`."""
    return isinstance(body, dict) and isinstance(body.get("data"), list) and isinstance(body.get("has_more"), bool)


async def list_all(http: HttpClient, url: str, *, headers: Mapping[str, str], params: Mapping[str, str],
                   cursor_param: str, max_pages: int = 1000,
                   on_response: Callable[[Response], None] | None = None) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list in the style several providers' admin APIs share:
    `{"data": [...], "has_more": bool, "last_id": "..."}`, the cursor sent back as `cursor_param`.
    Whole or not at all: a key proven by being the only one to fit must be the only one in the
    whole listing, so a page without `data` and `has_more` (a proxy's `{}`), more pages announced
    after an empty one, or more than `max_pages` pages is a ListingError, never a shorter list."""
    items: list[dict[str, Any]] = []
    query = dict(params)
    for _ in range(max_pages):
        try:
            response = await http.request("GET", url, headers=headers, params=query)
        except TransportError as exc:
            raise ListingError(url, error=exc) from None
        if on_response is not None:
            on_response(response)
        body = response.json()
        if response.status != 200 or not _cursor_page(body):
            raise ListingError(url, response=response)
        page = [item for item in body["data"] if isinstance(item, dict)]
        items.extend(page)
        if not body["has_more"]:
            return items
        cursor = body.get("last_id") or (page[-1].get("id") if page else None)
        if not isinstance(cursor, str) or not cursor:
            raise ListingError(url, response=response)
        query[cursor_param] = cursor
    raise ListingError(url, pages=max_pages)


async def list_by_offset(http: HttpClient, url: str, *, headers: Mapping[str, str], params: Mapping[str, str],
                         offset_param: str, max_offset: int = 100_000,
                         on_response: Callable[[Response], None] | None = None) -> list[dict[str, Any]]:
    """Every item of a list paged by offset (`{"data": [...]}`, `offset_param` = entries read so far)
    until an empty page; a page that is not a 200 JSON object with a `data` list, or entries past
    `max_offset` (the listing would be cut), is a ListingError."""
    items: list[dict[str, Any]] = []
    offset = pages = 0
    while True:
        if offset > max_offset:
            raise ListingError(url, pages=pages)
        pages += 1
        try:
            response = await http.request("GET", url, headers=headers, params={**params, offset_param: str(offset)})
        except TransportError as exc:
            raise ListingError(url, error=exc) from None
        if on_response is not None:
            on_response(response)
        body = response.json()
        if response.status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ListingError(url, response=response)
        page = [item for item in body["data"] if isinstance(item, dict)]
        if not page:
            return items
        items.extend(page)
        offset += len(page)
