"""Suppressions apply everywhere: a swept forge repository honours its `.keysweepignore` and inline
allows exactly as `scan git` does, the store keeps each suppressed place with its reason, and a
finding suppressed everywhere is hidden from findings, report, revoke and the sweep's exit status
unless --include-suppressed."""

from __future__ import annotations

import hashlib

import pytest

from keysweep.fingerprint import finding_id
from keysweep.store import Store
from tests.fakes.forge import GhRepo

from .conftest import find_secret
from .test_remote_github import github, stamp  # noqa: F401  (fixture)


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def forge_repo(make_repo, tmp_path, name: str, commits: list[dict[str, str]]) -> str:
    """A bare repository (what the forge serves for cloning) with this history."""
    builder = make_repo(f"src-{name}")
    for number, files in enumerate(commits, 1):
        builder.commit(f"commit {number}", files)
    target = tmp_path / "remote" / f"{name}.git"
    builder.bare_clone(target)
    return f"file://{target}"


@pytest.fixture
def planted(tmp_path, make_repo, github, keys):  # noqa: F811
    """acme/svc: one key accepted in the committed .keysweepignore, one allowed inline, one live,
    and one key in two files of which only one line is allowed."""
    keys_by_role = {"ignored": keys.openai_project(), "allowed": keys.anthropic(), "live": keys.huggingface(),
                    "twice": keys.github()}
    ignored_id = finding_id("openai", sha(keys_by_role["ignored"]))
    url = forge_repo(make_repo, tmp_path, "svc", [
        {"config/openai.env": f"OPENAI_API_KEY={keys_by_role['ignored']}\n",
         "config/claude.env": f"ANTHROPIC_API_KEY={keys_by_role['allowed']}  # keysweep:allow test fixture\n"},
        {"app/hf.py": f"HF_TOKEN = '{keys_by_role['live']}'\n",
         "ci/a.sh": f"export GITHUB_TOKEN={keys_by_role['twice']}  # gitleaks:allow\n",
         "ci/b.sh": f"export GITHUB_TOKEN={keys_by_role['twice']}\n",
         ".keysweepignore": f"# reviewed: a revoked demo key\n{ignored_id}\n"},
    ])
    github.add_org("acme")
    github.add_repo(GhRepo("acme", "svc", url, pushed_at=stamp(1)))
    write_sweep_config(tmp_path)
    return keys_by_role


def write_sweep_config(tmp_path) -> None:
    """keysweep.toml in tmp_path: the acme org on the fake GitHub, its repositories only (no Actions)."""
    (tmp_path / "keysweep.toml").write_text(f"""
[sources]
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]
actions = false
""")


def sweep(run, tmp_path, *extra):
    return run("sweep", "--config", tmp_path / "keysweep.toml", "--db", tmp_path / "store.db",
               "--format", "json", "--no-progress", *extra, cwd=tmp_path)


def test_sweep_reports_only_what_is_not_suppressed(run, tmp_path, planted):
    result = sweep(run, tmp_path)
    assert result.code == 1, result
    findings = result.json()
    assert {f["secret_sha256"] for f in findings} == {sha(planted["live"]), sha(planted["twice"])}
    live = find_secret(findings, planted["live"])
    assert [(o["suppressed"], o["suppression"]) for o in live["occurrences"]] == [(False, None)]


def test_a_key_also_seen_unsuppressed_stays_visible_with_its_suppressed_place_marked(run, tmp_path, planted):
    findings = sweep(run, tmp_path).json()
    twice = find_secret(findings, planted["twice"])
    by_path = {o["path"]: o for o in twice["occurrences"]}
    assert set(by_path) == {"ci/a.sh", "ci/b.sh"}
    assert (by_path["ci/b.sh"]["suppressed"], by_path["ci/b.sh"]["suppression"]) == (False, None)
    assert by_path["ci/a.sh"]["suppressed"] is True
    assert by_path["ci/a.sh"]["suppression"]["kind"] == "inline"
    assert by_path["ci/a.sh"]["suppression"]["marker"] == "gitleaks:allow"


