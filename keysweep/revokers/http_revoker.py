"""Shared machinery for revokers that make one HTTP call with the leaked value itself, judged strictly.

The counterpart of `keysweep/verify/http_verifier.py` for destructive calls. A provider's revoker
module declares a `SelfRevoke` (method, path, how the value is sent, the documented replies) and a
`HttpRevoker` subclass listing it; the judgement is the same for everyone:

- success only in the provider's documented success shape (`Reply("revoked", …)`);
- "already gone" only on the provider's documented answer (`Reply("gone", …)`, usually one of
  the provider's `DeadAnswer`s from its verifier) — a generic 401 from a proxy is not its word;
- any other 2xx in `not_believed` (an HTML page, truncated JSON): "not believed", retried, then
  left to a person;
- 429 and 5xx (still, after the HTTP client's retries) and no answer at all: busy, retried with
  the provider's Retry-After; any other status needs a person (`_common.http_failure`).

Every request is recorded as (method, URL without query, outcome); never a header or a body.
Confirmation is the provider's verifier saying `dead` (`BaseRevoker.confirm`), never a repeat of the
destructive call: a provider with no free verification leaves the job `revoked`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

from keysweep.errors import SecretUnavailable
from keysweep.http import TransportError, requested_wait
from keysweep.revokers._common import (
    BaseRevoker,
    http_failure,
    make_plan,
    outcome,
    reread,
    safe_target,
    transport_failure,
    unbelieved_success,
)
from keysweep.revokers.base import Plan, RevokeResult
from keysweep.verify.http_verifier import DeadAnswer, fits

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.http import Response
    from keysweep.models import Finding

# What a documented reply means:
#   revoked  the documented success: the key is revoked (ok)
#   gone     the documented "this key is already dead" answer (ok)
#   busy     the provider's own "slow down" in a 2xx body: retried after its Retry-After
#   retry    an answer not to believe, or "try again later": retried, then left to a person
#   refused  the provider said no: a person must look
Meaning = Literal["revoked", "gone", "busy", "retry", "refused"]
ANY_BODY = object()


@dataclass(frozen=True)
class Reply:
    """One documented reply and what it means. It matches on the status (`status`, one or several)
    and the parsed JSON body (`body`, a `fits` pattern from verify/http_verifier.py), or on a
    provider `DeadAnswer` (`answer`), or on `check(response)`. `detail` is the result's message;
    `{error}` in it is the body's `error` field, `{count}` the number of values sent."""

    means: Meaning
    detail: str
    status: int | tuple[int, ...] | None = None
    body: Any = ANY_BODY
    answer: DeadAnswer | None = None
    check: Callable[["Response"], bool] | None = None

    def matches(self, response: "Response", body: Any) -> bool:
        if self.answer is not None and not self.answer.matches(response.status, body):
            return False
        statuses = (self.status,) if isinstance(self.status, int) else self.status
        if statuses is not None and response.status not in statuses:
            return False
        if self.body is not ANY_BODY and not fits(body, self.body):
            return False
        return self.check is None or self.check(response)

    def result(self, response: "Response", body: Any, count: int,
               calls: tuple[tuple[str, str, str], ...]) -> RevokeResult:
        error = str(body.get("error", "unknown_error"))[:60] if isinstance(body, dict) else ""
        detail = self.detail.format(error=error, count=count)
        if self.means in ("revoked", "gone"):
            return RevokeResult(True, detail, calls=calls)
        if self.means == "busy":
            return RevokeResult(False, detail, retryable=True, busy=True, retry_after=requested_wait(response.headers),
                                calls=calls)
        return RevokeResult(False, detail, retryable=self.means == "retry", calls=calls)


def bearer(values: Sequence[str]) -> dict[str, str]:
    """`Authorization: Bearer <the value>`: the key authenticates its own revocation."""
    return {"Authorization": f"Bearer {values[0]}"}


def private_token(values: Sequence[str]) -> dict[str, str]:
    """GitLab's `PRIVATE-TOKEN: <the value>`."""
    return {"PRIVATE-TOKEN": values[0]}


def unauthenticated(values: Sequence[str]) -> dict[str, str]:
    """No credential: the values travel in the body (GitHub's revoke list)."""
    return {}


@dataclass(frozen=True)
class SelfRevoke:
    """One revocation call that needs no admin credential: the leaked value authenticates it (or,
    for a public revoke list, is its body).

    `rules(rule_id)` says which of the provider's credentials it revokes; `mode`, when set, is
    recorded in the plan so a resumed job takes the same call. `batch` > 1 sends up to that many
    values in one request (`json_body` then receives them all). `not_believed` lists the statuses
    whose reply, when no declared `Reply` matches, is a success not believed (default: any 2xx);
    the rest are HTTP failures. `note` is appended to the recorded target (Slack's test mode)."""

    method: str
    path: str
    description: str
    what: str  # the call in messages ("GitLab token revocation")
    replies: tuple[Reply, ...]
    rules: Callable[[str], bool] = lambda rule_id: True
    auth: Callable[[Sequence[str]], dict[str, str]] = bearer
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Callable[[Sequence[str]], Any] | None = None
    form: Mapping[str, str] | None = None
    mode: str | None = None
    batch: int = 1
    not_believed: Sequence[int] = range(200, 300)
    note: str = ""

    def gone(self, response: "Response") -> bool:
        """Is this reply the call's documented "already gone" answer?"""
        body = response.json()
        return any(reply.means == "gone" and reply.matches(response, body) for reply in self.replies)


