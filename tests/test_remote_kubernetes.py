"""`keysweep scan kubernetes` with the official client against a fake apiserver on 127.0.0.1
(tests/fakes/kubernetes.py: core/v1, apps/v1 and batch/v1 lists with resourceVersion, paged with
limit/continue, RBAC 403s): what is read, the locator, owner hints, incremental reads by
resourceVersion, a forbidden namespace reported while the rest is swept, re-reads for verify, and
hostile names printed as data."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.fakes.kubernetes import FakeKubernetes, kubeconfig

from .conftest import find_secret

pytest.importorskip("kubernetes")

TOKEN = "k8s-reader-token-not-a-secret"


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    server = FakeKubernetes(token=TOKEN).start()
    path = kubeconfig(tmp_path / "kubeconfig", server.url, TOKEN, {"prod": "apps", "other": None}, current="prod")
    monkeypatch.setenv("KUBECONFIG", path)
    # Pages of two objects: every listing below is read through `continue`.
    monkeypatch.setattr("keysweep.scanner.sources.kubernetes.PAGE", 2)
    yield server
    server.stop()


@pytest.fixture
def seeded(cluster, keys):
    planted = {"secret": keys.openai_project(), "docker": keys.github(), "configmap": keys.anthropic(),
               "deploy": keys.huggingface(), "cron": keys.groq(), "init": keys.google_api_key(),
               "locked_cm": keys.xai(), "owned_job": keys.deepseek()}
    cluster.secret("apps", "openai", {"OPENAI_API_KEY": planted["secret"], "region": "eu"},
                   labels={"app.kubernetes.io/managed-by": "Helm", "acme.io/owner": "ml-team"},
                   annotations={"kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                       {"stringData": {"OPENAI_API_KEY": planted["secret"]}})})
    auth = f"robot:{planted['docker']}"
    import base64

    cluster.secret("apps", "regcred", {".dockerconfigjson": json.dumps(
        {"auths": {"ghcr.io": {"auth": base64.b64encode(auth.encode()).decode()}}})},
        type_="kubernetes.io/dockerconfigjson")
    cluster.secret("apps", "blob", {"key.bin": b"\x00\x01\x02" * 10})
    cluster.configmap("apps", "settings", {"config.yaml": f"llm:\n  provider: anthropic\n  key: {planted['configmap']}\n"})
    cluster.workload("deployments", "apps", "api", [
        {"name": "web", "image": "acme/web", "env": [
            {"name": "HF_TOKEN", "value": planted["deploy"]},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "openai", "key": "OPENAI_API_KEY"}}}]}],
        init=[{"name": "migrate", "image": "acme/migrate", "env": [{"name": "GOOGLE_API_KEY", "value": planted["init"]}]}],
        labels={"team": "search"})
    cluster.workload("cronjobs", "apps", "nightly", [{"name": "job", "env": [{"name": "GROQ_API_KEY",
                                                                                "value": planted["cron"]}]}])
    job = cluster.workload("jobs", "apps", "nightly-29000000", [{"name": "job", "env": [
        {"name": "DEEPSEEK_API_KEY", "value": planted["owned_job"]}]}])
    job["metadata"]["ownerReferences"] = [{"kind": "CronJob", "name": "nightly", "apiVersion": "batch/v1"}]
    cluster.workload("statefulsets", "apps", "empty", [{"name": "db", "env": [{"name": "LOG", "value": "info"}]}])
    cluster.configmap("locked", "visible", {"XAI_API_KEY": planted["locked_cm"]})
    cluster.secret("locked", "hidden", {"token": "never-read"})
    cluster.forbid("locked", "secrets")
    return planted


def scan(run, tmp_path, *extra):
    return run("scan", "kubernetes", "--format", "json", "--db", tmp_path / "store.db", "--no-progress", *extra)


def test_secrets_configmaps_and_literal_env_values_are_found(run, tmp_path, seeded, cluster):
    result = scan(run, tmp_path)
    assert result.code == 1, result
    findings = result.json()

    secret = find_secret(findings, seeded["secret"])
    (place,) = [o for o in secret["occurrences"] if o["locator"]["key"] == "OPENAI_API_KEY"]
    assert place["source"] == "kubernetes"
    assert place["locator"] == {"source": "kubernetes", "context": "prod", "namespace": "apps", "kind": "Secret",
                                "name": "openai", "key": "OPENAI_API_KEY",
                                "resource": "k8s prod apps/Secret/openai OPENAI_API_KEY"}
    # Owner hints from labels; the last-applied annotation (it holds the value) is never kept.
    assert place["metadata"]["tags"] == {"app.kubernetes.io/managed-by": "Helm", "acme.io/owner": "ml-team"}
    assert place["metadata"]["type"] == "Opaque" and place["metadata"]["resource_version"]

    docker = find_secret(findings, seeded["docker"])
    assert docker["occurrences"][0]["locator"]["key"] == ".dockerconfigjson"  # found in the decoded auth
    assert find_secret(findings, seeded["configmap"])["occurrences"][0]["locator"]["kind"] == "ConfigMap"
    deploy = find_secret(findings, seeded["deploy"])["occurrences"][0]
    assert (deploy["locator"]["kind"], deploy["locator"]["name"], deploy["locator"]["key"]) == \
        ("Deployment", "api", "web/HF_TOKEN")
    assert deploy["metadata"]["tags"] == {"team": "search"}
    assert deploy["committed_at"] == "2025-06-01T12:00:00Z"  # the object's last write: when the leak began
    init = find_secret(findings, seeded["init"])["occurrences"][0]
    assert init["locator"]["key"] == "migrate/GOOGLE_API_KEY"
    cron = find_secret(findings, seeded["cron"])["occurrences"][0]
    assert (cron["locator"]["kind"], cron["locator"]["key"]) == ("CronJob", "job/GROQ_API_KEY")
    # A Job its CronJob made is read through the CronJob, not twice.
    assert not [f for f in findings if f["secret_sha256"] == hashlib.sha256(seeded["owned_job"].encode()).hexdigest()]

    # The forbidden kind of one namespace is one line; its configmaps, and every other namespace, are read.
    assert find_secret(findings, seeded["locked_cm"])["occurrences"][0]["locator"]["namespace"] == "locked"
    lines = [line for line in result.stderr.splitlines() if "forbidden" in line]
    assert len(lines) == 1, result.stderr
    assert "k8s prod locked secrets: 403" in lines[0]
    assert "/api/v1/namespaces/locked/configmaps" in cluster.paths()
    assert any(seen.query.get("continue") for seen in cluster.requests), "listings were not paged"
    assert all(seen.method == "GET" for seen in cluster.requests)  # read-only

    store = (tmp_path / "store.db").read_bytes()
    for value in seeded.values():
        assert value.encode() not in store
    assert TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_unchanged_objects_are_not_matched_again(run, tmp_path, seeded, cluster, keys):
    first = scan(run, tmp_path, "--namespace", "apps")
    assert first.code == 1, first
    second = scan(run, tmp_path, "--namespace", "apps", "--new-only")
    assert second.code == 0 and second.json() == [], second
    assert "0 values read" in run("scan", "kubernetes", "--format", "json", "--db", tmp_path / "store.db",
                                  "--namespace", "apps").stderr

    rotated = keys.openai_project()
    cluster.secret("apps", "openai", {"OPENAI_API_KEY": rotated})
    third = run("scan", "kubernetes", "--format", "json", "--db", tmp_path / "store.db", "--namespace", "apps",
                "--new-only")
    assert third.code == 1, third
    (new,) = third.json()
    assert new["secret_sha256"] == hashlib.sha256(rotated.encode()).hexdigest()
    assert " 1 value read" in third.stderr, third.stderr  # only the changed Secret's one key


def test_a_key_in_a_repository_and_a_secret_is_one_finding(run, tmp_path, seeded, make_repo):
    repo = make_repo("svc")
    repo.commit("config", {".env": f"OPENAI_API_KEY={seeded['secret']}\n"})
    assert run("scan", "git", repo.path, "--format", "json", "--db", tmp_path / "store.db").code == 1
    result = scan(run, tmp_path, "--namespace", "apps")
    finding = find_secret(result.json(), seeded["secret"])
    assert {o["source"] for o in finding["occurrences"]} == {"git", "kubernetes"}


def test_verify_rereads_the_value_from_the_secret(run, tmp_path, seeded, cluster, openai_api):
    assert scan(run, tmp_path, "--namespace", "apps").code == 1
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), seeded["secret"])["verification"]["status"] == "live", checked
    assert seeded["secret"] not in checked.stdout + checked.stderr

    del cluster.objects[("apps", "secrets")]["openai"]  # deleted since: nothing to re-read
    again = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(again.json(), seeded["secret"])["verification"]["status"] == "unknown", again
    assert "cannot re-read" in again.stderr


def test_namespaces_not_listable_fall_back_to_the_contexts_namespace(run, tmp_path, seeded, cluster):
    cluster.forbid_namespace_list = True
    result = scan(run, tmp_path, "--fail-on-error")
    assert result.code == 3, result
    find_secret(result.json(), seeded["secret"])  # "apps", the prod context's namespace
    assert not any(o["locator"]["namespace"] == "locked" for f in result.json() for o in f["occurrences"])
    (line,) = [line for line in result.stderr.splitlines() if "cannot list namespaces" in line]
    assert "403" in line and "reading namespace apps only" in line


def test_hostile_names_are_printed_as_data(run, tmp_path, cluster, keys):
    planted = keys.openai_project()
    cluster.secret("apps", "evil\x1b]0;owned\x07[bold red]x", {"KEY\x1b[2J[link=http://x]": planted})
    result = run("scan", "kubernetes", "--db", tmp_path / "store.db", "--namespace", "apps", "--no-progress")
    assert result.code == 1, result
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout
    # The names as the characters they are: escapes visible, markup not obeyed.
    assert "k8s prod apps/Secret/evil\\x1b]0;owned\\x07[bold red]x KEY\\x1b[2J[link=http://x]" in result.stdout


def test_a_bad_kubeconfig_or_context_is_one_line(run, tmp_path, cluster):
    missing = run("scan", "kubernetes", "--kubeconfig", tmp_path / "nope", "--db", tmp_path / "s.db")
    assert missing.code == 2 and "Traceback" not in missing.stderr, missing
    assert len(missing.stderr.strip().splitlines()) == 1
    unknown = run("scan", "kubernetes", "--context", "staging", "--db", tmp_path / "s.db")
    assert unknown.code == 2 and "no context 'staging'" in unknown.stderr, unknown


def test_sweep_reads_the_kubernetes_table(run, tmp_path, seeded, cluster):
    config = tmp_path / "keysweep.toml"
    config.write_text(f'[[sources.kubernetes]]\nkubeconfig = "{tmp_path / "kubeconfig"}"\ncontexts = ["prod"]\n'
                      f'namespaces = ["apps"]\n')
    result = run("sweep", "--config", config, "--db", tmp_path / "store.db", "--format", "json", "--no-progress")
    assert result.code == 1, result
    place = find_secret(result.json(), seeded["secret"])["occurrences"][0]
    # The kubeconfig named in the configuration is kept (its path, not its contents) for re-reads.
    assert place["locator"]["access"] == {"kubeconfig": str(tmp_path / "kubeconfig")}


def test_owners_from_labels_and_from_the_owners_file(run, tmp_path, seeded):
    assert scan(run, tmp_path, "--namespace", "apps").code == 1
    owners_file = tmp_path / "keysweep-owners.toml"
    owners_file.write_text('[[owner]]\nname = "Search Team"\n[owner.match]\nsecret_store = "k8s:prod/apps/Deployment/*"\n')
    result = run("owners", "--db", tmp_path / "store.db", "--format", "json", "--offline", "--owners-file", owners_file)
    assert result.code == 0, result
    findings = result.json()
    labelled = find_secret(findings, seeded["secret"])
    assert labelled["owner"]["name"] == "ml-team"  # the Secret's acme.io/owner label
    assert "acme.io/owner=ml-team" in labelled["owner"]["evidence"]
    assert find_secret(findings, seeded["deploy"])["owner"]["name"] == "Search Team"


def test_owner_label_names_from_the_owners_files_tags(run, tmp_path, cluster, keys, monkeypatch):
    """The owners file's [tags] names labels of one's own: the scan keeps them as owner hints and the
    owners command reads them (a prefixed name as written; a bare one also as a prefixed label's last part)."""
    monkeypatch.chdir(tmp_path)
    planted, other = keys.openai_project(), keys.anthropic()
    cluster.secret("apps", "search", {"OPENAI_API_KEY": planted}, labels={"acme.io/steward": "search-team",
                                                                           "pod-template-hash": "abc"})
    cluster.secret("apps", "agents", {"ANTHROPIC_API_KEY": other}, labels={"corp.example/squad": "agents"})
    (tmp_path / "keysweep-owners.toml").write_text('[tags]\nowner = ["acme.io/steward"]\nteam = ["squad"]\n')
    assert scan(run, tmp_path, "--namespace", "apps").code == 1
    result = run("owners", "--db", tmp_path / "store.db", "--format", "json", "--offline")
    assert result.code == 0, result
    steward = find_secret(result.json(), planted)
    assert steward["occurrences"][0]["metadata"]["tags"] == {"acme.io/steward": "search-team"}  # not every label
    assert steward["owner"]["name"] == "search-team" and steward["owner"]["source"] == "cloud-tags"
    squad = find_secret(result.json(), other)
    assert squad["owner"]["name"] == "agents" and squad["owner"]["team"] == "agents"
    (tmp_path / "keysweep-owners.toml").write_text('[tags]\nowners = ["x"]\n')
    bad = run("owners", "--db", tmp_path / "store.db", "--offline")
    assert bad.code == 2 and len(bad.stderr.strip().splitlines()) == 1 and "[tags] has unknown key(s) owners" in bad.stderr


# -- Helm 3 releases ---------------------------------------------------------------------------------
HELM_KINDS = {"secret": ("Secret", "secrets"), "configmap": ("ConfigMap", "configmaps")}


@pytest.fixture(params=sorted(HELM_KINDS))
def helm_driver(request):
    """Where Helm 3 keeps its releases: Secrets (its default) or ConfigMaps (HELM_DRIVER=configmap)."""
    return request.param


@pytest.fixture
def released(cluster, keys, helm_driver):
    """Revision 3 of the release `payments`: a key in the values the user gave it, another rendered
    into its manifest (a ConfigMap the chart made), the chart's defaults holding none."""
    planted = {"values": keys.openai_project(), "manifest": keys.anthropic()}
    manifest = ("---\n# Source: webapp/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n"
                "metadata:\n  name: payments\n---\n# Source: webapp/templates/configmap.yaml\napiVersion: v1\n"
                f"kind: ConfigMap\nmetadata:\n  name: payments-llm\ndata:\n  ANTHROPIC_API_KEY: {planted['manifest']}\n")
    cluster.helm_release("apps", "payments", 3, values={"openai": {"apiKey": planted["values"]}, "replicas": 2},
                         chart_values={"openai": {"apiKey": ""}, "image": {"tag": "2.0"}}, manifest=manifest,
                         notes="Thank you for installing webapp.", driver=helm_driver)
    return planted


def test_a_key_in_a_helm_releases_values_is_found_once_naming_the_release(run, tmp_path, released, helm_driver):
    result = scan(run, tmp_path, "--namespace", "apps")
    assert result.code == 1, result
    (place,) = find_secret(result.json(), released["values"])["occurrences"]  # once: not also in packed form
    assert place["locator"] == {
        "source": "kubernetes", "context": "prod", "namespace": "apps", "kind": HELM_KINDS[helm_driver][0],
        "name": "sh.helm.release.v1.payments.v3", "key": "values:openai.apiKey",
        "helm_release": "payments", "helm_revision": "3",
        "resource": "k8s prod apps helm release payments v3 values:openai.apiKey"}
    assert place["line"] == 1
    assert place["metadata"]["helm_chart"] == "webapp-1.4.2" and place["metadata"]["helm_status"] == "deployed"
    assert place["metadata"].get("type") == ("helm.sh/release.v1" if helm_driver == "secret" else None)
    assert "tags" not in place["metadata"]  # Helm's own labels (`owner: helm`) are no owner hint

    (rendered,) = find_secret(result.json(), released["manifest"])["occurrences"]
    assert rendered["locator"]["key"] == "manifest" and rendered["line"] == 14  # the line in the manifest
    assert rendered["locator"]["resource"] == "k8s prod apps helm release payments v3 manifest"
    store = (tmp_path / "store.db").read_bytes()
    assert all(value.encode() not in store for value in released.values())
    assert "Traceback" not in result.stderr and not [line for line in result.stderr.splitlines() if "Helm" in line]


def test_each_revision_helm_keeps_is_its_own_place(run, tmp_path, cluster, keys, helm_driver):
    planted = keys.openai_project()
    for revision in (1, 2):
        cluster.helm_release("apps", "payments", revision, values={"openai": {"apiKey": planted}}, driver=helm_driver)
    result = scan(run, tmp_path, "--namespace", "apps")
    places = find_secret(result.json(), planted)["occurrences"]
    assert sorted(p["locator"]["helm_revision"] for p in places) == ["1", "2"]


def test_a_malformed_or_oversized_release_is_one_line_and_read_as_a_plain_object(run, tmp_path, cluster, released,
                                                                                 monkeypatch, helm_driver):
    import base64
    import gzip
    from functools import partial

    monkeypatch.setattr("keysweep.scanner.sources.helm.MAX_RELEASE", 1024 * 1024)
    bomb = gzip.compress(b'{"config": {"x": "' + b"A" * (2 * 1024 * 1024) + b'"}}')  # 2 MiB from ~2 KiB
    assert len(bomb) < 10_000
    release = partial(cluster.helm_release, driver=helm_driver)
    release("apps", "bomb", 1, packed=base64.b64encode(bomb))
    release("apps", "garbled", 1, packed=b"this is not base64 !!")
    release("apps", "accented", 1, packed="caf\u00e9 is not base64".encode("latin-1"))
    release("apps", "cut", 1, packed=base64.b64encode(bomb[:200]))
    release("apps", "plain", 1, packed=base64.b64encode(b"[1, 2]"))
    result = scan(run, tmp_path, "--namespace", "apps", "--fail-on-error")
    assert result.code == 3, result
    lines = [line for line in result.stderr.splitlines() if "Helm" in line]
    kind = HELM_KINDS[helm_driver][0]
    assert sorted(lines) == [
        f"keysweep: warning: k8s prod apps/{kind}/sh.helm.release.v1.{name}.v1: not unpacked as a Helm release "
        f"({why}); read as a plain {kind}" for name, why in (
            ("accented", "the release is not base64"), ("bomb", "the release inflates to more than 1 MiB"),
            ("cut", "the release's gzip stream is truncated"), ("garbled", "the release is not base64"),
            ("plain", "the release is not a JSON object"))
    ], result.stderr
    assert "Traceback" not in result.stderr
    find_secret(result.json(), released["values"])  # the good release beside them is read


def test_verify_rereads_a_value_from_a_helm_release(run, tmp_path, released, cluster, openai_api, helm_driver):
    assert scan(run, tmp_path, "--namespace", "apps").code == 1
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), released["values"])["verification"]["status"] == "live", checked
    assert released["values"] not in checked.stdout + checked.stderr

    del cluster.objects[("apps", HELM_KINDS[helm_driver][1])]["sh.helm.release.v1.payments.v3"]  # uninstalled since
    again = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(again.json(), released["values"])["verification"]["status"] == "unknown", again


