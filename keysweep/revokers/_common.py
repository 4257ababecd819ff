"""Helpers shared by the built-in revokers: re-reading the value (through `ctx.secrets`),
classifying HTTP answers, recording calls, and confirming through the provider's verifier."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keysweep.errors import SecretUnavailable
from keysweep.http import ListingError, requested_wait
from keysweep.providers import verifier_for
from keysweep.providers.admin_api import list_pages
from keysweep.revokers.base import Plan, PlannedCall, RevokeResult
from keysweep.revokers.binding import bind
from keysweep.settings import admin_key_env
from keysweep.verify.model import Credential, clean_identity

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.http import Response
    from keysweep.models import Finding
    from keysweep.providers.base import Listing


async def reread(finding: "Finding | str", ctx: "Context") -> str:
    """The finding's value (finding or finding id), through the context's secret re-reader, checked
    against its SHA-256 there. Raises SecretUnavailable, also when the context has no re-reader."""
    if ctx.secrets is None:
        raise SecretUnavailable("no secret re-reader in this context: the value cannot be re-read")
    return await ctx.secrets.secret_for(finding)


def scrubbed(text: str | None, ctx: "Context") -> str | None:
    """`text` without any value read in this run (the context's re-reader knows them)."""
    return ctx.secrets.scrub(text) if ctx.secrets is not None else text


def safe_target(url: str) -> str:
    """A URL as recorded: no query string (it can carry a key), no userinfo."""
    if not url.startswith(("http://", "https://")):
        return url  # an API action name (iam:UpdateAccessKey), not a URL
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def finding_data(finding: "Finding", **extra: Any) -> dict[str, Any]:
    """What revoke() needs later, without the value: identifiers only."""
    data = {"provider": finding.provider, "rule_id": finding.rule_id, "secret_sha256": finding.secret_sha256,
            "redacted": finding.redacted, "key_id": finding.key_id}
    data.update(extra)
    return data


def make_plan(revoker: str, finding: "Finding", calls: list[tuple[str, str, str]], needs: list[str] | None = None,
              **data: Any) -> Plan:
    return Plan(revoker=revoker, finding_id=finding.id,
                calls=[PlannedCall(method, safe_target(target), description) for method, target, description in calls],
                needs=needs or [], data=finding_data(finding, **data))


def outcome(response: "Response") -> str:
    note = f" after {response.attempts} attempts" if response.attempts > 1 else ""
    return f"{response.status}{note}"


def http_failure(method: str, url: str, response: "Response", what: str,
                 calls: list[tuple[str, str, str]]) -> RevokeResult:
    """A non-success answer: 429/5xx (still, after the client's retries) are retryable; others need a
    person, with what the answer shows and no more: a 401 or 403 in JSON says the credential was
    rejected or forbidden (with the error code it gave); one that is not JSON (a sign-in or
    "Authorization Required" page) is not the provider's word at all, and says so."""
    calls = [*calls, (method, safe_target(url), outcome(response))]
    busy = response.status == 429 or response.status >= 500
    if busy:
        return RevokeResult(False, f"{what}: HTTP {response.status}", retryable=True, busy=True,
                            retry_after=requested_wait(response.headers), calls=tuple(calls))
    return needs_person(f"{what}: {refusal(response)}", calls)


def refusal(response: "Response") -> str:
    """A 4xx answer in words that claim no more than it shows."""
    status = response.status
    body = response.json()
    if body is None:
        start = response.body[:2048].lower()
        kind = "an HTML page" if b"<html" in start or b"<!doctype" in start else "a body that is not JSON"
        return (f"HTTP {status} with {kind}, not the provider's answer: a proxy, gateway or firewall answered "
                f"in its place; nothing shows the call reached the provider")
    code = _code_field(body)
    answered = f"HTTP {status}{' ' + code if code else ''}"
    meaning = {401: "credential rejected", 403: "forbidden"}.get(status)
    return f"{meaning} ({answered})" if meaning else answered


# An error code as providers give one (`invalid_api_key`, `authentication_error`, `PERMISSION_DENIED`).
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,39}")


def _code_field(body: Any) -> str | None:
    """The answer's error code (`code`, `type`, `status` or `reason`, in its `error` object or at
    its top), when it is one short token; never its message (`message`, `detail`, `title`, an
    `error` string): a refusal's text may quote the admin key keysweep sent, which is no value read
    in the run and so is not scrubbed from what is stored and shown (unlike verify's
    http_verifier.error_code, whose request carried only the scrubbed leaked key)."""
    if not isinstance(body, dict):
        return None
    fields = body["error"] if isinstance(body.get("error"), dict) else body
    for key in ("code", "type", "status", "reason"):
        value = fields.get(key)
        if isinstance(value, str) and _ERROR_CODE.fullmatch(value):
            return value
    return None


def transport_failure(method: str, url: str, error: Exception, calls: list[tuple[str, str, str]]) -> RevokeResult:
    calls = [*calls, (method, safe_target(url), "no response")]
    return RevokeResult(False, f"{method} {safe_target(url)}: no response ({type(error).__name__})", retryable=True,
                        busy=True, calls=tuple(calls))


NEEDS_A_PERSON = "needs a person: "


def needs_person(reason: str, calls: list[tuple[str, str, str]] | tuple = ()) -> RevokeResult:
    """A refusal to act that no retry can fix: the job ends failed_permanent with this reason."""
    return RevokeResult(False, NEEDS_A_PERSON + reason, retryable=False, calls=tuple(calls))


def finding_for(finding_id: str, ctx: "Context") -> "Finding | None":
    """The finding a plan is about: the run's loaded findings first, else the store."""
    found = (ctx.extra.get("_findings") or {}).get(finding_id)
    if found is None and ctx.store is not None:
        rows = ctx.store.findings(ids=[finding_id])
        found = rows[0] if rows else None
    return found


