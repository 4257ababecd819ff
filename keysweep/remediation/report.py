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
from keysweep.remediation.jobs import CONFIRMED
from keysweep.remediation.selection import Selection, select
from keysweep.remediation.statuses import (  # the statuses are the report's too (re-exported)
    STATUSES,
    credential_status,
    inventory_rule_ids,
    parse,
)
from keysweep.sanitize import terminal_safe
from keysweep.scanner.rules import finding_replacement

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

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("times", "nhi")}
        data.update({f"{kind}_at": self.times.get(kind) for kind in CLOCK_EVENTS})
        data["nhi_risks"] = [{"id": r, "name": NHI_RISKS[r]} for r in self.nhi]
        return data


def nhi_risks(row: Row, occurrences: int) -> list[str]:
    risks = ["NHI2"]
    if row.long_lived:
        risks.append("NHI7")
    scopes = json.dumps(row.identity).lower()
    if "admin" in row.rule_id or any(f'"{s}' in scopes or f" {s}" in scopes for s in BROAD_SCOPES
                                     if s not in ("*",)) or ":root" in scopes:
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
    for finding_id, state in store.conn.execute("SELECT finding_id, state FROM revocations ORDER BY updated_at, id"):
        states[finding_id] = state
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
                  sources=sorted({o.source for o in finding.occurrences}),
                  repos=sorted({o.repo for o in finding.occurrences if o.repo}), where=describe_finding(finding),
                  state=state, verification=verification.get("status"), identity=verification.get("identity") or {},
                  times={kind: t.get(kind) for kind in CLOCK_EVENTS}, status=status,
                  unowned=is_unowned(finding.owner, threshold), open_jobs=open_jobs.get(finding.id, 0),
                  occurrences=len(finding.occurrences), replacement=_replacement(finding))
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
        row.nhi = nhi_risks(row, len(finding.occurrences))
        rows.append(row)
    return rows


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
        groups["owner"][row.owner or "(unowned)"].append(row)
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
        "credentials": [r.as_dict() for r in rows],
        # The audit log's head when the report was made: keep it, and `keysweep audit verify --expect`
        # later proves no row up to it was removed or changed.
        "audit_head": head(store.conn),
    }


# -- renderers --------------------------------------------------------------------------------------
# The names every rendering uses for the totals, in order (JSON key, label).
TOTAL_LABELS = (("live", "live"), ("dead", "dead"), ("unknown", "unknown"), ("unverified", "unverified"),
                ("no_value", "no value"), ("unowned", "unowned"), ("open_jobs", "open jobs"))


def totals_text(t: dict[str, Any]) -> str:
    return ", ".join(f"{t.get(key, 0)} {label}" for key, label in TOTAL_LABELS) + \
        f" ({t['confirmed_dead']} confirmed dead by keysweep)"


def head_text(head: dict[str, Any] | None) -> str:
    """`SEQ:HASH`, the form `keysweep audit verify --expect` takes."""
    if not head:
        return "-"
    return f"{head['seq']}:{head['hash']}"


