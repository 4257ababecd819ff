"""The server-side recipe (examples/git-hooks/pre-receive, docs/ci.md): installed as the real
pre-receive hook of a bare repository, real `git push`es to it. A push that adds a key is refused
(the ref does not move and the pushed objects leave with the quarantine); a clean one is accepted; a
new branch reads only the commits new to the repository (not history the server already held before
the hook was installed); a deletion is accepted; a scan that cannot complete refuses the push unless
told to accept it. keysweep runs with git's quarantine environment and reads the pushed objects there."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYSWEEP_BIN, PROJECT, git

HOOK = PROJECT / "examples" / "git-hooks" / "pre-receive"


@pytest.fixture
def server(tmp_path, make_repo, keys):
    """A bare repository that already holds a key on main (pushed before the hook was installed), the
    hook then installed, and a clone to push from. keysweep is found through $KEYSWEEP, a wrapper
    that notes git's quarantine variables before running it."""
    bare = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    work = make_repo()
    old = keys.github()
    work.commit("Initial", {"README.md": "# app\n", "old.sh": f"export GH={old}\n"})
    git(Path(work.path), "push", "-q", str(bare), "main")
    shutil.copy(HOOK, bare / "hooks" / "pre-receive")
    (bare / "hooks" / "pre-receive").chmod(0o755)
    seen = tmp_path / "quarantine.log"
    wrapper = tmp_path / "keysweep-wrapper"
    wrapper.write_text(f"""#!/bin/sh
echo "quarantine=${{GIT_QUARANTINE_PATH:-}} objects=${{GIT_OBJECT_DIRECTORY:-}} alternates=${{GIT_ALTERNATE_OBJECT_DIRECTORIES:-}}" >> "{seen}"
exec "{KEYSWEEP_BIN}" "$@"
""")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return dict(bare=bare, work=work, old=old, seen=seen, wrapper=wrapper)


def push(s: dict, *refspecs: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "KEYSWEEP": str(s["wrapper"]), "PYTHONPATH": str(PROJECT), **env}
    return subprocess.run(["git", "push", str(s["bare"]), *refspecs], cwd=s["work"].path, capture_output=True,
                          text=True, env=full_env, timeout=300)


def server_has(s: dict, sha: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=s["bare"], capture_output=True).returncode == 0


def assert_no_value(text: str, secret: str, shown_prefix: str = "sk-ant-") -> None:
    """No 8-character run of the value past the prefix its redacted form shows."""
    body = secret[len(shown_prefix):]
    runs = [body[i:i + 8] for i in range(len(body) - 7) if body[i:i + 8] in text]
    assert not runs, f"{len(runs)} run(s) of the secret reached the pusher, the first at {text.index(runs[0])}"


def test_a_push_that_adds_a_key_is_refused_and_its_objects_dropped(server, keys):
    s = server
    leak = keys.anthropic()
    before = git(s["bare"], "rev-parse", "main")
    bad = s["work"].commit("Add the agent", {"agent/config.py": f"KEY = '{leak}'\n"})
    result = push(s, "main")
    assert result.returncode != 0, result.stderr
    assert "pre-receive hook declined" in result.stderr
    assert "refs/heads/main: the pushed commits add the credential(s) above: push refused" in result.stderr
    assert "anthropic.api-key" in result.stderr  # keysweep's table, relayed as remote: lines
    assert_no_value(result.stderr + result.stdout, leak)
    assert git(s["bare"], "rev-parse", "main") == before
    assert not server_has(s, bad)  # read from the quarantine, deleted with it
    quarantine = s["seen"].read_text().splitlines()[-1]
    assert "quarantine=/" in quarantine and "objects=/" in quarantine and "alternates=/" in quarantine
    assert "incoming" in quarantine  # git's quarantine directory (objects/tmp_objdir-incoming-…)


def test_a_clean_push_is_accepted_though_the_history_holds_a_key(server):
    s = server
    clean = s["work"].commit("Docs", {"README.md": "# app\nmore\n"})
    result = push(s, "main")
    assert result.returncode == 0, result.stderr
    assert git(s["bare"], "rev-parse", "main") == clean


