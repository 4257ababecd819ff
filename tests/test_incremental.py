"""Incremental `scan git`: with a store, a repository's blobs are read once across scans; the
findings reported stay the same. `--full` reads everything again."""

from __future__ import annotations

import json
import sqlite3

import pytest

from keysweep.scanner.sources.git import GitRepo
from tests.conftest import find_secret, git


def last_scan_stats(db) -> dict:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT stats FROM scans ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return json.loads(row[0])


def blob_count(repo) -> int:
    listing = git(repo.path, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)")
    return listing.split().count("blob")


def occurrences_of(findings: list[dict]) -> dict[str, set[tuple]]:
    return {f["id"]: {(o["path"], o["line"], o["commit"]) for o in f["occurrences"]} for f in findings}


@pytest.fixture
def history(make_repo, keys):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n", "app.py": "print('hi')\n"})
    repo.commit("Add keys", {".env": f"OPENAI_API_KEY={keys.openai_project()}\n",
                             "ci/deploy.sh": f"export GITHUB_TOKEN={keys.github()}\n"})
    repo.commit("Remove .env", delete=[".env"])
    return repo


def test_second_scan_reads_no_blob_and_reports_the_same_findings(run, history, tmp_path):
    db = tmp_path / "store.db"
    first = run("scan", "git", history.path, "--db", db, "--format", "json")
    assert first.code == 1, first
    assert last_scan_stats(db)["blobs_scanned"] == blob_count(history) == 4

    second = run("scan", "git", history.path, "--db", db, "--format", "json")
    assert second.code == 1, second
    stats = last_scan_stats(db)
    assert stats["blobs_scanned"] == 0
    assert stats["blobs_already_scanned"] == 4
    assert occurrences_of(second.json()) == occurrences_of(first.json())
    assert len(second.json()) == 2


def test_a_new_commit_is_scanned_alone(run, history, keys, tmp_path):
    db = tmp_path / "store.db"
    assert run("scan", "git", history.path, "--db", db, "--format", "json").code == 1
    key = keys.anthropic()
    commit = history.commit("Add Claude", {"agent/claude.py": f"KEY = '{key}'\n", "app.py": "print('bye')\n"})

    result = run("scan", "git", history.path, "--db", db, "--format", "json")
    assert result.code == 1, result
    stats = last_scan_stats(db)
    assert stats["blobs_scanned"] == 2  # agent/claude.py and the new app.py
    assert stats["blobs_already_scanned"] == 4
    findings = result.json()
    assert len(findings) == 3
    occurrence = find_secret(findings, key)["occurrences"][0]
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("agent/claude.py", 1, commit)


def test_new_only_reports_just_what_the_store_did_not_hold(run, history, keys, tmp_path):
    db = tmp_path / "store.db"
    assert run("scan", "git", history.path, "--db", db, "--format", "json").code == 1
    assert run("scan", "git", history.path, "--db", db, "--format", "json", "--new-only").stdout.strip() == "[]"
    key = keys.huggingface()
    history.commit("Add HF", {"hf.txt": f"HF_TOKEN={key}\n"})
    result = run("scan", "git", history.path, "--db", db, "--format", "json", "--new-only")
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in result.json()] == [find_secret(result.json(), key)["secret_sha256"]]


def test_full_rescans_every_blob(run, history, tmp_path):
    db = tmp_path / "store.db"
    first = run("scan", "git", history.path, "--db", db, "--format", "json")
    full = run("scan", "git", history.path, "--db", db, "--format", "json", "--full")
    assert full.code == 1, full
    stats = last_scan_stats(db)
    assert stats["blobs_scanned"] == 4
    assert stats["blobs_already_scanned"] == 0
    assert occurrences_of(full.json()) == occurrences_of(first.json())


def test_no_store_is_never_incremental(run, history, tmp_path):
    for _ in range(2):
        result = run("scan", "git", history.path, "--no-store")
        assert result.code == 1, result
        assert "4 blobs" in result.stdout and "already scanned" not in result.stdout