def _plant(cluster, namespace, plural, name, key, value):
    """Another data key beside `release` in an object the fake already holds (a Secret's value
    base64'd as the API serves it)."""
    import base64

    obj = cluster.objects[(namespace, plural)][name]
    obj["data"][key] = base64.b64encode(value.encode()).decode() if plural == "secrets" else value


@pytest.mark.parametrize("helm_version", ["helm3", "helm2"])
def test_an_object_labelled_a_release_that_does_not_unpack_is_read_key_by_key(run, tmp_path, cluster, keys,
                                                                              openai_api, helm_driver, helm_version):
    """A Helm label and a `release` value that will not decode must not hide the object's other
    keys: it is read as the plain Secret or ConfigMap it is, with one warning line."""
    planted = keys.openai_project()
    kind, plural = HELM_KINDS[helm_driver]
    if helm_version == "helm3":
        cluster.helm_release("apps", "decoy", 1, packed=b"this is not base64 !!", driver=helm_driver)
        name = "sh.helm.release.v1.decoy.v1"
    else:
        cluster.tiller_release("apps", "decoy", 1, packed=b"this is not base64 !!", driver=helm_driver)
        name = "decoy.v1"
    _plant(cluster, "apps", plural, name, "OPENAI_API_KEY", planted)
    result = scan(run, tmp_path, "--namespace", "apps")
    assert result.code == 1, result
    (place,) = find_secret(result.json(), planted)["occurrences"]
    assert place["locator"] == {"source": "kubernetes", "context": "prod", "namespace": "apps", "kind": kind,
                                "name": name, "key": "OPENAI_API_KEY",
                                "resource": f"k8s prod apps/{kind}/{name} OPENAI_API_KEY"}
    assert "tags" not in place["metadata"]  # Helm's storage labels still name no owner
    assert [line for line in result.stderr.splitlines() if "Helm" in line] == [
        f"keysweep: warning: k8s prod apps/{kind}/{name}: not unpacked as a Helm release "
        f"(the release is not base64); read as a plain {kind}"], result.stderr
    assert planted not in result.stdout + result.stderr
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), planted)["verification"]["status"] == "live", checked  # re-read there


