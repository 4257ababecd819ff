"""Rotation target: a HashiCorp Vault KV v1/v2 secret (a `vault` occurrence). The current version is
read and the new one written with check-and-set on it (KV v2), so a concurrent write is never
overwritten; the token's capabilities on the path are checked before any key is created. hvac is
imported only when a client is made (scanner.sources.vault)."""

from __future__ import annotations

import json
import os
from typing import Any

from keysweep.revokers.rotation.base import Calls, RotationError, Target, TargetStore, access_of, changed, not_believed
from keysweep.scanner.sources.vault import VaultAuth, vault_client, vault_error


def target_from(occurrence) -> Target | None:
    locator = occurrence.locator or {}
    if occurrence.source == "vault" and locator.get("addr") and locator.get("mount") and locator.get("path"):
        mount, path = str(locator["mount"]).strip("/"), str(locator["path"])
        return {"service": "vault", "id": f"{mount}/{path}", "addr": str(locator["addr"]), "mount": mount,
                "path": path, "kv_version": 2 if locator.get("kv_version") == 2 else 1, "access": access_of(locator)}
    return None


def is_target(occurrence, target: Target) -> bool:
    locator = occurrence.locator or {}
    return (str(locator.get("addr")), f"{str(locator.get('mount') or '').strip('/')}/{locator.get('path')}") == \
        (target.get("addr"), target["id"])


def describe(target: Target) -> str:
    return f"vault secret {target['id']}"


def _vault_client(settings, target: Target):
    access = target.get("access") or {}
    env = settings.env if settings is not None else os.environ
    return vault_client(target["addr"], VaultAuth.from_access(access), env, access.get("namespace"))


def _vault_kv(settings, target: Target):
    return _vault_client(settings, target).secrets.kv


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    """The secret's current data as JSON text (rewritten like a JSON secret) and its version."""
    try:
        kv = _vault_kv(settings, target)
        if target["kv_version"] == 2:
            answer = kv.v2.read_secret_version(path=target["path"], mount_point=target["mount"],
                                               raise_on_deleted_version=True)
        else:
            answer = kv.v1.read_secret(path=target["path"], mount_point=target["mount"])
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {vault_error(exc)}") from None
    # hvac hands back a 200 that is not JSON (a proxy's page) as the raw response, not a dict.
    body = answer.get("data") if isinstance(answer, dict) else None
    body = body if isinstance(body, dict) else {}
    data, version = (body.get("data"), (body.get("metadata") or {}).get("version")) if target["kv_version"] == 2 \
        else (body, None)
    if not isinstance(data, dict):
        raise RotationError(f"{describe(target)} holds no key/value data")
    if target["kv_version"] == 2 and (not isinstance(version, int) or isinstance(version, bool)):
        # Check-and-set holds the write to the version read: without it the write could overwrite
        # one made meanwhile.
        raise RotationError(f"{describe(target)}: Vault's answer has no version (metadata.version) to check-and-set on")
    return json.dumps(data), {"version": version, "values": data}


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> None:
    try:
        kv = _vault_kv(settings, target)
        if target["kv_version"] == 2:
            # Check-and-set on the version read: a write made meanwhile by someone else is not overwritten.
            answer = kv.v2.create_or_update_secret(path=target["path"], secret=json.loads(value),
                                                   cas=meta.get("version"), mount_point=target["mount"])
        else:
            answer = kv.v1.create_or_update_secret(path=target["path"], secret=json.loads(value), method="PUT",
                                                   mount_point=target["mount"])
    except Exception as exc:
        if "check-and-set" in str(exc):
            raise changed(describe(target), "check-and-set refused the write") from None
        raise RotationError(f"{describe(target)}: {vault_error(exc)}") from None
    # Vault's documented answers: KV v2, the version made (the one read, plus one); KV v1, 204 No Content.
    if target["kv_version"] == 2:
        made = ((answer.get("data") if isinstance(answer, dict) else None) or {}).get("version")
        if made != meta.get("version") + 1 or isinstance(made, bool):
            raise not_believed(describe(target), f"the new version ({meta.get('version') + 1})")
    elif getattr(answer, "status_code", None) != 204:
        raise not_believed(describe(target), "Vault's 204 No Content")


def check_writable(settings, target: Target) -> None:
    """Before any key is created: a Vault token that may not update the secret (sys/capabilities-self)
    stops the rotation here, not after a new key exists."""
    path = f"{target['mount']}/data/{target['path']}" if target["kv_version"] == 2 else target["id"]
    try:
        answer = _vault_client(settings, target).sys.get_capabilities(paths=[path]) or {}
    except Exception as exc:
        raise RotationError(f"{describe(target)}: cannot check the token's capabilities ({vault_error(exc)})") from None
    granted = answer.get(path) or (answer.get("data") or {}).get(path) or answer.get("capabilities") or []
    if not ({"update", "root"} & set(granted)):
        raise RotationError(f"{describe(target)}: the Vault token may not update it (capabilities: "
                            f"{', '.join(granted) or 'none'}); grant update on {path}, then rerun")


STORE = TargetStore(
    titles=("Vault",), sources=("vault",), calls={"vault": Calls("vault:read", "vault:write")},
    target_from=target_from, is_target=is_target, describe=describe, read=read, write=write,
    check_writable=check_writable,
)
