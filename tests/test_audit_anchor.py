"""The audit chain is anchored: removing its last rows or all of them is detected (internal
checkpoint, and the operator's own copy of the head with `audit verify --expect`), and so is any
edit of the revocation jobs' tables made behind the log."""

from __future__ import annotations

import json
import sqlite3

import pytest

from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Finding, Occurrence
from keysweep.remediation import audit
from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import CallRecord, Jobs
from keysweep.revokers import Plan, PlannedCall
from keysweep.store import Store


def a_finding(n: int) -> Finding:
    value = f"sk-proj-{n:04d}" + "Zq7x" * 11
    digest = secret_sha256(value)
    return Finding(id=finding_id("openai", digest), rule_id="openai.project-key", provider="openai",
                   secret_sha256=digest, redacted=redact(value, "sk-proj-"), long_lived=True,
                   occurrences=[Occurrence(source="git", path=".env", line=1, repo="acme/web")])


def with_jobs(tmp_path, count: int = 2) -> Store:
    """A store whose log holds real revocation work: plan, approve, claim, call, revoked."""
    store = Store(tmp_path / "k.db")
    findings = [a_finding(n) for n in range(count)]
    store.record(findings, "scope", "2026-01-01T00:00:00Z")
    jobs = Jobs(store, "alice", "run1", lambda: "2026-01-02T00:00:00Z")
    for finding in findings:
        plan = Plan("openai", finding.id, [PlannedCall("DELETE", "/v1/keys/x", "delete it")], data={"key_id": "x"})
        job, _ = jobs.create(finding, "openai", plan, approve=True)
        job = jobs.claim(job.id)
        jobs.record(job, [CallRecord("DELETE", "/v1/keys/x", "200")], J.REVOKED, event="revoked")
    return store


def tamper(store: Store, *statements: str) -> None:
    """What someone with the database file can do: drop the triggers, then write."""
    for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_checkpoint_forward",
                    "audit_checkpoint_no_delete"):
        store.conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        store.conn.execute(statement)
    store.conn.commit()


def verify(run, tmp_path, *extra):
    return run("audit", "verify", "--db", tmp_path / "k.db", *extra)


def test_intact_log_and_its_head(tmp_path, run):
    store = with_jobs(tmp_path)
    head = audit.head(store.conn)
    store.close()
    assert head["seq"] > 5
    printed = run("audit", "head", "--db", tmp_path / "k.db")
    assert printed.code == 0 and printed.stdout.strip() == f"{head['seq']}:{head['hash']}"
    ok = verify(run, tmp_path, "--expect", printed.stdout.strip())
    assert ok.code == 0 and "chain intact" in ok.stdout, ok


def test_removing_the_last_rows_is_detected(tmp_path, run):
    store = with_jobs(tmp_path, count=1)
    last = audit.head(store.conn)["seq"]
    # Delete the last two rows (the call's outcome and the revoked state): the chain itself still
    # links up, only the checkpoint shows the log was cut.
    tamper(store, f"DELETE FROM audit_log WHERE seq > {last - 2}")
    store.close()
    result = verify(run, tmp_path)
    assert result.code == 1
    assert f"rows {last - 1}..{last} were removed" in result.stdout, result.stdout


def test_removing_every_row_is_detected(tmp_path, run):
    store = with_jobs(tmp_path)
    last = audit.head(store.conn)["seq"]
    tamper(store, "DELETE FROM audit_log")
    store.close()
    result = verify(run, tmp_path)
    assert result.code == 1 and "all rows were removed" in result.stdout and str(last) in result.stdout


def test_expected_head_catches_a_cut_that_rewrote_the_checkpoint_too(tmp_path, run):
    store = with_jobs(tmp_path, count=1)
    kept = audit.head(store.conn)
    cut = kept["seq"] - 3
    new_last = store.conn.execute("SELECT hash FROM audit_log WHERE seq = ?", [cut]).fetchone()[0]
    tamper(store, f"DELETE FROM audit_log WHERE seq > {cut}",
           f"UPDATE audit_checkpoint SET seq = {cut}, hash = '{new_last}'",
           # and the job's rows back to what they were at that row, so nothing else shows
           "DELETE FROM revocation_calls", "DELETE FROM revocation_transitions WHERE state = 'revoked'",
           "UPDATE revocations SET state = 'revoking'")
    store.close()
    expect = f"{kept['seq']}:{kept['hash']}"
    result = verify(run, tmp_path, "--expect", expect)
    assert result.code == 1
    assert f"the expected head, row {kept['seq']}, is missing: the log ends at row {cut}" in result.stdout


