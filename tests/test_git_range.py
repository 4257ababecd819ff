"""`keysweep scan git --range BASE..HEAD`: only what the commits reachable from HEAD and not from BASE
add — their blobs and their messages — in a working tree or a bare repository (a pre-receive hook);
a range that names no commits is one line on stderr and exit 2."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import find_secret, git


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def fingerprints(findings: list[dict]) -> set[str]:
    return {f["secret_sha256"] for f in findings}


@pytest.fixture
def history(make_repo, keys):
    """main: a key in a file and one in a message; the feature branch adds a key in a new file, one in
    an edit of the old file, and one in a commit message."""
    repo = make_repo()
    old_file, old_message = keys.openai_project(), keys.github()
    repo.commit("Initial", {"app/.env": f"OPENAI_API_KEY={old_file}\n", "README.md": "# app\n"})
    base = repo.commit(f"Rotate later: GITHUB_TOKEN={old_message}", {"README.md": "# app\nmore\n"})
    repo.git("checkout", "-q", "-b", "feature")
    new_file, edited, in_message = keys.anthropic(), keys.github(), keys.openai_project()
    added = repo.commit("Add the agent", {"agent.py": f"\n\nKEY = '{new_file}'\n"})
    edit = repo.commit("Edit the env file", {"app/.env": f"OPENAI_API_KEY={old_file}\nGH_TOKEN={edited}\n"})
    message = repo.commit(f"Debugging\n\nANTHROPIC_API_KEY was {in_message}", {"notes.txt": "nothing\n"})
    return dict(repo=repo, base=base, added=added, edit=edit, message=message, old_file=old_file,
                old_message=old_message, new_file=new_file, edited=edited, in_message=in_message)


def scan_range(run, path, spec, *extra):
    return run("scan", "git", path, "--no-store", "--format", "json", "--range", spec, *extra)


def test_only_what_the_range_adds_is_reported(run, history):
    h = history
    result = scan_range(run, h["repo"].path, "main..feature")
    assert result.code == 1, result
    findings = result.json()
    # The edited .env is a new blob: the key it kept from BASE is in it too, placed at the edit.
    assert fingerprints(findings) == {sha(h["new_file"]), sha(h["edited"]), sha(h["in_message"]), sha(h["old_file"])}
    kept = find_secret(findings, h["old_file"])["occurrences"]
    assert [(o["path"], o["line"], o["commit"]) for o in kept] == [("app/.env", 1, h["edit"])]
    new_file = find_secret(findings, h["new_file"])["occurrences"]
    assert [(o["source"], o["path"], o["line"], o["commit"]) for o in new_file] == [("git", "agent.py", 3, h["added"])]
    edited = find_secret(findings, h["edited"])["occurrences"]
    assert [(o["path"], o["line"], o["commit"]) for o in edited] == [("app/.env", 2, h["edit"])]
    in_message = find_secret(findings, h["in_message"])["occurrences"]
    assert [(o["source"], o["commit"], o["line"]) for o in in_message] == [("git-message", h["message"], 3)]


def test_base_history_is_not_read(run, history):
    """Neither BASE's blobs nor its messages: the range scan of the feature branch's first commit
    holds only that commit's key."""
    h = history
    findings = scan_range(run, h["repo"].path, f"main..{h['added']}").json()
    assert fingerprints(findings) == {sha(h["new_file"])}


def test_an_empty_range_is_clean(run, history):
    result = scan_range(run, history["repo"].path, "feature..main")
    assert result.code == 0, result
    assert result.json() == []


def test_sha_ranges_and_relative_names(run, history):
    h = history
    only_last = scan_range(run, h["repo"].path, f"{h['edit']}..{h['message']}")
    assert fingerprints(only_last.json()) == {sha(h["in_message"])}
    last_two = scan_range(run, h["repo"].path, "feature~2..feature")
    assert fingerprints(last_two.json()) == {sha(h["edited"]), sha(h["in_message"]), sha(h["old_file"])}


def test_a_zero_base_is_all_of_heads_history(run, history):
    h = history
    findings = scan_range(run, h["repo"].path, f"{'0' * 40}..{h['base']}").json()
    assert fingerprints(findings) == {sha(h["old_file"]), sha(h["old_message"])}


def test_a_bare_repository(run, history, tmp_path):
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(history["repo"].path), str(bare))
    result = scan_range(run, bare, "main..feature")
    assert result.code == 1, result
    assert fingerprints(result.json()) == {sha(history[k]) for k in ("new_file", "edited", "in_message", "old_file")}


def test_with_a_store_only_the_range_is_reported(run, history, tmp_path):
    """A full scan recorded BASE's keys; a range scan reports (and fails on) the range alone, and
    leaves the store's incremental record as it was."""
    h = history
    db = str(tmp_path / "store.db")
    h["repo"].git("checkout", "-q", "main")
    h["repo"].commit("Docs", {"docs.md": "# docs\n"})
    assert run("scan", "git", h["repo"].path, "--db", db, "--format", "json").code == 1
    clean = run("scan", "git", h["repo"].path, "--db", db, "--format", "json", "--range", "main~1..main")
    assert clean.code == 0, clean
    assert clean.json() == []
    ranged = run("scan", "git", h["repo"].path, "--db", db, "--format", "json", "--range", "main..feature")
    assert fingerprints(ranged.json()) == {sha(h[k]) for k in ("new_file", "edited", "in_message", "old_file")}
    # The next whole scan still reads the feature branch's place of each key (the store holds all).
    whole = run("scan", "git", h["repo"].path, "--db", db, "--format", "json")
    assert fingerprints(whole.json()) == {sha(h[k]) for k in ("old_file", "old_message", "new_file", "edited",
                                                               "in_message")}
    assert find_secret(whole.json(), h["new_file"])["occurrences"][0]["commit"] == h["added"]


