"""Azure Key Vault: the current version of every enabled secret of each vault, through
`azure-keyvault-secrets` (read-only: List Secrets and Get Secret only).

Credentials: a bearer token for Key Vault in KEYSWEEP_AZURE_KEYVAULT_TOKEN when set (e.g. from
`az account get-access-token --resource https://vault.azure.net`), handed only to Key Vault's own
challenge (resource `https://vault.<cloud suffix>`); else azure-identity's DefaultAzureCredential
(environment, workload identity, managed identity, Azure CLI, …). Vaults: `--vault-url`
(repeatable), else AZURE_KEYVAULT_URL. A vault URL is an https origin; a custom CA bundle comes
from REQUESTS_CA_BUNDLE, as for every Azure SDK client.

A client talks to its vault only: redirects are not followed, and a `nextLink` (or anything else)
that points to another origin is refused before any header is sent. The Key Vault challenge's
resource must match the vault's domain (azure-keyvault's own check; relaxed only by tests, whose
vault is 127.0.0.1).

Incremental: the listing gives each secret's current-version attributes; a secret whose `updated`
time was matched with the same rules is not read again (no second Get Secret, no second
SecretGet audit event). A new version, or a change of the current version's attributes or tags,
changes `updated`. A secret is matched as `SECRET_NAME=value`, so keyword rules see its name.
Disabled secrets cannot be read (Key Vault answers 403 SecretDisabled) and are skipped;
certificate-backed secrets (`managed`: a Key Vault certificate's own key) are left to the
certificate's lifecycle and skipped too.

With `versions` (`--versions`), every older **enabled** version of each secret (certificate-backed
ones excepted) is read too, listed per secret (List Secret Versions) on every scan and read once
(a version's value never changes): a rotation that left the old version enabled left it usable by
anyone who asks for it by id. The current version is the newest one (Key Vault has no other); an
older version carries `current_version` in its metadata and `(older)` in its resource. A secret
whose current version is disabled may still have older enabled ones, and they are read.

Locator `{"source": "azure", "vault", "secret", "version"}` (plus `resource`: `azure-kv
<vault host>/<secret> <version>`). A vault or secret the credentials may not read (403) is one
error line; the rest is still read. Tags are kept as owner hints (`tags`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, AsyncIterator, Iterable
from urllib.parse import quote, unquote, urlsplit

from keysweep.errors import KeysweepError
from keysweep.scanner.sources.remote import (
    Entry,
    PerTargetSource,
    SourceRun,
    Unit,
    ValueGroup,
    entry_text,
    iso,
    optional_module,
)

SOURCE = "azure-keyvault"
VAULT_URL_ENV = "AZURE_KEYVAULT_URL"
TOKEN_ENV = "KEYSWEEP_AZURE_KEYVAULT_TOKEN"
TIMEOUT = 30
PAGE_SIZE = 25
# Key Vault's resource in each cloud (what its 401 challenge names); a static token goes to no other.
KEYVAULT_RESOURCES = frozenset({"vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net",
                                "vault.microsoftazure.de"})
# azure-keyvault checks that the challenge's resource matches the vault's domain. Tests, whose vault
# is 127.0.0.1, turn this off; nothing else does.
VERIFY_CHALLENGE_RESOURCE = True


NEEDS = ("Azure Key Vault needs azure-keyvault-secrets and azure-identity", "azure")


def import_secrets():
    return optional_module("azure.keyvault.secrets", *NEEDS)


def import_identity():
    return optional_module("azure.identity", *NEEDS)


def origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def checked_vault_url(value: str, what: str) -> str:
    """An https vault origin (`https://NAME.vault.azure.net`), or a usage error."""
    text = str(value or "").strip().rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname or parts.username or parts.password \
            or parts.path or parts.query or parts.fragment:
        raise KeysweepError(f"{what} {value!r}: expected a vault URL, e.g. https://NAME.vault.azure.net "
                            f"(https: Azure sends its token over TLS only)")
    return text


def vault_label(vault: str) -> str:
    """A vault as error lines and locators show it: its host (and port, when not 443)."""
    parts = urlsplit(vault)
    return parts.netloc.lower()


def azure_error(exc: BaseException) -> str:
    """One line from an azure-core error: the HTTP status, Key Vault's error code and message."""
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if status is not None:
        text = " ".join(str(message or getattr(exc, "reason", None) or "").split())
        head = f"{status} {code}" if code else f"{status}"
        return f"{head}: {text}"[:300] if text else head
    if isinstance(exc, ForeignRequest):
        return str(exc)
    name = type(exc).__name__
    # azure-identity's chain explains every credential it tried, one per line: the first says enough.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{name}: {lines[0]}"[:300] if lines else name


