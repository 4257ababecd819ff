"""A local fake of Google's API Keys API (v2) and of the Gemini API's model list, on one server.

Written from Google's reference documentation, not from keysweep's code:

- `GET /v2/keys:lookupKey?keyString=…` → `{"parent": "projects/<number>", "name":
  "projects/<number>/locations/global/keys/<uid>"}`; for a key purged 30 days after its deletion
  the name is not set (documented). A key string Google does not know: 404 NOT_FOUND (the
  reference does not say; `unknown_lookup` chooses another answer). A deleted key that is not
  purged yet is still looked up (the reference only says purged keys lose their name).
- `GET /v2/{name}` → the Key (`name`, `uid`, `displayName`, `createTime`, `updateTime`, `etag`,
  `restrictions`; never `keyString`, which only getKeyString returns). A deleted key: 404 NOT_FOUND.
- `DELETE /v2/{name}` → a long-running Operation `{"name": "operations/…", "done": false}`;
  `GET /v2/operations/{id}` → the same Operation, `done: true` with `response` (the deleted Key,
  `deleteTime` set) or `error` (a google.rpc.Status). A deleted key: 404 NOT_FOUND.
- Errors are google.rpc.Status bodies: `{"error": {"code": 404, "message": …, "status": "NOT_FOUND"}}`;
  a missing or wrong bearer token is 401 UNAUTHENTICATED; 429 RESOURCE_EXHAUSTED carries Retry-After.
- `GET /v1beta/models` with `x-goog-api-key` (the Gemini API, the verifier's check): 200 with the
  model list for a live key, 400 INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID otherwise.

Odd answers on demand: `pending_polls` (polls answered `done: false` before the deletion finishes),
`operation_errors` (the next deletions finish with these google.rpc.Status errors), `fail(kind,
*statuses)` (the next calls of a kind — lookup, get, delete, operation — answer 403, 429 or 503 in
Google's shapes), and the hostile intermediary of tests/fakes/providers.py (`fake.intermediary =
"html_401"`, on "revoke" for the /v2 admin API, "verify" for the Gemini check).

State to assert on: `keys` (name -> record), `deleted` (names), `delete_requests` (name -> DELETE
requests), `effective` (value -> times a deletion took effect), `lookups` (values looked up).
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from tests.fakes.providers import ADMIN_KEYS, FakeProvider

KEY_TYPE = "type.googleapis.com/google.api.apikeys.v2.Key"
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def rpc_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    """google.rpc.Status as Google's JSON error body."""
    return {"error": {"code": code, "message": message, "status": STATUS_NAMES[code], **extra}}


