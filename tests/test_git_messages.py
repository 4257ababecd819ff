"""Commit and annotated-tag messages are scanned like files: subject and body of every commit, the
message of every annotated tag (git notes are blobs, read with the rest). A message is its own
place, `source = "git-message"`, naming the commit and its author; an incremental scan reads each
message once. Both engines give the same findings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from keysweep.locations import describe_occurrence
from keysweep.models import Occurrence
from keysweep.scanner.engine import hyperscan_available
from tests.conftest import BACKENDS, fast_import, find_secret, git


def committed_at(repo, commit: str) -> str:
    stamp = int(git(repo.path, "show", "-s", "--format=%ct", commit))
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scan(run, repo, *extra: str, code: int = 1) -> list[dict]:
    result = run("scan", "git", str(repo.path), "--format", "json", *extra)
    assert result.code == code, result
    return result.json()


@pytest.mark.parametrize("backend", BACKENDS)
def test_key_in_a_commit_subject_and_body(run, make_repo, keys, backend):
    repo = make_repo()
    in_subject, in_body = keys.openai_project(), keys.github()
    repo.commit("Initial", {"README.md": "# app\n"})
    commit = repo.commit(f"Use {in_subject} for now\n\nDeploy with GITHUB_TOKEN={in_body}\nthanks",
                         author=("Alice Example", "alice@example.com"))

    findings = scan(run, repo, "--no-store", "--engine", backend)

    for key, line in ((in_subject, 1), (in_body, 3)):
        occurrence, = find_secret(findings, key)["occurrences"]
        assert occurrence == {**occurrence, "source": "git-message", "path": None, "line": line,
                              "commit": commit, "author_name": "Alice Example",
                              "author_email": "alice@example.com", "committed_at": committed_at(repo, commit)}
        assert occurrence["locator"] == {"repo": str(repo.path.resolve()), "object": commit}
    assert len(findings) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_key_in_an_annotated_tag_message(run, make_repo, keys, backend):
    repo = make_repo()
    key = keys.anthropic()
    commit = repo.commit("Release", {"README.md": "# app\n"})
    repo.git("tag", "-a", "v1.0", "-m", f"Release 1.0\n\nsmoke test key: {key}", author=("Rel Eng", "rel@example.com"))
    tag_object = repo.git("rev-parse", "v1.0")

    occurrence, = find_secret(scan(run, repo, "--no-store", "--engine", backend), key)["occurrences"]

    assert occurrence == {**occurrence, "source": "git-message", "line": 3, "commit": commit,
                          "author_name": "Rel Eng", "author_email": "rel@example.com"}
    assert occurrence["locator"] == {"repo": str(repo.path.resolve()), "object": tag_object, "tag": "refs/tags/v1.0"}


def test_lightweight_tags_and_clean_messages_give_nothing(run, make_repo, keys):
    repo = make_repo()
    repo.commit("Rotate the key; the old one (sk-proj-...) is revoked", {"a.txt": "x\n"})
    repo.git("tag", "light")
    repo.git("tag", "-a", "v2", "-m", "Nothing secret: OPENAI_API_KEY=${OPENAI_API_KEY}")
    assert scan(run, repo, "--no-store", code=0) == []


def test_a_message_is_read_once_and_its_finding_stays_reported(run, make_repo, keys, tmp_path):
    repo = make_repo()
    key = keys.huggingface()
    repo.commit(f"token {key}", {"a.txt": "x\n"})
    db = str(tmp_path / "store.db")

    first = scan(run, repo, "--db", db)
    find_secret(first, key)
    second = run("scan", "git", str(repo.path), "--db", db, "--format", "json", "--new-only")
    assert second.code == 0, second  # nothing new: the message was not read again as new
    again = scan(run, repo, "--db", db)  # an incremental scan still reports what the store holds
    find_secret(again, key)

    from keysweep.store import Store

    stats = Store(db).conn.execute("SELECT stats FROM scans ORDER BY rowid").fetchall()
    import json

    assert [json.loads(row[0])["messages_scanned"] for row in stats] == [1, 0, 0]


def test_dangling_commit_message_is_reported_only_when_asked(run, make_repo, keys):
    repo = make_repo()
    key = keys.openai_project()
    repo.commit("Initial", {"README.md": "# app\n"})
    dangling = repo.commit(f"oops {key}", {"b.txt": "y\n"})
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.git("reflog", "expire", "--expire=now", "--all")

    assert scan(run, repo, "--no-store", code=0) == []
    occurrence, = find_secret(scan(run, repo, "--no-store", "--unreachable"), key)["occurrences"]
    assert occurrence["commit"] == dangling and occurrence["locator"]["unreachable"] is True


def test_value_in_a_message_is_re_read(make_repo, keys):
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.pipeline import scan_git
    from keysweep.scanner.reread import Rereader
    from keysweep.scanner.rules import load_rules
    from keysweep.scanner.sources.git import GitRepo

    repo = make_repo()
    key = keys.github()
    repo.commit(f"ci: GH_TOKEN={key}", {"a.txt": "x\n"})
    engine = Engine(load_rules())
    finding, = scan_git(GitRepo(repo.path), engine).findings
    hit = Rereader(engine=engine).read(finding)
    assert hit is not None and hit.secret == key


def test_message_place_is_named_for_people():
    commit = "1a2b3c4d5e6f" + "0" * 28
    assert describe_occurrence(Occurrence(source="git-message", path=None, line=3, repo="/r", commit=commit,
                                          locator={"repo": "/r", "object": commit})) == \
        "/r:commit 1a2b3c4d5e6f message line 3"
    assert describe_occurrence(Occurrence(source="git-message", path=None, line=2, repo="/r", commit=commit,
                                          locator={"repo": "/r", "object": "f" * 40, "tag": "refs/tags/v1"})) == \
        "/r:tag refs/tags/v1 message line 2"


def test_git_notes_are_scanned_as_blobs(run, make_repo, keys):
    repo = make_repo()
    key = keys.openai_project()
    repo.commit("Initial", {"README.md": "# app\n"})
    git(repo.path, "notes", "add", "-m", f"debug: OPENAI_API_KEY={key}")
    occurrence, = find_secret(scan(run, repo, "--no-store"), key)["occurrences"]
    assert occurrence["source"] == "git"


def test_the_log_stream_gives_each_commit_its_own_message(make_repo, keys):
    """Messages come from one `git log` stream: the same text as the object's own message (blank
    lines, trailing newlines, an empty message), for every commit a ref reaches; and given commit
    ids, for exactly those (a dangling one too)."""
    from keysweep.scanner.sources.git import GitRepo, commit_messages, read_messages

    repo = make_repo()
    repo.commit("Initial", {"a.txt": "1\n"})
    repo.commit(f"subject\n\n\nbody {keys.huggingface()}\n\n", {"a.txt": "2\n"})
    git(repo.path, "commit", "--allow-empty", "--allow-empty-message", "-q", "-m", "")
    dangling = git(repo.path, "commit-tree", "HEAD^{tree}", "-m", "dangling message")
    git_repo = GitRepo(repo.path)

    streamed = dict(commit_messages(git_repo))
    every = git(repo.path, "rev-list", "--all").split()
    assert sorted(streamed) == sorted(every) and len(every) == 3
    assert streamed == {m.sha: m.text for m in read_messages(git_repo, [(sha, "commit") for sha in every])}
    assert dict(commit_messages(git_repo, [dangling, every[0]])) == {
        dangling: b"dangling message\n", every[0]: streamed[every[0]]}


def test_commits_the_stream_leaves_out_are_read_one_by_one(make_repo, monkeypatch):
    """A stream git cut short (or out of step) loses no message: what it did not give is read
    through cat-file."""
    import subprocess

    from keysweep.scanner.sources import git as git_source

    repo = make_repo()
    repo.commit("first", {"a.txt": "1\n"})
    repo.commit("second", {"a.txt": "2\n"})
    git_repo = git_source.GitRepo(repo.path)
    real = git_source._git

    def truncated(args, cwd, **kwargs):
        result = real(args, cwd, **kwargs)
        if args[0] == "log":
            cut = result.stdout.index(b"\0", result.stdout.index(b"\0") + 1) + 1  # the first commit only
            return subprocess.CompletedProcess(result.args, 128, result.stdout[:cut] + b"not-a-sha\0", b"")
        return result

    monkeypatch.setattr(git_source, "_git", truncated)
    assert sorted(dict(git_source.commit_messages(git_repo)).values()) == [b"first\n", b"second\n"]


def test_an_incremental_scan_reads_the_messages_of_new_commits_only(run, make_repo, keys, tmp_path):
    """Walking from the recorded refs, the next scan reads the messages of the commits made since
    (and counts only blobs as already scanned); a key in a new commit's message is found."""
    import json

    from keysweep.store import Store

    repo = make_repo()
    repo.commit("first", {"a.txt": "1\n"})
    repo.commit("second", {"a.txt": "2\n"})
    db = str(tmp_path / "store.db")
    assert scan(run, repo, "--db", db, code=0) == []
    key = keys.huggingface()
    repo.commit(f"third {key}", {"b.txt": "3\n"})
    find_secret(scan(run, repo, "--db", db), key)
    rows = Store(db).conn.execute("SELECT stats FROM scans ORDER BY rowid").fetchall()
    stats = [json.loads(row[0]) for row in rows]
    assert [s["messages_scanned"] for s in stats] == [2, 1]
    assert stats[1]["blobs_already_scanned"] == 2