@pytest.mark.parametrize("spec", ["main", "main...feature", "..feature", "main..", "main..nosuchbranch",
                                  "nosuch..feature", "--output=/tmp/x..feature", "main..feature\x1b[2J",
                                  f"{'0' * 40}..{'0' * 40}"])
def test_a_bad_range_is_one_line_and_exit_2(run, history, spec):
    result = scan_range(run, history["repo"].path, spec)
    assert result.code == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keysweep: error: --range"), result
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr


def test_range_and_unreachable_do_not_go_together(run, history):
    result = scan_range(run, history["repo"].path, "main..feature", "--unreachable")
    assert result.code == 2 and "--unreachable" in result.stderr, result


def test_exclude_refs_leaves_out_what_any_ref_reaches(run, history, keys):
    """`--exclude-refs` (for pre-receive hooks, where the pushed commits are on no ref yet): a zero
    BASE then reads only the commits no ref reaches, not HEAD's whole history."""
    h = history
    repo = h["repo"]
    leak = keys.anthropic()
    pushed = repo.commit("Not on any ref yet", {"pushed.py": f"KEY = '{leak}'\n"})
    repo.git("reset", "-q", "--hard", "HEAD~1")  # as in a pre-receive hook: the commit exists, no ref names it
    result = scan_range(run, repo.path, f"{'0' * 40}..{pushed}", "--exclude-refs")
    assert result.code == 1, result
    assert fingerprints(result.json()) == {sha(leak)}
    whole = scan_range(run, repo.path, f"{'0' * 40}..{pushed}")
    assert sha(h["old_file"]) in fingerprints(whole.json())  # without it: all of HEAD's history
    assert scan_range(run, repo.path, "main..feature", "--exclude-refs").json() == []  # feature is a ref


def test_exclude_refs_needs_a_range(run, history):
    result = run("scan", "git", history["repo"].path, "--no-store", "--exclude-refs")
    assert result.code == 2 and "--exclude-refs" in result.stderr, result
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_pre_receive_hook_stops_a_push_that_adds_a_key(history, tmp_path, keys):
    """The server-side recipe (docs/usage.md): a bare repository whose pre-receive hook runs
    `scan git --range OLD..NEW` on what each pushed ref adds (objects still in quarantine)."""
    h = history
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(server))
    hook = server / "hooks" / "pre-receive"
    hook.write_text(f"""#!/bin/sh
while read old new ref; do
  case "$new" in 0000000000000000000000000000000000000000) continue ;; esac
  "{sys.executable}" -m keysweep scan git --no-store --format jsonl --range "$old..$new" --exclude-refs . < /dev/null || exit 1
done
""")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def push(ref: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "push", "-q", str(server), ref], cwd=h["repo"].path, capture_output=True,
                              env=env, text=True)

    # A new branch (OLD is zeros): all its history is read; main's own keys stop it.
    first = push("main:main")
    assert first.returncode != 0
    assert "pre-receive hook declined" in first.stderr
    assert sha(h["old_file"]) in first.stderr  # the hook's JSONL, relayed by git as remote: lines
    assert git(server, "for-each-ref") == ""
    # A clean history is accepted, and a later push of a key onto it is refused on the new commit.
    clean = h["repo"]
    clean.git("checkout", "-q", "--orphan", "clean")
    clean.git("rm", "-rq", "--cached", ".")
    for name in ("agent.py", "app", "notes.txt", "README.md"):
        clean.git("clean", "-fdq", "--", name)
    clean.commit("Clean start", {"README.md": "# clean\n"})
    assert push("clean:main").returncode == 0
    leak = keys.anthropic()
    clean.commit("Oops", {"config.py": f"KEY = '{leak}'\n"})
    refused = push("clean:main")
    assert refused.returncode != 0 and sha(leak) in refused.stderr
    assert git(server, "rev-parse", "main") == clean.git("rev-parse", "clean~1")


def test_scan_reads_the_config_it_is_given_for_verify(run, history, tmp_path):
    """`scan … --verify --config FILE` (the GitHub Action's `config` input): the file is read before
    anything is scanned; a bad one is one error line naming it, exit 2."""
    bad = tmp_path / "keysweep.toml"
    bad.write_text("[verify]\ntimeout = 0\n")
    for command in (["scan", "git", history["repo"].path, "--range", "main..feature"],
                    ["scan", "dir", history["repo"].path]):
        result = run(*command, "--no-store", "--format", "json", "--verify", "--config", bad)
        assert result.code == 2 and result.stdout == "", result
        assert str(bad) in result.stderr and "timeout" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = run("scan", "dir", history["repo"].path, "--no-store", "--config", tmp_path / "nope.toml")
    assert missing.code == 2 and "no such configuration file" in missing.stderr
