"""AWS access-key rotation (`keysweep revoke --rotate`, or `revoker = "aws-rotate"` in a policy rule).

For the IAM user that owns the leaked key: `CreateAccessKey`, write the new pair into the Secrets
Manager secret or SSM parameter that held the old one (the finding's `aws-secretsmanager` /
`aws-ssm` occurrence, or the policy rule's `rotate_to`), else the HashiCorp Vault KV secret that
held it (a `vault` occurrence: the current version read, the new one written with check-and-set
on it, so a concurrent write is never overwritten), else the Kubernetes Secret that held it (a
`kubernetes` occurrence of kind Secret: replaced with the resourceVersion read, so likewise), else
the GCP Secret Manager secret that held it (a `gcp-secretmanager` occurrence, global or regional:
a new version added after reading `latest` again, the version made proven to follow the one read),
else the Azure Key Vault secret that held it (an `azure-keyvault` occurrence: Set Secret after
reading the current version again, the versions listed afterwards to see none was set meanwhile),
else the GitLab project CI/CD variable that held it (a `gitlab-ci` occurrence of a project: PUT after
reading it again, read back after),
`UpdateAccessKey` the old key to Inactive (and `DeleteAccessKey` it when `[providers.aws]
delete_after_days = 0`), then confirm as the `aws` revoker does (verification says dead, or IAM
lists the old key Inactive).

The stored value is rewritten in place: the old key id becomes the new one and the old secret
access key (the 40-character token whose SHA-256 is the finding's, else the only such token) the
new secret, so JSON, INI and dotenv shapes keep their layout. The new secret goes from IAM's answer
straight into the `PutSecretValue` / `PutParameter` call: it is never printed, logged or stored by
keysweep; calls, audit rows and events name only the new key id.

Resumable: the new key id is recorded in the job (committed) before the value is written. A
resumed run that finds a recorded id reads the target: if it holds the new id the write happened
and only the deactivation is left; if not, the new key's secret was lost with the killed process
(never written anywhere), so that orphan key is deleted before a replacement is created — the user
never ends up with a second new key. IAM allows two keys per user: a user who already has another
key besides the leaked one is reported (`LimitExceeded`), with the key to clean up, before any
key is created.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import uuid
from typing import Any
from urllib.parse import quote

from keysweep.errors import KeysweepError
from keysweep.fingerprint import secret_sha256
from keysweep.http import HttpClient
from keysweep.locations import describe_occurrence
from keysweep.providers import provider
from keysweep.providers.aws import PROVIDER as AWS
from keysweep.providers.aws import _caller_identity, aws_answered, endpoint_url
from keysweep.revokers._common import make_plan
from keysweep.revokers.aws import AwsAccessKeyRevoker, NotAwsAnswer, _client, _error, believed
from keysweep.revokers.base import RevokeResult
from keysweep.scanner.sources import azure as azure_source
from keysweep.scanner.sources import gcp as gcp_source
from keysweep.scanner.sources.kubernetes import api_client, call_json, import_kubernetes, kubeconfig_path
from keysweep.scanner.sources.kubernetes import api_error as k8s_error
from keysweep.scanner.sources.remote import RemoteError
from keysweep.scanner.sources.vault import VaultAuth, vault_client, vault_error

# The audit action of this revoker's job notes (the new key id, the rotation's progress).
ROTATE_ACTION = "revoke.rotate"
_TOKEN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_HEX = re.compile(r"[0-9a-f]{40}")
# A stand-in pair, used to check before creating anything that the stored value can be rewritten.
_PROBE_ID = "AKIA" + "Z" * 16
_PROBE_SECRET = "Z" * 40


# Places a CI job reads the key from: there, a role assumed through OpenID Connect federation needs
# no stored key at all (the AWS provider's `replacement`).
# (Occurrences of variables the scan read are `github-actions-variable` / `gitlab-ci-variable`.)
_CI_VARIABLES = {"github-actions": "a GitHub Actions variable", "github-actions-variable": "a GitHub Actions variable",
                 "gitlab-ci": "a GitLab CI/CD variable", "gitlab-ci-variable": "a GitLab CI/CD variable"}
_GITLAB_VARIABLES = ("gitlab-ci-variable", "gitlab-ci")
_CI_FILES = ((re.compile(r"(?:^|/)\.github/workflows/[^/]+\.ya?ml$"), "the GitHub Actions workflow"),
             (re.compile(r"(?:^|/)\.gitlab-ci\.ya?ml$"), "the GitLab CI file"))


def ci_place(finding) -> str | None:
    """The first place the key was found that a CI job reads (a CI variable, an Actions workflow or
    a .gitlab-ci.yml), described for people; None when there is none."""
    for occurrence in finding.occurrences:
        if occurrence.source in _CI_VARIABLES:
            return f"{_CI_VARIABLES[occurrence.source]} ({describe_occurrence(occurrence)})"
        for pattern, what in _CI_FILES:
            if occurrence.path and pattern.search(occurrence.path):
                return f"{what} {describe_occurrence(occurrence)}"
    return None


def role_instead(finding) -> str | None:
    """The plan's note when the source could assume a role instead of holding a new standing key."""
    place = ci_place(finding)
    if place is None:
        return None
    return (f"found in {place}: that job could assume an IAM role through OpenID Connect federation instead of "
            f"holding a new standing key ({AWS.replacement.docs_url})")


# Secret stores a running service reads the key from: the rotation writes the new key into one of
# them (its target); every other one keeps the old key, deactivated, until someone updates it.
_STORES = ("aws-secretsmanager", "aws-ssm", "aws-lambda-env", "kubernetes", "vault", "gcp-secretmanager",
           "azure-keyvault", *_CI_VARIABLES)


