"""Time to remediation: per-credential clocks from the store's events, grouped statistics, and
renderers (table, JSON, self-contained HTML with inline SVG charts, Prometheus text format), plus
the audit view (owner, reach, speed, OWASP Non-Human Identities Top 10 risks).

Exposure window = confirmed_dead − leaked; response time = confirmed_dead − detected. A credential
not yet confirmed dead is still exposed: its open window runs to `now`.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from keysweep.clock import utc_iso
from keysweep.locations import describe_finding
from keysweep.owners import DEFAULT_THRESHOLD, is_unowned
from keysweep.providers import PROVIDERS
from keysweep.remediation.audit import head
from keysweep.remediation.charts import bar_chart, step_chart, time_unit
from keysweep.remediation.jobs import CONFIRMED, FAILED_PERMANENT
from keysweep.remediation.selection import Selection, select
from keysweep.remediation.statuses import (  # the statuses are the report's too (re-exported)
    STATUSES,
    credential_status,
    inventory_rule_ids,
    parse,
)
from keysweep.sanitize import terminal_safe
from keysweep.scanner.rules import finding_replacement
from keysweep.verify.reach import finding_reach, finding_severity, reach_summary, severity_rank
from keysweep.wording import counted, folded

CLOCK_EVENTS = ("leaked", "detected", "verified_live", "owner_notified", "revoked", "confirmed_dead")

# OWASP Top 10 for Non-Human Identities (2025).
NHI_RISKS = {
    "NHI1": "Improper Offboarding",
    "NHI2": "Secret Leakage",
    "NHI3": "Vulnerable Third-Party NHI",
    "NHI4": "Insecure Authentication",
    "NHI5": "Overprivileged NHI",
    "NHI6": "Insecure Cloud Deployment Configurations",
    "NHI7": "Long-Lived Secrets",
    "NHI8": "Environment Isolation",
    "NHI9": "NHI Reuse",
    "NHI10": "Human Use of NHI",
}
# Rules whose keys belong to a person rather than a workload (each provider's `human_rules`).
HUMAN_RULES = frozenset().union(*(record.human_rules for record in PROVIDERS.values()))
BROAD_SCOPES = ("admin", "repo", "write", "delete", "owner", "root", "*", "api", "full")
CI_SOURCES = ("github-actions", "gitlab-ci", "actions", "ci")
CLOUD_SOURCES = ("aws", "secretsmanager", "ssm", "lambda", "gcp", "azure")


def seconds(start: str | None, end: str | None) -> int | None:
    a, b = parse(start), parse(end)
    return int((b - a).total_seconds()) if a and b else None


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..1)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def human(secs: float | None) -> str:
    if secs is None:
        return "-"
    secs = float(secs)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(secs) >= size:
            return f"{secs / size:.1f}{unit}"
    return f"{secs:.0f}s"


# Occurrence metadata that dates when a value was put where it was found, when no commit dates it:
# an Actions/GitLab variable's `updated_at`, an SSM parameter version's `last_modified_at`, a
# Secrets Manager secret's `last_changed_at`, an IAM key's or a secret's `created_at`.
LEAK_TIME_FIELDS = ("updated_at", "last_modified_at", "last_changed_at", "created_at")


@dataclass
class Row:
    id: str
    provider: str
    rule_id: str
    redacted: str
    long_lived: bool
    owner: str | None
    team: str | None
    owner_source: str | None
    owner_confidence: float | None
    sources: list[str]
    repos: list[str]
    where: str
    state: str
    verification: str | None
    identity: dict[str, Any]
    times: dict[str, str | None]
    exposure_seconds: int | None = None
    response_seconds: int | None = None
    open_seconds: int | None = None
    nhi: list[str] = field(default_factory=list)
    status: str = "unverified"        # one of STATUSES
    unowned: bool = True              # by the same rule as `keysweep owners --unowned`
    age_seconds: int | None = None    # now − leaked, while not dead
    exposure: str = "unknown"         # closed (dead, window known) | open (live now) | unknown
    open_jobs: int = 0
    occurrences: int = 0              # places it was seen (status ranks the widest reach first)
    replacement: dict[str, str] | None = None  # the short-lived credential to use instead (docs/output.md)
    owner_contact: str | None = None  # the chosen owner's contact (an email, a channel)
    owner_person: str | None = None   # the owner with every spelling of the same person merged (merge_owners)
    dead_at: str | None = None        # when it was known dead: keysweep's confirmation, else the dead answer
    reach: dict[str, Any] | None = None  # what the key could do when last seen live (docs/output.md `reach`)
    severity: str = "medium"          # liveness x reach x exposure (keysweep/verify/reach.py)
    job_error: str | None = None      # why its revocation job failed for good (state failed_permanent)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("times", "nhi")}
        data.update({f"{kind}_at": self.times.get(kind) for kind in CLOCK_EVENTS})
        data["nhi_risks"] = [{"id": r, "name": NHI_RISKS[r]} for r in self.nhi]
        return data


def nhi_risks(row: Row, occurrences: int) -> list[str]:
    risks = ["NHI2"]
    if row.long_lived:
        risks.append("NHI7")
    if row.reach is not None:
        # Overprivileged: beyond what the owner declared, or admin-equivalent whatever was declared.
        if row.reach.get("overprivileged") or row.reach.get("flagged") or row.reach.get("access") == "admin":
            risks.append("NHI5")
    elif _broad_identity(row):
        risks.append("NHI5")
    if not row.owner:
        risks.append("NHI1")
    if len(set(row.repos)) > 1 or len(set(row.sources)) > 1 or occurrences > 3:
        risks.append("NHI9")
    if any(s in CI_SOURCES or s in CLOUD_SOURCES for s in row.sources):
        risks.append("NHI6")
    if row.rule_id in HUMAN_RULES:
        risks.append("NHI10")
    return sorted(set(risks), key=lambda r: int(r[3:]))


def _broad_identity(row: Row) -> bool:
    """Without a reach: the verification's identity or the rule names admin or broad scopes."""
    scopes = json.dumps(row.identity).lower()
    return "admin" in row.rule_id or any(f'"{s}' in scopes or f" {s}" in scopes for s in BROAD_SCOPES
                                         if s not in ("*",)) or ":root" in scopes


