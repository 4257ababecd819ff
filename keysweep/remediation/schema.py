"""Store migrations for remediation (appended to `keysweep.scanner.store.MIGRATIONS`)."""

from __future__ import annotations


def migrate_revocation_jobs(db) -> None:
    """One job per (finding, revoker); a timestamp per state transition; every call and its result;
    the runs that claimed jobs (so `--resume` can tell an abandoned claim from a live one)."""
    columns = {c.name for c in db["revocations"].columns}
    for name, kind in (("created_at", str), ("next_attempt_at", str), ("run_id", str),
                       ("approved_by", str), ("policy_rule", str), ("provider", str)):
        if name not in columns:
            db["revocations"].add_column(name, kind)
    # Keep the newest job where an older store holds duplicates, then make the key unique.
    db.execute("DELETE FROM revocations WHERE id NOT IN "
               "(SELECT max(id) FROM revocations GROUP BY finding_id, revoker)")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS revocations_job_key ON revocations (finding_id, revoker)")
    db.execute("CREATE INDEX IF NOT EXISTS revocations_state ON revocations (state)")
    db["revocation_transitions"].create({
        "id": int, "revocation_id": int, "finding_id": str, "state": str, "at": str, "actor": str,
        "run_id": str, "detail": str,
    }, pk="id", foreign_keys=[("revocation_id", "revocations", "id")], if_not_exists=True)
    db["revocation_transitions"].create_index(["revocation_id"], if_not_exists=True)
    db["revocation_calls"].create({
        "id": int, "revocation_id": int, "finding_id": str, "run_id": str, "method": str,
        "target": str, "outcome": str, "detail": str, "at": str,
    }, pk="id", foreign_keys=[("revocation_id", "revocations", "id")], if_not_exists=True)
    db["revocation_calls"].create_index(["revocation_id"], if_not_exists=True)
    db["remediation_runs"].create({
        "id": str, "actor": str, "pid": int, "host": str, "command": str, "started_at": str,
        "finished_at": str, "summary": str,
    }, pk="id", if_not_exists=True)


def migrate_audit_anchor(db) -> None:
    """The audit log's head kept outside the log (`audit_checkpoint`, moved forward with each append)
    and a `digest` column anchoring revocation jobs' rows in the chain (keysweep/remediation/audit.py).
    Jobs that exist before this migration were never anchored: `jobs_from` says where anchoring began."""
    if "digest" not in db["audit_log"].columns_dict:
        db.execute("ALTER TABLE audit_log ADD COLUMN digest TEXT")
    db.execute("CREATE TABLE IF NOT EXISTS audit_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), "
               "seq INTEGER NOT NULL, hash TEXT NOT NULL, at TEXT, jobs_from INTEGER)")
    last = db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    newest_job = db.execute("SELECT max(id) FROM revocations").fetchone()[0] or 0
    db.execute("INSERT OR IGNORE INTO audit_checkpoint (id, seq, hash, at, jobs_from) "
               "VALUES (1, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?)",
               [last[0] if last else 0, last[1] if last else "0" * 64, newest_job + 1])
    # Like the log itself: the checkpoint only moves forward, and is never deleted.
    db.execute("CREATE TRIGGER IF NOT EXISTS audit_checkpoint_forward BEFORE UPDATE ON audit_checkpoint "
               "WHEN NEW.seq < OLD.seq OR NEW.jobs_from IS NOT OLD.jobs_from "
               "BEGIN SELECT RAISE(ABORT, 'audit_checkpoint only moves forward'); END")
    db.execute("CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint "
               "BEGIN SELECT RAISE(ABORT, 'audit_checkpoint cannot be deleted'); END")
