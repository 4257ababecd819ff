"""Reach: what a live credential can do, as facts a provider showed (docs/output.md, `reach`).

A provider's record (providers/base.py `Provider.reach`) names its reach reader: one read-only,
non-billable look at the key after it verified live, answering a `Reach`. The runner
(verify/runner.py) stores the record with the verification; it is kept after the key dies (the
auditor's view of what the key could do while it was exposed).

Two judgements are made from the stored facts when a finding is shown, by pure functions:
- `overprivileged`: a permission outside the owner's declared `allowed` list (owners file);
  `None` with no list declared, or when the permissions could not be fully seen and none of the
  seen ones is outside the list;
- `severity`: liveness × reach × exposure (one of SEVERITIES).

A reader never invents a permission: what it could not see is left out of `permissions` (`None`
when nothing could be seen) and said in `unknown`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from keysweep.clock import parse_utc
from keysweep.errors import TransportError

# How much a key can do, from least to most (None: not seen).
ACCESS_LEVELS = ("read", "write", "admin")
# Most severe first; `status`, `revoke` plans and the report order by this.
SEVERITIES = ("critical", "high", "medium", "low")
# A key live and exposed this long is more urgent than a fresh leak of the same reach.
LONG_EXPOSURE_SECONDS = 7 * 86400


@dataclass(frozen=True)
class Reach:
    """What a credential can do, as its provider showed it.

    `identity`: who or what the key acts as (a login, an ARN, a project), one line.
    `permissions`: the provider's own permission names (scopes, roles, policy actions); None when
    none could be seen. `resources`: organisations, projects, repositories it reaches. `flagged`:
    the permissions that are admin-equivalent or otherwise dangerous (admin:org, `*:*`, …).
    `access`: "admin", "write" or "read" (None: could not tell). `details`: counts and other
    non-secret facts. `unknown`: what could not be seen, and why. `evidence`: which answers
    these facts come from."""

    identity: str | None = None
    permissions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    flagged: tuple[str, ...] = ()
    access: str | None = None
    evidence: str = ""
    unknown: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    checked_at: str | None = None

    def record(self) -> dict[str, Any]:
        """What the store keeps (the JSON `reach` object without the derived judgements)."""
        return {"identity": self.identity,
                "permissions": None if self.permissions is None else sorted(set(self.permissions)),
                "resources": None if self.resources is None else list(dict.fromkeys(self.resources)),
                "flagged": sorted(set(self.flagged)), "access": self.access, "evidence": self.evidence,
                "unknown": list(self.unknown), "details": dict(self.details), "checked_at": self.checked_at}


def unseen(why: str, identity: str | None = None, **details: Any) -> Reach:
    """A reach whose permissions could not be seen: identity at most, and why."""
    return Reach(identity=identity, unknown=(why,), evidence=why, details=details)


def access_of(flagged: Iterable[str], levels: Iterable[str]) -> str | None:
    """The widest access of a key's permissions: "admin" when any is flagged, else the widest of
    their levels ("read" < "write"); None when there is no level to go by."""
    if any(True for _ in flagged):
        return "admin"
    known = [ACCESS_LEVELS.index(level) for level in levels if level in ACCESS_LEVELS]
    return ACCESS_LEVELS[max(known)] if known else None


@dataclass(frozen=True)
class Answer:
    """One read-only call's answer for a reach reader: the status (0 when nothing came back), the
    parsed JSON body (None when not JSON), the response headers, and a short note for `unknown`."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body is not None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def why(self, what: str) -> str:
        """`what` could not be seen, and the answer that says so."""
        if self.status == 0:
            return f"{what}: no answer"
        if self.status == 200:
            return f"{what}: HTTP 200 with a body that is not the documented shape"
        return f"{what}: HTTP {self.status}"


async def fetch(ctx: Any, url: str, headers: Mapping[str, str], params: Mapping[str, str] | None = None,
                *, method: str = "GET", json_body: Any = None) -> Answer:
    """One read-only call; never raises for network trouble (status 0)."""
    try:
        response = await ctx.http.request(method, url, headers=headers, params=params, json_body=json_body,
                                          retry=False)
    except TransportError:
        return Answer(0)
    return Answer(response.status, response.json(), dict(response.headers))


# -- judgements (pure) -------------------------------------------------------------------------
def permitted(permission: str, allowed: Iterable[str]) -> bool:
    """Is a permission within the allowed list? The same name, or within an allowed `*` pattern
    (AWS action patterns: `s3:GetObject` and `s3:Get*` are within `s3:Get*`; `s3:*` is not).
    Case does not matter (AWS action names are case-insensitive; other providers' names are
    lower case)."""
    name = permission.lower()
    for pattern in allowed:
        pattern = pattern.lower()
        if name == pattern or ("*" in pattern and fnmatch.fnmatchcase(name, pattern)):
            return True
    return False


