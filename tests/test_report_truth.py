"""Reports a CISO can quote: totals by latest verification (live, dead, unknown, unverified,
no_value), unowned by the `owners --unowned` rule, open jobs; exposure windows that are known only
when they are; every place named the way the scan table names it; the audit head in every report."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Finding, Occurrence
from keysweep.remediation import notify
from keysweep.remediation import report as R
from keysweep.store import Store
from keysweep.wording import counted

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc)
LONG_AGO = "2025-03-05T12:00:00Z"          # 637 days before NOW
DETECTED = "2026-12-01T12:00:00Z"


def finding(value: str, occurrence: Occurrence, rule_id: str = "openai.project-key", provider: str = "openai",
            key_id: str | None = None) -> Finding:
    digest = secret_sha256(value)
    return Finding(id=finding_id(provider, digest), rule_id=rule_id, provider=provider, secret_sha256=digest,
                   redacted=redact(value, value[:8]), long_lived=True, key_id=key_id, occurrences=[occurrence])


def in_git(path: str = ".env", at: str = LONG_AGO) -> Occurrence:
    return Occurrence(source="git", path=path, line=3, repo="github.com/acme/web", commit="c" * 40,
                      committed_at=at, locator={"blob": "b" * 40})


def in_ssm(name: str = "/prod/eval/openai") -> Occurrence:
    # As the AWS source records it: no path, the line inside the value, the resource in the locator.
    return Occurrence(source="aws-ssm", path=None, line=1, locator={
        "name": name, "version": 3, "region": "us-east-1", "resource": f"ssm us-east-1 {name} (v3)"})


def in_actions_variable(updated_at: str) -> Occurrence:
    return Occurrence(source="github-actions-variable", path=None, line=1, repo="acme/web",
                      locator={"repo": "acme/web", "variable": "OPENAI_API_KEY",
                               "resource": "github.com/acme/web actions variable OPENAI_API_KEY"},
                      metadata={"updated_at": updated_at, "created_at": "2024-01-01T00:00:00Z"})


def iam_key_age(key_id: str) -> Finding:
    digest = secret_sha256("aws-iam-access-key\0" + key_id)
    return Finding(id=finding_id("aws", digest), rule_id="aws.iam-stale-access-key", provider="aws",
                   secret_sha256=digest, redacted=f"{key_id[:4]}…{key_id[-4:]}", long_lived=True, key_id=key_id,
                   occurrences=[Occurrence(source="aws-iam-access-key", path=None, line=None, locator={
                       "user": "ci", "access_key_id": key_id,
                       "resource": f"iam user ci access key {key_id}"},
                       metadata={"created_at": LONG_AGO})])


def event(store, finding_id_: str, kind: str, at: str) -> None:
    store.conn.execute("INSERT INTO events (finding_id, kind, at) VALUES (?, ?, ?)", [finding_id_, kind, at])
    store.conn.commit()


def owner(store, finding_id_: str, name: str, source: str, confidence: float) -> None:
    store.replace_owner_candidates(finding_id_, [{"name": name, "source": source, "confidence": confidence,
                                                  "evidence": "test", "chosen": True}], DETECTED)


def populated(tmp_path):
    """One credential of each kind, all detected yesterday; the git ones committed 637 days ago."""
    store = Store(tmp_path / "k.db")
    live = finding("sk-proj-" + "L1ve" * 12, in_git("live.env"))
    flaky = finding("sk-proj-" + "Unkn" * 12, in_git("flaky.env"))
    unchecked = finding("sk-proj-" + "N0ne" * 12, in_git("never.env"))
    dead_already = finding("sk-proj-" + "De4d" * 12, in_git("old.env"))
    revoked = finding("sk-proj-" + "Rvkd" * 12, in_git("revoked.env"))
    key_age = iam_key_age("AKIA" + "Q" * 12 + "WXYZ")
    variable = finding("sk-proj-" + "Vari" * 12, in_actions_variable("2026-11-01T12:00:00Z"))
    all_ = [live, flaky, unchecked, dead_already, revoked, key_age, variable]
    store.record(all_, "scope", DETECTED)
    store.record_verification(live.id, "live", {}, None, "2026-12-01T13:00:00Z")
    store.record_verification(flaky.id, "live", {}, None, "2026-12-01T13:00:00Z")
    store.record_verification(flaky.id, "unknown", {}, "HTTP 502", "2026-12-01T14:00:00Z")
    store.record_verification(dead_already.id, "dead", {}, None, "2026-12-01T13:00:00Z")
    store.record_verification(revoked.id, "live", {}, None, "2026-12-01T13:00:00Z")
    store.record_verification(variable.id, "live", {}, None, "2026-12-01T13:00:00Z")
    event(store, revoked.id, "revoked", "2026-12-01T15:00:00Z")
    event(store, revoked.id, "confirmed_dead", "2026-12-01T15:00:10Z")
    # Owned by commit author only (0.3): below the `owners --unowned` threshold.
    owner(store, live.id, "dev@acme.test", "commit-author", 0.3)
    owner(store, revoked.id, "ml-team", "openai-admin", 0.9)
    owner(store, variable.id, "web-team", "owners-file", 0.95)
    store.conn.execute("INSERT INTO revocations (finding_id, revoker, provider, plan, state, attempts, updated_at) "
                       "VALUES (?, 'notify', 'openai', '{}', 'failed_permanent', 1, ?)", [flaky.id, DETECTED])
    store.conn.commit()
    return store, dict(live=live, flaky=flaky, unchecked=unchecked, dead_already=dead_already, revoked=revoked,
                       key_age=key_age, variable=variable)


def test_totals_count_each_credential_once_by_its_latest_verification(tmp_path):
    store, _f = populated(tmp_path)
    totals = R.build(store, now=NOW)["totals"]
    assert {k: totals[k] for k in ("live", "dead", "unknown", "unverified", "no_value")} == \
        {"live": 2, "dead": 2, "unknown": 1, "unverified": 1, "no_value": 1}
    assert totals["count"] == 7
    # Still live = latest verification live: not the unchecked, the inconclusive nor the inventory record.
    assert totals["still_live"] == 2
    # The same rule as `owners --unowned`: a 0.3 commit-author guess is not an owner.
    assert totals["unowned"] == 5
    assert totals["open_jobs"] == 1


def test_unowned_is_the_owners_command_rule(tmp_path, run):
    store, f = populated(tmp_path)
    store.close()
    listed = run("owners", "--unowned", "--offline", "--format", "json", "--db", tmp_path / "k.db").json()
    data = run("report", "--format", "json", "--db", tmp_path / "k.db").json()
    assert {c["id"] for c in data["credentials"] if c["unowned"]} == {r["id"] for r in listed}
    assert data["totals"]["unowned"] == len(listed)


def test_table_and_html_use_the_json_names_and_counts(tmp_path, run):
    store, _f = populated(tmp_path)
    store.close()
    db = tmp_path / "k.db"
    totals = run("report", "--format", "json", "--db", db).json()["totals"]
    table = run("report", "--db", db).stdout
    html = run("report", "--format", "html", "--db", db).stdout
    for key, label in (("live", "live"), ("dead", "dead"), ("unknown", "unknown"), ("unverified", "unverified"),
                       ("no_value", "no value"), ("unowned", "unowned"), ("open_jobs", "open jobs")):
        said = counted(totals[key], label[:-1]) if key == "open_jobs" else f"{totals[key]} {label}"  # 1 open job
        assert said in table.splitlines()[0], (key, table.splitlines()[0])
        assert f"<span>{said}</span>" in html, key


def test_exposure_windows(tmp_path):
    store, f = populated(tmp_path)
    rows = {c["id"]: c for c in R.build(store, now=NOW)["credentials"]}
    # Verified dead at its first check: when it died is unknown, so is the window — not 637 days.
    dead = rows[f["dead_already"].id]
    assert dead["status"] == "dead" and dead["exposure_seconds"] is None and dead["exposure"] == "unknown"
    assert dead["open_seconds"] is None
    # Never verified: no window either.
    assert rows[f["unchecked"].id]["exposure_seconds"] is None and rows[f["unchecked"].id]["exposure"] == "unknown"
    # Live and open: its age since the commit, not the day since detection.
    live = rows[f["live"].id]
    assert live["exposure"] == "open" and live["open_seconds"] == 637 * 86400
    # An Actions variable dates the leak by its updated_at.
    variable = rows[f["variable"].id]
    assert variable["leaked_at"] == "2026-11-01T12:00:00Z" and variable["open_seconds"] == 31 * 86400
    # Revoked and confirmed by keysweep after being seen live: leak → confirmed dead.
    revoked = rows[f["revoked"].id]
    assert revoked["exposure"] == "closed"
    assert revoked["exposure_seconds"] == int((datetime(2026, 12, 1, 15, 0, 10, tzinfo=timezone.utc)
                                               - datetime(2025, 3, 5, 12, tzinfo=timezone.utc)).total_seconds())
    # The finding JSON agrees: a key never seen working has no window.
    stored = {x.id: x for x in store.findings()}
    assert stored[f["revoked"].id].remediation["exposure_seconds"] == revoked["exposure_seconds"]
    oldest = R.build(store, now=NOW)["oldest_still_live"]
    assert [o["id"] for o in oldest] == [f["live"].id, f["variable"].id]


def test_a_key_confirmed_dead_but_never_seen_working_has_no_window(tmp_path):
    store = Store(tmp_path / "k.db")
    old = finding("sk-proj-" + "Gone" * 12, in_git())
    store.record([old], "scope", DETECTED)
    event(store, old.id, "confirmed_dead", "2026-12-01T15:00:00Z")
    row = R.build(store, now=NOW)["credentials"][0]
    assert row["status"] == "dead" and row["exposure_seconds"] is None and row["exposure"] == "unknown"
    assert store.findings()[0].remediation["exposure_seconds"] is None


def test_every_output_names_places_as_the_scan_table_does(tmp_path, run):
    from keysweep.output import write_table
    from keysweep.scanner.rules import load_rules

    store = Store(tmp_path / "k.db")
    value = "sk-proj-" + "Ssm0" * 12
    ssm = finding(value, in_ssm())
    ssm.occurrences.append(in_actions_variable("2026-11-01T12:00:00Z"))
    store.record([ssm], "scope", DETECTED)
    stored = store.findings()[0]
    table = io.StringIO()
    write_table([stored], {r.id: r for r in load_rules()}, table, None, [])
    first = "ssm us-east-1 /prod/eval/openai (v3)"
    second = "github.com/acme/web actions variable OPENAI_API_KEY"
    assert first in table.getvalue()
    facts = notify.message("cannot_revoke", stored)
    assert facts["where"] == f"{first} (+1 more)" and facts["locations"] == [first, second]
    slack = notify.body(notify.Target("http://127.0.0.1/h", "slack", "default"), facts)["text"]
    assert first in slack and second in slack and ":1" not in slack
    store.close()
    plan = run("revoke", ssm.id, "--format", "json", "--db", tmp_path / "k.db").json()["plan"][0]
    assert plan["where"] == f"{first} (+1 more)" and plan["locations"] == [first, second]
    text = run("revoke", ssm.id, "--db", tmp_path / "k.db").stdout
    assert f"where:   {first}; {second}" in text and ":1" not in text
    report = run("report", "--format", "json", "--db", tmp_path / "k.db").json()
    assert report["credentials"][0]["where"] == f"{first} (+1 more)"


def test_every_report_carries_the_audit_head(tmp_path, run):
    from keysweep.remediation import audit

    store, _f = populated(tmp_path)
    with store.conn:
        audit.append(store.conn, DETECTED, "tester", "test.action", {"finding": "x"}, {"ok": True})
    head = audit.head(store.conn)
    store.close()
    db = tmp_path / "k.db"
    assert head["seq"] == 1 and len(head["hash"]) == 64
    assert run("report", "--format", "json", "--db", db).json()["audit_head"] == head
    assert f"audit head: 1:{head['hash']}" in run("report", "--db", db).stdout
    assert f"1:{head['hash']}" in run("report", "--format", "html", "--db", db).stdout
