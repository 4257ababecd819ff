"""Policy as code: which findings may be revoked automatically, which need an approver, which are
never touched. `keysweep-policy.toml` (or `--policy PATH`, or `[policy]` in keysweep.toml):

    default = "approve"             # auto | approve | never, for findings no rule matches

    [[rules]]
    name = "live AI keys in public repos"
    action = "auto"
    providers = ["openai", "anthropic", "github"]   # every listed field must match; lists are "any of"
    status = ["live"]                               # verification status
    sources = ["git"]
    repos = ["*github.com/acme/*"]                  # globs over the occurrence's repo
    paths = ["*.env"]
    rule_ids = ["openai.*"]
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

import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from keysweep.errors import KeysweepError

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


def parse(data: dict[str, Any], origin: str) -> Policy:
    default = data.get("default", "approve")
    if default not in ACTIONS:
        raise KeysweepError(f"{origin}: default must be one of {', '.join(ACTIONS)}, not {default!r}")
    rules = []
    for index, raw in enumerate(data.get("rules", []), 1):
        if not isinstance(raw, dict):
            raise KeysweepError(f"{origin}: rule {index} is not a table")
        action = raw.get("action")
        if action not in ACTIONS:
            raise KeysweepError(f"{origin}: rule {index} needs action = one of {', '.join(ACTIONS)}")
        unknown = set(raw) - set(LIST_FIELDS) - {"name", "action", "long_lived", "revoker", "rotate_to"}
        if unknown:
            raise KeysweepError(f"{origin}: rule {index}: unknown field(s) {', '.join(sorted(unknown))}")
        match = {}
        for name in LIST_FIELDS:
            if name in raw:
                value = raw[name]
                match[name] = [value] if isinstance(value, str) else [str(v) for v in value]
        rotate_to = raw.get("rotate_to")
        if rotate_to is not None:
            from keysweep.revokers.aws_rotate import parse_target

            try:
                parse_target(rotate_to)
            except ValueError as exc:
                raise KeysweepError(f"{origin}: rule {index}: {exc}") from None
        rules.append(Rule(name=str(raw.get("name", f"rule {index}")), action=action, match=match,
                          long_lived=raw.get("long_lived"), revoker=raw.get("revoker"), rotate_to=rotate_to))
    return Policy(rules, default, origin)


def load(path: str | Path | None, settings=None) -> Policy | None:
    """The policy from PATH, else ./keysweep-policy.toml, else `[policy]` in keysweep.toml, else None."""
    candidate = Path(path) if path else Path.cwd() / POLICY_FILE
    if candidate.exists():
        try:
            return parse(tomllib.loads(candidate.read_text(encoding="utf-8")), str(candidate))
        except tomllib.TOMLDecodeError as exc:
            raise KeysweepError(f"{candidate}: malformed TOML: {exc}") from None
        except OSError as exc:
            raise KeysweepError(f"{candidate}: cannot read: {exc}") from None
    if path:
        raise KeysweepError(f"{candidate}: no such policy file")
    if settings is not None and settings.section("policy"):
        return parse(settings.section("policy"), "keysweep.toml [policy]")
    return None
