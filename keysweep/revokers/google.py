"""Google API keys (Gemini, `AIza…` and `AQ.…`): deleted through the API Keys API with the
organisation's OAuth access token (`KEYSWEEP_GCP_ADMIN_KEY`, Bearer; it needs apikeys.keys.lookup
and apikeys.keys.delete on the key's project). Endpoint: `KEYSWEEP_GCP_APIKEYS_BASE_URL` (default
https://apikeys.googleapis.com).

    GET    {apikeys}/v2/keys:lookupKey?keyString=…   the re-read value → {"parent", "name"}
    DELETE {apikeys}/v2/{name}                        → a long-running Operation
    GET    {apikeys}/v2/operations/{id}               until `done`, with `response` (the deleted Key) or `error`

The binding is proven on every attempt: the value is re-read (the context's re-reader checks its
SHA-256 against the finding's) and Google itself maps it to the key's resource name. A stored key
name (an earlier owner lookup) is only used when it is that name.

Idempotent. The operation is recorded in the job (committed) as soon as Google accepts the delete,
so a resumed or retried attempt polls it instead of deleting again; Google's NOT_FOUND for the key
after a recorded delete is "already deleted". Without a recorded delete, NOT_FOUND is success only
on the verifier's word that the key is dead. Success is only Google's documented answer: an
Operation that is `done` with the deleted Key named as bound. 429/5xx and an operation still
running are busy (asked again later); PERMISSION_DENIED and anything not in Google's error shape
need a person.

A deleted key can be restored for 30 days (`projects.locations.keys.undelete`); after that Google
purges it. confirm(): the Gemini verifier's documented dead answer (API_KEY_INVALID).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from keysweep.errors import SecretUnavailable
from keysweep.http import TransportError
from keysweep.providers.google import (
    ADMIN_KEY_ENV,
    API_KEY_RULES,
    CONSOLE_URL,
    KEY_NAME,
    admin_token,
    apikeys_url,
    failure_reason,
    google_error,
    google_says,
    looked_up,
)
from keysweep.revokers._common import (
    BaseRevoker,
    gone_or_needs_person,
    http_failure,
    make_plan,
    needs_person,
    outcome,
    reread,
    safe_target,
    transport_failure,
    unbelieved_success,
)
from keysweep.revokers.base import RevokeResult

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.http import Response
    from keysweep.revokers.base import Plan

_OPERATION = re.compile(r"operations/[A-Za-z0-9._~:-]{1,200}")
# Seconds between polls of a running deletion; after the last, the attempt is "busy" and the job
# asks again later (polling the recorded operation, never deleting twice).
POLL_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
STILL_RUNNING_RETRY = 10.0
# google.rpc.Code values of an operation's error that a later attempt may get past.
_BUSY_CODES = {4: "DEADLINE_EXCEEDED", 8: "RESOURCE_EXHAUSTED", 10: "ABORTED", 13: "INTERNAL", 14: "UNAVAILABLE"}
_NOT_FOUND, _PERMISSION_DENIED = 5, 7
UNDELETE_NOTE = "Google keeps a deleted key restorable for 30 days (keys.undelete), then purges it"

Calls = list[tuple[str, str, str]]


def operation_name(body: Any) -> str | None:
    """The Operation's name when `body` is one (`{"name": "operations/…", "done": …}`), else None."""
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not _OPERATION.fullmatch(body["name"]):
        return None
    return body["name"] if isinstance(body.get("done", False), bool) else None


def deleted_as_documented(operation: dict[str, Any], name: str) -> bool:
    """A finished Operation whose `response` is the deleted Key, named as the key we bound."""
    response = operation.get("response")
    return operation.get("done") is True and "error" not in operation and isinstance(response, dict) \
        and response.get("name") == name


