"""The whole loop, as a responder runs it against an organisation on local fakes.

An organisation "acme" leaks five credentials: an OpenAI key and a GitHub token in the history of a
forge repository, an Anthropic key in an Actions variable, an OpenAI key in an SSM parameter and an
AWS access key in a Secrets Manager secret. The responder sweeps, attributes, verifies, applies a
policy (GitHub tokens and AWS keys automatically, OpenAI keys after approval, Anthropic never),
approves the OpenAI keys in a run that is killed with SIGKILL and resumed, sweeps again, reports and
verifies the audit chain. Every assertion about what was revoked is made at the fake providers (and
at moto's IAM), not in keysweep's own tables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.fakes.forge import FakeGitHub as FakeForge
from tests.fakes.forge import ForgeBehaviour, GhRepo
from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeOpenAI, FakeProviders

from .conftest import KEYSWEEP_BIN, find_secret
from .test_remote_github import stamp

FORGE_TOKEN = "ghp_forgereadtoken_for_tests_only_000000"


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    import boto3

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    return {"endpoint": moto_endpoint, **{name: boto3.client(name, endpoint_url=moto_endpoint, region_name="us-east-1")
                                          for name in ("iam", "secretsmanager", "ssm")}}


@pytest.fixture
def acme(tmp_path, make_repo, keys, aws, monkeypatch):
    """The organisation: forge, AWS stores, provider fakes, keysweep.toml, owners file and policy."""
    leaked = {"openai_history": keys.openai_project(), "github_history": keys.github(),
              "anthropic_variable": keys.anthropic(), "openai_ssm": keys.openai_project()}

    # A repository whose history (not its tip) holds two keys; CODEOWNERS names the platform team.
    source = make_repo("src-api")
    source.commit("service", {"CODEOWNERS": "* @acme/platform\n", "app.py": "print('hi')\n"},
                  author=("Dana Dev", "dana@acme.io"))
    source.commit("wire the clients", {".env": f"OPENAI_API_KEY={leaked['openai_history']}\n",
                                       "ci.env": f"GH_TOKEN={leaked['github_history']}\n"},
                  author=("Dana Dev", "dana@acme.io"))
    source.commit("remove secrets", delete=[".env", "ci.env"], author=("Dana Dev", "dana@acme.io"))
    remote = tmp_path / "remote" / "api.git"
    source.bare_clone(remote)

    forge = FakeForge(ForgeBehaviour(token=FORGE_TOKEN)).start()
    forge.add_org("acme", variables=[{"name": "ANTHROPIC_API_KEY", "value": leaked["anthropic_variable"],
                                      "created_at": stamp(40), "updated_at": stamp(30), "visibility": "all"}])
    forge.add_repo(GhRepo("acme", "api", f"file://{remote}", pushed_at=stamp(1)))

    # AWS: a deploy user's access key in a Secrets Manager secret; an OpenAI key in SSM.
    aws["iam"].create_user(UserName="deployer")
    access = aws["iam"].create_access_key(UserName="deployer")["AccessKey"]
    leaked["aws_key_id"], leaked["aws_secret"] = access["AccessKeyId"], access["SecretAccessKey"]
    deploy_arn = aws["secretsmanager"].create_secret(Name="prod/deploy", SecretString=json.dumps(
        {"aws_access_key_id": access["AccessKeyId"], "aws_secret_access_key": access["SecretAccessKey"]}))["ARN"]
    aws["ssm"].put_parameter(Name="/prod/eval/openai", Value=leaked["openai_ssm"], Type="SecureString")

    # The providers. OpenAI deletes slowly (one per second) so the approval run can be killed mid-way.
    fakes = FakeProviders(github=FakeGitHub([leaked["github_history"]]),
                          openai=FakeOpenAI([leaked["openai_history"], leaked["openai_ssm"]], revoke_rate=1, burst=1),
                          anthropic=FakeAnthropic([leaked["anthropic_variable"]]))

    (tmp_path / "keysweep.toml").write_text(f"""
[sources]
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]
api_url = "{forge.url}"
token_env = "FORGE_TOKEN"