def earliest_leak(finding, leaked_event: str | None) -> str | None:
    """The earliest time the value is known to have been where it was found: the `leaked` event
    (commit times), else per occurrence its commit time or the date its store gives the value."""
    moments = [leaked_event] if leaked_event else []
    for occurrence in finding.occurrences:
        metadata = occurrence.metadata or {}
        moment = occurrence.committed_at or next((metadata[k] for k in LEAK_TIME_FIELDS if metadata.get(k)), None)
        if moment:
            moments.append(str(moment))
    parsed = [(parse(m), m) for m in moments]
    known = [(p, m) for p, m in parsed if p is not None]
    return min(known)[1] if known else None


def death_time(times: dict[str, str]) -> str | None:
    """When the key is known to have stopped working after being seen working: keysweep's
    confirmation, or the first `verified_dead` after a `verified_live`."""
    if times.get("confirmed_dead"):
        return times["confirmed_dead"]
    live, dead = parse(times.get("verified_live")), parse(times.get("verified_dead"))
    return times["verified_dead"] if live and dead and dead > live else None


def collect(store, now: datetime, *, selection: Selection | None = None, provider: str | None = None,
            team: str | None = None, owner: str | None = None, source: str | None = None,
            threshold: float | None = None, include_suppressed: bool = False) -> list[Row]:
    """The report's rows for the credentials `selection` names (keysweep.remediation.selection, as
    `findings` and `revoke` select), or for those the filters given one by one name (the same
    selection); every credential not suppressed everywhere when neither is given."""
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    no_value = inventory_rule_ids()
    if selection is None:
        selection = Selection(provider=provider, team=team, owner=owner, source=source)
    if include_suppressed and not selection.include_suppressed:
        selection = replace(selection, include_suppressed=True)
    # A credential suppressed everywhere (accepted by a person) is not part of the remediation work.
    findings = select(store, selection)
    times: dict[str, dict[str, str]] = defaultdict(dict)
    for finding_id, kind, at in store.conn.execute("SELECT finding_id, kind, min(at) FROM events GROUP BY finding_id, kind"):
        times[finding_id][kind] = at
    states: dict[str, str] = {}
    open_jobs: dict[str, int] = defaultdict(int)
    job_errors: dict[str, str | None] = {}
    for finding_id, state, error in store.conn.execute(
            "SELECT finding_id, state, last_error FROM revocations ORDER BY updated_at, id"):
        states[finding_id] = state
        job_errors[finding_id] = error
        if state != CONFIRMED:
            open_jobs[finding_id] += 1
    rows = []
    now_iso = utc_iso(now)
    for finding in findings:
        owner_info = finding.owner or {}
        t = dict(times.get(finding.id, {}))
        t["leaked"] = earliest_leak(finding, t.get("leaked"))
        if not t.get("detected"):
            t["detected"] = finding.first_seen_at
        verification = finding.verification or {}
        confirmed = t.get("confirmed_dead")
        status = credential_status(finding, t, no_value)
        state = "confirmed" if confirmed else states.get(finding.id) or (
            "live" if verification.get("status") == "live" else "open")
        row = Row(id=finding.id, provider=finding.provider, rule_id=finding.rule_id, redacted=finding.redacted,
                  long_lived=bool(finding.long_lived), owner=owner_info.get("name"), team=owner_info.get("team"),
                  owner_source=owner_info.get("source"), owner_confidence=owner_info.get("confidence"),
                  owner_contact=owner_info.get("contact"),
                  sources=sorted({o.source for o in finding.occurrences}),
                  repos=sorted({o.repo for o in finding.occurrences if o.repo}), where=describe_finding(finding),
                  state=state, verification=verification.get("status"), identity=verification.get("identity") or {},
                  times={kind: t.get(kind) for kind in CLOCK_EVENTS}, status=status,
                  unowned=is_unowned(finding.owner, threshold), open_jobs=open_jobs.get(finding.id, 0),
                  occurrences=len(finding.occurrences), replacement=_replacement(finding),
                  reach=finding_reach(finding), severity=finding_severity(finding),
                  job_error=job_errors.get(finding.id) if state == FAILED_PERMANENT else None)
        dead = death_time(t)
        # A window is known only for a key seen working (verified live, or revoked by keysweep) and
        # then seen dead: a key never seen working may have been dead all along.
        seen_working = bool(t.get("verified_live") or t.get("revoked"))
        if status == "dead":
            if dead and seen_working:
                row.exposure = "closed"
                row.exposure_seconds = seconds(t.get("leaked"), dead)
        else:
            row.age_seconds = seconds(t.get("leaked") or t.get("detected"), now_iso)
            if status == "live":
                row.exposure = "open"
                row.open_seconds = row.age_seconds
        row.response_seconds = seconds(t.get("detected"), confirmed)
        if status == "dead":
            row.dead_at = confirmed or dead or t.get("verified_dead") or verification.get("checked_at")
        row.nhi = nhi_risks(row, len(finding.occurrences))
        rows.append(row)
    merge_owners(rows)
    # Most severe first (stable: the store's order within a severity).
    return sorted(rows, key=lambda r: severity_rank(r.severity))


