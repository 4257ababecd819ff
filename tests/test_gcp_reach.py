"""GCP service-account keys: liveness and reach read with keysweep's own token, never the key.

Live: IAM holds the key (`GET …/serviceAccounts/{email}/keys/{id}`), enabled and not expired; dead
only on Google's word (NOT_FOUND, disabled, past validBeforeTime). Reach: the roles bound to the
account in its project's IAM policy and in the policies of the folders and organization above the
project (Cloud Resource Manager getIamPolicy, getAncestry); owner, editor, every *Admin role and the
impersonation roles are admin-equivalent; a key whose owner allows a viewer role but which holds
editor is overprivileged. What could not be read is named in `unknown`, where it was granted."""

from __future__ import annotations

import pytest

from keysweep.providers.gcp import ancestors_of, gcp_reach, role_flagged, role_level
from tests.fakes import providers as F
from tests.revoke_helpers import set_env


@pytest.fixture
def leaked(tmp_path, keys):
    """Three service-account key files in one directory: an editor, a reader, and one more."""
    accounts = {name: keys.gcp_service_account() for name in ("editor", "reader", "other")}
    leak = tmp_path / "leak"
    leak.mkdir()
    for name, sa in accounts.items():
        (leak / f"{name}-sa.json").write_text(sa.json_text)
    return leak, accounts