def test_a_staged_blob_scanned_before_its_commit_is_found_after_it(run, make_repo, keys, tmp_path):
    """`git add` writes the blob; no ref reaches it yet. It must not be marked done while unreachable."""
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    key = keys.google_api_key()
    repo.write("maps.js", f"const KEY = '{key}';\n")
    repo.git("add", "maps.js")
    db = tmp_path / "store.db"

    before = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert before.code == 0, before
    assert before.json() == []
    assert last_scan_stats(db)["blobs_unreachable"] == 1
    # --unreachable reports it, without a commit.
    dangling = run("scan", "git", repo.path, "--no-store", "--format", "json", "--unreachable")
    assert dangling.code == 1, dangling
    assert find_secret(dangling.json(), key)["occurrences"][0]["commit"] is None

    repo.clock += 3600
    repo.git("commit", "-q", "-m", "Add maps")
    commit = repo.git("rev-parse", "HEAD")
    after = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert after.code == 1, after
    occurrence = find_secret(after.json(), key)["occurrences"][0]
    assert (occurrence["path"], occurrence["line"], occurrence["commit"]) == ("maps.js", 1, commit)


def test_incremental_scan_sees_a_known_secret_blob_at_a_new_path(run, history, tmp_path):
    db = tmp_path / "store.db"
    assert run("scan", "git", history.path, "--db", db, "--format", "json").code == 1
    script = (history.path / "ci/deploy.sh").read_text()
    history.commit("Copy deploy script", {"ci/deploy-staging.sh": script})

    incremental = run("scan", "git", history.path, "--db", db, "--format", "json")
    full = run("scan", "git", history.path, "--no-store", "--format", "json")
    assert occurrences_of(incremental.json()) == occurrences_of(full.json())


def test_store_scope_is_per_repository(run, make_repo, keys, tmp_path):
    """Two repositories in one store: each scan reports its own repository's findings."""
    db = tmp_path / "store.db"
    one, two = make_repo("one"), make_repo("two")
    key_one, key_two = keys.anthropic(), keys.huggingface()
    one.commit("a", {"a.txt": f"k={key_one}\n"})
    two.commit("b", {"b.txt": f"k={key_two}\n"})
    first = run("scan", "git", one.path, "--db", db, "--format", "json")
    second = run("scan", "git", two.path, "--db", db, "--format", "json")
    assert [f["secret_sha256"] for f in first.json()] == [find_secret(first.json(), key_one)["secret_sha256"]]
    assert [f["secret_sha256"] for f in second.json()] == [find_secret(second.json(), key_two)["secret_sha256"]]
    # The same blob in another repository is read again: done-ness is kept per repository.
    assert last_scan_stats(db)["blobs_scanned"] == 1