def _spellings(*values: str | None) -> set[str]:
    """The ways one owner is written that name the same person: each value, in any case and spacing."""
    return {" ".join(value.split()).casefold() for value in values if value and value.strip()}


def merge_owners(rows: list[Row]) -> None:
    """Sets each row's `owner_person`: owners written differently (`Dana Dev`, `dana dev`, the email
    `dana@example.com` given as a name or as the contact of `Dana Dev`) are one person when any
    spelling is shared. The person is named by the spelling most rows use that is not an email (on a
    tie, the one most often given with a contact, then the first in order), else by the email."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for row in rows:
        keys = sorted(_spellings(row.owner, row.owner_contact))
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
    names: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    spelled = [(row, next(iter(_spellings(row.owner)), None)) for row in rows]
    for row, key in spelled:
        if key:
            seen = names[root(key)][" ".join(row.owner.split())]
            seen[0] += 1
            seen[1] += bool(row.owner_contact)
    chosen = {person: min(counts, key=lambda name: ("@" in name, -counts[name][0], -counts[name][1], name))
              for person, counts in names.items()}
    for row, key in spelled:
        if key:
            row.owner_person = chosen[root(key)]


def _replacement(finding) -> dict[str, str] | None:
    replacement = finding_replacement(finding)
    return replacement.as_json() if replacement else None


def stats(rows: list[Row]) -> dict[str, Any]:
    exposure = [r.exposure_seconds for r in rows if r.exposure_seconds is not None]
    response = [r.response_seconds for r in rows if r.response_seconds is not None]
    live = [r for r in rows if r.status == "live"]
    oldest = max(live, key=lambda r: r.open_seconds or 0, default=None)
    counts = {status: sum(1 for r in rows if r.status == status) for status in STATUSES}
    return {
        "count": len(rows), "confirmed_dead": sum(1 for r in rows if r.times.get("confirmed_dead")),
        "revoked": sum(1 for r in rows if r.times.get("revoked")),
        **counts,
        # Kept for existing readers: the same number as `live` (it used to count every credential not
        # confirmed dead, checked or not).
        "still_live": counts["live"],
        "unowned": sum(1 for r in rows if r.unowned),
        "open_jobs": sum(r.open_jobs for r in rows),
        "exposure_unknown": sum(1 for r in rows if r.exposure == "unknown"),
        "exposure_median_seconds": percentile(exposure, 0.5), "exposure_p90_seconds": percentile(exposure, 0.9),
        "response_median_seconds": percentile(response, 0.5), "response_p90_seconds": percentile(response, 0.9),
        "oldest_live": {"id": oldest.id, "redacted": oldest.redacted, "open_seconds": oldest.open_seconds}
        if oldest else None,
    }


def grouped(rows: list[Row]) -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, list[Row]]] = {"provider": defaultdict(list), "owner": defaultdict(list),
                                               "team": defaultdict(list), "source": defaultdict(list)}
    for row in rows:
        groups["provider"][row.provider].append(row)
        groups["owner"][row.owner_person or row.owner or "(unowned)"].append(row)
        groups["team"][row.team or "(no team)"].append(row)
        for source in row.sources or ["(unknown)"]:
            groups["source"][source].append(row)
    return {name: {key: stats(members) for key, members in sorted(by.items())} for name, by in groups.items()}


def build(store, now: datetime | None = None, threshold: float | None = None, **filters) -> dict[str, Any]:
    now = now or datetime.now(timezone.utc)
    rows = collect(store, now, threshold=threshold, **filters)
    still_live = sorted((r for r in rows if r.status == "live"), key=lambda r: -(r.open_seconds or 0))
    return {
        "generated_at": utc_iso(now),
        "totals": stats(rows),
        "by": grouped(rows),
        "oldest_still_live": [{"id": r.id, "provider": r.provider, "redacted": r.redacted, "owner": r.owner,
                               "where": r.where, "open_seconds": r.open_seconds} for r in still_live[:10]],
        "unowned": [{"id": r.id, "provider": r.provider, "redacted": r.redacted, "where": r.where}
                    for r in rows if r.unowned],
        # Revocations that failed for good: a person fixes the cause (or revokes by hand), then reruns.
        "left_to_a_person": [{"id": r.id, "provider": r.provider, "redacted": r.redacted, "owner": r.owner,
                              "where": r.where, "error": r.job_error}
                             for r in rows if r.state == FAILED_PERMANENT],
        "credentials": [r.as_dict() for r in rows],
        # The audit log's head when the report was made: keep it, and `keysweep audit verify --expect`
        # later proves no row up to it was removed or changed.
        "audit_head": head(store.conn),
    }


# -- renderers --------------------------------------------------------------------------------------
# The names every rendering uses for the totals, in order (JSON key, label).
TOTAL_LABELS = (("live", "live"), ("dead", "dead"), ("unknown", "unknown"), ("unverified", "unverified"),
                ("no_value", "no value"), ("unowned", "unowned"), ("open_jobs", "open jobs"))


def total_text(t: dict[str, Any], key: str, label: str) -> str:
    """`3 live`, `1 open job`: the states are adjectives, the jobs counted things (singular for one)."""
    count = t.get(key, 0)
    return counted(count, label[:-1]) if key in ("open_jobs", "count") else f"{count} {label}"


def totals_text(t: dict[str, Any]) -> str:
    return ", ".join(total_text(t, key, label) for key, label in TOTAL_LABELS) + \
        f" ({t['confirmed_dead']} confirmed dead by keysweep)"


def head_text(head: dict[str, Any] | None) -> str:
    """`SEQ:HASH`, the form `keysweep audit verify --expect` takes."""
    if not head:
        return "-"
    return f"{head['seq']}:{head['hash']}"


# Owners, teams, sources and places come from scanned data: the text renderers pass every such value
# through `terminal_safe`, the HTML one through `terminal_safe` then `html.escape` (a bidi override
# spoofs a browser as well as a terminal).
# The group tables side by side with their times need this many columns; on a narrower terminal the
# times go on a line of their own under each group that has any, and the counts fit 80 columns (a
# name longer than NARROW_NAME goes on a line of its own above its counts).
WIDE_COLUMNS, NARROW_NAME = 130, 13


def render_table(report: dict[str, Any], width: int | None = None) -> str:
    """Plain text. `width` None (piped, or a file): every group on one line with its times, names
    whole; a terminal narrower than WIDE_COLUMNS: lines broken between facts, never inside an id, a
    key, a name or a place, to fit `width` where the facts allow."""
    t_ = terminal_safe
    t = report["totals"]
    narrow = width is not None and width < WIDE_COLUMNS
    fit = width if narrow else 10**6
    totals = [total_text(t, key, label) for key, label in TOTAL_LABELS]
    totals[-1] += f" ({t['confirmed_dead']} confirmed dead by keysweep)"
    lines = [*folded(f"Time to remediation — {counted(t['count'], 'credential')}:",
                     [part + "," for part in totals[:-1]] + totals[-1:], gap=" ", width=fit, indent="  "),
             *folded(f"exposure window: median {human(t['exposure_median_seconds'])}, "
                     f"p90 {human(t['exposure_p90_seconds'])}",
                     [f"response time: median {human(t['response_median_seconds'])}, "
                      f"p90 {human(t['response_p90_seconds'])}"], gap="   ", width=fit, indent=""),
             ""]
    for name, groups in report["by"].items():
        lines.extend(_group_narrow(name, groups, fit) if narrow else _group_wide(name, groups))
        lines.append("")
    lines.append(f"audit head: {head_text(report.get('audit_head'))}")
    if report["oldest_still_live"]:
        lines.append("oldest still live:")
        for r in report["oldest_still_live"]:
            lines.extend(folded(f"  {human(r['open_seconds']):>8}  {t_(r['id'])}",
                                [t_(r["provider"]), t_(r["redacted"]), t_(r["owner"] or "(unowned)"), t_(r["where"])],
                                width=fit, indent=" " * 12, place_last=narrow))
    if report.get("left_to_a_person"):
        lines.append("left to a person (fix the cause, then: keysweep revoke ID --execute):")
        for r in report["left_to_a_person"]:
            lines.extend(folded(f"  {t_(r['id'])}", [t_(r["provider"]), t_(r["redacted"]), t_(r["owner"] or "(unowned)"),
                                                     t_(r["where"])], width=fit, indent=" " * 6, place_last=narrow))
            error = t_(r["error"] or "no error recorded").split(" ")
            lines.extend(folded(f"      {error[0]}", error[1:], gap=" ", width=fit, indent=" " * 6))
    if report["unowned"]:
        shown = 20
        lines.append("unowned:")
        for r in report["unowned"][:shown]:
            lines.extend(folded(f"  {t_(r['id'])}", [t_(r["provider"]), t_(r["redacted"]), t_(r["where"])],
                                width=fit, indent=" " * 6, place_last=narrow))
        if len(report["unowned"]) > shown:
            lines.append(f"  (+{len(report['unowned']) - shown} more: --format json lists them all)")
    return "\n".join(lines) + "\n"


def _count_cells(s: dict[str, Any]) -> str:
    return f"{s['count']:>5} " + " ".join(f"{s.get(k, 0):>{max(5, len(label))}}" for k, label in TOTAL_LABELS)


def _count_header() -> str:
    return f"{'count':>5} " + " ".join(f"{label:>{max(5, len(label))}}" for _k, label in TOTAL_LABELS)


def _group_wide(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    names = {key: terminal_safe(key) for key in groups}
    width = max([28, *map(len, names.values())])  # a name is never cut
    lines = [f"by {title}:",
             f"  {'':<{width}} {_count_header()} {'exp.med':>8} {'exp.p90':>8} {'resp.med':>8} {'resp.p90':>8}"]
    for key, s in groups.items():
        lines.append(f"  {names[key]:<{width}} {_count_cells(s)} {human(s['exposure_median_seconds']):>8} "
                     f"{human(s['exposure_p90_seconds']):>8} {human(s['response_median_seconds']):>8} "
                     f"{human(s['response_p90_seconds']):>8}")
    return lines


def _group_narrow(title: str, groups: dict[str, dict[str, Any]], fit: int) -> list[str]:
    """The counts as `keysweep status` lays them out (80 columns), each group's times under it."""
    names = {key: terminal_safe(key) for key in groups}
    width = min(max([len(title) + 3, *map(len, names.values())]), NARROW_NAME)
    lines = [f"{'by ' + title:<{width}}  {_count_header()}"]
    for key, s in groups.items():
        if len(names[key]) > width:  # whole, on a line of its own: the counts keep their columns
            lines.append(names[key])
        lines.append(f"{'' if len(names[key]) > width else names[key]:<{width}}  {_count_cells(s)}")
        if s["exposure_median_seconds"] is not None or s["response_median_seconds"] is not None:
            lines.extend(folded(f"    exposure median {human(s['exposure_median_seconds'])}, "
                                f"p90 {human(s['exposure_p90_seconds'])};",
                                [f"response median {human(s['response_median_seconds'])}, "
                                 f"p90 {human(s['response_p90_seconds'])}"], gap=" ", width=fit, indent="    "))
    return lines