@pytest.mark.parametrize("helm_version", ["helm3", "helm2"])
def test_a_release_that_unpacks_has_its_other_keys_read_too(run, tmp_path, cluster, keys, helm_driver,
                                                            helm_version):
    planted = {"values": keys.openai_project(), "beside": keys.anthropic()}
    kind, plural = HELM_KINDS[helm_driver]
    if helm_version == "helm3":
        cluster.helm_release("apps", "payments", 1, values={"openai": {"apiKey": planted["values"]}},
                             driver=helm_driver)
        name = "sh.helm.release.v1.payments.v1"
    else:
        cluster.tiller_release("apps", "payments", 1, values=f"openai:\n  apiKey: {planted['values']}\n",
                               driver=helm_driver)
        name = "payments.v1"
    _plant(cluster, "apps", plural, name, "ANTHROPIC_API_KEY", planted["beside"])
    result = scan(run, tmp_path, "--namespace", "apps")
    assert result.code == 1, result
    (unpacked,) = find_secret(result.json(), planted["values"])["occurrences"]
    assert unpacked["locator"]["helm_release"] == "payments"
    (beside,) = find_secret(result.json(), planted["beside"])["occurrences"]
    assert (beside["locator"]["kind"], beside["locator"]["name"], beside["locator"]["key"]) == \
        (kind, name, "ANTHROPIC_API_KEY")
    assert "Helm" not in result.stderr, result


