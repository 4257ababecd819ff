"""Shared machinery for liveness checks: one read-only HTTP call, judged strictly.

A provider module declares an `HttpVerifier` (what to call, how to authenticate, what a live body
and the provider's own "bad key" answer look like) and exposes it as `VERIFIER`. The judgement is
the same for everyone:

- `live`   only for the provider's documented success body (or an answer that proves the key
           authenticated, e.g. "missing scope");
- `dead`   only for the provider's own documented answer for an invalid key, pinned as data in
           its verifier (`DeadAnswer`: status + the body's telling fields + the documented body as
           an example that a test runs). A generic JSON 401/403 (`{"detail": "nope"}` from a proxy,
           a WAF, an API gateway) is not the provider's word;
- `unknown` for everything else — 429, 5xx, timeouts, HTML from a proxy or WAF, bad JSON, an
           unexpected shape — with the reason in `error`.

Errors never carry a response body verbatim (it may echo the key), only status codes and the
provider's short error codes, scrubbed of the secret.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable, Mapping

from keysweep.errors import TransportError
from keysweep.fingerprint import scrub_secret
from keysweep.verify.model import Credential, Verification
from keysweep.wording import counted

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.http import Response

Identity = dict[str, Any]
# (status, parsed JSON body, response) -> identity when the body is the documented success
# shape, else None (an unexpected body is `unknown`).
LiveParser = Callable[[Any, "Response"], "Identity | None"]


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


# -- the provider's documented "this key is invalid" answer, as data ------------------------------
class OneOf:
    """A field whose value is one of these (exactly, same type)."""

    def __init__(self, *values: Any) -> None:
        self.values = values

    def __repr__(self) -> str:
        return " | ".join(json.dumps(v) for v in self.values)


class Prefix:
    """A text field starting with this (providers append the redacted key to some messages)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return json.dumps(self.text + "…", ensure_ascii=False)


class Except:
    """A text field that is none of these texts: a provider's own message saying no key arrived at
    all (a proxy may have stripped the header) is not its word that the key is invalid."""

    def __init__(self, *texts: str) -> None:
        self.texts = texts

    def __repr__(self) -> str:
        return "<text other than " + " | ".join(json.dumps(t, ensure_ascii=False) for t in self.texts) + ">"


class _AnyText:
    def __repr__(self) -> str:
        return "<text>"


ANY_TEXT = _AnyText()  # any non-empty string (a request id, say)


def fits(body: Any, pattern: Any) -> bool:
    """Does a JSON body have every field the pattern names, with the pattern's value?

    A dict pattern names some fields of an object (others may be present); a one-element list
    pattern means "some element fits"; scalars compare exactly, type included (`true` is not `1`)."""
    if isinstance(pattern, dict):
        return isinstance(body, dict) and all(key in body and fits(body[key], want) for key, want in pattern.items())
    if isinstance(pattern, list):
        return isinstance(body, list) and any(fits(item, pattern[0]) for item in body)
    if isinstance(pattern, OneOf):
        return any(type(body) is type(value) and body == value for value in pattern.values)
    if isinstance(pattern, Prefix):
        return isinstance(body, str) and body.startswith(pattern.text)
    if isinstance(pattern, Except):
        return isinstance(body, str) and body not in pattern.texts
    if pattern is ANY_TEXT:
        return isinstance(body, str) and bool(body)
    return type(body) is type(pattern) and body == pattern


def render(pattern: Any) -> str:
    """The pattern as JSON-like text for docs/verify.md."""
    if isinstance(pattern, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {render(v)}" for k, v in pattern.items()) + ", …}"
    if isinstance(pattern, list):
        return "[" + render(pattern[0]) + ", …]"
    if isinstance(pattern, (OneOf, Prefix, Except, _AnyText)):
        return repr(pattern)
    return json.dumps(pattern)


