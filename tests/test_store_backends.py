"""The store conformance suite (issue 16): every test runs against both backends, a SQLite file and
a PostgreSQL schema of its own (tests/conftest.py `store_at`), and holds the same guarantees on each:
the schema at the current version, migrated once; findings read back as written; no secret value
in any column; the audit log append-only and its chain verifiable; a job claimed by one run only;
incremental state; one writer at a time, waited for with a bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from keysweep.errors import StoreError
from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Finding, Occurrence
from keysweep.remediation import audit
from keysweep.remediation import jobs as J
from keysweep.remediation import report as R
from keysweep.remediation.jobs import CallRecord, Jobs
from keysweep.remediation.status import build_status
from keysweep.revokers import Plan, PlannedCall
from keysweep.store import Store, begin_immediate
from keysweep.store.migrations import MIGRATIONS, POSTGRES
from keysweep.store.postgres import POSTGRES_BASELINE, redact_url, translate

ROOT = Path(__file__).resolve().parents[1]


def a_finding(n: int, provider: str = "openai", repo: str = "acme/web", **occurrence) -> Finding:
    value = f"sk-proj-{n:04d}" + "Zq7x" * 11
    digest = secret_sha256(value)
    place = {"source": "git", "path": ".env", "line": n + 1, "repo": repo, **occurrence}
    return Finding(id=finding_id(provider, digest), rule_id=f"{provider}.project-key", provider=provider,
                   secret_sha256=digest, redacted=redact(value, "sk-proj-"), long_lived=True,
                   metadata={"project": f"p{n}"}, occurrences=[Occurrence(**place)])


def all_rows(store: Store) -> dict[str, list[tuple]]:
    """Every row of every keysweep table, by table."""
    tables = ["findings", "occurrences", "scanned", "scans", "verifications", "owner_candidates", "revocations",
              "revocation_transitions", "revocation_calls", "remediation_runs", "events", "audit_log",
              "audit_checkpoint", "http_validators", "managed_keys", "schema_migrations"]
    return {table: store.conn.execute(f"SELECT * FROM {table}").fetchall() for table in tables}


def with_job(store: Store, finding: Finding, run_id: str = "run1") -> tuple[Jobs, J.Job]:
    jobs = Jobs(store, "alice", run_id, lambda: "2026-01-02T00:00:00Z")
    plan = Plan("openai", finding.id, [PlannedCall("DELETE", "/v1/keys/x", "delete it")], data={"key_id": "x"})
    job, _ = jobs.create(finding, "openai", plan, approve=True)
    return jobs, job


# -- schema -------------------------------------------------------------------------------------
def test_a_new_store_is_at_the_current_version_each_migration_recorded_once(store_at):
    store = Store(store_at)
    versions = [row[0] for row in store.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [version for version, _, _ in MIGRATIONS]
    store.close()
    again = Store(store_at)  # opening it again applies nothing
    assert [row[0] for row in again.conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == versions
    again.close()


def test_every_migration_after_the_postgresql_baseline_has_a_postgresql_form():
    later = [version for version, _, _ in MIGRATIONS if version > POSTGRES_BASELINE]
    assert sorted(POSTGRES) == later


def test_several_processes_opening_a_new_store_at_once_migrate_it_once(store_at):
    probe = "import sys\nfrom keysweep.store import Store\nStore(sys.argv[1]).close()\nprint('ok')\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen([sys.executable, "-c", probe, store_at], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and out.strip() == "ok", err
    store = Store(store_at)
    versions = [row[0] for row in store.conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [version for version, _, _ in MIGRATIONS]
    store.close()


def test_a_store_from_a_newer_keysweep_is_refused(store_at):
    store = Store(store_at)
    with store.transaction():
        store.conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    store.close()
    with pytest.raises(StoreError, match="schema v999 is newer than this keysweep"):
        Store(store_at)


# -- findings -----------------------------------------------------------------------------------
def test_findings_read_back_as_recorded(store_at):
    store = Store(store_at)
    findings = [a_finding(0), a_finding(1, provider="github", repo="Acme/API"),
                a_finding(2, suppressed=True, suppression={"kind": "inline", "marker": "keysweep:allow"})]
    new = store.record(findings, "scope-a", "2026-01-01T00:00:00Z")
    assert sorted(new) == sorted([findings[0].id, findings[1].id])  # the third is suppressed everywhere
    assert store.record(findings, "scope-a", "2026-01-02T00:00:00Z") == []
    listed = store.findings()
    assert [f.id for f in listed] == sorted([findings[0].id, findings[1].id],
                                            key=lambda i: next((f.provider, f.rule_id, f.id) for f in findings
                                                               if f.id == i))
    got = {f.id: f for f in store.findings(include_suppressed=True)}
    assert set(got) == {f.id for f in findings}
    first = got[findings[0].id]
    assert (first.redacted, first.secret_sha256, first.long_lived, first.metadata) == \
        (findings[0].redacted, findings[0].secret_sha256, True, {"project": "p0"})
    assert (first.first_seen_at, first.last_seen_at) == ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    assert [(o.path, o.line, o.repo) for o in first.occurrences] == [(".env", 1, "acme/web")]
    assert got[findings[2].id].occurrences[0].suppression == {"kind": "inline", "marker": "keysweep:allow"}
    # Filters as SQLite has always answered them: provider and repository without regard to ASCII case.
    assert [f.id for f in store.findings(provider="GitHub")] == [findings[1].id]
    assert [f.id for f in store.findings(repo="acme/api")] == [findings[1].id]
    assert store.findings(ids=[]) == []
    assert [f.id for f in store.findings(ids=[findings[2].id])] == [findings[2].id]
    assert store.unknown_finding_ids([findings[0].id, "nope"]) == ["nope"]
    assert store.selection_values()["provider"] == {"openai", "github"}
    store.close()


def test_text_sorts_bytewise_as_in_sqlite(store_at):
    store = Store(store_at)
    store.record([a_finding(0, provider="alpha"), a_finding(1, provider="Zeta"), a_finding(2, provider="_x")],
                 "scope", "2026-01-01T00:00:00Z")
    assert [f.provider for f in store.findings()] == ["Zeta", "_x", "alpha"]
    store.close()


def test_no_column_holds_a_secret_value(store_at, run, keys, tmp_path):
    planted = [keys.openai_project(), keys.github(), keys.anthropic()]
    code = tmp_path / "code"
    code.mkdir()
    (code / ".env").write_text("".join(f"KEY_{i}={value}\n" for i, value in enumerate(planted)))
    result = run("scan", "dir", code, "--db", store_at, "--format", "json")
    assert result.code == 1, result
    assert len(result.json()) == 3
    store = Store(store_at)
    dump = json.dumps(all_rows(store), default=str)
    store.close()
    for value in planted:
        assert value not in dump and value[4:-4] not in dump
    assert all(secret_sha256(value) in dump for value in planted)


# -- incremental state ----------------------------------------------------------------------------
def test_incremental_state(store_at):
    store = Store(store_at)
    store.mark_scanned("git", "repo", ["b", "a"], "rules1", "2026-01-01T00:00:00Z")
    store.mark_scanned("git", "repo", ["a", "c"], "rules2", "2026-01-02T00:00:00Z")  # a re-read replaces
    assert store.scanned_objects("git", "repo", "rules1") == {"b"}
    assert store.scanned_objects("git", "repo", "rules2") == {"a", "c"}
    assert store.scanned_among("git", "repo", "rules2", ["a", "b", "z"]) == {"a"}
    assert store.count_scanned("git", "repo", "rules2") == 2
    store.replace_scanned("git-tip", "repo", ["t1", "t2"], "rules2", "2026-01-02T00:00:00Z")
    store.replace_scanned("git-tip", "repo", ["t3"], "rules2", "2026-01-03T00:00:00Z")
    assert store.scanned_objects("git-tip", "repo", "rules2") == {"t3"}
    store.record([a_finding(0, locator={"blob": "b1"}), a_finding(1, locator={"blob": "b2"})], "repo",
                 "2026-01-01T00:00:00Z")
    assert store.git_blobs_with_findings("repo") == {"b1", "b2"}
    store.save_http_validators([("https://x/1", "e1", "rules1", None)], "2026-01-01T00:00:00Z")
    store.save_http_validators([("https://x/1", "e2", "rules1", "[]")], "2026-01-02T00:00:00Z")
    assert store.http_validator("https://x/1", "rules1") == ("e2", "[]")
    assert store.http_validator("https://x/1", "rules2") is None
    store.close()


def test_a_distributed_sweeps_scans_keep_what_each_found_new(store_at):
    """A worker's scan names its sweep and keeps the ids it found new and its errors, read back by
    that sweep (keysweep/distributed/orchestrate.py); other scans are not its."""
    store = Store(store_at)
    at = "2026-01-01T00:00:00Z"
    store.record_scan("git", "acme/web", at, at, {"errors": ["acme/web: blob x: timed out"]}, 2, sweep="s1",
                      new_ids=["f2", "f1"])
    store.record_scan("git", "acme/web", at, at, {"errors": []}, 0, sweep="s1")  # read again: nothing new
    store.record_scan("git", "acme/api", at, at, {}, 1)  # a local scan
    store.record_scan("git", "acme/api", at, at, {}, 1, sweep="s2", new_ids=["f3"])
    assert store.sweep_scans("s1") == [("git", "acme/web", ["f1", "f2"], {"errors": ["acme/web: blob x: timed out"]}),
                                       ("git", "acme/web", [], {"errors": []})]
    assert store.sweep_scans("s2") == [("git", "acme/api", ["f3"], {})]
    assert store.sweep_scans("s3") == []
    store.close()


# -- audit log ------------------------------------------------------------------------------------
def test_the_audit_log_is_append_only_and_its_chain_verifies(store_at):
    store = Store(store_at)
    finding = a_finding(0)
    store.record([finding], "scope", "2026-01-01T00:00:00Z")
    jobs, job = with_job(store, finding)
    job = jobs.claim(job.id)
    jobs.record(job, [CallRecord("DELETE", "/v1/keys/x", "200")], J.REVOKED, event="revoked", attempted=True)
    before = store.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq").fetchall()
    assert len(before) >= 4
    refused = ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log WHERE seq = 1",
               "UPDATE audit_checkpoint SET seq = 1", "DELETE FROM audit_checkpoint"]
    if store.dialect == "postgresql":
        refused += ["TRUNCATE audit_log", "TRUNCATE audit_checkpoint"]
    for statement in refused:
        with pytest.raises(Exception, match="append-only|only moves forward|cannot be deleted"):
            with store.transaction():
                store.conn.execute(statement)
    assert store.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq").fetchall() == before
    report = audit.verify_chain(store.conn)
    assert report.ok and report.rows == len(before), report
    assert audit.head(store.conn) == {"seq": before[-1][0], "hash": before[-1][1]}
    store.close()


def test_an_edit_of_a_job_behind_the_log_is_detected(store_at):
    store = Store(store_at)
    finding = a_finding(0)
    store.record([finding], "scope", "2026-01-01T00:00:00Z")
    _, job = with_job(store, finding)
    assert audit.verify_chain(store.conn).ok
    with store.transaction():
        store.conn.execute("UPDATE revocations SET state = 'confirmed' WHERE id = ?", [job.id])
    report = audit.verify_chain(store.conn)
    assert not report.ok and f"revocation job {job.id}" in report.problem
    store.close()


# -- jobs -----------------------------------------------------------------------------------------
def test_a_job_is_claimed_by_one_run_only(store_at):
    first, second = Store(store_at), Store(store_at)
    finding = a_finding(0)
    first.record([finding], "scope", "2026-01-01T00:00:00Z")
    jobs_one, job = with_job(first, finding, "run1")
    jobs_two = Jobs(second, "bob", "run2", lambda: "2026-01-02T00:00:00Z")
    claimed = jobs_one.claim(job.id)
    assert claimed is not None and claimed.run_id == "run1"
    assert jobs_two.claim(job.id) is None
    assert [state for state, _ in jobs_two.transitions(job.id)] == [J.PLANNED, J.APPROVED, J.REVOKING]
    assert job.id == jobs_two.find(ids=[job.id])[0].id and jobs_two.find(ids=[]) == []
    first.close()
    second.close()


# -- one writer at a time ------------------------------------------------------------------------------
def test_a_writer_waits_for_another_then_gives_up_with_a_one_line_error(store_at, capsys):
    holder, waiter = Store(store_at), Store(store_at)
    begin_immediate(holder.conn, timeout=5)
    waiter.lock_timeout = 2.0  # the notice comes after half of it
    with pytest.raises(StoreError, match="locked by another process; gave up after"):
        waiter.mark_scanned("git", "repo", ["a"], "rules", "2026-01-01T00:00:00Z")
    assert "keysweep: waiting for another process to release the store" in capsys.readouterr().err
    holder.conn.rollback()
    waiter.mark_scanned("git", "repo", ["a"], "rules", "2026-01-01T00:00:00Z")  # free again: it writes
    assert waiter.scanned_objects("git", "repo", "rules") == {"a"}
    holder.close()
    waiter.close()


# -- both at once: the same history reads the same -------------------------------------------------
def a_history(store: Store) -> None:
    """The same operations, at the same times: scans in two scopes (one place allowed inline),
    owners, checks, a job revoked and confirmed, a managed key, HTTP validators."""
    findings = [a_finding(0), a_finding(1, provider="github", repo="Acme/API", committed_at="2025-12-01T00:00:00Z"),
                a_finding(2, suppressed=True, suppression={"kind": "inline", "marker": "keysweep:allow"})]
    store.record(findings, "scope-a", "2026-01-01T00:00:00Z")
    store.record([a_finding(0, path="b.env")], "scope-b", "2026-01-02T00:00:00Z")
    store.replace_owner_candidates(findings[0].id, [
        {"name": "kim", "team": "web", "source": "git", "confidence": 0.8, "chosen": True, "details": {"n": 3}},
        {"name": "lee", "team": "ops", "source": "git", "confidence": 0.2}], "2026-01-02T00:00:00Z")
    store.record_verification(findings[0].id, "live", {"user": "kim"}, None, "2026-01-02T01:00:00Z")
    store.record_verification(findings[1].id, "unknown", {}, "timeout", "2026-01-02T01:00:00Z")
    jobs, job = with_job(store, findings[0])
    job = jobs.claim(job.id)
    jobs.record(job, [CallRecord("DELETE", "/v1/keys/x", "200")], J.REVOKED, event="revoked", attempted=True)
    jobs.record(job, [CallRecord("GET", "/v1/me", "401")], J.CONFIRMED, event="confirmed_dead")
    store.record_managed_key("AKIANEW", "aws", findings[0].id, {"service": "ssm", "id": "p"}, job.id,
                             "2026-01-03T00:00:00Z")
    store.save_http_validators([("https://x/1", "e1", "rules", "[]")], "2026-01-03T00:00:00Z")


def test_the_same_history_reads_the_same_on_both_backends(tmp_path, pg_url):
    sqlite, postgresql = Store(str(tmp_path / "store.db")), Store(pg_url)
    now = datetime(2026, 2, 1, tzinfo=timezone.utc)
    for store in (sqlite, postgresql):
        a_history(store)
    assert postgresql.dialect == "postgresql" and sqlite.dialect == "sqlite"
    assert [asdict(f) for f in postgresql.findings(include_suppressed=True)] == \
        [asdict(f) for f in sqlite.findings(include_suppressed=True)]
    assert len(sqlite.findings(include_suppressed=True)) == 3
    assert R.build(postgresql, now=now) == R.build(sqlite, now=now)
    assert build_status(postgresql, now=now) == build_status(sqlite, now=now)
    # The same rows, so the same audit chain: the heads are equal hashes, and both verify.
    head = audit.head(sqlite.conn)
    assert head["seq"] >= 6 and audit.head(postgresql.conn) == head
    assert audit.verify_chain(postgresql.conn).ok and audit.verify_chain(sqlite.conn).ok
    rows = {store: {table: sorted(map(repr, values)) for table, values in all_rows(store).items()
                    if table != "schema_migrations"} for store in (sqlite, postgresql)}
    assert rows[postgresql] == rows[sqlite]
    sqlite.close()
    postgresql.close()


# -- the command line ---------------------------------------------------------------------------
def test_scan_and_findings_through_db_and_keysweep_db(store_at, run, keys, tmp_path, monkeypatch):
    code = tmp_path / "code"
    code.mkdir()
    (code / "a.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\nGITHUB_TOKEN={keys.github()}\n")
    one_shot = run("scan", "dir", code, "--no-store", "--format", "json")
    assert one_shot.code == 1, one_shot
    scanned = run("scan", "dir", code, "--db", store_at, "--format", "json")
    assert scanned.code == 1, scanned
    assert {f["id"] for f in scanned.json()} == {f["id"] for f in one_shot.json()}
    monkeypatch.setenv("KEYSWEEP_DB", store_at)
    listed = run("findings", "--format", "json")
    assert listed.code == 1, listed  # findings listed: exit 1, as a scan that finds them
    assert [(f["id"], f["redacted"]) for f in listed.json()] == [(f["id"], f["redacted"]) for f in scanned.json()]
    assert run("audit", "verify").code == 0


# -- the PostgreSQL seam itself ------------------------------------------------------------------------
def test_statements_are_translated_outside_quotes_only():
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE ? AND d = '?%'") == \
        "SELECT a FROM t WHERE b = %s AND c ILIKE %s AND d = '?%%'"


def test_a_postgresql_password_is_never_shown(run):
    assert redact_url("postgresql://kim:s3cretpass@db:5432/keys?sslmode=require") == \
        "postgresql://kim:***@db:5432/keys?sslmode=require"
    assert redact_url("postgresql://db/keys?password=s3cretpass") == "postgresql://db/keys?password=***"
    result = run("findings", "--db", "postgresql://kim:s3cretpass@127.0.0.1:1/keys")
    assert result.code == 2, result
    assert "s3cretpass" not in result.stdout + result.stderr
    assert "postgresql://kim:***@127.0.0.1:1/keys: cannot open store" in result.stderr
    assert "Traceback" not in result.stderr