class ForeignRequest(Exception):
    """A request to another origin than the vault's (a hostile nextLink): never sent."""


class StaticToken:
    """A bearer token from the environment, given only for Key Vault's own resource."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken
        from azure.core.exceptions import ClientAuthenticationError

        for scope in scopes:
            host = (urlsplit(scope).hostname or "").lower()
            if host not in KEYVAULT_RESOURCES:
                raise ClientAuthenticationError(
                    f"{TOKEN_ENV} is a Key Vault token; the vault asked for one for {scope!r}")
        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:  # never the token, even in a debugger
        return "StaticToken(<hidden>)"


def _credential(env):
    token = env.get(TOKEN_ENV)
    if token:
        return StaticToken(token)
    return import_identity().DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _same_origin_policy(vault: str):
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    allowed = origin(vault)

    class SameVault(SansIOHTTPPolicy):
        def on_request(self, request) -> None:
            if origin(request.http_request.url) != allowed:
                raise ForeignRequest(f"the vault pointed to another host ({vault_label(request.http_request.url)}); "
                                     f"not followed")

    return SameVault()


_lock = threading.Lock()
_clients: dict[tuple[str, ...], Any] = {}
_logging_quiet = False


def _quiet_logging() -> None:
    """azure-identity logs each credential it tried as WARNING lines: errors are one line here."""
    global _logging_quiet
    if not _logging_quiet:
        _logging_quiet = True
        logger = logging.getLogger("azure")
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def secret_client(vault: str, env=None):
    """One client per (vault, credential source, CA bundle)."""
    secrets = import_secrets()
    env = os.environ if env is None else env
    key = (vault, env.get(TOKEN_ENV) or "", env.get("REQUESTS_CA_BUNDLE") or "", str(VERIFY_CHALLENGE_RESOURCE))
    with _lock:
        if key not in _clients:
            _quiet_logging()
            _clients[key] = secrets.SecretClient(
                vault_url=vault, credential=_credential(env), verify_challenge_resource=VERIFY_CHALLENGE_RESOURCE,
                per_call_policies=[_same_origin_policy(vault)], permit_redirects=False, retry_total=3,
                connection_timeout=10, read_timeout=TIMEOUT)
        return _clients[key]


def secret_name(properties: Any) -> str:
    """The secret's name: the percent-decoded segment after `/secrets/` of its id
    (`https://v.vault.azure.net/secrets/NAME[/VERSION]`); the SDK's own `name` cuts a name at `;`."""
    parts = urlsplit(str(getattr(properties, "id", "") or "")).path.strip("/").split("/")
    if len(parts) > 1 and parts[0] == "secrets" and parts[1]:
        return unquote(parts[1])
    return str(getattr(properties, "name", None) or "")


