"""A credential's status as every command counts and selects it — live, dead, unknown, unverified,
no_value — from its latest verification and keysweep's own confirmation. Its own module so that the
report (which counts) and the selection (which filters, and which the report selects through) share
one definition without importing each other."""

from __future__ import annotations

from datetime import datetime

from keysweep.clock import parse_utc
from keysweep.scanner.sources.remote import inventory_rules

# Verification outcomes a report counts, in this order (docs/output.md, "report"): every credential
# is in exactly one.
STATUSES = ("live", "dead", "unknown", "unverified", "no_value")


def parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    try:
        return parse_utc(moment)
    except ValueError:
        return None


def inventory_rule_ids() -> frozenset[str]:
    """Rules of findings that hold no value to check (secret-age and key-age records)."""
    return frozenset(rule.id for rule in inventory_rules())


def credential_status(finding, times: dict[str, str], no_value: frozenset[str]) -> str:
    """live / dead / unknown / unverified / no_value, from the latest verification, unless keysweep
    confirmed the key dead after it (a revoker's confirmation need not be a verification)."""
    verification = finding.verification or {}
    latest, checked = verification.get("status"), verification.get("checked_at")
    dead_at = times.get("confirmed_dead")
    if dead_at and (latest is None or not checked or (parse(checked) or parse(dead_at)) <= parse(dead_at)):
        return "dead"
    if latest in ("live", "dead"):
        return latest
    if latest:
        return "unknown"
    return "no_value" if finding.rule_id in no_value else "unverified"


def finding_status(finding, no_value: frozenset[str]) -> str:
    """`credential_status` of a finding as the store returns it (its latest verification and its
    remediation times): how `findings --status` and `revoke --status` select, and the report counts."""
    remediation = finding.remediation or {}
    return credential_status(finding, {"confirmed_dead": remediation.get("confirmed_dead_at")}, no_value)
