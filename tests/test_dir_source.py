"""`keysweep scan dir`: regular files under a root; no .git/, no binaries, no oversized files, no
symbolic links (so nothing outside the root); an unreadable file is reported, not fatal."""

from __future__ import annotations

import os

import pytest

from keysweep.scanner.sources import directory as directory_module
from tests.conftest import find_secret


def scan_dir(run, path, *extra: str) -> list[dict]:
    result = run("scan", "dir", path, "--no-store", "--format", "json", *extra)
    assert result.code in (0, 1), result
    assert result.code == (1 if result.json() else 0), result
    return result.json()


def test_finds_keys_with_relative_path_and_line(run, tmp_path, keys):
    root = tmp_path / "project"
    (root / "src/app").mkdir(parents=True)
    key, other = keys.openai_project(), keys.github()
    (root / "src/app/settings.py").write_text(f"import os\n\nOPENAI_API_KEY = '{key}'\n")
    (root / "deploy.sh").write_text(f"#!/bin/sh\n# deploy\n\n\nexport GH={other}\n")

    findings = scan_dir(run, root)
    assert len(findings) == 2
    occurrence = find_secret(findings, key)["occurrences"][0]
    assert {k: occurrence[k] for k in ("source", "path", "line", "commit", "author_email", "committed_at")} == {
        "source": "dir", "path": "src/app/settings.py", "line": 3, "commit": None, "author_email": None,
        "committed_at": None}
    assert [(o["path"], o["line"]) for o in find_secret(findings, other)["occurrences"]] == [("deploy.sh", 5)]


def test_a_single_file_can_be_scanned(run, tmp_path, keys):
    key = keys.anthropic()
    target = tmp_path / "one.env"
    target.write_text(f"\nANTHROPIC_API_KEY={key}\n")
    [finding] = scan_dir(run, target)
    assert [(o["path"], o["line"]) for o in finding["occurrences"]] == [("one.env", 2)]


def test_skips_git_binaries_and_oversized_files(run, tmp_path, keys, make_repo):
    repo = make_repo("project")
    visible = keys.huggingface()
    repo.commit("Add", {"notes.txt": f"HF_TOKEN={visible}\n"})
    (repo.path / ".git" / "leaked-into-git-dir.txt").write_text(f"key={keys.openai_project()}\n")
    (repo.path / "image.bin").write_bytes(b"\x00\x01\x02" + f"{keys.anthropic()}".encode() + b"\x00")
    (repo.path / "big.env").write_text("#\n" * 2000 + f"KEY={keys.google_api_key()}\n")

    result = run("scan", "dir", repo.path, "--no-store", "--max-size", "3000")
    assert result.code == 1, result
    assert "1 binary skipped" in result.stdout
    assert "1 over size limit skipped" in result.stdout

    findings = scan_dir(run, repo.path, "--max-size", "3000")
    assert [f["secret_sha256"] for f in findings] == [find_secret(findings, visible)["secret_sha256"]]
    # Without the size limit the big file is read; .git/ and the binary stay out.
    assert len(scan_dir(run, repo.path)) == 2


