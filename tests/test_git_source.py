"""`keysweep scan git`: every blob reachable from any ref, read once; each occurrence names the commit
that first put the secret at its path, the line, the author and the commit time."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import pytest

from keysweep.scanner.engine import Engine
from keysweep.scanner.pipeline import scan_git
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources.git import GitRepo
from tests.conftest import fast_import, find_secret, git


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_rules())


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def committed_at(repo, commit: str) -> str:
    return iso(int(git(repo.path, "show", "-s", "--format=%ct", commit)))


def scan(run, repo, *extra: str) -> list[dict]:
    result = run("scan", "git", repo.path, "--no-store", "--format", "json", *extra)
    assert result.code == 1, result
    return result.json()


def only_occurrence(finding: dict) -> dict:
    assert len(finding["occurrences"]) == 1, finding["occurrences"]
    return finding["occurrences"][0]


# -- where a secret hides ------------------------------------------------------------------------
def test_key_in_a_file_that_was_later_deleted(run, make_repo, keys):
    repo = make_repo()
    key = keys.openai_project()
    added = repo.commit("Add config", {"README.md": "# app\n", "cfg/.env": f"DEBUG=1\nOPENAI_API_KEY={key}\n"},
                        author=("Alice Example", "alice@example.com"))
    repo.commit("Remove config", delete=["cfg/.env"], author=("Bob Example", "bob@example.com"))
    assert not (repo.path / "cfg/.env").exists()

    finding = find_secret(scan(run, repo), key)

    assert finding["rule_id"] == "openai.project-key"
    occurrence = only_occurrence(finding)
    assert occurrence == {**occurrence, "source": "git", "repo": str(repo.path.resolve()), "path": "cfg/.env",
                          "line": 2, "commit": added, "author_name": "Alice Example",
                          "author_email": "alice@example.com", "committed_at": "2023-11-14T23:13:20Z"}


def test_first_commit_of_the_repository_is_scanned(run, make_repo, keys):
    repo = make_repo()
    key = keys.github()
    root = repo.commit("Initial import", {"deploy.sh": f"#!/bin/sh\nexport GITHUB_TOKEN={key}\n"})
    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("deploy.sh", 2, root)


def test_key_on_an_unmerged_side_branch(run, make_repo, keys):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    repo.git("checkout", "-q", "-b", "experiment")
    key = keys.anthropic()
    side = repo.commit("Try Claude", {"agent/config.py": f"\n\nANTHROPIC_KEY = '{key}'\n"},
                       author=("Robin Research", "robin@example.com"))
    repo.git("checkout", "-q", "main")

    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert occurrence["path"] == "agent/config.py"
    assert occurrence["line"] == 3
    assert occurrence["commit"] == side
    assert occurrence["author_email"] == "robin@example.com"
    assert occurrence["author_name"] == "Robin Research"
    assert occurrence["committed_at"] == committed_at(repo, side)


def test_renamed_file_keeps_the_commit_that_first_introduced_the_key(run, make_repo, keys):
    repo = make_repo()
    key = keys.github()
    added = repo.commit("Add sync script", {"old/sync.py": f"import os\nTOKEN = '{key}'\n"})
    (repo.path / "new").mkdir()
    repo.git("mv", "old/sync.py", "new/sync.py")
    renamed = repo.commit("Move sync script")

    finding = find_secret(scan(run, repo), key)
    by_path = {o["path"]: o for o in finding["occurrences"]}
    assert set(by_path) == {"old/sync.py", "new/sync.py"}
    # The first occurrence (in time) is the original introduction, under the original name.
    assert finding["occurrences"][0]["path"] == "old/sync.py"
    assert by_path["old/sync.py"]["commit"] == added
    # The renamed path first appeared in the rename commit; same blob, same line.
    assert by_path["new/sync.py"]["commit"] == renamed
    assert by_path["old/sync.py"]["line"] == by_path["new/sync.py"]["line"] == 2
    assert finding["remediation"]["leaked_at"] == committed_at(repo, added)


def test_key_introduced_by_an_evil_merge(run, make_repo, keys):
    """A merge commit that adds content neither parent had."""
    repo = make_repo()
    repo.commit("Base", {"app.py": "x = 1\n"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("Feature work", {"feature.py": "y = 2\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("Main work", {"main.py": "z = 3\n"})
    repo.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    new_file_key, edited_file_key = keys.google_api_key(), keys.openai_service_account()
    repo.write("deploy.env", f"GOOGLE_API_KEY={new_file_key}\n")
    repo.write("app.py", f"x = 1\nOPENAI = '{edited_file_key}'\n")
    repo.git("add", "deploy.env", "app.py")
    repo.clock += 3600
    repo.git("commit", "-q", "-m", "Merge feature", author=("Eve Merger", "eve@example.com"))
    merge = repo.git("rev-parse", "HEAD")
    assert len(git(repo.path, "show", "-s", "--format=%P", merge).split()) == 2

    findings = scan(run, repo)
    for key, path, line in ((new_file_key, "deploy.env", 1), (edited_file_key, "app.py", 2)):
        occurrence = only_occurrence(find_secret(findings, key))
        assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == (path, line, merge)
        assert occurrence["author_email"] == "eve@example.com"
        assert occurrence["committed_at"] == committed_at(repo, merge)


def test_key_on_a_branch_merged_with_strategy_ours(run, make_repo, keys):
    """`-s ours` throws the branch's changes away, but its commits stay in history."""
    repo = make_repo()
    repo.commit("Base", {"README.md": "# app\n"})
    repo.git("checkout", "-q", "-b", "discarded")
    key = keys.huggingface()
    side = repo.commit("Add HF token", {"hf.txt": f"HF_TOKEN={key}\n"}, author=("Dan", "dan@example.com"))
    repo.git("checkout", "-q", "main")
    repo.clock += 3600
    repo.git("merge", "-q", "-s", "ours", "--no-edit", "discarded")
    repo.git("branch", "-q", "-D", "discarded")
    assert not (repo.path / "hf.txt").exists()

    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("hf.txt", 1, side)
    assert occurrence["author_email"] == "dan@example.com"


