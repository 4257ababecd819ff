"""GCP Secret Manager: the payload of every enabled secret version, per project, through
`google-cloud-secret-manager` on its REST transport (read-only: list and access only).

Credentials: an OAuth access token in GOOGLE_OAUTH_ACCESS_TOKEN when set, else Application Default
Credentials (`google.auth.default`). Endpoint: `--endpoint-url`, else
KEYSWEEP_GCP_SECRETMANAGER_BASE_URL (its own setting: KEYSWEEP_GCP_BASE_URL is the IAM endpoint),
else Google's. A payload is matched as `SECRET_ID=payload`, so keyword rules see the secret's name.

Regional secrets (`projects/P/locations/L/secrets/S`) live apart from the global ones and are served
only by their location's endpoint, `https://secretmanager.L.rep.googleapis.com`: each location named
(`--location`) is read there, besides the global secrets. KEYSWEEP_GCP_SECRETMANAGER_REGIONAL_BASE_URL
replaces that endpoint (`{location}` in it is replaced by the location); without it, a scan given an
endpoint of its own sends the regional requests there too (never to Google unasked).

Incremental: a secret version's payload never changes (a new value is a new version), so a version
(`projects/…/secrets/…/versions/N`) matched with the same rules is not accessed again: no second
AccessSecretVersion, no second Data Access audit entry. Labels are kept as owner hints (`tags`).

Locator `{"source": "gcp", "project", "secret", "version"}`, plus `location` for a regional secret
(and `resource`: `gcp-secret <project>/<secret> v<version>`, `gcp-secret <project>/<location>/<secret>
v<version>` for a regional one, and `access.endpoint_url` when the scan named an endpoint). A project,
location or secret the credentials may not read (403) is one error line; the rest is still read.

A listing page naming a secret with a lone surrogate (JSON's `\\ud800`: no Google secret id holds one,
an intermediary's answer can) is refused whole by the client library's parser, which would leave the
project unread. Such a page is read before the client parses it (unpaired_names, a response hook on
the client's session): that secret is one error line naming it escaped and is not read; a lone
surrogate anywhere else on the page (a label) is read as U+FFFD; the rest of the listing is read.
"""

from __future__ import annotations

import json
import os
import re
import threading
from typing import Any, AsyncIterator, Iterable

from keysweep.errors import KeysweepError
from keysweep.models import ACCESS
from keysweep.sanitize import terminal_safe, with_strings
from keysweep.scanner.sources import looks_binary
from keysweep.scanner.sources.remote import (
    Entry,
    PerTargetSource,
    SourceRun,
    Unit,
    ValueGroup,
    entry_text,
    error_line,
    iso,
    optional_module,
)

SOURCE = "gcp-secretmanager"
ENDPOINT_ENV = "KEYSWEEP_GCP_SECRETMANAGER_BASE_URL"
REGIONAL_ENDPOINT_ENV = "KEYSWEEP_GCP_SECRETMANAGER_REGIONAL_BASE_URL"
REGIONAL_ENDPOINT = "https://secretmanager.{location}.rep.googleapis.com"
# A location id as Google spells them (europe-west4, us-central1): it becomes part of a host name.
LOCATION = re.compile(r"[a-z][a-z0-9-]{0,62}")
PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
TOKEN_ENV = "GOOGLE_OAUTH_ACCESS_TOKEN"
TIMEOUT = 30.0


def gcp_error(exc: BaseException) -> str:
    """One line from a google.api_core error: its HTTP code and Google's message."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if code is not None and message is not None:
        # api_core writes "GET <url>: <Google's message>": the URL says nothing the line does not.
        text = re.sub(r"^[A-Z]+ \S+: ", "", " ".join(str(message).split()))
        return f"{int(code) if isinstance(code, int) else code} {text}"[:300]
    return error_line(exc)


def short(name: str) -> str:
    """The last segment of a resource name (`projects/1/secrets/api-key` → `api-key`)."""
    return str(name).rstrip("/").rsplit("/", 1)[-1]


def check_location(location: str) -> str:
    if not LOCATION.fullmatch(location):
        raise KeysweepError(f"--location {location!r}: not a location id (such as europe-west4)")
    return location


def endpoint_for(location: str | None, named: str | None, env=None) -> str | None:
    """The endpoint serving a location's secrets (None: the client's default, Google's global one).
    `named`: the endpoint the scan was given, else the environment's."""
    env = os.environ if env is None else env
    named = named or env.get(ENDPOINT_ENV) or None
    if location is None:
        return named
    template = env.get(REGIONAL_ENDPOINT_ENV) or None
    if template:
        return template.replace("{location}", location)
    return named or REGIONAL_ENDPOINT.format(location=location)


