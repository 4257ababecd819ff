"""docs/usage.md shows each command's output as it is now (issue 14). Each `<!-- sample: ARGS -->`
block in it is `keysweep ARGS` run on one example store (tests/selection_helpers.py's responder
store) at a fixed moment, and must be exactly that output; the demo, the pre-commit advice and the
configuration error shown in prose are compared with a real run too.

`KEYSWEEP_UPDATE_DOCS=1 pytest tests/test_usage_doc.py` writes the samples again (the test then
passes and the diff shows what changed)."""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from keysweep.testing.gitrepo import RepoBuilder
from keysweep.testing.keygen import KeyGen
from tests.selection_helpers import responder_store

from .conftest import PROJECT

USAGE = PROJECT / "docs" / "usage.md"
SAMPLE = re.compile(r"<!-- sample: (?P<args>[^>]*?) -->\n(?P<body>.*?)<!-- /sample -->", re.S)
# The moment every sample is taken at: ages and open windows count to it.
NOW = datetime(2026, 12, 2, 18, 0, 0, tzinfo=timezone.utc)


class FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW if tz is not None else NOW.replace(tzinfo=None)


def indented(text: str) -> str:
    """As a Markdown code block: four spaces in, no trailing blanks (an editor would strip them)."""
    return "".join(f"    {line.rstrip()}\n" if line.strip() else "\n" for line in text.rstrip("\n").split("\n"))


# `scan git` and `sweep` name a repository by its full path: theirs is this one, the same on every
# run (taken under a lock, so two test runs on one machine do not build it at once).
SAMPLE_REPO = Path("/tmp/keysweep-sample/web")
ACTOR = "dana@acme.test"


def sample_keys() -> KeyGen:
    return KeyGen(14)  # the same generated keys every time


def app_tree(home: Path) -> None:
    """`app/`: config/.env with an OpenAI and an Anthropic key, deploy.py with a GitHub token."""
    keys = sample_keys()
    (home / "app" / "config").mkdir(parents=True)
    (home / "app" / "config" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n"
                                                  f"ANTHROPIC_API_KEY={keys.anthropic()}\n")
    (home / "app" / "deploy.py").write_text(f'TOKEN = "{keys.github()}"\n')


def web_repo() -> RepoBuilder:
    """SAMPLE_REPO: an OpenAI key committed in .env and deleted a commit later, and a Hugging Face
    token still in ml/train.py."""
    keys = sample_keys()
    shutil.rmtree(SAMPLE_REPO, ignore_errors=True)
    repo = RepoBuilder(SAMPLE_REPO)
    dana, robin = ("Dana Dev", "dana@acme.test"), ("Robin Research", "robin@acme.test")
    repo.commit("configure the client", {".env": f"OPENAI_API_KEY={keys.openai_project()}\n",
                                         "README.md": "web\n"}, author=dana)
    repo.commit("no keys in the repository", delete=[".env"], author=dana)
    repo.commit("training job", {"ml/train.py": f'HF_TOKEN = "{keys.huggingface()}"\n'}, author=robin)
    return repo


def dry_run_rows(run, db: Path, patches) -> None:
    """The audit rows `keysweep revoke --provider anthropic` (a dry run) writes, its run id fixed."""
    import uuid

    patches.setattr("keysweep.remediation.orchestrator.uuid",
                    SimpleNamespace(uuid4=lambda: uuid.UUID("4f1c2a9b7d3e4c5d8e9f0a1b2c3d4e5f")))
    assert run("revoke", "--provider", "anthropic", "--db", db).code == 0


def aws_stores(moto_endpoint: str, patches) -> None:
    """moto (on 127.0.0.1) holding an Anthropic key in a Secrets Manager secret's JSON and an OpenAI
    key in an SSM SecureString parameter; boto3's own AWS_ENDPOINT_URL points keysweep there."""
    import urllib.request

    import boto3

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": moto_endpoint}.items():
        patches.setenv(name, value)
    keys = sample_keys()
    boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_endpoint).create_secret(
        Name="prod/agent", SecretString='{"ANTHROPIC_API_KEY": "%s"}' % keys.anthropic())
    boto3.client("ssm", region_name="eu-west-1", endpoint_url=moto_endpoint).put_parameter(
        Name="/prod/web/openai", Value=keys.openai_project(), Type="SecureString")