def test_does_not_follow_symlinks_out_of_the_root(run, tmp_path, keys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.env").write_text(f"KEY={keys.openai_project()}\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link-to-file.env").symlink_to(outside / "secret.env")
    (root / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    inside = keys.github()
    (root / "real.txt").write_text(f"token={inside}\n")

    findings = scan_dir(run, root)
    assert [f["secret_sha256"] for f in findings] == [find_secret(findings, inside)["secret_sha256"]]
    assert [o["path"] for o in findings[0]["occurrences"]] == ["real.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file_is_reported_not_fatal(run, tmp_path, keys):
    root = tmp_path / "root"
    root.mkdir()
    locked = root / "locked.env"
    locked.write_text(f"KEY={keys.openai_project()}\n")
    locked.chmod(0)
    key = keys.github()
    (root / "open.txt").write_text(f"token={key}\n")
    try:
        result = run("scan", "dir", root, "--no-store", "--format", "json")
    finally:
        locked.chmod(0o600)
    assert result.code == 1, result
    find_secret(result.json(), key)
    assert "locked.env" in result.stderr and "Permission denied" in result.stderr


def test_unreadable_file_is_reported_not_fatal_simulated(run, tmp_path, keys, monkeypatch):
    """The same contract where chmod cannot make a file unreadable (root): opening it fails."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "locked.env").write_text(f"KEY={keys.openai_project()}\n")
    key = keys.github()
    (root / "open.txt").write_text(f"token={key}\n")
    real_read = directory_module.read_bytes

    def refusing_read(path, *args, **kwargs):
        if str(path).endswith("locked.env"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(directory_module, "read_bytes", refusing_read)
    result = run("scan", "dir", root, "--no-store", "--format", "json")
    assert result.code == 1, result
    find_secret(result.json(), key)
    warning = [line for line in result.stderr.splitlines() if "locked.env" in line]
    assert warning == [f"keysweep: warning: {root / 'locked.env'}: Permission denied"]

    table = run("scan", "dir", root, "--no-store")
    assert table.code == 1 and "locked.env: Permission denied" in table.stdout


def test_nonexistent_path_is_an_input_error(run, tmp_path):
    result = run("scan", "dir", tmp_path / "missing")
    assert result.code == 2
    assert result.stderr == f"keysweep: error: {tmp_path / 'missing'}: no such file or directory\n"


def test_a_fixed_file_is_no_longer_reported_by_the_next_dir_scan(run, tmp_path, keys):
    """A directory scan reports what is in the directory now, even with a store that remembers more."""
    root = tmp_path / "root"
    root.mkdir()
    db = tmp_path / "store.db"
    target = root / "settings.py"
    target.write_text(f"KEY = '{keys.openai_project()}'\n")
    assert run("scan", "dir", root, "--db", db, "--format", "json").code == 1
    target.write_text("KEY = os.environ['OPENAI_API_KEY']\n")
    after = run("scan", "dir", root, "--db", db, "--format", "json")
    assert (after.code, after.json()) == (0, []), after


def test_dir_scan_of_a_work_tree_does_not_report_its_git_history(run, make_repo, keys, tmp_path):
    """`scan git` and `scan dir` of one path share a store: history findings stay with `scan git`."""
    repo = make_repo()
    deleted, current = keys.openai_project(), keys.huggingface()
    repo.commit("Add", {"old.env": f"K={deleted}\n", "now.txt": f"HF={current}\n"})
    repo.commit("Remove", delete=["old.env"])
    db = tmp_path / "store.db"
    assert len(run("scan", "git", repo.path, "--db", db, "--format", "json").json()) == 2

    result = run("scan", "dir", repo.path, "--db", db, "--format", "json")
    assert result.code == 1, result
    findings = result.json()
    assert [f["secret_sha256"] for f in findings] == [find_secret(findings, current)["secret_sha256"]]
    assert {o["source"] for o in findings[0]["occurrences"]} >= {"dir"}


def test_a_key_found_inside_base64_says_so_in_its_locator(run, tmp_path, keys):
    import base64

    key = keys.openai_project()
    encoded = base64.b64encode(f"OPENAI_API_KEY={key}\n".encode()).decode()
    (tmp_path / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: agent\ndata:\n  env: {encoded}\n")
    (tmp_path / "plain.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")

    findings = scan_dir(run, tmp_path)
    encoded_place = find_secret(findings, key)["occurrences"][0]
    assert (encoded_place["path"], encoded_place["line"]) == ("secret.yaml", 6)
    assert encoded_place["locator"]["decoded_from"] == "base64"
    plain = next(f for f in findings if f["occurrences"][0]["path"] == "plain.env")
    assert "decoded_from" not in plain["occurrences"][0]["locator"]