def test_the_exit_status_and_new_count_ignore_suppressed_findings(run, tmp_path, make_repo, github, keys):  # noqa: F811
    """A repository whose only keys are suppressed is a quiet sweep: exit 0, no new finding."""
    key, allowed = keys.openai_project(), keys.anthropic()
    url = forge_repo(make_repo, tmp_path, "quiet", [
        {"a.env": f"OPENAI_API_KEY={key}\n", "b.env": f"ANTHROPIC_API_KEY={allowed} # keysweep:allow\n",
         ".keysweepignore": finding_id("openai", sha(key)) + "\n"}])
    github.add_org("acme")
    github.add_repo(GhRepo("acme", "quiet", url, pushed_at=stamp(1)))
    write_sweep_config(tmp_path)
    result = run("sweep", "--config", tmp_path / "keysweep.toml", "--db", tmp_path / "store.db",
                 "--format", "json", cwd=tmp_path)  # with its counts line (--no-progress drops it)
    assert (result.code, result.json()) == (0, []), result
    assert "0 new findings" in result.stderr


def test_the_store_keeps_each_suppressed_occurrence_with_its_reason(run, tmp_path, planted):
    assert sweep(run, tmp_path).code == 1
    store = Store(tmp_path / "store.db")
    everything = {f.secret_sha256: f for f in store.findings(include_suppressed=True)}
    listed = {f.secret_sha256 for f in store.findings()}
    assert listed == {sha(planted["live"]), sha(planted["twice"])}

    (ignored,) = everything[sha(planted["ignored"])].occurrences
    assert (ignored.path, ignored.suppressed) == ("config/openai.env", True)
    assert ignored.repo.endswith("/acme/svc")
    assert ignored.suppression == {"kind": "ignore_file", "file": "HEAD:.keysweepignore", "line": 2,
                                   "entry": finding_id("openai", sha(planted["ignored"])), "marker": None}
    (allowed,) = everything[sha(planted["allowed"])].occurrences
    assert (allowed.path, allowed.suppressed) == ("config/claude.env", True)
    assert allowed.suppression == {"kind": "inline", "file": None, "line": None, "entry": None,
                                   "marker": "keysweep:allow"}


def test_include_suppressed_shows_every_finding(run, tmp_path, planted):
    result = sweep(run, tmp_path, "--include-suppressed")
    assert result.code == 1, result
    assert {f["secret_sha256"] for f in result.json()} == {sha(value) for value in planted.values()}

    listed = run("findings", "--db", tmp_path / "store.db", "--format", "json")
    assert {f["secret_sha256"] for f in listed.json()} == {sha(planted["live"]), sha(planted["twice"])}
    everything = run("findings", "--db", tmp_path / "store.db", "--format", "json", "--include-suppressed")
    ignored = find_secret(everything.json(), planted["ignored"])
    assert [o["suppression"]["kind"] for o in ignored["occurrences"]] == ["ignore_file"]


def test_revoke_all_dry_run_plans_no_fully_suppressed_finding(run, tmp_path, planted):
    assert sweep(run, tmp_path).code == 1
    store = Store(tmp_path / "store.db")
    ids = {f.secret_sha256: f.id for f in store.findings(include_suppressed=True)}
    store.close()

    plan = run("revoke", "--all", "--db", tmp_path / "store.db", "--format", "json", cwd=tmp_path)
    assert plan.code == 0, plan
    assert {row["finding"] for row in plan.json()["plan"]} == {ids[sha(planted["live"])], ids[sha(planted["twice"])]}

    wider = run("revoke", "--all", "--include-suppressed", "--db", tmp_path / "store.db", "--format", "json",
                cwd=tmp_path)
    assert {row["finding"] for row in wider.json()["plan"]} == set(ids.values())


def test_scan_github_applies_the_same_suppressions(run, tmp_path, planted):
    result = run("scan", "github", "--repo", "acme/svc", "--no-actions", "--no-store", "--format", "json",
                 "--cache-dir", tmp_path / "cache", "--no-progress", cwd=tmp_path)
    assert result.code == 1, result
    assert {f["secret_sha256"] for f in result.json()} == {sha(planted["live"]), sha(planted["twice"])}


