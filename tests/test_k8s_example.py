"""The Kubernetes CronJob example (examples/k8s/keysweep-cronjob.yaml), read as data (no cluster runs
here): its command line is one `keysweep sweep` accepts, it runs as the Dockerfile's unprivileged
user, and with a read-only root filesystem every place keysweep writes is a mounted volume."""

from __future__ import annotations

import re

import click
import yaml

from keysweep.commands.sweep import sweep_cmd
from tests.conftest import PROJECT

CRONJOB = yaml.safe_load((PROJECT / "examples" / "k8s" / "keysweep-cronjob.yaml").read_text())
POD = CRONJOB["spec"]["jobTemplate"]["spec"]["template"]["spec"]
[CONTAINER] = POD["containers"]


def test_a_batch_v1_cronjob_that_never_overlaps():
    assert (CRONJOB["apiVersion"], CRONJOB["kind"]) == ("batch/v1", "CronJob")
    assert len(CRONJOB["spec"]["schedule"].split()) == 5
    assert CRONJOB["spec"]["concurrencyPolicy"] == "Forbid"  # two sweeps would share one SQLite store
    assert POD["restartPolicy"] in ("Never", "OnFailure")


def test_its_arguments_are_a_sweep_keysweep_accepts():
    args = CONTAINER["args"]
    assert args[0] == "sweep"
    ctx = sweep_cmd.make_context("sweep", list(args[1:]))  # raises on an unknown option or value
    assert ctx.params["verify"] and ctx.params["owners"]
    config = ctx.params["config_path"]
    mounts = {m["mountPath"]: m for m in CONTAINER["volumeMounts"]}
    assert any(config.startswith(path + "/") and mounts[path].get("readOnly") for path in mounts), config
    try:
        sweep_cmd.make_context("sweep", ["--no-such-option"])
    except click.UsageError:
        pass
    else:
        raise AssertionError("make_context accepted an unknown option: the check above proves nothing")


def test_it_runs_as_the_images_user_and_writes_only_to_volumes():
    dockerfile = (PROJECT / "Dockerfile").read_text()
    uid = int(re.search(r"--uid (\d+)", dockerfile).group(1))
    assert POD["securityContext"]["runAsNonRoot"] is True and POD["securityContext"]["runAsUser"] == uid
    security = CONTAINER["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in CONTAINER["volumeMounts"] if not m.get("readOnly")}
    env = {e["name"]: e.get("value") for e in CONTAINER.get("env", [])}
    store_dir = env["KEYSWEEP_DB"].rsplit("/", 1)[0]
    home = re.search(r"useradd --create-home[^\n]*", dockerfile) and "/home/keysweep"
    assert {store_dir, "/tmp", home} <= mounts  # the store, temporary files, the user's cache and data dirs
    volumes = {v["name"] for v in POD["volumes"]}
    assert {m["name"] for m in CONTAINER["volumeMounts"]} <= volumes