def test_key_in_a_commit_only_a_tag_reaches(run, make_repo, keys):
    repo = make_repo()
    repo.commit("Base", {"README.md": "# app\n"})
    repo.git("checkout", "-q", "--detach")
    key = keys.openai_admin()
    tagged = repo.commit("Release build", {"release/admin.cfg": f"[openai]\nadmin_key = {key}\n"},
                         author=("Release Bot", "release@example.com"))
    repo.git("tag", "-a", "v1.0.0", "-m", "Release 1.0.0")
    repo.git("checkout", "-q", "main")
    assert git(repo.path, "branch", "--contains", tagged) == ""

    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("release/admin.cfg", 2, tagged)
    assert occurrence["author_email"] == "release@example.com"


def test_key_in_a_blob_a_tag_points_at_directly(run, make_repo, keys):
    repo = make_repo()
    repo.commit("Base", {"README.md": "# app\n"})
    key = keys.anthropic()
    blob = git(repo.path, "hash-object", "-w", "--stdin", input=f"ANTHROPIC_API_KEY={key}\n".encode())
    repo.git("tag", "-a", "signing-key", "-m", "not a commit", blob)
    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert occurrence["locator"]["blob"] == blob


@pytest.mark.parametrize("staged_first", [False, True], ids=["worktree-change", "staged-change"])
def test_key_in_git_stash(run, make_repo, keys, staged_first):
    repo = make_repo()
    repo.commit("Base", {"settings.py": "DEBUG = True\n"})
    key = keys.huggingface()
    repo.write("settings.py", f"DEBUG = True\nHF_TOKEN = '{key}'\n")
    if staged_first:
        repo.git("add", "settings.py")
    repo.clock += 3600
    repo.git("stash", "push", "-q", "-m", "wip token")
    assert "HF_TOKEN" not in (repo.path / "settings.py").read_text()
    stash = repo.git("rev-parse", "refs/stash")
    # A worktree change is in the stash commit itself; a staged one in its index commit (2nd parent).
    expected_commit = repo.git("rev-parse", "refs/stash^2") if staged_first else stash

    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("settings.py", 2, expected_commit)