def test_incremental_scan_after_history_was_rewritten_and_collected(run, make_repo, keys, tmp_path):
    """The previous scan's tips may no longer exist (amend or force-push, then gc)."""
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    old = keys.anthropic()
    repo.commit("Add key", {"a.env": f"K={old}\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    old_tip = repo.git("rev-parse", "HEAD")

    repo.git("reset", "-q", "--hard", "HEAD~1")
    new = keys.github()
    rewritten = repo.commit("Add key, rewritten", {"b.env": f"T={new}\n"})
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")
    assert repo.git("cat-file", "-t", old_tip, check=False) == ""

    result = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert result.code == 1, result
    occurrence = find_secret(result.json(), new)["occurrences"][0]
    assert (occurrence["path"], occurrence["commit"]) == ("b.env", rewritten)
    # The old key stays on record: rewriting history does not un-leak a credential.
    find_secret(result.json(), old)


def test_parallel_workers_give_the_same_result_as_one_process(make_repo, keys, monkeypatch):
    from keysweep.scanner import pipeline
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.rules import load_rules
    from keysweep.scanner.sources.git import GitRepo

    repo = make_repo()
    planted = [keys.openai_project(), keys.anthropic(), keys.github(), keys.huggingface(), keys.google_api_key()]
    for index, key in enumerate(planted):
        repo.commit(f"c{index}", {f"dir{index}/f.txt": "\n" * index + f"KEY={key}\n", "counter": str(index)})
    engine = Engine(load_rules())

    def summary(result):
        return (sorted((f.id, sorted((o.path, o.line, o.commit) for o in f.occurrences)) for f in result.findings),
                result.stats.blobs_scanned, result.stats.bytes_scanned, sorted(result.scanned_objects))

    serial = pipeline.scan_git(GitRepo(repo.path), engine, workers=1)
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    parallel = pipeline.scan_git(GitRepo(repo.path), engine, workers=2)
    assert summary(parallel) == summary(serial)
    assert len(serial.findings) == len(planted)


# -- what "already scanned" is valid for: the whole rule set and the keysweep version ------------
ACME_RULE = r"""
[[rules]]
id = "acme.deploy-token"
name = "Acme deploy token"
provider = "acme"
description = "Acme deploy token."
regex = '''\b(?P<secret>acmd_[a-z0-9]{{24}})\b'''
keywords = ["acmd_"]
examples = ["ACME_DEPLOY=acmd_k3j9x0q2m5n8b1v4c7z6l2p0"]
negative_examples = ["ACME_DEPLOY=acmd_short"]

  [[rules.allowlists]]
  regexes = ['''{allowed}''']
  regex_target = "line"
"""
ACME_TOKEN = "acmd_k3j9x0q2m5n8b1v4c7z6l2p0"


def test_an_allowlist_edit_rescans_every_blob(run, make_repo, tmp_path):
    """The allowlist hid the token; once it no longer does, the blobs already read must be read
    again, or the incremental scan keeps reporting nothing."""
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n", "deploy.env": f"ACME_DEPLOY={ACME_TOKEN} # rotated\n"})
    rules, db = tmp_path / "acme.toml", tmp_path / "store.db"
    rules.write_text(ACME_RULE.format(allowed="# rotated"))
    scan = ("scan", "git", repo.path, "--db", db, "--format", "json", "--rules", rules)

    first = run(*scan)
    assert (first.code, first.json()) == (0, []), first
    assert last_scan_stats(db)["blobs_scanned"] == 2
    unchanged = run(*scan)
    assert (unchanged.code, unchanged.json()) == (0, []), unchanged
    assert last_scan_stats(db)["blobs_scanned"] == 0  # same rules: nothing read again

    rules.write_text(ACME_RULE.format(allowed="# example only"))
    edited = run(*scan)
    assert edited.code == 1, edited
    assert last_scan_stats(db)["blobs_scanned"] == 2
    assert [f["rule_id"] for f in edited.json()] == ["acme.deploy-token"]
    find_secret(edited.json(), ACME_TOKEN)


def _acme_rules(folder, allowed: str):
    from keysweep.scanner.rules import load_rules

    path = folder / "acme.toml"
    path.write_text(ACME_RULE.format(allowed=allowed))
    return load_rules([path], include_default=False)


def test_rules_digest_covers_every_field_and_the_version(tmp_path, monkeypatch):
    import dataclasses

    import keysweep
    from keysweep.scanner.rules import load_rules, rules_digest

    rules = _acme_rules(tmp_path, "# rotated")
    digest = rules_digest(rules)
    assert digest == rules_digest(_acme_rules(tmp_path, "# rotated"))          # unchanged: kept
    (tmp_path / "moved").mkdir()
    assert digest == rules_digest(_acme_rules(tmp_path / "moved", "# rotated"))  # origin aside
    assert digest != rules_digest(_acme_rules(tmp_path, "# example only"))     # allowlist edit
    [rule] = rules
    for change in ({"examples": ("ACME_DEPLOY=acmd_000000000000000000000000",)}, {"enrich": "x"},
                   {"long_lived": False}, {"confidence": "low"}, {"key_id_window": 1}, {"fallback": True}):
        assert rules_digest([dataclasses.replace(rule, **change)]) != digest, change
    monkeypatch.setattr(keysweep, "__version__", "99.0.0")
    assert rules_digest(rules) != digest
    shipped = load_rules()
    assert rules_digest(shipped) == rules_digest(list(reversed(shipped)))  # order of loading aside


def test_rules_digest_is_the_canonical_json_of_every_rule_so_stores_keep_their_records():
    """The digest is the SHA-256 of every rule as `asdict` gives it (origin aside) with the version,
    sorted by id: a store's "already scanned" records written by an earlier build stay valid."""
    import hashlib
    import json

    import keysweep
    from keysweep.scanner.rules import load_rules, rule_to_plain, rules_digest

    shipped = load_rules()
    assert any(rule.allowlists for rule in shipped) and any(rule.replacement for rule in shipped)
    plain = sorted(({k: v for k, v in rule_to_plain(rule).items() if k != "origin"} for rule in shipped),
                   key=lambda entry: entry["id"])
    canonical = json.dumps({"keysweep": keysweep.__version__, "rules": plain}, sort_keys=True, separators=(",", ":"))
    assert rules_digest(shipped) == hashlib.sha256(canonical.encode()).hexdigest()[:16]


# -- the walk: a second scan reads only what commits made since the last one hold -----------------
def reported(result) -> dict[str, set[tuple]]:
    assert result.code in (0, 1), result
    return occurrences_of(result.json())


class Twins:
    """The same repository scanned after each change twice: incrementally into one store, and with
    `--full` into another. Whatever changed, both must report the same findings and places."""

    def __init__(self, run, repo, tmp_path, monkeypatch) -> None:
        self.run, self.repo, self.monkeypatch = run, repo, monkeypatch
        self.incremental_db, self.full_db = tmp_path / "incremental.db", tmp_path / "full.db"

    def scan(self, *extra, walk: bool = True) -> dict[str, set[tuple]]:
        full = reported(self.run("scan", "git", self.repo.path, "--db", self.full_db, "--format", "json", "--full",
                                 *extra))
        with self.monkeypatch.context() as patched:
            if walk:
                # The incremental scan must walk from the refs it recorded, never list every blob.
                patched.setattr(GitRepo, "blob_inventory", _no_listing)
            incremental = reported(self.run("scan", "git", self.repo.path, "--db", self.incremental_db,
                                            "--format", "json", *extra))
        assert incremental == full
        return incremental


def _no_listing(self, errors=None):
    raise AssertionError("an incremental scan listed the whole object database")


def test_an_incremental_scan_walks_new_commits_and_finds_what_a_full_scan_finds(run, history, keys, tmp_path,
                                                                                  monkeypatch):
    repo = history
    twins = Twins(run, repo, tmp_path, monkeypatch)
    first = twins.scan(walk=False)  # the first scan lists the object database: nothing recorded yet
    assert len(first) == 2

    assert twins.scan() == first  # unchanged: nothing to read
    assert last_scan_stats(twins.incremental_db)["blobs_scanned"] == 0
    assert last_scan_stats(twins.incremental_db)["blobs_already_scanned"] == 4

    # A new branch with a key; main moves on too.
    repo.git("checkout", "-q", "-b", "feature")
    on_branch = keys.anthropic()
    repo.commit("Feature", {"feature.py": f"KEY = '{on_branch}'\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("Main moves", {"README.md": "# app, v2\n"})
    after_branch = twins.scan()
    assert len(after_branch) == 3
    assert last_scan_stats(twins.incremental_db)["blobs_scanned"] == 2  # feature.py and the new README

    # History rewritten (an amend pushed with force), the old tip collected.
    repo.git("reset", "-q", "--hard", "HEAD~1")
    rewritten_key = keys.huggingface()
    repo.commit("Main, rewritten", {"hf.txt": f"HF_TOKEN={rewritten_key}\n"})
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")
    assert len(twins.scan()) == 4

    # A deleted branch: what it leaked stays on record, as with a full scan.
    repo.git("branch", "-q", "-D", "feature")
    assert len(twins.scan()) == 4

    # A new tag on an old commit (nothing new to read), and a tag naming a blob that holds a key.
    repo.git("tag", "-a", "v1", "-m", "release", "HEAD~2")
    (repo.path / "loose.txt").write_text(f"T={keys.github()}\n")
    blob = repo.git("hash-object", "-w", "loose.txt")
    (repo.path / "loose.txt").unlink()
    repo.git("tag", "key-blob", blob)
    tagged = twins.scan()
    assert len(tagged) == 5
    assert last_scan_stats(twins.incremental_db)["blobs_scanned"] == 1

    # A commit on a detached HEAD, on no branch.
    repo.git("checkout", "-q", "--detach")
    detached_key = keys.openai_project()
    repo.commit("Detached", {"detached.env": f"OPENAI_API_KEY={detached_key}\n"})
    detached = twins.scan()
    assert len(detached) == 6
    occurrence = find_secret(run("scan", "git", repo.path, "--db", twins.incremental_db, "--format", "json").json(),
                             detached_key)["occurrences"][0]
    assert (occurrence["path"], occurrence["commit"]) == ("detached.env", repo.git("rev-parse", "HEAD"))


def test_a_rule_change_rescans_every_blob_instead_of_walking(run, make_repo, tmp_path, monkeypatch):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n", "deploy.env": f"ACME_DEPLOY={ACME_TOKEN} # rotated\n"})
    rules = tmp_path / "acme.toml"
    rules.write_text(ACME_RULE.format(allowed="# rotated"))
    twins = Twins(run, repo, tmp_path, monkeypatch)
    assert twins.scan("--rules", rules, walk=False) == {}
    assert twins.scan("--rules", rules) == {}

    rules.write_text(ACME_RULE.format(allowed="# example only"))
    edited = twins.scan("--rules", rules, walk=False)  # new rules: what was read before counts for nothing
    assert len(edited) == 1
    assert last_scan_stats(twins.incremental_db)["blobs_scanned"] == 2
    assert twins.scan("--rules", rules) == edited


def test_a_blob_left_unread_is_read_by_a_later_scan_though_no_ref_moved(run, make_repo, keys, tmp_path, monkeypatch):
    """Too large for --max-size the first time: the walk does not see it again (no new commit), so
    it is kept as unfinished and read once the limit allows."""
    repo = make_repo()
    key = keys.anthropic()
    repo.commit("Initial", {"README.md": "# app\n", "big.txt": "x" * 3000 + f"\nKEY={key}\n"})
    twins = Twins(run, repo, tmp_path, monkeypatch)
    assert twins.scan("--max-size", "1000", walk=False) == {}
    assert last_scan_stats(twins.incremental_db)["blobs_skipped_size"] == 1
    assert twins.scan("--max-size", "1000") == {}
    assert last_scan_stats(twins.incremental_db)["blobs_skipped_size"] == 1  # still counted, still unread

    found = twins.scan()
    assert len(found) == 1
    assert last_scan_stats(twins.incremental_db)["blobs_scanned"] == 1
    twins.scan()
    assert last_scan_stats(twins.incremental_db)["blobs_scanned"] == 0


def test_unreachable_lists_every_blob_even_after_a_walked_scan(run, make_repo, keys, tmp_path):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 0
    key = keys.google_api_key()
    (repo.path / "dangling.js").write_text(f"const KEY = '{key}';\n")
    repo.git("hash-object", "-w", "dangling.js")
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").json() == []
    dangling = run("scan", "git", repo.path, "--db", db, "--format", "json", "--unreachable")
    assert dangling.code == 1, dangling
    find_secret(dangling.json(), key)
