"""JSON Schemas (draft 2020-12) of what keysweep writes and reads: `keysweep schema findings|config|
owners|policy`. The configuration schemas are built from the same tables the loaders check with
(keysweep/settings.py, keysweep/owners/ownersfile.py, keysweep/remediation/policy.py), so a key
added there is in the schema too; the findings schema is the contract of docs/output.md, which
grows by addition (objects stay open to new fields). TOML configs validate as the JSON they
parse to (check-jsonschema reads TOML). Pure data; nothing here reads a file.
"""

from __future__ import annotations

from typing import Any

from keysweep import __version__
from keysweep.owners.ownersfile import MATCH_KEYS, TAG_KINDS
from keysweep.remediation.policy import ACTIONS, LIST_FIELDS
from keysweep.settings import (
    NOTIFY_TARGET_KEYS,
    PROVIDER_KEYS,
    PROVIDER_ONLY_KEYS,
    SECTION_KEYS,
    SOURCE_KEYS,
    SOURCE_TABLE_KEYS,
    Check,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://keysweep.dev/schemas/"
NAMES = ("findings", "config", "owners", "policy")

NULL = {"type": "null"}
STRING = {"type": "string"}
TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T"}  # UTC, ISO 8601


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [NULL, schema]}


def _object(properties: dict[str, Any], required: tuple[str, ...] | list[str] | None = None, *,
            closed: bool = False, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": list(properties if required is None else required)}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def _root(name: str, title: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": DRAFT, "$id": f"{BASE_ID}{name}.json", "title": title,
            "description": f"keysweep {__version__}: {title}", **body}


# -- findings (docs/output.md) --------------------------------------------------------------------
def _finding_defs() -> dict[str, Any]:
    suppression = _object({
        "kind": {"enum": ["inline", "ignore_file"]},
        "file": _nullable(STRING), "line": _nullable({"type": "integer"}), "entry": _nullable(STRING),
        "marker": _nullable(STRING),
    }, required=["kind"])
    occurrence = _object({
        "source": {**STRING, "description": "git, git-message, dir, staged, or a remote source (docs/sources.md)"},
        "repo": _nullable(STRING), "path": _nullable(STRING), "line": _nullable({"type": "integer", "minimum": 0}),
        "commit": _nullable(STRING), "author_name": _nullable(STRING), "author_email": _nullable(STRING),
        "committed_at": _nullable(STRING),
        "locator": _nullable({"type": "object"}), "metadata": _nullable({"type": "object"}),
        "suppressed": {"type": "boolean"}, "suppression": _nullable(suppression),
    })
    verification = _object({
        "status": {"enum": ["live", "dead", "unknown"]},
        "checked_at": _nullable(STRING), "identity": _nullable({"type": "object"}), "error": _nullable(STRING),
    }, required=["status"])
    owner = _object({
        "name": _nullable(STRING), "team": _nullable(STRING), "purpose": _nullable(STRING),
        "source": _nullable(STRING), "confidence": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
        "evidence": {}, "contact": _nullable(STRING),
        "allowed": _nullable({"type": "array", "items": STRING,
                              "description": "the permissions its owners-file entry allows (docs/owners.md)"}),
    }, required=["name", "source"])
    remediation = _object({
        "state": _nullable(STRING), "leaked_at": _nullable(STRING), "detected_at": _nullable(STRING),
        "confirmed_dead_at": _nullable(STRING), "exposure_seconds": _nullable({"type": "number", "minimum": 0}),
    })
    managed = _object({
        "rotated_from": _nullable(STRING), "written_to": _nullable({"type": "object"}), "key_id": _nullable(STRING),
        "created_at": _nullable(STRING), "only_where_written": {"type": "boolean"},
    })
    replacement = _object({"kind": STRING, "summary": STRING, "docs_url": {"type": "string", "pattern": "^https?://"}})
    strings = {"type": "array", "items": STRING}
    reach = _object({
        "identity": _nullable(STRING), "permissions": _nullable(strings), "resources": _nullable(strings),
        "severity": {"enum": ["critical", "high", "medium", "low"]},
        "overprivileged": _nullable({"type": "boolean"}), "evidence": _nullable(STRING),
        "checked_at": _nullable(STRING), "flagged": strings, "access": _nullable({"enum": ["admin", "write", "read"]}),
        "unknown": strings, "details": {"type": "object"}, "allowed": _nullable(strings),
    }, required=["identity", "permissions", "resources", "severity", "overprivileged", "evidence", "checked_at"],
        description="what a live key can do, read when it verified live and kept after it died (docs/output.md)")
    finding = _object({
        "id": {"type": "string", "pattern": "^f_[0-9a-f]{16}$",
               "description": "stable id of the secret: one per provider and secret_sha256"},
        "rule_id": STRING, "rule_name": _nullable(STRING), "provider": STRING,
        "secret_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "redacted": STRING, "long_lived": {"type": "boolean"},
        "confidence": _nullable({"enum": ["high", "medium", "low"]}), "key_id": _nullable(STRING),
        "first_seen_at": _nullable(STRING), "last_seen_at": _nullable(STRING), "status": STRING,
        "occurrences": {"type": "array", "items": {"$ref": "#/$defs/occurrence"}},
        "verification": _nullable({"$ref": "#/$defs/verification"}),
        "owner": _nullable({"$ref": "#/$defs/owner"}),
        "remediation": {"$ref": "#/$defs/remediation"},
        "account_id": _nullable(STRING), "metadata": _nullable({"type": "object"}),
        "managed": _nullable({"$ref": "#/$defs/managed"}),
        "replacement": _nullable({"$ref": "#/$defs/replacement"}),
        "baselined": _nullable({"type": "boolean"}),
        "reach": _nullable({"$ref": "#/$defs/reach"}),
    }, description="One secret, wherever it was seen (a line of --format jsonl; docs/output.md). Fields are "
                   "added, never renamed or removed: consumers should accept fields they do not know.")
    return {"finding": finding, "occurrence": occurrence, "suppression": suppression, "verification": verification,
            "owner": owner, "remediation": remediation, "managed": managed, "replacement": replacement,
            "reach": reach}