class GoogleApiKeyRevoker(BaseRevoker):
    name = "google"

    def supports(self, finding) -> bool:
        return finding.provider == "google" and finding.rule_id in API_KEY_RULES

    async def plan(self, finding, ctx):
        base = apikeys_url(ctx.settings)
        known = finding.key_id if finding.key_id and KEY_NAME.fullmatch(finding.key_id) else None
        needs = [] if admin_token(ctx.settings) else \
            [f"{ADMIN_KEY_ENV} (an OAuth access token with apikeys.keys.lookup and apikeys.keys.delete)"]
        calls = [("GET", f"{base}/v2/keys:lookupKey", "find the key's project and name from the re-read value"),
                 ("DELETE", f"{base}/v2/{known or '{name}'}", f"delete the key ({UNDELETE_NOTE})"),
                 ("GET", f"{base}/v2/operations/{{operation}}", "wait for the deletion to finish")]
        return make_plan(self.name, finding, calls, needs, key_name=known)

    async def preflight(self, plan: "Plan", ctx: "Context") -> RevokeResult:
        """`revoke --preflight`: the lookup alone (read-only), so a dry run shows the key is bound."""
        token = admin_token(ctx.settings)
        if not token:
            return needs_person(f"no credential for the API Keys API: set {ADMIN_KEY_ENV}")
        calls: Calls = []
        bound = await self._bind(plan, ctx, token, calls)
        if isinstance(bound, RevokeResult):
            return bound
        if bound is None:
            return RevokeResult(False, "Google's API Keys API does not know this key (deleted and purged, or "
                                       "another organisation's)", calls=tuple(calls))
        return RevokeResult(True, f"lookupKey binds the value to {bound}", calls=tuple(calls))

    async def revoke(self, plan: "Plan", ctx: "Context") -> RevokeResult:
        token = admin_token(ctx.settings)
        if not token:
            return needs_person(f"no credential for the API Keys API: set {ADMIN_KEY_ENV} (an OAuth access token)")
        calls: Calls = []
        bound = await self._bind(plan, ctx, token, calls)
        if isinstance(bound, RevokeResult):
            return bound
        if bound is None:  # Google no longer knows the key string
            if self._deleted_before(plan):
                return self._gone(plan, calls, "lookupKey answered NOT_FOUND")
            return await gone_or_needs_person(plan, ctx, calls, "Google's API Keys API does not know this key")
        pending = plan.data.get("operation") if plan.data.get("deleting") == bound else None
        if pending:
            return await self._wait(plan, ctx, token, bound, pending, calls)
        if self._deleted_before(plan, bound):
            # Deleted by an earlier attempt, and lookupKey still maps the value (Google keeps it 30 days):
            # a read tells deleted (NOT_FOUND) from restored since (undeleted), so no second DELETE.
            restored = await self._still_there(ctx, token, bound, calls)
            if restored is not True:
                return restored if isinstance(restored, RevokeResult) else \
                    self._gone(plan, calls, f"GET answered NOT_FOUND for {bound}")
        return await self._delete(plan, ctx, token, bound, calls)

    async def _still_there(self, ctx: "Context", token: str, name: str, calls: Calls) -> "bool | RevokeResult":
        url = f"{apikeys_url(ctx.settings)}/v2/{name}"
        try:
            response = await ctx.http.request("GET", url, headers=_bearer(token))
        except TransportError as exc:
            return transport_failure("GET", url, exc, calls)
        calls.append(("GET", safe_target(url), outcome(response)))
        if google_says(response, "NOT_FOUND"):
            return False
        body = response.json()
        if response.status == 200 and isinstance(body, dict) and body.get("name") == name:
            return True
        if response.status == 200:
            return unbelieved_success("API Keys get", response, calls)
        return self._refused("get", "GET", url, response, calls, "apikeys.keys.get")

    # -- binding -----------------------------------------------------------------------------------
    async def _bind(self, plan: "Plan", ctx: "Context", token: str, calls: Calls) -> "str | None | RevokeResult":
        """The key's resource name, from lookupKey of the re-read value; None when Google says it
        holds no such key; a RevokeResult when nothing may be deleted."""
        try:
            value = await reread(plan.finding_id, ctx)  # its SHA-256 is checked against the finding's
        except SecretUnavailable:
            return needs_person(f"the value can no longer be re-read, so the key cannot be looked up and proven "
                                f"to be this finding's; delete it at {CONSOLE_URL} after checking", calls)
        url = f"{apikeys_url(ctx.settings)}/v2/keys:lookupKey"
        try:
            response = await ctx.http.request("GET", url, headers=_bearer(token), params={"keyString": value})
        except TransportError as exc:
            return transport_failure("GET", url, exc, calls)
        calls.append(("GET", safe_target(url), outcome(response)))
        if google_says(response, "NOT_FOUND"):
            return None
        if response.status != 200:
            return self._refused("lookupKey", "GET", url, response, calls, "apikeys.keys.lookup")
        found = looked_up(response.json())
        if found is None:
            return unbelieved_success("API Keys lookupKey", response, calls)
        _parent, name = found
        if name is None:  # Google's word: the key was deleted more than 30 days ago and purged
            return None
        stored = plan.data.get("key_name")
        if stored and stored != name:
            return needs_person(f"the stored key name {stored} is not the key Google maps this value to ({name}); "
                                f"check which key leaked", calls)
        return name

    # -- deleting ----------------------------------------------------------------------------------
    async def _delete(self, plan: "Plan", ctx: "Context", token: str, name: str, calls: Calls) -> RevokeResult:
        url = f"{apikeys_url(ctx.settings)}/v2/{name}"
        try:
            response = await ctx.http.request("DELETE", url, headers=_bearer(token))
        except TransportError as exc:
            return transport_failure("DELETE", url, exc, calls)
        calls.append(("DELETE", safe_target(url), outcome(response)))
        if google_says(response, "NOT_FOUND"):
            if self._deleted_before(plan, name):
                return self._gone(plan, calls, f"DELETE answered NOT_FOUND for {name}")
            return await gone_or_needs_person(plan, ctx, calls, f"DELETE answered NOT_FOUND for {name}")
        if response.status != 200:
            return self._refused("delete", "DELETE", url, response, calls, "apikeys.keys.delete")
        operation = response.json()
        op_name = operation_name(operation)
        if op_name is None:
            return unbelieved_success("API Keys delete", response, calls)
        # Recorded before anything else: a resumed attempt polls this operation, never deletes again.
        self._note(plan, ctx, deleting=name, operation=op_name)
        if operation.get("done") is True:
            return self._finished(plan, ctx, name, operation, calls)
        return await self._wait(plan, ctx, token, name, op_name, calls)

    async def _wait(self, plan: "Plan", ctx: "Context", token: str, name: str, op_name: str,
                    calls: Calls) -> RevokeResult:
        """Poll the recorded deletion until it is done, a few times; still running is busy."""
        url = f"{apikeys_url(ctx.settings)}/v2/{op_name}"
        for delay in POLL_DELAYS:
            await ctx.sleep(delay)
            try:
                response = await ctx.http.request("GET", url, headers=_bearer(token))
            except TransportError as exc:
                return transport_failure("GET", url, exc, calls)
            calls.append(("GET", safe_target(url), outcome(response)))
            if google_says(response, "NOT_FOUND"):
                # The operation is forgotten (they expire); the next attempt deletes again, and
                # Google's NOT_FOUND for the key then counts as deleted (the delete is recorded).
                self._note(plan, ctx, operation=None)
                return RevokeResult(False, f"Google no longer knows the deletion {op_name}; asking again",
                                    retryable=True, busy=True, calls=tuple(calls))
            if response.status != 200:
                return self._refused("operation", "GET", url, response, calls, "apikeys.keys.delete")
            operation = response.json()
            if operation_name(operation) != op_name:
                return unbelieved_success("API Keys operation", response, calls)
            if operation.get("done") is True:
                return self._finished(plan, ctx, name, operation, calls)
        return RevokeResult(False, f"Google is still deleting {name} ({op_name}); asking again later", retryable=True,
                            busy=True, retry_after=STILL_RUNNING_RETRY, calls=tuple(calls))

    def _finished(self, plan: "Plan", ctx: "Context", name: str, operation: dict[str, Any],
                  calls: Calls) -> RevokeResult:
        if deleted_as_documented(operation, name):
            self._note(plan, ctx, operation=None, deleted=name)
            deleted_at = operation["response"].get("deleteTime")
            return RevokeResult(True, f"deleted {name}{' at ' + deleted_at if deleted_at else ''}; {UNDELETE_NOTE}",
                                calls=tuple(calls))
        error = operation.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            return RevokeResult(False, f"the deletion {operation.get('name')} finished without the documented "
                                       f"response (the deleted key) or error; not believed", retryable=True,
                                calls=tuple(calls))
        # A failed operation deleted nothing: the next attempt may delete again.
        self._note(plan, ctx, deleting=None, operation=None)
        code = error["code"]
        if code in _BUSY_CODES:
            return RevokeResult(False, f"the deletion of {name} failed with {_BUSY_CODES[code]}; asking again",
                                retryable=True, busy=True, calls=tuple(calls))
        if code == _PERMISSION_DENIED:
            return needs_person(f"Google refused to delete {name} (PERMISSION_DENIED): the token lacks "
                                f"apikeys.keys.delete on its project; delete it at {CONSOLE_URL}", calls)
        reason = "NOT_FOUND: someone deleted it first" if code == _NOT_FOUND else f"code {code}"
        return needs_person(f"the deletion of {name} failed ({reason}): {str(error.get('message') or '')[:200]}",
                            calls)

    # -- answers -------------------------------------------------------------------------------------
    def _refused(self, what: str, method: str, url: str, response: "Response", calls: Calls,
                 permission: str) -> RevokeResult:
        """A non-success answer: 429/5xx are busy; Google's PERMISSION_DENIED and anything that is not
        Google's error body (a proxy's 401 page) need a person."""
        if response.status == 429 or response.status >= 500:
            return http_failure(method, url, response, f"API Keys {what}", calls[:-1])
        if google_says(response, "PERMISSION_DENIED"):
            return needs_person(f"API Keys {what}: Google refused (403 PERMISSION_DENIED): the token lacks "
                                f"{permission} on the key's project, or the key is another organisation's", calls)
        if google_error(response) is None:
            return needs_person(f"API Keys {what}: {failure_reason(response)}; is a proxy answering for Google?", calls)
        return needs_person(f"API Keys {what}: {failure_reason(response)}", calls)

    @staticmethod
    def _deleted_before(plan: "Plan", name: str | None = None) -> bool:
        """A delete of this key (any key, when `name` is None) was accepted by Google and recorded."""
        recorded = plan.data.get("deleted") or plan.data.get("deleting")
        return bool(recorded) and (name is None or recorded == name)

    @staticmethod
    def _gone(plan: "Plan", calls: Calls, why: str) -> RevokeResult:
        recorded = plan.data.get("deleted") or plan.data.get("deleting")
        return RevokeResult(True, f"{why}, after the recorded delete of {recorded}: already deleted; {UNDELETE_NOTE}",
                            calls=tuple(calls))

    def _note(self, plan: "Plan", ctx: "Context", **values: Any) -> None:
        """Identifiers of the deletion in the job (committed now) and in this plan."""
        for key, value in values.items():
            if value is None:
                plan.data.pop(key, None)
            else:
                plan.data[key] = value
        if ctx.note_job is not None:  # None where no job is running (a revoker called directly)
            ctx.note_job(plan.finding_id, self.name, **values)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