# -- which messages are matched: one Hyperscan pass tells the ones that hold nothing ------------------
def message_pieces(keys) -> tuple[list[bytes], set[int]]:
    """Plain commit messages, and among them (at the returned indices) messages a scan finds a key
    in: by prefix, by context, base64-encoded, percent-encoded, written in UTF-16, and the same
    keyword twice far apart (a group's one hit must not hide the other)."""
    import base64

    plain = [f"Fix issue #{n}: handle the {word} case\n\nSee the tracker.".encode()
             for n, word in enumerate(["empty", "unicode", "timeout", "retry", "redirect"] * 60)]
    openai, anthropic = keys.openai_project(), keys.anthropic()
    keyed = {
        7: f"Use {keys.github()} for CI".encode(),
        70: f"deepseek client\n\nDEEPSEEK_API_KEY=sk-{keys.chars(32, '0123456789abcdef')}".encode(),
        71: f"Secret manifest: OPENAI_API_KEY: {base64.b64encode(openai.encode()).decode()}".encode(),
        140: f"GOOGLE_API_KEY%3D{keys.google_api_key()}".encode(),
        200: f"GROQ_API_KEY={keys.chars(4)}".encode("utf-16"),
        201: f"key {anthropic}".encode(),
        250: f"key {keys.anthropic()}".encode(),
    }
    pieces = list(plain)
    for index, text in keyed.items():
        pieces[index] = text
    return pieces, set(keyed) - {200}