def findings_schema() -> dict[str, Any]:
    """`--format json` of scan, sweep, findings, owners and verify: an array of findings. A line of
    `--format jsonl` is one `#/$defs/finding`."""
    return _root("findings", "findings (--format json: an array; each --format jsonl line is #/$defs/finding)", {
        "type": "array", "items": {"$ref": "#/$defs/finding"}, "$defs": _finding_defs()})


def finding_line_schema() -> dict[str, Any]:
    """One line of `--format jsonl`: the findings schema's `#/$defs/finding`."""
    return {"$schema": DRAFT, "$defs": _finding_defs(), "$ref": "#/$defs/finding"}


# -- configuration files --------------------------------------------------------------------------
def _table(checks: dict[str, Check], description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {key: {**check.schema, "description": check.expected} for key, check in checks.items()},
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


def _table_or_tables(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "array", "items": schema}]}


PATTERNS = {"anyOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}],
            "description": "a glob, or a non-empty list of globs (any of)"}


def _policy_body() -> dict[str, Any]:
    rule_properties: dict[str, Any] = {
        "name": {"type": "string", "pattern": r"\S"},
        "action": {"enum": list(ACTIONS)},
        "long_lived": {"type": "boolean"},
        "revoker": {"type": "string", "description": "a built-in revoker or an installed plugin's name"},
        "rotate_to": {"type": "string", "description": "with revoker = \"aws-rotate\": e.g. \"ssm:/ci/deploy-key\""},
        **{name: PATTERNS for name in LIST_FIELDS},
    }
    properties: dict[str, Any] = {
        "default": {"enum": list(ACTIONS), "description": "the action for findings no rule matches"},
        "rules": {"type": "array", "items": {"type": "object", "properties": rule_properties, "required": ["action"],
                                             "additionalProperties": False}},
        "apply_after_sweep": {"type": "boolean"},
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def policy_schema() -> dict[str, Any]:
    return _root("policy", "keysweep-policy.toml (or [policy] in keysweep.toml)", _policy_body())


def config_schema() -> dict[str, Any]:
    notify_target = _table(NOTIFY_TARGET_KEYS)
    notify = {**notify_target, "properties": {
        **notify_target["properties"],
        "teams": {"type": "object", "additionalProperties": {"$ref": "#/$defs/notify_target"}},
        "owners": {"type": "object", "additionalProperties": {"$ref": "#/$defs/notify_target"}},
    }}
    provider = _table(PROVIDER_KEYS)
    providers = {"type": "object", "additionalProperties": {"$ref": "#/$defs/provider"},
                 "properties": {name: _table({**PROVIDER_KEYS, **extra}) for name, extra in PROVIDER_ONLY_KEYS.items()}}
    sources = _table(SOURCE_KEYS)
    sources["properties"].update({name: _table_or_tables(_table(checks)) for name, checks in SOURCE_TABLE_KEYS.items()})
    properties: dict[str, Any] = {
        "sources": sources, "providers": providers, "policy": {"$ref": "#/$defs/policy"}, "notify": notify,
        **{name: _table(checks) for name, checks in SECTION_KEYS.items()},
    }
    return _root("config", "keysweep.toml", {
        "type": "object", "properties": properties, "additionalProperties": False,
        "$defs": {"provider": provider, "notify_target": notify_target, "policy": _policy_body()}})


def owners_schema() -> dict[str, Any]:
    match = {"type": "object", "properties": {key: PATTERNS for key in MATCH_KEYS}, "minProperties": 1,
             "additionalProperties": False, "description": "every condition given must hold"}
    entry_properties: dict[str, Any] = {
        "name": {"type": "string", "pattern": r"\S"}, "team": STRING, "purpose": STRING, "contact": STRING,
        "confidence": {"type": "number", "minimum": 0, "maximum": 1}, "match": match,
        "allowed": {"type": "array", "items": {"type": "string", "pattern": r"\S"},
                    "description": "the permissions the key needs, in its provider's names (docs/owners.md)"},
    }
    entry = {"type": "object", "properties": entry_properties, "required": ["name", "match"],
             "additionalProperties": False}
    entries = {"type": "array", "items": entry}
    names = {"type": "array", "items": {"type": "string", "pattern": r"\S"}}
    tags = {"type": "object", "properties": {kind: names for kind in TAG_KINDS}, "additionalProperties": False,
            "description": "more label, tag and custom-metadata names that name an owner, a team or a purpose"}
    return _root("owners", "keysweep-owners.toml", {
        "type": "object", "properties": {"owner": entries, "owners": entries, "tags": tags},
        "additionalProperties": False})


def schema(name: str) -> dict[str, Any]:
    return {"findings": findings_schema, "config": config_schema, "owners": owners_schema,
            "policy": policy_schema}[name]()
