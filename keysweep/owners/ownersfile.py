"""`keysweep-owners.toml`: the organisation's own word on who owns what (docs/owners.md).

    [[owner]]
    name = "Jane Doe"
    team = "ml-platform"
    purpose = "RAG service: embeddings"
    contact = "jane@example.com"
    confidence = 0.95                  # optional
    [owner.match]                      # every condition given must hold
    repo = "*/chatbot"                 # glob on the repository (path or URL; or its last component)
    path = "services/rag/**"           # glob on the file path (no "/" → any depth)
    provider = "github"
    rule = "github.*"
    account = "123456789012"           # cloud account / org / team id of the key
    secret_store = "arn:aws:secretsmanager:*:*:secret:prod/rag/*"   # also k8s:<ctx>/<ns>/<kind>/<name>, vault:<mount>/<path>,
                                                                   # azure-kv:<vault host>/<secret>
    ci_scope = "gitlab:acme/chatbot:production"
    key_id = "key_*"

Each condition takes a string or a list (any of). An entry matching a finding is a candidate; the
more conditions it names, the more specific it is, which breaks ties between entries.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable
from urllib.parse import urlsplit

from keysweep.errors import KeysweepError
from keysweep.owners.model import Candidate
from keysweep.providers.aws import account_id
from keysweep.settings import OWNERS_FILE, read_toml

if TYPE_CHECKING:
    from keysweep.models import Finding, Occurrence
    from keysweep.owners.model import OwnerContext

TAG_KINDS = ("owner", "team", "purpose")
MATCH_KEYS = ("repo", "path", "provider", "rule", "account", "secret_store", "ci_scope", "key_id")
DEFAULT_CONFIDENCE = 0.95


def glob_to_regex(pattern: str, backslash_escapes: bool = False) -> str:
    """Regex text for a path glob: `**` spans directories, `*` and `?` stay within one path
    component. CODEOWNERS also reads `\\x` as a literal `x`."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif backslash_escapes and pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern:
    return re.compile(glob_to_regex(pattern) + r"\Z", re.DOTALL)


def glob_match(pattern: str, value: str | None) -> bool:
    return value is not None and bool(glob_regex(pattern).match(value))


def _any_glob(patterns: list[str], values: Iterable[str | None], anywhere: bool = False) -> bool:
    for value in values:
        if not value:
            continue
        for pattern in patterns:
            if glob_match(pattern, value):
                return True
            if anywhere and "/" not in pattern.strip("/"):
                # A bare name matches the last component (a repo name, a file name at any depth).
                if glob_match(pattern.strip("/"), value.rstrip("/").rsplit("/", 1)[-1]):
                    return True
            elif anywhere and not pattern.startswith("/") and glob_match("**/" + pattern, value):
                return True
    return False


@dataclass
class OwnerRule:
    name: str
    team: str | None = None
    purpose: str | None = None
    contact: str | None = None
    confidence: float = DEFAULT_CONFIDENCE
    match: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""
    # The permissions the owner declares the key needs, in the provider's own names (GitHub scopes,
    # Slack scopes, AWS action patterns, …); a reach outside them is overprivileged. None: not declared.
    allowed: list[str] | None = None

    @property
    def specificity(self) -> int:
        return len(self.match)

    def matches(self, finding: "Finding", accounts: set[str]) -> list[str]:
        """The conditions that matched (all of them), or [] when this entry does not apply."""
        reasons: list[str] = []
        for key, patterns in self.match.items():
            if key == "provider":
                ok = finding.provider in patterns
            elif key == "rule":
                ok = any(glob_match(p, finding.rule_id) for p in patterns)
            elif key == "key_id":
                ok = any(glob_match(p, finding.key_id) for p in patterns)
            elif key == "account":
                ok = bool(accounts & set(patterns)) or any(glob_match(p, a) for p in patterns for a in accounts)
            else:
                ok = any(self._occurrence_matches(key, patterns, o) for o in finding.occurrences)
            if not ok:
                return []
            reasons.append(f"{key}={'|'.join(patterns)}")
        return reasons

    @staticmethod
    def _occurrence_matches(key: str, patterns: list[str], o: "Occurrence") -> bool:
        locator = o.locator or {}
        if key == "repo":
            return _any_glob(patterns, [o.repo, locator.get("repo"), locator.get("root")], anywhere=True)
        if key == "path":
            return _any_glob(patterns, [o.path], anywhere=True)
        if key == "secret_store":
            return _any_glob(patterns, [locator.get(k) for k in ("arn", "secret_arn", "name", "secret", "parameter",
                                                                 "function_arn", "function")] + store_places(o))
        if key == "ci_scope":
            return _any_glob(patterns, ci_scopes(o))
        return False


