"""A Kubernetes apiserver on 127.0.0.1 speaking the documented REST API the scan uses: core/v1
(namespaces, secrets, configmaps), apps/v1 (deployments, statefulsets, daemonsets) and batch/v1
(jobs, cronjobs) lists with `limit`/`continue` and `metadata.resourceVersion`, and gets of one
object. Bearer-token authentication (401 Status otherwise); a namespace, a resource in a
namespace, or the namespace list can be forbidden (403 Status, as the apiserver's RBAC answers).
Every write bumps the global resourceVersion, as etcd's revision does.

Writes as a rotation makes them: `PUT /api/v1/namespaces/{ns}/secrets/{name}` replaces a Secret
when the body's `metadata.resourceVersion` is the stored one (else 409 Conflict, "the object has
been modified"), or unconditionally when the body has none, as the apiserver does; `no_update`
namespaces answer 403 (a Role with get/list only), and
`POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews` answers `status.allowed` for them.

Helm 3 releases as Helm's Secret storage driver writes them (helm.sh/helm/v3 pkg/storage/driver:
`encodeRelease` is base64 of gzip of `json.Marshal(release)`, stored as the Secret's `release` data
key, which the API base64s once more; type `helm.sh/release.v1`, name
`sh.helm.release.v1.<name>.v<revision>`, labels `name`, `owner: helm`, `status`, `version`); or, as
its ConfigMap driver writes them (`HELM_DRIVER=configmap`, cfgmaps.go `newConfigMapsObject`), a
ConfigMap of the same name and labels whose `release` value is that base64 text as it is.

Helm 2 releases as Tiller's storage drivers wrote them (helm/helm release-2.16 pkg/storage/driver
cfgmaps.go and secrets.go, `_proto/hapi`): a ConfigMap (or Secret) named `<name>.v<revision>`,
labels `NAME`, `OWNER: TILLER`, `STATUS`, `VERSION`, whose `release` value is base64 of gzip of the
`hapi.release.Release` protobuf."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from tests.fakes.serving import ThreadedApp

GROUPS = {"secrets": "/api/v1", "configmaps": "/api/v1", "deployments": "/apis/apps/v1",
          "statefulsets": "/apis/apps/v1", "daemonsets": "/apis/apps/v1", "jobs": "/apis/batch/v1",
          "cronjobs": "/apis/batch/v1"}
KINDS = {"secrets": "Secret", "configmaps": "ConfigMap", "deployments": "Deployment", "statefulsets": "StatefulSet",
         "daemonsets": "DaemonSet", "jobs": "Job", "cronjobs": "CronJob"}


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def proto_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def proto_field(number: int, value: int | str | bytes) -> bytes:
    """One protobuf field: a varint for an int, length-delimited for text and bytes (a message)."""
    if isinstance(value, int):
        return proto_varint(number << 3) + proto_varint(value)
    data = value.encode() if isinstance(value, str) else value
    return proto_varint(number << 3 | 2) + proto_varint(len(data)) + data


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


class FakeKubernetes(ThreadedApp):
    def __init__(self, token: str = "k8s-test-token", user: str = "system:serviceaccount:ops:keysweep") -> None:
        super().__init__()
        self.token = token
        self.user = user
        self.revision = 100
        self.namespaces: list[str] = []
        self.objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (namespace, plural) -> name -> obj
        self.forbidden: set[tuple[str, str]] = set()  # (namespace, plural); plural "*" for all
        self.forbid_namespace_list = False
        self.no_update: set[str] = set()  # namespaces whose secrets the credentials may read, not update

    # -- scripting --------------------------------------------------------------------------
    def add_namespace(self, name: str) -> None:
        if name not in self.namespaces:
            self.namespaces.append(name)

    def put(self, plural: str, namespace: str, name: str, body: dict[str, Any], labels: dict | None = None,
            annotations: dict | None = None) -> dict[str, Any]:
        self.add_namespace(namespace)
        self.revision += 1
        existing = self.objects.setdefault((namespace, plural), {}).get(name)
        meta = {"name": name, "namespace": namespace, "uid": existing["metadata"]["uid"] if existing else
                f"uid-{namespace}-{plural}-{len(self.objects[(namespace, plural)])}",
                "resourceVersion": str(self.revision), "creationTimestamp": "2025-03-01T10:00:00Z",
                "managedFields": [{"manager": "kubectl", "operation": "Update", "time": "2025-06-01T12:00:00Z"}]}
        if labels:
            meta["labels"] = labels
        if annotations:
            meta["annotations"] = annotations
        group = GROUPS[plural]
        obj = {"kind": KINDS[plural], "apiVersion": group.rsplit("/", 2)[-2] + "/v1" if "apis" in group else "v1",
               "metadata": meta, **body}
        self.objects[(namespace, plural)][name] = obj
        return obj

    def secret(self, namespace: str, name: str, data: dict[str, str | bytes], type_: str = "Opaque", **meta):
        return self.put("secrets", namespace, name, {"type": type_, "data": {k: b64(v) for k, v in data.items()}}, **meta)

    def configmap(self, namespace: str, name: str, data: dict[str, str], **meta):
        return self.put("configmaps", namespace, name, {"data": data}, **meta)

    def workload(self, plural: str, namespace: str, name: str, containers: list[dict], init: list[dict] = (), **meta):
        pod = {"containers": containers, **({"initContainers": list(init)} if init else {})}
        template = {"metadata": {"labels": {"app": name}}, "spec": pod}
        spec = {"jobTemplate": {"spec": {"template": template}}, "schedule": "0 * * * *"} if plural == "cronjobs" \
            else {"template": template}
        return self.put(plural, namespace, name, {"spec": spec}, **meta)

    def helm_release(self, namespace: str, name: str, revision: int, *, values: dict | None = None,
                     chart_values: dict | None = None, manifest: str = "", notes: str = "",
                     hooks: list[dict] = (), packed: bytes | None = None, driver: str = "secret",
                     **meta) -> dict[str, Any]:
        """One revision of a release in Helm's release.v1 format, stored by Helm's `secret` or
        `configmap` driver; `packed` replaces the text Helm writes as the `release` value (a
        malformed or oversized release)."""
        release = {
            "name": name, "namespace": namespace, "version": revision,
            "info": {"first_deployed": "2025-05-01T09:00:00Z", "last_deployed": "2025-06-01T12:00:00Z",
                     "deleted": "", "description": "Upgrade complete", "status": "deployed", "notes": notes},
            "chart": {"metadata": {"name": "webapp", "version": "1.4.2", "appVersion": "2.0", "apiVersion": "v2"},
                      "lock": None, "templates": [{"name": "templates/secret.yaml", "data": b64("kind: Secret\n")}],
                      "values": chart_values or {}, "schema": None, "files": []},
            "config": values or {}, "manifest": manifest,
            "hooks": [{"name": h["name"], "kind": "Job", "path": h["path"], "manifest": h["manifest"],
                       "events": ["pre-install"], "last_run": {}} for h in hooks],
        }
        if packed is None:
            packed = b64(gzip.compress(json.dumps(release).encode())).encode()
        labels = {"name": name, "owner": "helm", "status": "deployed", "version": str(revision),
                  **(meta.pop("labels", None) or {})}
        key = f"sh.helm.release.v1.{name}.v{revision}"
        if driver == "configmap":
            return self.put("configmaps", namespace, key, {"data": {"release": packed.decode("latin-1")}},
                            labels=labels, **meta)
        return self.put("secrets", namespace, key, {"type": "helm.sh/release.v1", "data": {"release": b64(packed)}},
                        labels=labels, **meta)

    def tiller_release(self, namespace: str, name: str, revision: int, *, values: str = "", chart_values: str = "",
                       manifest: str = "", notes: str = "", hooks: list[dict] = (), files: dict[str, str] | None = None,
                       packed: bytes | None = None, driver: str = "configmap") -> dict[str, Any]:
        """One revision of a Helm 2 release (values as the YAML text Tiller kept in `Config.raw`);
        `packed` replaces the text Tiller writes as the `release` value."""
        def message(*fields: tuple[int, Any]) -> bytes:
            return b"".join(proto_field(number, value) for number, value in fields if value not in (None, "", b""))

        status = message((1, 1), (4, notes))  # Status{code: DEPLOYED, notes}
        info = message((1, status), (5, "Upgrade complete"))
        metadata = message((1, "webapp"), (4, "1.4.2"), (10, "v1"), (13, "2.0"))
        chart = b"".join([message((1, metadata)), proto_field(2, message((1, "templates/secret.yaml"),
                                                                       (2, b"kind: Secret\n"))),
                          message((4, message((1, chart_values))))]
                         + [proto_field(5, message((1, n), (2, d.encode()))) for n, d in (files or {}).items()])
        release = b"".join([message((1, name), (2, info), (3, chart), (4, message((1, values))), (5, manifest))]
                           + [proto_field(6, message((1, h["name"]), (2, "Job"), (3, h["path"]), (4, h["manifest"])))
                              for h in hooks]
                           + [message((7, revision), (8, namespace))])
        if packed is None:
            packed = b64(gzip.compress(release)).encode()
        labels = {"NAME": name, "OWNER": "TILLER", "STATUS": "DEPLOYED", "VERSION": str(revision)}
        if driver == "secret":
            return self.put("secrets", namespace, f"{name}.v{revision}", {"type": "Opaque", "data": {"release": b64(packed)}},
                            labels=labels)
        return self.put("configmaps", namespace, f"{name}.v{revision}", {"data": {"release": packed.decode("latin-1")}},
                        labels=labels)

    def forbid(self, namespace: str, plural: str = "*") -> None:
        self.forbidden.add((namespace, plural))

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    # -- serving ----------------------------------------------------------------------------
    def _json(self, body: dict[str, Any], code: int = 200):
        from aiohttp import web

        return web.Response(status=code, body=json.dumps(body).encode(), content_type="application/json")

    def call_kind(self, request) -> str | None:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) != 6 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "secrets":
            return None
        return {"GET": "read", "PUT": "write"}.get(request.method)

    async def handle(self, request):
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(status(401, "Unauthorized", "Unauthorized"), 401)
        if request.method == "POST" and request.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            review = await request.json()
            attributes = (review.get("spec") or {}).get("resourceAttributes") or {}
            allowed = attributes.get("verb") in ("get", "list") or attributes.get("namespace") not in self.no_update
            return self._json({**review, "status": {"allowed": allowed, **({} if allowed else {"reason": ""})}}, 201)
        parts = [p for p in request.path.split("/") if p]
        if request.method == "PUT" and len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] \
                and parts[4] == "secrets":
            return await self._replace(request, parts[3], parts[5])
        if request.method != "GET":
            return self._json(status(405, "MethodNotAllowed", "the fake apiserver is read-only"), 405)
        if request.path == "/api/v1/namespaces":
            if self.forbid_namespace_list:
                return self._forbidden("namespaces", "", cluster=True)
            items = [{"metadata": {"name": n, "resourceVersion": "1", "uid": f"ns-{n}"}} for n in self.namespaces]
            return self._list("NamespaceList", items, request)
        # /api/v1/namespaces/{ns}/{plural}[/{name}] or /apis/{group}/v1/namespaces/{ns}/{plural}[/{name}]
        try:
            at = parts.index("namespaces")
            namespace, plural = parts[at + 1], parts[at + 2]
            name = parts[at + 3] if len(parts) > at + 3 else None
        except (ValueError, IndexError):
            return self._json(status(404, "NotFound", "the server could not find the requested resource"), 404)
        prefix = "/" + "/".join(parts[:at])
        if GROUPS.get(plural) != prefix:
            return self._json(status(404, "NotFound", "the server could not find the requested resource"), 404)
        if (namespace, plural) in self.forbidden or (namespace, "*") in self.forbidden:
            return self._forbidden(plural, namespace, verb="get" if name else "list")
        objects = self.objects.get((namespace, plural), {})
        if name is not None:
            if name not in objects:
                return self._json(status(404, "NotFound", f'{plural} "{name}" not found',
                                         {"name": name, "kind": plural}), 404)
            return self._json(objects[name])
        return self._list(KINDS[plural] + "List", list(objects.values()), request)

    async def _replace(self, request, namespace: str, name: str):
        if namespace in self.no_update or (namespace, "secrets") in self.forbidden:
            return self._forbidden("secrets", namespace, verb="update")
        stored = self.objects.get((namespace, "secrets"), {}).get(name)
        if stored is None:
            return self._json(status(404, "NotFound", f'secrets "{name}" not found', {"name": name, "kind": "secrets"}), 404)
        body = await request.json()
        # Without a resourceVersion the apiserver replaces unconditionally; with one, only that version.
        sent = (body.get("metadata") or {}).get("resourceVersion")
        if sent is not None and sent != stored["metadata"]["resourceVersion"]:
            return self._json(status(409, "Conflict", f'Operation cannot be fulfilled on secrets "{name}": the object has '
                                                      f'been modified; please apply your changes to the latest version '
                                                      f'and try again', {"name": name, "kind": "secrets"}), 409)
        self.revision += 1
        replaced = {**body, "metadata": {**stored["metadata"], "resourceVersion": str(self.revision)}}
        self.objects[(namespace, "secrets")][name] = replaced
        return self._json(replaced)

    def _forbidden(self, plural: str, namespace: str, verb: str = "list", cluster: bool = False):
        where = "at the cluster scope" if cluster else f'in the namespace "{namespace}"'
        group = GROUPS.get(plural, "/api/v1")
        api_group = group.split("/")[2] if group.startswith("/apis/") else ""
        return self._json(status(403, "Forbidden", f'{plural} is forbidden: User "{self.user}" cannot {verb} resource '
                                                   f'"{plural}" in API group "{api_group}" {where}',
                                 {"kind": plural}), 403)

    def _list(self, kind: str, items: list[dict], request):
        start = int(request.query.get("continue") or 0)
        limit = int(request.query.get("limit") or 0) or len(items) or 1
        page = items[start:start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(self.revision)}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
            meta["remainingItemCount"] = len(items) - start - limit
        return self._json({"kind": kind, "apiVersion": "v1", "metadata": meta, "items": page})


def kubeconfig(path, server: str, token: str, contexts: dict[str, str | None] | None = None,
               current: str = "test") -> str:
    """A kubeconfig with one cluster and user and the given contexts ({name: default namespace})."""
    contexts = contexts or {"test": None}
    lines = ["apiVersion: v1", "kind: Config", f"current-context: {json.dumps(current)}",
             "clusters:", "- name: fake", "  cluster:", f"    server: {json.dumps(server)}",
             "users:", "- name: reader", "  user:", f"    token: {json.dumps(token)}", "contexts:"]
    for name, namespace in contexts.items():
        lines += [f"- name: {json.dumps(name)}", "  context:", "    cluster: fake", "    user: reader"]
        if namespace:
            lines.append(f"    namespace: {json.dumps(namespace)}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)
