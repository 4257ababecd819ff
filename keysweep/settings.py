"""Configuration: `keysweep.toml` (or `--config`) plus each ecosystem's own environment variables,
so existing setups work and tests can point every provider at 127.0.0.1.

Each provider's default endpoint and the names of the variables that override it and hold its
admin credential are on its record (`keysweep/providers/<name>.py`: `base_url`, `base_url_env`,
`admin_key_env`); a provider that names none uses KEYSWEEP_<PROVIDER>_BASE_URL and
KEYSWEEP_<PROVIDER>_ADMIN_KEY. Those names are a configuration contract: never renamed.

`[providers.<name>]` in keysweep.toml may set `base_url`, `admin_key_env` (the name of an
environment variable holding the admin key — never the key itself) and `rate_limit` (requests/s).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple
from urllib.parse import urlsplit

from keysweep.errors import KeysweepError
from keysweep.providers import provider as provider_record
from keysweep.safefs import RefusedFile, read_text

CONFIG_FILE = "keysweep.toml"
OWNERS_FILE = "keysweep-owners.toml"


def base_url_env(provider: str) -> str:
    """The environment variable that overrides `provider`'s endpoint (its record's, else keysweep's own)."""
    return provider_record(provider).env_name_for_base_url()


def admin_key_env(provider: str) -> str:
    """The environment variable holding `provider`'s admin credential (its record's, else keysweep's own)."""
    return provider_record(provider).env_name_for_admin_key()


@dataclass
class Settings:
    config: dict[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    config_path: Path | None = None

    def provider(self, name: str) -> dict[str, Any]:
        return dict(self.config.get("providers", {}).get(name, {}))

    def base_url(self, provider: str) -> str | None:
        """Environment first (so a test or a proxy can redirect), then keysweep.toml, then the default."""
        value = self.env.get(base_url_env(provider)) or self.provider(provider).get("base_url") \
            or provider_record(provider).base_url
        return value.rstrip("/") if value else None

    def admin_key(self, provider: str) -> str | None:
        env_name = self.provider(provider).get("admin_key_env") or admin_key_env(provider)
        return self.env.get(env_name) or None

    def rate_limit(self, provider: str, default: float = 10.0) -> float:
        return float(self.provider(provider).get("rate_limit", default))

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.config.get(name, {}))