@dataclass(frozen=True)
class PlanIdentity:
    """A plan's finding as the matcher sees it (revokers/binding.py): identifiers only, no value."""

    secret_sha256: str
    redacted: str


def plan_identity(plan: Plan) -> PlanIdentity:
    return PlanIdentity(str(plan.data.get("secret_sha256") or ""), str(plan.data.get("redacted") or ""))


def unbelieved_success(what: str, response: "Response", calls: list[tuple[str, str, str]]) -> RevokeResult:
    """A 2xx that is not the documented success body (an HTML page, truncated JSON): not believed.
    Retryable, so the orchestrator tries again and, after its attempts, leaves it to a person."""
    return RevokeResult(False, f"{what}: HTTP {response.status} without the documented success body; not believed",
                        retryable=True, calls=tuple(calls))


async def proven_inventory_key(plan: Plan, ctx: "Context", calls: list[tuple[str, str, str]], load_inventory,
                               hint_field: str, hint_name: str, console: str) -> "dict[str, Any] | RevokeResult | None":
    """The admin-inventory entry proven to be the plan's key (revokers/binding.py), checked before
    every destructive call by id: a stored key id is never trusted alone. `load_inventory()` lists
    the entries (or returns a RevokeResult); `hint_field` holds their redacted form (`hint_name` in
    messages); `console` says where a person acts instead ("delete it in the provider's console").
    None: no entry shows the key."""
    stored = plan.data.get("key_id")
    what = f"key id {stored}" if stored else "the key"
    try:
        value = await reread(plan.finding_id, ctx)
    except SecretUnavailable:
        return needs_person(f"the value can no longer be re-read, so {what} cannot be proven to be this "
                            f"finding's key; {console} after checking", calls)
    inventory = await load_inventory()
    if isinstance(inventory, RevokeResult):
        return inventory
    binding = bind(inventory, lambda entry: entry.get(hint_field), plan_identity(plan), value)
    if binding.entry is None:
        return needs_person(binding.reason, calls) if binding.matched else None
    if stored and binding.key_id != stored:
        return needs_person(f"the stored key id {stored} is not the key whose {hint_name} fits this value "
                            f"({binding.key_id}); check which key leaked", calls)
    return binding.entry


async def gone_or_needs_person(plan: Plan, ctx: "Context", calls: list[tuple[str, str, str]], what: str) -> RevokeResult:
    """The provider holds no such key (not listed, 404): success only on the verifier's word that the
    key is dead; otherwise a person must look (another organisation? a proxy's 404?)."""
    finding = finding_for(plan.finding_id, ctx)
    status = await verify_status(finding, ctx) if finding is not None else "unknown"
    if status == "dead":
        return RevokeResult(True, f"{what}, and the provider says the key is invalid: already deleted",
                            calls=tuple(calls))
    return needs_person(f"{what}, and the key is not proven dead (verification: {status}); "
                        f"is it another organisation's?", calls)


def missing_admin(provider: str) -> RevokeResult:
    return RevokeResult(False, f"no admin credential for {provider}: set {admin_key_env(provider)}", retryable=False)


def verifier(provider: str, ctx: "Context"):
    """The provider's verifier: one injected through ctx.extra["verifiers"] first, else the detector's."""
    injected = ctx.extra.get("verifiers", {})
    if provider in injected:
        return injected[provider]

    return verifier_for(provider)


async def verify_status(finding: "Finding", ctx: "Context") -> str:
    """live / dead / unknown, by re-running the provider's verification with the re-read value.

    Recorded in the store as a verification (a dated time-to-remediation event) when there is one."""
    check = verifier(finding.provider, ctx)
    if check is None:
        return "unknown"
    try:
        value = await reread(finding, ctx)
    except SecretUnavailable:
        return "unknown"
    credential = Credential(provider=finding.provider, rule_id=finding.rule_id, secret=value, key_id=finding.key_id,
                            facts=dict(finding.metadata or {}))
    try:
        result = await check.verify(credential, ctx)
    except Exception:  # a verifier must not raise; if one does, the answer is simply unknown
        return "unknown"
    record = getattr(ctx.store, "record_verification", None) if ctx.store is not None else None
    if record is not None:
        record(finding.id, result.status, clean_identity(result.identity or {}, value), scrubbed(result.error, ctx),
               ctx.now())
    return result.status


class BaseRevoker:
    """Defaults: confirm() is the verifier saying `dead`."""

    name = "base"

    async def confirm(self, finding: "Finding", ctx: "Context") -> bool:
        return await verify_status(finding, ctx) == "dead"


async def list_admin_pages(ctx: "Context", base: str, listing: "Listing", headers: dict[str, str],
                           calls: list[tuple[str, str, str]], what: str,
                           **fields: str) -> list[dict[str, Any]] | RevokeResult:
    """The provider's admin listing (its record's `Listing`, path filled with `fields`), each page's
    call logged; a failure as a RevokeResult."""
    url = listing.url(base, **fields)
    try:
        return await list_pages(ctx.http, base, listing, headers, **fields,
                                on_response=lambda response: calls.append(("GET", safe_target(url), outcome(response))))
    except ListingError as exc:
        if exc.pages is not None:  # a key fitting alone in part of a listing is not proven to be the one
            return needs_person(f"{what}: more than {exc.pages} pages, not read whole", calls)
        if exc.response is None:
            return transport_failure("GET", url, exc.error, calls)
        if 200 <= exc.response.status < 300:
            return unbelieved_success(what, exc.response, calls)
        return http_failure("GET", url, exc.response, what, calls[:-1])
