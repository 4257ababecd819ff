"""The test suite writes only inside its temporary directories (issue 10: it used to leave the rules
and Hyperscan caches in the real ~/.cache/keysweep)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import HOME_WRITES, REAL_HOME, SESSION_HOME

PATHS_SCRIPT = """
import json, os
from pathlib import Path
from keysweep import store
from keysweep.scanner import engine, remote, rules
print(json.dumps({
    "home": str(Path.home()),
    "expanduser": os.path.expanduser("~"),
    "store": str(store.default_db_path()),
    "hyperscan_cache": str(engine.cache_dir()),
    "rules_cache": str(rules._rules_cache_path(rules.rule_files([])) or ""),
    "repo_cache": str(remote.default_cache_dir()),
}))
"""


def _inside(path: str, root: Path) -> bool:
    resolved = Path(path).resolve()
    return resolved == root or root in resolved.parents


def test_every_path_keysweep_writes_is_in_the_session_dir_also_in_a_subprocess(tmp_path_factory):
    temp_roots = (SESSION_HOME, tmp_path_factory.getbasetemp().resolve())
    assert not any(_inside(str(root), REAL_HOME) for root in temp_roots)
    for name in ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "KEYSWEEP_DB"):
        assert any(_inside(os.environ[name], root) for root in temp_roots), name
    result = subprocess.run([sys.executable, "-c", PATHS_SCRIPT], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    paths = json.loads(result.stdout)
    for name, path in paths.items():
        assert path, name
        assert not _inside(path, REAL_HOME), f"{name}: {path} is under the real home"
        assert any(_inside(path, root) for root in temp_roots), (name, path)


def test_a_real_scan_writes_its_store_and_caches_inside_the_session(run_process, tmp_path, keys, session_cache):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    before = len(HOME_WRITES)
    result = run_process("scan", "dir", project, "--format", "json")
    assert result.code == 1, result
    assert Path(os.environ["KEYSWEEP_DB"]).is_file()  # the default store: this test's own
    assert list((session_cache / "keysweep").glob("rules-*")), "the rules cache is shared by the session"
    assert len(HOME_WRITES) == before


def test_the_home_write_guard_notices_a_write_under_the_real_home():
    """The guard must be able to fail: a write attempt under the real home (into a directory that
    does not exist, so nothing is created) is recorded."""
    probe = REAL_HOME / f"keysweep-isolation-probe-{uuid.uuid4().hex}" / "probe"
    before = len(HOME_WRITES)
    try:
        open(probe, "w").close()
    except FileNotFoundError:
        pass
    try:
        assert HOME_WRITES[before:] == [f"open {probe}"]
    finally:
        del HOME_WRITES[before:]  # the probe itself must not fail the session
    assert not probe.parent.exists()


def test_no_test_so_far_wrote_under_the_real_home():
    assert HOME_WRITES == []
