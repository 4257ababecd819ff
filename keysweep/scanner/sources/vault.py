"""HashiCorp Vault: every KV secret (v1 and v2 mounts) the token can list and read, through `hvac`
(read-only: GET and LIST only).

Mounts come from `sys/mounts`; a token denied that (most are) falls back to
`sys/internal/ui/mounts`, which lists the mounts the token has capabilities on. Each KV mount is
walked with LIST (a key ending in `/` is a folder); each secret's keys are matched together as
`KEY=value` lines (a non-string value as its JSON), so an AWS key id in one key pairs with the
secret in the next.

KV v2: the current version of each secret (every version neither deleted nor destroyed with
`versions=True`); its metadata is read first, so a version already matched with the same rules is
not read again: no second read of the data, no second audit-log entry of a read. `custom_metadata`
is kept as owner hints (`tags`). KV v1 keeps no versions: every secret is read on every scan.

Locator `{"source": "vault", "addr", "mount", "kv_version", "path", "key", "version"}` (version
null on KV v1), plus `resource` (`vault <mount>/<path> <key> (v<version>)`) and `access`: how the
scan logged in (`token_env` when not VAULT_TOKEN; `auth`, `auth_path`, `role`, `jwt_file` for an
AppRole or JWT login), names only. A folder or secret the token may not
read (403) is one error line; the rest is still read.

A listing is data, whatever the server answers: a walk lists each folder once, at most MAX_DEPTH
folders deep and MAX_FOLDERS folders a mount, and every request has a TIMEOUT. Vault lists one path
segment a name (a folder's ends in `/`); a listed name that cannot be asked for as it is (an empty,
`.` or `..` segment, as in `a//b`: hvac folds `//` into `/`, the HTTP stack resolves `..` and
Vault's server redirects both, so such a folder would list itself, or its parent, again; or more
than one segment) is one error line naming the path, and is not read.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Mapping
from urllib.parse import urlsplit

from keysweep.errors import KeysweepError
from keysweep.models import ACCESS
from keysweep.sanitize import terminal_safe
from keysweep.scanner.sources.remote import Entry, PerTargetSource, SourceRun, Unit, ValueGroup, error_line, iso, optional_module

SOURCE = "vault"
TOKEN_ENV = "VAULT_TOKEN"
ADDR_ENV = "VAULT_ADDR"
NAMESPACE_ENV = "VAULT_NAMESPACE"
TIMEOUT = 30  # seconds without a byte of an answer, for every request (hvac passes it to requests)
MAX_SECRETS = 200_000  # per mount: a LIST loop never runs away
MAX_FOLDERS = 200_000  # per mount: folders listed
MAX_DEPTH = 64  # folders within folders


# -- pure -------------------------------------------------------------------------------------------
def kv_mounts(body: Any) -> dict[str, int]:
    """{mount path without its slash: KV version} from a sys/mounts or sys/internal/ui/mounts answer."""
    if not isinstance(body, dict):
        return {}
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    if isinstance(data.get("secret"), dict):  # sys/internal/ui/mounts: {"secret": {...}, "auth": {...}}
        data = data["secret"]
    mounts = {}
    for path, mount in data.items():
        if not isinstance(mount, dict) or mount.get("type") not in ("kv", "generic"):
            continue
        options = mount.get("options") if isinstance(mount.get("options"), dict) else {}
        mounts[str(path).strip("/")] = 2 if str(options.get("version") or "1") == "2" else 1
    return dict(sorted(mounts.items()))


def secret_entries(data: Any) -> list[tuple[str, str]]:
    """(key, `KEY=value`) of each value of a secret's data (a non-string value as its JSON)."""
    if not isinstance(data, dict):
        return []
    entries = []
    for key in sorted(data, key=str):
        value = data[key]
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        entries.append((str(key), f"{key}={text}"))
    return entries


def describe(mount: str, path: str, key: str, version: int | None) -> str:
    return f"vault {mount}/{path} {key}" + (f" (v{version})" if version is not None else "")


def listed_name_problem(name: str) -> str | None:
    """Why a name a LIST answered cannot be asked for as it is, or None. Vault lists one path segment
    a name, a folder's with its trailing `/`."""
    segment = name[:-1] if name.endswith("/") else name
    if any(part in ("", ".", "..") for part in segment.split("/")):
        return "an empty, '.' or '..' path segment"
    if "/" in segment:
        return "more than one path segment in one name"
    return None


