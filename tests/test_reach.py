"""Reach: what a live key can do, read once when it verifies live, stored with the verification and
shown on the finding as `reach`; `overprivileged` judged against the owners file's `allowed` list;
`severity` from liveness, reach and exposure. Readers never invent a permission: what a provider
did not show is `unknown`."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from keysweep.clock import utc_iso
from keysweep.providers.anthropic import anthropic_reach
from keysweep.providers.aws import aws_reach
from keysweep.providers.github import github_reach
from keysweep.providers.gitlab import gitlab_reach
from keysweep.providers.huggingface import hf_reach
from keysweep.providers.openai import openai_reach
from keysweep.providers.slack import slack_reach
from keysweep.store import Store
from keysweep.verify.reach import SEVERITIES, Reach, overprivileged, permitted, reach_json, severity
from tests.conftest import find_secret
from tests.fakes.providers import FakeAnthropic, FakeGitHub, FakeGitLab, FakeOpenAI, FakeProviders, FakeSlack
from tests.revoke_helpers import set_env
from tests.selection_helpers import responder_store

# -- overprivileged: against the owner's declared list ------------------------------------------


def test_no_allowed_list_declared_is_null_whatever_the_reach():
    reach = Reach(permissions=("admin:org", "repo"), flagged=("admin:org",), access="admin").record()
    assert overprivileged(reach, None) is None


def test_a_permission_outside_the_allowed_list_is_overprivileged():
    reach = Reach(permissions=("admin:org", "read:org")).record()
    assert overprivileged(reach, ["read:org"]) is True


def test_every_permission_within_the_allowed_list_is_not_overprivileged():
    reach = Reach(permissions=("read:org",)).record()
    assert overprivileged(reach, ["read:org", "repo"]) is False


def test_permissions_not_seen_cannot_be_judged_within_the_list():
    assert overprivileged(Reach(permissions=None, unknown=("no header",)).record(), ["read:org"]) is None
    # some seen, all allowed, but part of the reach is unknown: not proven within the list
    partial = Reach(permissions=("read:org",), unknown=("repositories: HTTP 403",)).record()
    assert overprivileged(partial, ["read:org"]) is None
    # one seen outside the list is enough, whatever was not seen
    outside = Reach(permissions=("repo",), unknown=("repositories: HTTP 403",)).record()
    assert overprivileged(outside, ["read:org"]) is True


def test_an_empty_allowed_list_allows_nothing():
    assert overprivileged(Reach(permissions=("read:org",)).record(), []) is True
    assert overprivileged(Reach(permissions=()).record(), []) is False


@pytest.mark.parametrize("permission, allowed, expected", [
    ("s3:GetObject", ["s3:GetObject"], True),
    ("s3:getobject", ["s3:GetObject"], True),           # AWS action names ignore case
    ("s3:GetObject", ["s3:Get*"], True),
    ("s3:Get*", ["s3:Get*"], True),
    ("s3:Get*", ["s3:GetObject"], False),                # a pattern grants more than one action
    ("s3:*", ["s3:Get*"], False),
    ("*", ["s3:*"], False),
    ("iam:PassRole", ["s3:*"], False),
    ("admin:org", ["read:org"], False),
    ("repo", ["repo"], True),
])
def test_permission_names_and_action_patterns(permission, allowed, expected):
    assert permitted(permission, allowed) is expected


# -- severity: liveness x reach x exposure -------------------------------------------------------

ADMIN = {"access": "admin", "flagged": ["admin:org"]}
WRITE = {"access": "write", "flagged": []}
READ = {"access": "read", "flagged": []}
UNSEEN = {"access": None, "flagged": []}


@pytest.mark.parametrize("liveness, reach, expected", [
    ("live", ADMIN, "critical"),
    ("live", WRITE, "high"),
    ("live", UNSEEN, "high"),       # a live key whose reach is unknown is not assumed narrow
    ("live", None, "high"),
    ("live", READ, "medium"),
    ("unknown", ADMIN, "high"),
    ("unknown", WRITE, "medium"),
    (None, ADMIN, "high"),
    (None, None, "medium"),
    ("dead", ADMIN, "low"),
    ("dead", None, "low"),
])
def test_severity_table(liveness, reach, expected):
    assert severity(liveness, reach) == expected


def test_a_flagged_permission_is_admin_whatever_access_says():
    assert severity("live", {"access": "write", "flagged": ["workflow"]}) == "critical"


def test_long_exposure_raises_a_live_read_only_key():
    assert severity("live", READ, exposed_seconds=6 * 86400) == "medium"
    assert severity("live", READ, exposed_seconds=8 * 86400) == "high"
    assert severity("dead", READ, exposed_seconds=80 * 86400) == "low"


def test_reach_json_extends_the_stored_record_with_the_judgements():
    record = Reach(identity="octocat", permissions=("admin:org",), resources=("org:acme",), flagged=("admin:org",),
                   access="admin", evidence="GET /user X-OAuth-Scopes").record()
    record["checked_at"] = "2026-01-01T00:00:00Z"
    shown = reach_json(record, liveness="live", allowed=["read:org"])
    assert {k: shown[k] for k in ("identity", "permissions", "resources", "severity", "overprivileged",
                                  "evidence", "checked_at")} == {
        "identity": "octocat", "permissions": ["admin:org"], "resources": ["org:acme"], "severity": "critical",
        "overprivileged": True, "evidence": "GET /user X-OAuth-Scopes", "checked_at": "2026-01-01T00:00:00Z"}
    assert shown["flagged"] == ["admin:org"] and shown["allowed"] == ["read:org"]
    assert reach_json(None, liveness="live", allowed=None) is None


# -- provider readers (pure parts) ---------------------------------------------------------------

def test_github_classic_scopes_flag_admin_org_delete_repo_and_workflow():
    reach = github_reach("octocat", ["repo", "admin:org", "delete_repo", "workflow", "read:user"], ["acme"],
                         [{"full_name": "acme/api", "permissions": {"admin": False, "push": True, "pull": True}},
                          {"full_name": "acme/docs", "permissions": {"admin": False, "push": False, "pull": True}},
                          {"full_name": "acme/infra", "permissions": {"admin": True, "push": True, "pull": True}}])
    assert set(reach.flagged) == {"admin:org", "delete_repo", "workflow"} and reach.access == "admin"
    assert reach.resources == ("org:acme", "repo:acme/api", "repo:acme/infra")
    assert reach.details == {"writable_repositories": 2, "admin_repositories": 1, "repositories_listed": 3}
    assert reach.unknown == ()


def test_github_read_only_scopes_are_read_and_an_unknown_scope_is_write():
    assert github_reach("o", ["read:org", "read:user"], [], []).access == "read"
    assert github_reach("o", [], [], []).access == "read"  # a classic token with no scope reads public data
    assert github_reach("o", ["read:org", "codespace"], [], []).access == "write"


def test_github_fine_grained_token_has_no_scopes_to_show_and_none_are_invented():
    reach = github_reach("octocat", None, None,
                         [{"full_name": "acme/api", "permissions": {"push": True, "pull": True}}])
    assert reach.permissions is None and reach.flagged == ()
    assert reach.access == "write"  # it listed a repository it can push to
    assert any("X-OAuth-Scopes" in note for note in reach.unknown)
    assert github_reach("octocat", None, None, []).access is None


def test_slack_scopes_from_the_header_admin_flagged():
    identity = {"team": "acme", "team_id": "T1", "user": "bot", "user_id": "U1", "bot_id": "B1",
                "scopes": ["chat:write", "channels:read", "admin.users:write"]}
    reach = slack_reach(identity)
    assert reach.permissions == ("chat:write", "channels:read", "admin.users:write")
    assert reach.flagged == ("admin.users:write",) and reach.access == "admin"
    assert reach.identity == "bot B1 in acme" and reach.resources == ("team:T1",)
    read_only = slack_reach({**identity, "scopes": ["channels:read", "channels:history", "identify"]})
    assert read_only.access == "read" and read_only.flagged == ()
    missing = slack_reach({k: v for k, v in identity.items() if k != "scopes"})
    assert missing.permissions is None and missing.access is None and missing.unknown


def test_hugging_face_roles_and_fine_grained_permissions():
    write = hf_reach({"name": "jane", "orgs": ["acme", "lab"], "org_roles": {"acme": "admin", "lab": "read"},
                      "token_role": "write"})
    assert write.permissions == ("write",) and write.flagged == ("org-admin:acme",) and write.access == "admin"
    read = hf_reach({"name": "jane", "orgs": ["acme"], "org_roles": {"acme": "admin"}, "token_role": "read"})
    assert read.permissions == ("read",) and read.flagged == () and read.access == "read"
    fine = hf_reach({"name": "jane", "token_role": "fineGrained", "token_fine_grained": {
        "global": ["inference.serverless.write"],
        "scoped": [{"entity": "model:acme/bert", "permissions": ["repo.content.read"]}]}})
    assert set(fine.permissions) == {"fineGrained", "inference.serverless.write", "repo.content.read"}
    assert "model:acme/bert" in fine.resources and fine.access == "write"
    odd = hf_reach({"name": "jane", "token_role": "superuser"})
    assert odd.permissions is None and odd.access is None and "superuser" in odd.unknown[0]


def test_gitlab_scopes_and_administrator_role():
    reach = gitlab_reach({"username": "jane", "scopes": ["read_api", "read_repository"], "user_id": 3})
    assert reach.access == "read" and reach.flagged == () and reach.details == {"role": "user"}
    admin = gitlab_reach({"username": "root", "scopes": ["api", "sudo"], "user_id": 1, "is_admin": True})
    assert set(admin.flagged) == {"api", "sudo"} and admin.access == "admin"
    no_user = gitlab_reach({"scopes": ["api"], "user_id": 3})
    assert no_user.access == "write" and no_user.unknown and no_user.details == {}


# -- end to end: scan, verify, owners, findings against the GitHub fake --------------------------

OWNERS = """
[[owner]]
name = "Org reader"
team = "platform"
purpose = "reads the org's member list (read-only)"
allowed = ["read:org"]
[owner.match]
provider = "github"
"""


@pytest.fixture
def github_leak(make_repo, keys, tmp_path):
    token = keys.github("ghp_")
    repo = make_repo("app")
    repo.commit("config", {".env": f"GITHUB_TOKEN={token}\n"})
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text(OWNERS)
    return repo, token, owners_file


def test_a_token_allowed_read_org_that_holds_admin_org_is_overprivileged_and_reach_survives_revocation(
        run, github_leak, tmp_path, monkeypatch):
    repo, token, owners_file = github_leak
    db = tmp_path / "store.db"
    repos = [(f"acme/svc-{i}", "write" if i % 3 else "read") for i in range(150)]
    fake = FakeGitHub([token], scopes={token: "admin:org, repo, read:user"}, orgs=["acme"], repos=repos)
    with FakeProviders(github=fake) as fakes:
        set_env(monkeypatch, fakes.env())
        assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
        verified = run("verify", "--db", db, "--format", "json")
        assert run("owners", "--db", db, "--offline", "--owners-file", owners_file, "--format", "json").code in (0, 1)
        finding = find_secret(run("findings", "--db", db, "--format", "json").json(), token)
        reach = finding["reach"]
        assert reach["identity"] == "octocat"
        assert reach["permissions"] == ["admin:org", "read:user", "repo"]
        assert reach["flagged"] == ["admin:org"] and reach["access"] == "admin"
        assert reach["overprivileged"] is True and reach["allowed"] == ["read:org"]
        assert reach["severity"] == "critical"
        assert reach["details"]["writable_repositories"] == 100  # two of every three of 150, over two pages
        assert reach["resources"][0] == "org:acme" and len(reach["resources"]) == 21
        assert reach["unknown"] == [] and reach["checked_at"].endswith("Z")
        assert find_secret(verified.json(), token)["reach"]["permissions"] == reach["permissions"]
        assert ("GET", "/user/repos") in fake.requests and ("GET", "/user/orgs") in fake.requests
        assert token not in verified.stdout and token not in verified.stderr

        fake.active.discard(token)  # revoked at GitHub
        assert run("verify", "--db", db, "--ttl", "0", "--format", "json").code == 0
        after = find_secret(run("findings", "--db", db, "--format", "json").json(), token)
        assert after["verification"]["status"] == "dead"
        assert after["reach"]["permissions"] == reach["permissions"]  # what it could do while exposed
        assert after["reach"]["checked_at"] == reach["checked_at"]
        assert after["reach"]["severity"] == "low" and after["reach"]["overprivileged"] is True
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert token.encode() not in db_bytes


def test_a_fine_grained_token_and_a_refused_org_listing_give_unknown_parts_not_permissions(
        run, github_leak, tmp_path, monkeypatch):
    repo, token, owners_file = github_leak
    db = tmp_path / "store.db"
    fake = FakeGitHub([token], scopes={token: None}, orgs=["acme"], repos=[("acme/api", "read")])
    with FakeProviders(github=fake) as fakes:
        set_env(monkeypatch, fakes.env())
        run("scan", "git", repo.path, "--db", db)
        run("verify", "--db", db)
        run("owners", "--db", db, "--offline", "--owners-file", owners_file)
        reach = find_secret(run("findings", "--db", db, "--format", "json").json(), token)["reach"]
        assert reach["permissions"] is None and reach["flagged"] == [] and reach["access"] is None
        assert reach["overprivileged"] is None  # nothing seen to judge against read:org
        assert reach["severity"] == "high"
        assert any("X-OAuth-Scopes" in note for note in reach["unknown"])

        # a classic token without read:org: GitHub refuses the org listing with 403
        fake.scopes[token] = "public_repo"
        run("verify", "--db", db, "--ttl", "0")
        reach = find_secret(run("findings", "--db", db, "--format", "json").json(), token)["reach"]
        assert reach["permissions"] == ["public_repo"] and reach["access"] == "write"
        assert reach["resources"] == [] and reach["overprivileged"] is True
        assert any("GET /user/orgs" in note and "HTTP 403" in note for note in reach["unknown"])


def test_no_reach_is_read_for_a_dead_key_and_none_is_shown_for_an_unverified_one(
        run, github_leak, tmp_path, monkeypatch):
    repo, token, _ = github_leak
    db = tmp_path / "store.db"
    fake = FakeGitHub([])  # GitHub does not know the token
    with FakeProviders(github=fake) as fakes:
        set_env(monkeypatch, fakes.env())
        scanned = run("scan", "git", repo.path, "--db", db, "--format", "json")
        assert find_secret(scanned.json(), token)["reach"] is None
        run("verify", "--db", db)
        finding = find_secret(run("findings", "--db", db, "--format", "json").json(), token)
        assert finding["verification"]["status"] == "dead" and finding["reach"] is None
        assert ("GET", "/user/repos") not in fake.requests


def test_a_reused_live_check_without_reach_gets_its_reach_read_once_and_kept_with_it(
        run, github_leak, tmp_path, monkeypatch):
    """A key checked live before keysweep read reach (or by a run that read none): a verify within
    the TTL reuses the check — no new check, no new event — but reads the reach and keeps it with
    that check; the next verify reads nothing."""
    repo, token, _ = github_leak
    db = tmp_path / "store.db"
    github = FakeGitHub([token], scopes={token: "admin:org, repo"}, orgs=["acme"], repos=[("acme/api", "write")])
    with FakeProviders(github=github) as fakes:
        set_env(monkeypatch, fakes.env())
        run("scan", "git", repo.path, "--db", db)
        finding = find_secret(run("findings", "--db", db, "--format", "json").json(), token)
        store = Store(db)
        checked_at = utc_iso(datetime.now(timezone.utc))
        store.record_verification(finding["id"], "live", {"login": "octocat", "scopes": ["admin:org", "repo"]},
                                  None, checked_at)  # a check that read no reach
        store.close()

        verified = run("verify", "--db", db, "--format", "json")
        assert verified.code in (0, 1), verified
        assert ("GET", "/user") not in github.requests  # the check itself was reused
        assert ("GET", "/user/orgs") in github.requests  # its reach was read
        after = find_secret(run("findings", "--db", db, "--format", "json").json(), token)
        assert after["verification"]["checked_at"] == checked_at
        assert after["reach"]["flagged"] == ["admin:org"] and after["reach"]["severity"] == "critical"
        events = run("events", "--db", db, "--format", "json").json()
        assert sum(1 for e in events if e.get("kind") == "verified_live") == 1, events

        github.requests.clear()
        run("verify", "--db", db, "--format", "json")
        assert not github.requests  # kept with the check: nothing read again within the TTL


# -- severity orders status, the report and revoke plans; NHI5 from the reach ---------------------

def test_the_most_severe_come_first_in_status_report_and_revoke_plans(run, tmp_path):
    db, f = responder_store(tmp_path)
    store = Store(db)
    admin = Reach(identity="deploy-bot", permissions=("admin:org", "repo"), flagged=("admin:org",), access="admin",
                  evidence="test").record()
    read_only = Reach(identity="reader", permissions=("read:org",), access="read", evidence="test").record()
    store.record_verification(f["variable"].id, "live", {}, None, "2026-12-02T10:00:00Z", reach=admin)
    store.record_verification(f["spread"].id, "live", {}, None, "2026-12-02T10:00:00Z", reach=read_only)
    store.close()

    urgent = run("status", "--format", "json", "--db", db).json()["urgent"]
    assert [(u["id"], u["severity"]) for u in urgent] == [
        (f["variable"].id, "critical"),   # live, admin-equivalent
        (f["spread"].id, "high"),         # live, read-only, but out for six months; in three kinds of source
        (f["live"].id, "high"),           # live, reach not read
        (f["flaky"].id, "medium"),        # inconclusive check
        (f["unchecked"].id, "medium"),
        (f["key_age"].id, "medium"),
    ]
    assert urgent[0]["overprivileged"] is None  # no allowed list declared

    report = run("report", "--format", "json", "--db", db).json()
    assert report["credentials"][0]["id"] == f["variable"].id
    by_id = {c["id"]: c for c in report["credentials"]}
    assert "NHI5" in [r["id"] for r in by_id[f["variable"].id]["nhi_risks"]]
    assert "NHI5" not in [r["id"] for r in by_id[f["spread"].id]["nhi_risks"]]
    assert by_id[f["variable"].id]["reach"]["severity"] == "critical"
    audit = run("report", "--audit", "--db", db)
    assert "critical (admin): admin:org!, repo" in audit.stdout

    plan = run("revoke", "--all", "--format", "json", "--db", db).json()["plan"]
    assert plan[0]["finding"] == f["variable"].id and plan[0]["severity"] == "critical"
    assert plan[0]["reach"]["flagged"] == ["admin:org"]
    ranks = [SEVERITIES.index(p["severity"]) for p in plan]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize("value", ['"read:org"', '[1, 2]', '[""]'])
def test_an_allowed_list_that_is_not_a_list_of_names_is_a_one_line_error(run, tmp_path, value):
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text(f'[[owner]]\nname = "x"\nallowed = {value}\n[owner.match]\nprovider = "github"\n')
    result = run("owners", "--db", tmp_path / "k.db", "--offline", "--owners-file", owners_file)
    assert result.code == 2
    assert "owner #1: allowed: expected a list of permission names" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- OpenAI and Anthropic: the admin inventory, read with keysweep's own admin key ----------------

def test_openai_reach_names_project_owner_and_role_from_the_admin_inventory_and_no_permission(
        run, make_repo, keys, tmp_path, monkeypatch):
    user_key, bot_key = keys.openai_project(), keys.openai_service_account()
    repo = make_repo("app")
    repo.commit("config", {".env": f"OPENAI_API_KEY={user_key}\nBOT_KEY={bot_key}\n"})
    db = tmp_path / "store.db"
    fake = FakeOpenAI([user_key, bot_key], projects=1, owners={bot_key: {"type": "service_account", "service_account": {
        "object": "organization.project.service_account", "id": "svc_1", "name": "build-bot", "role": "owner",
        "created_at": 1700000000}}})
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, fakes.env())
        run("scan", "git", repo.path, "--db", db)
        verified = run("verify", "--db", db, "--format", "json").json()
        bot, user = find_secret(verified, bot_key)["reach"], find_secret(verified, user_key)["reach"]
        assert bot["identity"] == "service account build-bot" and bot["resources"] == ["project:proj_000"]
        assert bot["details"]["owner_type"] == "service_account" and bot["details"]["owner_role"] == "owner"
        assert user["identity"] == "user dev@example.com" and user["details"]["owner_role"] == "member"
        for reach in (bot, user):
            # the key object says nothing of All / Restricted / Read only: nothing is invented
            assert reach["permissions"] is None and reach["access"] is None and reach["flagged"] == []
            assert any("All, Restricted or Read only" in note for note in reach["unknown"])
            assert reach["severity"] == "high"
        listings = [p for m, p in fake.requests if p == "/v1/organization/projects"]
        assert len(listings) == 1  # the inventory is read once for the run's two keys
        assert not any(m == "DELETE" for m, _ in fake.requests)
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert user_key.encode() not in db_bytes and bot_key.encode() not in db_bytes


def test_openai_reach_without_an_admin_key_says_what_it_could_not_read(run, make_repo, keys, tmp_path, monkeypatch):
    key = keys.openai_project()
    repo = make_repo("app")
    repo.commit("config", {".env": f"OPENAI_API_KEY={key}\n"})
    db = tmp_path / "store.db"
    with FakeProviders(openai=FakeOpenAI([key])) as fakes:
        set_env(monkeypatch, {k: v for k, v in fakes.env().items() if k != "OPENAI_ADMIN_KEY"})  # unsets it
        run("scan", "git", repo.path, "--db", db)
        reach = find_secret(run("verify", "--db", db, "--format", "json").json(), key)["reach"]
        assert reach["permissions"] is None and reach["details"] == {}
        assert "owner and project: not read (OPENAI_ADMIN_KEY is not set)" in reach["unknown"]
        assert ("GET", "/v1/organization/projects") not in fakes["openai"].requests


def test_anthropic_reach_names_the_keys_workspace_and_creator(run, make_repo, keys, tmp_path, monkeypatch):
    in_ws, default = keys.anthropic(), keys.anthropic()
    repo = make_repo("app")
    repo.commit("config", {".env": f"A={in_ws}\nB={default}\n"})
    db = tmp_path / "store.db"
    fake = FakeAnthropic([in_ws, default], workspaces={in_ws: "wrkspc_01Search"},
                         users={"user_1": {"email": "jane@acme.io", "name": "Jane", "role": "developer"}})
    with FakeProviders(anthropic=fake) as fakes:
        set_env(monkeypatch, fakes.env())
        run("scan", "git", repo.path, "--db", db)
        verified = run("verify", "--db", db, "--format", "json").json()
        ws, dflt = find_secret(verified, in_ws)["reach"], find_secret(verified, default)["reach"]
        assert ws["resources"] == ["workspace:wrkspc_01Search (ws wrkspc_01Search)"]
        assert dflt["resources"] == ["workspace:default (the organisation's Default workspace)"]
        assert ws["identity"] == "key created by jane@acme.io" and ws["details"]["status"] == "active"
        assert ws["permissions"] is None and ws["flagged"] == [] and ws["unknown"]


def test_admin_api_keys_are_flagged_admin_equivalent():
    openai = openai_reach({"admin_key": True, "org": "org-acme"}, None)
    anthropic = anthropic_reach({"admin_key": True, "org_id": "org_1", "org": "Acme"}, None)
    for reach in (openai, anthropic):
        assert reach.flagged == ("admin-api-key",) and reach.access == "admin" and reach.permissions is None
        assert severity("live", reach.record()) == "critical"


# -- AWS: the IAM user's policies, read with keysweep's own credentials (moto) --------------------

@pytest.mark.parametrize("actions, expected", [
    (["*"], ("*:*",)),
    (["iam:*", "s3:GetObject"], ("iam:*",)),
    (["iam:PutUserPolicy"], ("iam:PutUserPolicy",)),
    (["iam:Put*"], ("iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy")),
    (["iam:PassRole", "lambda:CreateFunction", "s3:*"], ("iam:PassRole + lambda:CreateFunction",)),
    (["iam:PassRole", "s3:*"], ()),
    (["s3:*", "ec2:Describe*"], ()),
])
def test_admin_equivalence_from_allowed_actions(actions, expected):
    reach = aws_reach("arn:aws:iam::123456789012:user/u", [("inline p", {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})])
    assert reach.flagged == expected
    assert (reach.access == "admin") is bool(expected)


def test_aws_policy_documents_url_encoded_not_action_deny_and_conditions():
    encoded = "%7B%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3AGetObject%22%7D%5D%7D"
    reach = aws_reach("arn:aws:iam::1:user/u", [("managed p", encoded)])
    assert reach.permissions == ("s3:GetObject",) and reach.access == "read" and reach.unknown == ()
    broad = aws_reach("arn:aws:iam::1:user/u", [("inline p", {"Statement": [
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]})])
    assert "Allow with NotAction" in broad.flagged and broad.access == "admin"
    assert any("Deny" in note for note in broad.unknown) and any("Condition" in note for note in broad.unknown)
    assert aws_reach("arn:aws:iam::1:root", []).flagged == ("account root user",)


OWNERS_AWS = """
[[owner]]
name = "Reports"
allowed = ["s3:Get*", "s3:List*", "athena:GetQueryResults"]
[owner.match]
key_id = "{reader}"

