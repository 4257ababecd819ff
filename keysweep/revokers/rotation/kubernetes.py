"""Rotation target: a Kubernetes Secret (a `kubernetes` occurrence of kind Secret). Replaced with the
resourceVersion read, so a change made meanwhile makes the apiserver answer 409 Conflict instead of
being overwritten; a SelfSubjectAccessReview checks the credentials may update it before any key is
created. The kubernetes client is imported only when a call is made (scanner.sources.kubernetes)."""

from __future__ import annotations

import base64
import json
from typing import Any

from keysweep.revokers.rotation.base import Calls, RotationError, Target, TargetStore, access_of, changed, not_believed
from keysweep.scanner.sources.kubernetes import api_client, call_json, import_kubernetes, kubeconfig_path
from keysweep.scanner.sources.kubernetes import api_error as k8s_error
from keysweep.scanner.sources.remote import RemoteError


def target_from(occurrence) -> Target | None:
    locator = occurrence.locator or {}
    if occurrence.source == "kubernetes" and locator.get("kind") == "Secret" and locator.get("name") \
            and locator.get("namespace") and locator.get("context"):
        return {"service": "kubernetes", "id": f"{locator['context']}/{locator['namespace']}/{locator['name']}",
                "context": str(locator["context"]), "namespace": str(locator["namespace"]),
                "name": str(locator["name"]), "access": access_of(locator)}
    return None


def is_target(occurrence, target: Target) -> bool:
    locator = occurrence.locator or {}
    return locator.get("kind") == "Secret" and \
        f"{locator.get('context')}/{locator.get('namespace')}/{locator.get('name')}" == target["id"]


def describe(target: Target) -> str:
    return f"k8s {target['context']} {target['namespace']}/Secret/{target['name']}"


def _kubernetes_api(target: Target, api_class: str):
    kubernetes = import_kubernetes()
    access = target.get("access") or {}
    return getattr(kubernetes.client, api_class)(api_client(kubeconfig_path(access.get("kubeconfig")), target["context"]))


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    """The Secret's text values (decoded) and the object as read (its resourceVersion included)."""
    try:
        obj = call_json(_kubernetes_api(target, "CoreV1Api"), "read_namespaced_secret", target["name"],
                        target["namespace"])
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {k8s_error(exc)}") from None
    if not _is_secret(obj, target):
        # The replace is held to the resourceVersion read: without it, it would be unconditional.
        raise RotationError(f"{describe(target)}: the apiserver's answer is not the Secret with its "
                            f"metadata.resourceVersion")
    data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
    values: dict[str, Any] = {}
    for key, encoded in data.items():
        try:
            raw = base64.b64decode(str(encoded), validate=True)
            values[key] = raw.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue  # binary: left as it is
    return json.dumps(values), {"values": values, "object": obj}


def _is_secret(obj: Any, target: Target) -> bool:
    """The apiserver's Secret object, as it documents it: this Secret, with its resourceVersion."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return isinstance(metadata, dict) and obj.get("kind") == "Secret" and metadata.get("name") == target["name"] \
        and isinstance(metadata.get("resourceVersion"), str) and bool(metadata["resourceVersion"])


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> None:
    """Replace the Secret with the rewritten values, with the resourceVersion read: a change made
    meanwhile makes the apiserver answer 409 Conflict instead of being overwritten."""
    obj = dict(meta["object"])
    data = dict(obj.get("data") or {})
    for key, text in json.loads(value).items():
        data[key] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    obj["data"] = data
    obj.pop("stringData", None)
    try:
        answer = call_json(_kubernetes_api(target, "CoreV1Api"), "replace_namespaced_secret", target["name"],
                           target["namespace"], obj)
    except Exception as exc:
        if getattr(exc, "status", None) == 409:
            raise changed(describe(target), "409 Conflict") from None
        if isinstance(exc, RemoteError):  # a 200 that is not the apiserver's JSON object
            raise not_believed(describe(target), "the replaced Secret") from None
        raise RotationError(f"{describe(target)}: {k8s_error(exc)}") from None
    # The apiserver answers the Secret as stored: a new resourceVersion in it.
    if not _is_secret(answer, target) or answer["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]:
        raise not_believed(describe(target), "the replaced Secret's new resourceVersion")


def check_writable(settings, target: Target) -> None:
    """SelfSubjectAccessReview: the credentials may update this Secret, else nothing is created."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": target["namespace"], "verb": "update",
                                              "resource": "secrets", "name": target["name"]}}}
    try:
        answer = call_json(_kubernetes_api(target, "AuthorizationV1Api"), "create_self_subject_access_review",
                           review)
    except Exception as exc:
        raise RotationError(f"{describe(target)}: cannot check the credentials' access ({k8s_error(exc)})") from None
    if (answer.get("status") or {}).get("allowed") is not True:
        raise RotationError(f"{describe(target)}: the Kubernetes credentials may not update it; grant update on "
                            f"secrets in namespace {target['namespace']}, then rerun")


STORE = TargetStore(
    titles=("a Kubernetes Secret",), sources=("kubernetes",),
    calls={"kubernetes": Calls("k8s:get secrets", "k8s:update secrets")},
    target_from=target_from, is_target=is_target, describe=describe, read=read, write=write,
    check_writable=check_writable,
)