def path_problem(path: str) -> str | None:
    """Why a mount path cannot be asked for as it is (an empty, `.` or `..` segment), or None."""
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "an empty, '.' or '..' path segment"
    return None


def live_versions(metadata: dict[str, Any]) -> list[int]:
    """Versions of a KV v2 secret that still hold data: neither deleted nor destroyed."""
    versions = metadata.get("versions") if isinstance(metadata.get("versions"), dict) else {}
    live = []
    for number, info in versions.items():
        info = info if isinstance(info, dict) else {}
        if info.get("destroyed") or info.get("deletion_time"):
            continue
        try:
            live.append(int(number))
        except ValueError:
            continue
    return sorted(live)


def vault_error(exc: BaseException) -> str:
    """One line from an hvac error: the HTTP status and Vault's errors, never a header or token."""
    errors = getattr(exc, "errors", None)
    name = type(exc).__name__
    if isinstance(exc, KeysweepError):
        return str(exc)
    status = {"Forbidden": "403", "InvalidPath": "404", "Unauthorized": "401", "RateLimitExceeded": "429",
              "InternalServerError": "500", "VaultDown": "503", "InvalidRequest": "400"}.get(name)
    if _timed_out(exc):
        return f"no answer within {TIMEOUT:g} s ({name})"
    if errors is not None or status:
        text = "; ".join(" ".join(str(e).split()) for e in errors) if isinstance(errors, list) else ""
        return f"{status or name} {text or name}".strip()[:300]
    return error_line(exc)


def answer_body(answer: Any) -> dict[str, Any]:
    """Vault's JSON answer; hvac hands back any other (a redirect not followed, a 204) as its
    response: one error."""
    if isinstance(answer, dict):
        return answer
    status = getattr(answer, "status_code", None)
    raise KeysweepError(f"HTTP {status}: not a JSON answer" if status else "not a JSON answer")


def _timed_out(exc: BaseException) -> bool:
    """requests' Timeout (connect or read), which hvac lets through."""
    return any(k.__name__ == "Timeout" and k.__module__ == "requests.exceptions" for k in type(exc).__mro__)


def import_hvac():
    return optional_module("hvac", "Vault needs the hvac package", "vault")


AUTH_METHODS = ("token", "approle", "jwt")
ROLE_ID_ENV = "VAULT_ROLE_ID"
SECRET_ID_ENV = "VAULT_SECRET_ID"
JWT_ENV = "VAULT_JWT"