def test_expected_head_must_match_its_row(tmp_path, run):
    store = with_jobs(tmp_path, count=1)
    seq = audit.head(store.conn)["seq"]
    store.close()
    result = verify(run, tmp_path, "--expect", f"{seq}:{'ab' * 32}")
    assert result.code == 1 and f"row {seq} is not the expected head" in result.stdout


@pytest.mark.parametrize("expect", ["12", "x:" + "a" * 64, "3:" + "g" * 64, "3:abc", ""])
def test_malformed_expect_is_a_usage_error(tmp_path, run, expect):
    with_jobs(tmp_path, count=1).close()
    result = verify(run, tmp_path, "--expect", expect)
    assert result.code == 2 and "SEQ:HASH" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("edit", [
    "UPDATE revocations SET state = 'confirmed' WHERE id = 1",
    "UPDATE revocation_transitions SET at = '2020-01-01T00:00:00Z' WHERE revocation_id = 1 AND state = 'revoked'",
    "DELETE FROM revocation_calls WHERE revocation_id = 1",
    "UPDATE revocation_calls SET outcome = '404' WHERE revocation_id = 1",
])
def test_editing_a_job_behind_the_log_is_detected(tmp_path, run, edit):
    store = with_jobs(tmp_path)
    assert audit.verify_chain(store.conn).ok
    store.conn.execute(edit)  # no trigger guards these tables: the chain does
    store.conn.commit()
    store.close()
    result = verify(run, tmp_path)
    assert result.code == 1
    assert "revocation job 1: its rows" in result.stdout and "changed after audit row" in result.stdout, result.stdout


def test_a_job_inserted_behind_the_log_is_detected(tmp_path, run):
    store = with_jobs(tmp_path, count=1)
    finding = a_finding(9)
    store.record([finding], "scope", "2026-01-01T00:00:00Z")
    store.conn.execute("INSERT INTO revocations (finding_id, revoker, provider, plan, state, attempts, updated_at) "
                       "VALUES (?, 'openai', 'openai', '{}', 'confirmed', 1, '2026-01-02T00:00:00Z')", [finding.id])
    store.conn.commit()
    store.close()
    result = verify(run, tmp_path)
    assert result.code == 1 and "revocation job 2 has no audit record" in result.stdout


def test_the_checkpoint_only_moves_forward(tmp_path):
    store = with_jobs(tmp_path, count=1)
    with pytest.raises(sqlite3.DatabaseError):
        store.conn.execute("UPDATE audit_checkpoint SET seq = 1")
    with pytest.raises(sqlite3.DatabaseError):
        store.conn.execute("DELETE FROM audit_checkpoint")


def test_a_row_quoting_a_smuggled_byte_or_a_lone_surrogate_stays_json_naming_its_job(tmp_path):
    store = with_jobs(tmp_path, count=1)
    job = store.conn.execute("SELECT id FROM revocations").fetchone()[0]
    with store.conn:
        seq = audit.append(store.conn, "2026-01-01T00:00:00Z", "actor", "revoke_call",
                           {"job": job, "target": "repo-\udc80/\ud800"}, {"detail": ["\udcff", {"k\ud800": 1}]})
    target, result = store.conn.execute("SELECT target, result FROM audit_log WHERE seq = ?", [seq]).fetchone()
    # The byte as \xNN and the lone surrogate as U+FFFD, inside strings JSON still reads.
    assert json.loads(target) == {"job": job, "target": "repo-\\x80/\ufffd"}
    assert json.loads(result) == {"detail": ["\\xff", {"k\ufffd": 1}]}
    assert audit._target_job(target) == job
    assert audit.verify_chain(store.conn).ok
