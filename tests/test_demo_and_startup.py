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
    assert not (target / ".env").exists()


def test_scan_staged_does_not_import_heavy_libraries(make_repo):
    repo = make_repo()
    repo.commit("Initial", {"README.md": "# app\n"})
    repo.write("notes.md", "nothing secret\n")
    repo.git("add", "notes.md")
    probe = ("import sys\n"
             "sys.argv = ['keysweep', 'scan', 'staged']\n"
             "from keysweep.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = [m for m in ('rich', 'sqlite_utils', 'sqlite3', 'hyperscan', 'aiohttp', 'boto3') if m in sys.modules]\n"
             "print(json.dumps([code, heavy]))\n")
    result = subprocess.run([sys.executable, "-c", "import json\n" + probe], cwd=repo.path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    code, heavy = json.loads(result.stdout.splitlines()[-1])
    assert code == 0
    assert heavy == []