@dataclass(frozen=True)
class VaultAuth:
    """How the scan logs in: a token from `token_env`; AppRole with VAULT_ROLE_ID and VAULT_SECRET_ID;
    or a JWT (VAULT_JWT, or the file `jwt_file`, e.g. a Kubernetes service account token) for
    `role`. `path` is the auth method's mount (default: the method's name). Only names and paths are
    kept (in locators, for re-reads), never a credential."""

    method: str = "token"
    path: str | None = None
    role: str | None = None
    jwt_file: str | None = None
    token_env: str = TOKEN_ENV

    @classmethod
    def from_access(cls, access: dict[str, Any]) -> "VaultAuth":
        return cls(method=str(access.get("auth") or "token"), path=access.get("auth_path") or None,
                   role=access.get("role") or None, jwt_file=access.get("jwt_file") or None,
                   token_env=str(access.get("token_env") or TOKEN_ENV))

    def access(self) -> dict[str, Any]:
        if self.method == "token":
            return {"token_env": self.token_env} if self.token_env != TOKEN_ENV else {}
        described = {"auth": self.method, "auth_path": self.path, "role": self.role, "jwt_file": self.jwt_file}
        return {k: v for k, v in described.items() if v}

    def _jwt(self, env: Mapping[str, str]) -> str | None:
        if self.jwt_file:
            try:
                return Path(self.jwt_file).expanduser().read_text(encoding="utf-8").strip() or None
            except OSError:
                return None
        return env.get(JWT_ENV) or None

    def check(self, env: Mapping[str, str]) -> None:
        """A one-line usage error when what the login needs is missing."""
        if self.method not in AUTH_METHODS:
            raise KeysweepError(f"Vault auth {self.method!r}: expected one of {', '.join(AUTH_METHODS)}")
        if self.method == "token" and not env.get(self.token_env):
            raise KeysweepError(f"no Vault token: set {self.token_env}")
        if self.method == "approle" and not (env.get(ROLE_ID_ENV) and env.get(SECRET_ID_ENV)):
            raise KeysweepError(f"AppRole login needs {ROLE_ID_ENV} and {SECRET_ID_ENV}")
        if self.method == "jwt":
            if not self.role:
                raise KeysweepError("JWT login needs a role (--role)")
            if not self._jwt(env):
                where = self.jwt_file or f"${JWT_ENV}"
                raise KeysweepError(f"JWT login needs a token: {where} is empty or unreadable")

    def material(self, env: Mapping[str, str]) -> tuple[str, ...]:
        """What identifies the credentials (a cache key kept in memory only)."""
        if self.method == "token":
            return ("token", env.get(self.token_env) or "")
        if self.method == "approle":
            return ("approle", self.path or "", env.get(ROLE_ID_ENV) or "", env.get(SECRET_ID_ENV) or "")
        return ("jwt", self.path or "", self.role or "", self._jwt(env) or "")

    def login(self, client: Any, env: Mapping[str, str]) -> None:
        """Sets the client's token (an AppRole or JWT login is one POST to auth/<path>/login)."""
        if self.method == "token":
            client.token = env.get(self.token_env)
        elif self.method == "approle":
            client.auth.approle.login(role_id=env.get(ROLE_ID_ENV), secret_id=env.get(SECRET_ID_ENV),
                                      mount_point=self.path or "approle")
        else:
            client.auth.jwt.jwt_login(role=self.role, jwt=self._jwt(env), path=self.path or "jwt")


_lock = threading.Lock()
_clients: dict[tuple[str, ...], Any] = {}


def vault_client(addr: str, auth: VaultAuth, env: Mapping[str, str] | None = None, namespace: str | None = None):
    """A logged-in hvac client that follows no redirect (the token is never sent to another host)."""
    hvac = import_hvac()
    env = os.environ if env is None else env
    with _lock:
        key = (addr, namespace or "", *auth.material(env))
        if key not in _clients:
            # strict_http: LIST is sent as `GET ?list=true` (documented by Vault; proxies and load
            # balancers that refuse the LIST verb pass it).
            client = hvac.Client(url=addr, namespace=namespace or None, timeout=TIMEOUT, allow_redirects=False,
                                 strict_http=True)
            auth.login(client, env)
            _clients[key] = client
        return _clients[key]


def host_of(addr: str) -> str:
    parts = urlsplit(addr)
    return parts.netloc or addr


