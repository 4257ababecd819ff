"""Rotation target: an Azure Key Vault secret (an `azure-keyvault` occurrence, its vault an https
origin). Set Secret has no check-and-set (no etag, no expected version; each set makes a version
with an opaque id), so the current version is read again just before the set, the answer must be
Key Vault's SecretBundle of a new version holding the value sent, and afterwards the versions are
listed: any other version made since the one read (someone's set in that instant) is now hidden or
hides the new key, and the job is left to a person. The Azure client is imported only when one is
made (scanner.sources.azure)."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

from keysweep.errors import KeysweepError
from keysweep.revokers.rotation.base import (
    Calls,
    RotationError,
    Target,
    TargetStore,
    WrittenOverAChange,
    changed,
    not_believed,
)
from keysweep.scanner.sources import azure as azure_source


def target_from_locator(locator: dict[str, Any]) -> Target | None:
    """The Key Vault secret an `azure-keyvault` occurrence was read from (its vault an https origin)."""
    vault, name = locator.get("vault"), locator.get("secret")
    if not vault or not name:
        return None
    try:
        vault = azure_source.checked_vault_url(str(vault), "locator")
    except KeysweepError:
        return None
    return {"service": "azure-keyvault", "id": f"{azure_source.vault_label(vault)}/{name}", "vault": vault,
            "secret": str(name)}


def target_from(occurrence) -> Target | None:
    return target_from_locator(occurrence.locator or {}) if occurrence.source == "azure-keyvault" else None


def is_target(occurrence, target: Target) -> bool:
    return target_from_locator(occurrence.locator or {}) == target


def describe(target: Target) -> str:
    return f"azure-kv {target['id']}"


def _azure_client(settings, target: Target):
    env = settings.env if settings is not None else os.environ
    return azure_source.secret_client(target["vault"], env)


def _azure_version(bundle: Any, target: Target) -> str | None:
    """The version of a SecretBundle of this secret (`id` `{vault}/secrets/{name}/{version}`), else None."""
    ident = str(getattr(bundle, "id", None) or "")
    prefix = f"{target['vault']}/secrets/{quote(target['secret'], safe='')}/"
    version = ident[len(prefix):] if ident.startswith(prefix) else ""
    return version if re.fullmatch(r"[0-9A-Za-z]+", version) else None


def _azure_current(settings, target: Target) -> tuple[Any, str]:
    try:
        bundle = _azure_client(settings, target).get_secret(target["secret"])
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {azure_source.azure_error(exc)}") from None
    version = _azure_version(bundle, target)
    if version is None or not isinstance(getattr(bundle, "value", None), str):
        raise RotationError(f"{describe(target)}: Key Vault's answer is not the SecretBundle with its version "
                            f"(id …/secrets/{target['secret']}/<version>): nothing to hold the write to")
    return bundle, version


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    bundle, version = _azure_current(settings, target)
    properties = bundle.properties
    return bundle.value, {"version": version, "created": properties.created_on,
                          "content_type": properties.content_type, "tags": dict(properties.tags or {})}


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> None:
    from azure.core.exceptions import HttpResponseError

    read = meta["version"]
    current = _azure_current(settings, target)[1]  # the value is not kept
    if current != read:
        raise changed(describe(target), f"its current version is {current}, not {read}")
    client = _azure_client(settings, target)
    try:  # the new version keeps the content type and tags of the one it replaces
        answer = client.set_secret(target["secret"], value, content_type=meta.get("content_type"),
                                   tags=meta.get("tags") or None)
    except HttpResponseError as exc:
        if (exc.status_code or 0) >= 400:
            raise RotationError(f"{describe(target)}: {azure_source.azure_error(exc)}") from None
        raise not_believed(describe(target), "the new version's SecretBundle") from None  # a 2xx that is not its JSON
    except Exception:  # the request went out and its answer was lost: not known either way
        raise not_believed(describe(target), "the new version's SecretBundle") from None
    made = _azure_version(answer, target)
    if made is None or made == read or getattr(answer, "value", None) != value:
        raise not_believed(describe(target), "the new version's SecretBundle (its id and the value set)")
    try:
        versions = list(client.list_properties_of_secret_versions(target["secret"]))
    except Exception as exc:
        raise WrittenOverAChange(f"{describe(target)}: the new key went into version {made}, but the versions "
                                 f"could not be listed to see that none was added meanwhile (Key Vault has no "
                                 f"check-and-set; {azure_source.azure_error(exc)}); check them, then deactivate "
                                 f"the old key") from None
    created = meta.get("created")
    others = sorted(str(p.version) for p in versions if p.version not in (read, made)
                    and (created is None or (p.created_on is not None and p.created_on >= created)))
    if others:
        raise WrittenOverAChange(f"{describe(target)}: the new key went into version {made}, but version(s) "
                                 f"{', '.join(others)} were set since version {read} was read (Key Vault has no "
                                 f"check-and-set); check them, then deactivate the old key")


STORE = TargetStore(
    titles=("Azure Key Vault",), sources=("azure-keyvault",),
    calls={"azure-keyvault": Calls("keyvault:GetSecret", "keyvault:SetSecret")},
    target_from=target_from, is_target=is_target, describe=describe, read=read, write=write,
)
