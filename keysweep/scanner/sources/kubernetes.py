"""Kubernetes: Secrets, ConfigMaps and the literal environment values of workloads, per context
and namespace, through the official `kubernetes` client (read-only: list and get only).

What is matched, per object (all keys of one object matched together, so an AWS key id in one
key pairs with the secret in the next):

- Secret: every `data` value base64-decoded, as `KEY=value`; a `kubernetes.io/dockerconfigjson`
  (or `dockercfg`) value is followed by each registry's `auth` decoded (`user:password`);
- Helm 3 release Secret (`helm.sh/release.v1`): the release unpacked, its values, manifests and
  notes instead of the packed form (keysweep.scanner.sources.helm), and every other key of the
  Secret as any Secret's; one whose `release` does not unpack is one warning line and read as the
  plain Secret it is (every key, the `release` value as data): a label must not hide a key;
- ConfigMap: every `data` value, and `binaryData` decoded when it is text; a Helm 3 release
  ConfigMap (`HELM_DRIVER=configmap`: label `owner: helm`, named `sh.helm.release.v1.…`, a `release`
  data value) unpacked as a release Secret is, by the same functions and within the same bounds
  (and, when it does not unpack, read as the plain ConfigMap it is, as above);
- Helm 2 release (Tiller's ConfigMap, or Secret with `--storage=secret`: label `OWNER: TILLER`, a
  `release` value): unpacked the same way from its protobuf (helm.decode_tiller_release) (and,
  when it does not unpack, read as the plain object it is, as above);
- Deployment, StatefulSet, DaemonSet, CronJob, Job (a Job a CronJob owns is read through the CronJob):
  every literal `env[].value` of the pod template's containers and init containers, as `NAME=value`
  (a `valueFrom` reference holds no value).

Locator `{"source": "kubernetes", "context", "namespace", "kind", "name", "key"}` (plus `resource`,
the place as shown: `k8s <context> <namespace>/<kind>/<name> <key>`, and `access.kubeconfig` when
the scan was given one); a workload's key is `<container>/<NAME>`. The same pure functions turn an
object into its entries for the scan and for a re-read (keysweep.scanner.sources.readers).

Incremental: an object whose `uid@resourceVersion` was read with the same rules is not matched
again (the apiserver bumps resourceVersion on every change). Lists are asked in pages
(`limit`/`continue`). A namespace or kind the credentials may not list (403) is one error line; the
rest is still read.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import threading
import time
from typing import Any, AsyncIterator, Iterable

from keysweep.errors import KeysweepError
from keysweep.models import ACCESS
from keysweep.scanner.sources import helm, looks_binary, utf8
from keysweep.scanner.sources.remote import (
    Entry,
    PerTargetSource,
    RemoteError,
    SourceRun,
    Unit,
    ValueGroup,
    error_line,
    iso,
    optional_module,
)

SOURCE = "kubernetes"
PAGE = 100
TIMEOUT = (10, 60)
RETRIES = 3
RETRY_STATUS = {429, 500, 502, 503, 504}

# kind -> (API class, list method, read method)
KINDS: dict[str, tuple[str, str, str]] = {
    "Secret": ("CoreV1Api", "list_namespaced_secret", "read_namespaced_secret"),
    "ConfigMap": ("CoreV1Api", "list_namespaced_config_map", "read_namespaced_config_map"),
    "Deployment": ("AppsV1Api", "list_namespaced_deployment", "read_namespaced_deployment"),
    "StatefulSet": ("AppsV1Api", "list_namespaced_stateful_set", "read_namespaced_stateful_set"),
    "DaemonSet": ("AppsV1Api", "list_namespaced_daemon_set", "read_namespaced_daemon_set"),
    "CronJob": ("BatchV1Api", "list_namespaced_cron_job", "read_namespaced_cron_job"),
    "Job": ("BatchV1Api", "list_namespaced_job", "read_namespaced_job"),
}
PLURALS = {"Secret": "secrets", "ConfigMap": "configmaps", "Deployment": "deployments", "StatefulSet": "statefulsets",
           "DaemonSet": "daemonsets", "CronJob": "cronjobs", "Job": "jobs"}
DOCKER_TYPES = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}

# Labels and annotations kept as owner hints (by the name after any `prefix/`, case-insensitive).
HINT_NAMES = frozenset({
    "owner", "owner_email", "owner-email", "ownedby", "owned-by", "contact", "maintainer", "created-by",
    "team", "squad", "department", "cost-center", "costcenter",
    "purpose", "business-purpose", "description", "application", "app", "service",
    "managed-by", "part-of", "name", "instance", "release-name", "chart",
})


# -- pure: objects to entries ---------------------------------------------------------------------
def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.strip() + "=" * (-len(value.strip()) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None


def _text(raw: bytes | None) -> str | None:
    if raw is None or looks_binary(raw):
        return None
    return raw.decode("utf-8", "replace")


def docker_auths(text: str) -> list[str]:
    """`<registry> auth=<user:password>` for each registry of a docker config whose `auth` decodes
    (the JSON itself is matched too: `password` is there in clear)."""
    try:
        config = json.loads(text)
    except ValueError:
        return []
    auths = config.get("auths", config) if isinstance(config, dict) else None
    lines = []
    for registry, entry in sorted(auths.items()) if isinstance(auths, dict) else ():
        decoded = _text(_b64(entry.get("auth"))) if isinstance(entry, dict) else None
        if decoded:
            lines.append(f"{registry} auth={decoded}")
    return lines


def helm_release(kind: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The release JSON of a Helm 3 release Secret or ConfigMap (or a Helm 2 release, in that
    shape), None for any other object; `helm.ReleaseError` when it does not unpack (malformed, or
    inflating past the limit): the caller then reads the object as the plain Secret or ConfigMap it
    is (plain_entries without a release: every key, `release` included)

    Helm's Secret driver stores its base64 text as the Secret's `release` value, which the API
    base64s once more; its ConfigMap driver stores the same text as the ConfigMap's `release` value
    as it is (helm.sh/helm/v3 pkg/storage/driver, cfgmaps.go and secrets.go; Tiller's drivers alike)."""
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    if not claims_release(kind, obj):
        return None
    helm3 = (kind == "Secret" and obj.get("type") == helm.RELEASE_TYPE) \
        or (kind == "ConfigMap" and helm.is_release_configmap(obj))
    if kind == "Secret":
        raw = _b64(data.get(helm.RELEASE_KEY))
    else:
        value = data.get(helm.RELEASE_KEY)
        raw = value.encode("ascii", "replace") if isinstance(value, str) else None  # base64 is ASCII
    if raw is None:
        raise helm.ReleaseError("no release data")
    return helm.decode_release(raw) if helm3 else helm.decode_tiller_release(raw)