class VaultSource(PerTargetSource):
    label, source, fields = "vault", SOURCE, ("mount", "kv_version")

    def __init__(self, *, addr: str | None, auth: VaultAuth | None = None, mounts: Iterable[str] = (),
                 versions: bool = False, namespace: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.addr = (addr or "").rstrip("/")
        self.auth = auth or VaultAuth()
        self.env = os.environ if env is None else env
        self.mounts = [m.strip("/") for m in mounts if m and m.strip("/")]
        self.versions = versions
        self.namespace = namespace or None

    def check(self) -> None:
        if not self.addr:
            raise KeysweepError(f"no Vault address: pass --addr or set {ADDR_ENV}")
        parts = urlsplit(self.addr)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KeysweepError(f"Vault address {self.addr!r}: expected an http(s) URL, e.g. https://vault:8200")
        self.auth.check(self.env)
        import_hvac()

    def _client(self):
        return vault_client(self.addr, self.auth, self.env, self.namespace)

    def _access(self) -> dict[str, Any]:
        access = {**self.auth.access(), "namespace": self.namespace}
        access = {k: v for k, v in access.items() if v}
        return {ACCESS: access} if access else {}

    # -- mounts -------------------------------------------------------------------------------
    def _mounts(self, run: SourceRun) -> dict[str, int]:
        client = self._client()
        try:
            found = kv_mounts(client.adapter.get("/v1/sys/mounts"))
        except Exception as exc:
            if type(exc).__name__ != "Forbidden":
                raise
            try:
                found = kv_mounts(client.adapter.get("/v1/sys/internal/ui/mounts"))
            except Exception as inner:
                run.error(f"vault {host_of(self.addr)}: cannot list mounts (sys/mounts: {vault_error(exc)}; "
                          f"sys/internal/ui/mounts: {vault_error(inner)})")
                found = {}
        if not self.mounts:
            return found
        # Named mounts: their KV version from the listing, else asked of the mount itself.
        chosen = {}
        for mount in self.mounts:
            if mount in found:
                chosen[mount] = found[mount]
                continue
            try:
                answer = client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
                data = (answer.get("data") if isinstance(answer, dict) else None) or {}
                if data.get("type") not in ("kv", "generic"):
                    raise KeysweepError(f"a {data.get('type') or 'unknown'} mount")
                options = data.get("options") or {}
                chosen[mount] = 2 if str(options.get("version") or "1") == "2" else 1
            except Exception as exc:
                run.error(f"vault {host_of(self.addr)} {mount}: not a KV mount the token can see ({vault_error(exc)})")
        return chosen

    async def targets(self, run: SourceRun) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        try:
            mounts = await asyncio.to_thread(self._mounts, run)
        except Exception as exc:
            run.error(f"vault {host_of(self.addr)}: {vault_error(exc)}")
            return
        for mount, kv_version in mounts.items():
            problem = path_problem(mount)
            if problem:
                run.error(f"vault {host_of(self.addr)} {terminal_safe(mount)}/: not read: a mount listed with {problem}, "
                          "which Vault's API cannot be asked for as it is")
                continue
            yield f"vault {host_of(self.addr)} {mount}", {"mount": mount, "kv_version": kv_version}

    def knows(self, *, mount: Any, kv_version: Any) -> bool:
        return isinstance(mount, str) and kv_version in (1, 2) and (not self.mounts or mount in self.mounts)

    def scope(self, *, mount: str, kv_version: int) -> str:
        return f"vault:{host_of(self.addr)}:{mount}"

    # -- walking --------------------------------------------------------------------------------
    def _list(self, run: SourceRun, mount: str, kv_version: int, folder: str) -> list[str]:
        client = self._client()
        try:
            if kv_version == 2:
                answer = client.secrets.kv.v2.list_secrets(path=folder, mount_point=mount)
            else:
                answer = client.secrets.kv.v1.list_secrets(path=folder, mount_point=mount)
            keys = (answer_body(answer).get("data") or {}).get("keys") or []
            if not isinstance(keys, list):
                raise KeysweepError("its keys are not a list")
        except Exception as exc:
            if type(exc).__name__ == "InvalidPath":  # an empty mount or folder answers 404
                return []
            run.error(f"vault {host_of(self.addr)} {mount}/{terminal_safe(folder)}: cannot list ({vault_error(exc)})")
            return []
        return list(dict.fromkeys(k for k in keys if isinstance(k, str)))  # each name once, in order

    def walk(self, run: SourceRun, mount: str, kv_version: int) -> Iterable[str]:
        """Every secret path of the mount (breadth first), each once; each folder listed once."""
        host = host_of(self.addr)
        folders, listed, seen, past_bound = deque([""]), {""}, 0, False
        while folders:
            folder = folders.popleft()
            for key in self._list(run, mount, kv_version, folder):
                path = folder + key
                problem = listed_name_problem(key)
                if problem:
                    run.error(f"vault {host} {mount}/{terminal_safe(path)}: not read: listed with {problem}, "
                              "which Vault's API cannot be asked for as it is")
                elif key.endswith("/"):
                    if path in listed:
                        continue
                    if path.count("/") > MAX_DEPTH:
                        run.error(f"vault {host} {mount}/{terminal_safe(path)}: not read: more than {MAX_DEPTH} "
                                  "folders deep")
                        continue
                    if len(listed) >= MAX_FOLDERS:  # those found so far are listed, no more
                        if not past_bound:
                            run.error(f"vault {host} {mount}: more than {MAX_FOLDERS} folders, the rest not read")
                        past_bound = True
                        continue
                    listed.add(path)
                    folders.append(path)
                else:
                    seen += 1
                    if seen > MAX_SECRETS:
                        run.error(f"vault {host} {mount}: more than {MAX_SECRETS} secrets, the rest not read")
                        return
                    yield path

    def read(self, run: SourceRun, scope: str, already: set[str], *, mount: str, kv_version: int) -> Unit:
        unit = Unit(source=SOURCE, scope=scope)
        for path in self.walk(run, mount, kv_version):
            try:
                if kv_version == 2:
                    self._read_v2(unit, mount, path, already)
                else:
                    self._read_v1(unit, mount, path)
            except Exception as exc:
                run.error(f"vault {host_of(self.addr)} {mount}/{terminal_safe(path)}: {vault_error(exc)}")
        return unit

    def _group(self, unit: Unit, mount: str, kv_version: int, path: str, data: Any, version: int | None,
               metadata: dict[str, Any], object_id: str | None) -> None:
        entries = [Entry(text, {"source": SOURCE, "addr": self.addr, "mount": mount, "kv_version": kv_version,
                                "path": path, "key": key, "version": version,
                                "resource": describe(mount, path, key, version), **self._access()},
                         metadata)
                   for key, text in secret_entries(data)]
        if entries:
            unit.groups.append(ValueGroup(SOURCE, entries, object_id))
        elif object_id:
            unit.scanned_objects.append(object_id)

    def _read_v1(self, unit: Unit, mount: str, path: str) -> None:
        answer = self._client().secrets.kv.v1.read_secret(path=path, mount_point=mount)
        self._group(unit, mount, 1, path, answer_body(answer).get("data"), None, {}, None)

    def _read_v2(self, unit: Unit, mount: str, path: str, already: set[str]) -> None:
        kv = self._client().secrets.kv.v2
        try:
            meta = answer_body(kv.read_secret_metadata(path=path, mount_point=mount)).get("data") or {}
        except Exception as exc:
            if type(exc).__name__ != "Forbidden":
                raise
            meta = {}  # a policy may allow reading data but not metadata: read the current version
        current = meta.get("current_version")
        if meta:
            wanted = live_versions(meta) if self.versions else [current] if current in live_versions(meta) else []
        else:
            wanted = [None]
        custom = meta.get("custom_metadata") if isinstance(meta.get("custom_metadata"), dict) else None
        for version in wanted:
            object_id = f"{path}@{version}" if version is not None else None
            if object_id and object_id in already:
                continue
            answer = kv.read_secret_version(path=path, version=version, mount_point=mount,
                                            raise_on_deleted_version=True)
            body = answer_body(answer).get("data") or {}
            info = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            read = info.get("version") if isinstance(info.get("version"), int) else version
            tags = custom or (info.get("custom_metadata") if isinstance(info.get("custom_metadata"), dict) else None)
            versions = meta.get("versions") if isinstance(meta.get("versions"), dict) else {}
            metadata = {k: v for k, v in {
                "version": read, "current_version": current, "created_at": iso(info.get("created_time")),
                "updated_at": iso(meta.get("updated_time")), "versions": len(versions) or None,
                "tags": tags or None,
            }.items() if v is not None}
            self._group(unit, mount, 2, path, body.get("data"), read, metadata,
                        f"{path}@{read}" if read is not None else None)


def read_secret(locator: dict[str, Any], env: Mapping[str, str] | None = None) -> bytes | None:
    """The `KEY=value` text the scan matched, read again from the same version."""
    env = os.environ if env is None else env
    access = locator.get(ACCESS) if isinstance(locator.get(ACCESS), dict) else {}
    addr = str(locator.get("addr") or "")
    auth = VaultAuth.from_access(access)
    mount, path, key = locator.get("mount"), locator.get("path"), locator.get("key")
    if not addr or not mount or not path or key is None:
        return None
    try:
        auth.check(env)
    except KeysweepError:
        return None
    kv = vault_client(addr, auth, env, access.get("namespace")).secrets.kv
    if locator.get("kv_version") == 2:
        answer = kv.v2.read_secret_version(path=str(path), version=locator.get("version"), mount_point=str(mount),
                                           raise_on_deleted_version=True)
        data = ((answer or {}).get("data") or {}).get("data")
    else:
        data = (kv.v1.read_secret(path=str(path), mount_point=str(mount)) or {}).get("data")
    for entry_key, text in secret_entries(data):
        if entry_key == key:
            return text.encode("utf-8")
    return None