def store_places(o: "Occurrence") -> list[str]:
    """A Kubernetes object as `k8s:<context>/<namespace>/<kind>/<name>`, a Vault secret as
    `vault:<mount>/<path>`, a Key Vault secret as `azure-kv:<vault host>/<secret>`: what
    `secret_store` globs match besides ARNs and names."""
    locator = o.locator or {}
    if o.source == "kubernetes":
        return ["k8s:" + "/".join(str(locator.get(k) or "") for k in ("context", "namespace", "kind", "name"))]
    if o.source == "vault" and locator.get("mount") is not None:
        return [f"vault:{str(locator['mount']).strip('/')}/{locator.get('path') or ''}"]
    if o.source == "azure-keyvault" and locator.get("vault"):
        return [f"azure-kv:{urlsplit(str(locator['vault'])).netloc.lower()}/{locator.get('secret') or ''}"]
    return []


def ci_scopes(o: "Occurrence") -> list[str]:
    """`<platform>:<project, repo, group or org>:<environment or *>` of a CI variable occurrence."""
    locator = o.locator or {}
    if locator.get("ci_scope"):
        return [str(locator["ci_scope"])]
    if not locator.get("variable") and not (locator.get("secret") and locator.get("level")):
        return []
    gitlab = "gitlab" in (o.source or "") or "environment_scope" in locator or "project" in locator \
        or "group" in locator
    target = locator.get("repo") or locator.get("project") or locator.get("org") or locator.get("group") or ""
    environment = locator.get("environment") or locator.get("environment_scope") or "*"
    return [f"{'gitlab' if gitlab else 'github'}:{target}:{environment}"]


OWNER_KEYS = ("name", "team", "purpose", "contact", "confidence", "match", "allowed")


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise KeysweepError(f"{where}: expected a string or a non-empty list of strings, not {value!r:.40}")


def parse_owners(text: str, origin: str) -> list[OwnerRule]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeysweepError(f"{origin}: malformed TOML: {exc}") from None
    return owner_rules_from(data, origin)


class OwnerRules(list):
    """The [[owner]] entries of an owners file, and its [tags] table: more label, tag and custom
    metadata names that name an owner, a team or a purpose (besides the built-in ones)."""

    def __init__(self, rules: Iterable[OwnerRule] = (), tags: dict[str, tuple[str, ...]] | None = None) -> None:
        super().__init__(rules)
        self.tags: dict[str, tuple[str, ...]] = dict(tags or {})


def tag_names_from(data: dict[str, Any], origin: str) -> dict[str, tuple[str, ...]]:
    """`[tags]` of an owners file: `owner`, `team`, `purpose`, each a list of names (any case; a
    prefixed name such as `acme.io/steward` as written, a bare one also the last part of a prefixed one)."""
    table = data.get("tags", {})
    if not isinstance(table, dict):
        raise KeysweepError(f"{origin}: tags: expected a table [tags] with owner, team, purpose lists")
    unknown = sorted(set(table) - set(TAG_KINDS))
    if unknown:
        raise KeysweepError(f"{origin}: [tags] has unknown key(s) {', '.join(unknown)} (known: {', '.join(TAG_KINDS)})")
    names: dict[str, tuple[str, ...]] = {}
    for kind, value in table.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise KeysweepError(f"{origin}: [tags] {kind}: expected a list of names, not {value!r:.40}")
        names[kind] = tuple(dict.fromkeys(v.strip().lower() for v in value))
    return names