def parent_of(project: str, location: str | None) -> str:
    return f"projects/{project}/locations/{location}" if location else f"projects/{project}"


def payload_text(secret_id: str, data: bytes | None) -> str | None:
    if data is None or looks_binary(data):
        return None
    return entry_text(secret_id, data.decode("utf-8", "replace"))


def import_secretmanager():
    return optional_module("google.cloud.secretmanager", "GCP Secret Manager needs google-cloud-secret-manager", "gcp")


_lock = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}
# The secret names with a lone surrogate the listing pages read by this thread left out.
_unpaired = threading.local()
_LONE = re.compile("[\ud800-\udfff]")


def _well_formed(node: Any) -> Any:
    """`node` with each lone surrogate of its strings as U+FFFD."""
    return with_strings(node, lambda text: _LONE.sub("\ufffd", text))


def unpaired_names(response, *args: Any, **kwargs: Any):
    """A requests response hook for ListSecrets pages (`GET …/secrets`) holding a lone surrogate, while
    this thread's GcpSource.read lists: the secrets whose name holds one are taken out of the page
    (their names kept for the listing to report), every other lone surrogate becomes U+FFFD, so the
    client parses the rest. Any other answer, or one to any other caller, is left as it is."""
    names = getattr(_unpaired, "names", None)
    request = getattr(response, "request", None)
    if names is None or response.status_code != 200 or getattr(request, "method", None) != "GET" \
            or not str(getattr(request, "path_url", "")).split("?", 1)[0].endswith("/secrets") \
            or b"\\ud" not in response.content.lower():
        return response
    try:
        page = json.loads(response.content)
    except (ValueError, RecursionError):
        return response
    if not isinstance(page, dict) or not isinstance(page.get("secrets"), list):
        return response
    kept = []
    for secret in page["secrets"]:
        name = secret.get("name") if isinstance(secret, dict) else None
        if isinstance(name, str) and _LONE.search(name):
            names.append(name)
            continue
        kept.append(secret)
    response._content = json.dumps(_well_formed({**page, "secrets": kept})).encode()
    return response


def _read_unpaired_names(client: Any) -> None:
    """Put unpaired_names on the REST transport's session (the client parses each page as it
    arrives: nothing public runs before that); a client without one keeps the library's behaviour."""
    session = getattr(getattr(client, "_transport", None), "_session", None)
    hooks = getattr(session, "hooks", None)
    if isinstance(hooks, dict) and unpaired_names not in hooks.setdefault("response", []):
        hooks["response"].append(unpaired_names)


def credentials(env=None):
    env = os.environ if env is None else env
    token = env.get(TOKEN_ENV)
    if token:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)
    import google.auth

    scoped, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return scoped


def secret_client(endpoint: str | None, env=None):
    """One REST client per (endpoint, credentials source)."""
    secretmanager = import_secretmanager()
    env = os.environ if env is None else env
    with _lock:
        key = (endpoint or "", env.get(TOKEN_ENV) or "")
        if key not in _clients:
            options = {"api_endpoint": endpoint} if endpoint else None
            _clients[key] = secretmanager.SecretManagerServiceClient(
                credentials=credentials(env), transport="rest", client_options=options)
            _read_unpaired_names(_clients[key])
        return _clients[key]


