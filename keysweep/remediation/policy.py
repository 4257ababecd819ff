"""Policy as code: which findings may be revoked automatically, which need an approver, which are
never touched. `keysweep-policy.toml` (or `--policy PATH`, or `[policy]` in keysweep.toml):

    default = "approve"             # auto | approve | never, for findings no rule matches

    [[rules]]
    name = "live tokens in public repos"
    action = "auto"
    providers = ["github", "gitlab", "slack"]       # every listed field must match; lists are "any of"
    status = ["live"]                               # verification status
    sources = ["git"]
    repos = ["*github.com/acme/*"]                  # globs over the occurrence's repo
    paths = ["*.env"]
    rule_ids = ["github.*"]
    teams = ["payments"]
    long_lived = true
    revoker = "notify"                              # optional: force a revoker
    rotate_to = "ssm:/ci/deploy-key"                # with revoker = "aws-rotate": where the new key goes

    [[rules]]
    name = "break-glass keys"
    action = "never"
    paths = ["ops/break-glass/*"]

The first matching rule decides. A configured policy gates every `keysweep revoke --execute`, not
only `--policy` runs: `approve` needs `--approve` (the actor approves), and `never` holds even
against a person selecting the finding by id, unless `--force` (docs/revocation.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from keysweep.errors import KeysweepError
from keysweep.revokers import BUILTIN, ENTRY_POINT_GROUP
from keysweep.revokers.aws_rotate import parse_target
from keysweep.settings import read_toml

POLICY_FILE = "keysweep-policy.toml"
ACTIONS = ("auto", "approve", "never")
LIST_FIELDS = ("providers", "status", "sources", "repos", "paths", "rule_ids", "teams", "owners")


@dataclass
class Rule:
    name: str
    action: str
    match: dict[str, list[str]] = field(default_factory=dict)
    long_lived: bool | None = None
    revoker: str | None = None
    rotate_to: str | None = None


@dataclass
class Decision:
    action: str
    rule: str | None
    revoker: str | None = None
    rotate_to: str | None = None


@dataclass
class Policy:
    rules: list[Rule]
    default: str = "approve"
    origin: str = "built-in"

    def decide(self, finding) -> Decision:
        for rule in self.rules:
            if _matches(rule, finding):
                return Decision(rule.action, rule.name, rule.revoker, rule.rotate_to)
        return Decision(self.default, None)


def _any(patterns: list[str], values: list[str]) -> bool:
    return any(fnmatchcase(value.lower(), pattern.lower()) for pattern in patterns for value in values if value)


def _matches(rule: Rule, finding) -> bool:
    owner = finding.owner or {}
    facts = {
        "providers": [finding.provider],
        "status": [((finding.verification or {}).get("status") or "unknown")],
        "sources": [o.source for o in finding.occurrences],
        "repos": [o.repo or "" for o in finding.occurrences],
        "paths": [o.path or "" for o in finding.occurrences],
        "rule_ids": [finding.rule_id],
        "teams": [owner.get("team") or ""],
        "owners": [owner.get("name") or "", owner.get("contact") or ""],
    }
    for name, patterns in rule.match.items():
        if not _any(patterns, facts[name]):
            return False
    if rule.long_lived is not None and bool(finding.long_lived) != rule.long_lived:
        return False
    return True


POLICY_KEYS = ("default", "rules", "apply_after_sweep")
RULE_KEYS = ("name", "action", "long_lived", "revoker", "rotate_to") + LIST_FIELDS


def _revoker_names() -> list[str]:
    """Built-in revokers and installed plugins, by name (nothing imported)."""
    return sorted(set(BUILTIN) | {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)})


def _patterns(value: Any, where: str) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise KeysweepError(f"{where}: expected a string or a non-empty list of strings, not {value!r:.40}")


def _parse_rule(raw: Any, index: int, origin: str) -> Rule:
    """One [[rules]] table, every value checked (a wrong type fails here, not mid-run)."""
    where = f"{origin}: rule {index}"
    if not isinstance(raw, dict):
        raise KeysweepError(f"{where}: expected a [[rules]] table")
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        raise KeysweepError(f"{where}: unknown field(s) {', '.join(unknown)} (known: {', '.join(RULE_KEYS)})")
    action = raw.get("action")
    if action not in ACTIONS:
        raise KeysweepError(f"{where}: action: expected one of {', '.join(ACTIONS)}, not {action!r:.40}")
    name = raw.get("name", f"rule {index}")
    if not isinstance(name, str) or not name.strip():
        raise KeysweepError(f"{where}: name: expected a non-empty string")
    match = {field_name: _patterns(raw[field_name], f"{where}: {field_name}")
             for field_name in LIST_FIELDS if field_name in raw}
    long_lived = raw.get("long_lived")
    if long_lived is not None and not isinstance(long_lived, bool):
        raise KeysweepError(f"{where}: long_lived: expected true or false, not {long_lived!r:.40}")
    revoker = raw.get("revoker")
    if revoker is not None:
        known = _revoker_names()
        if revoker not in known:
            raise KeysweepError(f"{where}: revoker: unknown revoker {revoker!r:.40} (known: {', '.join(known)})")
    rotate_to = raw.get("rotate_to")
    if rotate_to is not None:
        if not isinstance(rotate_to, str):
            raise KeysweepError(f"{where}: rotate_to: expected a string such as \"ssm:/ci/deploy-key\"")
        try:
            parse_target(rotate_to)
        except ValueError as exc:
            raise KeysweepError(f"{where}: {exc}") from None
    return Rule(name=name, action=action, match=match, long_lived=long_lived, revoker=revoker, rotate_to=rotate_to)


def parse(data: dict[str, Any], origin: str) -> Policy:
    unknown = sorted(set(data) - set(POLICY_KEYS))
    if unknown:
        raise KeysweepError(f"{origin}: unknown key(s) {', '.join(unknown)} (known: {', '.join(POLICY_KEYS)})")
    default = data.get("default", "approve")
    if default not in ACTIONS:
        raise KeysweepError(f"{origin}: default must be one of {', '.join(ACTIONS)}, not {default!r:.40}")
    if "apply_after_sweep" in data and not isinstance(data["apply_after_sweep"], bool):
        raise KeysweepError(f"{origin}: apply_after_sweep: expected true or false, not {data['apply_after_sweep']!r:.40}")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise KeysweepError(f"{origin}: rules: expected [[rules]] tables")
    rules = [_parse_rule(raw, index, origin) for index, raw in enumerate(raw_rules, 1)]
    return Policy(rules, default, origin)


def load(path: str | Path | None, settings=None) -> Policy | None:
    """The policy from PATH, else ./keysweep-policy.toml, else `[policy]` in keysweep.toml, else None."""
    candidate = Path(path) if path else Path.cwd() / POLICY_FILE
    if candidate.exists():
        return parse(read_toml(candidate, "policy file"), str(candidate))
    if path:
        raise KeysweepError(f"{candidate}: no such policy file")
    if settings is not None and settings.section("policy"):
        return parse(settings.section("policy"), f"{settings.config_path or 'keysweep.toml'}: [policy]")
    return None