def render_prometheus(report: dict[str, Any]) -> str:
    def label(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")

    out = []
    metrics = (("keysweep_credentials", "count", "Credentials found"),
               ("keysweep_credentials_confirmed_dead", "confirmed_dead", "Credentials confirmed dead"),
               ("keysweep_credentials_still_live", "still_live", "Credentials whose latest verification is live"),
               ("keysweep_credentials_unverified", "unverified", "Credentials never verified"),
               ("keysweep_credentials_verification_unknown", "unknown", "Credentials whose latest check was inconclusive"),
               ("keysweep_revocation_jobs_open", "open_jobs", "Revocation jobs not yet confirmed"),
               ("keysweep_credentials_unowned", "unowned", "Credentials with no owner"),
               ("keysweep_exposure_seconds_median", "exposure_median_seconds", "Median leak-to-dead window"),
               ("keysweep_exposure_seconds_p90", "exposure_p90_seconds", "p90 leak-to-dead window"),
               ("keysweep_response_seconds_median", "response_median_seconds", "Median detect-to-dead time"),
               ("keysweep_response_seconds_p90", "response_p90_seconds", "p90 detect-to-dead time"))
    for metric, key, text in metrics:
        out.append(f"# HELP {metric} {text}.")
        out.append(f"# TYPE {metric} gauge")
        for provider, s in report["by"]["provider"].items():
            value = s[key]
            if value is not None:
                out.append(f'{metric}{{provider="{label(provider)}"}} {float(value):g}')
    out.append("# HELP keysweep_oldest_live_seconds Age of the oldest credential still live.")
    out.append("# TYPE keysweep_oldest_live_seconds gauge")
    oldest = report["totals"]["oldest_live"]
    out.append(f"keysweep_oldest_live_seconds {float(oldest['open_seconds'] or 0) if oldest else 0:g}")
    return "\n".join(out) + "\n"


# -- the HTML page ----------------------------------------------------------------------------------
# What each headline number means (the cards say it; `keysweep status` counts the same).
CARD_DEFINITIONS = {
    "count": "every credential in this report, each once however many places hold it",
    "live": "its latest check answered that it works (and keysweep has not confirmed it dead since)",
    "dead": "confirmed dead by keysweep after revoking, or the provider's documented answer for a dead key",
    "unknown": "the latest check was inconclusive: not counted as dead, nor acted on",
    "unverified": "never checked",
    "no_value": "a record with no value to check (secret age, hidden variable, key age)",
    "unowned": "no owner found with enough confidence (as `keysweep owners --unowned`)",
    "open_jobs": "revocation jobs not yet confirmed dead",
}
EXPOSURE_BUCKETS = ((3600, "<1 h"), (86400, "1 h–1 d"), (7 * 86400, "1–7 d"), (30 * 86400, "7–30 d"),
                    (90 * 86400, "30–90 d"), (365 * 86400, "90 d–1 y"), (math.inf, "≥1 y"))

_STYLE = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:16px 20px;max-width:1280px;color:#222}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}h3{font-size:15px;margin:16px 0 4px}
.muted{color:#666}code{overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;margin:14px 0}
.card{border:1px solid #ccc;border-radius:6px;padding:8px 10px;background:#fafafa}
.card span{display:block;font-size:20px;font-weight:600}.card p{margin:4px 0 0;font-size:12px;color:#555}
.card.live span{color:#b03a2e}.card.unknown span{color:#9a7d0a}.card.dead span{color:#1e8449}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}
figure{margin:0;border:1px solid #ddd;border-radius:6px;padding:8px}figcaption{font-weight:600;margin-bottom:4px}
svg.chart{width:100%;height:auto;font-size:12px;display:block}svg.chart .axis-label{font-size:13px;fill:#333}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:6px 0;font-size:12.5px}
td,th{border:1px solid #ccc;padding:3px 5px;text-align:left;vertical-align:top}
th{background:#f0f0f0}table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}table.sortable th[aria-sort=descending]::after{content:" ▼"}
td.id,td.key{white-space:nowrap;font-family:ui-monospace,monospace;font-size:11.5px}
td.where,td.reach,td.owner{overflow-wrap:anywhere;min-width:8em;max-width:22em}
td.num{text-align:right}td.date{white-space:nowrap;font-size:11.5px}#credentials th{font-size:12px}
.status-live{color:#b03a2e;font-weight:600}.status-dead{color:#1e8449}.status-unknown{color:#9a7d0a}
.badge{display:inline-block;padding:0 4px;border-radius:3px;background:#f5d5d0;font-size:11px}
.controls{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin:6px 0}
.controls input{min-width:22em;padding:3px 6px}
abbr{text-decoration:none;border-bottom:1px dotted #888}
@media print{
 body{max-width:none;padding:0;font-size:11px}.controls{display:none}.scroll{overflow:visible}
 table{font-size:9.5px}tr,figure,.card{break-inside:avoid}h2{break-after:avoid}
 .charts{grid-template-columns:1fr 1fr}a{color:inherit;text-decoration:none}
 table.sortable th::after{content:""!important}tr[hidden]{display:table-row}
}
"""

# Sorting (click or Enter on a header; numbers by their data-sort value, blanks last) and filtering
# (free text and status). It reads only the page's own cells: no data is embedded in the script.
_SCRIPT = """
(function () {
  var table = document.getElementById("credentials");
  if (!table) { return; }
  var body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  var text = document.getElementById("filter-text"), status = document.getElementById("filter-status");
  var shown = document.getElementById("shown");
  function value(row, i) {
    var cell = row.cells[i], sort = cell.getAttribute("data-sort");
    return sort === null ? cell.textContent.trim() : sort;
  }
  function sortBy(i) {
    var head = heads[i], ascending = head.getAttribute("aria-sort") !== "ascending";
    var numeric = head.hasAttribute("data-numeric");
    for (var j = 0; j < heads.length; j++) { heads[j].removeAttribute("aria-sort"); }
    head.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, i), y = value(b, i);
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(heads, function (head, i) {
    head.tabIndex = 0;
    head.addEventListener("click", function () { sortBy(i); });
    head.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(i); }
    });
  });
  function filter() {
    var words = text.value.toLowerCase().trim(), wanted = status.value, count = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var visible = (!wanted || row.getAttribute("data-status") === wanted) &&
                    (!words || row.textContent.toLowerCase().indexOf(words) !== -1);
      row.hidden = !visible;
      if (visible) { count++; }
    });
    shown.textContent = count + " of " + body.rows.length + " shown";
  }
  text.addEventListener("input", filter);
  status.addEventListener("change", filter);
  filter();
}());
"""


def exposure_text(c: dict[str, Any]) -> str:
    """A closed window, an open one (the key's age so far), or "exposure unknown"."""
    if c.get("exposure") == "closed":
        return human(c["exposure_seconds"])
    if c.get("exposure") == "open":
        return f"open {human(c['open_seconds'])}"
    return "exposure unknown"


def reach_text(identity: dict[str, Any]) -> str:
    """What the provider said the key could reach (account, user, org, scopes), as `key: value` pairs."""
    parts = []
    for key, value in sorted((identity or {}).items()):
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _bucket(secs: float) -> int:
    return next(i for i, (limit, _name) in enumerate(EXPOSURE_BUCKETS) if secs < limit)


def exposure_chart(credentials: list[dict[str, Any]], escape) -> str:
    closed = [0] * len(EXPOSURE_BUCKETS)
    open_ = [0] * len(EXPOSURE_BUCKETS)
    for c in credentials:
        if c["exposure"] == "closed" and c["exposure_seconds"] is not None:
            closed[_bucket(c["exposure_seconds"])] += 1
        elif c["exposure"] == "open" and c["open_seconds"] is not None:
            open_[_bucket(c["open_seconds"])] += 1
    if not any(closed) and not any(open_):
        return '<p class="muted">No exposure window is known yet: no key was both seen working and seen dead, ' \
               'and none is live.</p>'
    return bar_chart("Exposure window distribution", [name for _limit, name in EXPOSURE_BUCKETS],
                     [("closed: leak → dead", closed), ("open: leak → now, still live", open_)],
                     x_label="exposure window (time since the leak)", y_label="credentials", escape=escape,
                     whole=True)


def burn_down_chart(credentials: list[dict[str, Any]], generated_at: str) -> str:
    """Credentials still open (detected, not yet dead) and dead so far, over time."""
    changes: list[tuple[datetime, int, int]] = []
    for c in credentials:
        detected, dead = parse(c["detected_at"]), parse(c.get("dead_at"))
        if detected:
            changes.append((detected, 1, 0))
        if detected and dead:
            changes.append((max(dead, detected), -1, 1))
    if not changes:
        return '<p class="muted">Nothing detected yet.</p>'
    changes.sort()
    still, gone = 0, 0
    open_points, dead_points = [], []
    for moment, opened, died in changes:
        still += opened
        gone += died
        open_points.append((moment, still))
        dead_points.append((moment, gone))
    end = parse(generated_at) or changes[-1][0]
    open_points.append((max(end, changes[-1][0]), still))
    dead_points.append((max(end, changes[-1][0]), gone))
    return step_chart("Remediation burn-down", [("still open (detected, not dead)", open_points),
                                                ("dead (cumulative)", dead_points)],
                      x_label="date (UTC)", y_label="credentials")


def ttr_chart(by_provider: dict[str, dict[str, Any]], escape) -> str:
    """Time to remediation (detected → confirmed dead) per provider: median and p90."""
    providers = [p for p, s in by_provider.items() if s.get("response_median_seconds") is not None]
    if not providers:
        return '<p class="muted">No credential confirmed dead by keysweep yet: no time to remediation to chart.</p>'
    largest = max(by_provider[p]["response_p90_seconds"] or 0 for p in providers)
    unit, size = time_unit(largest)
    return bar_chart("Time to remediation per provider", providers,
                     [("median (p50)", [by_provider[p]["response_median_seconds"] / size for p in providers]),
                      ("p90", [(by_provider[p]["response_p90_seconds"] or 0) / size for p in providers])],
                     x_label="provider", y_label=f"time to remediation ({unit})", escape=escape)


def render_html(report: dict[str, Any]) -> str:
    """A self-contained page (inline CSS, SVG and one small script; no external resource) for 1280 px
    and for print. Every string that came from scanned data or a provider passes through
    `terminal_safe` then `html.escape` (quotes too, as some land in attributes)."""
    def e(value: Any) -> str:
        return html.escape(terminal_safe("" if value is None else str(value)), quote=True)

    t = report["totals"]
    credentials = report["credentials"]
    cards = [("count", "credentials")] + list(TOTAL_LABELS)
    card_html = "".join(f'<div class="card {key}" data-key="{key}" data-count="{t.get(key, 0)}">'
                        f'<span>{total_text(t, key, label)}</span><p>{html.escape(CARD_DEFINITIONS[key])}</p></div>'
                        for key, label in cards)
    nhi_counts = defaultdict(int)
    for c in credentials:
        for risk in c["nhi_risks"]:
            nhi_counts[risk["id"]] += 1
    nhi_rows = "".join(f'<tr><td>{code}</td><td>{html.escape(name)}</td><td class="num">{nhi_counts[code]}</td></tr>'
                       for code, name in NHI_RISKS.items())
    rows = "".join(_credential_row(c, e) for c in credentials)
    groups = "".join(_group_table(name, by, e) for name, by in report["by"].items())
    status_options = "".join(f'<option value="{s}">{s.replace("_", " ")}</option>' for s in STATUSES)
    left = report.get("left_to_a_person") or []
    left_html = ("<h2>Left to a person</h2><p>Their revocation failed for good: fix the cause (or revoke the key by "
                 "hand at its provider), then <code>keysweep revoke ID --execute</code>.</p><ul id=\"left\">"
                 + "".join(f'<li><code>{e(r["id"])}</code> {e(r["provider"])} <code>{e(r["redacted"])}</code> '
                           f'{e(r["owner"] or "(unowned)")}, {e(r["where"])}: {e(r["error"] or "no error recorded")}</li>'
                           for r in left) + "</ul>") if left else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>keysweep — credentials and time to remediation</title><style>{_STYLE}</style></head><body>
<h1>Leaked credentials and time to remediation</h1>
<p class="muted">Generated {e(report['generated_at'])} by keysweep. No secret value is in this page: keys are shown
redacted. Audit head (for <code>keysweep audit verify --expect</code>): <code>{e(head_text(report.get('audit_head')))}</code></p>
<div class="cards">{card_html}</div>
<p>{t['confirmed_dead']} confirmed dead by keysweep. Exposure window (leak → dead) median {human(t['exposure_median_seconds'])},
p90 {human(t['exposure_p90_seconds'])}; time to remediation (detected → confirmed dead) median
{human(t['response_median_seconds'])}, p90 {human(t['response_p90_seconds'])}.</p>
{left_html}
<h2>Charts</h2><div class="charts">
<figure><figcaption>Exposure window distribution</figcaption>{exposure_chart(credentials, e)}</figure>
<figure><figcaption>Remediation burn-down</figcaption>{burn_down_chart(credentials, report['generated_at'])}</figure>
<figure><figcaption>Time to remediation per provider</figcaption>{ttr_chart(report['by']['provider'], e)}</figure>
</div>
<h2>Credentials</h2>
<div class="controls"><label>Filter <input id="filter-text" type="search" placeholder="id, provider, owner, place…"></label>
<label>Status <select id="filter-status"><option value="">any</option>{status_options}</select></label>
<span id="shown" class="muted"></span><span class="muted">Click a column header to sort.</span></div>
<div class="scroll"><table id="credentials" class="sortable"><thead><tr><th>id</th><th>provider</th><th>key</th>
<th>status</th><th>reach</th><th>owner</th><th>location</th><th>leaked</th><th>detected</th><th>dead</th>
<th data-numeric>exposure</th><th data-numeric>response</th><th>OWASP NHI</th><th>replace with</th></tr></thead>
<tbody>{rows}</tbody></table></div>
<h2>OWASP Top 10 for Non-Human Identities (2025)</h2>
<div class="scroll"><table id="nhi"><thead><tr><th>code</th><th>risk</th><th>credentials</th></tr></thead>
<tbody>{nhi_rows}</tbody></table></div>
<h2>By provider, owner, team and source</h2>{groups}
<script>{_SCRIPT}</script>
</body></html>
"""


def _date(moment: str | None) -> str:
    return (moment or "")[:10]


def _credential_row(c: dict[str, Any], e) -> str:
    owner = c.get("owner_person") or c["owner"]
    owner_cell = (e(owner) + (f" ({e(c['team'])})" if c["team"] else "")) if owner else ""
    if c["unowned"]:  # no owner, or one below the confidence `keysweep owners --unowned` needs
        owner_cell += (" " if owner else "") + '<span class="badge">unowned</span>'
    if c.get("owner_contact") and owner:
        owner_cell = f'<span title="{e(c["owner_contact"])}">{owner_cell}</span>'
    exposure_sort = c["exposure_seconds"] if c["exposure"] == "closed" else c["open_seconds"]
    nhi = " ".join(f'<abbr title="{html.escape(r["name"])}">{r["id"]}</abbr>' for r in c["nhi_risks"])
    verification = c["verification"] or "not checked"
    cells = [
        f'<td class="id">{e(c["id"])}</td>', f"<td>{e(c['provider'])}</td>", f'<td class="key">{e(c["redacted"])}</td>',
        f'<td class="status-{e(c["status"])}" title="latest check: {e(verification)}">{e(c["status"].replace("_", " "))}</td>',
        f'<td class="reach">{e(reach_summary(c["reach"]) if c.get("reach") else reach_text(c["identity"]))}</td>',
        f'<td class="owner">{owner_cell}</td>',
        f'<td class="where">{e(c["where"])}</td>',
        f'<td class="date" data-sort="{e(c["leaked_at"] or "")}">{e(_date(c["leaked_at"]))}</td>',
        f'<td class="date" data-sort="{e(c["detected_at"] or "")}">{e(_date(c["detected_at"]))}</td>',
        f'<td class="date" data-sort="{e(c.get("dead_at") or "")}">{e(_date(c.get("dead_at")))}</td>',
        f'<td class="num" data-sort="{"" if exposure_sort is None else exposure_sort}">{e(exposure_text(c))}</td>',
        f'<td class="num" data-sort="{"" if c["response_seconds"] is None else c["response_seconds"]}">'
        f'{human(c["response_seconds"])}</td>',
        f"<td>{nhi}</td>", f"<td>{_replacement_html(c.get('replacement'), e)}</td>",
    ]
    return f'<tr data-status="{e(c["status"])}">' + "".join(cells) + "</tr>"


def _group_table(name: str, by: dict[str, dict[str, Any]], e) -> str:
    body = "".join(f"<tr><td>{e(k)}</td><td class=\"num\">{s['count']}</td>"
                   + "".join(f'<td class="num">{s.get(key, 0)}</td>' for key, _label in TOTAL_LABELS)
                   + f'<td class="num">{human(s["exposure_median_seconds"])}</td>'
                   f'<td class="num">{human(s["exposure_p90_seconds"])}</td>'
                   f'<td class="num">{human(s["response_median_seconds"])}</td>'
                   f'<td class="num">{human(s["response_p90_seconds"])}</td></tr>' for k, s in by.items())
    return (f"<h3>By {e(name)}</h3><div class=\"scroll\"><table><tr><th>{e(name)}</th><th>count</th>"
            + "".join(f"<th>{label}</th>" for _key, label in TOTAL_LABELS)
            + "<th>exposure median</th><th>exposure p90</th><th>response median</th>"
            f"<th>response p90</th></tr>{body}</table></div>")


def _replacement_html(replacement: dict[str, str] | None, escape) -> str:
    """The replacement's kind, linked to the vendor's documentation, its how-to as the link's title."""
    if not replacement:
        return ""
    return (f'<a href="{escape(replacement["docs_url"])}" title="{escape(replacement["summary"])}">'
            f'{escape(replacement["kind"])}</a>')


def audit_view(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per credential: who owned it, what it could reach, how quickly it was shut off, NHI risks."""
    view = []
    for c in report["credentials"]:
        identity = c["identity"] or {}
        view.append({
            "id": c["id"], "provider": c["provider"], "redacted": c["redacted"],
            "who_owned_it": {"owner": c["owner"], "team": c["team"], "attributed_by": c["owner_source"],
                             "confidence": c["owner_confidence"]},
            "what_it_could_reach": {"verification": c["verification"], "identity": identity,
                                    "scopes": identity.get("scopes") or identity.get("acls") or None,
                                    # the reach read when it was live; kept after it died (NHI5)
                                    "reach": c.get("reach"), "severity": c.get("severity")},
            "how_quickly_shut_off": {"state": c["state"], "leaked_at": c["leaked_at"], "detected_at": c["detected_at"],
                                     "revoked_at": c["revoked_at"], "confirmed_dead_at": c["confirmed_dead_at"],
                                     "exposure_seconds": c["exposure_seconds"],
                                     "exposure": c["exposure"], "status": c["status"],
                                     "response_seconds": c["response_seconds"],
                                     "still_open_seconds": c["open_seconds"], "age_seconds": c["age_seconds"]},
            "owasp_nhi_top10": c["nhi_risks"],
            # NHI7 (long-lived secret): what should stand in its place.
            "replace_with": c.get("replacement"),
        })
    return view


def render_audit_table(view: list[dict[str, Any]]) -> str:
    t_ = terminal_safe
    lines = []
    for item in view:
        owner = item["who_owned_it"]
        reach = item["what_it_could_reach"]
        speed = item["how_quickly_shut_off"]
        lines.append(f"{t_(item['id'])}  {t_(item['provider'])}  {t_(item['redacted'])}")
        lines.append(f"  owner:    {t_(owner['owner'] or '(unowned)')}{' / ' + t_(owner['team']) if owner['team'] else ''}"
                     f"{' via ' + t_(owner['attributed_by']) if owner['attributed_by'] else ''}")
        lines.append(f"  reach:    {t_(reach['verification'] or 'not verified')} "
                     f"{t_(json.dumps(reach['identity'], sort_keys=True)) if reach['identity'] else ''}")
        if reach.get("reach"):
            lines.append(f"  can do:   {t_(reach_summary(reach['reach']))}")
        exposure = ("exposure unknown" if speed["exposure"] == "unknown" else
                    f"exposure {human(speed['exposure_seconds'])}" if speed["exposure"] == "closed" else
                    f"live, open for {human(speed['still_open_seconds'])}")
        lines.append(f"  shut off: {t_(speed['state'])} ({speed['status']}); {exposure}, response "
                     f"{human(speed['response_seconds'])}")
        lines.append(f"  OWASP NHI: {', '.join(r['id'] + ' ' + r['name'] for r in item['owasp_nhi_top10'])}")
        if item.get("replace_with"):
            lines.append(f"  replace:  {t_(item['replace_with']['kind'])} ({t_(item['replace_with']['docs_url'])})")
    return "\n".join(lines) + "\n"