def secret_entries(obj: dict[str, Any], release: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(key, text) of each readable value of a Secret (binary values are skipped); the packed form
    of a Helm release (`release`, unpacked by the caller: its entries are helm.release_entries) is not."""
    docker_key = DOCKER_TYPES.get(str(obj.get("type") or ""))
    entries = []
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    for key in sorted(data):
        if release is not None and key == helm.RELEASE_KEY:
            continue
        value = _text(_b64(data[key]))
        if value is None:
            continue
        if key == docker_key:
            value = "\n".join([value, *docker_auths(value)])
        entries.append((str(key), f"{key}={value}"))
    return entries


def configmap_entries(obj: dict[str, Any], release: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(key, text) of each `data` value and text `binaryData` value of a ConfigMap; the packed form of
    a Helm release (`release`, unpacked by the caller) is not."""
    entries = []
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    for key in sorted(data):
        if release is not None and key == helm.RELEASE_KEY:
            continue
        if isinstance(data[key], str):
            entries.append((str(key), f"{key}={data[key]}"))
    binary = obj.get("binaryData") if isinstance(obj.get("binaryData"), dict) else {}
    for key in sorted(binary):
        value = _text(_b64(binary[key]))
        if value is not None and key not in data:
            entries.append((str(key), f"{key}={value}"))
    return entries


def pod_spec(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    pod = template.get("spec")
    return pod if isinstance(pod, dict) else {}


def workload_entries(kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(`<container>/<NAME>`, `NAME=value`) of each literal env value of the pod template."""
    pod = pod_spec(kind, obj)
    entries = []
    for field in ("initContainers", "containers"):
        for container in pod.get(field) or []:
            if not isinstance(container, dict):
                continue
            for variable in container.get("env") or []:
                if isinstance(variable, dict) and isinstance(variable.get("value"), str) and variable.get("name"):
                    name = str(variable["name"])
                    entries.append((f"{container.get('name')}/{name}", f"{name}={variable['value']}"))
    return entries


def plain_entries(kind: str, obj: dict[str, Any], release: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """The object's own entries, a Helm release's packed form left out (its entries are
    helm.release_entries)."""
    if kind == "Secret":
        return secret_entries(obj, release)
    if kind == "ConfigMap":
        return configmap_entries(obj, release)
    return workload_entries(kind, obj)


def claims_release(kind: str, obj: dict[str, Any]) -> bool:
    """Labelled, named and typed as a Helm 3 or Helm 2 release (whether or not it unpacks)."""
    return (kind == "Secret" and obj.get("type") == helm.RELEASE_TYPE) \
        or (kind == "ConfigMap" and helm.is_release_configmap(obj)) \
        or (kind in ("Secret", "ConfigMap") and helm.is_tiller_release(obj))


def release_or_plain(kind: str, obj: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the release, None), or (None, why) for an object that claims to be a Helm release but does
    not unpack: it is then read as the plain object it is, so a label never hides its keys."""
    try:
        return helm_release(kind, obj), None
    except helm.ReleaseError as exc:
        return None, str(exc)


def object_entries(kind: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    release, _ = release_or_plain(kind, obj)
    return plain_entries(kind, obj, release) + (helm.release_entries(release) if release is not None else [])


def owned_by_cronjob(obj: dict[str, Any]) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(o, dict) and o.get("kind") == "CronJob" for o in owners)


def owner_hints(meta: dict[str, Any], extra: Iterable[str] = ()) -> dict[str, str]:
    """Labels and annotations that say who owns or runs the object (never an annotation holding
    a whole object, such as kubectl's last-applied-configuration: it carries the values). `extra`:
    more names, from the owners file's [tags] (a prefixed name as written, a bare one also as the
    last part of a prefixed one)."""
    extra = frozenset(extra)
    hints: dict[str, str] = {}
    for field in ("labels", "annotations"):
        for name, value in (meta.get(field) or {}).items():
            short = str(name).rsplit("/", 1)[-1].lower()
            wanted = short in HINT_NAMES or short in extra or str(name).lower() in extra
            if wanted and isinstance(value, str) and value and len(value) <= 200:
                hints[str(name)] = value
    return hints


def describe(context: str, namespace: str, kind: str, name: str, key: str) -> str:
    return f"k8s {context} {namespace}/{kind}/{name} {key}"


def describe_release(context: str, namespace: str, release: str, revision: str, key: str) -> str:
    return f"k8s {context} {namespace} helm release {release} v{revision} {key}"


def last_change(meta: dict[str, Any]) -> str | None:
    """When the object was last written: the latest managedFields time, else its creation."""
    times = [iso(field.get("time")) for field in meta.get("managedFields") or [] if isinstance(field, dict)]
    times = [t for t in times if t]
    return max(times) if times else iso(meta.get("creationTimestamp"))


def api_error(exc: BaseException) -> str:
    """One line from an ApiException: the status and the apiserver's message, never a header."""
    status = getattr(exc, "status", None)
    if status is not None and hasattr(exc, "body"):
        message = ""
        try:
            body = json.loads(exc.body) if exc.body else {}
            message = body.get("message") or "" if isinstance(body, dict) else ""
        except (ValueError, TypeError):
            pass
        reason = getattr(exc, "reason", None) or ""
        text = " ".join(str(message or reason).split())
        return f"{status} {text}"[:300].strip()
    return error_line(exc)


# -- the client -------------------------------------------------------------------------------------
def kubeconfig_path(explicit: str | None) -> str:
    """What the scan reads: --kubeconfig, else $KUBECONFIG (a list of files, merged), else ~/.kube/config."""
    return explicit or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def import_kubernetes():
    return optional_module("kubernetes", "Kubernetes needs the kubernetes package", "kubernetes")


_lock = threading.Lock()
_clients: dict[tuple[Any, ...], Any] = {}


def _stamp(config_file: str) -> tuple[Any, ...]:
    """The kubeconfig files' sizes and times: a client is made again when one of them changed."""
    stamp = []
    for path in config_file.split(os.pathsep):
        try:
            info = os.stat(os.path.expanduser(path))
            stamp.append((path, info.st_size, info.st_mtime_ns))
        except OSError:
            stamp.append((path, None, None))
    return tuple(stamp)


def api_client(config_file: str, context: str):
    """One ApiClient per (kubeconfig, context), never writing the kubeconfig back."""
    kubernetes = import_kubernetes()
    with _lock:
        key = (config_file, context, _stamp(config_file))
        if key not in _clients:
            _clients[key] = kubernetes.config.new_client_from_config(config_file=config_file, context=context,
                                                                     persist_config=False)
        return _clients[key]


def call_json(api: Any, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One API call, its JSON as dicts (no model objects); 429 and 5xx are tried again."""
    for attempt in range(RETRIES + 1):
        try:
            response = getattr(api, method)(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status in RETRY_STATUS and attempt < RETRIES:
                headers = getattr(exc, "headers", None) or {}
                try:
                    wait = float(headers.get("Retry-After", "") or 0)
                except (TypeError, ValueError):
                    wait = 0.0
                time.sleep(min(max(wait, 0.2 * 2 ** attempt), 10.0))
                continue
            raise
        try:
            body = json.loads(response.data)
        except ValueError:
            raise RemoteError(f"{method}: not JSON") from None
        if not isinstance(body, dict):
            raise RemoteError(f"{method}: unexpected answer")
        return body
    raise RemoteError(f"{method}: no answer")  # not reached


def list_all(api: Any, method: str, *args: Any) -> Iterable[dict[str, Any]]:
    token = None
    while True:
        kwargs: dict[str, Any] = {"limit": PAGE}
        if token:
            kwargs["_continue"] = token
        body = call_json(api, method, *args, **kwargs)
        for item in body.get("items") or []:
            if isinstance(item, dict):
                yield item
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return


class KubernetesSource(PerTargetSource):
    label, source, fields = "kubernetes", SOURCE, ("context", "namespace")

    def __init__(self, *, kubeconfig: str | None = None, contexts: Iterable[str] = (),
                 namespaces: Iterable[str] = (), kinds: Iterable[str] = tuple(KINDS),
                 hint_names: Iterable[str] = ()) -> None:
        self.kubeconfig = kubeconfig or None
        # Owner-hint names from the owners file's [tags], kept besides the built-in ones.
        self.hint_names = [str(n).lower() for n in hint_names if n]
        self.contexts = [c for c in contexts if c]
        self.namespaces = [n for n in namespaces if n]
        self.kinds = [k for k in KINDS if k in set(kinds)]

    def _access(self) -> dict[str, Any]:
        """How a re-read reaches the same cluster: the kubeconfig *path* the scan was given (never a
        credential); empty when it came from $KUBECONFIG or the default place."""
        return {ACCESS: {"kubeconfig": self.kubeconfig}} if self.kubeconfig else {}

    def check(self) -> None:
        """Read the kubeconfig and check the contexts asked for (a usage error, exit 2, when not)."""
        self._contexts()

    def _contexts(self) -> tuple[list[str], dict[str, str]]:
        """The contexts to read, and each one's default namespace."""
        kubernetes = import_kubernetes()
        path = kubeconfig_path(self.kubeconfig)
        try:
            contexts, active = kubernetes.config.list_kube_config_contexts(config_file=path)
        except Exception as exc:  # ConfigException: no file, malformed YAML, no contexts, no current context
            raise KeysweepError(f"kubeconfig {path}: {' '.join(str(exc).split())[:300]}") from None
        defaults = {c["name"]: (c.get("context") or {}).get("namespace") or "default"
                    for c in contexts or [] if isinstance(c, dict) and c.get("name")}
        wanted = self.contexts or ([active["name"]] if active and active.get("name") else [])
        unknown = [c for c in wanted if c not in defaults]
        if unknown:
            raise KeysweepError(f"no context {unknown[0]!r} in the kubeconfig (known: {', '.join(sorted(defaults))})")
        return wanted, defaults

    def _namespaces(self, run: SourceRun, context: str, default: str) -> list[str]:
        if self.namespaces:
            return self.namespaces
        core = import_kubernetes().client.CoreV1Api(api_client(kubeconfig_path(self.kubeconfig), context))
        try:
            return [str(n["metadata"]["name"]) for n in list_all(core, "list_namespace")
                    if isinstance(n.get("metadata"), dict) and n["metadata"].get("name")]
        except Exception as exc:
            run.error(f"k8s {context}: cannot list namespaces ({api_error(exc)}): reading namespace {default} only "
                      f"(name others with --namespace)")
            return [default]

    async def targets(self, run: SourceRun) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        contexts, defaults = await asyncio.to_thread(self._contexts)
        for context in contexts:
            try:
                namespaces = await asyncio.to_thread(self._namespaces, run, context, defaults[context])
            except Exception as exc:
                run.error(f"k8s {context}: {api_error(exc)}")
                continue
            for namespace in namespaces:
                yield f"k8s {context} {namespace}", {"context": context, "namespace": namespace}

    def knows(self, *, context: Any, namespace: Any) -> bool:
        """A namespace of a context this source may read (a worker reads it with its own kubeconfig at
        the same path, or its $KUBECONFIG)."""
        return isinstance(context, str) and isinstance(namespace, str) \
            and (not self.contexts or context in self.contexts) and (not self.namespaces or namespace in self.namespaces)

    def scope(self, *, context: str, namespace: str) -> str:
        return f"k8s:{context}:{namespace}"

    def read(self, run: SourceRun, scope: str, already: set[str], *, context: str,
             namespace: str) -> Unit | None:
        """The namespace's unit; None when not one of its listings could be read (each failure is an
        error line): a namespace nothing was read of is not counted as scanned."""
        kubernetes = import_kubernetes()
        client = api_client(kubeconfig_path(self.kubeconfig), context)
        unit = Unit(source=SOURCE, scope=scope)
        listed = False
        for kind in self.kinds:
            api_class, list_method, _ = KINDS[kind]
            api = getattr(kubernetes.client, api_class)(client)
            try:
                for obj in list_all(api, list_method, namespace):
                    self._object(run, unit, context, namespace, kind, obj, already)
                listed = True
            except Exception as exc:
                run.error(f"k8s {context} {namespace} {PLURALS[kind]}: {api_error(exc)}")
        return unit if listed else None

    def _object(self, run: SourceRun, unit: Unit, context: str, namespace: str, kind: str, obj: dict[str, Any],
                already: set[str]) -> None:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        name = str(meta.get("name") or "")
        if not name or (kind == "Job" and owned_by_cronjob(obj)):
            return
        version = meta.get("resourceVersion")
        object_id = f"{kind}/{meta.get('uid') or name}@{version}" if version else None
        if object_id and object_id in already:
            return
        release, broken = release_or_plain(kind, obj)
        if broken is not None:
            # Read as the plain object it is (every key, the packed `release` as data), and not
            # marked as read: reported again on every scan until it changes.
            run.error(f"k8s {context} {namespace}/{kind}/{name}: not unpacked as a Helm release ({broken}); "
                      f"read as a plain {kind}")
            object_id = None
        entries = plain_entries(kind, obj, release)
        unpacked = helm.release_entries(release) if release is not None else []
        if not entries and not unpacked:
            if object_id:
                unit.scanned_objects.append(object_id)
            return
        changed = last_change(meta)
        hinted = meta
        if release is not None or broken is not None:  # Helm's own storage labels (`owner: helm`) name no owner
            labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
            hinted = {**meta, "labels": {k: v for k, v in labels.items() if k not in helm.STORAGE_LABELS}}
        metadata = {k: v for k, v in {
            "type": obj.get("type") if kind == "Secret" else None, "resource_version": version,
            "uid": meta.get("uid"), "created_at": iso(meta.get("creationTimestamp")), "last_changed_at": changed,
            "tags": owner_hints(hinted, self.hint_names) or None,
            **(helm.facts(release) if release is not None else {}),
        }.items() if v is not None}
        # A Secret is where keys belong; a ConfigMap or a literal env value is a leak from when it was written.
        at = None if kind == "Secret" else changed
        group = [Entry(text, self._locator(context, namespace, kind, name, key, None, meta), metadata, at)
                 for key, text in entries]
        group += [Entry(text, self._locator(context, namespace, kind, name, key, release, meta), metadata, at)
                  for key, text in unpacked]
        unit.groups.append(ValueGroup(SOURCE, group, object_id))

    def _locator(self, context: str, namespace: str, kind: str, name: str, key: str,
                 release: dict[str, Any] | None, meta: dict[str, Any]) -> dict[str, Any]:
        locator = {"source": SOURCE, "context": context, "namespace": namespace, "kind": kind, "name": name,
                   "key": key, "resource": describe(context, namespace, kind, name, key)}
        if release is not None:
            labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
            revision_name, revision = helm.identity(release, labels)
            locator.update({"helm_release": revision_name, "helm_revision": revision,
                            "resource": describe_release(context, namespace, revision_name, revision, key)})
        return {**locator, **self._access()}


def read_object(locator: dict[str, Any]) -> bytes | None:
    """The text the scan matched for the locator's key, read from the object as it is now."""
    kind, name, namespace, key = (locator.get(k) for k in ("kind", "name", "namespace", "key"))
    context = locator.get("context")
    if kind not in KINDS or not name or not namespace or not key or not context:
        return None
    access = locator.get(ACCESS) if isinstance(locator.get(ACCESS), dict) else {}
    kubernetes = import_kubernetes()
    api_class, _, read_method = KINDS[str(kind)]
    api = getattr(kubernetes.client, api_class)(api_client(kubeconfig_path(access.get("kubeconfig")), str(context)))
    obj = call_json(api, read_method, str(name), str(namespace))
    for entry_key, text in object_entries(str(kind), obj):
        if entry_key == key:
            return utf8(text)
    return None
