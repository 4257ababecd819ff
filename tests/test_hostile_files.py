"""Files a scanned repository controls cannot hang, exhaust or blind the scanner.

`.keysweepignore`, CODEOWNERS and the files `scan dir` walks are written by whoever wrote the
repository. Each test plants a trap (a FIFO, a link to /dev/zero, a huge file, a link out of the
tree) next to a real key and checks that the run ends quickly, says what it skipped on stderr, and
still reports the key. The CLI runs in a subprocess with a time limit and an address-space limit,
so a regression fails the test instead of hanging it or eating the machine's memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from keysweep.fingerprint import finding_id
from keysweep.safefs import RefusedFile, read_bytes, read_text_or_warn
from tests.conftest import KEYSWEEP_BIN, Run, find_secret, validate_findings_output

TIME_LIMIT = 30  # seconds; each of these runs takes about one
MEMORY_LIMIT = 2 * 1024 ** 3  # address space: reading /dev/zero whole would pass it quickly


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def keysweep(*args, cwd: Path | None = None) -> tuple[Run, float]:
    started = time.monotonic()
    result = subprocess.run([str(KEYSWEEP_BIN), *map(str, args)], cwd=cwd, capture_output=True,
                            timeout=TIME_LIMIT, preexec_fn=_limit_memory, stdin=subprocess.DEVNULL)
    validate_findings_output([str(a) for a in args], result.stdout.decode("utf-8", "replace"), cwd)
    return (Run(result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")),
            time.monotonic() - started)


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ignore_line_for(secret: str, provider: str) -> str:
    return finding_id(provider, sha(secret)) + "\n"


def warnings(result: Run) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("keysweep: warning: ")]


# -- .keysweepignore -----------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["dir", "git"])
def test_ignore_file_linked_to_dev_zero_is_skipped_with_a_warning(make_repo, keys, source):
    repo = make_repo()
    key = keys.openai_project()
    repo.write("app.env", f"OPENAI_API_KEY={key}\n")
    os.symlink("/dev/zero", repo.path / ".keysweepignore")
    repo.commit("Committed an ignore file that never ends")  # git stores the link, mode 120000

    result, took = keysweep("scan", source, repo.path, "--no-store", "--format", "json", cwd=repo.path)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(key)]
    assert any(".keysweepignore" in w and "symbolic link" in w for w in warnings(result)), result
    assert took < TIME_LIMIT


def test_ignore_file_that_is_a_fifo_does_not_hang_the_scan(tmp_path, keys):
    root = tmp_path / "project"
    root.mkdir()
    key = keys.anthropic()
    (root / "settings.py").write_text(f"ANTHROPIC_API_KEY = '{key}'\n")
    os.mkfifo(root / ".keysweepignore")

    result, _ = keysweep("scan", "dir", root, "--no-store", "--format", "json", cwd=tmp_path)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(key)]
    assert any("ignore file" in w and "FIFO" in w for w in warnings(result)), result


def test_oversized_ignore_file_is_skipped_and_its_entries_do_not_apply(tmp_path, keys):
    root = tmp_path / "project"
    root.mkdir()
    key = keys.huggingface()
    (root / "notes.txt").write_text(f"HF_TOKEN={key}\n")
    # The entry that would hide the key comes first; the padding makes the file 2 MB.
    (root / ".keysweepignore").write_text(ignore_line_for(key, "huggingface") + "# padding\n" * 200_000)

    result, _ = keysweep("scan", "dir", root, "--no-store", "--format", "json", cwd=tmp_path)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(key)]
    assert any("ignore file" in w and "larger than" in w for w in warnings(result)), result


def test_ignore_file_linked_out_of_the_tree_is_not_followed(tmp_path, keys):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    root = tmp_path / "project"
    root.mkdir()
    key = keys.github()
    (root / "deploy.sh").write_text(f"export GH={key}\n")
    (outside / "ignore").write_text(ignore_line_for(key, "github"))
    os.symlink(outside / "ignore", root / ".keysweepignore")

    result, _ = keysweep("scan", "dir", root, "--no-store", "--format", "json", cwd=tmp_path)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(key)]
    assert any("leading outside" in w for w in warnings(result)), result


def test_ignore_file_linked_inside_the_tree_is_honoured(tmp_path, keys):
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    key, kept = keys.github(), keys.anthropic()
    (root / "deploy.sh").write_text(f"export GH={key}\nANTHROPIC_API_KEY={kept}\n")
    (root / "config" / "ignore").write_text(ignore_line_for(key, "github"))
    os.symlink("config/ignore", root / ".keysweepignore")

    result, _ = keysweep("scan", "dir", root, "--no-store", "--format", "json", cwd=tmp_path)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in json.loads(result.stdout)] == [sha(kept)]
    assert warnings(result) == []


# -- scan dir ------------------------------------------------------------------------------------
def test_fifo_and_device_link_in_scanned_dir_are_skipped(tmp_path, keys):
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    key = keys.openai_project()
    (root / "sub" / "app.env").write_text(f"OPENAI_API_KEY={key}\n")
    os.mkfifo(root / "a-pipe.env")
    os.symlink("/dev/zero", root / "zero.env")
    os.symlink("/etc/hostname", root / "outside.env")

    result, _ = keysweep("scan", "dir", root, "--no-store", "--format", "json", cwd=tmp_path)
    assert result.code == 1, result
    findings = json.loads(result.stdout)
    assert [o["path"] for o in find_secret(findings, key)["occurrences"]] == ["sub/app.env"]
    assert warnings(result) == ["keysweep: warning: a-pipe.env: a FIFO, not scanned"]


def test_dir_source_refuses_a_file_swapped_for_a_fifo_after_the_check(tmp_path, monkeypatch):
    """lstat says regular, then the name becomes a FIFO: the open must not block."""
    from keysweep.models import ScanStats
    from keysweep.scanner.sources import directory

    root = tmp_path / "project"
    root.mkdir()
    target = root / "swapped.env"
    target.write_text("x\n")
    real_read = directory.read_bytes

    def swap_then_read(path, limit):
        os.unlink(path)
        os.mkfifo(path)
        return real_read(path, limit)

    monkeypatch.setattr(directory, "read_bytes", swap_then_read)
    stats = ScanStats()
    assert list(directory.DirectorySource(root).blobs(stats)) == []
    assert stats.warnings == ["swapped.env: a FIFO, not a regular file, not scanned"]


# -- safefs itself -------------------------------------------------------------------------------
def test_read_bytes_refuses_devices_even_when_named_directly():
    with pytest.raises(RefusedFile, match="character device"):
        read_bytes("/dev/zero", follow_symlinks=True)


def test_read_bytes_refuses_a_link_through_a_directory_out_of_the_root(tmp_path):
    """`.github -> /elsewhere` leads outside as surely as a final link does."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "CODEOWNERS").write_text("* @attacker\n")
    root = tmp_path / "repo"
    root.mkdir()
    os.symlink(outside, root / ".github")
    with pytest.raises(RefusedFile, match="outside"):
        read_bytes(root / ".github" / "CODEOWNERS", root=root)


