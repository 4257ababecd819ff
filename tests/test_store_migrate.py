"""`keysweep store migrate --from keysweep.db --to postgresql://…` (issue 16): every row moves as it
is, the moved store is the same store (findings, audit chain and head, jobs, incremental state), the
PostgreSQL store goes on from there, and nothing is merged into a store that already holds data."""

from __future__ import annotations

import json

from keysweep.remediation import jobs as J
from keysweep.remediation.jobs import CallRecord, Jobs
from keysweep.revokers import Plan, PlannedCall
from keysweep.store import Store
from keysweep.store.move import TABLES, counts


def table_rows(location: str, table: str, names: list[str]) -> list[tuple]:
    store = Store(location)
    try:
        return sorted(store.conn.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall(), key=repr)
    finally:
        store.close()


def a_store_with_history(run, make_repo, keys, tmp_path) -> tuple[str, object]:
    """A SQLite store as a team's would be: scans, incremental state, a revoked job, owners, checks."""
    repo = make_repo()
    repo.commit("config", {".env": f"OPENAI_API_KEY={keys.openai_project()}\nGITHUB_TOKEN={keys.github()}\n"})
    repo.commit("more", {"deploy/settings.py": f'ANTHROPIC = "{keys.anthropic()}"\n'})
    db = str(tmp_path / "keysweep.db")
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    store = Store(db)
    finding = store.findings()[0]
    jobs = Jobs(store, "alice", "run1", lambda: "2026-01-02T00:00:00Z")
    plan = Plan(finding.provider, finding.id, [PlannedCall("DELETE", "/keys/x", "delete it")], data={"key_id": "x"})
    job, _ = jobs.create(finding, finding.provider, plan, approve=True)
    job = jobs.claim(job.id)
    jobs.record(job, [CallRecord("DELETE", "/keys/x", "204")], J.REVOKED, event="revoked", attempted=True)
    store.record_verification(finding.id, "dead", {"user": "kim"}, None, "2026-01-03T00:00:00Z")
    store.replace_owner_candidates(finding.id, [{"name": "kim", "team": "web", "source": "git", "confidence": 0.75,
                                                 "chosen": True, "details": {"commits": 3}}], "2026-01-03T00:00:00Z")
    store.save_http_validators([("https://api.example/x", "etag-1", "rules", "[]")], "2026-01-03T00:00:00Z")
    store.record_managed_key("AKIANEW", "aws", finding.id, {"service": "secretsmanager", "id": "s"}, job.id,
                             "2026-01-03T00:00:00Z")
    store.close()
    return db, repo


def test_a_sqlite_store_moves_whole_into_postgresql_and_goes_on_there(run, make_repo, keys, tmp_path, pg_url):
    db, repo = a_store_with_history(run, make_repo, keys, tmp_path)
    head_before = run("audit", "head", "--db", db).stdout.strip()
    findings_before = run("findings", "--db", db, "--format", "json").json()

    moved = run("store", "migrate", "--from", db, "--to", pg_url, "--format", "json")
    assert moved.code == 0, moved
    report = moved.json()
    assert report["audit_head"] == {"seq": int(head_before.split(":")[0]), "hash": head_before.split(":")[1]}
    assert report["rows"]["findings"] == 3 and report["rows"]["revocations"] == 1

    source = Store(db)
    for table in TABLES:  # every row of every table, as it was
        names = [d[0] for d in source.conn.execute(f"SELECT * FROM {table} LIMIT 0").description]
        assert table_rows(pg_url, table, names) == table_rows(db, table, names), table
    source.close()
    assert run("findings", "--db", pg_url, "--format", "json").json() == findings_before
    assert run("audit", "head", "--db", pg_url).stdout.strip() == head_before
    assert run("audit", "verify", "--db", pg_url).code == 0

    # The PostgreSQL store goes on: a rescan reads nothing it had read, new rows get new ids.
    rescan = run("scan", "git", repo.path, "--db", pg_url, "--format", "json")
    assert rescan.code == 1, rescan
    store = Store(pg_url)
    stats = json.loads(store.conn.execute("SELECT stats FROM scans ORDER BY id DESC LIMIT 1").fetchone()[0])
    assert stats["blobs_scanned"] == 0
    assert store.conn.execute("SELECT count(*) FROM scans").fetchone()[0] == 2
    jobs = Jobs(store, "bob", "run2", lambda: "2026-01-04T00:00:00Z")
    other = store.findings()[1]
    job, created = jobs.create(other, other.provider, Plan(other.provider, other.id, []), approve=False)
    assert created and job.id == 2
    store.close()
    assert run("audit", "verify", "--db", pg_url).code == 0


