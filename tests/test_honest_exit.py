"""Honest exit status (docs: "Exit statuses"): a run that could read nothing never says "No findings."
and exits 0; a path named on the command line that cannot be scanned is a usage error; a finding id
that does not exist is a usage error; `demo --keep` never writes into someone's directory."""

from __future__ import annotations

import os
import socket
import stat

import pytest


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_every_source_failed(result, *fragments: str) -> None:
    assert result.code == 3, result
    assert "No findings." not in result.stdout + result.stderr, result
    assert "every source failed" in result.stdout, result
    assert "keysweep: error: nothing was scanned: every source failed" in result.stderr, result
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result)


def assert_one_line_usage_error(result, *fragments: str) -> None:
    assert result.code == 2, result
    assert result.stdout == "", result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keysweep: error: "), result
    for fragment in fragments:
        assert fragment in lines[0], (fragment, result)


# -- every source failed: exit 3 ---------------------------------------------------------------------
def test_scan_aws_without_credentials_is_not_a_clean_scan(run, tmp_path):
    result = run("scan", "aws", "--region", "us-east-1", "--db", tmp_path / "s.db", "--no-progress")
    assert_every_source_failed(result, "no AWS credentials")


def test_scan_github_with_the_forge_unreachable_is_not_a_clean_scan(run, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{closed_port()}")
    result = run("scan", "github", "--org", "acme", "--db", tmp_path / "s.db", "--no-progress")
    assert_every_source_failed(result, "github org acme")


def test_scan_gitlab_with_the_forge_unreachable_is_not_a_clean_scan(run, tmp_path):
    result = run("scan", "gitlab", "--group", "acme", "--url", f"http://127.0.0.1:{closed_port()}",
                 "--db", tmp_path / "s.db", "--no-progress")
    assert_every_source_failed(result, "groups/acme")


def test_sweep_whose_every_path_is_missing_is_not_a_clean_sweep(run, tmp_path):
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[sources]\ngit = ["{tmp_path / "gone-a"}", "{tmp_path / "gone-b"}"]\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--no-progress")
    assert_every_source_failed(result, "gone-a", "gone-b")


def test_json_output_of_a_failed_sweep_still_exits_3(run, tmp_path):
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[sources]\ngit = ["{tmp_path / "gone"}"]\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--no-progress", "--format", "json")
    assert result.code == 3, result
    assert result.json() == []


def test_a_partial_failure_says_what_was_not_read(run, tmp_path, make_repo):
    """One repository read (clean), one missing: not "every source failed", and not a bare
    "No findings." either; without --fail-on-error the run's own verdict (0) stands."""
    clean = make_repo("clean")
    clean.commit("nothing secret", {"README.md": "hello\n"})
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[sources]\ngit = ["{clean.path}", "{tmp_path / "gone"}"]\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--no-progress")
    assert result.code == 0, result
    assert "No findings in what could be read (1 error below)." in result.stdout, result
    assert "every source failed" not in result.stdout + result.stderr, result
    again = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--no-progress", "--fail-on-error")
    assert again.code == 3, again


# -- a single path named on the command line: exit 2 -------------------------------------------------
@pytest.mark.parametrize("command", ["git", "dir"])
def test_scan_of_dev_null_is_a_usage_error(run, command):
    result = run("scan", command, os.devnull, "--no-store")
    assert_one_line_usage_error(result, os.devnull)


def test_scan_dir_of_a_fifo_is_a_usage_error_not_a_hang(run, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert_one_line_usage_error(run("scan", "dir", fifo, "--no-store"), str(fifo), "not a directory or regular file")


def test_scan_dir_of_an_unreadable_directory_is_a_usage_error(run, tmp_path, monkeypatch):
    """Simulated (tests may run as root, who reads everything): listing the directory is refused."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def refusing(path=".", *args):
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(os, "scandir", refusing)
    assert_one_line_usage_error(run("scan", "dir", locked, "--no-store"), str(locked), "Permission denied")


def test_scan_dir_of_a_missing_path_is_a_usage_error(run, tmp_path):
    assert_one_line_usage_error(run("scan", "dir", tmp_path / "gone", "--no-store"), "no such file or directory")


def test_scan_git_of_a_plain_directory_is_a_usage_error(run, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_one_line_usage_error(run("scan", "git", plain, "--no-store"), "not a git repository")


# -- revoke with an unknown finding id: exit 2 -------------------------------------------------------
def test_revoke_of_an_unknown_finding_id_is_a_usage_error(run, tmp_path, make_repo, keys):
    repo = make_repo()
    repo.commit("key", {".env": f"OPENAI_API_KEY={keys.openai_project()}\n"})
    db = tmp_path / "s.db"
    scanned = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert scanned.code == 1, scanned
    known = scanned.json()[0]["id"]
    assert_one_line_usage_error(run("revoke", "f_doesnotexist00", "--db", db), "no such finding", "f_doesnotexist00")
    # one typo among good ids: nothing is planned, the typo is named
    mixed = run("revoke", known, "f_doesnotexist00", "--db", db)
    assert_one_line_usage_error(mixed, "f_doesnotexist00")
    assert known not in mixed.stderr
    assert run("revoke", known, "--db", db).code == 0  # a dry run for a real id


# -- demo --keep never writes into an existing, non-empty directory ------------------------------------
def test_demo_keep_refuses_a_non_empty_directory(run, tmp_path):
    target = tmp_path / "work"
    target.mkdir()
    (target / "README.md").write_text("my project\n")
    before = sorted(p.name for p in target.iterdir())
    result = run("demo", "--keep", target)
    assert_one_line_usage_error(result, str(target), "not empty")
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "README.md").read_text() == "my project\n"


def test_demo_keep_accepts_an_empty_directory(run, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    result = run("demo", "--keep", target, "--format", "json")
    assert result.code == 0, result
    # The directory holds the demo's repository and its own store (issue 14).
    assert (target / "repo" / ".git").is_dir() and (target / "keysweep.db").is_file() and result.json()
