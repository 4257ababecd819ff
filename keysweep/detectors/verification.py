"""Shared machinery for liveness checks: one read-only HTTP call, judged strictly.

A provider module declares an `HttpVerifier` (what to call, how to authenticate, what a live body
and the provider's own "bad key" answer look like) and exposes it as `VERIFIER`. The judgement is
the same for everyone:

- `live`   only for the provider's documented success body (or an answer that proves the key
           authenticated, e.g. "missing scope");
- `dead`   only for the provider's clear word: the documented status (401, …) *with* its own JSON
           error body, or a success body saying the key is disabled;
- `unknown` for everything else — 429, 5xx, timeouts, HTML from a proxy or WAF, bad JSON, an
           unexpected shape — with the reason in `error`.

Errors never carry a response body verbatim (it may echo the key), only status codes and the
provider's short error codes, scrubbed of the secret.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Mapping

from keysweep.detectors.base import Credential, Verification
from keysweep.fingerprint import scrub_secret

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.http import Response

Identity = dict[str, Any]
# (status, parsed JSON body, response) -> identity when the body is the documented success
# shape, else None (an unexpected body is `unknown`).
LiveParser = Callable[[Any, "Response"], "Identity | None"]
# (status, parsed JSON body) -> a short reason when the body is the provider's own "this key is
# not valid" answer, else None.
DeadParser = Callable[[int, Any], "str | None"]


def scrub(text: str, secret: str | None, limit: int = 120, prefix: str = "") -> str:
    """A message safe to print: every 8+ character run of the secret (and any long token-like run)
    removed, one line, short."""
    text = scrub_secret(text, secret, prefix)
    text = re.sub(r"[A-Za-z0-9_\-+/=.]{32,}", "[…]", text)
    text = " ".join(text.split())
    return text[:limit]


def unknown(reason: str, secret: str | None = None, **identity: Any) -> Verification:
    return Verification("unknown", dict(identity), scrub(reason, secret, limit=300))


def error_code(body: Any) -> str | None:
    """The provider's short error code/type from the usual JSON error shapes."""
    if not isinstance(body, dict):
        return None
    inner = body.get("error")
    if isinstance(inner, dict):
        for key in ("code", "type", "status", "reason"):
            if isinstance(inner.get(key), (str, int)) and inner.get(key) not in ("", None):
                return str(inner[key])
        return "error"
    if isinstance(inner, str):
        return inner
    for key in ("code", "type", "detail", "title", "message"):
        if isinstance(body.get(key), str):
            return body[key]
    return None


def json_error(status: int, body: Any) -> str | None:
    """Default "dead" test: the provider answered with a JSON error object (not an HTML page)."""
    if isinstance(body, dict) and any(key in body for key in ("error", "message", "detail", "title", "errors")):
        return f"HTTP {status} {error_code(body) or 'error'}"
    return None


def pick(mapping: Any, *keys: str) -> Identity:
    """The given keys of a JSON object that are present and not null."""
    if not isinstance(mapping, dict):
        return {}
    return {key: mapping[key] for key in keys if mapping.get(key) not in (None, "", [], {})}


def header(response: "Response", name: str) -> str | None:
    """A response header, whatever its case."""
    lowered = name.lower()
    for key, value in response.headers.items():
        if key.lower() == lowered:
            return value
    return None


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class HttpVerifier:
    """One read-only, non-billable call that tells a live key from a dead one.

    (A plain class, not a dataclass: every provider module builds one at import time, and
    `keysweep scan staged` imports them all.)"""

    def __init__(self, name: str, providers: tuple[str, ...], path: str, live: LiveParser, *, method: str = "GET",
                 auth: Callable[[str], dict[str, str]] = None, headers: Mapping[str, str] | None = None,
                 params: Mapping[str, str] | None = None, json_body: Any = None,
                 dead_statuses: frozenset[int] = frozenset({401}), dead: DeadParser = None,
                 restricted: Callable[[int, Any], "str | None"] | None = None,
                 enrich: Callable[[Credential, "Context", Identity], Any] | None = None,
                 default_base: str | None = None) -> None:
        self.name, self.providers, self.path, self.live, self.method = name, providers, path, live, method
        self.auth = auth or bearer
        self.headers = dict(headers or {})
        self.params, self.json_body = params, json_body
        self.dead_statuses = dead_statuses
        self.dead = dead or json_error
        # Statuses that prove the key authenticated but lacks a permission: live, with this note.
        self.restricted = restricted
        # Called after a live answer for extra identity (e.g. OpenAI /me); failures are ignored.
        self.enrich = enrich
        # Used when settings know no base URL for the provider.
        self.default_base = default_base

    def __repr__(self) -> str:
        return f"HttpVerifier({self.name!r}, {self.method} {self.path})"

    def url(self, ctx: "Context", credential: Credential) -> str:
        return f"{base_url(ctx, credential, self.providers, self.default_base)}{self.path}"

    async def verify(self, credential: Credential, ctx: "Context") -> Verification:
        secret = credential.secret
        headers = {**self.auth(secret), **self.headers}
        return await http_check(ctx, self.method, self.url(ctx, credential), headers, secret,
                                live=self.live, dead=self.dead, dead_statuses=self.dead_statuses,
                                restricted=self.restricted, params=self.params, json_body=self.json_body,
                                enrich=(lambda identity: self.enrich(credential, ctx, identity))
                                if self.enrich else None)