def load_settings(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """`--config PATH`, else ./keysweep.toml if present, else defaults. Every value is checked here,
    so a bad one is a one-line error (exit 2) before any work or network call."""
    env = os.environ if env is None else env
    candidate = Path(path) if path else Path.cwd() / CONFIG_FILE
    if not candidate.exists():
        if path:
            raise KeysweepError(f"{candidate}: no such configuration file")
        return Settings(env=env)
    config = read_toml(candidate, "configuration")
    validate_config(config, str(candidate))
    return Settings(config=config, env=env, config_path=candidate)


# A configuration file is small; anything bigger (or a FIFO, a device) is refused, never read.
MAX_CONFIG_BYTES = 1024 * 1024


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file keysweep is told to read (keysweep.toml, the owners and policy files), or a
    one-line KeysweepError naming it: not a regular file, too big, unreadable, malformed."""
    try:
        # Checked and read by keysweep.safefs: the user named it, so a link is followed, but a FIFO
        # swapped in after the check still cannot block the open.
        text = read_text(path, MAX_CONFIG_BYTES, follow_symlinks=True)
    except RefusedFile as exc:
        raise KeysweepError(f"{path}: cannot read {what}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise KeysweepError(f"{path}: cannot read {what}: {reason}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeysweepError(f"{path}: malformed TOML: {exc}") from None


def owner_tag_names(settings: "Settings | None" = None) -> tuple[str, ...]:
    """Every name listed under the owners file's `[tags]` (owner, team, purpose), lowercased: what a
    scan keeps as owner hints besides its built-in names. The owners file is the one `keysweep
    owners` reads by default (`[owners] file`, ./keysweep-owners.toml, beside keysweep.toml); none,
    or one that cannot be read, adds nothing here (`keysweep owners` reports its errors)."""
    candidates: list[Path] = []
    configured = settings.section("owners").get("file") if settings is not None else None
    if isinstance(configured, str) and configured:
        candidates.append((settings.config_path.parent if settings.config_path else Path.cwd()) / configured)
    candidates.append(Path.cwd() / OWNERS_FILE)
    if settings is not None and settings.config_path:
        candidates.append(settings.config_path.parent / OWNERS_FILE)
    for candidate in candidates:
        if candidate.is_file():
            try:
                table = read_toml(candidate, "owners file").get("tags")
            except KeysweepError:
                return ()
            if not isinstance(table, dict):
                return ()
            return tuple(dict.fromkeys(str(name).strip().lower() for kind in ("owner", "team", "purpose")
                                       for name in (table.get(kind) if isinstance(table.get(kind), list) else [])
                                       if isinstance(name, str) and name.strip()))
    return ()


# -- the schema of keysweep.toml ------------------------------------------------------------------
# Every key keysweep reads is listed here with what it must be; anything else is refused, so a
# typo (`rate_limt`) is an error and not a silently ignored setting. Add new keys here.

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_env_name(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) is not None


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


class Check(NamedTuple):
    """What a key's value must be: the test, the words an error uses, and the same rule as JSON
    Schema (`keysweep schema config`, keysweep/schemas.py), kept side by side so they never drift."""

    predicate: Callable[[Any], bool]
    expected: str
    schema: dict[str, Any]


def _number(minimum: float, maximum: float | None = None, *, integer: bool = False,
            exclusive_minimum: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer" if integer else "number"}
    schema["exclusiveMinimum" if exclusive_minimum else "minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
STRING = Check(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string",
               {"type": "string", "pattern": r"\S"})
BOOL = Check(lambda v: isinstance(v, bool), "true or false", {"type": "boolean"})
URL = Check(_is_url, "an http(s) URL, e.g. \"https://host\"",
            {"type": "string", "pattern": r"^\s*[hH][tT][tT][pP][sS]?://[^/?#\s]+"})
ENV_NAME = Check(_is_env_name, "the name of an environment variable (letters, digits, _)",
                 {"type": "string", "pattern": ENV_NAME_PATTERN})
STRING_LIST = Check(_is_string_list, "a list of strings", {"type": "array", "items": {"type": "string"}})
NON_NEGATIVE_NUMBER = Check(lambda v: _is_number(v) and v >= 0, "a number, 0 or more", _number(0))
POSITIVE_INT = Check(lambda v: _is_int(v) and 1 <= v <= 1024, "a whole number from 1 to 1024", _number(1, 1024, integer=True))
NON_NEGATIVE_INT = Check(lambda v: _is_int(v) and v >= 0, "a whole number, 0 or more", _number(0, integer=True))

# Bounds keep every value from stalling a run: a rate below one request per 100 s, or a timeout
# above an hour, is a mistake rather than a wish.
RATE = Check(lambda v: _is_number(v) and 0.01 <= v <= 100_000, "a number of requests per second from 0.01 to 100000",
             _number(0.01, 100_000))
TIMEOUT = Check(lambda v: _is_number(v) and 0 < v <= 3600, "a number of seconds greater than 0, at most 3600",
                _number(0, 3600, exclusive_minimum=True))
WAIT = Check(lambda v: _is_number(v) and 0 <= v <= 3600, "a number of seconds from 0 to 3600", _number(0, 3600))
# A GitHub App's id (a number) or client id (a string such as "Iv23li…"): GitHub takes either as `iss`.
APP_ID = Check(lambda v: (_is_int(v) and v > 0) or (isinstance(v, str) and v.strip() != ""),
               "an app id (a number) or client id (a string)",
               {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"\S"}]})
ATTEMPTS = Check(lambda v: _is_int(v) and 1 <= v <= 100, "a whole number from 1 to 100", _number(1, 100, integer=True))

PROVIDER_KEYS: dict[str, Check] = {
    "base_url": URL,
    "admin_key_env": ENV_NAME,
    "rate_limit": RATE,
    "concurrency": POSITIVE_INT,
    "confirm_concurrency": POSITIVE_INT,
    "revoke_rate": RATE,
    "revoke_burst": Check(lambda v: _is_number(v) and 1 <= v <= 10_000, "a number from 1 to 10000", _number(1, 10_000)),
}
# Keys only one provider's revoker reads.
PROVIDER_ONLY_KEYS: dict[str, dict[str, Check]] = {
    "aws": {"delete_after_days": Check(NON_NEGATIVE_NUMBER.predicate, "a number of days, 0 or more", _number(0)),
            # aws-rotate into GCP Secret Manager: disable the version replaced once the new key works.
            "disable_replaced_version": BOOL},
}
NOTIFY_TARGET_KEYS: dict[str, Check] = {
    "webhook": URL,
    "webhook_env": ENV_NAME,
    "format": Check(lambda v: v in ("slack", "json"), "\"slack\" or \"json\"", {"enum": ["slack", "json"]}),
    # The variable holding the HMAC secret webhooks are signed with (default KEYSWEEP_WEBHOOK_SECRET).
    "signing_secret_env": ENV_NAME,
}
SECTION_KEYS: dict[str, dict[str, Check]] = {
    "verify": {"timeout": TIMEOUT, "attempts": ATTEMPTS, "max_retry_after": WAIT},
    "owners": {"file": STRING, "timeout": TIMEOUT},
    # Distributed sweeps on Celery (keysweep/distributed, docs/scale-out.md).
    "distributed": {"broker": STRING, "queue": STRING, "result_backend": STRING,
                    "visibility_timeout": Check(lambda v: _is_int(v) and 1 <= v <= 86_400,
                                                "a whole number of seconds from 1 to 86400", _number(1, 86_400, integer=True)),
                    "max_attempts": ATTEMPTS, "rate_limit_redis": STRING},
    # Scheduled sweeps on Celery beat (`keysweep beat`, keysweep/distributed/schedule.py).
    "schedule": {"sweep": STRING,
                 "every": Check(lambda v: _is_number(v) and 1 <= v <= 31 * 86_400,
                                "a number of seconds from 1 to 2678400", _number(1, 31 * 86_400)),
                 "args": STRING_LIST},
}
SOURCE_KEYS: dict[str, Check] = {"git": STRING_LIST, "max_age_days": NON_NEGATIVE_INT, "cache_dir": STRING}
SOURCE_TABLE_KEYS: dict[str, dict[str, Check]] = {
    "github": {"orgs": STRING_LIST, "users": STRING_LIST, "repos": STRING_LIST, "api_url": URL,
               "token_env": ENV_NAME, "forks": BOOL, "archived": BOOL, "clone": BOOL, "actions": BOOL,
               "dependabot": BOOL, "codespaces": BOOL, "app_id": APP_ID, "app_key_file": STRING},
    "gitlab": {"groups": STRING_LIST, "projects": STRING_LIST, "api_url": URL, "url": URL, "token_env": ENV_NAME, "forks": BOOL,
               "archived": BOOL, "clone": BOOL, "variables": BOOL, "instance": BOOL},
    "aws": {"profiles": STRING_LIST, "regions": STRING_LIST, "endpoint_url": URL, "services": STRING_LIST,
            "role_arn": STRING, "versions": BOOL},
    "kubernetes": {"kubeconfig": STRING, "contexts": STRING_LIST, "namespaces": STRING_LIST, "kinds": STRING_LIST},
    "gcp": {"projects": STRING_LIST, "endpoint_url": URL, "locations": STRING_LIST},
    "azure": {"vault_urls": STRING_LIST, "versions": BOOL},
    "vault": {"addr": URL, "token_env": ENV_NAME, "mounts": STRING_LIST, "versions": BOOL, "namespace": STRING,
              "auth": STRING, "auth_path": STRING, "role": STRING, "jwt_file": STRING},
}
TOP_LEVEL = ("sources", "providers", "policy", "notify", "verify", "owners", "distributed", "schedule")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_table(table: Any, checks: dict[str, Check], where: str, section: str) -> None:
    """Every key of `table` known and of the expected kind, or a KeysweepError naming it."""
    if not isinstance(table, dict):
        raise KeysweepError(f"{where}: {section}: expected a table")
    unknown = sorted(set(table) - set(checks))
    if unknown:
        raise KeysweepError(f"{where}: {section} has unknown key(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(checks))})")
    for key, value in table.items():
        if not checks[key].predicate(value):
            raise KeysweepError(f"{where}: {section} {key}: expected {checks[key].expected}, not {_shown(value)}")


def validate_config(config: dict[str, Any], where: str) -> None:
    """Check a parsed keysweep.toml against the schema above; raises KeysweepError naming the file,
    the key and what is expected."""
    for name, value in config.items():
        if name not in TOP_LEVEL:
            raise KeysweepError(f"{where}: [{name}]: unknown section (known: {', '.join(TOP_LEVEL)})")
        if not isinstance(value, dict):
            raise KeysweepError(f"{where}: {name}: expected a table [{name}]")
    for provider, table in config.get("providers", {}).items():
        _check_table(table, {**PROVIDER_KEYS, **PROVIDER_ONLY_KEYS.get(provider, {})}, where, f"[providers.{provider}]")
    for name, checks in SECTION_KEYS.items():
        if name in config:
            _check_table(config[name], checks, where, f"[{name}]")
    if "notify" in config:
        _validate_notify(config["notify"], where)
    if "sources" in config:
        _validate_sources(config["sources"], where)
    if "policy" in config:
        # The policy's own rules (actions, revokers, globs) live with the policy.
        from keysweep.remediation.policy import parse  # noqa: PLC0415  (the policy reads its files through this module)

        parse(config["policy"], f"{where}: [policy]")


def _validate_notify(notify: dict[str, Any], where: str) -> None:
    default = {key: value for key, value in notify.items() if key not in ("teams", "owners")}
    _check_table(default, NOTIFY_TARGET_KEYS, where, "[notify]")
    for group in ("teams", "owners"):
        entries = notify.get(group, {})
        if not isinstance(entries, dict):
            raise KeysweepError(f"{where}: [notify] {group}: expected a table of [notify.{group}.<name>] tables")
        for name, entry in entries.items():
            _check_table(entry, NOTIFY_TARGET_KEYS, where, f"[notify.{group}.{name}]")


def _validate_sources(sources: dict[str, Any], where: str) -> None:
    simple = {key: value for key, value in sources.items() if key not in SOURCE_TABLE_KEYS}
    _check_table(simple, SOURCE_KEYS, where, "[sources]")
    for name, checks in SOURCE_TABLE_KEYS.items():
        value = sources.get(name, [])
        tables = [value] if isinstance(value, dict) else value
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise KeysweepError(f"{where}: [sources.{name}]: expected a table or an array of tables")
        for table in tables:
            _check_table(table, checks, where, f"[sources.{name}]")
