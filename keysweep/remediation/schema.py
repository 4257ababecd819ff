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
