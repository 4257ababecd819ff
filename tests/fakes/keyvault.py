"""One Azure Key Vault on 127.0.0.1, over HTTPS (azure-core refuses to send a bearer token over
plain HTTP), speaking the documented Key Vault REST API for secrets:

- `GET /secrets?api-version=…&maxresults=N` (List Secrets): `{"value": [SecretItem], "nextLink"}`,
  at most 25 per page, `nextLink` an absolute URL with an opaque `$skiptoken` (null on the last
  page); a SecretItem has the base id (`https://<vault>/secrets/<name>`, no version), the current
  version's `attributes` (`enabled`, `created`, `updated` as Unix seconds, `recoveryLevel`),
  `tags`, `contentType`, and `managed: true` for a certificate's secret;
- `GET /secrets/<name>/versions?api-version=…&maxresults=N` (List Secret Versions): SecretItems
  of every version, each id `https://<vault>/secrets/<name>/<version>` with that version's own
  `attributes` (`enabled` per version), paged as List Secrets;
- `GET /secrets/<name>/<version>?api-version=…` (Get Secret; an empty version is the current one):
  a SecretBundle `{"value", "id": ".../secrets/<name>/<version>", "attributes", "tags"}`;
- `PUT /secrets/<name>?api-version=…` (Set Secret) with `{"value", "contentType", "tags"}`: a new
  version (a fresh opaque id, created and updated now) becomes the current one, with those tags
  and content type (none given, none kept); the answer is its SecretBundle, `value` included;
  403 Forbidden when the access policy lacks `set`;
- authentication by challenge: a request without `Authorization: Bearer <token>` (or with another
  token) is answered 401 with `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
  resource="https://vault.azure.net"`, as Key Vault does to elicit a token;
- errors as KeyVaultError `{"error": {"code", "message", "innererror": {"code"}}}`: 403 Forbidden
  (AccessDenied: the access policy lacks `list` or `get`; SecretDisabled for a disabled secret's
  value), 404 SecretNotFound, 400 BadParameter without `api-version`.

`self_signed(directory)` makes the certificate: an SSL context for the server and the PEM file a
client trusts (REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import base64
import json
import secrets as random
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.fakes.serving import ThreadedApp

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CALLER = f"appid=04b07795-8ddb-461a-bbee-02f9e1bf7b46;oid=3c7a1c12-0000-4000-8000-000000000001;iss=https://sts.windows.net/{TENANT}/"


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A fresh self-signed certificate for 127.0.0.1 and localhost: (server context, cert PEM)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-keyvault")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "vault-cert.pem", directory / "vault-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def kv_error(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return {"error": error}


@dataclass
class Version:
    value: str
    id: str = field(default_factory=lambda: random.token_hex(16))
    enabled: bool = True
    created: int = 1735689600  # 2025-01-01
    updated: int = 1735689600
    content_type: str | None = None


@dataclass
class Secret:
    versions: list[Version]
    tags: dict[str, str] = field(default_factory=dict)
    managed: bool = False


class FakeKeyVault(ThreadedApp):
    def __init__(self, ssl_context: ssl.SSLContext, name: str = "acme-ml", token: str = "eyJ0eXAiOiJKV1Qi.fake.kv") -> None:
        super().__init__(ssl_context=ssl_context)
        self.name = name
        self.token = token
        self.secrets: dict[str, Secret] = {}
        self.deny_list = False          # the access policy has no `list` on secrets
        self.deny_get: set[str] = set()  # secrets whose value the caller may not get
        self.deny_versions: set[str] = set()  # secrets whose versions the caller may not list
        self.deny_set: set[str] = set()  # secrets the caller may not set
        self.on_set = None  # called (name) as a Set Secret arrives: someone else's set in that instant
        self.next_link_base: str | None = None  # a hostile vault: nextLink to another host
        self.page_size = 25

    # -- seeding --------------------------------------------------------------------------------
    def secret(self, name: str, *values: str, tags: dict[str, str] | None = None, enabled: bool = True,
               managed: bool = False, content_type: str | None = None) -> Secret:
        versions = [Version(v, created=1735689600 + i * 86400, updated=1735689600 + i * 86400,
                            content_type=content_type) for i, v in enumerate(values)]
        versions[-1].enabled = enabled
        self.secrets[name] = Secret(versions, dict(tags or {}), managed)
        return self.secrets[name]

    def new_version(self, name: str, value: str) -> Version:
        secret = self.secrets[name]
        version = Version(value, created=secret.versions[-1].updated + 86400, updated=secret.versions[-1].updated + 86400)
        secret.versions.append(version)
        return version

    def values(self, name: str) -> list[str]:
        """Every version's value, oldest first (the state at the fake)."""
        return [v.value for v in self.secrets[name].versions]

    def sets(self) -> list[str]:
        return [r.path for r in self.requests if r.method == "PUT"]

    def call_kind(self, request) -> str | None:
        parts = request.path.strip("/").split("/")
        if request.method == "PUT":
            return "write"
        if request.method == "GET" and len(parts) in (2, 3) and parts[0] == "secrets" and parts[-1] != "versions":
            return "read"
        return None

    def gets(self) -> list[str]:
        """Paths of Get Secret requests that carried the token (the ones that read a value)."""
        return [r.path for r in self.requests if r.path.startswith("/secrets/")
                and r.headers.get("Authorization") == f"Bearer {self.token}"]

    # -- the API --------------------------------------------------------------------------------
    def _json(self, body: Any, code: int = 200, headers: dict[str, str] | None = None):
        from aiohttp import web

        return web.Response(status=code, body=json.dumps(body).encode(), content_type="application/json",
                            headers=headers or {})

    def _attributes(self, version: Version) -> dict[str, Any]:
        return {"enabled": version.enabled, "created": version.created, "updated": version.updated,
                "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}

    def _item(self, name: str, secret: Secret) -> dict[str, Any]:
        current = secret.versions[-1]
        item: dict[str, Any] = {"id": f"{self.url}/secrets/{quote(name, safe='')}", "attributes": self._attributes(current),
                                "tags": secret.tags}
        if current.content_type:
            item["contentType"] = current.content_type
        if secret.managed:
            item["managed"] = True
            item["kid"] = f"{self.url}/keys/{name}/{current.id}"
        return item

    def _page(self, items: list[dict[str, Any]], request, path: str):
        token = request.query.get("$skiptoken")
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        size = min(int(request.query.get("maxresults") or 25), 25, self.page_size)
        next_link = None
        if start + size < len(items):
            skip = base64.urlsafe_b64encode(str(start + size).encode()).decode()
            next_link = (f"{self.next_link_base or self.url}{path}?api-version={request.query['api-version']}"
                         f"&$skiptoken={skip}&maxresults={size}")
        return self._json({"value": items[start:start + size], "nextLink": next_link})

    def _denied(self, permission: str):
        return self._json(kv_error("Forbidden", f"The user, group or application '{CALLER}' does not have secrets "
                                                f"{permission} permission on key vault '{self.name};location=westeurope'. "
                                                f"For help resolving this issue, please see "
                                                f"https://go.microsoft.com/fwlink/?linkid=2125287", "AccessDenied"), 403)

    async def handle(self, request):
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            challenge = (f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
                         f'resource="https://vault.azure.net"')
            return self._json(kv_error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."), 401,
                              {"WWW-Authenticate": challenge})
        if not request.query.get("api-version"):
            return self._json(kv_error("BadParameter", "The request URI contains an invalid version: ''"), 400)
        parts = request.path.strip("/").split("/")
        if parts == ["secrets"] and request.method == "GET":
            if self.deny_list:
                return self._denied("list")
            names = sorted(self.secrets)
            token = request.query.get("$skiptoken")
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
            size = min(int(request.query.get("maxresults") or 25), 25, self.page_size)
            page = names[start:start + size]
            next_link = None
            if start + size < len(names):
                skip = base64.urlsafe_b64encode(str(start + size).encode()).decode()
                next_link = (f"{self.next_link_base or self.url}/secrets?api-version={request.query['api-version']}"
                             f"&$skiptoken={skip}&maxresults={size}")
            return self._json({"value": [self._item(n, self.secrets[n]) for n in page], "nextLink": next_link})
        if len(parts) == 3 and parts[0] == "secrets" and parts[2] == "versions" and request.method == "GET":
            secret = self.secrets.get(parts[1])
            if secret is None:
                return self._json(kv_error("SecretNotFound", f"A secret with (name/id) {parts[1]} was not found in this "
                                                             f"key vault."), 404)
            if self.deny_list or parts[1] in self.deny_versions:
                return self._denied("list")
            base = f"{self.url}/secrets/{quote(parts[1], safe='')}"
            items = [{"id": f"{base}/{v.id}", "attributes": self._attributes(v), "tags": secret.tags,
                      **({"contentType": v.content_type} if v.content_type else {})} for v in secret.versions]
            return self._page(items, request, request.path)
        if len(parts) == 2 and parts[0] == "secrets" and request.method == "PUT":
            name = parts[1]
            if name in self.deny_set:
                return self._denied("set")
            body = await request.json()
            if self.on_set is not None:
                self.on_set(name)
            now = int(time.time())
            version = Version(body["value"], created=now, updated=now, content_type=body.get("contentType"))
            secret = self.secrets.setdefault(name, Secret([]))
            secret.versions.append(version)
            secret.tags = dict(body.get("tags") or {})
            bundle = {"value": version.value, "id": f"{self.url}/secrets/{quote(name, safe='')}/{version.id}",
                      "attributes": self._attributes(version), "tags": secret.tags}
            if version.content_type:
                bundle["contentType"] = version.content_type
            return self._json(bundle)
        if len(parts) in (2, 3) and parts[0] == "secrets" and request.method == "GET":
            name = parts[1]
            secret = self.secrets.get(name)
            if secret is None:
                return self._json(kv_error("SecretNotFound", f"A secret with (name/id) {name} was not found in this "
                                                             f"key vault."), 404)
            if name in self.deny_get:
                return self._denied("get")
            wanted = parts[2] if len(parts) == 3 else ""
            version = secret.versions[-1] if not wanted else next((v for v in secret.versions if v.id == wanted), None)
            if version is None:
                return self._json(kv_error("SecretNotFound", f"A secret with (name/id) {name}/{wanted} was not found "
                                                             f"in this key vault."), 404)
            if not version.enabled:
                return self._json(kv_error("Forbidden", "Operation get is not allowed on a disabled secret.",
                                           "SecretDisabled"), 403)
            bundle: dict[str, Any] = {"value": version.value, "id": f"{self.url}/secrets/{quote(name, safe='')}/{version.id}",
                                      "attributes": self._attributes(version), "tags": secret.tags}
            if version.content_type:
                bundle["contentType"] = version.content_type
            return self._json(bundle)
        return self._json(kv_error("BadParameter", "Method or path not supported."), 400)