[[sources.aws]]
regions = ["us-east-1"]
services = ["secretsmanager", "ssm"]
endpoint_url = "{aws['endpoint']}"

[providers.openai]
revoke_rate = 1
concurrency = 1
""")
    (tmp_path / "keysweep-owners.toml").write_text("""
[[owner]]
name = "Deploy bot maintainers"
team = "platform"
purpose = "production deploys"
[owner.match]
secret_store = "*prod/deploy*"

[[owner]]
name = "Eval team"
team = "research"
purpose = "model evaluations"
[owner.match]
secret_store = "/prod/eval/*"

[[owner]]
name = "Assistant team"
team = "assistants"
purpose = "customer assistant"
[owner.match]
ci_scope = "github:acme:*"
""")
    (tmp_path / "keysweep-policy.toml").write_text("""
default = "approve"

[[rules]]
name = "ci tokens"
action = "auto"
providers = ["github"]

[[rules]]
name = "aws keys rotate"
action = "auto"
providers = ["aws"]
revoker = "aws-rotate"

[[rules]]
name = "anthropic is frozen"
action = "never"
providers = ["anthropic"]
""")
    monkeypatch.chdir(tmp_path)
    with fakes:
        # AWS_ENDPOINT_URL is the AWS provider's base URL (STS for verification, IAM for revocation);
        # the sweep reads the stores through its own endpoint_url.
        env = {"KEYSWEEP_DB": str(tmp_path / "store.db"), "FORGE_TOKEN": FORGE_TOKEN,
               "AWS_ENDPOINT_URL": aws["endpoint"], **fakes.env()}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield {"leaked": leaked, "forge": forge, "fakes": fakes, "aws": aws, "deploy_arn": deploy_arn,
               "env": env, "root": tmp_path}
    forge.stop()


def by_secret(findings: list[dict], leaked: dict) -> dict[str, dict]:
    return {name: find_secret(findings, value) for name, value in leaked.items() if name != "aws_key_id"}


def revoked_once(fake, value: str) -> bool:
    return value not in fake.active and fake.effective[value] == 1 and fake.revoke_calls[value] == 1


def test_a_responder_runs_the_whole_loop(acme, run, run_process):
    leaked, fakes, aws = acme["leaked"], acme["fakes"], acme["aws"]
    everything_secret = [v for k, v in leaked.items() if k != "aws_key_id"]

    def quiet(result) -> None:
        """Nothing any command prints holds a secret, and nothing ends in a traceback."""
        text = result.stdout + result.stderr
        assert not [v for v in everything_secret if v in text], "a secret reached the terminal"
        assert "Traceback" not in text and "internal error" not in text, result

    # 1. sweep: five leaked credentials, each in the place it was found.
    swept = run("sweep", "--config", "keysweep.toml", "--format", "json")
    quiet(swept)
    assert swept.code == 1, swept
    found = by_secret(swept.json(), leaked)
    assert {o["source"] for o in found["openai_history"]["occurrences"]} == {"git"}
    assert found["aws_secret"]["key_id"] == leaked["aws_key_id"]

    # 2. owners: every credential gets a named owner; the repository's keys from CODEOWNERS at the
    #    leaking commit (read from the sweep's clone), the stores' from the owners file.
    owners = run("owners", "--config", "keysweep.toml", "--format", "json")
    quiet(owners)
    assert owners.code == 0, owners
    unowned = run("owners", "--unowned", "--config", "keysweep.toml", "--format", "json")
    assert unowned.code == 0 and unowned.json() == [], unowned

    # 3. verify: every value is re-read from where it was found (the forge history included) and
    #    checked; all five are live.
    verified = run("verify", "--config", "keysweep.toml", "--format", "json")
    quiet(verified)
    statuses = {f["id"]: f["verification"]["status"] for f in
                run("findings", "--format", "json").json()}
    assert {k: statuses[f["id"]] for k, f in found.items()} == dict.fromkeys(found, "live"), verified

    # 4. the policy, dry run: a plan, no request to any provider.
    before = {name: len(fake.requests) for name, fake in fakes.providers.items()}
    plan = run("revoke", "--policy", "--config", "keysweep.toml")
    quiet(plan)
    assert plan.code == 0, plan
    assert {name: len(fake.requests) for name, fake in fakes.providers.items()} == before
    assert "never" in plan.stdout and "anthropic is frozen" in plan.stdout

    # 5. the policy, executed: GitHub token revoked, AWS key rotated; OpenAI awaits an approver.
    done = run("revoke", "--policy", "--execute", "--config", "keysweep.toml", "--confirm-delay", "0.05")
    quiet(done)
    assert revoked_once(fakes["github"], leaked["github_history"]), done
    assert fakes["openai"].revoke_requests == 0, done
    statuses = {m["AccessKeyId"]: m["Status"] for m in
                aws["iam"].list_access_keys(UserName="deployer")["AccessKeyMetadata"]}
    assert statuses.pop(leaked["aws_key_id"]) == "Inactive"
    (new_key_id, new_status), = statuses.items()
    assert new_status == "Active"
    written = json.loads(aws["secretsmanager"].get_secret_value(SecretId=acme["deploy_arn"])["SecretString"])
    assert written["aws_access_key_id"] == new_key_id and written["aws_secret_access_key"] != leaked["aws_secret"]
    new_secret = written["aws_secret_access_key"]

    # 6. approval run for the OpenAI keys, killed with SIGKILL after the first delete, then resumed.
    process = subprocess.Popen([str(KEYSWEEP_BIN), "revoke", "--policy", "--approve", "--execute", "--config",
                                "keysweep.toml", "--confirm-delay", "0.05"],
                               env={**os.environ, **acme["env"], "KEYSWEEP_ACTOR": "approver@acme.io"},
                               cwd=acme["root"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and fakes.call(lambda: len(fakes["openai"].revoked)) < 1:
        assert process.poll() is None, "the approval run ended before its first delete"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert fakes.call(lambda: len(fakes["openai"].revoked)) == 1, "the kill was not mid-run"
    resumed = run("revoke", "--resume", "--config", "keysweep.toml", "--confirm-delay", "0.05")
    quiet(resumed)
    assert resumed.code == 0, resumed
    assert revoked_once(fakes["openai"], leaked["openai_history"]), resumed
    assert revoked_once(fakes["openai"], leaked["openai_ssm"]), resumed
    # `never` holds even for an approver.
    assert leaked["anthropic_variable"] in fakes["anthropic"].active
    assert fakes["anthropic"].revoke_requests == 0

    # 7. a second sweep finds the key keysweep wrote into prod/deploy: managed, not a new leak.
    again = run("sweep", "--config", "keysweep.toml", "--format", "json")
    quiet(again)
    assert new_secret not in again.stdout + again.stderr
    assert again.code == 0, again
    managed = [f for f in again.json() if f.get("managed")]
    assert len(managed) == 1 and managed[0]["managed"]["rotated_from"] == found["aws_secret"]["id"]

    # 8. the report: four dead, one still live (the frozen Anthropic key), nobody unowned, no open job.
    report = run("report", "--format", "json")
    quiet(report)
    totals = report.json()["totals"]
    assert totals["live"] == 1 and totals["dead"] == 4 and totals["unowned"] == 0 and totals["open_jobs"] == 0, totals
    table = run("report")
    html = run("report", "--format", "html")
    quiet(table)
    quiet(html)
    assert table.code == 0 and html.code == 0

    # 9. the audit chain holds, anchored at the head the operator exported.
    head = run("audit", "head")
    assert head.code == 0, head
    check = run("audit", "verify", "--expect", head.stdout.strip())
    assert check.code == 0, check

    # Final state at the providers: exactly what the policy allowed, each key touched once.
    assert fakes["github"].revoke_requests == 1
    assert fakes["openai"].revoked == {leaked["openai_history"], leaked["openai_ssm"]}
    assert {m["AccessKeyId"]: m["Status"] for m in
            aws["iam"].list_access_keys(UserName="deployer")["AccessKeyMetadata"]} == {
        leaked["aws_key_id"]: "Inactive", new_key_id: "Active"}