@pytest.fixture
def iam(leaked, monkeypatch):
    _, accounts = leaked
    fake = F.FakeGcpIam({sa.private_key_id: (sa.client_email, sa.project_id) for sa in accounts.values()},
                        private_keys={sa.private_key_id: sa.private_key for sa in accounts.values()})
    editor, reader = accounts["editor"], accounts["reader"]
    fake.policies[editor.project_id] = [
        {"role": "roles/editor", "members": [f"serviceAccount:{editor.client_email}", "user:ana@acme.test"]},
        {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{editor.client_email}"]},
        {"role": "roles/viewer", "members": ["group:everyone@acme.test"]}]
    fake.policies[reader.project_id] = [
        {"role": "roles/storage.objectViewer", "members": [f"serviceAccount:{reader.client_email}"]},
        {"role": "roles/secretmanager.secretAccessor", "members": [f"serviceAccount:{reader.client_email}"],
         "condition": {"title": "only prod secrets", "expression": "resource.name.startsWith('prod')"}},
        {"role": "roles/owner", "members": ["user:boss@acme.test"]}]
    with F.FakeProviders(gcp=fake):
        set_env(monkeypatch, fake.env())
        yield fake


NOT_ABOVE = ("roles granted on folders, the organization, other projects or single resources, and through groups, "
             "are not read (only this project's policy)")
NOT_ELSEWHERE = "roles granted on other projects or single resources, and through groups, are not read"

OWNERS = """
[[owner]]
name = "ML training"
allowed = ["roles/storage.objectViewer"]
[owner.match]
key_id = "{editor}"

[[owner]]
name = "Reports"
allowed = ["roles/storage.objectViewer", "roles/secretmanager.secretAccessor"]
[owner.match]
key_id = "{reader}"
"""


def sweep(run, tmp_path, leak, accounts):
    db = tmp_path / "s.db"
    assert run("scan", "dir", leak, "--db", db).code == 1
    verified = run("verify", "--db", db, "--format", "json", "--ttl", "0")
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text(OWNERS.format(editor=accounts["editor"].private_key_id,
                                         reader=accounts["reader"].private_key_id))
    run("owners", "--db", db, "--offline", "--owners-file", owners_file)
    listed = run("findings", "--db", db, "--format", "json").json()
    return verified, {f["key_id"]: f for f in listed if f["provider"] == "gcp"}


def test_an_editor_key_is_live_critical_and_overprivileged_against_its_viewer_allowance(run, tmp_path, leaked, iam):
    leak, accounts = leaked
    verified, by_key = sweep(run, tmp_path, leak, accounts)
    editor = by_key[accounts["editor"].private_key_id]
    assert editor["verification"]["status"] == "live", editor["verification"]
    assert editor["verification"]["identity"]["client_email"] == accounts["editor"].client_email
    reach = editor["reach"]
    assert reach["identity"] == accounts["editor"].client_email
    assert reach["permissions"] == ["roles/editor", "roles/storage.objectViewer"]  # not the group's viewer
    assert reach["flagged"] == ["roles/editor"] and reach["access"] == "admin"
    assert reach["severity"] == "critical" and reach["overprivileged"] is True
    assert reach["resources"] == [f"projects/{accounts['editor'].project_id}"]
    # the project's ancestry is not keysweep's to read: only the project's roles, and it says so
    assert reach["unknown"] == [NOT_ABOVE, "the project's folders and organization not read: "
                                           "getAncestry HTTP 403 PERMISSION_DENIED"]

    reader = by_key[accounts["reader"].private_key_id]["reach"]
    assert reader["permissions"] == ["roles/secretmanager.secretAccessor", "roles/storage.objectViewer"]
    assert reader["flagged"] == [] and reader["access"] == "read" and reader["severity"] in ("medium", "high")
    # every role seen is allowed, but folder/organization roles were not read: not "False"
    assert reader["overprivileged"] is None
    assert any("only prod secrets" in note for note in reader["unknown"])

    # the third account's project policy is not keysweep's to read: reach unknown, the check stands
    other = by_key[accounts["other"].private_key_id]
    assert other["verification"]["status"] == "live"
    assert other["reach"]["permissions"] is None and "HTTP 403" in other["reach"]["unknown"][0]

    # read with keysweep's own token only: the key never left the machine
    sent = " ".join(str(r) for r in iam.requests)
    for sa in accounts.values():
        assert sa.private_key.splitlines()[1][:16] not in sent + verified.stdout + verified.stderr


def test_a_role_granted_on_the_folder_above_the_project_is_part_of_the_reach_and_the_refused_organization_is_named(
        run, tmp_path, leaked, iam):
    leak, accounts = leaked
    reader = accounts["reader"]
    member = f"serviceAccount:{reader.client_email}"
    iam.ancestry[reader.project_id] = ["folders/305", "organizations/4071"]
    iam.policies["folders/305"] = [
        {"role": "roles/iam.serviceAccountTokenCreator", "members": [member]},
        {"role": "roles/logging.viewer", "members": [member],
         "condition": {"title": "business hours", "expression": "request.time.getHours('Europe/Berlin') < 18"}},
        {"role": "roles/owner", "members": ["group:platform@acme.test"]}]
    # organizations/4071's policy is not keysweep's to read: Google answers 403 PERMISSION_DENIED
    _, by_key = sweep(run, tmp_path, leak, accounts)
    reach = by_key[reader.private_key_id]["reach"]
    project = f"projects/{reader.project_id}"

    # read-only on its project, it can mint tokens for any service account under the folder
    assert reach["permissions"] == ["roles/iam.serviceAccountTokenCreator", "roles/logging.viewer",
                                    "roles/secretmanager.secretAccessor", "roles/storage.objectViewer"]
    assert reach["flagged"] == ["roles/iam.serviceAccountTokenCreator"] and reach["access"] == "admin"
    assert reach["severity"] == "critical" and reach["overprivileged"] is True
    assert reach["resources"] == [project, "folders/305"]
    assert reach["details"]["granted_on"] == {
        project: ["roles/storage.objectViewer", "roles/secretmanager.secretAccessor"],
        "folders/305": ["roles/iam.serviceAccountTokenCreator", "roles/logging.viewer"]}
    # the folder's conditional binding came with its condition: the policy was asked for at version 3
    assert reach["unknown"] == [
        NOT_ELSEWHERE, "roles granted on organizations/4071 not read: HTTP 403 PERMISSION_DENIED",
        "conditional bindings (apply only when their condition holds): roles/secretmanager.secretAccessor "
        "(only prod secrets), roles/logging.viewer on folders/305 (business hours)"]
    assert reach["evidence"] == (f"cloudresourcemanager v1 {project}:getIamPolicy, v1 {project}:getAncestry, "
                                 "v3 folders/305:getIamPolicy (keysweep's own token)")
    assert [path for _, path in iam.requests if path.startswith((f"/v1/{project}:", "/v3/", "/v1/organizations/"))] == [
        f"/v1/{project}:getIamPolicy", f"/v1/{project}:getAncestry", "/v3/folders/305:getIamPolicy",
        "/v1/organizations/4071:getIamPolicy"]


def test_with_every_policy_above_read_roles_through_groups_still_keep_overprivileged_unjudged(
        run, tmp_path, leaked, iam):
    leak, accounts = leaked
    reader = accounts["reader"]
    iam.ancestry[reader.project_id] = ["organizations/4071"]
    iam.policies["organizations/4071"] = [{"role": "roles/owner", "members": ["group:admins@acme.test"]}]
    _, by_key = sweep(run, tmp_path, leak, accounts)
    reach = by_key[reader.private_key_id]["reach"]
    project = f"projects/{reader.project_id}"
    # the organization grants the account nothing: it is not among what the key reaches
    assert reach["resources"] == [project]
    assert reach["details"]["granted_on"] == {
        project: ["roles/storage.objectViewer", "roles/secretmanager.secretAccessor"], "organizations/4071": []}
    assert reach["permissions"] == ["roles/secretmanager.secretAccessor", "roles/storage.objectViewer"]
    # every role seen is allowed, but a group the account is in may hold roles/owner: not "False"
    assert reach["overprivileged"] is None
    assert reach["unknown"] == [NOT_ELSEWHERE, "conditional bindings (apply only when their condition holds): "
                                               "roles/secretmanager.secretAccessor (only prod secrets)"]
    assert reach["evidence"] == (f"cloudresourcemanager v1 {project}:getIamPolicy, v1 {project}:getAncestry, "
                                 "v1 organizations/4071:getIamPolicy (keysweep's own token)")


def test_dead_only_on_googles_word(run, tmp_path, leaked, iam):
    leak, accounts = leaked
    iam.disabled.add(accounts["editor"].private_key_id)
    iam.deleted.add(accounts["reader"].private_key_id)
    iam.expires[accounts["other"].private_key_id] = "2025-06-01T00:00:00Z"
    verified, by_key = sweep(run, tmp_path, leak, accounts)
    reasons = {k: f["verification"]["identity"].get("dead_reason") for k, f in by_key.items()}
    assert {k: f["verification"]["status"] for k, f in by_key.items()} == dict.fromkeys(by_key, "dead"), verified
    assert reasons[accounts["editor"].private_key_id] == "disabled"
    assert reasons[accounts["reader"].private_key_id] == "HTTP 404 key deleted"
    assert reasons[accounts["other"].private_key_id].startswith("expired")
    assert all(f["reach"] is None for f in by_key.values())  # a dead key's reach is not read


def test_without_keysweeps_own_token_nothing_is_claimed(run, tmp_path, leaked, iam, monkeypatch):
    leak, accounts = leaked
    monkeypatch.delenv("KEYSWEEP_GCP_ADMIN_KEY")
    verified, by_key = sweep(run, tmp_path, leak, accounts)
    for finding in by_key.values():
        assert finding["verification"]["status"] == "unknown"
        assert "KEYSWEEP_GCP_ADMIN_KEY" in finding["verification"]["error"]
    assert not iam.requests


@pytest.mark.parametrize("reply", ["generic_403", "html_401", "truncated_200", "empty_list_200"])
def test_a_proxys_answer_is_not_googles_word(run, tmp_path, leaked, iam, reply):
    leak, accounts = leaked
    iam.intermediary = reply
    verified, by_key = sweep(run, tmp_path, leak, accounts)
    assert {f["verification"]["status"] for f in by_key.values()} == {"unknown"}, verified


@pytest.mark.parametrize("role, flagged, level", [
    ("roles/owner", True, "write"), ("roles/editor", True, "write"), ("roles/viewer", False, "read"),
    ("roles/iam.securityAdmin", True, "write"), ("roles/resourcemanager.projectIamAdmin", True, "write"),
    ("roles/storage.admin", True, "write"), ("roles/iam.serviceAccountTokenCreator", True, "write"),
    ("roles/iam.serviceAccountUser", True, "write"), ("roles/storage.objectViewer", False, "read"),
    ("roles/secretmanager.secretAccessor", False, "read"), ("roles/storage.objectCreator", False, "write"),
    ("projects/acme/roles/deployer", False, None),
])
def test_role_judgements(role, flagged, level):
    assert role_flagged(role) is flagged
    assert role_level(role) == level


def test_a_custom_role_leaves_access_to_what_else_is_seen_and_says_so():
    reach = gcp_reach("ci@p.iam.gserviceaccount.com", "p", {"bindings": [
        {"role": "projects/p/roles/deployer", "members": ["serviceAccount:CI@p.iam.gserviceaccount.com"]}]})
    assert reach.permissions == ("projects/p/roles/deployer",) and reach.access is None
    assert any("custom roles" in note for note in reach.unknown)
    none = gcp_reach("ci@p.iam.gserviceaccount.com", "p", {"bindings": []})
    assert none.permissions == () and none.flagged == () and none.access is None


def test_roles_granted_above_the_project_and_what_could_not_be_read_there():
    email, project = "ci@p.iam.gserviceaccount.com", "p"
    member = f"serviceAccount:{email}"
    reach = gcp_reach(email, project, {"bindings": [{"role": "roles/viewer", "members": [member]}]}, [
        ("folders/7", {"etag": "ACAB"}),  # an empty policy: Google omits `bindings`
        ("folders/8", "no answer"),
        ("organizations/9", {"bindings": [{"role": "organizations/9/roles/auditor", "members": [member]},
                                          {"role": "roles/editor", "members": [member]}]})])
    assert reach.permissions == ("roles/viewer", "organizations/9/roles/auditor", "roles/editor")
    assert reach.flagged == ("roles/editor",) and reach.access == "admin"
    assert reach.resources == ("projects/p", "organizations/9")
    assert reach.unknown == (NOT_ELSEWHERE, "roles granted on folders/8 not read: no answer",
                             "custom roles (their permissions not read): organizations/9/roles/auditor on organizations/9")
    assert reach.evidence == ("cloudresourcemanager v1 projects/p:getIamPolicy, v1 projects/p:getAncestry, "
                              "v3 folders/7:getIamPolicy, v1 organizations/9:getIamPolicy (keysweep's own token)")
    # without the ancestry, only the project's roles, said as before
    alone = gcp_reach(email, project, {"bindings": [{"role": "roles/viewer", "members": [member]}]})
    assert alone.unknown == (NOT_ABOVE,) and alone.resources == ("projects/p",) and "granted_on" not in alone.details


@pytest.mark.parametrize("body, above", [
    ({"ancestor": [{"resourceId": {"type": "project", "id": "p"}}, {"resourceId": {"type": "folder", "id": "305"}},
                   {"resourceId": {"type": "organization", "id": "4071"}}]}, [("folder", "305"), ("organization", "4071")]),
    ({"ancestor": [{"resourceId": {"type": "project", "id": "p"}}]}, []),  # a project with no parent
    ({}, None),  # Google never omits the project itself
    ({"ancestor": [{"resourceId": {"type": "folder", "id": "305"}}]}, None),  # not this project first
    ({"ancestor": [{"resourceId": {"type": "project", "id": "other"}}]}, None),
    ({"ancestor": [{"resourceId": {"type": "project", "id": "p"}}, {"resourceId": {"type": "organization", "id": "1"}},
                   {"resourceId": {"type": "folder", "id": "2"}}]}, None),  # the organization is last
    ({"ancestor": [{"resourceId": {"type": "project", "id": "p"}}, {"resourceId": {"type": "folder", "id": "../x"}}]},
     None),
    ({"ancestor": [{"resourceId": {"type": "project", "id": "p"}}, {"resourceId": {"type": "workspace", "id": "3"}}]},
     None),
    ({"ancestor": "p"}, None),
])
def test_the_ancestry_is_taken_only_in_its_documented_shape(body, above):
    assert ancestors_of(body, "p") == above
