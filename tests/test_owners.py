"""Owner resolution on real repositories: the owners file, CODEOWNERS at the commit where the key
was found, commit authors, provider admin inventories (OpenAI, Anthropic) served locally, AWS IAM
users and tags in moto, and the token's own identity. Every candidate is stored, one is chosen and
explained, and near misses never match."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from keysweep.owners.inventories import hint_fits, hint_fits_redacted, split_hint
from keysweep.owners.repo import codeowners_regex, owners_of, parse_codeowners
from tests.conftest import allow, find_secret

OWNERS_TOML = """
[[owner]]
name = "Jane Doe"
team = "ml-platform"
purpose = "RAG service embeddings"
contact = "jane@acme.io"
[owner.match]
path = "services/rag/**"
provider = "openai"

[[owner]]
name = "Near Miss"
team = "wrong-team"
[owner.match]
path = "services/ragged/**"
"""


def owners(run, db, *args):
    result = run("owners", "--db", db, "--format", "json", *args)
    assert result.code in (0, 1), result
    return result, result.json()


@pytest.fixture
def attributed_repo(make_repo, keys):
    repo = make_repo("app")
    repo.commit("codeowners", {"CODEOWNERS": "*  @acme/platform\n/services/rag/  @acme/ml @jane\n/scripts/\n"},
                author=("Alice Admin", "alice@acme.io"))
    secrets = {"rag": keys.openai_project(), "script": keys.openai_project(), "other": keys.anthropic()}
    repo.commit("rag config", {"services/rag/.env": f"OPENAI_API_KEY={secrets['rag']}\n",
                               "scripts/deploy.sh": f"export OPENAI_API_KEY={secrets['script']}\n",
                               "web/app.py": f'ANTHROPIC_KEY = "{secrets["other"]}"\n'},
                author=("Bob Builder", "bob@acme.io"))
    # Later ownership changes must not rewrite who owned the path when the key was committed.
    repo.commit("reorg", {"CODEOWNERS": "*  @acme/newcomers\n"}, author=("Alice Admin", "alice@acme.io"))
    return repo, secrets


def test_owners_file_codeowners_at_the_commit_and_commit_author(run, attributed_repo, tmp_path):
    repo, secrets = attributed_repo
    db = tmp_path / "s.db"
    assert run("scan", "git", repo.path, "--db", db).code == 1
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text(OWNERS_TOML)

    result, findings = owners(run, db, "--offline", "--owners-file", owners_file)
    rag, script, other = (find_secret(findings, secrets[k]) for k in ("rag", "script", "other"))

    assert rag["owner"]["name"] == "Jane Doe" and rag["owner"]["source"] == "owners-file"
    assert rag["owner"]["team"] == "ml-platform" and rag["owner"]["purpose"] == "RAG service embeddings"
    assert rag["owner"]["confidence"] >= 0.95 and "path=services/rag/**" in rag["owner"]["evidence"]
    assert set(rag["owner"]) >= {"name", "team", "purpose", "source", "confidence", "evidence"}
    sources = {c["source"]: c for c in rag["owner_candidates"]}
    assert set(sources) == {"owners-file", "codeowners", "commit-author"}
    assert "Near Miss" not in json.dumps(rag["owner_candidates"])
    assert sources["codeowners"]["name"] == "@jane" and sources["codeowners"]["team"] == "@acme/ml"
    assert "/services/rag/" in sources["codeowners"]["evidence"]
    assert sources["commit-author"]["name"] == "Bob Builder" and sources["commit-author"]["confidence"] == 0.3
    assert [c["chosen"] for c in rag["owner_candidates"]].count(True) == 1

    # web/app.py falls under `*` as it was at that commit: @acme/platform, not the later @acme/newcomers.
    assert other["owner"]["source"] == "codeowners" and other["owner"]["name"] == "@acme/platform"
    # /scripts/ has an explicit empty owner line: only the commit author is left, below the threshold.
    assert script["owner"]["source"] == "commit-author" and script["unowned"] is True
    assert rag["unowned"] is False and other["unowned"] is False

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT finding_id, sum(chosen), count(*) FROM owner_candidates GROUP BY finding_id").fetchall()
    assert {r[1] for r in rows} == {1} and sum(r[2] for r in rows) == 3 + 1 + 2
    assert "Bob" not in {r[0] for r in conn.execute("SELECT name FROM owner_candidates WHERE chosen = 1 AND finding_id = ?",
                                                    [rag["id"]])}

    unowned = run("owners", "--db", db, "--offline", "--owners-file", owners_file, "--unowned", "--format", "json")
    assert unowned.code == 1 and [f["id"] for f in unowned.json()] == [script["id"]]
    assert "2 owned, 1 unowned" in unowned.stderr
    strict = run("owners", "--db", db, "--offline", "--owners-file", owners_file, "--unowned", "--threshold", "0.99")
    assert strict.code == 1 and "3 unowned" in strict.stderr and "(unowned)" in strict.stdout

    # `findings` shows the stored owner too (the JSON contract), with no secret anywhere.
    listed = run("findings", "--db", db, "--format", "json")
    assert find_secret(listed.json(), secrets["rag"])["owner"]["name"] == "Jane Doe"
    for value in secrets.values():
        assert value not in result.stdout + result.stderr + listed.stdout + strict.stdout


def test_owners_file_is_found_in_the_current_directory_and_bad_files_are_one_line_errors(run, attributed_repo,
                                                                                         tmp_path):
    repo, secrets = attributed_repo
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "keysweep-owners.toml").write_text(OWNERS_TOML)
    result = run("owners", "--db", db, "--offline", "--format", "json", cwd=workdir)
    assert find_secret(result.json(), secrets["rag"])["owner"]["name"] == "Jane Doe"

    (workdir / "keysweep-owners.toml").write_text("[[owner]]\nname = 'x'\n[owner.match]\ncolour = 'blue'\n")
    bad = run("owners", "--db", db, "--offline", cwd=workdir)
    assert bad.code == 2 and "unknown match key" in bad.stderr and "Traceback" not in bad.stderr
    (workdir / "keysweep-owners.toml").write_text("[[owner]\n")
    assert run("owners", "--db", db, "--offline", cwd=workdir).code == 2
    missing = run("owners", "--db", db, "--owners-file", tmp_path / "nope.toml")
    assert missing.code == 2 and "no such owners file" in missing.stderr


def test_documented_owners_file_parses():
    from keysweep.owners.ownersfile import parse_owners

    text = (Path(__file__).resolve().parent.parent / "docs" / "owners.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        assert parse_owners(block, "docs/owners.md")


@pytest.mark.parametrize("pattern, path, expected", [
    ("*", "a/b/c.txt", True),
    ("*.env", "services/rag/.env", True),  # gitignore: * may be empty
    ("*.env", "services/rag/prod.env", True),
    (".env", "services/rag/.env", True),
    ("/services/rag/", "services/rag/.env", True),
    ("/services/rag/", "other/services/rag/.env", False),
    ("services/", "x/services/y.py", True),
    ("docs/*", "docs/a.md", True),
    ("docs/*", "docs/build/b.md", False),
    ("/build/logs/", "build/logs/x/y.log", True),
    ("**/logs", "deep/down/logs/a.log", True),
    ("apps/**/config", "apps/a/b/config", True),
    ("/README.md", "sub/README.md", False),
])
def test_codeowners_patterns_follow_githubs_rules(pattern, path, expected):
    assert bool(codeowners_regex(pattern).match(path)) is expected


def test_codeowners_last_match_wins_and_empty_owner_lines_unown():
    rules = parse_codeowners("# team\n*.py @acme/py\n/api/ @acme/api @lead  # API\n/api/generated/\n")
    assert owners_of(rules, "api/x.py").owners == ("@acme/api", "@lead")
    assert owners_of(rules, "lib/x.py").owners == ("@acme/py",)
    assert owners_of(rules, "api/generated/x.py").owners == ()
    assert owners_of(rules, "README") is None


def test_github_codeowners_location_takes_precedence(run, make_repo, keys, tmp_path):
    repo = make_repo()
    secret = keys.openai_project()
    repo.commit("owners", {"CODEOWNERS": "* @root-file\n", ".github/CODEOWNERS": "* @dot-github\n",
                           "docs/CODEOWNERS": "* @docs-file\n", "app.env": f"OPENAI_API_KEY={secret}\n"})
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)
    _, findings = owners(run, db, "--offline")
    owner = find_secret(findings, secret)["owner"]
    assert owner["name"] == "@dot-github" and ".github/CODEOWNERS" in owner["evidence"]


# -- provider admin inventories -------------------------------------------------------------------
def openai_key(key_id, redacted, *, owner=None, name="key", last_used=1735689600):
    return {"object": "organization.project.api_key", "id": key_id, "name": name, "redacted_value": redacted,
            "created_at": 1704067200, "last_used_at": last_used, "owner_project_access": "active",
            "owner": owner or {"type": "user", "user": {"object": "organization.project.user", "id": "user_1",
                                                        "name": "Jane Doe", "email": "jane@acme.io",
                                                        "role": "owner", "added_at": 1704067200}}}


def test_openai_admin_inventory_names_the_key_its_owner_and_project(run, fake_api, monkeypatch, make_repo, keys,
                                                                     tmp_path):
    leaked = keys.openai_project()
    admin_key = keys.openai_admin()
    other = keys.openai_project()
    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", admin_key)
    fake_api.add("GET", "/openai/v1/organization/projects", lambda req: __import__(
        "tests.fakes.api", fromlist=["Reply"]).Reply(json={
            "object": "list", "first_id": "proj_a", "last_id": "proj_a" if not req.query.get("after") else "proj_b",
            "has_more": not req.query.get("after"),
            "data": [{"id": "proj_a", "object": "organization.project", "name": "Chatbot", "status": "active"}]
            if not req.query.get("after") else
            [{"id": "proj_b", "object": "organization.project", "name": "Search", "status": "active"}]}))
    near_prefix = leaked[:12] + "..." + "Zz9q"  # same visible prefix, different suffix
    near_suffix = "sk-proj-QQQQ..." + leaked[-4:]  # same suffix, different prefix
    fake_api.add("GET", "/openai/v1/organization/projects/proj_a/api_keys", json={
        "object": "list", "has_more": False, "first_id": "key_near1", "last_id": "key_near2",
        "data": [openai_key("key_near1", near_prefix), openai_key("key_near2", near_suffix),
                 openai_key("key_other", other[:12] + "..." + other[-4:])]})
    fake_api.add("GET", "/openai/v1/organization/projects/proj_b/api_keys", json={
        "object": "list", "has_more": False,
        "data": [openai_key("key_leaked", leaked[:12] + "..." + leaked[-4:], name="search-indexer",
                            owner={"type": "service_account",
                                   "service_account": {"id": "svc_1", "name": "indexer-bot", "role": "member",
                                                       "created_at": 1704067200}})]})
    fake_api.add("GET", "/openai/v1/organization/admin_api_keys", json={"object": "list", "data": [],
                                                                        "has_more": False})
    repo = make_repo()
    repo.commit("leak", {"search/.env": f"OPENAI_API_KEY={leaked}\n"})
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)

    result, findings = owners(run, db)
    finding = find_secret(findings, leaked)
    admin = [c for c in finding["owner_candidates"] if c["source"] == "openai-admin"]
    assert len(admin) == 1, admin
    assert admin[0]["name"] == "service account indexer-bot" and admin[0]["team"] == "Search"
    assert admin[0]["purpose"] == "search-indexer"
    assert admin[0]["details"]["project_id"] == "proj_b" and admin[0]["details"]["api_key_id"] == "key_leaked"
    assert admin[0]["details"]["last_used_at"] == "2025-01-01T00:00:00Z"
    assert finding["key_id"] == "key_leaked"
    assert finding["owner"]["source"] == "openai-admin"
    for request in fake_api.requests:
        assert request.header("Authorization") == f"Bearer {admin_key}"
    assert fake_api.seen("/openai/v1/organization/projects/proj_a/api_keys")[0].query["owner_project_access"] == "any"
    assert len(fake_api.seen("/openai/v1/organization/projects")) == 2  # paginated
    for value in (leaked, admin_key):
        assert value not in result.stdout + result.stderr


def test_redacted_hints_match_only_the_exact_value():
    secret = "sk-ant-api03-R2D" + "x" * 80 + "igAA"
    assert split_hint("sk-ant-api03-R2D...igAA") == ("sk-ant-api03-R2D", "igAA")
    assert hint_fits("sk-ant-api03-R2D...igAA", secret)
    assert not hint_fits("sk-ant-api03-R2E...igAA", secret)
    assert not hint_fits("sk-ant-api03-R2D...igAB", secret)
    assert not hint_fits("sk-ant-api03-R2D", secret)
    assert not hint_fits("...", secret)
    assert hint_fits_redacted("sk-proj-AbCd...x9Qa", "sk-proj-…x9Qa")
    assert not hint_fits_redacted("sk-proj-AbCd...x9Qb", "sk-proj-…x9Qa")
    assert not hint_fits_redacted("sk-svcacct-AbCd...x9Qa", "sk-proj-…x9Qa")


def test_anthropic_admin_inventory_by_partial_key_hint(run, fake_api, monkeypatch, make_repo, keys, tmp_path):
    leaked = keys.anthropic()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.url + "/anthropic")
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", keys.anthropic_admin())
    hint = leaked[:16] + "..." + leaked[-4:]
    near = leaked[:15] + ("Q" if leaked[15] != "Q" else "R") + "..." + leaked[-4:]
    fake_api.add("GET", "/anthropic/v1/organizations/api_keys", json={
        "data": [
            {"type": "api_key", "id": "apikey_near", "name": "old", "partial_key_hint": near, "status": "active",
             "created_at": "2025-01-01T00:00:00Z", "created_by": {"id": "user_x", "type": "user"},
             "workspace_id": None},
            {"type": "api_key", "id": "apikey_01Leak", "name": "support-bot", "partial_key_hint": hint,
             "status": "active", "created_at": "2025-02-01T00:00:00Z",
             "created_by": {"id": "user_01Jane", "type": "user"}, "workspace_id": "wrkspc_01Support"}],
        "has_more": False, "first_id": "apikey_near", "last_id": "apikey_01Leak"})
    fake_api.add("GET", "/anthropic/v1/organizations/users/user_01Jane", json={
        "type": "user", "id": "user_01Jane", "email": "jane@acme.io", "name": "Jane Doe", "role": "developer",
        "added_at": "2024-01-01T00:00:00Z"})
    fake_api.add("GET", "/anthropic/v1/organizations/workspaces/wrkspc_01Support", json={
        "type": "workspace", "id": "wrkspc_01Support", "name": "Support", "created_at": "2024-01-01T00:00:00Z"})
    repo = make_repo()
    repo.commit("leak", {"bot.py": f'client = Anthropic(api_key="{leaked}")\n'})
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)

    _, findings = owners(run, db)
    finding = find_secret(findings, leaked)
    assert finding["owner"]["source"] == "anthropic-admin"
    assert finding["owner"]["name"] == "Jane Doe" and finding["owner"]["team"] == "Support"
    assert finding["owner"]["purpose"] == "support-bot" and finding["owner"]["contact"] == "jane@acme.io"
    assert finding["key_id"] == "apikey_01Leak"
    assert "apikey_near" not in json.dumps(finding["owner_candidates"])
    assert fake_api.seen("/anthropic/v1/organizations/api_keys")[0].header("anthropic-version") == "2023-06-01"


def test_admin_match_without_the_value_is_weaker_and_admin_errors_are_warnings(run, fake_api, monkeypatch, keys,
                                                                               tmp_path):
    leaked = keys.openai_project()
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "x.env").write_text(f"OPENAI_API_KEY={leaked}\n")
    db = tmp_path / "s.db"
    run("scan", "dir", folder, "--db", db)
    (folder / "x.env").unlink()  # the value can no longer be re-read
    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", keys.openai_admin())
    fake_api.add("GET", "/openai/v1/organization/projects", json={
        "object": "list", "has_more": False, "data": [{"id": "proj_a", "name": "Chatbot"}]})
    fake_api.add("GET", "/openai/v1/organization/projects/proj_a/api_keys", json={
        "object": "list", "has_more": False, "data": [openai_key("key_1", "sk-proj-AbCd..." + leaked[-4:])]})
    fake_api.add("GET", "/openai/v1/organization/admin_api_keys", status=403, json={"error": {"message": "no"}})

    result, findings = owners(run, db)
    candidate = [c for c in findings[0]["owner_candidates"] if c["source"] == "openai-admin"][0]
    assert candidate["confidence"] == 0.5 and "last 4 characters" in candidate["evidence"]
    assert "admin keys: HTTP 403" in result.stderr and result.stderr.count("\n") <= 3
    assert findings[0]["key_id"] is None  # a last-4 match is owner evidence, never a key id (issue 9)


def test_the_token_itself_names_its_github_user(run, fake_api, monkeypatch, make_repo, keys, tmp_path):
    token = keys.github("ghp_")
    monkeypatch.setenv("GITHUB_API_URL", fake_api.url + "/github")
    fake_api.add("GET", "/github/user", json={"login": "octocat", "id": 583231, "type": "User", "email": "o@acme.io"})
    repo = make_repo()
    repo.commit("ci", {"CODEOWNERS": "* @acme/devops\n", "ci.sh": f"export GITHUB_TOKEN={token}\n"})
    db = tmp_path / "s.db"
    run("scan", "git", repo.path, "--db", db)
    _, findings = owners(run, db)
    owner = find_secret(findings, token)["owner"]
    assert owner["name"] == "octocat" and owner["source"] == "token-identity" and owner["contact"] == "o@acme.io"
    assert "codeowners @acme/devops" in owner["evidence"]  # what it was chosen over
    verified = run("findings", "--db", db, "--format", "json").json()[0]["verification"]
    assert verified["status"] == "live"  # the check made for the owner is recorded like any other


# -- AWS: moto in server mode ----------------------------------------------------------------------
@pytest.fixture
def aws(signed_moto):
    """IAM users with tags and keys in moto; our admin credentials in the environment; moto checks
    signatures for the duration of the test."""
    moto = signed_moto()
    iam = moto.client("iam")
    iam.create_user(UserName="keysweep-admin")
    iam.put_user_policy(UserName="keysweep-admin", PolicyName="all", PolicyDocument=allow("*"))
    admin = iam.create_access_key(UserName="keysweep-admin")["AccessKey"]
    iam.create_user(UserName="rag-service", Tags=[{"Key": "Owner", "Value": "jane@acme.io"},
                                                  {"Key": "team", "Value": "ml-platform"},
                                                  {"Key": "purpose", "Value": "Bedrock embeddings"}])
    tagged = iam.create_access_key(UserName="rag-service")["AccessKey"]
    iam.create_user(UserName="legacy-batch")
    untagged = iam.create_access_key(UserName="legacy-batch")["AccessKey"]
    moto.sign_in(admin)
    return {"tagged": tagged, "untagged": untagged}


def test_aws_keys_are_verified_with_sts_and_owned_through_iam_tags(run, aws, make_repo, keys, tmp_path):
    tagged, untagged = aws["tagged"], aws["untagged"]
    bogus_id, bogus_secret = keys.aws_access_key_id(), keys.aws_secret_access_key()
    repo = make_repo()
    repo.commit("creds", {
        "rag/credentials": f"[default]\naws_access_key_id = {tagged['AccessKeyId']}\n"
                           f"aws_secret_access_key = {tagged['SecretAccessKey']}\n",
        "batch/credentials": f"[default]\naws_access_key_id = {untagged['AccessKeyId']}\n"
                             f"aws_secret_access_key = {untagged['SecretAccessKey']}\n",
        "old/credentials": f"[default]\naws_access_key_id = {bogus_id}\naws_secret_access_key = {bogus_secret}\n"})
    db = tmp_path / "s.db"
    assert run("scan", "git", repo.path, "--db", db).code == 1

    verified = run("verify", "--db", db, "--format", "json")
    by_key = {f["key_id"]: f for f in verified.json() if f["rule_id"] == "aws.secret-access-key"}
    assert by_key[tagged["AccessKeyId"]]["verification"]["status"] == "live"
    assert by_key[tagged["AccessKeyId"]]["verification"]["identity"]["arn"].endswith(":user/rag-service")
    assert by_key[bogus_id]["verification"]["status"] == "dead"
    assert by_key[bogus_id]["verification"]["identity"]["dead_reason"] == "InvalidClientTokenId"

    result, findings = owners(run, db)
    by_key = {f["key_id"]: f for f in findings if f["rule_id"] == "aws.secret-access-key"}
    owner = by_key[tagged["AccessKeyId"]]["owner"]
    assert owner["source"] == "aws-iam" and owner["name"] == "jane@acme.io"
    assert owner["team"] == "ml-platform" and owner["purpose"] == "Bedrock embeddings"
    assert "rag-service" in owner["evidence"] and owner["confidence"] == 0.9
    plain = by_key[untagged["AccessKeyId"]]["owner"]
    assert plain["source"] == "aws-iam" and plain["name"] == "IAM user legacy-batch" and plain["confidence"] == 0.6
    assert all(c["source"] != "aws-iam" for c in by_key[bogus_id]["owner_candidates"])
    for value in (tagged["SecretAccessKey"], untagged["SecretAccessKey"], bogus_secret):
        assert value not in verified.stdout + verified.stderr + result.stdout + result.stderr


def test_aws_wrong_secret_for_a_real_key_id_is_not_proof_it_is_dead(aws, keys):
    """SignatureDoesNotMatch says the secret is not that key id's secret (the id was joined to it by
    proximity; the secret may be another key's), not that the secret is dead: unknown, with the
    reason (tests/test_undocumented_answers.py has the two-profile file where it is live)."""
    import asyncio

    from keysweep.context import Context
    from keysweep.http import HttpClient
    from keysweep.providers import verifier_for
    from keysweep.settings import Settings
    from keysweep.verify.model import Credential

    async def check(secret: str):
        async with HttpClient() as http:
            return await verifier_for("aws").verify(
                Credential("aws", "aws.secret-access-key", secret, aws["tagged"]["AccessKeyId"]),
                Context(http=http, settings=Settings()))

    wrong = asyncio.run(check(keys.aws_secret_access_key()))
    assert wrong.status == "unknown" and "SignatureDoesNotMatch" in wrong.error and "not proof" in wrong.error
    assert wrong.identity == {"key_id": aws["tagged"]["AccessKeyId"]}
    right = asyncio.run(check(aws["tagged"]["SecretAccessKey"]))
    assert right.status == "live" and right.identity["key_id"] == aws["tagged"]["AccessKeyId"]
    only_id = asyncio.run(verifier_for("aws").verify(
        Credential("aws", "aws.access-key-id", aws["tagged"]["AccessKeyId"], aws["tagged"]["AccessKeyId"]),
        Context(http=None, settings=Settings())))
    assert only_id.status == "unknown" and "secret" in only_id.error


# -- cloud stores and CI variables (occurrences recorded by the remote sources) ------------------------
def test_cloud_tags_last_modifier_and_owners_file_store_and_ci_scope_rules():
    import asyncio

    from keysweep.context import Context
    from keysweep.models import Finding, Occurrence
    from keysweep.owners import OwnerContext, resolve_finding
    from keysweep.owners.ownersfile import parse_owners
    from keysweep.scanner.reread import Rereader

    rules = parse_owners("""
