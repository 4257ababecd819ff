"""GCP Secret Manager on 127.0.0.1 speaking its documented REST API v1 (the client's REST
transport): `GET /v1/projects/{p}/secrets` (pageSize/pageToken), `GET …/secrets/{s}/versions`
(filter `state:ENABLED`), `GET …/versions/{v}:access` (`latest` is the newest version; the answer names
the version by number), `POST …/secrets/{s}:addVersion` (body `{"payload": {"data": base64}}`; the
answer is the new SecretVersion: `name` …/versions/N, N one more than the last version's, `state`
ENABLED, `createTime`, `etag`), `GET …/versions/{v}` (the SecretVersion with its etag), `POST
…/versions/{v}:disable` (body `{"etag"}`: another etag than the version's is 400
FAILED_PRECONDITION; the answer is the SecretVersion, state DISABLED and a new etag), `POST
…/secrets/{s}:testIamPermissions` (`{"permissions": [...]}` answered with the subset held: all
but `versions.add` and `versions.disable` on a `read_only` secret). Resource
names carry the project number, as Google's do. Bearer token checked; errors in Google's shape
(`{"error": {"code", "message", "status"}}`), e.g. 403 PERMISSION_DENIED for a denied project or secret.

Regional secrets (`projects/{p}/locations/{l}/secrets/…`, the same methods) are served only by a
regional endpoint (`FakeSecretManager(regional=True)`, Google's `secretmanager.{l}.rep.googleapis.com`),
global ones only by the global endpoint; the other answers 404, as for a method it does not have."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakes.serving import ThreadedApp


def error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


class FakeSecretManager(ThreadedApp):
    def __init__(self, token: str = "ya29.fake-test-token", regional: bool = False) -> None:
        super().__init__()
        self.regional = regional
        self.token = token
        self.projects: dict[str, dict[str, Any]] = {}  # id -> {"number", "secrets": {id: {...}}}
        self.denied: set[str] = set()  # project ids, or "project/secret"
        self.read_only: set[str] = set()  # "project/secret": versions may be read, not added
        self.on_add = None  # called (secret id) as an addVersion arrives: someone else's write in that instant
        self.page_size = 2

    def secret(self, project: str, secret: str, payloads: list[bytes | str], labels: dict | None = None,
               states: list[str] | None = None, location: str | None = None) -> None:
        """A global secret, or with `location` a regional one (serve it from a regional fake)."""
        number = self.projects.setdefault(project, {"number": str(100000 + len(self.projects)), "secrets": {}})
        versions = [{"data": p.encode() if isinstance(p, str) else p, "state": (states or [])[i] if states else "ENABLED",
                     "createTime": f"2025-0{i + 1}-01T00:00:00Z"} for i, p in enumerate(payloads)]
        number["secrets"][(location, secret) if location else secret] = {"labels": labels or {}, "versions": versions}

    def add_version(self, project: str, secret: str, payload: str) -> None:
        self.projects[project]["secrets"][secret]["versions"].append(
            {"data": payload.encode(), "state": "ENABLED", "createTime": "2025-09-01T00:00:00Z"})

    def payloads(self, project: str, secret: str, location: str | None = None) -> list[str]:
        """Every version's payload, oldest first (the state at the fake)."""
        held = self.projects[project]["secrets"][(location, secret) if location else secret]
        return [v["data"].decode() for v in held["versions"]]

    def states(self, project: str, secret: str, location: str | None = None) -> list[str]:
        held = self.projects[project]["secrets"][(location, secret) if location else secret]
        return [v["state"] for v in held["versions"]]

    def added(self) -> list[str]:
        return [r.path for r in self.requests if r.method == "POST" and r.path.endswith(":addVersion")]

    def call_kind(self, request) -> str | None:
        if request.method == "POST" and request.path.endswith(":addVersion"):
            return "write"
        if request.method == "POST" and request.path.endswith(":disable"):
            return "disable"
        if request.method == "POST" and request.path.endswith(":testIamPermissions"):
            return "permissions"
        return "read" if request.method == "GET" and request.path.endswith(":access") else None

    def accessed(self) -> list[str]:
        return [r.path for r in self.requests if r.path.endswith(":access")]

    def _json(self, body: Any, code: int = 200):
        from aiohttp import web

        return web.Response(status=code, body=json.dumps(body).encode(), content_type="application/json")

    def _project(self, ref: str) -> tuple[str, dict[str, Any]] | None:
        for project_id, project in self.projects.items():
            if ref in (project_id, project["number"]):
                return project_id, project
        return None

    async def handle(self, request):
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), 401)
        path = request.path
        access = path.endswith(":access")
        add = request.method == "POST" and path.endswith(":addVersion")
        disable = request.method == "POST" and path.endswith(":disable")
        test = request.method == "POST" and path.endswith(":testIamPermissions")
        parts = path.removesuffix(":access").removesuffix(":addVersion").removesuffix(":disable") \
            .removesuffix(":testIamPermissions").strip("/").split("/")
        location = None
        if len(parts) >= 6 and parts[3] == "locations":
            location = parts[4]
            parts = parts[:3] + parts[5:]
        if (location is not None) != self.regional:
            return self._json(error(404, "NOT_FOUND", "Method not found."), 404)
        # v1 projects {p} secrets [{s} versions [{v}]]
        if len(parts) < 4 or parts[:2] != ["v1", "projects"] or parts[3] != "secrets":
            return self._json(error(404, "NOT_FOUND", "Method not found."), 404)
        found = self._project(parts[2])
        if found is None or found[0] in self.denied:
            return self._json(error(403, "PERMISSION_DENIED", f"Permission 'secretmanager.secrets.list' denied for "
                                                              f"resource 'projects/{parts[2]}' (or it may not exist)."), 403)
        project_id, project = found
        prefix = f"projects/{project['number']}" + (f"/locations/{location}" if location else "") + "/secrets"
        held = {key[1] if location else key: value for key, value in project["secrets"].items()
                if (isinstance(key, tuple) and key[0] == location) or (not isinstance(key, tuple) and not location)}
        if len(parts) == 4:
            names = sorted(held)
            start = int(request.query.get("pageToken") or 0)
            size = int(request.query.get("pageSize") or 0) or self.page_size
            page = names[start:start + size]
            body: dict[str, Any] = {"secrets": [{"name": f"{prefix}/{n}", "labels": held[n]["labels"],
                                                 "createTime": "2025-01-01T00:00:00Z",
                                                 "replication": {"automatic": {}}} for n in page],
                                    "totalSize": len(names)}
            if start + size < len(names):
                body["nextPageToken"] = str(start + size)
            return self._json(body)
        secret_id = parts[4]
        secret = held.get(secret_id)
        if secret is None:
            return self._json(error(404, "NOT_FOUND", f"Secret [{prefix}/{secret_id}] not found."), 404)
        if f"{project_id}/{secret_id}" in self.denied:
            return self._json(error(403, "PERMISSION_DENIED", f"Permission 'secretmanager.versions.access' denied for "
                                                              f"resource '{prefix}/{secret_id}' (or it may not exist)."), 403)
        versions = secret["versions"]
        if len(parts) == 5 and test:
            asked = (await request.json()).get("permissions") or []
            withheld = {"secretmanager.versions.add", "secretmanager.versions.disable"} \
                if f"{project_id}/{secret_id}" in self.read_only else set()
            held = [name for name in asked if name not in withheld]
            return self._json({"permissions": held} if held else {})
        if len(parts) == 5 and add:
            if f"{project_id}/{secret_id}" in self.read_only:
                return self._json(error(403, "PERMISSION_DENIED", f"Permission 'secretmanager.versions.add' denied "
                                                                  f"for resource '{prefix}/{secret_id}' (or it may not "
                                                                  f"exist)."), 403)
            body = await request.json()
            if self.on_add is not None:
                self.on_add(secret_id)
            versions.append({"data": base64.b64decode(body["payload"]["data"]), "state": "ENABLED",
                             "createTime": "2025-10-01T00:00:00Z", "etag": 1})
            number = len(versions)
            return self._json({"name": f"{prefix}/{secret_id}/versions/{number}", "createTime": "2025-10-01T00:00:00Z",
                               "state": "ENABLED", "replicationStatus": {"automatic": {}}, "etag": f'"{1:016x}"'})
        if len(parts) == 6 and parts[5] == "versions":
            wanted = request.query.get("filter", "")
            listed = [{"name": f"{prefix}/{secret_id}/versions/{i + 1}", "state": v["state"], "createTime": v["createTime"]}
                      for i, v in enumerate(versions) if wanted != "state:ENABLED" or v["state"] == "ENABLED"]
            return self._json({"versions": list(reversed(listed)), "totalSize": len(listed)})
        if len(parts) == 7 and parts[5] == "versions" and not access and parts[6].isdigit() \
                and 1 <= int(parts[6]) <= len(versions):
            number = int(parts[6])
            version = versions[number - 1]
            version.setdefault("etag", 1)
            if disable:
                if f"{project_id}/{secret_id}" in self.read_only:
                    return self._json(error(403, "PERMISSION_DENIED", f"Permission 'secretmanager.versions.disable' "
                                                                      f"denied for resource '{prefix}/{secret_id}/"
                                                                      f"versions/{number}' (or it may not exist)."), 403)
                sent = (await request.json()).get("etag")
                if sent and sent != f'"{version["etag"]:016x}"':
                    return self._json(error(400, "FAILED_PRECONDITION", "The etag provided in the request does not "
                                                                        "match the current etag."), 400)
                version["state"], version["etag"] = "DISABLED", version["etag"] + 1
            return self._json({"name": f"{prefix}/{secret_id}/versions/{number}", "state": version["state"],
                               "createTime": version["createTime"], "etag": f'"{version["etag"]:016x}"'})
        if len(parts) == 7 and access:
            number = len(versions) if parts[6] == "latest" else int(parts[6])
            if not 1 <= number <= len(versions):
                return self._json(error(404, "NOT_FOUND", "Secret Version not found."), 404)
            version = versions[number - 1]
            if version["state"] != "ENABLED":
                return self._json(error(400, "FAILED_PRECONDITION",
                                        f"Secret Version [{prefix}/{secret_id}/versions/{number}] is in DISABLED state."),
                                  400)
            return self._json({"name": f"{prefix}/{secret_id}/versions/{number}",
                               "payload": {"data": base64.b64encode(version["data"]).decode()}})
        return self._json(error(404, "NOT_FOUND", "Method not found."), 404)