def is_target(occurrence, target: dict[str, Any] | None) -> bool:
    locator = occurrence.locator or {}
    if not target:
        return False
    if target["service"] == "secretsmanager" and occurrence.source == "aws-secretsmanager":
        return target["id"] in (locator.get("arn"), (occurrence.metadata or {}).get("name"))
    if target["service"] == "kubernetes" and occurrence.source == "kubernetes":
        return locator.get("kind") == "Secret" and \
            f"{locator.get('context')}/{locator.get('namespace')}/{locator.get('name')}" == target["id"]
    if target["service"] == "gcp-secretmanager" and occurrence.source == "gcp-secretmanager":
        return _gcp_target(locator) == target
    if target["service"] == "azure-keyvault" and occurrence.source == "azure-keyvault":
        return _azure_target(locator) == target
    if target["service"] == "gitlab-ci" and occurrence.source in _GITLAB_VARIABLES:
        return _gitlab_target(locator) == target
    if target["service"] == "vault" and occurrence.source == "vault":
        return (str(locator.get("addr")), f"{str(locator.get('mount') or '').strip('/')}/{locator.get('path')}") == \
            (target.get("addr"), target["id"])
    return target["service"] == "ssm" and occurrence.source == "aws-ssm" and locator.get("name") == target["id"]


def places_to_update(finding, target: dict[str, Any] | None) -> list[str]:
    """The plan's notes: each other secret store holding the old key (a Kubernetes Secret, a Vault
    path, GCP Secret Manager, Azure Key Vault, another AWS secret or parameter, a Lambda
    environment), which the rotation does not write: whoever reads the key there must be moved to
    the new one."""
    places: dict[str, None] = {}
    for occurrence in finding.occurrences:
        if occurrence.source in _STORES and not is_target(occurrence, target):
            places[describe_occurrence(occurrence)] = None
    return [f"also holds {finding.key_id or 'the key'}, not written by the rotation: {place} (update it to the new "
            f"key; it keeps the deactivated one)" for place in places]


class RotationError(Exception):
    """A rotation step that cannot go on; the message carries no value."""


class WriteConflict(RotationError):
    """The target changed between keysweep's read and its write (Vault's check-and-set refused):
    retried, and the retry reads the new version."""


class WrittenOverAChange(RotationError):
    """The new key was written, but over a version someone added between keysweep's read and its
    write (a store without check-and-set, seen afterwards): left to a person, the old key active."""


class UnprovenWrite(RotationError):
    """The write was answered, but not in the store's documented success shape (a proxy's page, a
    gateway's stub): not believed. Retried; the retry reads the target to see whether it holds the
    new key, and the old key stays active until it does."""


def _changed(target: dict[str, Any], seen: str | None = None) -> WriteConflict:
    """The target changed between keysweep's read and its write; `seen`: how the store showed it."""
    return WriteConflict(f"{describe(target)} changed since it was read" + (f" ({seen})" if seen else ""))


def _not_believed(target: dict[str, Any], missing: str) -> UnprovenWrite:
    return UnprovenWrite(f"{describe(target)} answered the write without {missing}; not believed (the old key stays "
                         f"active; the next attempt reads it to see whether the new key is there)")


def target_from_occurrences(finding) -> dict[str, Any] | None:
    """The Secrets Manager secret or SSM parameter the finding was read from, else the Vault KV
    secret, if any."""
    for occurrence in finding.occurrences:
        locator = occurrence.locator or {}
        if occurrence.source == "aws-secretsmanager" and locator.get("arn"):
            return {"service": "secretsmanager", "id": locator["arn"], "region": locator.get("region")}
        if occurrence.source == "aws-ssm" and locator.get("name"):
            return {"service": "ssm", "id": locator["name"], "region": locator.get("region")}
    for occurrence in finding.occurrences:
        locator = occurrence.locator or {}
        if occurrence.source == "vault" and locator.get("addr") and locator.get("mount") and locator.get("path"):
            mount, path = str(locator["mount"]).strip("/"), str(locator["path"])
            access = locator.get("access") if isinstance(locator.get("access"), dict) else {}
            return {"service": "vault", "id": f"{mount}/{path}", "addr": str(locator["addr"]), "mount": mount,
                    "path": path, "kv_version": 2 if locator.get("kv_version") == 2 else 1, "access": access}
    for occurrence in finding.occurrences:
        locator = occurrence.locator or {}
        if occurrence.source == "kubernetes" and locator.get("kind") == "Secret" and locator.get("name") \
                and locator.get("namespace") and locator.get("context"):
            access = locator.get("access") if isinstance(locator.get("access"), dict) else {}
            return {"service": "kubernetes", "id": f"{locator['context']}/{locator['namespace']}/{locator['name']}",
                    "context": str(locator["context"]), "namespace": str(locator["namespace"]),
                    "name": str(locator["name"]), "access": access}
    for occurrence in finding.occurrences:
        if occurrence.source == "gcp-secretmanager":
            target = _gcp_target(occurrence.locator or {})
            if target:
                return target
    for occurrence in finding.occurrences:
        if occurrence.source == "azure-keyvault":
            target = _azure_target(occurrence.locator or {})
            if target:
                return target
    for occurrence in finding.occurrences:
        if occurrence.source in _GITLAB_VARIABLES:
            target = _gitlab_target(occurrence.locator or {})
            if target:
                return target
    return None


def _gitlab_target(locator: dict[str, Any]) -> dict[str, Any] | None:
    """The project-level GitLab CI/CD variable a `gitlab-ci` occurrence was read from (its key and
    environment scope), with the scan's API URL and token variable. Group and instance variables
    are not written."""
    access = locator.get("access") if isinstance(locator.get("access"), dict) else {}
    if locator.get("level") != "project" or not locator.get("project_id") or not locator.get("variable") \
            or not access.get("api_url"):
        return None
    api = str(access["api_url"]).rstrip("/")
    scope = str(locator.get("environment_scope") or "*")
    return {"service": "gitlab-ci", "id": f"{locator.get('host')}/{locator.get('project')} {locator['variable']} "
                                         f"(environment {scope})",
            "api_url": api if api.endswith("/api/v4") else f"{api}/api/v4", "project_id": str(locator["project_id"]),
            "variable": str(locator["variable"]), "environment_scope": scope,
            "token_env": str(access.get("token_env") or provider("gitlab").env_name_for_admin_key())}


