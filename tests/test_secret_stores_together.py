"""One key copied into a repository, a Kubernetes Secret, a Vault path, GCP Secret Manager and Azure Key
Vault, swept from one keysweep.toml: one finding with five occurrences (the finding id is the
provider and the value's SHA-256, wherever it lives), verified through whichever place still holds
it, and nothing of it in clear in the store or the output."""

from __future__ import annotations

import pytest

from .conftest import find_secret
from .test_remote_azure import azure, tls  # noqa: F401  (fixtures)
from .test_remote_gcp import gcp  # noqa: F401  (fixture)
from .test_remote_kubernetes import cluster  # noqa: F401  (fixture)
from .test_remote_vault import vault  # noqa: F401  (fixture)

pytest.importorskip("hvac")
pytest.importorskip("kubernetes")
pytest.importorskip("google.cloud.secretmanager")
pytest.importorskip("azure.keyvault.secrets")


def test_one_key_in_five_places_is_one_finding_verified_from_any(run, tmp_path, make_repo, keys, cluster, vault, gcp,
                                                                 azure, openai_api):
    key = keys.openai_project()
    repo = make_repo("svc")
    repo.commit("config", {".env": f"OPENAI_API_KEY={key}\n"})
    cluster.secret("apps", "openai", {"OPENAI_API_KEY": key})
    vault.mount("secret", version=2)
    vault.put("secret", "ml/openai", {"api_key": key})
    gcp.secret("acme-ml", "openai-key", [key])
    ml, _ = azure
    ml.secret("openai-api-key", key, tags={"owner": "ml-team"})
    config = tmp_path / "keysweep.toml"
    config.write_text(f'''[sources]
git = ["{repo.path}"]

[[sources.kubernetes]]
namespaces = ["apps"]

[[sources.vault]]
mounts = ["secret"]

[[sources.gcp]]
projects = ["acme-ml"]

[[sources.azure]]
vault_urls = ["{ml.url}"]
''')
    db = tmp_path / "store.db"
    swept = run("sweep", "--config", config, "--db", db, "--format", "json", "--no-progress")
    assert swept.code == 1, swept
    finding = find_secret(swept.json(), key)
    assert [f["id"] for f in swept.json() if f["secret_sha256"] == finding["secret_sha256"]] == [finding["id"]]
    assert sorted(o["source"] for o in finding["occurrences"]) == [
        "azure-keyvault", "gcp-secretmanager", "git", "kubernetes", "vault"]

    # The repository and the cluster forget it: the stores that still hold it answer the re-read.
    del cluster.objects[("apps", "secrets")]["openai"]
    (repo.path / ".git").rename(repo.path / "gone.git")
    checked = run("verify", "--db", db, "--format", "json", "--ttl", "0", "--config", config)
    assert find_secret(checked.json(), key)["verification"]["status"] == "live", checked
    assert key not in swept.stdout + swept.stderr + checked.stdout + checked.stderr
    assert key.encode() not in db.read_bytes()


def test_a_worker_reads_the_namespace_or_mount_it_is_sent(keys, cluster, vault, tmp_path):
    """A distributed sweep sends a Kubernetes namespace and a Vault mount as data; a worker builds
    the source again from its description and reads that unit with its own credentials."""
    import asyncio

    from keysweep.distributed.units import build_source, describe_item, describe_source
    from keysweep.scanner.sources.kubernetes import KubernetesSource
    from keysweep.scanner.sources.remote import Pending, RemoteError
    from keysweep.scanner.sources.vault import VaultSource

    key, other = keys.openai_project(), keys.anthropic()
    cluster.secret("apps", "openai", {"OPENAI_API_KEY": key})
    vault.mount("secret", version=2)
    vault.put("secret", "ml/claude", {"api_key": other})

    class Run:
        def __init__(self):
            self.errors = []

        def already(self, source, scope):
            return set()

        def error(self, message):
            self.errors.append(message)

    async def through_a_worker(source):
        run = Run()
        items = [item async for item in source.items(run)]
        units = [describe_item(item) for item in items]
        for item in items:
            item.work.close()
        worker = build_source(describe_source(source))
        read = [await worker.rebuild(run, Pending(u["label"], None, u["spec"])).work for u in units]
        with pytest.raises(RemoteError):
            worker.rebuild(run, Pending("x", None, {"op": "read", "mount": "elsewhere", "kv_version": 2,
                                                    "context": "prod", "namespace": "elsewhere"}))
        return units, read, run.errors

    units, (namespace,), errors = asyncio.run(through_a_worker(KubernetesSource(namespaces=["apps"])))
    assert [u["spec"] for u in units] == [{"op": "read", "context": "prod", "namespace": "apps"}] and not errors
    assert namespace.scope == "k8s:prod:apps" and any(g.entries for g in namespace.groups)
    units, (mount,), errors = asyncio.run(through_a_worker(VaultSource(addr=vault.url, mounts=["secret"])))
    assert [u["spec"] for u in units] == [{"op": "read", "mount": "secret", "kv_version": 2}] and not errors
    assert [e.locator["path"] for g in mount.groups for e in g.entries] == ["ml/claude"]
