"""Rotation target: a GCP Secret Manager secret, global or regional (a `gcp-secretmanager`
occurrence). addVersion has no check-and-set (no etag, no expected version), so the write is held
to the version read by reading `latest` again just before it, and proven after it by the number
Google answers: version ids start at 1 and go up by one per version added, so the version made must
be the one read plus one; anything else means a version was added meanwhile. testIamPermissions on
the secret is asked before any key is created. With `[providers.aws] disable_replaced_version`, the
version replaced is disabled once the new key, read back, is proven to work. The Google client is
imported only when one is made (scanner.sources.gcp)."""

from __future__ import annotations

import os
import re
from typing import Any

from keysweep.fingerprint import secret_sha256
from keysweep.providers.aws import _caller_identity, aws_answered, endpoint_url
from keysweep.revokers.rotation.base import (
    TOKEN,
    Calls,
    RotationError,
    Target,
    TargetStore,
    WrittenOverAChange,
    access_of,
    changed,
    not_believed,
)
from keysweep.scanner.sources import gcp as gcp_source


def target_from_locator(locator: dict[str, Any]) -> Target | None:
    """The Secret Manager secret (global, or regional with its location) a `gcp-secretmanager`
    occurrence was read from, with the endpoint the scan named."""
    project, secret, location = locator.get("project"), locator.get("secret"), locator.get("location") or None
    if not project or not secret or (location is not None and not gcp_source.LOCATION.fullmatch(str(location))):
        return None
    access = access_of(locator)
    where = f"{project}/{location}/{secret}" if location else f"{project}/{secret}"
    return {"service": "gcp-secretmanager", "id": where, "project": str(project), "location": location,
            "secret": str(secret), "endpoint_url": access.get("endpoint_url") or None}


def target_from(occurrence) -> Target | None:
    return target_from_locator(occurrence.locator or {}) if occurrence.source == "gcp-secretmanager" else None


def is_target(occurrence, target: Target) -> bool:
    return target_from_locator(occurrence.locator or {}) == target


def describe(target: Target) -> str:
    return f"gcp-secret {target['id']}"


def _gcp_client(settings, target: Target):
    env = settings.env if settings is not None else os.environ
    return gcp_source.secret_client(gcp_source.endpoint_for(target.get("location"), target.get("endpoint_url"), env), env)


def _gcp_secret_name(target: Target) -> str:
    return f"{gcp_source.parent_of(target['project'], target.get('location'))}/secrets/{target['secret']}"


def _gcp_number(name: Any, target: Target) -> int | None:
    """N of a version name `projects/P[/locations/L]/secrets/S/versions/N` of this secret (Google
    names the project by number), else None."""
    where = f"/locations/{re.escape(target['location'])}" if target.get("location") else ""
    found = re.fullmatch(rf"projects/[^/]+{where}/secrets/{re.escape(target['secret'])}/versions/([1-9][0-9]*)",
                         str(name or ""))
    return int(found.group(1)) if found else None


def _gcp_latest(settings, target: Target) -> tuple[bytes, int]:
    """The payload of the secret's latest version and that version's number, as Google names it."""
    try:
        answer = _gcp_client(settings, target).access_secret_version(
            request={"name": f"{_gcp_secret_name(target)}/versions/latest"}, timeout=gcp_source.TIMEOUT)
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {gcp_source.gcp_error(exc)}") from None
    number = _gcp_number(getattr(answer, "name", None), target)
    if number is None:
        raise RotationError(f"{describe(target)}: Secret Manager's answer does not name the version read "
                            f"(its versions/N): nothing to hold the write to")
    return bytes(answer.payload.data or b""), number


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    data, number = _gcp_latest(settings, target)
    try:
        return data.decode("utf-8"), {"version": number}
    except UnicodeDecodeError:
        raise RotationError(f"{describe(target)} is binary: cannot rewrite it") from None


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> int:
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import GoogleAuthError

    read = meta["version"]
    latest = _gcp_latest(settings, target)[1]  # the payload is not kept
    if latest != read:
        raise changed(describe(target), f"latest is version {latest}, not {read}")
    try:
        answer = _gcp_client(settings, target).add_secret_version(
            request={"parent": _gcp_secret_name(target), "payload": {"data": value.encode("utf-8")}}, timeout=gcp_source.TIMEOUT)
    except GoogleAPICallError as exc:
        raise RotationError(f"{describe(target)}: {gcp_source.gcp_error(exc)}") from None
    except GoogleAuthError as exc:  # google-auth refreshes the token on a 401, and that failed
        raise RotationError(f"{describe(target)}: 401 Unauthorized, and the credentials could not be refreshed "
                            f"({type(exc).__name__})") from None
    except Exception:  # a 200 that is not Google's JSON (a proxy's page, a cut answer)
        raise not_believed(describe(target), "the new SecretVersion") from None
    made = _gcp_number(getattr(answer, "name", None), target)
    state = getattr(getattr(answer, "state", None), "name", None)
    if made is None or made <= read or state != "ENABLED":
        raise not_believed(describe(target), "the new SecretVersion (its name and state ENABLED)")
    if made != read + 1:
        raise WrittenOverAChange(
            f"{describe(target)}: the new key went into version {made}, but version {read} was read: "
            f"{'version ' + str(read + 1) if made == read + 2 else f'versions {read + 1}-{made - 1}'} "
            f"added meanwhile (Secret Manager has no check-and-set) is now hidden by it; check them, then "
            f"deactivate the old key")
    return made