def provider_fakes(fake_api, patches) -> None:
    """The providers' base-URL variables at the local fake: the OpenAI key live, the Anthropic key
    dead (its documented 401), GitHub's answer a proxy's 502 (unknown)."""
    patches.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    patches.setenv("ANTHROPIC_BASE_URL", fake_api.url + "/anthropic")
    patches.setenv("GITHUB_API_URL", fake_api.url + "/github")
    for name in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY", "GITHUB_TOKEN"):
        patches.delenv(name, raising=False)
    fake_api.add("GET", "/openai/v1/models", json={"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]},
                 headers={"openai-organization": "org-acme"})
    fake_api.add("GET", "/openai/v1/me", json={"object": "user", "id": "user-1", "email": "dana@acme.test"})
    fake_api.add("GET", "/anthropic/v1/models", status=401,
                 json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
    fake_api.add("GET", "/github/user", status=502, body="<html>Bad Gateway</html>")


TEAM_RULE = """\
[[rules]]
id = "acme.deploy-token"
name = "Acme deploy token"
provider = "acme"
description = "A token of Acme's own deploy service."
regex = '''(?P<secret>acmed_[a-z0-9]{24})'''
keywords = ["acmed_"]
examples = ["DEPLOY_TOKEN=acmed_q9w8e7r6t5y4u3i2o1p0a9s8"]
negative_examples = ["DEPLOY_TOKEN=acmed_short"]

[rules.replacement]
kind = "oidc"
summary = "Deploy with the CI job's OIDC token, which Acme's deploy service accepts."
docs_url = "https://docs.acme.example/deploy/oidc"
"""


def sample_text(run, tmp_path, args: str, *, fake_api=None, moto_endpoint=None) -> str:
    """`keysweep ARGS` as a person runs it, on a store of its own (a dry run writes audit rows: the
    report's audit head would depend on the order the samples are taken in): the responder store,
    or what the sample's own scan writes. Standard output, then whatever went to stderr."""
    home = tmp_path / re.sub(r"\W+", "-", args)
    home.mkdir()
    db, _found = responder_store(home)
    cwd, lock, patches = home, None, pytest.MonkeyPatch()
    words = shlex.split(args)
    try:
        if words[:2] == ["scan", "dir"] or words[0] in ("verify", "audit"):
            app_tree(home)
            db = home / "scan.db"
            if words[0] != "scan":
                assert run("scan", "dir", "app", "--db", db, cwd=home).code == 1
            if words[0] == "verify":
                provider_fakes(fake_api, patches)
            if words[0] == "audit":
                dry_run_rows(run, db, patches)
        elif words[:2] in (["scan", "git"], ["scan", "staged"]) or words[0] == "sweep":
            SAMPLE_REPO.parent.mkdir(parents=True, exist_ok=True)
            lock = open(SAMPLE_REPO.parent / ".lock", "w")
            fcntl.flock(lock, fcntl.LOCK_EX)
            repo = web_repo()
            (home / "keysweep.toml").write_text(f'[sources]\ngit = ["{SAMPLE_REPO}"]\n')
            db = home / "scan.db"
            if words[1:2] == ["staged"]:
                repo.write("settings.py", f'ANTHROPIC_API_KEY = "{sample_keys().anthropic()}"\n')
                repo.git("add", "settings.py")
                cwd, db = repo.path, None  # a staged scan writes no store unless told to
        elif words[:2] == ["scan", "aws"]:
            aws_stores(moto_endpoint, patches)
            db = home / "scan.db"
        elif words[0] in ("rules", "init", "schema"):
            db = None
            if words[:2] == ["rules", "check"]:
                (home / "team-rules.toml").write_text(TEAM_RULE)
            if words[0] == "init":
                (home / words[1]).mkdir()
        result = run(*words, *(("--db", db) if db else ()), cwd=cwd)
    finally:
        patches.undo()
        if lock is not None:
            lock.close()
    assert result.code in (0, 1), result
    return indented(f"$ keysweep {args}\n{result.stdout}{result.stderr}")


# Every command that prints something a person reads, in the order docs/usage.md shows them. Not
# here: `demo` (its closing lines are checked below; its table is a scan's), `schema` (a JSON
# Schema, for programs), `store migrate` (needs a PostgreSQL server; docs/scale-out.md shows it),
# `worker` and `beat` (run until stopped, need a broker; docs/scale-out.md shows them) and the remote
# scans but `scan aws` (against moto): their table and closing lines are the same.
SAMPLED = ["scan dir app", f"scan git {SAMPLE_REPO}", "sweep", "scan aws --region eu-west-1", "events --kind revoked --kind confirmed_dead",
           "init starter", "baseline create --provider anthropic", "scan staged", "findings", "status", "verify",
           "owners --offline", "revoke --provider anthropic", "report", "audit log", "audit head", "audit verify",
           "rules list --provider openai", "rules check team-rules.toml"]


@pytest.fixture
def frozen(monkeypatch):
    for module in ("keysweep.remediation.report", "keysweep.remediation.status", "keysweep.context"):
        monkeypatch.setattr(f"{module}.datetime", FrozenDatetime)
    monkeypatch.setenv("KEYSWEEP_ACTOR", ACTOR)


@pytest.mark.skipif(sys.platform == "win32", reason="the sample repository's path is a POSIX one")
def test_every_sample_is_the_commands_output_now(run, tmp_path, fake_api, moto_endpoint, frozen):
    doc = USAGE.read_text()
    samples = list(SAMPLE.finditer(doc))
    assert [m["args"] for m in samples] == SAMPLED

    def taken(m) -> str:
        return sample_text(run, tmp_path, m["args"], fake_api=fake_api, moto_endpoint=moto_endpoint)

    if os.environ.get("KEYSWEEP_UPDATE_DOCS"):
        USAGE.write_text(SAMPLE.sub(lambda m: f"<!-- sample: {m['args']} -->\n{taken(m)}<!-- /sample -->", doc))
        return
    for match in samples:
        assert match["body"] == taken(match), \
            f"docs/usage.md's sample of `keysweep {match['args']}` is not what it prints now " \
            f"(KEYSWEEP_UPDATE_DOCS=1 pytest {__file__} writes it again)"


def test_every_command_that_prints_for_people_has_a_sample():
    """A new command gets a sample, or a reason above for having none."""
    from tests.test_cli_options import COMMANDS

    def command_of(args: str) -> str:
        words = shlex.split(args)
        return next(" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in COMMANDS)

    sampled = {command_of(args) for args in SAMPLED}
    without = {"demo", "schema", "store migrate", "worker", "beat", "scan github", "scan gitlab", "scan kubernetes",
               "scan vault", "scan gcp", "scan azure"}
    assert set(COMMANDS) - sampled == without


def prose_block(after: str) -> list[str]:
    """The indented lines of the first code block following the line that contains `after`."""
    lines = USAGE.read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if after in line)
    block: list[str] = []
    for line in lines[start + 1:]:
        if line.startswith("    "):
            block.append(line[4:])
        elif block and line.strip():
            break
    return block


def test_the_demo_says_what_the_doc_shows(run, tmp_path):
    home = tmp_path / "demo"
    result = run("demo", "--keep", home)
    assert result.code == 0, result
    shown = [line.replace(str(home), "/tmp/keysweep-demo-x1y2z3w4") for line in result.stderr.splitlines()
             if line.strip()]
    documented = [line for line in prose_block("ends with the next commands") if line != "…the findings…"]

    def spaced(lines):  # the comments are aligned to the longest command: the width varies with the path
        return [re.sub(r" {2,}#", "  #", line) for line in lines]

    assert spaced(shown) == spaced(documented)


def test_the_pre_commit_advice_is_the_doc(run, make_repo, keys):
    repo = make_repo()
    repo.commit("init", {"README.md": "x\n"})
    (repo.path / "app.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    repo.git("add", "app.env")
    result = run("scan", "staged", "--no-store", cwd=repo.path)
    assert result.code == 1, result
    advice = prose_block("When `keysweep scan staged` stops a commit")
    assert result.stderr.splitlines()[-len(advice):] == advice


def test_the_configuration_error_is_the_doc(run, tmp_path):
    (tmp_path / "keysweep.toml").write_text("[providers.openai]\nrate_limit = 0\n")
    result = run("verify", "--db", tmp_path / "none.db", cwd=tmp_path)
    [documented] = prose_block("a negative number or malformed TOML is one line")
    # The file is named by its full path: the doc's was /srv/app.
    assert result.code == 2 and result.stderr.strip().replace(str(tmp_path), "/srv/app") == documented, result


@pytest.mark.parametrize("args", ["status", "report"])
def test_a_sample_taken_at_another_moment_differs(run, tmp_path, monkeypatch, args):
    """The check can fail: the same command an hour later prints other ages."""
    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW.replace(hour=19) if tz is not None else NOW.replace(hour=19, tzinfo=None)

    monkeypatch.setattr("keysweep.remediation.report.datetime", Later)
    monkeypatch.setattr("keysweep.remediation.status.datetime", Later)
    documented = next(m["body"] for m in SAMPLE.finditer(USAGE.read_text()) if m["args"] == args)
    assert sample_text(run, tmp_path, args) != documented