def test_scan_git_records_an_inline_allow_and_reports_it_only_when_asked(run, make_repo, keys, tmp_path):
    repo = make_repo()
    allowed, live = keys.anthropic(), keys.huggingface()
    repo.commit("add", {"a.env": f"ANTHROPIC_API_KEY={allowed}  # keysweep:allow\n", "b.env": f"HF={live}\n"})
    db = tmp_path / "store.db"
    shown = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert (shown.code, [f["secret_sha256"] for f in shown.json()]) == (1, [sha(live)])
    every = run("scan", "git", repo.path, "--db", db, "--format", "json", "--include-suppressed")
    allowed_finding = find_secret(every.json(), allowed)
    assert [(o["path"], o["suppressed"], o["suppression"]["marker"]) for o in allowed_finding["occurrences"]] == [
        ("a.env", True, "keysweep:allow")]


def test_an_allowed_early_copy_never_hides_a_later_plain_one(run, make_repo, keys, tmp_path):
    """The earliest commit of a path introduces a key; an allowed line there is a place of its own."""
    repo = make_repo()
    key = keys.openai_project()
    repo.commit("allowed", {"app.env": f"OPENAI_API_KEY={key}  # keysweep:allow\n"})
    repo.commit("plain", {"app.env": f"OPENAI_API_KEY={key}\n"})
    for extra in (("--no-store",), ("--db", tmp_path / "store.db")):
        result = run("scan", "git", repo.path, "--format", "json", *extra)
        assert result.code == 1, result
        finding = find_secret(result.json(), key)
        assert [o["suppressed"] for o in finding["occurrences"]] == [True, False]


def test_an_ignore_entry_removed_later_makes_the_finding_visible_again(run, make_repo, keys, tmp_path):
    repo = make_repo()
    key = keys.github()
    repo.commit("add", {"ci.sh": f"export GITHUB_TOKEN={key}\n"})
    db = tmp_path / "store.db"
    (repo.path / ".keysweepignore").write_text(finding_id("github", sha(key)) + "\n")
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 0
    assert run("findings", "--db", db, "--format", "json").json() == []
    (repo.path / ".keysweepignore").write_text("# nothing accepted any more\n")
    again = run("scan", "git", repo.path, "--db", db, "--format", "json")
    assert again.code == 1, again  # incremental: the old blob is not read again, the store is updated
    find_secret(run("findings", "--db", db, "--format", "json").json(), key)