def test_non_utf8_content(run, make_repo, keys):
    repo = make_repo()
    key, other = keys.google_api_key(), keys.github()
    latin1 = "# caf\xe9 cr\xe8me\n".encode("latin-1") + f"GOOGLE_API_KEY={key}\n".encode()
    broken = b"\xff\xfe\xfd garbage \xc3\x28\n" * 3 + f"token: {other} \xe9\n".encode("latin-1")
    commit = repo.commit("Legacy files", {"legacy/latin1.ini": latin1, "legacy/broken.txt": broken})

    findings = scan(run, repo)
    assert {(o["path"], o["line"], o["commit"]) for o in find_secret(findings, key)["occurrences"]} == \
        {("legacy/latin1.ini", 2, commit)}
    assert {(o["path"], o["line"]) for o in find_secret(findings, other)["occurrences"]} == {("legacy/broken.txt", 4)}


def test_non_utf8_file_name_is_reported_in_every_format_and_stored(run, make_repo, keys, tmp_path):
    repo = make_repo()
    key = keys.openai_project()
    (repo.path / "caf\udce9.env".encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")) \
        .write_text(f"KEY={key}\n")
    repo.commit("Add a file whose name is Latin-1")
    db = tmp_path / "store.db"

    result = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert result.code == 1, result
    occurrence = only_occurrence(find_secret(result.json(), key))
    # Undecodable bytes are shown escaped; the value is plain Unicode any JSON parser accepts.
    assert occurrence["path"] == "caf\\xe9.env"
    occurrence["path"].encode("utf-8")
    for fmt in ("table", "jsonl", "sarif", "csv"):
        again = run("scan", "git", repo.path, "--no-store", "--format", fmt)
        assert again.code == 1, (fmt, again)
        assert "caf" in again.stdout


# -- what is skipped, and said so ------------------------------------------------------------------
def test_binary_blob_with_a_key_like_string_is_skipped_and_counted(run, make_repo, keys, engine):
    repo = make_repo()
    key = keys.openai_project()
    repo.commit("Add image", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + f" {key} ".encode() + b"\x00" * 64,
                              "README.md": "# app\n"})
    result = scan_git(GitRepo(repo.path), engine)
    assert result.findings == []
    assert result.stats.blobs_skipped_binary == 1
    assert result.stats.blobs_scanned == 1  # README.md

    table = run("scan", "git", repo.path, "--no-store")
    assert table.code == 0, table
    assert "1 binary skipped" in table.stdout


def test_blob_over_max_size_is_skipped_and_counted(run, make_repo, keys, engine):
    repo = make_repo()
    key = keys.anthropic()
    big = ("# filler line\n" * 200 + f"ANTHROPIC_API_KEY={key}\n").encode()
    assert len(big) > 2000
    repo.commit("Add big file", {"big.env": big, "small.txt": "hello\n"})

    result = scan_git(GitRepo(repo.path), engine, max_size=2000)
    assert result.findings == []
    assert result.stats.blobs_skipped_size == 1
    assert result.stats.blobs_scanned == 1

    skipped = run("scan", "git", repo.path, "--no-store", "--max-size", "2000")
    assert skipped.code == 0, skipped
    assert "1 over size limit skipped" in skipped.stdout
    # The default limit (10 MiB) reads it.
    found = find_secret(scan(run, repo), key)
    assert only_occurrence(found)["line"] == 201


