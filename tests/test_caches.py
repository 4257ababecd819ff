"""Caches keysweep reads back cannot run code or be planted by someone else.

The parsed shipped rules are cached as JSON of plain data (never a pickle, which runs code when
loaded), keyed by a digest and checked. The Hyperscan database is native data: it and the rules cache
are loaded only from a regular file that the user owns and nobody else can write, in a directory of
the same kind. Cache directories are 0700 and files 0600 whatever the umask.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from keysweep import cache
from keysweep.scanner import rules as rules_module
from keysweep.scanner.engine import Engine, hyperscan_available
from keysweep.scanner.rules import default_rules_dir, load_rules, rule_files
from tests.conftest import KEYSWEEP_BIN


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    base = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    return base / "keysweep"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_rules_cache_is_plain_json_and_reads_back_the_same_rules(fresh_cache):
    parsed = load_rules(validate_shipped=True)  # always parses the files (and caches them)
    first = load_rules()
    [cached_file] = fresh_cache.glob("rules-*")
    assert cached_file.suffix == ".json"
    record = json.loads(cached_file.read_bytes())
    assert record["key"] == cached_file.stem and len(record["rules"]) == len(parsed)
    assert load_rules() == first == parsed  # read back from the cache
    assert [r.allowlists for r in load_rules()] == [r.allowlists for r in parsed]


def test_a_pickle_where_the_cache_was_is_never_loaded(fresh_cache, monkeypatch):
    """An old-style (or planted) pickle runs code when unpickled: keysweep never unpickles."""
    import pickle

    load_rules()
    [cached_file] = fresh_cache.glob("rules-*.json")
    marker = fresh_cache / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    cached_file.write_bytes(pickle.dumps([Payload()]))
    cached_file.with_suffix(".pickle").write_bytes(pickle.dumps([Payload()]))
    assert len(load_rules()) == len(load_rules(validate_shipped=True))  # parsed again instead
    assert not marker.exists()


def test_a_cache_record_for_other_files_or_of_another_shape_is_ignored(fresh_cache):
    load_rules()
    [cached_file] = fresh_cache.glob("rules-*.json")
    record = json.loads(cached_file.read_bytes())
    shipped = rule_files([default_rules_dir()])

    record["rules"][0]["regex"] = 42
    cached_file.write_text(json.dumps(record))
    assert rules_module._cached_rules(shipped) is None

    record = json.loads(json.dumps(record))
    record["key"] = "rules-0000"
    cached_file.write_text(json.dumps(record))
    assert rules_module._cached_rules(shipped) is None


def test_a_cache_file_others_can_write_is_not_loaded(fresh_cache):
    load_rules()
    [cached_file] = fresh_cache.glob("rules-*.json")
    shipped = rule_files([default_rules_dir()])
    assert rules_module._cached_rules(shipped) is not None

    os.chmod(cached_file, 0o620)  # group-writable
    assert rules_module._cached_rules(shipped) is None
    os.chmod(cached_file, 0o600)
    os.chmod(fresh_cache, 0o777)  # anyone could have swapped the file
    assert rules_module._cached_rules(shipped) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_cache_file_owned_by_someone_else_is_not_loaded(fresh_cache):
    load_rules()
    [cached_file] = fresh_cache.glob("rules-*.json")
    os.chown(cached_file, 65534, 65534)
    assert rules_module._cached_rules(rule_files([default_rules_dir()])) is None


def test_a_link_in_the_cache_is_not_followed(fresh_cache, tmp_path):
    load_rules()
    [cached_file] = fresh_cache.glob("rules-*.json")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(cached_file.read_bytes())
    os.chmod(elsewhere, 0o600)
    cached_file.unlink()
    cached_file.symlink_to(elsewhere)
    assert rules_module._cached_rules(rule_files([default_rules_dir()])) is None


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan is not installed")
def test_hyperscan_database_is_loaded_only_when_private(fresh_cache, monkeypatch):
    import hyperscan

    rules = load_rules()[:8]  # any rules: a small database compiles in a fraction of the whole set's time
    Engine(rules, backend="hyperscan")
    [db] = fresh_cache.glob("hs-*.db")
    assert mode(db) == 0o600

    loads: list[int] = []
    real_loadb = hyperscan.loadb

    def counting_loadb(data, *args):
        loads.append(len(data))
        return real_loadb(data, *args)

    monkeypatch.setattr(hyperscan, "loadb", counting_loadb)
    Engine(rules, backend="hyperscan")
    assert len(loads) == 1  # ours and private: loaded

    os.chmod(db, 0o666)
    Engine(rules, backend="hyperscan")
    assert len(loads) == 1  # others could have written it: compiled afresh, never deserialised
    assert mode(db) == 0o600  # and replaced by a private one


def test_caches_are_private_whatever_the_umask(tmp_path, keys):
    base = tmp_path / "cache"
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(base)}
    for engine in ("regex", "hyperscan") if hyperscan_available() else ("regex",):
        result = subprocess.run([str(KEYSWEEP_BIN), "scan", "dir", str(project), "--no-store", "--engine", engine],
                                env=env, capture_output=True, timeout=120, preexec_fn=lambda: os.umask(0))
        assert result.returncode == 1, result.stderr
    directory = base / "keysweep"
    assert mode(directory) == 0o700
    written = [p for p in directory.iterdir()]
    assert written and all(mode(p) == 0o600 for p in written), [(p.name, oct(mode(p))) for p in written]


def test_an_existing_loose_cache_directory_is_tightened(fresh_cache):
    fresh_cache.mkdir(parents=True)
    os.chmod(fresh_cache, 0o755)  # as an older keysweep left it under the default umask
    load_rules()
    assert mode(fresh_cache) == 0o700
    assert cache.read_trusted(next(fresh_cache.glob("rules-*.json"))) is not None
