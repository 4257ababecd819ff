"""A HashiCorp Vault on 127.0.0.1 speaking the documented HTTP API the scan uses: `sys/mounts`,
`sys/internal/ui/mounts` (and `/<path>` for one mount), KV v1 (`LIST`/`GET /v1/<mount>/<path>`) and
KV v2 (`LIST /v1/<mount>/metadata/<path>`, `GET /v1/<mount>/metadata/<path>`,
`GET /v1/<mount>/data/<path>?version=N`). LIST is also accepted as `GET ?list=true`. Writes as
a rotation makes them: KV v2 `POST|PUT /v1/<mount>/data/<path>` `{"data", "options": {"cas"}}`
(a new version; 400 "check-and-set parameter did not match the current version" when `cas` is not
the current version), KV v1 `POST|PUT /v1/<mount>/<path>` (204); `read_only` prefixes answer a
write 403 (a policy with `read` but not `create`/`update`), and `POST /v1/sys/capabilities-self`
says so (`{"<path>": ["list", "read"], "capabilities": […], "data": {…}}`). Tokens in
`X-Vault-Token`; errors as Vault writes them (`{"errors": [...]}`: 403 "permission denied", 404
with no errors for a missing path). Deny rules by prefix stand in for policies.

Paths as Vault's HTTP server (Go's net/http ServeMux) takes them: a request path with an empty, `.`
or `..` segment (`a//b`, `a/./b`, `a/../b`) is answered 301 with the cleaned path as its Location,
never handled, so no such secret can be written through the API (`put` refuses one too). LIST
answers as Vault's storage lists a prefix: one path segment per name, a folder's with its trailing
`/`.

A hostile or broken server for the tests of what keysweep makes of it: `listing(mount, folder)`
(folder without its slashes) may answer a LIST with any names instead (None: the real listing);
`stalled` path prefixes (`/v1/...`) get no answer for `stall_seconds` (then 504: a test that
regresses ends instead of hanging)."""

from __future__ import annotations

import asyncio
import json
import posixpath
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from tests.fakes.serving import ThreadedApp

DENIED = {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}


