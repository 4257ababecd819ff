"""`keysweep demo`: a throwaway repository whose history hides fake (generated) credentials."""

from __future__ import annotations

import random
from pathlib import Path

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