def _azure_target(locator: dict[str, Any]) -> dict[str, Any] | None:
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


def _gcp_target(locator: dict[str, Any]) -> dict[str, Any] | None:
    """The Secret Manager secret (global, or regional with its location) a `gcp-secretmanager`
    occurrence was read from, with the endpoint the scan named."""
    project, secret, location = locator.get("project"), locator.get("secret"), locator.get("location") or None
    if not project or not secret or (location is not None and not gcp_source.LOCATION.fullmatch(str(location))):
        return None
    access = locator.get("access") if isinstance(locator.get("access"), dict) else {}
    where = f"{project}/{location}/{secret}" if location else f"{project}/{secret}"
    return {"service": "gcp-secretmanager", "id": where, "project": str(project), "location": location,
            "secret": str(secret), "endpoint_url": access.get("endpoint_url") or None}


def parse_target(text: str) -> dict[str, Any]:
    """A policy `rotate_to`: `secretsmanager:<name or ARN>`, `ssm:<parameter name>`, or an ARN of either."""
    text = str(text).strip()
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) == 6 and parts[2] == "secretsmanager":
            return {"service": "secretsmanager", "id": text, "region": parts[3] or None}
        if len(parts) == 6 and parts[2] == "ssm" and parts[5].startswith("parameter"):
            name = parts[5][len("parameter"):]
            return {"service": "ssm", "id": name if name.startswith("/") and name.count("/") > 1 else name.lstrip("/"),
                    "region": parts[3] or None}
    service, sep, ident = text.partition(":")
    if sep and service in ("secretsmanager", "ssm") and ident:
        return {"service": service, "id": ident, "region": None}
    raise ValueError(f"rotate_to {text!r}: expected secretsmanager:<name or ARN>, ssm:<parameter name>, or an ARN")


def describe(target: dict[str, Any]) -> str:
    if target["service"] == "vault":
        return f"vault secret {target['id']}"
    if target["service"] == "kubernetes":
        return f"k8s {target['context']} {target['namespace']}/Secret/{target['name']}"
    if target["service"] == "gcp-secretmanager":
        return f"gcp-secret {target['id']}"
    if target["service"] == "azure-keyvault":
        return f"azure-kv {target['id']}"
    if target["service"] == "gitlab-ci":
        return f"gitlab CI variable {target['id']}"
    kind = "secret" if target["service"] == "secretsmanager" else "parameter"
    return f"{target['service']} {kind} {target['id']}"


def rewrite(current: str, old_id: str, new_id: str, new_secret: str, old_secret_sha256: str | None) -> str:
    """`current` with the old key id and its secret replaced by the new ones (layout kept)."""
    if old_id not in current:
        raise RotationError(f"it does not hold {old_id}")
    tokens = [m for m in _TOKEN.finditer(current) if not _HEX.fullmatch(m.group())]
    chosen = [m for m in tokens if old_secret_sha256 and secret_sha256(m.group()) == old_secret_sha256]
    if not chosen:
        if len(tokens) != 1:
            raise RotationError("cannot tell which value in it is the secret access key "
                                f"({len(tokens)} candidates)")
        chosen = tokens
    secret = chosen[0].group()
    return _TOKEN.sub(lambda m: new_secret if m.group() == secret else m.group(), current).replace(old_id, new_id)


def rewrite_values(values: dict[str, Any], old_id: str, new_id: str, new_secret: str,
                   old_secret_sha256: str | None) -> dict[str, Any]:
    """`rewrite` over the text values of a key/value secret (Vault data, a Kubernetes Secret's
    decoded data): the id and the secret may sit in two of its keys; the others are kept as they are."""
    texts = {k: v for k, v in values.items() if isinstance(v, str)}
    joined = "\n".join(texts.values())
    if old_id not in joined:
        raise RotationError(f"it does not hold {old_id}")
    tokens = [m.group() for v in texts.values() for m in _TOKEN.finditer(v) if not _HEX.fullmatch(m.group())]
    chosen = [t for t in tokens if old_secret_sha256 and secret_sha256(t) == old_secret_sha256]
    if not chosen:
        if len(set(tokens)) != 1:
            raise RotationError("cannot tell which value in it is the secret access key "
                                f"({len(set(tokens))} candidates)")
        chosen = tokens
    secret = chosen[0]
    return {k: (_TOKEN.sub(lambda m: new_secret if m.group() == secret else m.group(), v).replace(old_id, new_id)
                if isinstance(v, str) else v) for k, v in values.items()}


def _rewritten(current: str, meta: dict[str, Any], old_id: str, new_id: str, new_secret: str,
               old_secret_sha256: str | None) -> str:
    """The value to write: the stored text rewritten, or for a key/value target its values (JSON)."""
    if "values" in meta:
        return json.dumps(rewrite_values(meta["values"], old_id, new_id, new_secret, old_secret_sha256))
    return rewrite(current, old_id, new_id, new_secret, old_secret_sha256)


def _service_client(settings, service: str, region: str | None):
    import boto3

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url(settings))


def _vault_client(settings, target: dict[str, Any]):
    access = target.get("access") or {}
    env = settings.env if settings is not None else os.environ
    return vault_client(target["addr"], VaultAuth.from_access(access), env, access.get("namespace"))


def _vault_kv(settings, target: dict[str, Any]):
    return _vault_client(settings, target).secrets.kv