@pytest.mark.skipif(not hyperscan_available(), reason="the one-pass answer needs Hyperscan")
def test_may_match_is_true_for_every_message_a_scan_finds_something_in(keys, session_cache, monkeypatch):
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.rules import load_rules

    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    engine = Engine(load_rules(), backend="hyperscan")
    pieces, keyed = message_pieces(keys)
    maybe = engine.may_match(pieces)
    found = {i for i, piece in enumerate(pieces) if engine.scan(piece)}
    assert found == keyed
    assert all(maybe[i] for i in found)
    assert maybe[200]  # a NUL byte: it may be UTF-16
    assert sum(maybe) <= len(keyed) + 2  # the plain messages are told apart, not matched
    assert Engine(load_rules(), backend="regex").may_match(pieces) == [True] * len(pieces)


@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_in_many_messages_far_apart_are_all_found(run, make_repo, keys, backend):
    repo = make_repo()
    pieces, keyed = message_pieces(keys)
    # One git process for all 256 commits; each message as `git commit -m` keeps it (a final newline).
    fast_import(repo.path, [{"files": {"README.md": "# app\n"}, "message": "Initial\n"}] + [
        {"message": text.decode() + "\n"} for index, text in enumerate(pieces[:256])
        if index != 200])  # git keeps no NUL byte in a message
    findings = scan(run, repo, "--no-store", "--engine", backend)
    assert len(findings) == len(keyed)
    assert all(f["occurrences"][0]["source"] == "git-message" for f in findings)
