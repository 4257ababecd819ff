"""The Dockerfile keeps the constraints docs/ci.md states, read from the file itself (no image is
built here: no container daemon runs on the machines the suite runs on): a slim Python base, a
build stage that makes keysweep's wheel, a final stage that installs that wheel and nothing built
from source — no compiler or build tools, not the checkout — and runs as an unprivileged user."""

from __future__ import annotations

import re
import shlex

from tests.conftest import PROJECT

BUILD_TOOLS = ("gcc", "g++", "cc", "make", "cmake", "build-essential", "python3-dev", "libc6-dev", "clang",
               "pkg-config", "autoconf")


def stages() -> list[list[tuple[str, str]]]:
    """Each stage's (instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", (PROJECT / "Dockerfile").read_text())
    found: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            found.append([])
        found[-1].append((instruction.upper(), arguments.strip()))
    return found


def test_two_stages_on_a_slim_python_base():
    built = stages()
    assert len(built) == 2
    for stage in built:
        assert re.fullmatch(r"python:3\.\d+-slim(\s+AS\s+\w+)?", stage[0][1], re.I), stage[0]
    build, final = built
    assert any(i == "RUN" and "pip wheel" in a and "--no-deps" in a for i, a in build)


def test_the_final_stage_installs_the_wheel_and_not_the_checkout():
    final = stages()[-1]
    copies = [a for i, a in final if i == "COPY"]
    assert copies and all(a.startswith("--from=") for a in copies), copies  # nothing from the build context
    installs = [a for i, a in final if i == "RUN" and "pip install" in a]
    assert len(installs) == 1 and re.search(r"/wheels/\*\.whl", installs[0]) and "--no-cache-dir" in installs[0]


def test_no_build_tools_in_the_final_image():
    final = stages()[-1]
    for instruction, arguments in final:
        if instruction != "RUN":
            continue
        for command in re.split(r"&&|;", arguments):
            words = shlex.split(command, comments=True)
            if words[:2] == ["apt-get", "install"]:
                assert "--no-install-recommends" in words
                packages = [w for w in words[2:] if not w.startswith("-")]
                assert packages == ["git"], packages  # scan git needs git; nothing that compiles
                assert not set(packages) & set(BUILD_TOOLS)
    assert any("rm -rf /var/lib/apt/lists/*" in a for i, a in final if i == "RUN")


def test_it_runs_as_an_unprivileged_user_with_keysweep_as_entrypoint():
    final = stages()[-1]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith("0:")
    created = next(a for i, a in final if i == "RUN" and "useradd" in a)
    uid = re.search(r"--uid (\d+)", created)
    assert uid and int(uid.group(1)) >= 1000 and users[-1] in created
    assert ("ENTRYPOINT", '["keysweep"]') in final
    assert any(i == "ENV" and a.startswith("KEYSWEEP_DB=/home/") for i, a in final)


def test_the_build_context_leaves_out_local_state():
    ignored = (PROJECT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "*.db"} <= set(ignored)
