"""A second `keysweep sweep` with nothing new asks GitHub only conditionally and reads nothing again;
a repository pushed to in between is fetched and only its new commits are read."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from keysweep.scanner.engine import Engine
from keysweep.scanner.sources.git import GitRepo
from tests.fakes.forge import GhRepo

from .conftest import find_secret
from .test_remote_github import github, stamp  # noqa: F401  (fixture)


@pytest.fixture
def acme(tmp_path, make_repo, github, keys):  # noqa: F811
    """Three repositories (one with a key in its history), Actions variables (one a key), secrets."""
    sources = {}
    for index, name in enumerate(("api", "web", "ops")):
        builder = make_repo(f"src-{name}")
        builder.commit("start", {"README.md": f"# {name}\n", "src/app.py": f"print({index})\n"})
        builder.commit("more", {"src/util.py": "def f():\n    return 1\n"})
        sources[name] = builder
    history_key = keys.openai_project()
    sources["api"].commit("config", {"settings.env": f"OPENAI_API_KEY={history_key}\n"})
    variable_key = keys.anthropic()
    github.add_org("acme")
    for name, builder in sources.items():
        bare = tmp_path / "remote" / f"{name}.git"
        builder.bare_clone(bare)
        variables = [{"name": "LOG_LEVEL", "value": "debug", "created_at": stamp(5), "updated_at": stamp(5)}]
        if name == "web":
            variables.append({"name": "CLAUDE", "value": variable_key, "created_at": stamp(3), "updated_at": stamp(3)})
        github.add_repo(GhRepo("acme", name, f"file://{bare}", pushed_at=stamp(2), variables=variables,
                               secrets=[{"name": "DEPLOY", "created_at": stamp(300), "updated_at": stamp(200)}]))
    (tmp_path / "keysweep.toml").write_text(f"""
[sources]
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]
""")
    return {"sources": sources, "history": history_key, "variable": variable_key}


def sweep(run, tmp_path, *extra):
    return run("sweep", "--config", tmp_path / "keysweep.toml", "--db", tmp_path / "store.db",
               "--format", "json", *extra)


def test_a_second_sweep_with_nothing_new_asks_conditionally_and_reads_nothing(run, tmp_path, github, acme,
                                                                            monkeypatch):
    first = sweep(run, tmp_path)
    assert first.code == 1, first
    find_secret(first.json(), acme["history"])
    find_secret(first.json(), acme["variable"])
    assert "3 repositories scanned" in first.stderr

    def no_blob_read(*args, **kwargs):
        raise AssertionError("a blob was read again")

    def no_engine(*args, **kwargs):
        raise AssertionError("the rules were compiled, with nothing to match")

    monkeypatch.setattr(GitRepo, "read_blobs", no_blob_read)
    monkeypatch.setattr(GitRepo, "blob_inventory", no_blob_read)
    monkeypatch.setattr(Engine, "__init__", no_engine)  # nothing new: nothing to compile the rules for
    logged = len(github.behaviour.log)
    second = sweep(run, tmp_path)
    assert second.code == 0, second  # nothing new
    assert {f["id"] for f in second.json()} == {f["id"] for f in first.json()}  # the same findings, reported
    assert "0 repositories scanned, 3 unchanged, 0 values read" in second.stderr
    # Every Actions listing was asked with the ETag of the first sweep and answered 304 Not Modified.
    actions = [entry for entry in github.behaviour.log[logged:] if "/actions/" in entry[0] or "/environments" in entry[0]]
    assert len(actions) == 11  # the organization's variables and secrets; each repository's and its environments
    assert all(conditional and status == 304 for _, conditional, status in actions), actions


def test_a_repository_pushed_to_is_fetched_and_only_its_new_commits_read(run, tmp_path, github, acme, keys,
                                                                        monkeypatch):
    first = sweep(run, tmp_path)
    assert first.code == 1, first
    pushed_key = keys.huggingface()
    builder = acme["sources"]["ops"]
    builder.commit("token", {"deploy/hf.env": f"HF_TOKEN={pushed_key}\n"})
    subprocess.run(["git", "push", "-q", str(tmp_path / "remote" / "ops.git"), "HEAD:refs/heads/main"],
                   cwd=builder.path, check=True, capture_output=True)
    github.repos["acme/ops"].pushed_at = stamp(0)

    read: list[str] = []
    real_read_blobs = GitRepo.read_blobs

    def recording_read_blobs(self, shas, *args, **kwargs):
        shas = list(shas)
        read.extend(shas)
        return real_read_blobs(self, shas, *args, **kwargs)

    def no_listing(*args, **kwargs):
        raise AssertionError("the object database was listed: the scan did not walk from the recorded refs")

    monkeypatch.setattr(GitRepo, "read_blobs", recording_read_blobs)
    monkeypatch.setattr(GitRepo, "blob_inventory", no_listing)
    second = sweep(run, tmp_path, "--new-only")
    assert second.code == 1, second
    (new,) = second.json()
    assert new["secret_sha256"] == find_secret([new], pushed_key)["secret_sha256"]
    assert new["occurrences"][0]["path"] == "deploy/hf.env"
    assert "1 repository scanned, 2 unchanged" in second.stderr
    clone = GitRepo(next((tmp_path / "cache").rglob("ops.git")))
    new_blob = subprocess.run(["git", "rev-parse", "HEAD:deploy/hf.env"], cwd=clone.path, capture_output=True,
                              text=True, check=True).stdout.strip()
    assert read == [new_blob]  # the one blob the new commit holds; nothing the first sweep read

    third = sweep(run, tmp_path)
    assert third.code == 0, third
    assert {f["id"] for f in third.json()} == {f["id"] for f in first.json()} | {new["id"]}


# A sweep in a fresh interpreter, as cron starts it: counts the git commands it runs and the times
# the system trust store is read, then prints its exit status, those counts and which of the
# modules a sweep with nothing new has no use for were loaded.
FRESH_SWEEP = """
import json, ssl, subprocess, sys
git_commands, trust_reads = [], []
popen_init = subprocess.Popen.__init__
def recording_popen(self, args, *more, **kwargs):
    if isinstance(args, (list, tuple)) and args and str(args[0]).endswith("git"):
        git_commands.append(list(map(str, args[1:3])))
    popen_init(self, args, *more, **kwargs)