@pytest.mark.parametrize("limit, values", [
    ("MAX_VALUES", lambda key: {"padding": [f"filler {n}" for n in range(8)], "zz": {"openai": {"apiKey": key}}}),
    ("MAX_DEPTH", lambda key: {"a": {"b": {"c": {"d": {"e": {"openai_api_key": key}}}}}}),
], ids=["too-many-strings", "too-deep"])
def test_a_values_tree_too_large_to_take_string_by_string_is_matched_whole(run, tmp_path, cluster, keys,
                                                                            monkeypatch, limit, values):
    monkeypatch.setattr(f"keysweep.scanner.sources.helm.{limit}", 4)
    planted = keys.openai_project()
    cluster.helm_release("apps", "payments", 1, values=values(planted))
    result = scan(run, tmp_path, "--namespace", "apps")
    assert result.code == 1, result
    (place,) = find_secret(result.json(), planted)["occurrences"]
    assert place["locator"]["key"] == "values"  # the whole tree, as JSON: nothing past the limit unread
    assert place["locator"]["resource"] == "k8s prod apps helm release payments v1 values"


def test_a_configmap_only_labelled_owner_helm_is_read_as_a_configmap(run, tmp_path, cluster, keys):
    """Helm's ConfigMap driver is recognised by its label, its name and its `release` value together:
    a ConfigMap that merely carries `owner: helm` is read key by key, never skipped as a bad release."""
    planted = {"labelled": keys.openai_project(), "named": keys.anthropic()}
    cluster.configmap("apps", "llm-settings", {"release": "stable", "OPENAI_API_KEY": planted["labelled"]},
                      labels={"owner": "helm"})
    cluster.configmap("apps", "sh.helm.release.v1.notes.v1", {"ANTHROPIC_API_KEY": planted["named"]},
                      labels={"owner": "helm"})
    result = scan(run, tmp_path, "--namespace", "apps")
    assert result.code == 1, result
    (labelled,) = find_secret(result.json(), planted["labelled"])["occurrences"]
    assert (labelled["locator"]["kind"], labelled["locator"]["key"]) == ("ConfigMap", "OPENAI_API_KEY")
    assert "helm_release" not in labelled["locator"]
    (named,) = find_secret(result.json(), planted["named"])["occurrences"]
    assert named["locator"]["key"] == "ANTHROPIC_API_KEY"
    assert "Helm" not in result.stderr, result


