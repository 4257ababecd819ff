"""`keysweep demo` (the README's first command) and the lazy imports that keep `scan staged` fast."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_finds_its_planted_keys_and_exits_0(run, tmp_path):
    target = tmp_path / "demo"
    result = run("demo", "--keep", target, "--format", "json")
    assert result.code == 0, result
    findings = result.json()
    providers = {f["provider"] for f in findings}
    assert {"openai", "anthropic", "huggingface", "aws", "github"} <= providers
    paths = {o["path"] for f in findings for o in f["occurrences"]}
    assert {"agent/llm.py", ".env", "scripts/sync.sh"} <= paths  # changed, deleted, side branch
    assert (target / "repo" / ".git").is_dir() and not (target / "repo" / ".env").exists()


def _next_commands(stderr: str) -> list[list[str]]:
    import shlex

    return [shlex.split(line.split("  # ")[0]) for line in stderr.splitlines() if line.startswith("  keysweep ")]


def test_demo_keeps_its_repository_and_its_own_store_in_a_new_directory(run, tmp_path, monkeypatch):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    result = run("demo")
    assert result.code == 0, result
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Demo directory: ")]
    home = tmp_path / "tmp" / line.split()[2]
    assert home.parent == tmp_path / "tmp" and home.name.startswith("keysweep-demo-")
    assert (home / "repo" / ".git").is_dir() and (home / "keysweep.db").is_file()
    assert not os.path.exists(os.environ["KEYSWEEP_DB"]), "the demo wrote to the user's default store"
    # It ends with the next commands, on its own store.
    commands = _next_commands(result.stderr)
    assert [c[1] for c in commands] == ["owners", "verify", "revoke", "report"]
    assert all(c[-2:] == ["--db", str(home / "keysweep.db")] for c in commands)
    # Run again, it makes another directory: nothing is reused or overwritten.
    again = run("demo", "--format", "json")
    assert again.code == 0 and again.json()
    assert len(list((tmp_path / "tmp").iterdir())) == 2


def test_the_next_commands_the_demo_prints_run_on_its_store(run, tmp_path, fake_api, monkeypatch):
    # The providers' base URLs point at a local server that knows none of these keys.
    for name, path in (("OPENAI_BASE_URL", "/openai/v1"), ("ANTHROPIC_BASE_URL", "/anthropic"), ("HF_ENDPOINT", "/hf"),
                       ("GITHUB_API_URL", "/github"), ("AWS_ENDPOINT_URL", "/aws")):
        monkeypatch.setenv(name, fake_api.url + path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake")
    demo = run("demo", "--keep", tmp_path / "demo")
    assert demo.code == 0, demo
    outcomes = {}
    for command in _next_commands(demo.stderr):
        result = run(*command[1:])
        outcomes[command[1]] = result
        assert result.code in (0, 1), (command, result)
        assert "Traceback" not in result.stderr
    assert "owned" in outcomes["owners"].stderr
    assert "verified 5 findings" in outcomes["verify"].stderr
    assert "Dry run:" in outcomes["revoke"].stdout and outcomes["revoke"].code == 0
    assert outcomes["report"].stdout.startswith("Time to remediation — 5 credentials")


def test_demo_keep_needs_a_new_or_empty_directory(run, tmp_path):
    busy = tmp_path / "work"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine\n")
    refused = run("demo", "--keep", busy)
    assert refused.code == 2 and refused.stderr.startswith("keysweep: error: ")
    assert len(refused.stderr.splitlines()) == 1 and "new or empty directory" in refused.stderr
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("demo", "--keep", empty, "--format", "json").code == 0
    assert (empty / "keysweep.db").is_file()


def test_scan_staged_does_not_import_heavy_libraries(make_repo):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    repo.write("notes.md", "nothing secret\n")
    repo.git("add", "notes.md")
    probe = ("import sys\n"
             "sys.argv = ['keysweep', 'scan', 'staged']\n"
             "from keysweep.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = [m for m in ('rich', 'sqlite_utils', 'sqlite3', 'hyperscan', 'aiohttp', 'boto3', 'psycopg', 'celery', 'kombu', 'redis') if m in sys.modules]\n"
             "print(json.dumps([code, heavy]))\n")
    result = subprocess.run([sys.executable, "-c", "import json\n" + probe], cwd=repo.path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    code, heavy = json.loads(result.stdout.splitlines()[-1])
    assert code == 0
    assert heavy == []


def test_the_demo_does_not_import_the_postgresql_driver_nor_celery(tmp_path):
    probe = ("import json, sys\n"
             f"sys.argv = ['keysweep', 'demo', '--keep', {str(tmp_path / 'demo')!r}, '--format', 'json']\n"
             "from keysweep.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
             "print(json.dumps([code, 'psycopg' in sys.modules, 'sqlite3' in sys.modules,\n"
             "                  [m for m in ('celery', 'kombu', 'redis') if m in sys.modules]]))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    code, psycopg_loaded, sqlite_loaded, distributed = json.loads(result.stdout.splitlines()[-1])
    assert code == 0 and sqlite_loaded  # the demo used its SQLite store…
    assert not psycopg_loaded  # …and never loaded the PostgreSQL driver
    assert distributed == []  # …nor Celery and its broker clients (only `worker` and `sweep --broker` do)


# What the console script (keysweep/launcher.py) must not load to answer a plain `keysweep scan staged`,
# the pre-commit hook's command, clean or not: the CLI framework, the HTTP stack, the archive readers
# (no archive is staged here), rich and the other formats' renderer (a finding is reported as plain
# text, keysweep/plain.py) and the provider modules of rules that did not match.
NOT_FOR_A_HOOK = ("click", "keysweep.cli", "asyncio", "ssl", "keysweep.http", "sqlite3", "zipfile", "tarfile",
                  "lzma", "rich", "keysweep.output", "keysweep.tables")


def _console_script(repo, tmp_path, *args: str) -> tuple[int, str, str, list[str], list[str]]:
    """Run the console script's entry point in a fresh interpreter: exit status, stdout, stderr, the
    modules of NOT_FOR_A_HOOK it loaded, and the provider modules it loaded."""
    loaded = tmp_path / "loaded.json"
    probe = ("import atexit, json, sys\n"
             f"sys.argv = ['keysweep', {', '.join(map(repr, args))}]\n"
             "from keysweep.providers import MODULES\n"
             "def dump():\n"
             f"    with open({str(loaded)!r}, 'w') as fh:\n"
             f"        json.dump([[m for m in {NOT_FOR_A_HOOK!r} if m in sys.modules],\n"
             "                   [m for m in MODULES if 'keysweep.providers.' + m in sys.modules]], fh)\n"
             "atexit.register(dump)\n"
             "from keysweep.launcher import main\n"
             "main()\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=repo.path, capture_output=True, text=True,
                            timeout=60)
    heavy, providers = json.loads(loaded.read_text())
    return result.returncode, result.stdout, result.stderr, heavy, providers


def test_a_clean_commit_is_answered_without_the_cli_or_any_provider_module(make_repo, tmp_path):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    repo.write("notes.md", "nothing to see\n")
    repo.git("add", "notes.md")
    code, out, err, heavy, providers = _console_script(repo, tmp_path, "scan", "staged")
    assert (code, out, err) == (0, "", "")
    assert heavy == []
    assert providers == []


def test_a_commit_holding_a_key_is_reported_as_the_cli_reports_it_without_other_providers(make_repo, tmp_path,
                                                                                           keys):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    repo.write("deploy.env", f"GH_TOKEN={keys.github()}\n")
    repo.git("add", "deploy.env")
    code, out, err, heavy, providers = _console_script(repo, tmp_path, "scan", "staged")
    assert code == 1
    assert heavy == []
    assert providers == ["github"]  # the finding's only
    # The same command given an option (its default value) goes through the CLI: the same report.
    via_cli = _console_script(repo, tmp_path, "scan", "staged", "--format", "table")
    assert via_cli[:3] == (code, out, err)
    assert "click" in via_cli[3]
    assert "github.classic-pat" in out
    assert "this commit would add a credential" in err


def test_a_staged_scan_that_fails_reports_through_the_cli(tmp_path):
    """Outside a repository the console script's own attempt fails before printing anything, and the
    CLI says so in its one line (exit 2), once."""
    outside = tmp_path / "not-a-repo"
    outside.mkdir()

    class Where:
        path = outside

    code, out, err, heavy, _ = _console_script(Where, tmp_path, "scan", "staged")
    assert code == 2
    assert out == ""
    assert err.startswith("keysweep: error: ") and err.count("\n") == 1
    assert "click" in heavy