def test_a_new_branch_reads_only_its_new_commits(server, keys):
    """OLD is zeros; the branch starts from main, whose old key the server already holds."""
    s = server
    s["work"].git("checkout", "-q", "-b", "feature")
    s["work"].commit("Feature", {"feature.py": "print('hello')\n"})
    assert push(s, "feature").returncode == 0
    s["work"].git("checkout", "-q", "-b", "feature-2", "main")
    leak = keys.openai_project()
    bad = s["work"].commit("Feature 2", {"f2.env": f"OPENAI_API_KEY={leak}\n"})
    refused = push(s, "feature-2")
    assert refused.returncode != 0 and "refs/heads/feature-2" in refused.stderr
    assert "openai.project-key" in refused.stderr and "github.classic-pat" not in refused.stderr
    assert not server_has(s, bad)


def test_one_bad_ref_refuses_the_whole_push_and_a_deletion_is_accepted(server, keys):
    s = server
    s["work"].git("checkout", "-q", "-b", "doomed")
    s["work"].commit("Doomed", {"doomed.txt": "x\n"})
    assert push(s, "doomed").returncode == 0
    s["work"].git("checkout", "-q", "main")
    s["work"].commit("Fine", {"fine.txt": "fine\n"})
    s["work"].git("checkout", "-q", "-b", "leaky")
    s["work"].commit("Leaky", {"k.sh": f"export GH={keys.github()}\n"})
    both = push(s, "main", "leaky")
    assert both.returncode != 0
    assert git(s["bare"], "for-each-ref", "--format=%(refname)", "refs/heads/") == "refs/heads/doomed\nrefs/heads/main"
    assert git(s["bare"], "rev-parse", "main") != s["work"].git("rev-parse", "main")
    deleted = push(s, ":doomed")  # NEW is zeros
    assert deleted.returncode == 0, deleted.stderr
    assert "doomed" not in git(s["bare"], "for-each-ref", "--format=%(refname)")


def test_a_scan_that_cannot_complete_refuses_unless_told_to_accept(server, tmp_path):
    s = server
    broken = tmp_path / "broken-keysweep"
    broken.write_text("#!/bin/sh\necho 'keysweep: error: something went wrong' >&2\nexit 2\n")
    broken.chmod(0o755)
    s["work"].commit("Docs", {"README.md": "# app\nagain\n"})
    refused = push(s, "main", KEYSWEEP=str(broken))
    assert refused.returncode != 0
    assert "the scan did not complete (exit status 2): push refused" in refused.stderr
    accepted = push(s, "main", KEYSWEEP=str(broken), KEYSWEEP_HOOK_ON_ERROR="accept")
    assert accepted.returncode == 0, accepted.stderr
    assert "push accepted" in accepted.stderr


def test_a_tag_is_scanned_by_the_commit_it_names(server, keys):
    s = server
    leak = keys.anthropic()
    tagged = s["work"].commit("Release", {"release.py": f"KEY = '{leak}'\n"})
    s["work"].git("tag", "-a", "v1", "-m", "v1", tagged)
    refused = push(s, "refs/tags/v1")
    assert refused.returncode != 0 and "refs/tags/v1" in refused.stderr
    assert not server_has(s, tagged)


def test_extra_options_reach_the_scan(server, keys, tmp_path, run):
    """KEYSWEEP_HOOK_ARGS: a baseline lets a known secret through."""
    s = server
    key = keys.openai_project()
    s["work"].commit("Known", {"known.env": f"OPENAI_API_KEY={key}\n"})
    db = tmp_path / "known.db"
    assert run("scan", "git", s["work"].path, "--db", db, "--format", "json").code == 1
    baseline = tmp_path / "baseline.json"
    assert run("baseline", "create", "--db", db, "-o", baseline).code == 0
    assert push(s, "main").returncode != 0
    result = push(s, "main", KEYSWEEP_HOOK_ARGS=f"--baseline {baseline}")
    assert result.returncode == 0, result.stderr
    assert "(baselined)" in result.stderr  # still listed to the pusher, marked known