class FakeGoogleApiKeys(FakeProvider):
    name = "google"

    def __init__(self, keys: dict[str, str] | list[str] | tuple = (), *, display_names: dict[str, str] | None = None,
                 pending_polls: int = 0, unknown_lookup: int = 404, retry_after: str = "0.05", **kw) -> None:
        projects = keys if isinstance(keys, dict) else {value: "123456789012" for value in keys}
        super().__init__(list(projects), **kw)
        self.admin_key = ADMIN_KEYS["gcp"]
        self.keys: dict[str, dict[str, Any]] = {}
        self.by_value: dict[str, str] = {}
        for index, (value, project) in enumerate(sorted(projects.items())):
            name = f"projects/{project}/locations/global/keys/{uuid.UUID(int=index + 1)}"
            self.keys[name] = {"value": value, "project": project, "uid": str(uuid.UUID(int=0xABC000 + index)),
                               "displayName": (display_names or {}).get(value, f"Gemini key {index}"),
                               "createTime": "2025-01-15T09:30:00.000000Z",
                               "restrictions": {"apiTargets": [{"service": "generativelanguage.googleapis.com"}]}}
            self.by_value[value] = name
        self.deleted: dict[str, str] = {}       # name -> deleteTime
        self.purged: set[str] = set()
        self.operations: dict[str, dict[str, Any]] = {}
        self.delete_requests: Counter = Counter()
        self.lookups: Counter = Counter()
        self.pending_polls = pending_polls
        self.operation_errors: list[dict[str, Any]] = []
        self.unknown_lookup = unknown_lookup
        self.retry_after = retry_after
        self.failures: dict[str, list[int]] = {}
        # The intermediary answers only this step ("lookup", "delete", "operation"), when set.
        self.hostile_only: str | None = None

    # -- test controls -------------------------------------------------------------------------------
    def name_of(self, value: str) -> str:
        return self.by_value[value]

    def fail(self, kind: str, *statuses: int) -> None:
        """The next calls of `kind` (lookup, get, delete, operation) answer these statuses."""
        self.failures.setdefault(kind, []).extend(statuses)

    def purge(self, value: str) -> None:
        """30 days after deletion: the key is gone for good; lookupKey names no key."""
        self.purged.add(self.by_value[value])

    def undelete(self, value: str) -> None:
        """keys.undelete within 30 days: the key works again."""
        name = self.by_value[value]
        self.deleted.pop(name, None)
        self.active.add(value)
        self.revoked.discard(value)

    def is_revoke(self, method, path):
        return method == "DELETE"

    def env(self):
        return {"KEYSWEEP_GCP_APIKEYS_BASE_URL": self.base_url, "KEYSWEEP_GOOGLE_BASE_URL": self.base_url,
                "KEYSWEEP_GCP_ADMIN_KEY": self.admin_key}

    # -- behaviour ---------------------------------------------------------------------------------
    def _key_json(self, name: str) -> dict[str, Any]:
        record = self.keys[name]
        body = {"name": name, "uid": record["uid"], "displayName": record["displayName"],
                "createTime": record["createTime"], "updateTime": record["createTime"],
                "etag": f"W/\"{record['uid'][-8:]}\"", "restrictions": record["restrictions"]}
        if name in self.deleted:
            body["deleteTime"] = self.deleted[name]
        return body

    def _finish(self, operation: dict[str, Any]) -> None:
        """The deletion takes effect (or fails) when its operation finishes."""
        operation["done"] = True
        if operation.pop("_error", None) is not None:
            operation["error"] = operation.pop("_status")
            return
        name = operation.pop("_key")
        value = self.keys[name]["value"]
        if name not in self.deleted:
            self.deleted[name] = "2025-06-01T12:00:00.000000Z"
            if value in self.active:
                self.active.discard(value)
                self.revoked.add(value)
                self.effective[value] += 1
        operation["response"] = {"@type": KEY_TYPE, **self._key_json(name)}

    def routes(self, app):
        from aiohttp import web

        def answer(status: int, message: str):
            headers = {"Retry-After": self.retry_after} if status == 429 else None
            return web.json_response(rpc_error(status, message), status=status, headers=headers)

        def refused(request, kind: str):
            """An intermediary's page, a bad token, or a queued failure; None to go on."""
            hostile = self._intermediary("revoke") if self.hostile_only in (None, kind) else None
            if hostile is not None:
                return hostile
            if self.bearer(request) != self.admin_key:
                return answer(401, "Request had invalid authentication credentials. Expected OAuth 2 access "
                                   "token, login cookie or other valid authentication credential.")
            queued = self.failures.get(kind)
            if queued:
                status = queued.pop(0)
                messages = {403: f"Permission 'apikeys.keys.{kind}' denied on resource (or it may not exist).",
                            429: "Quota exceeded for quota metric 'Requests' of service 'apikeys.googleapis.com'.",
                            503: "The service is currently unavailable."}
                return answer(status, messages.get(status, "error"))
            return None

        def key_name(request) -> str:
            m = request.match_info
            return f"projects/{m['project']}/locations/{m['location']}/keys/{m['key']}"

        async def lookup(request):
            self._log(request)
            failure = refused(request, "lookup")
            if failure is not None:
                return failure
            value = request.query.get("keyString", "")
            self.lookups[value] += 1
            name = self.by_value.get(value)
            if name is None:
                return answer(self.unknown_lookup, "The API key was not found." if self.unknown_lookup == 404
                              else "Permission denied on the key's project (or it may not exist).")
            parent = f"projects/{self.keys[name]['project']}"
            return web.json_response({"parent": parent} if name in self.purged else {"parent": parent, "name": name})

        async def get_key(request):
            self._log(request)
            failure = refused(request, "get")
            if failure is not None:
                return failure
            name = key_name(request)
            if name not in self.keys or name in self.deleted:
                return answer(404, f"Key {name} not found.")
            return web.json_response(self._key_json(name))

        async def delete_key(request):
            self._log(request)
            name = key_name(request)
            self.delete_requests[name] += 1
            failure = refused(request, "delete")
            if failure is not None:
                return failure
            if name not in self.keys or name in self.deleted:
                return answer(404, f"Key {name} not found.")
            self.revoke_calls[self.keys[name]["value"]] += 1
            op_name = f"operations/akmf.p7-{uuid.uuid4().hex[:24]}"
            operation: dict[str, Any] = {"name": op_name, "done": False, "_key": name, "_polls": self.pending_polls}
            if self.operation_errors:
                operation.update(_error=True, _status=self.operation_errors.pop(0))
            self.operations[op_name] = operation
            return web.json_response(_public(operation))

        async def get_operation(request):
            self._log(request)
            failure = refused(request, "operation")
            if failure is not None:
                return failure
            operation = self.operations.get(f"operations/{request.match_info['op']}")
            if operation is None:
                return answer(404, "Operation not found.")
            if not operation["done"]:
                if operation["_polls"] > 0:
                    operation["_polls"] -= 1
                else:
                    self._finish(operation)
            return web.json_response(_public(operation))

        async def models(request):
            self._log(request)
            hostile = self._intermediary("verify")
            if hostile is not None:
                return hostile
            if request.headers.get("x-goog-api-key") in self.active:
                return web.json_response({"models": [{"name": "models/gemini-2.5-flash"}]})
            return web.json_response(rpc_error(400, "API key not valid. Please pass a valid API key.", details=[
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]),
                status=400)

        key_path = "/v2/projects/{project}/locations/{location}/keys/{key}"
        app.router.add_get("/v2/keys:lookupKey", lookup)
        app.router.add_get(key_path, get_key)
        app.router.add_delete(key_path, delete_key)
        app.router.add_get("/v2/operations/{op}", get_operation)
        app.router.add_get("/v1beta/models", models)


def _public(operation: dict[str, Any]) -> dict[str, Any]:
    """An Operation as Google sends it (the fake's own bookkeeping left out)."""
    return {key: value for key, value in operation.items() if not key.startswith("_")}