# Owners, teams, sources and places come from scanned data: the text renderers pass every such value
# through `terminal_safe`, the HTML one through `terminal_safe` then `html.escape` (a bidi override
# spoofs a browser as well as a terminal).
def render_table(report: dict[str, Any]) -> str:
    t_ = terminal_safe
    t = report["totals"]
    lines = [f"Time to remediation — {t['count']} credentials: {totals_text(t)}",
             f"exposure window: median {human(t['exposure_median_seconds'])}, p90 {human(t['exposure_p90_seconds'])}"
             f"   response time: median {human(t['response_median_seconds'])}, p90 {human(t['response_p90_seconds'])}",
             ""]
    for name, groups in report["by"].items():
        lines.append(f"by {name}:")
        lines.append(f"  {'':<28} {'count':>5} " + " ".join(f"{label:>{max(5, len(label))}}" for _k, label in TOTAL_LABELS)
                     + f" {'exp.med':>8} {'exp.p90':>8} {'resp.med':>8} {'resp.p90':>8}")
        for key, s in groups.items():
            lines.append(f"  {t_(key)[:28]:<28} {s['count']:>5} "
                         + " ".join(f"{s.get(k, 0):>{max(5, len(label))}}" for k, label in TOTAL_LABELS)
                         + f" {human(s['exposure_median_seconds']):>8} {human(s['exposure_p90_seconds']):>8} "
                         f"{human(s['response_median_seconds']):>8} {human(s['response_p90_seconds']):>8}")
        lines.append("")
    lines.append(f"audit head: {head_text(report.get('audit_head'))}")
    if report["oldest_still_live"]:
        lines.append("oldest still live:")
        for r in report["oldest_still_live"]:
            lines.append(f"  {human(r['open_seconds']):>8}  {t_(r['id'])}  {t_(r['provider'])}  {t_(r['redacted'])}  "
                         f"{t_(r['owner'] or '(unowned)')}  {t_(r['where'])}")
    if report["unowned"]:
        shown = 20
        lines.append("unowned:")
        for r in report["unowned"][:shown]:
            lines.append(f"  {t_(r['id'])}  {t_(r['provider'])}  {t_(r['redacted'])}  {t_(r['where'])}")
        if len(report["unowned"]) > shown:
            lines.append(f"  (+{len(report['unowned']) - shown} more: --format json lists them all)")
    return "\n".join(lines) + "\n"


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


