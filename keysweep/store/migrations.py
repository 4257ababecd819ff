"""The store's schema as numbered migrations, applied in order by `Store` (keysweep/store/__init__.py).

A migration is a function of the sqlite-utils database; each runs once, recorded in `schema_migrations`.

A PostgreSQL store is created at `POSTGRES_BASELINE` (migrations 1..8 as one script, in
keysweep/store/postgres.py). Every migration after it is written once for both dialects: its SQLite
form here in MIGRATIONS, its PostgreSQL form in POSTGRES under the same version (a function of the
`PgConnection`, run inside the migration's transaction); tests/test_store_backends.py checks that
none is missing.
"""

from __future__ import annotations

from typing import Callable


def _m1_initial(db) -> None:
    db["findings"].create({
        "id": str, "provider": str, "rule_id": str, "secret_sha256": str, "redacted": str,
        "long_lived": int, "key_id": str, "first_seen_at": str, "last_seen_at": str, "status": str,
    }, pk="id", not_null={"provider", "rule_id", "secret_sha256", "redacted"})
    db["findings"].create_index(["provider"])
    db["findings"].create_index(["rule_id"])
    db["occurrences"].create({
        "id": str, "finding_id": str, "scope": str, "source": str, "repo": str, "path": str, "line": int,
        "commit_id": str, "author_name": str, "author_email": str, "committed_at": str,
        "locator": str, "seen_at": str,
    }, pk="id", foreign_keys=[("finding_id", "findings", "id")])
    db["occurrences"].create_index(["finding_id"])
    db["occurrences"].create_index(["scope"])
    db["scanned"].create({
        "source": str, "scope": str, "object_id": str, "rules_digest": str, "scanned_at": str,
    }, pk=("source", "scope", "object_id"))
    db["scans"].create({
        "id": int, "source": str, "scope": str, "started_at": str, "finished_at": str,
        "stats": str, "new_findings": int,
    }, pk="id")
    db["verifications"].create({
        "id": int, "finding_id": str, "status": str, "identity": str, "error": str, "checked_at": str,
    }, pk="id", foreign_keys=[("finding_id", "findings", "id")])
    db["owner_candidates"].create({
        "id": int, "finding_id": str, "name": str, "team": str, "purpose": str, "source": str,
        "confidence": float, "evidence": str, "chosen": int,
    }, pk="id", foreign_keys=[("finding_id", "findings", "id")])
    db["revocations"].create({
        "id": int, "finding_id": str, "revoker": str, "plan": str, "state": str, "attempts": int,
        "last_error": str, "updated_at": str,
    }, pk="id", foreign_keys=[("finding_id", "findings", "id")])
    db["events"].create({
        "id": int, "finding_id": str, "kind": str, "at": str, "detail": str,
    }, pk="id", foreign_keys=[("finding_id", "findings", "id")])
    db["events"].create_index(["finding_id", "kind"])
    db["audit_log"].create({
        "seq": int, "at": str, "actor": str, "action": str, "target": str, "result": str,
        "prev_hash": str, "hash": str,
    }, pk="seq")
    # Append-only: the database itself refuses to rewrite history.
    db.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    db.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")




def _m7_managed_keys(db) -> None:
    """Keys keysweep itself created (`revoke --rotate`): the new key id, the finding it replaced,
    where it was written. A later scan that finds the key there reports it as managed, not as a leak."""
    db["managed_keys"].create({
        "key_id": str, "provider": str, "rotated_from": str, "written_to": str, "job_id": int,
        "created_at": str,
    }, pk="key_id", if_not_exists=True)


def _m6_suppressed_occurrences(db) -> None:
    """A suppressed place (inline allow marker, ignore-file entry) is kept with its reason, so a
    finding suppressed everywhere is hidden by default and can still be listed and audited."""
    columns = db["occurrences"].columns_dict
    if "suppressed" not in columns:
        db["occurrences"].add_column("suppressed", int, not_null_default=0)
    if "suppression" not in columns:
        db["occurrences"].add_column("suppression", str)