def owner_rules_from(data: dict[str, Any], origin: str) -> OwnerRules:
    """The [[owner]] entries of a parsed owners file, every value checked: a one-line
    KeysweepError names the file, the entry, the key and what is expected."""
    unknown_top = sorted(set(data) - {"owner", "owners", "tags"})
    if unknown_top:
        raise KeysweepError(f"{origin}: unknown key(s) {', '.join(unknown_top)} (expected [[owner]] tables and [tags])")
    entries = data.get("owner", data.get("owners", []))
    if not isinstance(entries, list):
        raise KeysweepError(f"{origin}: owner: expected [[owner]] tables (an array of tables)")
    rules: list[OwnerRule] = []
    for index, entry in enumerate(entries, 1):
        where = f"{origin}: owner #{index}"
        if not isinstance(entry, dict):
            raise KeysweepError(f"{where}: expected a table")
        unknown = set(entry) - set(OWNER_KEYS)
        if unknown:
            raise KeysweepError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(OWNER_KEYS)})")
        if not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise KeysweepError(f"{where}: name: a non-empty string is required")
        match = entry.get("match", {})
        if not isinstance(match, dict) or not match:
            raise KeysweepError(f"{where}: match: [owner.match] needs at least one of {', '.join(MATCH_KEYS)}")
        bad = set(match) - set(MATCH_KEYS)
        if bad:
            raise KeysweepError(f"{where}: unknown match key(s) {', '.join(sorted(bad))} (known: {', '.join(MATCH_KEYS)})")
        confidence = entry.get("confidence", DEFAULT_CONFIDENCE)
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
            raise KeysweepError(f"{where}: confidence: expected a number from 0 to 1, not {confidence!r:.40}")
        for key in ("team", "purpose", "contact"):
            if key in entry and not isinstance(entry[key], str):
                raise KeysweepError(f"{where}: {key}: expected a string, not {entry[key]!r:.40}")
        allowed = entry.get("allowed")
        if allowed is not None and (not isinstance(allowed, list)
                                    or not all(isinstance(v, str) and v.strip() for v in allowed)):
            raise KeysweepError(f"{where}: allowed: expected a list of permission names, not {allowed!r:.40}")
        rules.append(OwnerRule(
            name=entry["name"].strip(), team=entry.get("team"), purpose=entry.get("purpose"),
            contact=entry.get("contact"), confidence=float(confidence),
            match={key: _strings(value, f"{where}: match.{key}") for key, value in match.items()},
            origin=f"{origin} owner #{index}",
            allowed=[v.strip() for v in allowed] if allowed is not None else None))
    return OwnerRules(rules, tag_names_from(data, origin))


def load_owner_rules(path: str | Path | None, settings=None) -> OwnerRules:
    """`--owners-file`, else `[owners] file` in keysweep.toml, else ./keysweep-owners.toml, else
    one beside keysweep.toml. No file: no rules."""
    candidates: list[Path] = []
    if path:
        if not Path(path).exists():
            raise KeysweepError(f"{path}: no such owners file")
        candidates.append(Path(path))
    else:
        configured = settings.section("owners").get("file") if settings is not None else None
        if configured:
            base = settings.config_path.parent if settings.config_path else Path.cwd()
            configured_path = base / configured
            if not configured_path.exists():
                raise KeysweepError(f"{configured_path}: no such owners file (from keysweep.toml [owners] file)")
            candidates.append(configured_path)
        candidates.append(Path.cwd() / OWNERS_FILE)
        if settings is not None and settings.config_path:
            candidates.append(settings.config_path.parent / OWNERS_FILE)
    for candidate in candidates:
        if candidate.exists():
            return owner_rules_from(read_toml(candidate, "owners file"), str(candidate))
    return OwnerRules()


def finding_accounts(finding: "Finding") -> set[str]:
    """Account-like identifiers of a key: the AWS account decoded from its id, and what its last
    verification named (account, org, team)."""
    accounts: set[str] = set()
    if finding.provider == "aws" and finding.key_id:
        account = account_id(finding.key_id)
        if account:
            accounts.add(account)
    identity = (finding.verification or {}).get("identity") or {}
    for key in ("account", "org", "org_id", "team_id", "organization_id", "team"):
        if isinstance(identity.get(key), (str, int)):
            accounts.add(str(identity[key]))
    for org in identity.get("orgs") or []:
        if isinstance(org, dict) and org.get("id"):
            accounts.add(str(org["id"]))
    return accounts


async def resolve(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    accounts = finding_accounts(finding)
    candidates = []
    for rule in octx.owner_rules:
        reasons = rule.matches(finding, accounts)
        if reasons:
            candidates.append(Candidate(
                name=rule.name, team=rule.team, purpose=rule.purpose, source="owners-file",
                # More specific entries win ties between entries of equal stated confidence.
                confidence=min(1.0, rule.confidence + 0.001 * rule.specificity),
                evidence=f"{rule.origin} matched {', '.join(reasons)}", contact=rule.contact,
                details={"specificity": rule.specificity,
                         **({"allowed": rule.allowed} if rule.allowed is not None else {})}))
    return candidates
