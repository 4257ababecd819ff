"""The pre-commit recipe of docs/usage.md for check-jsonschema users, run as written: its shell
commands save `keysweep schema config|owners|policy`, and each hook's `files` and `args` are run with
check-jsonschema's own command line (what pre-commit runs) on the starter files `keysweep init`
writes (accepted) and on broken ones (refused, naming the key). TOML is read by check-jsonschema
itself; nothing is fetched."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import KEYSWEEP_BIN, PROJECT

USAGE = (PROJECT / "docs" / "usage.md").read_text()
CHECK = Path(sys.executable).parent / "check-jsonschema"


def recipe() -> tuple[str, list[dict]]:
    """(the sh block that saves the schemas, the hooks of the YAML block) after the check-jsonschema paragraph."""
    section = USAGE[USAGE.index("To check configuration files in pre-commit with [check-jsonschema]"):]
    shell = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    config = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    [repo] = config["repos"]
    assert repo["repo"] == "https://github.com/python-jsonschema/check-jsonschema"
    return shell, repo["hooks"]


def check(hook: dict, folder: Path, *files: str) -> subprocess.CompletedProcess:
    assert hook["id"] == "check-jsonschema"
    matching = [name for name in files if re.search(hook["files"], name)]
    assert matching == list(files), (hook["files"], files)
    return subprocess.run([str(CHECK), *hook["args"], *files], cwd=folder, capture_output=True, text=True, timeout=120)


def test_the_documented_hooks_accept_the_starter_files_and_refuse_broken_ones(run, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    assert run("init", repo).code == 0
    shell, hooks = recipe()
    env = {**os.environ, "PATH": f"{KEYSWEEP_BIN.parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(PROJECT)}
    saved = subprocess.run(["bash", "-eo", "pipefail", "-c", shell], cwd=repo, env=env, capture_output=True, text=True,
                           timeout=120)
    assert saved.returncode == 0, saved.stderr
    by_file = {hook["name"]: hook for hook in hooks}
    assert set(by_file) == {"keysweep.toml", "keysweep-owners.toml", "keysweep-policy.toml"}
    for name, hook in by_file.items():
        accepted = check(hook, repo, name)
        assert accepted.returncode == 0, (name, accepted.stdout, accepted.stderr)

    (repo / "keysweep.toml").write_text("[verify]\ntimeout = 0\n\n[sourcez]\n")
    refused = check(by_file["keysweep.toml"], repo, "keysweep.toml")
    assert refused.returncode == 1, refused.stdout
    assert "$.verify.timeout" in refused.stdout and "'sourcez' was unexpected" in refused.stdout
    (repo / "keysweep-owners.toml").write_text('[[owner]]\nname = "payments"\nconfidence = "high"\n')
    owners = check(by_file["keysweep-owners.toml"], repo, "keysweep-owners.toml")
    assert owners.returncode == 1 and "$.owner[0].confidence" in owners.stdout, owners.stdout
    (repo / "keysweep-policy.toml").write_text('default = "sometimes"\n')
    policy = check(by_file["keysweep-policy.toml"], repo, "keysweep-policy.toml")
    assert policy.returncode == 1 and "$.default" in policy.stdout, policy.stdout