class DeadAnswer:
    """One documented answer that means "this key is not valid": the status and the fields that
    tell it from anyone else's error, with the provider's documented body as `example`."""

    def __init__(self, status: int, body: dict[str, Any], reason: str, example: Any, source: str) -> None:
        self.status, self.body, self.reason, self.example, self.source = status, body, reason, example, source

    def __repr__(self) -> str:
        return f"DeadAnswer({self.status} {render(self.body)})"

    def matches(self, status: int, body: Any) -> bool:
        return status == self.status and fits(body, self.body)

    def describe(self) -> str:
        return f"HTTP {self.status} {render(self.body)}"


def dead_reason(answers: "tuple[DeadAnswer, ...]", status: int, body: Any) -> str | None:
    """The reason of the first documented dead answer this reply is, else None."""
    for answer in answers:
        if answer.matches(status, body):
            # A success body saying the key is disabled names it by its own flag (`revoked`).
            return answer.reason if 200 <= status < 300 else f"HTTP {status} {answer.reason}"
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

    `dead` lists the provider's documented answers for an invalid key (required: a verifier
    without one can only say live or unknown). (A plain class, not a dataclass: every provider
    module builds one at import time, and `keysweep scan staged` imports them all.)"""

    def __init__(self, name: str, providers: tuple[str, ...], path: str, live: LiveParser, *,
                 dead: "tuple[DeadAnswer, ...]", method: str = "GET",
                 auth: Callable[[str], dict[str, str]] = None, headers: Mapping[str, str] | None = None,
                 params: Mapping[str, str] | None = None, json_body: Any = None,
                 restricted: Callable[[int, Any], "str | None"] | None = None,
                 enrich: Callable[[Credential, "Context", Identity], Any] | None = None,
                 default_base: str | None = None, reason: str | None = None) -> None:
        self.name, self.providers, self.path, self.live, self.method = name, providers, path, live, method
        # With no dead answer (`dead=()`): why the provider's answers prove no key dead (docs/verify.md).
        self.reason = reason
        self.auth = auth or bearer
        self.headers = dict(headers or {})
        self.params, self.json_body = params, json_body
        self.dead = tuple(dead)
        # Statuses that prove the key authenticated but lacks a permission: live, with this note.
        self.restricted = restricted
        # Called after a live answer for extra identity (e.g. a `/me` endpoint); failures are ignored.
        self.enrich = enrich
        # Used when settings know no base URL for the provider.
        self.default_base = default_base

    def __repr__(self) -> str:
        return f"HttpVerifier({self.name!r}, {self.method} {self.path})"

    @property
    def checks(self) -> tuple["HttpVerifier", ...]:
        return (self,)

    def url(self, ctx: "Context", credential: Credential) -> str:
        return f"{base_url(ctx, credential, self.providers, self.default_base)}{self.path}"

    async def verify(self, credential: Credential, ctx: "Context") -> Verification:
        secret = credential.secret
        headers = {**self.auth(secret), **self.headers}
        return await http_check(ctx, self.method, self.url(ctx, credential), headers, secret,
                                live=self.live, dead=self.dead, restricted=self.restricted, params=self.params,
                                json_body=self.json_body,
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
                     live: LiveParser, dead: "tuple[DeadAnswer, ...]",
                     restricted: Callable[[int, Any], "str | None"] | None = None,
                     params: Mapping[str, str] | None = None, json_body: Any = None,
                     enrich: Callable[[Identity], Any] | None = None) -> Verification:
    try:
        response = await ctx.http.request(method, url, headers=headers, params=params, json_body=json_body)
    except TransportError as exc:
        return unknown(f"no answer: {exc}", secret)
    verdict = judge(response, secret, live=live, dead=dead, restricted=restricted)
    if verdict.status == "live" and enrich is not None:
        try:
            extra = await enrich(dict(verdict.identity))
        except Exception:  # identity details are a bonus; the liveness answer stands
            extra = None
        if extra:
            return Verification("live", {**verdict.identity, **extra}, None)
    return verdict


def _live_identity(live: LiveParser, body: Any, response: "Response") -> "Identity | None":
    try:
        return live(body, response)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def judge(response: "Response", secret: str, *, live: LiveParser, dead: "tuple[DeadAnswer, ...]",
          restricted: Callable[[int, Any], "str | None"] | None = None) -> Verification:
    status = response.status
    if getattr(response, "truncated", False):
        return unknown(f"HTTP {status} with a body larger than the size cap: not the provider's answer", secret)
    body = response.json()
    if status == 429:
        retry = header(response, "Retry-After")
        return unknown(f"rate limited (HTTP 429{', Retry-After ' + retry if retry else ''}) after "
                       f"{counted(response.attempts, 'attempt')}", secret)
    if status >= 500:
        return unknown(f"provider error HTTP {status} after {counted(response.attempts, 'attempt')}", secret)
    if body is None:
        kind = "HTML" if b"<html" in response.body[:2048].lower() or b"<!doctype" in response.body[:2048].lower() \
            else "non-JSON"
        return unknown(f"HTTP {status} with a {kind} body (a proxy or WAF?), not the provider's answer", secret)
    reason = dead_reason(dead, status, body)
    if reason:
        # Some dead answers are success bodies saying the key is disabled: keep what they identify.
        identity = (_live_identity(live, body, response) or {}) if 200 <= status < 300 else {}
        identity = {k: v for k, v in identity.items() if not k.startswith("_")}
        identity["dead_reason"] = scrub(reason, secret)
        return Verification("dead", identity, None)
    if 200 <= status < 300:
        identity = _live_identity(live, body, response)
        if identity is None:
            return unknown(f"HTTP {status} with a body that is not the documented success shape", secret)
        if identity.get("_unknown"):
            return unknown(f"HTTP {status}: {identity['_unknown']}", secret)
        return Verification("live", identity, None)
    if restricted is not None:
        note = restricted(status, body)
        if note:
            return Verification("live", {"restricted": scrub(note, secret)}, None)
    code = error_code(body)
    return unknown(f"HTTP {status}{' ' + code if code else ''}: not the provider's documented answer for an "
                   f"invalid key (a proxy or gateway?)", secret)


class NoFreeCheck:
    """A provider with no read-only, non-billable liveness check: always `unknown`, never a paid call."""

    def __init__(self, name: str, providers: tuple[str, ...], reason: str) -> None:
        self.name, self.providers, self.reason = name, providers, reason

    def __repr__(self) -> str:
        return f"NoFreeCheck({self.name!r})"

    async def verify(self, credential: Credential, ctx: "Context") -> Verification:
        return Verification("unknown", {}, self.reason)


# -- small parsers shared by model-listing APIs ------------------------------------------------
def _models_identity(models: list, response: "Response", allow_empty: bool) -> Identity | None:
    if (not models and not allow_empty) or not all(isinstance(m, dict) and m.get("id") for m in models):
        return None  # `[]`, `{}` or a list of anything else is not a model list
    return {"models": len(models)}


def model_list(body: Any, response: "Response") -> Identity | None:
    """`{"object": "list", "data": [{"id": …}, …]}`: the de facto model-list answer of many providers."""
    if isinstance(body, dict) and body.get("object") == "list" and isinstance(body.get("data"), list):
        return _models_identity(body["data"], response, allow_empty=True)
    return None


def bare_model_list(body: Any, response: "Response") -> Identity | None:
    """`[{"id": …}, …]`: a bare JSON array of models (as some providers document it)."""
    return _models_identity(body, response, allow_empty=False) if isinstance(body, list) else None


def checks_of(verifier: Any) -> tuple[Any, ...]:
    """The single checks a provider's verifier is made of (e.g. one for user keys, one for admin keys)."""
    return tuple(getattr(verifier, "checks", None) or (verifier,))
