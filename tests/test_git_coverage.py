"""`scan git` says what it could not scan: a submodule (another repository), the history beyond a
shallow clone's boundary, and any object git cannot read. A corrupt object is named, every other
object is still scanned, and --fail-on-error makes the run exit 3."""

from __future__ import annotations

import hashlib
import json
import os

from tests.conftest import git


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("keysweep: warning: ")]


def scan(run, path, *extra):
    return run("scan", "git", path, "--no-store", "--format", "json", *extra)


def test_submodule_is_named_with_how_to_scan_it(run, make_repo, keys, tmp_path):
    lib = make_repo("lib")
    lib.commit("Lib", {"lib.env": f"HF_TOKEN={keys.huggingface()}\n"})
    app = make_repo("app")
    key = keys.openai_project()
    app.commit("App", {"app.env": f"OPENAI_API_KEY={key}\n"})
    app.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib.path), "vendor/lib")
    app.commit("Add submodule")
    lib_commit = lib.git("rev-parse", "HEAD")

    result = scan(run, app.path)
    assert result.code == 1, result
    assert [f["secret_sha256"] for f in result.json()] == [sha(key)]  # the submodule's key is not in this repo
    [warning] = warnings(result)
    assert f"submodule vendor/lib (commit {lib_commit[:12]})" in warning
    assert f"run keysweep scan git {app.path / 'vendor/lib'}" in warning

    # A clone that has not initialised it is told how to fetch it first.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(app.path), str(clone))
    [warning] = warnings(scan(run, clone))
    assert "git submodule update --init -- vendor/lib, then keysweep scan git" in warning


def test_shallow_clone_names_the_boundary(run, make_repo, keys, tmp_path):
    origin = make_repo("origin")
    old_key, new_key = keys.anthropic(), keys.github()
    origin.commit("Old", {"old.env": f"ANTHROPIC_API_KEY={old_key}\n"})
    origin.commit("Remove", delete=["old.env"])
    origin.commit("New", {"new.sh": f"export GH={new_key}\n"})
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin.path}", str(clone))
    boundary = git(clone, "rev-parse", "HEAD")

    result = scan(run, clone)
    assert [f["secret_sha256"] for f in result.json()] == [sha(new_key)]
    assert warnings(result) == [f"keysweep: warning: shallow clone: history before {boundary[:12]} not scanned; "
                                "run git fetch --unshallow, then scan again"]
    assert warnings(scan(run, origin.path)) == []


def _truncate(repo_path, blob: str, keep: int | None) -> None:
    """Cut a loose object short: `keep` bytes, or all but its last few (header intact)."""
    path = repo_path / ".git" / "objects" / blob[:2] / blob[2:]
    data = path.read_bytes()
    os.chmod(path, 0o644)
    path.write_bytes(data[:keep] if keep is not None else data[:-6])


def test_corrupt_objects_are_named_and_the_rest_is_scanned(run, make_repo, keys):
    repo = make_repo()
    first, last = keys.openai_project(), keys.huggingface()
    repo.commit("Add", {"a.env": f"OPENAI_API_KEY={first}\n", "b.txt": "b" * 200 + "\n",
                        "c.txt": "c" * 300 + "\n", "z.env": f"HF_TOKEN={last}\n"})
    body_cut = repo.git("rev-parse", "HEAD:b.txt")  # git dies while streaming it
    header_cut = repo.git("rev-parse", "HEAD:c.txt")  # git cannot even size it
    _truncate(repo.path, body_cut, None)
    _truncate(repo.path, header_cut, 10)

    result = scan(run, repo.path)
    assert result.code == 1, result
    assert {f["secret_sha256"] for f in result.json()} == {sha(first), sha(last)}
    named = [w for w in warnings(result) if "corrupt" in w]
    assert len(named) == 2, result
    assert any(body_cut in w for w in named) and any(header_cut in w for w in named)

    strict = scan(run, repo.path, "--fail-on-error")
    assert strict.code == 3, strict
    assert {f["secret_sha256"] for f in json.loads(strict.stdout)} == {sha(first), sha(last)}
