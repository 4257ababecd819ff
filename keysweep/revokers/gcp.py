"""GCP service-account keys: disable, then delete, through the IAM REST API.

    POST   {base}/v1/projects/{project}/serviceAccounts/{email}/keys/{private_key_id}:disable
    DELETE {base}/v1/projects/{project}/serviceAccounts/{email}/keys/{private_key_id}

`base` is `KEYSWEEP_GCP_BASE_URL` (or `[providers.gcp] base_url`, default
https://iam.googleapis.com); the admin credential is an OAuth access token with
`iam.serviceAccountKeys.disable` / `.delete` (`KEYSWEEP_GCP_ADMIN_KEY`, e.g. from
`gcloud auth print-access-token`), sent as a bearer token. The key id is the finding's `key_id`
(`private_key_id`); the account (`client_email`) and `project_id` come from the finding's match
metadata or, for a finding read back from the store, from the key file where it was seen (read
again in memory, like the value). `project` is the project id when known, else `-` (Google then
answers 403 rather than 404 for a key that does not exist, so a known project gives clearer errors).

Idempotent: 404 on disable or delete means the key is gone (success). confirm(): the verifier says
dead (IAM's key under the id, holding the leaked key's public half, disabled; or NOT_FOUND with no
key of the account holding it), asked with the account from the key file when the finding lacks it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from keysweep.errors import SecretUnavailable
from keysweep.http import TransportError
from keysweep.providers.gcp import (
    _EMAIL,
    _PROJECT,
    WITH_PUBLIC_KEY,
    _nearest,
    find_public_half,
    holds_public_half,
    iam_url,
    key_url,
)
from keysweep.providers.google import google_error
from keysweep.revokers._common import (
    BaseRevoker,
    http_failure,
    make_plan,
    missing_admin,
    needs_person,
    outcome,
    reread,
    safe_target,
    transport_failure,
    unbelieved_success,
    verifier,
    verify_status,
)
from keysweep.revokers.base import Plan, RevokeResult
from keysweep.scanner.reread import READERS, occurrence_content
from keysweep.settings import admin_key_env
from keysweep.verify.model import Credential

if TYPE_CHECKING:
    from keysweep.http import Response

_KEY_ID = re.compile(r"[0-9a-f]{40}")


def _base(ctx) -> str:
    return iam_url(ctx.settings)


def _from_finding(finding) -> tuple[str | None, str | None]:
    """(client_email, project_id) without reading anything: match metadata, then verification identity."""
    for facts in (finding.metadata or {}, (finding.verification or {}).get("identity") or {}):
        if isinstance(facts, dict) and facts.get("client_email"):
            return facts["client_email"], facts.get("project_id")
    return None, None


def _from_key_file(finding, local_only: bool = False) -> tuple[str | None, str | None]:
    """Read the places the key was seen again (in memory) for the account next to its key id;
    `local_only`: git blobs and files only (the dry run asks no remote source)."""
    key_id = (finding.key_id or "").encode()
    for occurrence in finding.occurrences:
        if local_only and occurrence.source in READERS:
            continue
        try:
            content = occurrence_content(occurrence)
        except Exception:  # a source that cannot be read again: try the next place
            continue
        if not content or key_id not in content:
            continue
        anchor = content.index(key_id)
        low = max(0, anchor - 3000)
        window = content[low:anchor + 3000]
        email = _nearest(_EMAIL, window, anchor - low)
        if email:
            return email, _nearest(_PROJECT, window, anchor - low)
    return None, None


class GcpServiceAccountKeyRevoker(BaseRevoker):
    name = "gcp"

    def supports(self, finding) -> bool:
        return finding.provider == "gcp" and finding.rule_id == "gcp.service-account-key" \
            and bool(finding.key_id and _KEY_ID.fullmatch(finding.key_id))

    async def plan(self, finding, ctx):
        email, project = _from_finding(finding)
        if not email:  # a finding read back from the store: the key file where it was seen names it
            email, project = _from_key_file(finding, local_only=True)
        url = key_url(_base(ctx), project or "-", email or "{client_email}", finding.key_id)
        needs = [] if ctx.settings.admin_key("gcp") else [f"{admin_key_env('gcp')} (an OAuth access token)"]
        calls = [("POST", f"{url}:disable", "disable the key (reversible)"),
                 ("DELETE", url, "delete the key")]
        return make_plan(self.name, finding, calls, needs, client_email=email, project_id=project)

    async def _account(self, plan, ctx) -> tuple[str | None, str | None]:
        email, project = plan.data.get("client_email"), plan.data.get("project_id")
        if email:
            return email, project
        finding = (ctx.extra.get("_findings") or {}).get(plan.finding_id)
        if finding is None and ctx.store is not None:
            found = ctx.store.findings(ids=[plan.finding_id])
            finding = found[0] if found else None
        if finding is None:
            return None, None
        return _from_key_file(finding)

    async def revoke(self, plan, ctx) -> RevokeResult:
        token = ctx.settings.admin_key("gcp")
        if not token:
            return missing_admin("gcp")
        email, project = await self._account(plan, ctx)
        if not email:
            return RevokeResult(False, "the service account (client_email) of this key is unknown: the key file "
                                       "can no longer be read where it was found")
        headers = {"Authorization": f"Bearer {token}"}
        url = key_url(_base(ctx), project or "-", email, plan.data["key_id"])
        calls: list[tuple[str, str, str]] = []
        unproven = await self._prove(plan, ctx, url, headers, calls)
        if unproven is not None:
            return unproven
        for method, target, body in (("POST", f"{url}:disable", {}), ("DELETE", url, None)):
            try:
                response = await ctx.http.request(method, target, headers=headers, json_body=body)
            except TransportError as exc:
                return transport_failure(method, target, exc, calls)
            calls.append((method, safe_target(target), outcome(response)))
            if google_not_found(response):
                return RevokeResult(True, "no such key (already deleted)", calls=tuple(calls))
            if response.status == 400 and method == "POST" and _already_disabled(response):
                continue
            if 200 <= response.status < 300 and response.json() != {}:
                # Google answers both calls with google.protobuf.Empty, `{}`: a page, or another
                # object (a gateway's `{"active": false}`), is not its word.
                return unbelieved_success(f"GCP key {'disable' if method == 'POST' else 'delete'}", response, calls)
            if not 200 <= response.status < 300:
                return http_failure(method, target, response, f"GCP key {'disable' if method == 'POST' else 'delete'}",
                                    calls[:-1])
        return RevokeResult(True, "disabled and deleted", calls=tuple(calls))

    async def _prove(self, plan, ctx, url: str, headers: dict[str, str],
                     calls: list[tuple[str, str, str]]) -> RevokeResult | None:
        """None when the key IAM holds under the file's `private_key_id` is the leaked key (its public
        half, from keys.get); else how the job ends. A key file can be edited: the id next to a
        private key is another key's until IAM shows the same public half under it. When IAM holds
        no key under the id, the account's keys are listed: none holding the leaked key's public half
        proves it gone (what a resumed job sees after its delete); one holding it under another id
        is left to a person."""
        try:
            value = await reread(plan.finding_id, ctx)
        except SecretUnavailable:
            return needs_person("the key file can no longer be re-read, so the key IAM holds under this "
                                "private_key_id cannot be proven to be the leaked one; disable it in the console "
                                "after checking", calls)
        answer = await self._get(ctx, url + WITH_PUBLIC_KEY, headers, calls, "GCP key lookup")
        if isinstance(answer, RevokeResult):
            return answer
        if answer is not None:
            if holds_public_half(value, answer.get("publicKeyData")):
                return None
            return needs_person("the key IAM holds under this private_key_id is not the leaked key (another public "
                                "half): the id written next to it is not its own; nothing was disabled", calls)
        search = await find_public_half(value, url.rsplit("/", 1)[0], headers, ctx)
        answers = search.calls[:-1] if search.stopped else search.calls
        calls.extend(("GET", safe_target(target), outcome(answer)) for target, answer in answers)
        if search.stopped:
            target, answer = search.calls[-1]
            return _failure(target, answer, "GCP key listing" if len(search.calls) == 1 else "GCP key lookup", calls)
        if search.key_id:
            return needs_person(f"the leaked key is held under another id ({search.key_id}) than the one next to "
                                f"it in the key file; nothing was disabled", calls)
        return RevokeResult(True, "no such key (already deleted): no key of the account holds its public half",
                            calls=tuple(calls))

    @staticmethod
    async def _get(ctx, url: str, headers: dict[str, str], calls: list[tuple[str, str, str]],
                   what: str) -> "dict[str, Any] | RevokeResult | None":
        """IAM's JSON object at `url`; None for Google's own 404; a RevokeResult for anything else."""
        try:
            response = await ctx.http.request("GET", url, headers=headers)
        except TransportError as exc:
            return _failure(url, exc, what, calls)
        if response.status == 200 and isinstance(response.json(), dict) or google_not_found(response):
            calls.append(("GET", safe_target(url), outcome(response)))
            return response.json() if response.status == 200 else None
        return _failure(url, response, what, calls)

    async def confirm(self, finding, ctx) -> bool:
        if await verify_status(finding, ctx) == "dead":
            return True
        if (finding.metadata or {}).get("client_email") or not ctx.settings.admin_key("gcp"):
            return False  # the verifier asked IAM about this account already (or cannot ask)
        # A finding read back from the store: its key file names the account. The verifier's own
        # proof then decides (the leaked key's public half under the id, or under no other id).
        email, project = _from_finding(finding)
        if not email:
            email, project = await self._account(Plan(self.name, finding.id, [], data={}), ctx)
        check = verifier(finding.provider, ctx)
        if not email or check is None:
            return False
        try:
            value = await reread(finding, ctx)
        except SecretUnavailable:
            return False
        facts = {"client_email": email, **({"project_id": project} if project else {})}
        try:
            result = await check.verify(Credential(finding.provider, finding.rule_id, value, finding.key_id, facts), ctx)
        except Exception:  # a verifier must not raise; if one does, nothing is confirmed
            return False
        return result.status == "dead"


def google_not_found(response) -> bool:
    """Google's own 404 (its error body, providers/google.py), not a proxy's."""
    return response.status == 404 and google_error(response) is not None


def _failure(url: str, answer: "Response | TransportError", what: str,
             calls: list[tuple[str, str, str]]) -> RevokeResult:
    """How a job ends on a GET whose answer is not IAM's documented one (`calls`: those before it)."""
    if isinstance(answer, TransportError):
        return transport_failure("GET", url, answer, calls)
    if answer.status != 200:
        return http_failure("GET", url, answer, what, calls)
    return unbelieved_success(what, answer, [*calls, ("GET", safe_target(url), outcome(answer))])


def _already_disabled(response) -> bool:
    try:
        body = response.json()
    except Exception:
        return False
    message = str(((body or {}).get("error") or {}).get("message", "")) if isinstance(body, dict) else ""
    return "already disabled" in message.lower()
