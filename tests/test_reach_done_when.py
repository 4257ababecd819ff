"""Issue #15's "Done when", end to end in one run against the local fakes: GitHub answering with
scopes headers, OpenAI with its admin inventory, moto's IAM with an admin policy and a read-only
one. One repository leaks them all; scan → verify → owners → findings and report:

- every live key carries `reach`; the admin-equivalent ones are flagged and critical;
- a GitHub token whose owners-file entry allows ["read:org"] and whose reach includes admin:org is
  `overprivileged: true` (the bar-style check);
- a key whose purpose says read-only but whose reach is write is `overprivileged: true`, without
  being admin-equivalent; one whose every permission is allowed is `false`;
- the report's auditor view maps NHI5 (overprivileged) and NHI7 (long-lived) from these fields."""

from __future__ import annotations

from tests.fakes.providers import FakeGitHub, FakeOpenAI, FakeProviders
from tests.revoke_helpers import set_env

from .conftest import find_secret

OWNERS = """
[[owner]]
name = "Org reader"
purpose = "reads the org's member list (read-only)"
allowed = ["read:org"]
[owner.match]
path = "github/admin.env"

[[owner]]
name = "Release notes bot"
purpose = "read-only: reads the org and user profiles"
allowed = ["read:org", "read:user"]
[owner.match]
path = "github/writer.env"

[[owner]]
name = "Directory sync"
purpose = "reads the org"
allowed = ["read:org"]
[owner.match]
path = "github/reader.env"

[[owner]]
name = "Reports"
purpose = "read-only reporting"
allowed = ["s3:Get*", "s3:List*", "athena:GetQueryResults"]
[owner.match]
key_id = "{reader}"

[[owner]]
name = "Ops (declared read-only)"
purpose = "read-only"
allowed = ["s3:GetObject"]
[owner.match]
key_id = "{admin}"
"""


def test_done_when_reach_flags_admin_and_overprivileged_across_github_openai_and_aws(
        run, make_repo, keys, tmp_path, monkeypatch, aws_principals):  # noqa: F811
    admin_aws, reader_aws = aws_principals["admin"], aws_principals["reader"]
    gh_admin, gh_writer, gh_reader = keys.github("ghp_"), keys.github("ghp_"), keys.github("ghp_")
    openai_admin, openai_project = keys.openai_admin(), keys.openai_project()
    repo = make_repo("platform")
    repo.commit("credentials everywhere", {
        "github/admin.env": f"GITHUB_TOKEN={gh_admin}\n",
        "github/writer.env": f"GITHUB_TOKEN={gh_writer}\n",
        "github/reader.env": f"GITHUB_TOKEN={gh_reader}\n",
        "ai/.env": f"OPENAI_ADMIN_KEY={openai_admin}\nOPENAI_API_KEY={openai_project}\n",
        "ops/credentials": f"[default]\naws_access_key_id = {admin_aws['AccessKeyId']}\n"
                           f"aws_secret_access_key = {admin_aws['SecretAccessKey']}\n",
        "reports/credentials": f"[default]\naws_access_key_id = {reader_aws['AccessKeyId']}\n"
                               f"aws_secret_access_key = {reader_aws['SecretAccessKey']}\n"})
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text(OWNERS.format(reader=reader_aws["AccessKeyId"], admin=admin_aws["AccessKeyId"]))
    github = FakeGitHub([gh_admin, gh_writer, gh_reader], orgs=["acme"], repos=[("acme/api", "write")],
                        scopes={gh_admin: "admin:org, repo, read:user", gh_writer: "public_repo, read:org",
                                gh_reader: "read:org"})
    openai = FakeOpenAI([openai_admin, openai_project], projects=1)
    db = tmp_path / "store.db"
    with FakeProviders(github=github, openai=openai) as fakes:
        set_env(monkeypatch, fakes.env())
        assert run("scan", "git", repo.path, "--db", db).code == 1
        verified = run("verify", "--db", db, "--format", "json")
        run("owners", "--db", db, "--offline", "--owners-file", owners_file)
        findings = run("findings", "--db", db, "--format", "json").json()
        report = run("report", "--format", "json", "--db", db).json()

    def reach(value):
        finding = find_secret(findings, value)
        assert finding["verification"]["status"] == "live", finding["verification"]
        assert finding["reach"] is not None, finding["rule_id"]
        return finding["reach"]

    by_aws_key = {f["key_id"]: f["reach"] for f in findings if f["rule_id"] == "aws.secret-access-key"}

    # Admin-equivalent reach is flagged and critical, with or without an allowed list.
    admin = reach(gh_admin)
    assert admin["flagged"] == ["admin:org"] and admin["severity"] == "critical"
    assert admin["allowed"] == ["read:org"] and admin["overprivileged"] is True     # the bar-style check
    ai_admin = reach(openai_admin)
    assert ai_admin["flagged"] == ["admin-api-key"] and ai_admin["access"] == "admin"
    assert ai_admin["severity"] == "critical" and ai_admin["overprivileged"] is None  # no allowed list
    ops = by_aws_key[admin_aws["AccessKeyId"]]
    assert ops["flagged"] == ["*:*"] and ops["severity"] == "critical" and ops["overprivileged"] is True

    # Read-only by purpose, write by reach: overprivileged, not admin-equivalent.
    writer = reach(gh_writer)
    assert writer["permissions"] == ["public_repo", "read:org"] and writer["access"] == "write"
    assert writer["flagged"] == [] and writer["overprivileged"] is True and writer["severity"] == "high"

    # Within what the owner declared.
    reader = reach(gh_reader)
    assert reader["access"] == "read" and reader["overprivileged"] is False
    reports = by_aws_key[reader_aws["AccessKeyId"]]
    assert reports["access"] == "read" and reports["flagged"] == [] and reports["overprivileged"] is False

    # OpenAI's project key: project and owner from the admin inventory; its permissions not invented.
    project = reach(openai_project)
    assert project["resources"] == ["project:proj_000"] and project["permissions"] is None

    # The auditor's view: NHI5 from overprivileged/flagged reach, NHI7 for every long-lived key.
    risks = {c["id"]: {r["id"] for r in c["nhi_risks"]} for c in report["credentials"]}
    ids = {value: find_secret(findings, value)["id"] for value in (gh_admin, gh_writer, gh_reader, openai_admin)}
    assert "NHI5" in risks[ids[gh_admin]] and "NHI5" in risks[ids[gh_writer]] and "NHI5" in risks[ids[openai_admin]]
    assert "NHI5" not in risks[ids[gh_reader]]
    assert all("NHI7" in risks[i] for i in ids.values())
    for value in (gh_admin, gh_writer, openai_admin, admin_aws["SecretAccessKey"]):
        assert value not in verified.stdout + verified.stderr