def _m5_finding_metadata(db) -> None:
    """Non-secret facts a rule or enricher learned about the credential (a GCP key's client_email
    and project, an Azure endpoint, an AWS account id), so a finding read back from the store says
    what a one-shot scan says."""
    if "metadata" not in db["findings"].columns_dict:
        db["findings"].add_column("metadata", str)


def _m4_remote_sources(db) -> None:
    """Occurrences of remote sources carry non-secret facts (rotation state, ages, last modifier);
    `http_validators` keeps ETags of API listings so an unchanged listing costs a 304, and the
    body only of listings that hold no value (secret names and dates, environment names)."""
    if "metadata" not in db["occurrences"].columns_dict:
        db["occurrences"].add_column("metadata", str)
    db["http_validators"].create({
        "url": str, "etag": str, "rules_digest": str, "body": str, "fetched_at": str,
    }, pk="url", if_not_exists=True)


def _m3_verify_owners(db) -> None:
    """Verification and owner resolution: lookups by finding, and what a revoker needs later
    (a candidate's contact and provider details such as an inventory's project id)."""
    db["verifications"].create_index(["finding_id", "checked_at"], if_not_exists=True)
    db["owner_candidates"].create_index(["finding_id"], if_not_exists=True)
    for column in ("contact", "details", "resolved_at"):
        if column not in db["owner_candidates"].columns_dict:
            db["owner_candidates"].add_column(column, str)

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


def _m9_reach(db) -> None:
    """What a live key could do (`reach`, keysweep/verify/reach.py), kept with the verification
    that saw it live; a later check without one (the key died) leaves it readable."""
    if "reach" not in db["verifications"].columns_dict:
        db["verifications"].add_column("reach", str)


def _m10_sweep_scans(db) -> None:
    """A scan a distributed sweep's worker recorded names that sweep (`sweep`) and keeps the ids of
    the findings it found new (`new_ids`, JSON), in the same transaction as the findings: the sweep
    reads them back, so a unit read twice (its worker lost after recording it) still counts as new
    what its first reading found new (keysweep/distributed/orchestrate.py)."""
    columns = db["scans"].columns_dict
    for column in ("sweep", "new_ids"):
        if column not in columns:
            db["scans"].add_column(column, str)
    db.execute("CREATE INDEX IF NOT EXISTS scans_sweep ON scans (sweep) WHERE sweep IS NOT NULL")


MIGRATIONS: list[tuple[int, str, Callable]] = [
    (1, "initial schema", _m1_initial),
    (2, "revocation jobs, transitions, calls and runs", migrate_revocation_jobs),
    (3, "verification and owner lookups", _m3_verify_owners),
    (4, "remote sources: occurrence metadata, HTTP validators", _m4_remote_sources),
    (5, "finding metadata", _m5_finding_metadata),
    (6, "suppressed occurrences", _m6_suppressed_occurrences),
    (7, "keys keysweep created (managed keys)", _m7_managed_keys),
    (8, "audit anchor: checkpoint of the log's head, job digests",
     migrate_audit_anchor),
    (9, "reach of live keys, with their verification", _m9_reach),
    (10, "scans of distributed sweeps: the sweep, the findings new to each", _m10_sweep_scans),
]

def _m9_reach_postgres(conn) -> None:
    conn.raw.execute('ALTER TABLE verifications ADD COLUMN IF NOT EXISTS reach TEXT COLLATE "C"')


def _m10_sweep_scans_postgres(conn) -> None:
    conn.raw.execute('ALTER TABLE scans ADD COLUMN IF NOT EXISTS sweep TEXT COLLATE "C"')
    conn.raw.execute('ALTER TABLE scans ADD COLUMN IF NOT EXISTS new_ids TEXT COLLATE "C"')
    conn.raw.execute("CREATE INDEX IF NOT EXISTS scans_sweep ON scans (sweep) WHERE sweep IS NOT NULL")


# The PostgreSQL form of each migration after POSTGRES_BASELINE (keysweep/store/postgres.py), by version.
POSTGRES: dict[int, Callable] = {9: _m9_reach_postgres, 10: _m10_sweep_scans_postgres}