def test_report_leaves_out_fully_suppressed_credentials(run, make_repo, keys, tmp_path):
    repo = make_repo()
    allowed, live = keys.anthropic(), keys.huggingface()
    repo.commit("add", {"a.env": f"ANTHROPIC_API_KEY={allowed}  # keysweep:allow\n", "b.env": f"HF={live}\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db).code == 1
    report = run("report", "--db", db, "--format", "json")
    text = report.stdout
    assert "huggingface" in text and "anthropic" not in text
    assert "anthropic" in run("report", "--db", db, "--format", "json", "--include-suppressed").stdout


def test_sweep_of_a_local_repository_reads_its_ignore_file(run, make_repo, keys, tmp_path):
    repo = make_repo("local")
    key = keys.openai_project()
    repo.commit("add", {"a.env": f"OPENAI_API_KEY={key}\n",
                        ".keysweepignore": finding_id("openai", sha(key)) + "\n"})
    (tmp_path / "keysweep.toml").write_text('[sources]\ngit = ["local"]\n')
    result = sweep(run, tmp_path)
    assert (result.code, result.json()) == (0, []), result


def test_policy_revocation_after_a_sweep_never_acts_on_a_suppressed_key(run, tmp_path, make_repo, keys, monkeypatch):
    from tests.fakes.providers import FakeGitHub, FakeProviders
    from tests.revoke_helpers import env_for, set_env, write_config

    accepted, allowed, leaked = keys.github(), keys.github(), keys.github()
    repo = make_repo("local")
    repo.commit("config", {"ci.env": f"GH_DEMO = \"{accepted}\"\nGH_CI = \"{leaked}\"\n",
                           "test.env": f"GH_TEST = \"{allowed}\"  # keysweep:allow\n",
                           ".keysweepignore": finding_id("github", sha(accepted)) + "\n"})
    db = tmp_path / "store.db"
    config = write_config(tmp_path / "keysweep.toml", providers=("github",),
                          extra=f'\n[sources]\ngit = ["{repo.path}"]\n')
    (tmp_path / "keysweep-policy.toml").write_text('[[rules]]\nname = "tokens"\naction = "auto"\nproviders = ["github"]\n')
    monkeypatch.chdir(tmp_path)
    fakes = FakeProviders(github=FakeGitHub([accepted, allowed, leaked]))
    with fakes:
        set_env(monkeypatch, env_for(fakes, db))
        done = run("sweep", "--config", config, "--db", db, "--format", "json", "--revoke-policy", "--execute")
        assert fakes["github"].effective.get(accepted, 0) == 0, done.stderr
        assert fakes["github"].effective.get(allowed, 0) == 0, done.stderr
        assert fakes["github"].effective[leaked] == 1, done.stderr
        assert done.code == 1, done
        assert [f["secret_sha256"] for f in done.json()] == [sha(leaked)]


def test_owners_and_verify_select_no_fully_suppressed_finding_unless_asked(run, make_repo, keys, tmp_path):
    from keysweep.commands.verify import select_findings

    repo = make_repo()
    allowed, live = keys.anthropic(), keys.huggingface()
    repo.commit("add", {"a.env": f"ANTHROPIC_API_KEY={allowed}  # keysweep:allow\n", "b.env": f"HF={live}\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db).code == 1
    owners = run("owners", "--db", db, "--offline", "--format", "json", cwd=tmp_path)
    assert [f["secret_sha256"] for f in owners.json()] == [sha(live)], owners
    everyone = run("owners", "--db", db, "--offline", "--format", "json", "--include-suppressed", cwd=tmp_path)
    assert {f["secret_sha256"] for f in everyone.json()} == {sha(live), sha(allowed)}

    store = Store(db)
    assert [f.secret_sha256 for f in select_findings(store, None, None, ())] == [sha(live)]
    allowed_id = finding_id("anthropic", sha(allowed))
    assert [f.id for f in select_findings(store, None, None, (allowed_id,))] == [allowed_id]  # named: selected
    assert len(select_findings(store, None, None, (), include_suppressed=True)) == 2


def test_scan_verify_checks_no_fully_suppressed_key(run, make_repo, keys, tmp_path, monkeypatch):
    import keysweep.verify.runner

    checked: list[str] = []

    def record_only(findings, *args, **kwargs):
        checked.extend(f.secret_sha256 for f in findings)
        return []

    monkeypatch.setattr(keysweep.verify.runner, "run_verification", record_only)
    repo = make_repo()
    allowed, live = keys.anthropic(), keys.huggingface()
    repo.commit("add", {"a.env": f"ANTHROPIC_API_KEY={allowed}  # keysweep:allow\n", "b.env": f"HF={live}\n",
                        "c.env": f"OPENAI_API_KEY={keys.openai_project()}\n"})
    ignored = [line for line in run("scan", "git", repo.path, "--no-store", "--format", "json").json()
               if line["provider"] == "openai"][0]
    (repo.path / ".keysweepignore").write_text(ignored["id"] + "\n")
    assert run("scan", "git", repo.path, "--db", tmp_path / "store.db", "--verify").code == 1
    assert checked == [sha(live)]


@pytest.mark.parametrize("kind", ["symlink", "oversize"])
def test_a_cloned_repository_ignore_file_that_is_not_a_small_regular_file_is_not_read(make_repo, keys, tmp_path,
                                                                                     capsys, kind):
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.pipeline import MAX_IGNORE_BYTES, scan_git
    from keysweep.scanner.rules import load_rules
    from keysweep.scanner.sources.git import GitRepo

    key = keys.openai_project()
    entry = finding_id("openai", sha(key))
    builder = make_repo("src")
    builder.commit("add", {"a.env": f"OPENAI_API_KEY={key}\n"})
    if kind == "symlink":  # the link's text is the entry: read as a file, it would hide the key
        (builder.path / ".keysweepignore").symlink_to(entry)
    else:
        (builder.path / ".keysweepignore").write_text(entry + "\n" + "#" * MAX_IGNORE_BYTES + "\n")
    builder.git("add", ".keysweepignore")
    builder.git("commit", "-q", "-m", "ignore")
    bare = tmp_path / "clone.git"
    builder.bare_clone(bare)

    result = scan_git(GitRepo(bare), Engine(load_rules()))
    assert [f.secret_sha256 for f in result.findings] == [sha(key)]
    assert not any(o.suppressed for o in result.findings[0].occurrences)
    warning = capsys.readouterr().err
    assert "HEAD:.keysweepignore" in warning
    assert ("symbolic link" if kind == "symlink" else "larger than") in warning
