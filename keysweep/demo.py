"""`keysweep demo`: a throwaway repository whose history hides fake (generated) credentials."""

from __future__ import annotations

import random
import shlex
import tempfile
from pathlib import Path

from keysweep.errors import KeysweepError
from keysweep.testing.gitrepo import RepoBuilder
from keysweep.testing.keygen import KeyGen


def build_demo_repo(target: Path) -> None:
    keys = KeyGen(random.randrange(1 << 30))
    repo = RepoBuilder(target)
    repo.commit("Initial commit", {"README.md": "# agent-service\n", "app.py": "print('hello')\n"})
    openai_key = keys.openai_project()
    repo.commit("Add OpenAI client", {"agent/llm.py": f'client = OpenAI(api_key="{openai_key}")\n'},
                author=("Dana Dev", "dana@example.com"))
    repo.commit("Use environment variable instead", {"agent/llm.py": "client = OpenAI()\n"},
                author=("Dana Dev", "dana@example.com"))
    repo.commit("Add deploy config", {
        ".env": f"ANTHROPIC_API_KEY={keys.anthropic()}\nHF_TOKEN={keys.huggingface()}\n",
        "deploy/aws.ini": f"[default]\naws_access_key_id = {keys.aws_access_key_id()}\n"
                          f"aws_secret_access_key = {keys.aws_secret_access_key()}\n",
    }, author=("Sam Ops", "sam@example.com"))
    repo.commit("Remove secrets", delete=[".env"], author=("Sam Ops", "sam@example.com"))
    repo.git("checkout", "-q", "-b", "experiment")
    repo.commit("Try the GitHub API", {"scripts/sync.sh": f"export GITHUB_TOKEN={keys.github()}\n"},
                author=("Robin Research", "robin@example.com"))
    repo.git("checkout", "-q", "main")


# Inside the demo directory: the repository and the demo's own store (never the user's default one).
REPO_NAME, STORE_NAME = "repo", "keysweep.db"


def demo_directory(keep: str | None) -> Path:
    """The new directory the demo keeps its repository and store in: `keep` (created if missing;
    it must be empty, the demo commits fake keys and must never write into someone's work), else a
    new one under the system's temporary directory. Raises KeysweepError when `keep` is not empty."""
    if not keep:
        return Path(tempfile.mkdtemp(prefix="keysweep-demo-")).resolve()
    home = Path(keep)
    if home.is_dir() and any(home.iterdir()):
        raise KeysweepError(f"{keep}: exists and is not empty; --keep needs a new or empty directory")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeysweepError(f"{keep}: cannot create the demo directory: {exc.strerror}") from None
    return home.resolve()


def next_commands(store: Path) -> list[tuple[str, str]]:
    """(command, what it does) for the rest of the loop on the demo's store, as a new user types them."""
    db = f"--db {shlex.quote(str(store))}"
    return [(f"keysweep owners {db}", "who owns each key, and the evidence"),
            (f"keysweep verify {db}", "is each key still live? (one read-only call per key)"),
            (f"keysweep revoke --all {db}", "the revocation plan: a dry run, nothing is sent"),
            (f"keysweep report {db}", "time to remediation")]