def base_url(ctx: "Context", credential: Credential, providers: tuple[str, ...],
             default: str | None = None) -> str:
    provider = credential.provider if credential.provider in providers else providers[0]
    base = ctx.settings.base_url(provider) or default
    if not base:
        raise ValueError(f"no base URL configured for {provider}")
    return base.rstrip("/")


async def http_check(ctx: "Context", method: str, url: str, headers: Mapping[str, str], secret: str, *,
                     live: LiveParser, dead: DeadParser = json_error,
                     dead_statuses: frozenset[int] = frozenset({401}),
                     restricted: Callable[[int, Any], "str | None"] | None = None,
                     params: Mapping[str, str] | None = None, json_body: Any = None,
                     enrich: Callable[[Identity], Any] | None = None) -> Verification:
    from keysweep.http import TransportError

    try:
        response = await ctx.http.request(method, url, headers=headers, params=params, json_body=json_body)
    except TransportError as exc:
        return unknown(f"no answer: {exc}", secret)
    verdict = judge(response, secret, live=live, dead=dead, dead_statuses=dead_statuses, restricted=restricted)
    if verdict.status == "live" and enrich is not None:
        try:
            extra = await enrich(dict(verdict.identity))
        except Exception:  # identity details are a bonus; the liveness answer stands
            extra = None
        if extra:
            return Verification("live", {**verdict.identity, **extra}, None)
    return verdict


def judge(response: "Response", secret: str, *, live: LiveParser, dead: DeadParser = json_error,
          dead_statuses: frozenset[int] = frozenset({401}),
          restricted: Callable[[int, Any], "str | None"] | None = None) -> Verification:
    status = response.status
    body = response.json()
    if status == 429:
        retry = header(response, "Retry-After")
        return unknown(f"rate limited (HTTP 429{', Retry-After ' + retry if retry else ''}) after "
                       f"{response.attempts} attempt(s)", secret)
    if status >= 500:
        return unknown(f"provider error HTTP {status} after {response.attempts} attempt(s)", secret)
    if body is None:
        kind = "HTML" if b"<html" in response.body[:2048].lower() or b"<!doctype" in response.body[:2048].lower() \
            else "non-JSON"
        return unknown(f"HTTP {status} with a {kind} body (a proxy or WAF?), not the provider's answer", secret)
    if 200 <= status < 300:
        try:
            identity = live(body, response)
        except (KeyError, TypeError, ValueError, AttributeError):
            identity = None
        if identity is None:
            return unknown(f"HTTP {status} with an unexpected body", secret)
        if identity.get("_unknown"):
            return unknown(f"HTTP {status}: {identity['_unknown']}", secret)
        if identity.get("_dead"):
            reason = identity.pop("_dead")
            identity["dead_reason"] = scrub(str(reason), secret)
            return Verification("dead", identity, None)
        return Verification("live", identity, None)
    if restricted is not None:
        note = restricted(status, body)
        if note:
            return Verification("live", {"restricted": scrub(note, secret)}, None)
    if status in dead_statuses:
        reason = dead(status, body)
        if reason:
            return Verification("dead", {"dead_reason": scrub(reason, secret)}, None)
        return unknown(f"HTTP {status} without the provider's error body", secret)
    code = error_code(body)
    return unknown(f"unexpected HTTP {status}{' ' + code if code else ''}", secret)


class NoFreeCheck:
    """A provider with no read-only, non-billable liveness check: always `unknown`, never a paid call."""

    def __init__(self, name: str, providers: tuple[str, ...], reason: str) -> None:
        self.name, self.providers, self.reason = name, providers, reason

    def __repr__(self) -> str:
        return f"NoFreeCheck({self.name!r})"

    async def verify(self, credential: Credential, ctx: "Context") -> Verification:
        return Verification("unknown", {}, self.reason)


# -- small parsers shared by OpenAI-compatible APIs ---------------------------------------------
def model_list(body: Any, response: "Response") -> Identity | None:
    """`{"object": "list", "data": [...]}` (OpenAI and its imitators) or a bare list (Together)."""
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        models = body["data"]
    elif isinstance(body, list):
        models = body
    else:
        return None
    identity: Identity = {"models": len(models)}
    for name, key in (("openai-organization", "org"), ("openai-project", "project")):
        if header(response, name):
            identity[key] = header(response, name)
    return identity
