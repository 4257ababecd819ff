"""Suppression, honoured by every source: an inline `keysweep:allow` (or `gitleaks:allow`) on the
secret's line, and a `.keysweepignore` file of finding ids (or secret SHA-256s)."""

from __future__ import annotations

import hashlib

import pytest

from keysweep.fingerprint import finding_id


def lines_with(keys) -> tuple[str, str, str, str]:
    allowed_ks, allowed_gl, reported = keys.anthropic(), keys.github(), keys.huggingface()
    text = (f"ANTHROPIC_API_KEY={allowed_ks}  # keysweep:allow test fixture\n"
            f"GITHUB_TOKEN = '{allowed_gl}'  // gitleaks:allow\n"
            f"# keysweep:allow applies to its own line only\n"
            f"HF_TOKEN={reported}\n")
    return text, allowed_ks, allowed_gl, reported


def scan(run, source: str, repo) -> list[dict]:
    if source == "git":
        result = run("scan", "git", repo.path, "--no-store", "--format", "json")
    elif source == "dir":
        result = run("scan", "dir", repo.path, "--no-store", "--format", "json")
    else:
        result = run("scan", "staged", "--format", "json", cwd=repo.path)
    assert result.code in (0, 1), result
    assert result.code == (1 if result.json() else 0), result
    return result.json()


def prepare(make_repo, source: str, files: dict[str, str]):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    if source == "staged":
        for path, text in files.items():
            repo.write(path, text)
            repo.git("add", path)
    else:
        repo.commit("Add files", files)
    return repo


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.parametrize("source", ["git", "dir", "staged"])
def test_inline_allow_markers(run, make_repo, keys, source):
    text, allowed_ks, allowed_gl, reported = lines_with(keys)
    repo = prepare(make_repo, source, {"settings.env": text})
    findings = scan(run, source, repo)
    assert [f["secret_sha256"] for f in findings] == [sha(reported)]
    assert findings[0]["occurrences"][0]["line"] == 4


def test_inline_allow_is_counted(make_repo, keys):
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.pipeline import scan_git
    from keysweep.scanner.rules import load_rules
    from keysweep.scanner.sources.git import GitRepo

    text, *_ = lines_with(keys)
    repo = prepare(make_repo, "git", {"settings.env": text})
    result = scan_git(GitRepo(repo.path), Engine(load_rules()))
    assert result.stats.suppressed_inline == 2


@pytest.mark.parametrize("source", ["git", "dir", "staged"])
def test_keysweepignore_by_finding_id_and_by_sha256(run, make_repo, keys, source):
    by_id, by_hash, reported = keys.openai_project(), keys.google_api_key(), keys.anthropic()
    ignore = (f"# reviewed: test fixtures\n{finding_id('openai', sha(by_id))}\n"
              f"{sha(by_hash)}  # the Maps demo key\n\n")
    repo = prepare(make_repo, source, {
        "a.env": f"OPENAI_API_KEY={by_id}\n", "b.js": f"const k = '{by_hash}';\n", "c.env": f"K={reported}\n",
        ".keysweepignore": ignore,
    })
    assert len(scan(run, "dir", repo)) == 1  # sanity: the ignore file is read from the root
    findings = scan(run, source, repo)
    assert [f["secret_sha256"] for f in findings] == [sha(reported)]


def test_keysweepignore_in_the_current_directory_applies_to_a_git_scan(run, make_repo, keys, tmp_path):
    repo = make_repo()
    key = keys.openai_project()
    repo.commit("Add", {"a.env": f"OPENAI_API_KEY={key}\n"})
    elsewhere = tmp_path / "reviews"
    elsewhere.mkdir()
    assert run("scan", "git", repo.path, "--no-store", cwd=elsewhere).code == 1
    (elsewhere / ".keysweepignore").write_text(finding_id("openai", sha(key)) + "\n")
    result = run("scan", "git", repo.path, "--no-store", "--format", "json", cwd=elsewhere)
    assert (result.code, result.json()) == (0, [])


def test_ignored_finding_is_hidden_from_a_store_backed_scan_too(run, make_repo, keys, tmp_path):
    repo = make_repo()
    key = keys.github()
    repo.commit("Add", {"ci.sh": f"export GITHUB_TOKEN={key}\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    (repo.path / ".keysweepignore").write_text(finding_id("github", sha(key)) + "\n")
    result = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert (result.code, result.json()) == (0, [])
