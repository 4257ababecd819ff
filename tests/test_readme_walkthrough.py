"""The README's new-user walkthrough (install, demo, then owners → verify → revoke dry run → report)
runs as written: the Quick start's shell block, line by line through bash, with the providers'
base-URL variables pointed at local fakes (the test sets the environment; the commands are the
README's). The one line not run here is the install: `pip install -e .` fetches the build backend
and the dependencies from PyPI, and tests never call the internet. `.venv/bin/keysweep` is the
console script this suite runs (installed the same way by .ci/run, which performs that very
install; tests/test_packaging.py installs the built wheel offline)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.fakes.api import Reply, Seen
from tests.report_pages import Page

from .conftest import KEYSWEEP_BIN, OPENAI_MODELS, PROJECT, validate_findings_output

INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q -e ."
STS_INVALID = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
               "<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid."
               "</Message></Error><RequestId>1</RequestId></ErrorResponse>")
STS_ACCOUNT = ('<GetAccessKeyInfoResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetAccessKeyInfoResult>'
               "<Account>123456789012</Account></GetAccessKeyInfoResult><ResponseMetadata><RequestId>2</RequestId>"
               "</ResponseMetadata></GetAccessKeyInfoResponse>")


def sts(request: Seen) -> Reply:
    """STS: the account of an access key id (owners), and a refusal of the demo's fake secret (verify)."""
    if b"Action=GetAccessKeyInfo" in request.body:
        return Reply(body=STS_ACCOUNT, content_type="text/xml")
    return Reply(status=403, body=STS_INVALID, content_type="text/xml")


def walkthrough() -> list[str]:
    """The Quick start's shell block, one command a line."""
    section = (PROJECT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's Quick start has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_walkthrough_is_the_loop_a_new_user_runs():
    lines = walkthrough()
    assert lines[0] == INSTALL
    commands = [line.split()[1] for line in lines if line.startswith(".venv/bin/keysweep ")]
    assert commands == ["demo", "owners", "verify", "revoke", "report"]
    revoke = next(line for line in lines if line.startswith(".venv/bin/keysweep revoke"))
    assert "--execute" not in revoke  # the plan only


@pytest.fixture
def providers(fake_api):
    """Each provider the demo plants a key of, answering as its documentation says: OpenAI takes any
    key (live), the others refuse it with their documented answer for a bad key (dead)."""
    fake_api.add("GET", "/openai/v1/models", json=OPENAI_MODELS, headers={"openai-organization": "org-demo"})
    fake_api.add("GET", "/anthropic/v1/models", status=401,
                 json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
    fake_api.add("GET", "/hf/api/whoami-v2", status=401, json={"error": "Invalid credentials in Authorization header"})
    fake_api.add("GET", "/github/user", status=401, json={"message": "Bad credentials"})
    fake_api.add("POST", "/aws", sts)
    return {"OPENAI_BASE_URL": fake_api.url + "/openai/v1", "ANTHROPIC_BASE_URL": fake_api.url + "/anthropic",
            "HF_ENDPOINT": fake_api.url + "/hf", "GITHUB_API_URL": fake_api.url + "/github",
            "AWS_ENDPOINT_URL": fake_api.url + "/aws", "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKEFAKE",
            "AWS_SECRET_ACCESS_KEY": "fake", "AWS_DEFAULT_REGION": "us-east-1"}


def test_the_readme_walkthrough_runs_as_written(tmp_path, fake_api, providers):
    lines = walkthrough()
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "keysweep").symlink_to(KEYSWEEP_BIN)  # what INSTALL leaves there
    (tmp_path / "tmp").mkdir()
    # The README's lines, in order, each followed by a line that reports its exit status.
    script = "\n".join(f"{line}\necho \"walkthrough-exit {index} $?\" >&2" for index, line in enumerate(lines[1:]))
    script += '\necho "walkthrough-demo $demo" >&2\n'
    env = {**os.environ, **providers, "TMPDIR": str(tmp_path / "tmp")}
    done = subprocess.run(["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    stderr = done.stderr
    exits = [int(code) for code in re.findall(r"^walkthrough-exit \d+ (\d+)$", stderr, re.M)]
    # mktemp 0; demo 0 (it found its keys); owners 0; verify 1 (a key is live); the dry run 0; report 0.
    assert exits == [0, 0, 0, 1, 0, 0], f"{exits}\n{done.stdout[-3000:]}\n{stderr[-3000:]}"
    assert "Traceback" not in stderr
    demo = re.search(r"^walkthrough-demo (.+)$", stderr, re.M).group(1)
    assert demo.startswith(str(tmp_path / "tmp"))

    # owners and verify only read: the account of the AWS key id and its last use (owners), then one
    # check per key (OpenAI's also asks who the key belongs to); the dry run sends nothing.
    sent = sorted((r.method, r.path, re.sub(rb"&.*", b"", r.body).decode()) for r in fake_api.requests)
    assert sent == sorted([("GET", "/openai/v1/models", ""), ("GET", "/openai/v1/me", ""),
                           ("GET", "/anthropic/v1/models", ""), ("GET", "/hf/api/whoami-v2", ""),
                           ("GET", "/github/user", ""), ("POST", "/aws", "Action=GetAccessKeyInfo"),
                           ("POST", "/aws", "Action=GetAccessKeyLastUsed"),
                           ("POST", "/aws", "Action=GetCallerIdentity")]), sent
    listed = subprocess.run([str(KEYSWEEP_BIN), "findings", "--format", "json", "--db", f"{demo}/keysweep.db"],
                            capture_output=True, text=True, env=env, timeout=120)
    validate_findings_output(["findings", "--format", "json"], listed.stdout)
    statuses = {f["provider"]: f["verification"]["status"] for f in json.loads(listed.stdout)}
    assert statuses == {"openai": "live", "anthropic": "dead", "huggingface": "dead", "github": "dead",
                        "aws": "dead"}, statuses
    # owners: each key attributed (the demo's commit authors).
    owners = {f["provider"]: (f["owner"] or {}).get("name") for f in json.loads(listed.stdout)}
    assert owners["openai"] == "Dana Dev" and owners["github"] == "Robin Research", owners
    # revoke without --execute: the plan, and nothing sent to any provider.
    assert "Dry run:" in done.stdout
    # report: the page to hand on, its cards the store's status.
    page = Page((tmp_path / "tmp" / demo.rsplit("/", 1)[1] / "report.html").read_text())
    cards = {a["data-key"]: int(a["data-count"]) for a in page.tags("div") if "card" in (a.get("class") or "").split()}
    assert cards["count"] == 5 and cards["live"] == 1 and cards["dead"] == 4, cards