def _read_vault(settings, target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
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


def _write_vault(settings, target: dict[str, Any], value: str, meta: dict[str, Any]) -> None:
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
            raise _changed(target, "check-and-set refused the write") from None
        raise RotationError(f"{describe(target)}: {vault_error(exc)}") from None
    # Vault's documented answers: KV v2, the version made (the one read, plus one); KV v1, 204 No Content.
    if target["kv_version"] == 2:
        made = ((answer.get("data") if isinstance(answer, dict) else None) or {}).get("version")
        if made != meta.get("version") + 1 or isinstance(made, bool):
            raise _not_believed(target, f"the new version ({meta.get('version') + 1})")
    elif getattr(answer, "status_code", None) != 204:
        raise _not_believed(target, "Vault's 204 No Content")


# -- GCP Secret Manager: addVersion has no check-and-set (no etag, no expected version), so the
# write is held to the version read by reading `latest` again just before it, and proven after it
# by the number Google answers: version ids start at 1 and go up by one per version added, so the
# version made must be the one read plus one; anything else means a version was added meanwhile.
def _gcp_client(settings, target: dict[str, Any]):
    env = settings.env if settings is not None else os.environ
    return gcp_source.secret_client(gcp_source.endpoint_for(target.get("location"), target.get("endpoint_url"), env), env)


def _gcp_secret_name(target: dict[str, Any]) -> str:
    return f"{gcp_source.parent_of(target['project'], target.get('location'))}/secrets/{target['secret']}"


def _gcp_number(name: Any, target: dict[str, Any]) -> int | None:
    """N of a version name `projects/P[/locations/L]/secrets/S/versions/N` of this secret (Google
    names the project by number), else None."""
    where = f"/locations/{re.escape(target['location'])}" if target.get("location") else ""
    found = re.fullmatch(rf"projects/[^/]+{where}/secrets/{re.escape(target['secret'])}/versions/([1-9][0-9]*)",
                         str(name or ""))
    return int(found.group(1)) if found else None


def _gcp_latest(settings, target: dict[str, Any]) -> tuple[bytes, int]:
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


def _read_gcp(settings, target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    data, number = _gcp_latest(settings, target)
    try:
        return data.decode("utf-8"), {"version": number}
    except UnicodeDecodeError:
        raise RotationError(f"{describe(target)} is binary: cannot rewrite it") from None


def _write_gcp(settings, target: dict[str, Any], value: str, meta: dict[str, Any]) -> int:
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import GoogleAuthError

    read = meta["version"]
    latest = _gcp_latest(settings, target)[1]  # the payload is not kept
    if latest != read:
        raise _changed(target, f"latest is version {latest}, not {read}")
    try:
        answer = _gcp_client(settings, target).add_secret_version(
            request={"parent": _gcp_secret_name(target), "payload": {"data": value.encode("utf-8")}}, timeout=gcp_source.TIMEOUT)
    except GoogleAPICallError as exc:
        raise RotationError(f"{describe(target)}: {gcp_source.gcp_error(exc)}") from None
    except GoogleAuthError as exc:  # google-auth refreshes the token on a 401, and that failed
        raise RotationError(f"{describe(target)}: 401 Unauthorized, and the credentials could not be refreshed "
                            f"({type(exc).__name__})") from None
    except Exception:  # a 200 that is not Google's JSON (a proxy's page, a cut answer)
        raise _not_believed(target, "the new SecretVersion") from None
    made = _gcp_number(getattr(answer, "name", None), target)
    state = getattr(getattr(answer, "state", None), "name", None)
    if made is None or made <= read or state != "ENABLED":
        raise _not_believed(target, "the new SecretVersion (its name and state ENABLED)")
    if made != read + 1:
        raise WrittenOverAChange(
            f"{describe(target)}: the new key went into version {made}, but version {read} was read: "
            f"{'version ' + str(read + 1) if made == read + 2 else f'versions {read + 1}-{made - 1}'} "
            f"added meanwhile (Secret Manager has no check-and-set) is now hidden by it; check them, then "
            f"deactivate the old key")
    return made


def _retire_replaced(settings, target: dict[str, Any], user: str, new_id: str, new_sha256: str | None,
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
    secret = next((m.group() for m in _TOKEN.finditer(text) if secret_sha256(m.group()) == new_sha256), None)
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


def _check_gcp_writable(settings, target: dict[str, Any]) -> None:
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


# -- Azure Key Vault: Set Secret has no check-and-set either (no etag, no expected version; each set
# makes a version with an opaque id), so the current version is read again just before the set, the
# answer must be Key Vault's SecretBundle of a new version holding the value sent, and afterwards the
# versions are listed: any other version made since the one read (someone's set in that instant) is
# now hidden or hides the new key, and the job is left to a person.
def _azure_client(settings, target: dict[str, Any]):
    env = settings.env if settings is not None else os.environ
    return azure_source.secret_client(target["vault"], env)


def _azure_version(bundle: Any, target: dict[str, Any]) -> str | None:
    """The version of a SecretBundle of this secret (`id` `{vault}/secrets/{name}/{version}`), else None."""
    ident = str(getattr(bundle, "id", None) or "")
    prefix = f"{target['vault']}/secrets/{quote(target['secret'], safe='')}/"
    version = ident[len(prefix):] if ident.startswith(prefix) else ""
    return version if re.fullmatch(r"[0-9A-Za-z]+", version) else None


def _azure_current(settings, target: dict[str, Any]) -> tuple[Any, str]:
    try:
        bundle = _azure_client(settings, target).get_secret(target["secret"])
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {azure_source.azure_error(exc)}") from None
    version = _azure_version(bundle, target)
    if version is None or not isinstance(getattr(bundle, "value", None), str):
        raise RotationError(f"{describe(target)}: Key Vault's answer is not the SecretBundle with its version "
                            f"(id …/secrets/{target['secret']}/<version>): nothing to hold the write to")
    return bundle, version


def _read_azure(settings, target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    bundle, version = _azure_current(settings, target)
    properties = bundle.properties
    return bundle.value, {"version": version, "created": properties.created_on,
                          "content_type": properties.content_type, "tags": dict(properties.tags or {})}


def _write_azure(settings, target: dict[str, Any], value: str, meta: dict[str, Any]) -> None:
    from azure.core.exceptions import HttpResponseError

    read = meta["version"]
    current = _azure_current(settings, target)[1]  # the value is not kept
    if current != read:
        raise _changed(target, f"its current version is {current}, not {read}")
    client = _azure_client(settings, target)
    try:  # the new version keeps the content type and tags of the one it replaces
        answer = client.set_secret(target["secret"], value, content_type=meta.get("content_type"),
                                   tags=meta.get("tags") or None)
    except HttpResponseError as exc:
        if (exc.status_code or 0) >= 400:
            raise RotationError(f"{describe(target)}: {azure_source.azure_error(exc)}") from None
        raise _not_believed(target, "the new version's SecretBundle") from None  # a 2xx that is not its JSON
    except Exception:  # the request went out and its answer was lost: not known either way
        raise _not_believed(target, "the new version's SecretBundle") from None
    made = _azure_version(answer, target)
    if made is None or made == read or getattr(answer, "value", None) != value:
        raise _not_believed(target, "the new version's SecretBundle (its id and the value set)")
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


# -- GitLab CI/CD variables: no version, no check-and-set and no history. The variable is read again
# just before the PUT (its value must still be the one read) and after it (it must hold the value
# written); a write made by someone between that read and the PUT cannot be seen afterwards, and
# docs/revocation.md says so.
def _gitlab_call(settings, target: dict[str, Any], method: str, data: dict[str, str] | None = None):
    """(status, JSON or None) of one call on the variable, through keysweep's HTTP client (redirects
    are not followed: the token goes to GitLab's own API only). Runs in the rotation's worker
    thread, which has no event loop of its own."""
    env = settings.env if settings is not None else os.environ
    token = env.get(target["token_env"])
    if not token:
        raise RotationError(f"{describe(target)}: {target['token_env']} is not set")
    url = f"{target['api_url']}/projects/{quote(target['project_id'], safe='')}/variables/" \
          f"{quote(target['variable'], safe='')}"
    params = {"filter[environment_scope]": target["environment_scope"]}
    return asyncio.run(_gitlab_request(method, url, params, data, {"PRIVATE-TOKEN": token}))


async def _gitlab_request(method: str, url: str, params: dict[str, str], data: dict[str, str] | None,
                          headers: dict[str, str]) -> tuple[int, Any]:
    async with HttpClient(timeout=30.0) as http:
        response = await http.request(method, url, headers=headers, params=params, data=data)
    return response.status, response.json()


def _gitlab_refused(target: dict[str, Any], status: int, body: Any) -> RotationError:
    message = body.get("message") if isinstance(body, dict) else None
    text = " ".join(str(message).split())[:200] if message else "not GitLab's JSON"
    return RotationError(f"{describe(target)}: {status} {text}")


def _gitlab_variable(target: dict[str, Any], body: Any) -> str | None:
    """The value of GitLab's variable object for this key and scope, else None."""
    if not isinstance(body, dict) or body.get("key") != target["variable"] or \
            str(body.get("environment_scope") or "*") != target["environment_scope"]:
        return None
    return body["value"] if isinstance(body.get("value"), str) else None


def _read_gitlab(settings, target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    try:
        status, body = _gitlab_call(settings, target, "GET")
    except RotationError:
        raise
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {type(exc).__name__}") from None
    if status != 200:
        raise _gitlab_refused(target, status, body)
    value = _gitlab_variable(target, body)
    if value is None:
        raise RotationError(f"{describe(target)}: GitLab's answer is not the variable with its value (a hidden "
                            f"variable cannot be read, so it cannot be rewritten)")
    return value, {"sha256": secret_sha256(value)}


def _write_gitlab(settings, target: dict[str, Any], value: str, meta: dict[str, Any]) -> None:
    current, _meta = _read_gitlab(settings, target)
    if secret_sha256(current) != meta["sha256"]:
        raise _changed(target)
    del current
    try:
        status, body = _gitlab_call(settings, target, "PUT", {"value": value})
    except RotationError:
        raise
    except Exception:  # sent, and its answer lost: not known either way
        raise _not_believed(target, "GitLab's variable") from None
    if status >= 400:
        raise _gitlab_refused(target, status, body)
    if status != 200 or _gitlab_variable(target, body) != value:
        raise _not_believed(target, "GitLab's variable holding the value written")
    after, _meta = _read_gitlab(settings, target)
    if after != value:
        raise WrittenOverAChange(f"{describe(target)} was written, then changed by someone else before it was read "
                                 f"back (GitLab has no check-and-set); check it, then deactivate the old key")


def _kubernetes_api(target: dict[str, Any], api_class: str):
    kubernetes = import_kubernetes()
    access = target.get("access") or {}
    return getattr(kubernetes.client, api_class)(api_client(kubeconfig_path(access.get("kubeconfig")), target["context"]))


def _read_kubernetes(target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
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


def _is_secret(obj: Any, target: dict[str, Any]) -> bool:
    """The apiserver's Secret object, as it documents it: this Secret, with its resourceVersion."""
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return isinstance(metadata, dict) and obj.get("kind") == "Secret" and metadata.get("name") == target["name"] \
        and isinstance(metadata.get("resourceVersion"), str) and bool(metadata["resourceVersion"])


def _write_kubernetes(target: dict[str, Any], value: str, meta: dict[str, Any]) -> None:
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
            raise _changed(target, "409 Conflict") from None
        if isinstance(exc, RemoteError):  # a 200 that is not the apiserver's JSON object
            raise _not_believed(target, "the replaced Secret") from None
        raise RotationError(f"{describe(target)}: {k8s_error(exc)}") from None
    # The apiserver answers the Secret as stored: a new resourceVersion in it.
    if not _is_secret(answer, target) or answer["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]:
        raise _not_believed(target, "the replaced Secret's new resourceVersion")


def _check_writable(settings, target: dict[str, Any]) -> None:
    """Before any key is created: a Vault token that may not update the secret (sys/capabilities-self)
    stops the rotation here, not after a new key exists."""
    if target["service"] == "gcp-secretmanager":
        _check_gcp_writable(settings, target)
        return
    if target["service"] == "kubernetes":
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
        return
    if target["service"] != "vault":
        return
    path = f"{target['mount']}/data/{target['path']}" if target["kv_version"] == 2 else target["id"]
    try:
        answer = _vault_client(settings, target).sys.get_capabilities(paths=[path]) or {}
    except Exception as exc:
        raise RotationError(f"{describe(target)}: cannot check the token's capabilities ({vault_error(exc)})") from None
    granted = answer.get(path) or (answer.get("data") or {}).get(path) or answer.get("capabilities") or []
    if not ({"update", "root"} & set(granted)):
        raise RotationError(f"{describe(target)}: the Vault token may not update it (capabilities: "
                            f"{', '.join(granted) or 'none'}); grant update on {path}, then rerun")


def _read_target(settings, target: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The stored value and what writing it back needs (SSM type, the Vault version)."""
    if target["service"] == "vault":
        return _read_vault(settings, target)
    if target["service"] == "kubernetes":
        return _read_kubernetes(target)
    if target["service"] == "gcp-secretmanager":
        return _read_gcp(settings, target)
    if target["service"] == "azure-keyvault":
        return _read_azure(settings, target)
    if target["service"] == "gitlab-ci":
        return _read_gitlab(settings, target)
    client = _service_client(settings, target["service"], target.get("region"))
    if target["service"] == "secretsmanager":
        answer = believed(client.get_secret_value, "secretsmanager:GetSecretValue", ("ARN",), SecretId=target["id"])
        if answer.get("SecretString") is None:
            raise RotationError(f"{describe(target)} is binary: cannot rewrite it")
        return answer["SecretString"], {}
    parameter = believed(client.get_parameter, "ssm:GetParameter", ("Parameter",), Name=target["id"],
                         WithDecryption=True)["Parameter"]
    return parameter["Value"], {"type": parameter.get("Type") or "SecureString"}


def _write_target(settings, target: dict[str, Any], value: str, meta: dict[str, Any], new_id: str) -> Any:
    """Write the value; the version made where the store numbers them (Secret Manager), else None."""
    if target["service"] == "vault":
        _write_vault(settings, target, value, meta)
        return
    if target["service"] == "kubernetes":
        _write_kubernetes(target, value, meta)
        return
    if target["service"] == "gcp-secretmanager":
        return _write_gcp(settings, target, value, meta)
    if target["service"] == "azure-keyvault":
        _write_azure(settings, target, value, meta)
        return
    if target["service"] == "gitlab-ci":
        _write_gitlab(settings, target, value, meta)
        return
    client = _service_client(settings, target["service"], target.get("region"))
    if target["service"] == "secretsmanager":
        # The same token for the same new key: a repeated put is a no-op, not a second version.
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"keysweep-rotate:{target['id']}:{new_id}"))
        try:  # Secrets Manager answers the version it made, whose id is the request token sent
            answer = believed(client.put_secret_value, "secretsmanager:PutSecretValue", ("VersionId",),
                              SecretId=target["id"], SecretString=value, ClientRequestToken=token)
        except NotAwsAnswer:
            answer = {}
        if answer.get("VersionId") != token:
            raise _not_believed(target, "the new version's VersionId")
    else:
        try:
            answer = believed(client.put_parameter, "ssm:PutParameter", ("Version",), Name=target["id"], Value=value,
                              Type=meta.get("type", "SecureString"), Overwrite=True)
        except NotAwsAnswer:
            answer = {}
        if not isinstance(answer.get("Version"), int):
            raise _not_believed(target, "the parameter's new Version")


def _put_call(target: dict[str, Any]) -> str:
    return {"secretsmanager": "secretsmanager:PutSecretValue", "ssm": "ssm:PutParameter",
            "vault": "vault:write", "kubernetes": "k8s:update secrets",
            "gcp-secretmanager": "secretmanager.versions.add", "azure-keyvault": "keyvault:SetSecret",
            "gitlab-ci": "gitlab:PUT project variable"}[target["service"]]


def _get_call(target: dict[str, Any]) -> str:
    return {"secretsmanager": "secretsmanager:GetSecretValue", "ssm": "ssm:GetParameter",
            "vault": "vault:read", "kubernetes": "k8s:get secrets",
            "gcp-secretmanager": "secretmanager.versions.access", "azure-keyvault": "keyvault:GetSecret",
            "gitlab-ci": "gitlab:GET project variable"}[target["service"]]


def note_job(ctx, finding_id: str, revoker: str, **values: Any) -> None:
    """Record identifiers in the job's plan data (committed now) and the audit log (action
    `revoke.rotate`), through the context's `note_job` (the remediation layer's; nothing is
    recorded without one)."""
    if ctx.note_job is not None:
        ctx.note_job(finding_id, revoker, action=ROTATE_ACTION, **values)


def remember_managed(ctx, finding_id: str, revoker: str, key_id: str, target: dict[str, Any]) -> None:
    """The new key is keysweep's own: a later scan that finds it where it was written reports it
    as managed, not as a new leak (store table `managed_keys`)."""
    store = ctx.store
    if store is None or not hasattr(store, "record_managed_key"):
        return
    row = store.conn.execute("SELECT id FROM revocations WHERE finding_id = ? AND revoker = ?",
                             [finding_id, revoker]).fetchone()
    store.record_managed_key(key_id, "aws", finding_id, {**target, "resource": describe(target)},
                             row[0] if row else None, ctx.now())


class AwsRotateRevoker(AwsAccessKeyRevoker):
    name = "aws-rotate"

    def _target(self, finding, ctx) -> tuple[dict[str, Any] | None, str | None]:
        decision = (ctx.extra.get("_decisions") or {}).get(finding.id)
        rotate_to = getattr(decision, "rotate_to", None) if decision is not None else None
        if rotate_to:
            try:
                return parse_target(rotate_to), None
            except ValueError as exc:
                return None, str(exc)
        return target_from_occurrences(finding), None

    async def plan(self, finding, ctx):
        target, problem = self._target(finding, ctx)
        key = finding.key_id
        calls = [("POST", "iam:GetAccessKeyLastUsed", f"find the IAM user of {key}"),
                 ("POST", "iam:ListAccessKeys", "check the user has room for a second key (IAM allows 2)")]
        needs = []
        if target:
            calls += [("POST", _get_call(target), f"read {describe(target)}"),
                      ("POST", "iam:CreateAccessKey", "create the new key (its id recorded in the job first)"),
                      ("POST", _put_call(target), f"write the new key into {describe(target)} (value never shown)")]
        else:
            needs.append(problem or "a rotation target: the key was not found in Secrets Manager, SSM, Vault, a "
                                    "Kubernetes Secret, GCP Secret Manager, Azure Key Vault or a GitLab project CI/CD variable; "
                                    "name one with rotate_to in a policy rule")
        calls.append(("POST", "iam:UpdateAccessKey", f"set {key} Inactive"))
        grace = self._grace(ctx)
        if grace is not None:
            calls.append(("POST", "iam:DeleteAccessKey",
                          f"delete {key} now" if grace == 0
                          else f"delete {key} after {grace:g} {'day' if grace == 1 else 'days'}"))
        retire = bool(target and target["service"] == "gcp-secretmanager"
                      and ctx.settings.provider("aws").get("disable_replaced_version"))
        if retire:
            calls += [("POST", "sts:GetCallerIdentity", "prove the new key works, signed with the pair read back "
                                                        "from the version written"),
                      ("POST", "secretmanager.versions.disable", "then disable the version it replaced (with its "
                                                                 "etag)")]
        plan = make_plan(self.name, finding, calls, needs, delete_after_days=grace, rotate_target=target,
                         target=f"iam AccessKeyId={key}", **({"disable_replaced_version": True} if retire else {}))
        plan.notes.extend(note for note in [role_instead(finding)] if note)
        plan.notes.extend(places_to_update(finding, target))
        return plan

    async def revoke(self, plan, ctx) -> RevokeResult:
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            return RevokeResult(False, "boto3 is not installed: pip install 'keysweep[aws]'")
        calls: list[tuple[str, str, str]] = []
        try:
            return await self._rotate(plan, ctx, calls)
        except (WriteConflict, UnprovenWrite, NotAwsAnswer) as exc:
            return RevokeResult(False, f"cannot rotate yet: {exc}", retryable=True, calls=tuple(calls))
        except RotationError as exc:
            return RevokeResult(False, f"cannot rotate: {exc}", calls=tuple(calls))
        except ClientError as exc:
            code, retryable = _error(exc)
            calls.append(("POST", "aws", code))
            if code == "LimitExceeded":
                return RevokeResult(False, "IAM refused CreateAccessKey: LimitExceeded (the user already has "
                                           "2 access keys); delete the unused one, then rerun", calls=tuple(calls))
            return RevokeResult(False, f"AWS refused: {code}", retryable=retryable, busy=retryable, calls=tuple(calls))
        except BotoCoreError as exc:
            code, _ = _error(exc)
            return RevokeResult(False, f"AWS: {code}", retryable=True, busy=True, calls=tuple(calls))

    async def _retire(self, ctx, plan, calls, user: str, new_id: str, new_sha256: str | None, replaced: Any,
                      made: Any) -> str:
        """Only now, and only once the new key is seen to work: the old key is already inactive, and
        a version still pinned by someone stops answering."""
        outcome, done = await asyncio.to_thread(_retire_replaced, ctx.settings, plan.data["rotate_target"], user,
                                                new_id, new_sha256, replaced, made)
        calls.append(("POST", "secretmanager.versions.disable", outcome))
        if done:
            note_job(ctx, plan.finding_id, self.name, replaced_version_disabled=replaced)
        return f"; {outcome}"

    async def _rotate(self, plan, ctx, calls) -> RevokeResult:
        from botocore.exceptions import ClientError

        data = plan.data
        old = data["key_id"]
        target = data.get("rotate_target")
        if not target:
            raise RotationError("no rotation target (the key was not read from Secrets Manager, SSM, Vault, a "
                                "Kubernetes Secret, GCP Secret Manager, Azure Key Vault or a GitLab project CI/CD variable); "
                                "name one with rotate_to in a policy rule")
        settings = ctx.settings
        iam = await asyncio.to_thread(_client, settings)
        recorded = data.get("new_key_id")
        try:
            user = (await asyncio.to_thread(believed, iam.get_access_key_last_used, "iam:GetAccessKeyLastUsed",
                                            ("AccessKeyLastUsed",), AccessKeyId=old)).get("UserName")
        except ClientError as exc:
            if _error(exc)[0] != "NoSuchEntity":
                raise
            calls.append(("POST", "iam:GetAccessKeyLastUsed", "NoSuchEntity"))
            if recorded:
                return RevokeResult(True, f"rotated to {recorded}; old key already deleted", calls=tuple(calls))
            raise RotationError(f"{old} no longer exists in IAM: nothing to rotate") from None
        calls.append(("POST", "iam:GetAccessKeyLastUsed", f"ok (user {user})"))
        if not user:
            raise RotationError(f"IAM names no user for {old} (a root key cannot be rotated this way)")
        listed = (await asyncio.to_thread(believed, iam.list_access_keys, "iam:ListAccessKeys", ("AccessKeyMetadata",),
                                          UserName=user))["AccessKeyMetadata"]
        keys = {meta["AccessKeyId"]: meta.get("Status") for meta in listed}
        calls.append(("POST", "iam:ListAccessKeys", f"{len(keys)} key(s)"))
        current, meta = await asyncio.to_thread(_read_target, settings, target)
        calls.append(("POST", _get_call(target), "ok"))
        written = bool(recorded) and recorded in current
        if recorded and not written and old not in current:
            # Neither key: someone changed it, or the read was stripped on its way (a redacting
            # gateway). The write cannot be told from this read, so no key is deleted on it.
            raise RotationError(f"{describe(target)} holds neither the new key {recorded} nor the old one {old}: "
                                f"whether the new key was written cannot be told; check it, then delete the key it "
                                f"does not hold")
        if recorded and not written:
            # Created by a run that died before writing it: its secret is gone and nobody has it.
            if recorded in keys:
                await asyncio.to_thread(believed, iam.delete_access_key, "iam:DeleteAccessKey", UserName=user,
                                        AccessKeyId=recorded)
                calls.append(("POST", "iam:DeleteAccessKey", f"{recorded} (created by an interrupted run, "
                                                             "never written)"))
                keys.pop(recorded, None)
            note_job(ctx, plan.finding_id, self.name, new_key_id=None, orphan_deleted=recorded)
            recorded = None
        if not written:
            if old not in current and old not in keys:
                raise RotationError(f"{old} is not a key of IAM user {user}")
            others = [key for key in keys if key != old]
            if len(keys) >= 2:
                raise RotationError(f"LimitExceeded: IAM user {user} already has 2 access keys ({old} and "
                                    f"{', '.join(others)}); delete the unused one, then rerun")
            try:
                _rewritten(current, meta, old, _PROBE_ID, _PROBE_SECRET, data.get("secret_sha256"))
            except RotationError as exc:
                raise RotationError(f"{describe(target)}: {exc}") from None
            await asyncio.to_thread(_check_writable, settings, target)
            fault = ctx.extra.get("_rotate_fault")  # tests: simulate a kill between steps
            answer = (await asyncio.to_thread(believed, iam.create_access_key, "iam:CreateAccessKey", ("AccessKey",),
                                              UserName=user))["AccessKey"]
            recorded = answer["AccessKeyId"]
            calls.append(("POST", "iam:CreateAccessKey", f"created {recorded}"))
            new_sha256 = secret_sha256(answer["SecretAccessKey"])
            note_job(ctx, plan.finding_id, self.name, new_key_id=recorded, new_secret_sha256=new_sha256,
                     replaced_version=meta.get("version") if target["service"] == "gcp-secretmanager" else None)
            if fault:
                fault("after_create")
            try:
                made = await asyncio.to_thread(_write_target, settings, target,
                                               _rewritten(current, meta, old, recorded, answer.pop("SecretAccessKey"),
                                                          data.get("secret_sha256")), meta, recorded)
            except WriteConflict:
                raise  # retried: the next attempt reads the target first
            except UnprovenWrite as exc:  # retried too; named, in case no attempt is left
                raise UnprovenWrite(f"{exc}; the new key made for it is {recorded}") from None
            except WrittenOverAChange:
                remember_managed(ctx, plan.finding_id, self.name, recorded, target)
                raise
            except (RotationError, ClientError) as exc:
                if isinstance(exc, ClientError):
                    code, busy = _error(exc)
                    if busy:
                        raise
                    exc = RotationError(f"{describe(target)}: AWS refused the write: {code}")
                raise RotationError(f"{exc}; the new key {recorded} made for it was not written (its secret is "
                                    f"lost): delete it once {describe(target)} is seen not to hold it") from None
            finally:
                del answer
            calls.append(("POST", _put_call(target), f"wrote {recorded}"))
            remember_managed(ctx, plan.finding_id, self.name, recorded, target)
            replaced = meta.get("version")
            if fault:
                fault("after_write")
        else:
            calls.append(("POST", _put_call(target), f"{recorded} already written"))
            remember_managed(ctx, plan.finding_id, self.name, recorded, target)
            # The version read holds the new key: the one written. What it replaced was noted at creation.
            made, new_sha256, replaced = meta.get("version"), data.get("new_secret_sha256"), data.get("replaced_version")
        current = None
        try:
            await asyncio.to_thread(believed, iam.update_access_key, "iam:UpdateAccessKey", UserName=user,
                                    AccessKeyId=old, Status="Inactive")
            calls.append(("POST", "iam:UpdateAccessKey", f"{old} Inactive"))
            if data.get("delete_after_days") == 0:
                await asyncio.to_thread(believed, iam.delete_access_key, "iam:DeleteAccessKey", UserName=user,
                                        AccessKeyId=old)
                calls.append(("POST", "iam:DeleteAccessKey", f"{old} deleted"))
        except ClientError as exc:
            if _error(exc)[0] != "NoSuchEntity":
                raise
            calls.append(("POST", "iam:UpdateAccessKey", "NoSuchEntity (already deleted)"))
        note_job(ctx, plan.finding_id, self.name, rotated_to=recorded)
        retired = ""
        if data.get("disable_replaced_version") and target["service"] == "gcp-secretmanager":
            retired = await self._retire(ctx, plan, calls, user, recorded, new_sha256, replaced, made)
        return RevokeResult(True, f"rotated: new key {recorded} in {describe(target)}; {old} deactivated"
                            + (" and deleted" if data.get("delete_after_days") == 0 else "") + retired,
                            calls=tuple(calls))