# -- one finding per secret, one read per blob ------------------------------------------------------
def test_same_key_in_three_files_is_one_finding_with_three_occurrences(run, make_repo, keys):
    repo = make_repo()
    key = keys.openai_project()
    same = f"OPENAI_API_KEY={key}\n"
    commit = repo.commit("Spread the key", {
        "a/.env": same,                       # same blob as b/.env
        "b/.env": same,
        "c/settings.py": f"import os\n\n\n\nOPENAI_API_KEY = '{key}'\n",  # another blob, line 5
    })
    findings = scan(run, repo)
    assert len(findings) == 1
    finding = find_secret(findings, key)
    assert {(o["path"], o["line"], o["commit"]) for o in finding["occurrences"]} == {
        ("a/.env", 1, commit), ("b/.env", 1, commit), ("c/settings.py", 5, commit)}


def test_a_blob_in_a_thousand_commits_is_read_once(make_repo, keys, engine, monkeypatch):
    repo = make_repo()
    key = keys.anthropic()
    commits = [{"files": {"secret.env": f"ANTHROPIC_API_KEY={key}\n", "counter.txt": "0\n"}}]
    commits += [{"files": {"counter.txt": f"{i}\n"}} for i in range(1, 1000)]
    ids = fast_import(repo.path, commits)
    assert git(repo.path, "rev-list", "--count", "--all") == "1000"

    requested: list[str] = []
    real_read = GitRepo.read_blobs

    def counting_read(self, shas, *args, **kwargs):
        shas = list(shas)
        requested.extend(shas)
        return real_read(self, shas, *args, **kwargs)

    monkeypatch.setattr(GitRepo, "read_blobs", counting_read)
    result = scan_git(GitRepo(repo.path), engine)

    unique_blobs = 1 + 1000  # the secret file + one counter blob per commit
    assert result.stats.blobs_scanned == unique_blobs
    assert len(requested) == len(set(requested)) == unique_blobs
    [finding] = result.findings
    [occurrence] = finding.occurrences
    assert (occurrence.path, occurrence.line, occurrence.commit) == ("secret.env", 1, ids[0])
    assert occurrence.author_email == "bulk@example.com"
    assert occurrence.committed_at == iso(1_700_000_060)


def test_editing_other_lines_of_the_file_adds_no_occurrence(run, make_repo, keys):
    repo = make_repo()
    key = keys.anthropic()
    introduced = repo.commit("Add key", {"config.py": f"A = 1\nKEY = '{key}'\nB = 2\n"})
    repo.commit("Tune B", {"config.py": f"A = 1\nKEY = '{key}'\nB = 3\n"})
    repo.commit("Add header", {"config.py": f"# settings\nA = 1\nKEY = '{key}'\nB = 3\n"})
    occurrence = only_occurrence(find_secret(scan(run, repo), key))
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("config.py", 2, introduced)


def test_bare_mirror_and_remote_tracking_branches(run, make_repo, keys, tmp_path):
    origin = make_repo("origin")
    origin.commit("Initial", {"README.md": "# app\n"})
    origin.git("checkout", "-q", "-b", "feature")
    key = keys.openai_project()
    side = origin.commit("Feature", {"feature.env": f"OPENAI_API_KEY={key}\n"})
    origin.git("checkout", "-q", "main")
    git(tmp_path, "clone", "-q", "--mirror", str(origin.path), "mirror.git")
    git(tmp_path, "clone", "-q", str(origin.path), "clone")
    assert git(tmp_path / "clone", "branch", "--list", "feature") == ""  # only refs/remotes/origin/feature
    for path in (tmp_path / "mirror.git", tmp_path / "clone"):
        result = run("scan", "git", path, "--no-store", "--format", "json")
        assert result.code == 1, result
        occurrence = only_occurrence(find_secret(result.json(), key))
        assert (occurrence["path"], occurrence["commit"]) == ("feature.env", side)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are a Linux feature (F_GETPIPE_SZ)")