class GcpSource(PerTargetSource):
    label, source, fields = "gcp", SOURCE, ("project", "location")

    def __init__(self, *, projects: Iterable[str] = (), endpoint_url: str | None = None,
                 locations: Iterable[str] = ()) -> None:
        self.projects = [p for p in projects if p]
        self.endpoint_url = (endpoint_url or "").rstrip("/") or None
        self.locations = list(dict.fromkeys(loc for loc in locations if loc))

    def check(self) -> None:
        if not self.projects:
            raise KeysweepError(f"no GCP project: pass --project or set {PROJECT_ENV}")
        for location in self.locations:
            check_location(location)
        import_secretmanager()

    def _access(self) -> dict[str, Any]:
        return {ACCESS: {"endpoint_url": self.endpoint_url}} if self.endpoint_url else {}

    async def targets(self, run: SourceRun) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        for project in self.projects:
            for location in [None, *self.locations]:
                yield f"gcp {project}" + (f" {location}" if location else ""), {"project": project, "location": location}

    def knows(self, *, project: Any, location: Any) -> bool:
        return project in self.projects and (location is None or location in self.locations)

    def scope(self, *, project: str, location: str | None) -> str:
        return f"gcp:{project}" + (f":{location}" if location else "")

    def read(self, run: SourceRun, scope: str, already: set[str], *, project: str,
             location: str | None = None) -> Unit | None:
        """The unit of the project's global secrets, or of one location's regional secrets; None
        when they could not be listed (nothing was read)."""
        # The endpoint named by the scan is kept for re-reads; the environment's is read again then.
        client = secret_client(endpoint_for(location, self.endpoint_url))
        unit = Unit(source=SOURCE, scope=scope)
        where = f"{project} {location}" if location else project
        _unpaired.names = []
        try:
            secrets = list(client.list_secrets(request={"parent": parent_of(project, location)}, timeout=TIMEOUT))
        except Exception as exc:
            run.error(f"gcp {where}: cannot list secrets ({gcp_error(exc)})")
            return None
        finally:
            unpaired, _unpaired.names = _unpaired.names, None
        for name in unpaired:
            run.error(f"gcp {where} {terminal_safe(short(name))}: not read: its name, as listed, is not valid "
                      "Unicode (a lone surrogate; no Google secret id holds one)")
        for secret in secrets:
            secret_id = short(secret.name)
            try:
                versions = list(client.list_secret_versions(
                    request={"parent": secret.name, "filter": "state:ENABLED"}, timeout=TIMEOUT))
            except Exception as exc:
                run.error(f"gcp {where} {secret_id}: cannot list versions ({gcp_error(exc)})")
                continue
            labels = dict(secret.labels or {})
            for version in versions:
                if version.name in already or version.state.name != "ENABLED":
                    continue
                try:
                    answer = client.access_secret_version(request={"name": version.name}, timeout=TIMEOUT)
                except Exception as exc:
                    run.error(f"gcp {where} {secret_id} v{short(version.name)}: {gcp_error(exc)}")
                    continue
                text = payload_text(secret_id, answer.payload.data)
                if text is None:
                    unit.scanned_objects.append(version.name)
                    continue
                number = short(version.name)
                metadata = {k: v for k, v in {
                    "version": number, "created_at": iso(version.create_time),
                    "secret_created_at": iso(secret.create_time), "tags": labels or None,
                }.items() if v is not None}
                named = f"{project}/{location}/{secret_id}" if location else f"{project}/{secret_id}"
                locator = {"source": "gcp", "project": project, **({"location": location} if location else {}),
                           "secret": secret_id, "version": number, "resource": f"gcp-secret {named} v{number}",
                           **self._access()}
                unit.groups.append(ValueGroup(SOURCE, [Entry(text, locator, metadata)], version.name))
        return unit


def read_version(locator: dict[str, Any], env=None) -> bytes | None:
    """The `SECRET_ID=payload` text the scan matched, accessed again from the same version."""
    env = os.environ if env is None else env
    project, secret, version = locator.get("project"), locator.get("secret"), locator.get("version")
    if not project or not secret or not version:
        return None
    location = locator.get("location") or None
    if location is not None and not LOCATION.fullmatch(str(location)):
        return None
    access = locator.get(ACCESS) if isinstance(locator.get(ACCESS), dict) else {}
    client = secret_client(endpoint_for(location, access.get("endpoint_url"), env), env)
    answer = client.access_secret_version(
        request={"name": f"{parent_of(str(project), location)}/secrets/{secret}/versions/{version}"}, timeout=TIMEOUT)
    text = payload_text(str(secret), answer.payload.data)
    return text.encode("utf-8") if text is not None else None