class FakeVault(ThreadedApp):
    def __init__(self, token: str = "hvs.fake-test-token") -> None:
        super().__init__()
        self.token = token
        self.mounts: dict[str, dict[str, Any]] = {}  # name -> {"version": 1|2, "secrets": {path: [...]}}
        self.denied: set[str] = set()  # "<mount>/<path prefix>" the policy denies (LIST and read)
        self.deny_sys_mounts = False
        self.deny_ui_mounts = False
        self.read_only: set[str] = set()  # "<mount>/<path prefix>" the policy lets read but not write
        self.clock = datetime(2025, 5, 1, tzinfo=timezone.utc)
        self.logins: dict[tuple[str, str, str], str] = {}  # (auth path, role or role_id, secret) -> token
        self.listing: Callable[[str, str], list[Any] | None] | None = None  # a hostile server's LIST answer
        self.stalled: set[str] = set()  # request path prefixes never answered (for stall_seconds)
        self.stall_seconds = 60.0

    def approle(self, role_id: str, secret_id: str, path: str = "approle") -> None:
        self.logins[(path, role_id, secret_id)] = self.token

    def jwt_role(self, role: str, jwt: str, path: str = "jwt") -> None:
        self.logins[(path, role, jwt)] = self.token

    # -- scripting --------------------------------------------------------------------------
    def mount(self, name: str, version: int = 2, type_: str = "kv") -> None:
        self.mounts[name] = {"version": version, "type": type_, "secrets": {}, "meta": {}}

    def put(self, mount: str, path: str, data: dict[str, Any], custom_metadata: dict[str, str] | None = None) -> int:
        """Write a new version (KV v2) or replace the value (KV v1); the version written."""
        if not path or clean(path) != path:
            raise ValueError(f"Vault's API redirects the path {path!r} (an empty, '.' or '..' segment): no such secret")
        store = self.mounts[mount]
        versions = store["secrets"].setdefault(path, [])
        self.clock += timedelta(minutes=1)
        versions.append({"data": dict(data), "created_time": self.clock.isoformat().replace("+00:00", "Z"),
                         "deletion_time": "", "destroyed": False})
        if store["version"] == 1:
            del versions[:-1]
        if custom_metadata is not None:
            store["meta"][path] = dict(custom_metadata)
        return len(versions)

    def delete_current(self, mount: str, path: str) -> None:
        self.mounts[mount]["secrets"][path][-1]["deletion_time"] = "2025-06-01T00:00:00Z"

    def deny(self, prefix: str) -> None:
        self.denied.add(prefix)

    def seen(self, method: str | None = None, prefix: str = "") -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(prefix)]

    # -- serving ----------------------------------------------------------------------------
    def _json(self, body: Any, code: int = 200):
        from aiohttp import web

        return web.Response(status=code, body=json.dumps(body).encode(), content_type="application/json")

    def _mount_info(self, name: str) -> dict[str, Any]:
        store = self.mounts[name]
        return {"type": store["type"], "description": "", "accessor": f"kv_{abs(hash(name)) % 10**8:08x}",
                "options": {"version": str(store["version"])} if store["type"] == "kv" else None,
                "config": {"default_lease_ttl": 0, "max_lease_ttl": 0}, "local": False, "seal_wrap": False}

    async def _login(self, request):
        """POST /v1/auth/<path>/login: AppRole {role_id, secret_id} or JWT {role, jwt}."""
        path = request.path[len("/v1/auth/"):-len("/login")]
        try:
            body = await request.json()
        except ValueError:
            return self._json({"errors": ["failed to parse JSON input"]}, 400)
        if "role_id" in body:
            key = (path, body.get("role_id"), body.get("secret_id"))
            failure = "invalid role or secret ID"
        else:
            key = (path, body.get("role"), body.get("jwt"))
            failure = "error validating token: invalid audience (aud) claim"
        if key not in self.logins:
            return self._json({"errors": [failure]}, 400)
        return self._json({"request_id": "r", "auth": {"client_token": self.logins[key], "accessor": "acc",
                                                        "policies": ["default", "reader"], "lease_duration": 3600,
                                                        "renewable": True}})

    def capabilities(self, path: str) -> list[str]:
        """What the token's policy grants on an API path (`<mount>/data/<path>` for KV v2)."""
        name = next((m for m in self.mounts if path.startswith(m + "/")), None)
        secret = path[len(name) + 1:] if name else path
        if name and self.mounts[name]["version"] == 2:
            secret = secret.partition("/")[2]
        target = f"{name}/{secret}"
        if any(target.startswith(prefix) for prefix in self.denied):
            return ["deny"]
        if any(target.startswith(prefix) for prefix in self.read_only):
            return ["list", "read"]
        return ["create", "list", "read", "update"]

    def call_kind(self, request) -> str | None:
        if request.path.startswith(("/v1/sys/", "/v1/auth/")) or request.query.get("list") == "true":
            return None
        return {"GET": "read", "POST": "write", "PUT": "write"}.get(request.method)

    async def handle(self, request):
        if any(request.path.startswith(prefix) for prefix in self.stalled):
            await asyncio.sleep(self.stall_seconds)
            return self._json({"errors": ["stalled past the test's bound"]}, 504)
        if clean(request.path) != request.path:  # Go's ServeMux: a redirect to the cleaned path
            from aiohttp import web

            location = clean(request.path) + (f"?{request.query_string}" if request.query_string else "")
            return web.Response(status=301, headers={"Location": location})
        return await self._handle(request)

    async def _handle(self, request):
        if request.method == "POST" and request.path.startswith("/v1/auth/") and request.path.endswith("/login"):
            return await self._login(request)
        if request.headers.get("X-Vault-Token") != self.token:
            return self._json({"errors": ["permission denied"]}, 403)
        if request.method == "POST" and request.path == "/v1/sys/capabilities-self":
            paths = (await request.json()).get("paths") or []
            granted = {path: self.capabilities(path) for path in paths}
            merged = sorted({c for caps in granted.values() for c in caps})
            return self._json({**granted, "capabilities": merged, "request_id": "r", "data": {**granted,
                                                                                               "capabilities": merged}})
        method = request.method
        if method == "GET" and request.query.get("list") == "true":
            method = "LIST"
        path = request.path
        if not path.startswith("/v1/"):
            return self._json({"errors": []}, 404)
        rest = path[len("/v1/"):]
        if rest == "sys/mounts" and method == "GET":
            if self.deny_sys_mounts:
                return self._json(DENIED, 403)
            data = {f"{name}/": self._mount_info(name) for name in self.mounts}
            data["sys/"] = {"type": "system", "options": None}
            data["cubbyhole/"] = {"type": "cubbyhole", "options": None}
            return self._json({"request_id": "r", "lease_id": "", "renewable": False, "lease_duration": 0, **data,
                               "data": data})
        if rest == "sys/internal/ui/mounts" and method == "GET":
            if self.deny_ui_mounts:
                return self._json(DENIED, 403)
            visible = {f"{name}/": self._mount_info(name) for name in self.mounts}
            return self._json({"request_id": "r", "data": {"auth": {"token/": {"type": "token"}}, "secret": visible}})
        if rest.startswith("sys/internal/ui/mounts/") and method == "GET":
            name = rest[len("sys/internal/ui/mounts/"):].strip("/")
            if name not in self.mounts:
                return self._json({"errors": [f'preflight capability check returned 403, please ensure client\'s '
                                              f'policies grant access to path "{name}/"']}, 403)
            return self._json({"data": {**self._mount_info(name), "path": f"{name}/"}})
        name = next((m for m in sorted(self.mounts, key=len, reverse=True) if rest == m or rest.startswith(m + "/")),
                    None)
        if name is None:
            return self._json({"errors": ["no handler for route"]}, 404)
        store = self.mounts[name]
        inner = rest[len(name) + 1:]
        if store["version"] == 2:
            section, _, secret = inner.partition("/")
            if section not in ("data", "metadata"):
                return self._json({"errors": ["unsupported path"]}, 404)
        else:
            section, secret = "", inner
        # A policy on `<mount>/<folder>/` governs LIST of that folder, with or without its slash.
        target = f"{name}/{secret.strip('/')}/" if method == "LIST" else f"{name}/{secret}"
        if any(target.startswith(prefix) for prefix in self.denied):
            return self._json(DENIED, 403)
        if method == "LIST" and section in ("", "metadata"):
            hostile = self.listing(name, secret.strip("/")) if self.listing else None
            if hostile is not None:
                return self._json({"request_id": "r", "data": {"keys": hostile}})
            return self._list(store, secret)
        if method in ("POST", "PUT") and section in ("", "data"):
            return await self._write(request, name, store, secret)
        if method != "GET":
            return self._json({"errors": ["unsupported operation"]}, 405)
        versions = store["secrets"].get(secret)
        if not versions:
            return self._json({"errors": []}, 404)
        if store["version"] == 1:
            return self._json({"request_id": "r", "lease_duration": 2764800, "data": versions[-1]["data"]})
        custom = store["meta"].get(secret)
        if section == "metadata":
            return self._json({"data": {
                "cas_required": False, "created_time": versions[0]["created_time"], "current_version": len(versions),
                "custom_metadata": custom, "delete_version_after": "0s", "max_versions": 0, "oldest_version": 0,
                "updated_time": versions[-1]["created_time"],
                "versions": {str(i + 1): {k: v[k] for k in ("created_time", "deletion_time", "destroyed")}
                             for i, v in enumerate(versions)}}})
        wanted = int(request.query.get("version") or 0) or len(versions)
        if wanted > len(versions):
            return self._json({"errors": []}, 404)
        version = versions[wanted - 1]
        metadata = {"created_time": version["created_time"], "custom_metadata": custom,
                    "deletion_time": version["deletion_time"], "destroyed": version["destroyed"], "version": wanted}
        if version["deletion_time"] or version["destroyed"]:
            return self._json({"data": {"data": None, "metadata": metadata}}, 404)
        return self._json({"data": {"data": version["data"], "metadata": metadata}})

    async def _write(self, request, name: str, store: dict[str, Any], secret: str):
        if any(f"{name}/{secret}".startswith(prefix) for prefix in self.read_only):
            return self._json(DENIED, 403)
        try:
            body = await request.json()
        except ValueError:
            return self._json({"errors": ["failed to parse JSON input"]}, 400)
        versions = store["secrets"].get(secret) or []
        if store["version"] == 1:
            self.put(name, secret, dict(body))
            from aiohttp import web

            return web.Response(status=204)
        cas = (body.get("options") or {}).get("cas")
        if cas is not None and int(cas) != len(versions):
            return self._json({"errors": ["check-and-set parameter did not match the current version"]}, 400)
        number = self.put(name, secret, dict(body.get("data") or {}))
        written = store["secrets"][secret][-1]
        return self._json({"request_id": "r", "data": {"created_time": written["created_time"], "custom_metadata": None,
                                                       "deletion_time": "", "destroyed": False, "version": number}})

    def _list(self, store: dict[str, Any], folder: str):
        folder = folder.strip("/")
        prefix = folder + "/" if folder else ""
        keys = set()
        for path in store["secrets"]:
            if path.startswith(prefix):
                head, sep, _ = path[len(prefix):].partition("/")
                keys.add(head + sep)
        if not keys:
            return self._json({"errors": []}, 404)
        return self._json({"request_id": "r", "data": {"keys": sorted(keys)}})


def clean(path: str) -> str:
    """The path Go's ServeMux redirects `path` to (path.Clean, a trailing slash kept): itself when clean."""
    if not path:
        return path
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):  # posixpath keeps a leading "//" (POSIX); path.Clean does not
        cleaned = "/" + cleaned.lstrip("/")
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return "" if cleaned == "." and not path.startswith("/") else cleaned