subprocess.Popen.__init__ = recording_popen
read_trust = ssl.SSLContext.set_default_verify_paths
def counted(context):
    trust_reads.append(1)
    return read_trust(context)
ssl.SSLContext.set_default_verify_paths = counted
sys.argv = ["keysweep", "sweep", *sys.argv[1:]]
from keysweep.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
unused = ("keysweep.scanner.engine", "keysweep.scanner.sources.git", "keysweep.scanner.archives", "hyperscan",
          "regex", "rich", "sqlite_utils", "boto3", "keysweep.scanner.sources.aws",
          "keysweep.scanner.sources.kubernetes", "keysweep.scanner.sources.vault", "keysweep.scanner.sources.gcp",
          "keysweep.scanner.sources.azure", "keysweep.scanner.sources.gitlab", "keysweep.remediation.policy",
          "keysweep.verify.runner", "keysweep.owners", "keysweep.providers.aws", "csv")
print(json.dumps([code, git_commands, len(trust_reads), [m for m in unused if m in sys.modules]]))
"""


def test_a_second_sweep_with_nothing_new_runs_no_git_and_loads_only_what_it_uses(run, tmp_path, github, acme):
    """What a scheduled sweep with nothing new costs is mostly starting up: it runs no git command
    (no repository moved: none is fetched or opened), reads no trust store (the API is plain HTTP
    here), and imports neither the engine, the git reader, the archive readers, the other sources'
    modules, the follow-ups (verify, owners, policy) it was not asked for, nor what a JSON report of
    keys other than AWS ones does not use (the AWS provider's account-id decoding, csv)."""
    first = sweep(run, tmp_path)
    assert first.code == 1, first
    done = subprocess.run([sys.executable, "-c", FRESH_SWEEP, "--config", str(tmp_path / "keysweep.toml"),
                           "--db", str(tmp_path / "store.db"), "--format", "json", "-o", str(tmp_path / "out.json")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    code, git_commands, trust_reads, loaded = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr  # nothing new
    assert {f["id"] for f in json.loads((tmp_path / "out.json").read_text())} == {f["id"] for f in first.json()}
    assert git_commands == []
    assert trust_reads == 0
    assert loaded == []


def test_the_console_scripts_sweep_exits_with_its_status_its_output_whole_and_the_store_closed(
        run_process, tmp_path, github, acme):
    """The console script's sweep skips the interpreter's teardown (keysweep/launcher.py) and still
    ends as any exit does: 1 then 0, every finding printed, and the store closed (SQLite folds
    its write-ahead log back: no -wal file is left beside it)."""
    args = ("sweep", "--config", tmp_path / "keysweep.toml", "--db", tmp_path / "store.db", "--format", "json")
    first = run_process(*args)
    assert first.code == 1, first.stderr
    second = run_process(*args)
    assert second.code == 0, second.stderr
    assert {f["id"] for f in json.loads(second.stdout)} == {f["id"] for f in json.loads(first.stdout)}
    find_secret(json.loads(second.stdout), acme["variable"])
    assert sorted(path.name for path in tmp_path.glob("store.db*")) == ["store.db"]


# Run through keysweep.launcher.exit_without_teardown in a fresh interpreter: a command that
# registers an atexit callback, starts a thread that finishes after it returns and leaves its last
# output in stdout's buffer, then exits with the status given on the command line.
WITHOUT_TEARDOWN = """
import atexit, sys, threading, time
from pathlib import Path
from keysweep.launcher import exit_without_teardown
where, status = Path(sys.argv[1]), sys.argv[2]

def command():
    atexit.register(lambda: (where / "atexit").write_text("ran"))
    threading.Thread(target=lambda: (time.sleep(0.3), (where / "thread").write_text("done"))).start()
    sys.stdout.write("the last line, still in the buffer")
    if status != "return":
        sys.exit(int(status) if status.isdigit() else status)

exit_without_teardown(command)
"""


@pytest.mark.parametrize("status, code, stderr", [("3", 3, ""), ("0", 0, ""), ("return", 0, ""),
                                                  ("a message", 1, "a message\n")])
def test_leaving_without_teardown_still_does_what_an_exit_does(tmp_path, status, code, stderr):
    done = subprocess.run([sys.executable, "-c", WITHOUT_TEARDOWN, str(tmp_path), status], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stderr) == (code, stderr)
    assert done.stdout == "the last line, still in the buffer"  # flushed
    assert (tmp_path / "atexit").read_text() == "ran"  # atexit callbacks ran
    assert (tmp_path / "thread").read_text() == "done"  # non-daemon threads were waited for