[[owner]]
name = "Payments on-call"
team = "payments"
[owner.match]
secret_store = "arn:aws:secretsmanager:*:*:secret:prod/payments/*"

[[owner]]
name = "Chatbot team"
[owner.match]
ci_scope = "gitlab:acme/chatbot:production"

[[owner]]
name = "Never"
[owner.match]
ci_scope = "gitlab:acme/chatbot:staging"
""", "inline")
    secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/payments/openai-AbCdEf"
    stored = Finding(id="f_1", rule_id="openai.project-key", provider="openai", secret_sha256="0" * 64,
                     redacted="sk-proj-…abcd", long_lived=True, occurrences=[
                         Occurrence(source="aws-secretsmanager", path=None, line=None,
                                    locator={"arn": secret_arn, "resource": "secretsmanager eu-west-1 prod/payments/openai"},
                                    metadata={"tags": {"Owner": "ops@acme.io", "Team": "payments", "Purpose": "refund bot"}}),
                         Occurrence(source="aws-ssm", path=None, line=None,
                                    locator={"name": "/prod/openai", "resource": "ssm eu-west-1 /prod/openai (v3)"},
                                    metadata={"last_modified_user": "arn:aws:iam::123456789012:user/jdoe",
                                              "last_modified_at": "2025-03-01T00:00:00Z"})])
    ci = Finding(id="f_2", rule_id="openai.project-key", provider="openai", secret_sha256="1" * 64,
                 redacted="sk-proj-…wxyz", long_lived=True, occurrences=[
                     Occurrence(source="gitlab-ci", path=None, line=None,
                                locator={"host": "gitlab.example.com", "project": "acme/chatbot", "variable": "OPENAI",
                                         "environment_scope": "production"})])

    async def main():
        octx = OwnerContext(ctx=Context(http=None), rereader=Rereader(), owner_rules=rules, offline=True)
        return await resolve_finding(stored, octx), await resolve_finding(ci, octx)

    stored_candidates, ci_candidates = asyncio.run(main())
    by_source = {c.source: c for c in stored_candidates}
    assert by_source["owners-file"].name == "Payments on-call" and by_source["owners-file"].chosen
    tags = by_source["cloud-tags"]
    assert (tags.name, tags.team, tags.purpose, tags.confidence) == ("ops@acme.io", "payments", "refund bot", 0.85)
    assert "prod/payments/openai" in tags.evidence
    assert by_source["last-modified-by"].name == "jdoe" and by_source["last-modified-by"].confidence == 0.45
    assert [c.name for c in ci_candidates] == ["Chatbot team"] and ci_candidates[0].chosen