def overprivileged(reach: Mapping[str, Any] | None, allowed: Iterable[str] | None) -> bool | None:
    """True when the reach holds a permission outside `allowed`; None when no list is declared or
    no permission could be seen; False only when every permission was seen and each is allowed."""
    if allowed is None or not reach:
        return None
    allowed = list(allowed)
    permissions = reach.get("permissions")
    if permissions is None:
        return None
    if any(not permitted(p, allowed) for p in permissions):
        return True
    return None if reach.get("unknown") else False


def severity(liveness: str | None, reach: Mapping[str, Any] | None, *,
             exposed_seconds: float | None = None) -> str:
    """critical / high / medium / low from liveness (live, dead, unknown or not checked), reach
    (admin, write, read or not seen) and exposure (how long a live key has been out).

    A dead key is `low` whatever it could do. A live admin-equivalent key is `critical`; a live key
    that can write, or whose reach is not known, `high`; a live read-only key `medium`, `high` once
    it has been exposed for LONG_EXPOSURE_SECONDS. A key whose liveness is not known is `high`
    when its reach was admin, else `medium`."""
    access = (reach or {}).get("access")
    if (reach or {}).get("flagged"):
        access = "admin"
    if liveness == "dead":
        return "low"
    if liveness == "live":
        if access == "admin":
            return "critical"
        if access == "read":
            long_exposed = exposed_seconds is not None and exposed_seconds >= LONG_EXPOSURE_SECONDS
            return "high" if long_exposed else "medium"
        return "high"
    return "high" if access == "admin" else "medium"


def severity_rank(value: str | None) -> int:
    """Sort key, most severe first (an unknown value last)."""
    return SEVERITIES.index(value) if value in SEVERITIES else len(SEVERITIES)


def reach_json(record: Mapping[str, Any] | None, *, liveness: str | None, allowed: Iterable[str] | None,
               exposed_seconds: float | None = None) -> dict[str, Any] | None:
    """The JSON finding's `reach`: the stored record plus `severity` and `overprivileged`."""
    if not record:
        return None
    data = {key: record.get(key) for key in ("identity", "permissions", "resources")}
    data["severity"] = severity(liveness, record, exposed_seconds=exposed_seconds)
    data["overprivileged"] = overprivileged(record, allowed)
    data.update({key: record.get(key) for key in ("evidence", "checked_at")})
    data["flagged"] = list(record.get("flagged") or [])
    data["access"] = record.get("access")
    data["unknown"] = list(record.get("unknown") or [])
    data["details"] = dict(record.get("details") or {})
    data["allowed"] = None if allowed is None else list(allowed)
    return data


def liveness_of(finding: Any) -> str | None:
    """live / dead / unknown from the finding's latest check; dead once keysweep confirmed it dead."""
    if (getattr(finding, "remediation", None) or {}).get("confirmed_dead_at"):
        return "dead"
    return (getattr(finding, "verification", None) or {}).get("status")


def exposure_seconds(finding: Any) -> float | None:
    """How long a key had been out when it was last seen live: its check's time − its earliest leak."""
    verification = getattr(finding, "verification", None) or {}
    if verification.get("status") != "live" or not verification.get("checked_at"):
        return None
    leaks = [o.committed_at for o in getattr(finding, "occurrences", None) or [] if o.committed_at]
    leaked = (getattr(finding, "remediation", None) or {}).get("leaked_at") or min(leaks, default=None)
    try:
        return (parse_utc(verification["checked_at"]) - parse_utc(leaked)).total_seconds() if leaked else None
    except ValueError:
        return None


def finding_reach(finding: Any) -> dict[str, Any] | None:
    """The JSON `reach` of a finding: its stored reach judged against its owner's `allowed`."""
    return reach_json(getattr(finding, "reach", None), liveness=liveness_of(finding),
                      allowed=(getattr(finding, "owner", None) or {}).get("allowed"),
                      exposed_seconds=exposure_seconds(finding))


def finding_severity(finding: Any) -> str:
    """The finding's severity, with or without a reach (status, revoke plans, report order)."""
    return severity(liveness_of(finding), getattr(finding, "reach", None), exposed_seconds=exposure_seconds(finding))


def reach_summary(reach: dict[str, Any]) -> str:
    """One line: severity, access, permissions (flagged ones marked), overprivileged, what was not seen."""
    permissions = reach.get("permissions")
    flagged = set(reach.get("flagged") or [])
    shown = ("permissions not seen" if permissions is None else
             ", ".join(f"{p}!" if p in flagged else p for p in permissions[:12]) or "no permission")
    verdict = {True: "; overprivileged", False: "; within allowed", None: ""}[reach.get("overprivileged")]
    unknown = f"; {len(reach.get('unknown') or [])} part(s) not seen" if reach.get("unknown") else ""
    return f"{reach.get('severity')} ({reach.get('access') or 'access unknown'}): {shown}{verdict}{unknown}"