# -- Helm 2 releases (Tiller) -------------------------------------------------------------------------
@pytest.fixture
def tillered(cluster, keys, helm_driver):
    """Revision 3 of the Helm 2 release `payments` in kube-system, kept by Tiller's ConfigMap driver
    (its default) or its Secret driver: keys in the values, the manifest, a hook, the notes, a file."""
    planted = {"values": keys.openai_project(), "manifest": keys.anthropic(), "hook": keys.groq(),
               "notes": keys.xai(), "file": keys.huggingface()}
    cluster.tiller_release(
        "kube-system", "payments", 3, values=f"openai:\n  apiKey: {planted['values']}\nreplicas: 2\n",
        chart_values="openai:\n  apiKey: \"\"\n", driver=helm_driver,
        manifest=f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: llm\ndata:\n  ANTHROPIC_API_KEY: {planted['manifest']}\n",
        hooks=[{"name": "migrate", "path": "webapp/templates/migrate.yaml",
                "manifest": f"kind: Job\nspec:\n  env:\n  - name: GROQ_API_KEY\n    value: {planted['hook']}\n"}],
        notes=f"Your XAI_API_KEY is {planted['notes']}\n", files={"config/app.env": f"HF_TOKEN={planted['file']}\n"})
    return planted


def test_a_helm_2_release_tiller_kept_is_unpacked_naming_the_release(run, tmp_path, tillered, helm_driver):
    result = scan(run, tmp_path, "--namespace", "kube-system")
    assert result.code == 1, result
    parts = {"values": "values", "manifest": "manifest", "hook": "hook:webapp/templates/migrate.yaml", "notes": "notes",
             "file": "file:config/app.env"}
    for planted, part in parts.items():
        (place,) = find_secret(result.json(), tillered[planted])["occurrences"]  # once: not also in packed form
        assert place["locator"] == {
            "source": "kubernetes", "context": "prod", "namespace": "kube-system", "kind": HELM_KINDS[helm_driver][0],
            "name": "payments.v3", "key": part, "helm_release": "payments", "helm_revision": "3",
            "resource": f"k8s prod kube-system helm release payments v3 {part}"}, planted
        assert place["metadata"]["helm_chart"] == "webapp-1.4.2" and place["metadata"]["helm_status"] == "deployed"
        assert "tags" not in place["metadata"]  # Tiller's own labels (`OWNER: TILLER`) are no owner hint
    (values,) = find_secret(result.json(), tillered["values"])["occurrences"]
    assert values["line"] == 2  # the line in the values' YAML
    assert "Helm" not in result.stderr, result