class HttpRevoker(BaseRevoker):
    """A revoker declared as data: `provider`, and `calls`, the `SelfRevoke`s it makes (the first
    whose `rules` accept a finding's rule is planned; a plan whose mode names none takes the last,
    the general one). Subclasses only declare; `revoke_batch` is used by the orchestrator when the
    class sets `batch_size`."""

    name = "http"
    provider = ""
    calls: tuple[SelfRevoke, ...] = ()

    def supports(self, finding: "Finding") -> bool:
        return finding.provider == self.provider and self._call_for_rule(finding.rule_id) is not None

    def _call_for_rule(self, rule_id: str) -> SelfRevoke | None:
        return next((call for call in self.calls if call.rules(rule_id)), None)

    def _call_for_plan(self, plan: Plan) -> SelfRevoke:
        mode = plan.data.get("mode")
        return next((call for call in self.calls if call.mode is not None and call.mode == mode), self.calls[-1])

    def _url(self, call: SelfRevoke, ctx: "Context") -> str:
        return f"{ctx.settings.base_url(self.provider)}{call.path}"

    async def plan(self, finding: "Finding", ctx: "Context") -> Plan:
        call = self._call_for_rule(finding.rule_id) or self.calls[-1]
        extra = {"mode": call.mode} if call.mode is not None else {}
        return make_plan(self.name, finding, [(call.method, self._url(call, ctx), call.description)], **extra)

    async def revoke(self, plan: Plan, ctx: "Context") -> RevokeResult:
        return (await self.revoke_batch([plan], ctx))[0]

    async def revoke_batch(self, plans: list[Plan], ctx: "Context") -> list[RevokeResult]:
        """Each plan's call, in plan order; values for a call with `batch` > 1 are sent together
        afterwards, up to `batch` per request, every plan of a request getting its result."""
        results: dict[int, RevokeResult] = {}
        batched: dict[int, tuple[SelfRevoke, list[tuple[int, str]]]] = {}
        for index, plan in enumerate(plans):
            try:
                value = await reread(plan.finding_id, ctx)
            except SecretUnavailable as exc:
                results[index] = RevokeResult(False, str(exc), retryable=False)
                continue
            call = self._call_for_plan(plan)
            if call.batch > 1:
                batched.setdefault(id(call), (call, []))[1].append((index, value))
            else:
                results[index] = await self.send(call, [value], ctx)
        for call, entries in batched.values():
            for start in range(0, len(entries), call.batch):
                chunk = entries[start:start + call.batch]
                result = await self.send(call, [value for _, value in chunk], ctx)
                for index, _ in chunk:
                    results[index] = result
        return [results[i] for i in range(len(plans))]

    async def _request(self, call: SelfRevoke, values: Sequence[str], ctx: "Context") -> "Response":
        headers = {**call.headers, **call.auth(values)}
        return await ctx.http.request(call.method, self._url(call, ctx), headers=headers,
                                      json_body=call.json_body(values) if call.json_body else None,
                                      data=dict(call.form) if call.form is not None else None)

    async def send(self, call: SelfRevoke, values: Sequence[str], ctx: "Context") -> RevokeResult:
        """Make the call with these values and judge the reply."""
        url = self._url(call, ctx)
        try:
            response = await self._request(call, values, ctx)
        except TransportError as exc:
            return transport_failure(call.method, url, exc, [])
        calls = ((call.method, safe_target(url) + call.note, outcome(response)),)
        body = response.json()
        for reply in call.replies:
            if reply.matches(response, body):
                return reply.result(response, body, len(values), calls)
        if response.status in call.not_believed:
            return unbelieved_success(call.what, response, list(calls))
        return http_failure(call.method, url, response, call.what, [])


class HttpRevokerWithPreflight(HttpRevoker):
    """An `HttpRevoker` whose provider can check a revocation without acting (`keysweep revoke
    --preflight`): `preflight_call` is the same call in the provider's test mode."""

    preflight_call: SelfRevoke

    async def preflight(self, plan: Plan, ctx: "Context") -> RevokeResult:
        try:
            value = await reread(plan.finding_id, ctx)
        except SecretUnavailable as exc:
            return RevokeResult(False, str(exc))
        return await self.send(self.preflight_call, [value], ctx)