def _histogram_svg(values: list[float], width: int = 560, height: int = 200) -> str:
    if not values:
        return '<p class="muted">No credential confirmed dead yet.</p>'
    edges = [0, 60, 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400, float("inf")]
    names = ["<1m", "<1h", "<1d", "<1w", "<30d", "<1y", "≥1y"]
    counts = [sum(1 for v in values if edges[i] <= v < edges[i + 1]) for i in range(len(names))]
    top = max(counts) or 1
    bar = (width - 40) / len(names)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="Exposure window distribution">']
    for i, (name, count) in enumerate(zip(names, counts)):
        h = (height - 40) * count / top
        x = 30 + i * bar
        parts.append(f'<rect x="{x + 4:.1f}" y="{height - 20 - h:.1f}" width="{bar - 8:.1f}" height="{h:.1f}" '
                     f'fill="#c0392b"><title>{count} credential(s) {html.escape(name)}</title></rect>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 5}" text-anchor="middle" font-size="11">'
                     f'{html.escape(name)}</text>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - 24 - h:.1f}" text-anchor="middle" '
                     f'font-size="11">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _timeline_svg(points: list[datetime], width: int = 560, height: int = 200) -> str:
    if not points:
        return '<p class="muted">Nothing remediated yet.</p>'
    points = sorted(points)
    start, end = points[0].timestamp(), points[-1].timestamp()
    span = max(end - start, 1.0)
    total = len(points)
    coords = []
    for index, moment in enumerate(points, 1):
        x = 40 + (width - 60) * (moment.timestamp() - start) / span
        y = height - 25 - (height - 45) * index / total
        coords.append(f"{x:.1f},{y:.1f}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="Remediation over time"><polyline fill="none" stroke="#27ae60" stroke-width="2" '
            f'points="{" ".join(coords)}"/><text x="40" y="{height - 5}" font-size="11">'
            f'{points[0].strftime("%Y-%m-%d %H:%M")}</text><text x="{width - 20}" y="{height - 5}" '
            f'text-anchor="end" font-size="11">{points[-1].strftime("%Y-%m-%d %H:%M")}</text>'
            f'<text x="5" y="20" font-size="11">{total} confirmed dead</text></svg>')


def exposure_text(c: dict[str, Any]) -> str:
    """A closed window, an open one (the key's age so far), or "exposure unknown"."""
    if c.get("exposure") == "closed":
        return human(c["exposure_seconds"])
    if c.get("exposure") == "open":
        return f"open {human(c['open_seconds'])}"
    return "exposure unknown"


def render_html(report: dict[str, Any]) -> str:
    def e(value: Any) -> str:
        return html.escape(terminal_safe(value))

    t = report["totals"]
    exposure = [c["exposure_seconds"] for c in report["credentials"] if c["exposure_seconds"] is not None]
    dead = [parse(c["confirmed_dead_at"]) for c in report["credentials"] if c["confirmed_dead_at"]]
    rows = []
    for c in report["credentials"]:
        rows.append("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in (
            c["id"], c["provider"], c["redacted"], c["owner"] or "(unowned)", c["team"] or "", c["state"],
            c["status"], c["leaked_at"] or "", c["detected_at"] or "", c["revoked_at"] or "",
            c["confirmed_dead_at"] or "", exposure_text(c), human(c["response_seconds"]),
            ", ".join(r["id"] for r in c["nhi_risks"]))) + f"<td>{_replacement_html(c.get('replacement'), e)}</td></tr>")
    groups = []
    for name, by in report["by"].items():
        body = "".join(f"<tr><td>{e(k)}</td><td>{s['count']}</td>"
                       + "".join(f"<td>{s.get(key, 0)}</td>" for key, _label in TOTAL_LABELS)
                       + f"<td>{human(s['exposure_median_seconds'])}</td>"
                       f"<td>{human(s['exposure_p90_seconds'])}</td><td>{human(s['response_median_seconds'])}</td>"
                       f"<td>{human(s['response_p90_seconds'])}</td></tr>" for k, s in by.items())
        groups.append(f"<h3>By {e(name)}</h3><table><tr><th>{e(name)}</th><th>count</th>"
                      + "".join(f"<th>{label}</th>" for _key, label in TOTAL_LABELS)
                      + "<th>exposure median</th><th>exposure p90</th><th>response median</th>"
                      f"<th>response p90</th></tr>{body}</table>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>keysweep — time to remediation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}}th{{background:#f4f4f4}}
.muted{{color:#888}}.cards span{{display:inline-block;margin-right:2em;font-size:18px}}</style></head><body>
<h1>Time to remediation</h1><p class="muted">Generated {e(report['generated_at'])} by keysweep. No secret values.</p>
<div class="cards"><span>{t['count']} credentials</span>{''.join(f"<span>{t.get(key, 0)} {label}</span>" for key, label in TOTAL_LABELS)}</div>
<p class="muted">{t['confirmed_dead']} confirmed dead by keysweep. Audit head (for <code>keysweep audit verify --expect</code>): <code>{e(head_text(report.get('audit_head')))}</code></p>
<p>Exposure window median {human(t['exposure_median_seconds'])}, p90 {human(t['exposure_p90_seconds'])};
response time median {human(t['response_median_seconds'])}, p90 {human(t['response_p90_seconds'])}.</p>
<h2>Exposure window distribution</h2>{_histogram_svg(exposure)}
<h2>Remediation over time</h2>{_timeline_svg([d for d in dead if d])}
{''.join(groups)}
<h2>Credentials</h2><table><tr><th>id</th><th>provider</th><th>key</th><th>owner</th><th>team</th><th>state</th>
<th>status</th><th>leaked</th><th>detected</th><th>revoked</th><th>confirmed dead</th><th>exposure</th><th>response</th><th>OWASP NHI</th><th>replace with</th></tr>
{''.join(rows)}</table></body></html>
"""


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
                                    "scopes": identity.get("scopes") or identity.get("acls") or None},
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
        exposure = ("exposure unknown" if speed["exposure"] == "unknown" else
                    f"exposure {human(speed['exposure_seconds'])}" if speed["exposure"] == "closed" else
                    f"live, open for {human(speed['still_open_seconds'])}")
        lines.append(f"  shut off: {t_(speed['state'])} ({speed['status']}); {exposure}, response "
                     f"{human(speed['response_seconds'])}")
        lines.append(f"  OWASP NHI: {', '.join(r['id'] + ' ' + r['name'] for r in item['owasp_nhi_top10'])}")
        if item.get("replace_with"):
            lines.append(f"  replace:  {t_(item['replace_with']['kind'])} ({t_(item['replace_with']['docs_url'])})")
    return "\n".join(lines) + "\n"