def test_verify_rereads_a_value_from_a_helm_2_release(run, tmp_path, tillered, cluster, openai_api, helm_driver):
    assert scan(run, tmp_path, "--namespace", "kube-system").code == 1
    checked = run("verify", "--db", tmp_path / "store.db", "--format", "json", "--ttl", "0")
    assert find_secret(checked.json(), tillered["values"])["verification"]["status"] == "live", checked


def test_a_malformed_helm_2_release_is_one_line_and_read_as_a_plain_object(run, tmp_path, cluster, tillered,
                                                                           helm_driver, monkeypatch):
    import base64
    import gzip

    from tests.fakes.kubernetes import proto_field

    monkeypatch.setattr("keysweep.scanner.sources.helm.MAX_RELEASE", 1024 * 1024)
    bomb = gzip.compress(proto_field(1, "bomb") + proto_field(5, "A" * (2 * 1024 * 1024)))  # 2 MiB from ~2 KiB
    cluster.tiller_release("kube-system", "bomb", 1, packed=base64.b64encode(bomb), driver=helm_driver)
    cluster.tiller_release("kube-system", "garbled", 1, packed=b"this is not base64 !!", driver=helm_driver)
    cluster.tiller_release("kube-system", "json", 1, packed=base64.b64encode(gzip.compress(b"[1, 2]")),
                           driver=helm_driver)
    cut = proto_field(1, "cut") + proto_field(5, "manifest text")[:-4]
    cluster.tiller_release("kube-system", "cut", 1, packed=base64.b64encode(gzip.compress(cut)), driver=helm_driver)
    nameless = proto_field(5, "kind: ConfigMap\n")  # a message, but no release's name nor version
    cluster.tiller_release("kube-system", "nameless", 1, packed=base64.b64encode(nameless), driver=helm_driver)
    result = scan(run, tmp_path, "--namespace", "kube-system", "--fail-on-error")
    assert result.code == 3, result
    kind = HELM_KINDS[helm_driver][0]
    assert sorted(line for line in result.stderr.splitlines() if "Helm" in line) == [
        f"keysweep: warning: k8s prod kube-system/{kind}/{name}.v1: not unpacked as a Helm release ({why}); "
        f"read as a plain {kind}" for name, why in (
            ("bomb", "the release inflates to more than 1 MiB"),
            ("cut", "the release is not a Helm 2 release"), ("garbled", "the release is not base64"),
            ("json", "the release is not a Helm 2 release"), ("nameless", "the release is not a Helm 2 release"))
    ], result.stderr
    find_secret(result.json(), tillered["values"])  # the good release beside them is read