def retire_replaced(settings, target: Target, user: str, new_id: str, new_sha256: str | None,
                    replaced: Any, made: Any) -> tuple[str, bool]:
    """Disable the Secret Manager version the new one replaced (`[providers.aws]
    disable_replaced_version`), once the new key, read back from the version written, is proven to
    work: STS's own answer for the IAM user, signed with that pair. With the version's etag, so a
    version changed since is not disabled. Returns (outcome, disabled); every doubt leaves it enabled."""
    from google.api_core.exceptions import GoogleAPICallError

    if not isinstance(replaced, int) or not isinstance(made, int) or not new_sha256:
        return "the replaced version left enabled: nothing recorded to prove the new key with", False
    left = f"version {replaced} left enabled"
    client = _gcp_client(settings, target)
    try:
        answer = client.access_secret_version(request={"name": f"{_gcp_secret_name(target)}/versions/{made}"},
                                              timeout=gcp_source.TIMEOUT)
        text = bytes(answer.payload.data or b"").decode("utf-8") \
            if _gcp_number(getattr(answer, "name", None), target) == made else ""
    except Exception as exc:
        return f"{left}: version {made} could not be read back ({gcp_source.gcp_error(exc)})", False
    secret = next((m.group() for m in TOKEN.finditer(text) if secret_sha256(m.group()) == new_sha256), None)
    if secret is None or new_id not in text:
        return f"{left}: version {made} as read back does not hold the new key {new_id}", False
    try:
        identity = _caller_identity(new_id, secret, endpoint_url(settings))
    except Exception as exc:  # a refusal, or a page botocore could not parse: not proven either way
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code") or type(exc).__name__
        return f"{left}: the new key {new_id} was not proven to work (STS: {code})", False
    finally:
        del secret
    arn = str(identity.get("Arn") or "") if isinstance(identity, dict) else ""
    if not aws_answered(identity, "Arn", "UserId") or not arn.endswith(f"/{user}"):
        return f"{left}: STS's answer for the new key {new_id} was not its own for IAM user {user}", False
    name = f"{_gcp_secret_name(target)}/versions/{replaced}"
    try:
        version = client.get_secret_version(request={"name": name}, timeout=gcp_source.TIMEOUT)
        if _gcp_number(getattr(version, "name", None), target) != replaced or not version.etag:
            return f"{left}: Secret Manager's answer for it has no etag to hold the disable to", False
        if version.state.name == "DISABLED":
            return f"version {replaced} already disabled", True
        answer = client.disable_secret_version(request={"name": name, "etag": version.etag},
                                               timeout=gcp_source.TIMEOUT)
    except GoogleAPICallError as exc:
        return f"{left}: {gcp_source.gcp_error(exc)}", False
    except Exception:  # a 200 that is not Google's JSON; a 401 google-auth could not refresh past
        return f"{left}: the disable's answer was not Secret Manager's SecretVersion; not believed (check it)", False
    if _gcp_number(getattr(answer, "name", None), target) != replaced or \
            getattr(getattr(answer, "state", None), "name", None) != "DISABLED":
        return f"{left}: the disable was answered without the version DISABLED; not believed (check it)", False
    return f"version {replaced} disabled (the new key in version {made} proven to work: STS answered for {user})", True


# What a rotation into Secret Manager needs on the secret (asked with testIamPermissions first).
_GCP_NEEDED = ("secretmanager.versions.add",)


def check_writable(settings, target: Target) -> None:
    """testIamPermissions on the secret: Google answers the subset of the permissions asked that the
    caller holds. Without `secretmanager.versions.add` in that answer nothing is created."""
    try:
        answer = _gcp_client(settings, target).test_iam_permissions(
            request={"resource": _gcp_secret_name(target), "permissions": list(_GCP_NEEDED)},
            timeout=gcp_source.TIMEOUT)
        granted = set(answer.permissions)
    except Exception as exc:
        raise RotationError(f"{describe(target)}: cannot check the credentials' permissions "
                            f"({gcp_source.gcp_error(exc)})") from None
    missing = [name for name in _GCP_NEEDED if name not in granted]
    if missing:
        raise RotationError(f"{describe(target)}: the credentials lack {', '.join(missing)} on it (testIamPermissions); "
                            f"grant it (roles/secretmanager.secretVersionAdder), then rerun")


STORE = TargetStore(
    titles=("GCP Secret Manager",), sources=("gcp-secretmanager",),
    calls={"gcp-secretmanager": Calls("secretmanager.versions.access", "secretmanager.versions.add")},
    target_from=target_from, is_target=is_target, describe=describe, read=read, write=write,
    check_writable=check_writable, retire_replaced=retire_replaced,
    retire_calls=(("POST", "sts:GetCallerIdentity", "prove the new key works, signed with the pair read back "
                                                    "from the version written"),
                  ("POST", "secretmanager.versions.disable", "then disable the version it replaced (with its etag)")),
)