[[owner]]
name = "Reports (read-only purpose)"
purpose = "read-only reporting"
allowed = ["s3:GetObject"]
[owner.match]
key_id = "{admin}"
"""


def test_aws_reach_reads_managed_inline_and_group_policies_with_keysweeps_own_credentials(
        run, aws_principals, make_repo, tmp_path):
    admin, reader = aws_principals["admin"], aws_principals["reader"]
    repo = make_repo()
    repo.commit("creds", {
        "ops/credentials": f"[default]\naws_access_key_id = {admin['AccessKeyId']}\n"
                           f"aws_secret_access_key = {admin['SecretAccessKey']}\n",
        "reports/credentials": f"[default]\naws_access_key_id = {reader['AccessKeyId']}\n"
                               f"aws_secret_access_key = {reader['SecretAccessKey']}\n"})
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text(OWNERS_AWS.format(reader=reader["AccessKeyId"], admin=admin["AccessKeyId"]))
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)
    verified = run("verify", "--db", db, "--format", "json")
    run("owners", "--db", db, "--offline", "--owners-file", owners_file)
    by_key = {f["key_id"]: f for f in run("findings", "--db", db, "--format", "json").json()
              if f["rule_id"] == "aws.secret-access-key"}

    ops = by_key[admin["AccessKeyId"]]["reach"]
    assert ops["identity"].endswith(":user/ops-admin")
    assert ops["permissions"] == ["*"] and ops["flagged"] == ["*:*"] and ops["access"] == "admin"
    assert ops["severity"] == "critical" and ops["overprivileged"] is True
    assert any("everything" in r for r in ops["resources"])

    reports = by_key[reader["AccessKeyId"]]["reach"]
    # the reader's own key may not read IAM: these policies were read with keysweep's credentials
    assert reports["permissions"] == ["athena:GetQueryResults", "s3:GetObject", "s3:ListBucket"]
    assert reports["flagged"] == [] and reports["access"] == "read" and reports["unknown"] == []
    assert reports["overprivileged"] is False
    # read-only, but committed long before it was seen live: out for more than a week
    assert by_key[reader["AccessKeyId"]]["occurrences"][0]["committed_at"] < "2026-11-01"
    assert reports["severity"] == "high"
    assert any("group analysts inline athena" == r for r in reports["resources"])
    for value in (admin["SecretAccessKey"], reader["SecretAccessKey"]):
        assert value not in verified.stdout + verified.stderr


def test_aws_reach_without_iam_read_rights_is_unknown_not_empty(run, aws_principals, make_repo, tmp_path,
                                                                monkeypatch):
    reader = aws_principals["reader"]
    # keysweep's own credentials are now the reader's: it may not list IAM policies
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", reader["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", reader["SecretAccessKey"])
    repo = make_repo()
    repo.commit("creds", {"credentials": f"[default]\naws_access_key_id = {reader['AccessKeyId']}\n"
                                         f"aws_secret_access_key = {reader['SecretAccessKey']}\n"})
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)
    finding = next(f for f in run("verify", "--db", db, "--format", "json").json()
                   if f["rule_id"] == "aws.secret-access-key")
    reach = finding["reach"]
    assert finding["verification"]["status"] == "live"
    assert reach["permissions"] is None and reach["access"] is None and reach["severity"] == "high"
    assert any("AccessDenied" in note for note in reach["unknown"])


# -- the store keeps the reach with its verification, on SQLite and PostgreSQL --------------------

def test_the_newest_reach_is_kept_after_later_checks_and_the_owners_allowed_list_comes_with_the_owner(store_at):
    from tests.test_store_backends import a_finding

    store = Store(store_at)
    finding = a_finding(0)
    store.record([finding], "scope", "2026-01-01T00:00:00Z")
    older = Reach(identity="old", permissions=("repo",), access="write").record()
    newer = Reach(identity="new", permissions=("admin:org",), flagged=("admin:org",), access="admin").record()
    store.record_verification(finding.id, "live", {}, None, "2026-01-01T00:00:01Z", reach=older)
    store.record_verification(finding.id, "live", {}, None, "2026-01-02T00:00:00Z", reach=newer)
    store.record_verification(finding.id, "dead", {"dead_reason": "Bad credentials"}, None, "2026-01-03T00:00:00Z")
    store.replace_owner_candidates(finding.id, [
        {"name": "Org reader", "source": "owners-file", "confidence": 0.95, "evidence": "test", "chosen": True,
         "details": {"specificity": 1, "allowed": ["read:org"]}},
        {"name": "bob", "source": "commit-author", "confidence": 0.3, "evidence": "test", "chosen": False}],
        "2026-01-03T00:00:00Z")
    [read] = store.findings(ids=[finding.id])
    assert read.verification["status"] == "dead"
    assert read.reach["identity"] == "new" and read.reach["flagged"] == ["admin:org"]
    assert read.owner["allowed"] == ["read:org"]
    shown = reach_json(read.reach, liveness="dead", allowed=read.owner["allowed"])
    assert shown["overprivileged"] is True and shown["severity"] == "low"
    store.close()


def test_a_reach_read_later_is_kept_with_the_live_check_it_belongs_to(store_at):
    """On SQLite and PostgreSQL: only a newest *live* check without reach is due; attaching fills
    that check (never one that has a reach, never a new row)."""
    from tests.test_store_backends import a_finding

    store = Store(store_at)
    live, dead, done = a_finding(0), a_finding(1), a_finding(2)
    store.record([live, dead, done], "scope", "2026-01-01T00:00:00Z")
    store.record_verification(live.id, "dead", {}, None, "2026-01-01T00:00:01Z")
    store.record_verification(live.id, "live", {}, None, "2026-01-02T00:00:00Z")
    store.record_verification(dead.id, "live", {}, None, "2026-01-01T00:00:00Z")
    store.record_verification(dead.id, "dead", {}, None, "2026-01-02T00:00:00Z")
    store.record_verification(done.id, "live", {}, None, "2026-01-02T00:00:00Z",
                              reach=Reach(identity="seen", access="read").record())
    due = store.checks_without_reach([live.id, dead.id, done.id])
    assert set(due) == {live.id}
    store.attach_reach(due[live.id], Reach(identity="late", permissions=("repo",), access="write").record())
    assert store.checks_without_reach([live.id]) == {}
    [read] = store.findings(ids=[live.id])
    assert read.reach["identity"] == "late" and read.verification["checked_at"] == "2026-01-02T00:00:00Z"
    store.close()


def test_severity_and_overprivileged_select_in_findings_revoke_and_report(run, tmp_path):
    db, f = responder_store(tmp_path)
    store = Store(db)
    admin = Reach(identity="deploy-bot", permissions=("admin:org", "repo"), flagged=("admin:org",), access="admin",
                  evidence="test").record()
    store.record_verification(f["variable"].id, "live", {}, None, "2026-12-02T10:00:00Z", reach=admin)
    store.replace_owner_candidates(f["variable"].id, [
        {"name": "web-team", "team": "web", "source": "owners-file", "confidence": 0.95, "evidence": "test",
         "chosen": True, "details": {"allowed": ["read:org"]}}], "2026-12-02T10:00:00Z")
    store.close()

    critical = run("findings", "--db", db, "--severity", "critical", "--format", "json").json()
    assert [x["id"] for x in critical] == [f["variable"].id]
    high_or_worse = {x["id"] for x in run("findings", "--db", db, "--severity", "high", "--format", "json").json()}
    assert {f["variable"].id, f["live"].id, f["spread"].id} <= high_or_worse and f["flaky"].id not in high_or_worse
    over = run("revoke", "--overprivileged", "--format", "json", "--db", db).json()["plan"]
    assert [p["finding"] for p in over] == [f["variable"].id] and over[0]["reach"]["overprivileged"] is True
    report = run("report", "--severity", "critical", "--format", "json", "--db", db).json()
    assert report["totals"]["count"] == 1
    bad = run("findings", "--db", db, "--severity", "severe")
    assert bad.code == 2 and "Traceback" not in bad.stderr


def test_owner_notifications_say_how_severe_the_key_is_and_what_it_can_do():
    from keysweep.remediation import notify
    from tests.test_store_backends import a_finding

    finding = a_finding(0)
    finding.verification = {"status": "live", "checked_at": "2026-01-01T00:00:00Z", "identity": {}}
    finding.reach = Reach(identity="deploy-bot", permissions=("admin:org", "repo"), flagged=("admin:org",),
                          access="admin", evidence="test").record()
    finding.owner = {"name": "Org reader", "allowed": ["read:org"]}
    facts = notify.message("cannot_revoke", finding)
    assert facts["severity"] == "critical" and facts["reach"]["overprivileged"] is True
    slack = notify.body(notify.Target("https://hooks.example/x", "slack", "default"), facts)["text"]
    assert "It can: `critical (admin): admin:org!, repo; overprivileged`" in slack  # a code span: roles are named by the policy
    plain = a_finding(1)
    assert notify.message("found", plain)["reach"] is None and notify.message("found", plain)["severity"] == "medium"


# -- Slack, GitLab, Hugging Face end to end ----------------------------------------------------------

def test_slack_gitlab_and_hugging_face_reach_from_their_documented_answers(
        run, make_repo, keys, tmp_path, monkeypatch, fake_api):
    slack_admin, slack_plain = keys.slack_bot(), keys.slack_bot()
    gitlab_root, gitlab_reader = keys.gitlab_pat(), keys.gitlab_pat()
    hf_token = keys.huggingface()
    repo = make_repo("app")
    repo.commit("config", {".env": f"S1={slack_admin}\nS2={slack_plain}\nG1={gitlab_root}\nG2={gitlab_reader}\n"
                                   f"HF_TOKEN={hf_token}\n"})
    fake_api.add("GET", "/hf/api/whoami-v2", json={
        "type": "user", "id": "u1", "name": "jane", "fullname": "Jane", "email": "jane@acme.io",
        "orgs": [{"type": "org", "name": "acme", "roleInOrg": "admin"}, {"type": "org", "name": "lab",
                                                                       "roleInOrg": "read"}],
        "auth": {"type": "access_token", "accessToken": {"displayName": "ci", "role": "write"}}})
    monkeypatch.setenv("HF_ENDPOINT", fake_api.url + "/hf")
    slack = FakeSlack([slack_admin, slack_plain], scopes={slack_admin: "chat:write,admin.users:write"})
    gitlab = FakeGitLab([gitlab_root, gitlab_reader], scopes={gitlab_reader: ["read_api", "read_repository"]},
                        admins=[gitlab_root])
    db = tmp_path / "store.db"
    with FakeProviders(slack=slack, gitlab=gitlab) as fakes:
        set_env(monkeypatch, fakes.env())
        run("scan", "git", repo.path, "--db", db)
        verified = run("verify", "--db", db, "--format", "json").json()
    reach = {name: find_secret(verified, value)["reach"] for name, value in (
        ("slack_admin", slack_admin), ("slack_plain", slack_plain), ("gitlab_root", gitlab_root),
        ("gitlab_reader", gitlab_reader), ("hf", hf_token))}
    assert reach["slack_admin"]["permissions"] == ["admin.users:write", "chat:write"]
    assert reach["slack_admin"]["flagged"] == ["admin.users:write"] and reach["slack_admin"]["severity"] == "critical"
    # Slack sent no x-oauth-scopes header for this token: its scopes are unknown, not empty
    assert reach["slack_plain"]["permissions"] is None and reach["slack_plain"]["unknown"]
    assert reach["gitlab_root"]["flagged"] == ["api"] and reach["gitlab_root"]["details"] == {"role": "administrator"}
    assert reach["gitlab_reader"]["access"] == "read" and reach["gitlab_reader"]["identity"] == "jane"
    assert reach["hf"]["permissions"] == ["write"] and reach["hf"]["flagged"] == ["org-admin:acme"]
    assert reach["hf"]["resources"] == ["org:acme", "org:lab"]


def test_a_failing_reader_gives_an_unknown_reach_without_the_secret(monkeypatch):
    import asyncio

    from keysweep.context import Context
    from keysweep.providers.base import Provider
    from keysweep.settings import Settings
    from keysweep.verify import runner
    from keysweep.verify.model import Credential
    from tests.test_store_backends import a_finding

    secret = "ghp_" + "Q7x" * 12

    async def broken(credential, ctx, identity):
        raise ValueError(f"unexpected body echoing {credential.secret}")

    monkeypatch.setattr(runner, "provider_record", lambda name: Provider(name, name, reach=broken))
    record = asyncio.run(runner.read_reach(a_finding(0), Credential("github", "github.classic-pat", secret),
                                           Context(http=None, settings=Settings()), {}))
    assert record["permissions"] is None and record["access"] is None
    assert record["unknown"][0].startswith("reach not read: ValueError")
    assert "Q7xQ7xQ7x" not in repr(record) and record["checked_at"].endswith("Z")


@pytest.mark.parametrize("allow, deny, permissions, flagged", [
    # an unconditional Deny on every resource takes its actions away
    (["s3:*", "iam:PutUserPolicy"], ["iam:*"], ("s3:*",), ()),
    (["s3:GetObject", "s3:Get*", "s3:PutObject"], ["s3:Get*"], ("s3:PutObject",), ()),
    (["iam:Put*"], ["iam:PutUserPolicy"], ("iam:Put*",), ("iam:PutGroupPolicy", "iam:PutRolePolicy")),
    (["iam:PassRole", "lambda:CreateFunction"], ["iam:PassRole"], ("lambda:CreateFunction",), ()),
    # everything but IAM is still everything else: *:* stays flagged
    (["*"], ["iam:*"], ("*",), ("*:*",)),
    (["*"], ["*"], (), ()),
])
def test_an_unconditional_deny_takes_its_actions_away(allow, deny, permissions, flagged):
    reach = aws_reach("arn:aws:iam::1:user/u", [("inline p", {"Statement": [
        {"Effect": "Allow", "Action": allow, "Resource": "*"},
        {"Effect": "Deny", "Action": deny, "Resource": "*"}]})])
    assert reach.permissions == permissions and reach.flagged == flagged
    assert reach.unknown == () and reach.details["denied"] == sorted(set(deny))


NOT_COUNTED = ": not counted as taking a permission away (the permissions listed are what is allowed before it)"


@pytest.mark.parametrize("deny, note", [
    ({"Sid": "NoIamWithoutMfa", "Effect": "Deny", "Action": "iam:*", "Resource": "*",
      "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}},
     'inline p: Deny statement "NoIamWithoutMfa" (iam:*) holds only under a Condition keysweep does not evaluate '
     "(Bool aws:MultiFactorAuthPresent false)"),
    ({"Effect": "Deny", "Action": ["iam:PutUserPolicy", "iam:PassRole"], "Resource": "*",
      "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-0a1b"},
                    "NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}},
     "inline p: Deny statement 2 (iam:PutUserPolicy, iam:PassRole) holds only under a Condition keysweep does not "
     "evaluate (StringNotEquals aws:SourceVpc vpc-0a1b; NotIpAddress aws:SourceIp 10.0.0.0/8, 192.168.0.0/16)"),
    ({"Effect": "Deny", "Action": "iam:*", "Resource": "arn:aws:iam::1:user/admin"},
     "inline p: Deny statement 2 (iam:*) applies only to arn:aws:iam::1:user/admin"),
    ({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"},
     "inline p: Deny statement 2 (NotAction s3:*) denies every action but those named (NotAction)"),
    ({"Effect": "Deny", "Action": "iam:*", "NotResource": ["arn:aws:iam::1:user/u"]},
     "inline p: Deny statement 2 (iam:*) applies to every resource but arn:aws:iam::1:user/u (NotResource)"),
])
def test_a_deny_that_depends_on_the_request_is_named_and_takes_nothing_away(deny, note):
    reach = aws_reach("arn:aws:iam::1:user/u", [("inline p", {"Statement": [
        {"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*"}, deny]})])
    assert reach.permissions == ("iam:PutUserPolicy",) and reach.flagged == ("iam:PutUserPolicy",)
    assert reach.unknown == (note + NOT_COUNTED,) and "denied" not in reach.details


def test_an_unconditional_deny_beside_an_allow_by_not_action_is_named_not_weighed():
    reach = aws_reach("arn:aws:iam::1:user/u", [("inline p", {"Statement": [
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Sid": "KeepBuckets", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]})])
    assert reach.permissions == ("NotAction:*",) and "denied" not in reach.details
    assert reach.unknown == ('inline p: Deny statement "KeepBuckets" (s3:DeleteBucket) is not weighed against an '
                             "Allow by NotAction" + NOT_COUNTED,)


@pytest.fixture
def guarded_deployer(aws_principals, moto_endpoint):
    """In moto: a deployer user allowed iam:PassRole, lambda:CreateFunction and s3:*, under an inline
    guard policy: PassRole denied outside one VPC (a Condition), iam:* denied without MFA (a Condition,
    no Sid), s3:DeleteBucket denied outright."""
    import json

    import boto3
    import requests

    requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)  # set up as the account
    try:
        iam = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        iam.create_user(UserName="deployer")
        iam.attach_user_policy(UserName="deployer", PolicyArn=iam.create_policy(
            PolicyName="deploy", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "s3:*"],
                 "Resource": "*"}]}))["Policy"]["Arn"])
        iam.put_user_policy(UserName="deployer", PolicyName="guard", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Sid": "PassRoleOnlyFromTheBuildVpc", "Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                 "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-0a1b2c3d"}}},
                {"Effect": "Deny", "Action": "iam:*", "Resource": "*",
                 "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
                {"Sid": "KeepBuckets", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
    finally:
        requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"0", timeout=10)
    return key


def test_conditional_denies_read_from_iam_are_named_in_unknown_and_take_no_permission_away(
        run, guarded_deployer, make_repo, tmp_path):
    key = guarded_deployer
    repo = make_repo()
    repo.commit("creds", {"deploy/credentials": f"[default]\naws_access_key_id = {key['AccessKeyId']}\n"
                                                f"aws_secret_access_key = {key['SecretAccessKey']}\n"})
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)
    verified = run("verify", "--db", db, "--format", "json")
    finding = next(f for f in verified.json() if f["rule_id"] == "aws.secret-access-key")
    reach = finding["reach"]
    assert finding["verification"]["status"] == "live"
    # Only the unconditional Deny takes its action away; s3:* less s3:DeleteBucket is still s3:*.
    assert reach["details"]["denied"] == ["s3:DeleteBucket"]
    # The conditional ones may not hold for the attacker's request: PassRole with a launcher stays.
    assert reach["permissions"] == ["iam:PassRole", "lambda:CreateFunction", "s3:*"]
    assert reach["flagged"] == ["iam:PassRole + lambda:CreateFunction"]
    assert reach["access"] == "admin" and reach["severity"] == "critical"
    assert reach["unknown"] == [
        'user deployer inline guard: Deny statement "PassRoleOnlyFromTheBuildVpc" (iam:PassRole) holds only under '
        "a Condition keysweep does not evaluate (StringNotEquals aws:SourceVpc vpc-0a1b2c3d)" + NOT_COUNTED,
        "user deployer inline guard: Deny statement 2 (iam:*) holds only under a Condition keysweep does not "
        "evaluate (BoolIfExists aws:MultiFactorAuthPresent false)" + NOT_COUNTED]
    assert key["SecretAccessKey"] not in verified.stdout + verified.stderr


def test_an_allowed_action_an_owner_declared_is_not_overprivileged_once_the_rest_is_denied():
    reach = aws_reach("arn:aws:iam::1:user/u", [("inline p", {"Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}]})]).record()
    assert overprivileged(reach, ["s3:GetObject"]) is False and reach["access"] == "read"
