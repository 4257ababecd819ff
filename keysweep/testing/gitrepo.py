"""Build real git repositories in a directory, commit by commit, with fixed dates and authors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class RepoBuilder:
    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.clock = 1_700_000_000
        self.git("init", "-q", "-b", branch)
        self.git("config", "user.name", "Test Author")
        self.git("config", "user.email", "author@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, author: tuple[str, str] | None = None, check: bool = True) -> str:
        env = dict(os.environ)
        date = f"@{self.clock} +0000"
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        if author:
            env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1],
                       GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1])
        result = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, check=check)
        return result.stdout.decode().strip()

    def write(self, relative: str, content: str | bytes) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)

    def commit(self, message: str, files: dict[str, str | bytes] | None = None,
               delete: list[str] = (), author: tuple[str, str] | None = None) -> str:
        for relative, content in (files or {}).items():
            self.write(relative, content)
        for relative in delete:
            self.git("rm", "-q", relative)
        self.git("add", "-A")
        self.clock += 3600
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def bare_clone(self, target: Path) -> Path:
        """A bare clone of this repository at `target`: what a forge serves for cloning."""
        target = Path(target)
        subprocess.run(["git", "clone", "-q", "--bare", str(self.path), str(target)], check=True)
        return target