def test_read_text_or_warn_escapes_control_characters_in_the_warning(tmp_path, capsys):
    root = tmp_path / "r"
    root.mkdir()
    hostile = root / "\x1b[2Jevil"
    os.mkfifo(hostile)
    assert read_text_or_warn(hostile, "ignore file", root=root) is None
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[2Jevil" in err
    assert err.count("\n") == 1


# -- CODEOWNERS and configuration ----------------------------------------------------------------
def test_codeowners_in_working_tree_linked_to_dev_zero_is_skipped(tmp_path, capsys):
    from keysweep.models import Occurrence
    from keysweep.owners import repo as repo_owners

    root = tmp_path / "tree"
    (root / ".github").mkdir(parents=True)
    os.symlink("/dev/zero", root / ".github" / "CODEOWNERS")
    (root / "CODEOWNERS").write_text("* @real-owner\n")

    class Context:
        cache: dict = {}

    occurrence = Occurrence(source="dir", path="app.env", line=1, locator={"root": str(root), "path": "app.env"})
    found = repo_owners.codeowners_at(Context(), occurrence)
    # The link is skipped with a warning; the next file in GitHub's order is used.
    assert found is not None and found[1] == "CODEOWNERS"
    assert [r.owners for r in found[2]] == [("@real-owner",)]
    assert "CODEOWNERS" in capsys.readouterr().err


@pytest.mark.parametrize("loader", ["settings", "policy", "owners"])
def test_configuration_file_that_is_a_fifo_is_a_one_line_error(tmp_path, monkeypatch, loader):
    from keysweep.errors import KeysweepError

    monkeypatch.chdir(tmp_path)
    name = {"settings": "keysweep.toml", "policy": "keysweep-policy.toml", "owners": "keysweep-owners.toml"}[loader]
    os.mkfifo(tmp_path / name)
    with pytest.raises(KeysweepError, match="FIFO"):
        if loader == "settings":
            from keysweep.settings import load_settings

            load_settings()
        elif loader == "policy":
            from keysweep.remediation.policy import load

            load(None)
        else:
            from keysweep.owners.ownersfile import load_owner_rules

            load_owner_rules(str(tmp_path / name))