def test_blob_contents_stream_through_a_1_mib_pipe(make_repo, monkeypatch):
    """`git cat-file --batch` writes into a 1 MiB pipe, not the 64 KiB default: fewer wake-ups of
    both processes per gigabyte of blobs. Where the system refuses, reading goes on unchanged."""
    import fcntl
    import subprocess

    from keysweep.scanner.sources import git as git_source

    get_size = fcntl.fcntl

    repo = make_repo()
    repo.commit("Initial", {"a.txt": "alpha\n", "b.txt": "beta\n"})
    shas = [git(repo.path, "rev-parse", f"HEAD:{name}") for name in ("a.txt", "b.txt")]
    sizes = []
    real_popen = subprocess.Popen

    def watching_popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        original = proc.stdout.readline

        def readline(*a):
            if not sizes:
                sizes.append(get_size(proc.stdout.fileno(), 1032))  # F_GETPIPE_SZ
            return original(*a)
        proc.stdout.readline = readline
        return proc

    monkeypatch.setattr(git_source.subprocess, "Popen", watching_popen)
    assert [content for _sha, content in GitRepo(repo.path).read_blobs(shas)] == [b"alpha\n", b"beta\n"]
    assert sizes == [1 << 20]

    def refused(*args):
        raise OSError("EPERM")

    sizes.clear()
    monkeypatch.setattr(fcntl, "fcntl", refused)
    assert [content for _sha, content in GitRepo(repo.path).read_blobs(shas)] == [b"alpha\n", b"beta\n"]
    assert len(sizes) == 1  # refused: the default pipe, and nothing else changed


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_the_object_listing_read_a_piece_at_a_time_names_every_blob_commit_and_tag(make_repo, monkeypatch, chunk):
    """The object database's listing is read in pieces, never whole: a piece may end anywhere in a
    line, and the answer is what `git cat-file --batch-all-objects` lists, whatever the piece size."""
    import keysweep.scanner.sources.git as git_source

    repo = make_repo()
    for n in range(5):
        repo.commit(f"commit {n}", {f"file{n}.txt": f"content {n}\n" * (n + 1), "shared.txt": "same\n"})
    repo.git("tag", "-a", "v1", "-m", "annotated")
    listed = git(repo.path, "cat-file", "--batch-all-objects", "--unordered",
                 "--batch-check=%(objectname) %(objecttype) %(objectsize)").splitlines()
    expected_blobs = sorted((sha, int(size)) for sha, kind, size in map(str.split, listed) if kind == "blob")
    expected_messages = sorted((sha, kind) for sha, kind, _ in map(str.split, listed) if kind in ("commit", "tag"))
    monkeypatch.setattr(git_source, "_LISTING_CHUNK", chunk)
    source = GitRepo(repo.path)
    assert sorted(source.blob_inventory()) == expected_blobs and len(expected_blobs) == 6
    assert sorted(git_source.message_inventory(source)) == expected_messages and len(expected_messages) == 6


def test_every_git_process_reading_objects_has_bounded_pack_windows_and_delta_cache(run, make_repo, keys, monkeypatch):
    """git maps pack files in windows of up to 1 GiB and caches 96 MiB of delta bases by default:
    reading a large history made `git cat-file --batch` the largest process of a scan, growing with
    the pack. Every git keysweep starts for a scan runs with the bounds given on its command line."""
    import subprocess

    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(args, *rest, **kwargs):
        started.append(list(args))
        return real_popen(args, *rest, **kwargs)

    repo = make_repo()
    repo.commit("add", {"config.py": f'KEY = "{keys.openai_project()}"\n'})
    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    scan(run, repo)
    gits = [args for args in started if args and args[0] == "git"]
    assert any("--batch" in args for args in gits) and any("--batch-all-objects" in args for args in gits)
    for args in gits:
        assert args[1:7] == ["-c", "core.packedGitWindowSize=16m", "-c", "core.packedGitLimit=64m",
                             "-c", "core.deltaBaseCacheLimit=32m"], args