def test_nothing_is_merged_into_a_store_that_holds_data(run, make_repo, keys, tmp_path, pg_url):
    db, _ = a_store_with_history(run, make_repo, keys, tmp_path)
    first = run("store", "migrate", "--from", db, "--to", pg_url)
    assert first.code == 0, first
    head = run("audit", "head", "--db", pg_url).stdout
    assert "findings                         3 rows\n" in first.stdout
    assert first.stdout.endswith(f"audit log verified, head {head.strip()}\n")
    assert "keysweep.db -> postgresql://" in first.stdout
    again = run("store", "migrate", "--from", db, "--to", pg_url)
    assert again.code == 2, again
    assert again.stderr.startswith("keysweep: error: ") and "already holds keysweep data (findings (3)" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert run("audit", "head", "--db", pg_url).stdout == head
    assert run("audit", "verify", "--db", pg_url).code == 0


def test_bad_arguments_are_one_line_errors(run, tmp_path, pg_url):
    missing = run("store", "migrate", "--from", tmp_path / "none.db", "--to", pg_url)
    assert missing.code == 2 and "none.db: no store there" in missing.stderr, missing
    assert not (tmp_path / "none.db").exists()
    not_a_url = run("store", "migrate", "--from", tmp_path / "none.db", "--to", tmp_path / "other.db")
    assert not_a_url.code == 2 and "expected a postgresql:// URL" in not_a_url.stderr, not_a_url
    for result in (missing, not_a_url):
        assert "Traceback" not in result.stderr


def test_a_store_of_an_older_keysweep_is_upgraded_in_place_then_moved(run, tmp_path, pg_url):
    """A SQLite store left at schema v1 (the first release's) upgrades in place through every
    migration when it is opened, and moves like any other."""
    import sqlite3

    import sqlite_utils

    from keysweep.store.migrations import MIGRATIONS

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    MIGRATIONS[0][2](sqlite_utils.Database(conn))
    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (1, 'initial schema')")
    conn.execute("INSERT INTO findings (id, provider, rule_id, secret_sha256, redacted, long_lived, first_seen_at, "
                 "last_seen_at, status) VALUES ('f_0123456789abcdef', 'openai', 'openai.project-key', ?, "
                 "'sk-proj-…AbCd', 1, '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z', 'open')", ["a" * 64])
    conn.execute("INSERT INTO occurrences (id, finding_id, scope, source, path, line, locator, seen_at) VALUES "
                 "('o1', 'f_0123456789abcdef', '/src/app', 'dir', '.env', 3, '{\"root\": \"/src/app\", "
                 "\"path\": \".env\"}', '2025-01-02T00:00:00Z')")
    conn.commit()
    conn.close()

    moved = run("store", "migrate", "--from", db, "--to", pg_url, "--format", "json")
    assert moved.code == 0, moved
    assert moved.json()["rows"]["findings"] == 1 and moved.json()["rows"]["occurrences"] == 1
    with sqlite3.connect(db) as upgraded:  # upgraded in place, to the current version
        versions = [row[0] for row in upgraded.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [version for version, _, _ in MIGRATIONS]
    old, new = run("findings", "--db", db, "--format", "json"), run("findings", "--db", pg_url, "--format", "json")
    assert old.code == new.code == 1
    assert new.json() == old.json()
    assert [(f["id"], f["redacted"]) for f in new.json()] == [("f_0123456789abcdef", "sk-proj-…AbCd")]
    assert run("audit", "verify", "--db", pg_url).code == 0


def test_a_move_shows_rows_copied_of_the_total_when_asked(run, make_repo, keys, tmp_path, pg_url):
    db, _repo = a_store_with_history(run, make_repo, keys, tmp_path)
    source = Store(db)
    total = sum(counts(source).values())
    source.close()
    moved = run("store", "migrate", "--from", db, "--to", pg_url, "--progress")
    assert moved.code == 0, moved
    lines = [line for line in moved.stderr.splitlines() if line.startswith("keysweep: copying: ")]
    assert lines and lines[-1].startswith(f"keysweep: copying: {total}/{total} rows"), moved.stderr