class AzureSource(PerTargetSource):
    label, source, fields = "azure", SOURCE, ("vault",)

    def __init__(self, *, vault_urls: Iterable[str] = (), versions: bool = False) -> None:
        self.vault_urls = list(dict.fromkeys(u for u in vault_urls if u))
        self.versions = bool(versions)

    def check(self) -> None:
        if not self.vault_urls:
            raise KeysweepError(f"no Key Vault: pass --vault-url or set {VAULT_URL_ENV}")
        import_secrets()
        if not os.environ.get(TOKEN_ENV):
            import_identity()

    async def targets(self, run: SourceRun) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        for vault in self.vault_urls:
            yield f"azure {vault_label(vault)}", {"vault": vault}

    def knows(self, *, vault: Any) -> bool:
        return vault in self.vault_urls

    def scope(self, *, vault: str) -> str:
        return f"azure:{vault}"

    def read(self, run: SourceRun, scope: str, already: set[str], *, vault: str) -> Unit | None:
        label = vault_label(vault)
        unit = Unit(source=SOURCE, scope=scope)
        try:
            client = secret_client(vault)
            listed = list(client.list_properties_of_secrets(max_page_size=PAGE_SIZE))
        except KeysweepError:
            raise
        except Exception as exc:
            run.error(f"azure {label}: cannot list secrets ({azure_error(exc)})")
            return None
        for properties in listed:
            name = secret_name(properties)
            if not name or getattr(properties, "managed", False):
                continue
            if self.versions:
                self._older(run, client, unit, vault, name, already)
            if not properties.enabled:
                continue
            updated = iso(properties.updated_on)
            object_id = f"{vault}/secrets/{quote(name, safe='')}@{updated or ''}"
            if updated and object_id in already:
                continue
            try:
                secret = client.get_secret(name)
            except Exception as exc:
                run.error(f"azure {label} {name}: cannot get the secret ({azure_error(exc)})")
                continue
            value = secret.value
            if not isinstance(value, str):
                if updated:
                    unit.scanned_objects.append(object_id)
                continue
            unit.groups.append(ValueGroup(SOURCE, [version_entry(vault, name, secret, value, properties.tags)],
                                          object_id if updated else None))
        return unit

    def _older(self, run: SourceRun, client: Any, unit: Unit, vault: str, name: str, already: set[str]) -> None:
        """Every enabled version of `name` but the newest (the current one, read as the secret),
        each read once."""
        label = vault_label(vault)
        try:
            listed = list(client.list_properties_of_secret_versions(name, max_page_size=PAGE_SIZE))
        except Exception as exc:
            run.error(f"azure {label} {name}: cannot list versions ({azure_error(exc)})")
            return
        listed = [p for p in listed if getattr(p, "version", None)]
        if len(listed) < 2:
            return
        current = max(listed, key=lambda p: tuple(t.timestamp() if t else 0 for t in (p.created_on, p.updated_on)))
        for properties in listed:
            if properties is current or not properties.enabled:
                continue
            object_id = f"{vault}/secrets/{quote(name, safe='')}/{properties.version}"
            if object_id in already:
                continue
            try:
                secret = client.get_secret(name, properties.version)
            except Exception as exc:
                run.error(f"azure {label} {name} {properties.version}: cannot get the version ({azure_error(exc)})")
                continue
            if not isinstance(secret.value, str):
                unit.scanned_objects.append(object_id)
                continue
            entry = version_entry(vault, name, secret, secret.value, properties.tags, current=current.version)
            unit.groups.append(ValueGroup(SOURCE, [entry], object_id))


def version_entry(vault: str, name: str, secret: Any, value: str, listed_tags: Any = None,
                  current: str | None = None) -> Entry:
    """The entry of one version read; `current`: the current version's id when this is an older one."""
    version = secret.properties.version or ""
    tags = dict(secret.properties.tags or listed_tags or {})
    metadata = {k: v for k, v in {
        "version": version or None, "current_version": current, "created_at": iso(secret.properties.created_on),
        "updated_at": iso(secret.properties.updated_on), "expires_at": iso(secret.properties.expires_on),
        "not_before": iso(secret.properties.not_before), "content_type": secret.properties.content_type,
        "tags": tags or None,
    }.items() if v is not None}
    shown = f"azure-kv {vault_label(vault)}/{name} {version}".rstrip() + (" (older)" if current else "")
    locator = {"source": "azure", "vault": vault, "secret": name, "version": version, "resource": shown}
    return Entry(entry_text(name, value), locator, metadata)


def read_version(locator: dict[str, Any], env=None) -> bytes | None:
    """The `SECRET_NAME=value` text the scan matched, read again from the same version."""
    env = os.environ if env is None else env
    vault, name, version = locator.get("vault"), locator.get("secret"), locator.get("version")
    if not vault or not name:
        return None
    vault = checked_vault_url(str(vault), "locator")
    secret = secret_client(vault, env).get_secret(str(name), str(version) if version else None)
    return entry_text(str(name), secret.value).encode("utf-8") if isinstance(secret.value, str) else None
