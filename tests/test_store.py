"""The findings store: a real SQLite file, versioned migrations, one row per secret, filters, and an
append-only audit log."""

from __future__ import annotations

import sqlite3

import pytest

from keysweep.store import MIGRATIONS, Store
from tests.conftest import find_secret


@pytest.fixture
def scanned(run, make_repo, keys, tmp_path):
    """Two repositories in one store; one OpenAI key appears in both."""
    db = tmp_path / "store.db"
    shared, anthropic, github = keys.openai_project(), keys.anthropic(), keys.github()
    api = make_repo("api-service")
    api.commit("Add", {"a.env": f"OPENAI_API_KEY={shared}\nANTHROPIC_API_KEY={anthropic}\n"})
    web = make_repo("web-frontend")
    web.commit("Add", {"ci/deploy.sh": f"OPENAI_API_KEY={shared}\nexport GH={github}\n"})
    for repo in (api, web):
        assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    return {"db": db, "api": api, "web": web, "shared": shared, "anthropic": anthropic, "github": github}


def rows(db, sql: str, *params):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_store_is_a_sqlite_file_with_recorded_migrations(scanned):
    db = scanned["db"]
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"
    assert rows(db, "SELECT version, name FROM schema_migrations") == [(v, n) for v, n, _ in MIGRATIONS]
    tables = {name for (name,) in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"findings", "occurrences", "scanned", "scans", "events", "audit_log", "schema_migrations"} <= tables
    # Reopening applies nothing twice.
    Store(db).close()
    assert len(rows(db, "SELECT * FROM schema_migrations")) == len(MIGRATIONS)


def test_one_row_per_secret_with_all_its_occurrences(scanned):
    db = scanned["db"]
    assert rows(db, "SELECT count(*) FROM findings") == [(3,)]
    [(finding_id, first_seen, last_seen)] = rows(
        db, "SELECT id, first_seen_at, last_seen_at FROM findings WHERE provider = 'openai'")
    assert first_seen <= last_seen
    places = rows(db, "SELECT repo, path, line FROM occurrences WHERE finding_id = ? ORDER BY repo", finding_id)
    assert places == [(str(scanned["api"].path.resolve()), "a.env", 1),
                      (str(scanned["web"].path.resolve()), "ci/deploy.sh", 1)]
    assert rows(db, "SELECT count(*) FROM scans") == [(2,)]


def test_findings_command_and_its_filters(run, scanned):
    db = scanned["db"]
    everything = run("findings", "--db", db, "--format", "json")
    assert everything.code == 1, everything
    assert len(everything.json()) == 3
    assert len(find_secret(everything.json(), scanned["shared"])["occurrences"]) == 2

    openai = run("findings", "--db", db, "--provider", "openai", "--format", "json").json()
    assert [f["provider"] for f in openai] == ["openai"]
    by_rule = run("findings", "--db", db, "--rule", "github.classic-pat", "--format", "json").json()
    assert [f["rule_id"] for f in by_rule] == ["github.classic-pat"]
    web = run("findings", "--db", db, "--repo", str(scanned["web"].path.resolve()), "--format", "json").json()
    assert {f["provider"] for f in web} == {"openai", "github"}
    api = run("findings", "--db", db, "--repo", "api-service", "--format", "json").json()
    assert {f["provider"] for f in api} == {"openai", "anthropic"}
    combined = run("findings", "--db", db, "--repo", "api-service", "--provider", "github", "--format", "json")
    assert (combined.code, combined.json()) == (0, [])
    for fmt in ("table", "jsonl", "sarif", "csv"):
        assert run("findings", "--db", db, "--format", fmt).code == 1


@pytest.mark.parametrize("args", [("findings",), ("status",), ("report",), ("verify",), ("owners",), ("revoke", "--all"),
                                  ("events",), ("audit", "log"), ("audit", "head"), ("audit", "verify")])
def test_a_command_without_a_store_says_so_in_the_same_line(run, tmp_path, args):
    """Every command that reads the store: one line, exit 2, the same words (no usage hint on some)."""
    result = run(*args, "--db", tmp_path / "nothing.db")
    assert result.code == 2
    assert result.stderr == f"keysweep: error: {tmp_path / 'nothing.db'}: no store yet (run a scan first, or pass --db)\n"


def test_default_store_comes_from_keysweep_db(run, make_repo, keys, tmp_path, monkeypatch):
    db = tmp_path / "from-env.db"
    monkeypatch.setenv("KEYSWEEP_DB", str(db))
    repo = make_repo()
    repo.commit("Add", {"a.env": f"K={keys.anthropic()}\n"})
    assert run("scan", "git", repo.path).code == 1
    assert rows(db, "SELECT count(*) FROM findings") == [(1,)]
    assert len(run("findings", "--format", "json").json()) == 1


def test_no_store_writes_nothing(run, make_repo, keys, tmp_path, monkeypatch):
    db = tmp_path / "untouched.db"
    monkeypatch.setenv("KEYSWEEP_DB", str(db))
    repo = make_repo()
    repo.commit("Add", {"a.env": f"K={keys.anthropic()}\n"})
    assert run("scan", "git", repo.path, "--no-store").code == 1
    assert run("scan", "dir", repo.path, "--no-store").code == 1
    assert not db.exists()


def test_audit_log_is_append_only(scanned):
    conn = sqlite3.connect(scanned["db"])
    try:
        with conn:
            conn.execute("INSERT INTO audit_log (at, actor, action, target, result, prev_hash, hash) "
                         "VALUES ('2026-01-01T00:00:00Z', 'test', 'revoke', 'f_x', 'ok', '', 'h1')")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            with conn:
                conn.execute("UPDATE audit_log SET result = 'forged'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            with conn:
                conn.execute("DELETE FROM audit_log")
        assert conn.execute("SELECT action, result FROM audit_log").fetchall() == [("revoke", "ok")]
    finally:
        conn.close()


def test_a_store_from_a_newer_keysweep_is_refused(run, scanned):
    conn = sqlite3.connect(scanned["db"])
    with conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')")
    conn.close()
    result = run("findings", "--db", scanned["db"])
    assert result.code == 2
    assert "newer than this keysweep" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_corrupt_store_is_an_input_error(run, make_repo, tmp_path):
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not a database" * 100)
    repo = make_repo()
    repo.commit("Init", {"README.md": "# app\n"})
    result = run("scan", "git", repo.path, "--db", db)
    assert result.code == 2
    assert result.stderr.startswith(f"keysweep: error: {db}: cannot open store")
    assert len(result.stderr.splitlines()) == 1


def test_finding_metadata_survives_the_store(run, make_repo, keys, tmp_path):
    """A finding read back from the store says what a one-shot scan says (GCP client_email, project)."""
    repo = make_repo()
    account = keys.gcp_service_account()
    repo.commit("Add service account", {"deploy/sa.json": account.json_text})
    one_shot = run("scan", "git", repo.path, "--no-store", "--format", "json").json()
    db = tmp_path / "store.db"
    run("scan", "git", repo.path, "--db", db, "--format", "json")
    stored = run("findings", "--db", db, "--format", "json").json()
    [gcp_one_shot] = [f for f in one_shot if f["provider"] == "gcp"]
    [gcp_stored] = [f for f in stored if f["provider"] == "gcp"]
    assert gcp_one_shot["metadata"] and gcp_one_shot["metadata"] == gcp_stored["metadata"]
    assert account.client_email in str(gcp_stored["metadata"].values())
    assert rows(db, "SELECT version FROM schema_migrations WHERE version = 5") == [(5,)]