def test_the_helm_2_reader_refuses_any_malformed_protobuf_in_one_error():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from keysweep.scanner.sources import helm

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200))
    def reads_or_refuses(raw):
        try:
            helm._Wire(raw)
        except helm.ReleaseError as exc:
            assert str(exc) == "the release is not a Helm 2 release"

    reads_or_refuses()


def test_a_configmap_only_labelled_owner_tiller_is_read_as_a_configmap(run, tmp_path, cluster, keys):
    planted = keys.openai_project()
    cluster.configmap("kube-system", "settings", {"release": "stable", "OPENAI_API_KEY": planted},
                      labels={"OWNER": "TILLER", "NAME": "payments", "VERSION": "1"})
    result = scan(run, tmp_path, "--namespace", "kube-system")
    assert result.code == 1, result
    (place,) = find_secret(result.json(), planted)["occurrences"]
    assert (place["locator"]["kind"], place["locator"]["key"]) == ("ConfigMap", "OPENAI_API_KEY")
    assert "Helm" not in result.stderr, result


def test_value_entries_take_each_string_with_its_path_within_the_limits():
    from keysweep.scanner.sources import helm

    assert helm.value_entries("values", {"b": ["x", {"c": "y"}], "a": "", "n": 3}) == [
        ("values:b[0]", "b[0]=x"), ("values:b[1].c", "b[1].c=y")]
    deep: dict = {"key": "v"}
    for _ in range(helm.MAX_DEPTH + 1):
        deep = {"k": deep}
    assert helm.value_entries("values", deep) == [("values", json.dumps(deep, sort_keys=True))]


def test_a_namespace_none_of_whose_listings_can_be_read_is_not_counted_as_scanned(run, tmp_path, cluster, keys):
    cluster.configmap("apps", "settings", {"XAI_API_KEY": keys.xai()})
    cluster.forbid("apps")  # every kind: the apiserver answers 403 to each listing
    result = scan(run, tmp_path, "--namespace", "apps")
    assert result.code == 3, result  # nothing was scanned, not a clean run with warnings
    assert "nothing was scanned: every source failed" in result.stderr
    assert result.json() == []
    forbidden = [line for line in result.stderr.splitlines() if "k8s prod apps " in line and ": 403" in line]
    assert len(forbidden) == len(set(forbidden)) >= 2  # one line per kind refused

    cluster.forbidden.clear()  # once readable, the namespace is read: nothing was recorded as done
    again = scan(run, tmp_path, "--namespace", "apps")
    assert again.code == 1, again
    assert len(again.json()) == 1
