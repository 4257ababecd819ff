"""Distributed sweeps on Celery (issue 16), with the real services: Redis or RabbitMQ as the broker,
PostgreSQL as the shared store, `keysweep worker` processes, a fake GitHub and moto.

What a distributed sweep must give is what a local one gives: the same findings, each with the same
occurrences, and the same exit status; a worker killed mid-unit loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.fakes.forge import GhRepo

from .conftest import find_secret
from .test_remote_aws import aws, seeded  # noqa: F401  (fixtures)
from .test_remote_github import bare_repo, github, stamp  # noqa: F401

REDIS_URL = os.environ.get("KEYSWEEP_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
AMQP_URL = os.environ.get("KEYSWEEP_TEST_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672//"
BROKER_URL = os.environ.get("KEYSWEEP_TEST_BROKER_URL") or REDIS_URL
WAIT = 120.0  # generous: a loaded 2-vCPU machine


def reachable(url: str) -> bool:
    pytest.importorskip("celery")
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


@pytest.fixture
def queue(request):
    """A queue of this test's own (parallel runs never take each other's units), deleted afterwards."""
    name = f"keysweep-test-{uuid.uuid4().hex[:12]}"
    yield name
    from kombu import Connection

    for url in {BROKER_URL, AMQP_URL}:
        try:
            with Connection(url, connect_timeout=3) as conn:
                conn.default_channel.queue_delete(name)
        except Exception:
            pass


class Workers:
    """`keysweep worker` processes of one test, stopped (killed) at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, broker: str, queue: str, db: str, env: dict | None = None, *extra: str,
              command: str = "worker") -> subprocess.Popen:
        log = open(self.tmp_path / f"worker-{len(self.procs)}.log", "wb")
        args = ["--db", db] if command == "worker" else []
        proc = subprocess.Popen([sys.executable, "-m", "keysweep", command, "--broker", broker, "--queue", queue,
                                 *args, "--loglevel", "info", *extra],
                                env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                cwd=self.tmp_path)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join((self.tmp_path / f"worker-{i}.log").read_text(errors="replace") for i in range(len(self.procs)))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def workers(tmp_path):
    pool = Workers(tmp_path)
    yield pool
    pool.stop()


@pytest.fixture
def forge(tmp_path, make_repo, github, keys):  # noqa: F811
    """An organization with four repositories (keys in three) and an Actions variable."""
    planted = {}
    for index in range(4):
        files = {"README.md": "nothing here\n"}
        if index < 3:
            planted[f"repo{index}"] = keys.openai_project()
            files["config.py"] = f"KEY = '{planted[f'repo{index}']}'\n"
        github.add_repo(GhRepo("acme", f"svc{index}", bare_repo(make_repo, tmp_path, f"svc{index}", files),
                               pushed_at=stamp(1)))
    planted["org_var"] = keys.anthropic()
    github.add_org("acme", variables=[{"name": "CLAUDE", "value": planted["org_var"], "created_at": stamp(3),
                                       "updated_at": stamp(3)}])
    return planted


@pytest.fixture
def world(forge, seeded):  # noqa: F811
    """The organization, and an AWS account with secrets, parameters, a function and IAM keys (moto)."""
    return {**forge, **seeded}


def write_config(tmp_path: Path, name: str, extra: str = "", aws: bool = True) -> Path:
    config = tmp_path / name
    config.write_text(f"""
[sources]
cache_dir = "{tmp_path / 'cache'}"

[[sources.github]]
orgs = ["acme"]
""" + ('\n[[sources.aws]]\nregions = ["eu-west-1"]\n' if aws else "") + extra)
    return config


def comparable(findings: list[dict]) -> dict[str, set]:
    """Each finding's occurrences, without what differs from run to run (when it was seen)."""
    def place(o: dict) -> tuple:
        locator = {k: v for k, v in (o.get("locator") or {}).items() if not k.startswith("_")}
        return (o["source"], o.get("repo"), o.get("path"), o.get("line"), o.get("commit"),
                repr(sorted(locator.items())))
    return {f["id"]: {place(o) for o in f["occurrences"]} for f in findings}


def local_sweep(run, tmp_path, aws: bool = True):
    config = write_config(tmp_path, "local.toml", aws=aws)
    return run("sweep", "--config", config, "--db", tmp_path / "local.db", "--format", "json", "--no-progress")


def test_a_sweep_through_two_workers_finds_what_a_local_sweep_finds(run, tmp_path, world, workers, queue, pg_url):
    if not reachable(BROKER_URL):
        pytest.skip(f"no broker at {BROKER_URL}")
    local = local_sweep(run, tmp_path)
    assert local.code == 1, local
    for _ in range(2):
        workers.start(BROKER_URL, queue, pg_url)
    config = write_config(tmp_path, "distributed.toml", f'[distributed]\nbroker = "{BROKER_URL}"\nqueue = "{queue}"\n')
    distributed = run("sweep", "--config", config, "--db", pg_url, "--format", "json", "--progress")
    assert distributed.code == 1, (distributed, workers.logs())
    assert comparable(distributed.json()) == comparable(local.json())
    for name in ("repo0", "repo1", "repo2", "org_var", "sm_json", "ssm_secure", "lambda_key"):
        find_secret(distributed.json(), world[name])  # three repositories, a variable, the AWS account
    # Progress per unit: each repository and each scope as its worker finished it.
    for index in range(4):
        assert f"github/acme/svc{index}" in distributed.stderr or f"acme/svc{index}" in distributed.stderr
    assert "aws default eu-west-1 ssm" in distributed.stderr or "aws:default:eu-west-1" in distributed.stderr

    again = run("sweep", "--config", config, "--db", pg_url, "--format", "json", "--no-progress")
    assert again.code == 0, again  # nothing new: quiet, as a local sweep
    assert comparable(again.json()) == comparable(local.json())


def wait_for(predicate, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_worker_killed_mid_unit_loses_nothing(run, tmp_path, forge, workers, queue, pg_url):
    """RabbitMQ gives a unit back the moment its worker's connection drops: SIGKILL the worker holding
    one (held on purpose by the test-only hook) and another worker reads it; the sweep ends with
    every finding and no error."""
    if not reachable(AMQP_URL):
        pytest.skip(f"no RabbitMQ at {AMQP_URL}")
    from keysweep.distributed.tasks import HOLD_ENV

    local = local_sweep(run, tmp_path, aws=False)
    held = tmp_path / "held"
    doomed = workers.start(AMQP_URL, queue, pg_url, env={HOLD_ENV: str(held)})
    config = write_config(tmp_path, "distributed.toml", f'[distributed]\nbroker = "{AMQP_URL}"\nqueue = "{queue}"\n',
                          aws=False)
    sweep = subprocess.Popen([sys.executable, "-m", "keysweep", "sweep", "--config", str(config), "--db", pg_url,
                              "--format", "json", "--progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=tmp_path)
    try:
        wait_for(held.exists, "the first worker to take a unit")  # it now holds that unit, unacknowledged
        workers.start(AMQP_URL, queue, pg_url)
        os.kill(doomed.pid, signal.SIGKILL)
        out, err = sweep.communicate(timeout=WAIT)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert doomed.wait(timeout=30) == -signal.SIGKILL
    assert sweep.returncode == 1, (err.decode(), workers.logs())
    findings = json.loads(out)
    assert comparable(findings) == comparable(local.json())
    assert "error" not in err.decode().lower().replace("0 errors", ""), err.decode()
    assert "delivered again after its worker was lost" in workers.logs()


REDIS_BROKER = BROKER_URL if BROKER_URL.startswith(("redis://", "rediss://")) else REDIS_URL
# Redis gives a lost worker's unit back after the visibility timeout: a short one for these tests (a
# unit that outlasts it is delivered twice, which must change nothing either).
SHORT_VISIBILITY = "visibility_timeout = 5\n"


def sweep_process(config: Path, db: str, cwd: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "keysweep", "sweep", "--config", str(config), "--db", db,
                             "--format", "json", "--progress", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd)


def finish(sweep: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = sweep.communicate(timeout=WAIT)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    return sweep.returncode, out.decode(), err.decode()


def test_a_worker_killed_after_recording_its_unit_leaves_the_sweep_its_verdict(run, tmp_path, make_repo, github,
                                                                               keys, workers, queue, pg_url):
    """The window between a unit recorded in the store and its task acknowledged: the worker dies
    there (a test-only hook kills it), another reads the unit again and finds nothing new in it. The
    sweep still says what happened, as a local sweep does: the key is new, exit 1 (not 0)."""
    if not reachable(REDIS_BROKER):
        pytest.skip(f"no broker at {REDIS_BROKER}")
    from keysweep.distributed.tasks import DIE_ENV

    planted = keys.openai_project()
    github.add_repo(GhRepo("acme", "svc0", bare_repo(make_repo, tmp_path, "svc0", {"config.py": f"KEY = '{planted}'\n"}),
                           pushed_at=stamp(1)))
    github.add_org("acme")
    only_repos = "actions = false\ndependabot = false\ncodespaces = false\n"  # one unit: the repository
    local = run("sweep", "--config", write_config(tmp_path, "local.toml", only_repos, aws=False),
                "--db", tmp_path / "local.db", "--format", "json", "--new-only", "--progress")
    assert local.code == 1 and "1 new finding" in local.stderr, local
    config = write_config(tmp_path, "distributed.toml", only_repos + f'\n[distributed]\nbroker = "{REDIS_BROKER}"\n'
                          f'queue = "{queue}"\n{SHORT_VISIBILITY}', aws=False)
    died = tmp_path / "died"
    doomed = workers.start(REDIS_BROKER, queue, pg_url, {DIE_ENV: str(died)}, "--config", str(config))
    sweep = sweep_process(config, pg_url, tmp_path, "--new-only")
    wait_for(died.exists, "the first worker to record its unit and die")
    assert doomed.wait(timeout=30) == -signal.SIGKILL
    workers.start(REDIS_BROKER, queue, pg_url, None, "--config", str(config))
    code, out, err = finish(sweep)
    assert "delivered again after its worker was lost" in workers.logs()  # the unit was read twice
    assert code == 1, (err, workers.logs())
    assert comparable(json.loads(out)) == comparable(local.json())  # reported as new, as locally
    find_secret(json.loads(out), planted)
    assert "1 repository scanned, 0 unchanged" in err, err  # scanned, by the worker that died
    assert "1 new finding" in err and "0 errors" in err, err


def test_a_worker_killed_mid_unit_loses_nothing_on_redis(run, tmp_path, forge, workers, queue, pg_url):
    """Redis gives a unit back once it has been unacknowledged for the visibility timeout: SIGKILL
    the worker holding one and another worker reads it after that delay. Nothing is lost and nothing
    is done twice: the findings and their occurrences are a local sweep's, each found new once."""
    if not reachable(REDIS_BROKER):
        pytest.skip(f"no Redis at {REDIS_BROKER}")
    from keysweep.distributed.tasks import HOLD_ENV
    from keysweep.store import Store

    local = local_sweep(run, tmp_path, aws=False)
    config = write_config(tmp_path, "distributed.toml",
                          f'[distributed]\nbroker = "{REDIS_BROKER}"\nqueue = "{queue}"\n{SHORT_VISIBILITY}', aws=False)
    held = tmp_path / "held"
    doomed = workers.start(REDIS_BROKER, queue, pg_url, {HOLD_ENV: str(held)}, "--config", str(config))
    sweep = sweep_process(config, pg_url, tmp_path)
    try:
        wait_for(held.exists, "the first worker to take a unit")  # it now holds that unit, unacknowledged
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
    assert doomed.wait(timeout=30) == -signal.SIGKILL
    workers.start(REDIS_BROKER, queue, pg_url, None, "--config", str(config))
    code, out, err = finish(sweep)
    assert code == 1, (err, workers.logs())
    assert comparable(json.loads(out)) == comparable(local.json())
    assert "error" not in err.lower().replace("0 errors", ""), err
    assert "delivered again after its worker was lost" in workers.logs()
    store = Store(pg_url)
    try:  # each finding new to exactly one recorded scan
        new_counts = [row[0] for row in store.conn.execute("SELECT new_findings FROM scans")]
    finally:
        store.close()
    assert sum(new_counts) == len(local.json()), new_counts


def test_redis_gives_a_lost_unit_back_a_tenth_of_the_visibility_timeout_after_it_passes():
    """Each worker looks for units unacknowledged longer than the visibility timeout every tenth of
    it (1 to 10 s), not at Celery's pace of every 100 s; one killed while looking holds the others off
    a minute at most."""
    pytest.importorskip("celery")
    from keysweep.distributed.app import make_app
    from keysweep.distributed.config import DistributedConfig

    def options(timeout: int) -> dict:
        return DistributedConfig(broker="redis://127.0.0.1:1/0", visibility_timeout=timeout).redis_transport_options

    assert options(300) == {"visibility_timeout": 300, "unacked_restore_interval": 10, "unacked_restore_throttle": 1,
                            "unacked_mutex_expire": 60}
    assert options(5) == {"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1,
                          "unacked_mutex_expire": 10}
    assert options(3600)["unacked_restore_interval"] == 10 and options(45)["unacked_restore_interval"] == 4
    app = make_app(DistributedConfig(broker="redis://127.0.0.1:1/0", visibility_timeout=45))
    assert app.conf.broker_transport_options == options(45)
    assert make_app(DistributedConfig(broker="amqp://guest:guest@127.0.0.1:1//")).conf.broker_transport_options == {}


class Answered:
    """A unit's answer as the sweep gets it from Celery's result backend."""

    def __init__(self, value: dict) -> None:
        self.value = value

    def get(self, propagate: bool = True, timeout: float | None = None) -> dict:
        return self.value

    def successful(self) -> bool:
        return True


def test_the_verdict_holds_what_the_workers_recorded_whatever_their_answers_say(tmp_path):
    """Units of one sweep: one whose reading was lost after recording a new key and an error, then
    given up on (answered 'failed'); one whose second reading found everything read (answered
    'unchanged'). The sweep counts what the store says happened: both keys new, the error, both
    repositories scanned; nothing of another sweep's scans."""
    pytest.importorskip("celery")
    from keysweep.distributed.config import DistributedConfig
    from keysweep.distributed.orchestrate import DistributedRunner
    from keysweep.store import Store

    store = Store(tmp_path / "store.db")
    runner = DistributedRunner(None, config=DistributedConfig(broker="redis://127.0.0.1:1/0"), options={},
                               started="2026-01-01T00:00:00Z", ctx=None, store=store)
    at = "2026-01-01T00:00:01Z"
    store.record_scan("git", "acme/a", at, at, {"blobs_scanned": 3, "errors": ["acme/a: blob b1: timed out"]}, 1,
                      sweep=runner.sweep, new_ids=["f-a"])
    store.record_scan("git", "acme/b", at, at, {"blobs_scanned": 2, "errors": []}, 1, sweep=runner.sweep,
                      new_ids=["f-b"])
    store.record_scan("git", "acme/c", at, at, {"blobs_scanned": 9}, 1, sweep="another sweep", new_ids=["f-c"])
    runner.fold("acme/a", Answered({"failed": "gave up after 3 attempts (the worker running it was lost each time)"}))
    runner.fold("acme/b", Answered({"scopes": ["acme/b"], "new_ids": [], "stats": {"blobs_scanned": 0},
                                    "counters": {"repos_scanned": 0, "repos_unchanged": 1}}))
    runner.fold_recorded()
    assert sorted(runner.new_ids) == ["f-a", "f-b"]
    assert runner.scopes == {"acme/a", "acme/b"}
    assert runner.stats.errors == ["acme/a: gave up after 3 attempts (the worker running it was lost each time)",
                                   "acme/a: blob b1: timed out"]
    assert runner.stats.blobs_scanned == 5
    assert (runner.counters["repos_scanned"], runner.counters["repos_unchanged"]) == (2, 0)
    store.close()


def test_a_described_source_is_built_again_the_same_without_its_token(monkeypatch):
    """What a worker builds from a unit's description is the source the sweep built (its token taken
    from the worker's own environment; none in the description)."""
    from keysweep.distributed.units import build_source, describe_source
    from keysweep.scanner.sources.aws import AwsSource
    from keysweep.scanner.sources.azure import AzureSource
    from keysweep.scanner.sources.gcp import GcpSource
    from keysweep.scanner.sources.github import GitHubSource
    from keysweep.scanner.sources.gitlab import GitLabSource
    from keysweep.scanner.sources.kubernetes import KubernetesSource
    from keysweep.scanner.sources.vault import VaultAuth, VaultSource

    monkeypatch.setenv("ORG_TOKEN", "ghp_worker_side_token_000000000000000000")
    sources = [
        GitHubSource(orgs=("acme",), repos=("a/b",), api_url="https://ghe.example.test/api/v3", token="ghp_sweep_side",
                     token_env="ORG_TOKEN", forks=True, archived=False, clone=False, actions=False,
                     dependabot=False, codespaces=True, rate_limit=3.0),
        GitLabSource(groups=("team",), projects=("x/y",), url="https://gl.example.test", token="glpat-sweep",
                     token_env="ORG_TOKEN", forks=True, archived=False, clone=False, variables=False, instance=True,
                     rate_limit=2.0),
        AwsSource(regions=["eu-west-1"], profiles=["prod"], endpoint_url="http://127.0.0.1:1", services=["ssm", "iam"],
                  versions=True, role_arn="arn:aws:iam::123456789012:role/audit-reader"),
        GcpSource(projects=["acme-ml", "acme-prod"], endpoint_url="http://127.0.0.1:2"),
        KubernetesSource(kubeconfig="/etc/audit/kubeconfig", contexts=["prod"], namespaces=["ml"],
                         kinds=["Secret", "ConfigMap"], hint_names=["acme.io/steward"]),
        VaultSource(addr="https://vault.example.test:8200", mounts=["secret"], versions=True, namespace="admin",
                    auth=VaultAuth(method="approle", path="approle-ci", role=None, token_env="ACME_VAULT_TOKEN")),
        AzureSource(vault_urls=["https://acme-ml.vault.azure.net", "https://acme-prod.vault.azure.net"]),
    ]
    for source in sources:
        described = describe_source(source)
        assert "sweep" not in repr(described)  # no token travels
        rebuilt = build_source(described)
        mine = {k: v for k, v in vars(source).items() if k not in ("token", "_lock")}
        theirs = {k: v for k, v in vars(rebuilt).items() if k not in ("token", "_lock")}
        assert mine == theirs, type(source).__name__
        if hasattr(source, "token"):
            assert rebuilt.token == "ghp_worker_side_token_000000000000000000"


def test_a_schedule_in_keysweep_toml_runs_sweeps_through_beat(run, tmp_path, make_repo, keys, workers, queue):
    """[schedule] every = 3: `keysweep beat` sends a sweep to `keysweep worker --sweeps`, which runs
    `keysweep sweep --broker` with its keysweep.toml and store (a local repository here: read by the
    sweep itself, so no units worker is needed)."""
    if not reachable(BROKER_URL):
        pytest.skip(f"no broker at {BROKER_URL}")
    planted = keys.openai_project()
    make_repo("local").commit("config", {"app.py": f"KEY = '{planted}'\n"})
    config = tmp_path / "scheduled.toml"
    config.write_text(f'[sources]\ngit = ["local"]\n\n[distributed]\nbroker = "{BROKER_URL}"\nqueue = "{queue}"\n'
                      '\n[schedule]\nevery = 3\nargs = ["--max-age", "30"]\n')
    store = tmp_path / "scheduled.db"
    checked = run("beat", "--config", config, "--check")
    assert checked.code == 0 and "every 3s" in checked.stderr and f"{queue}.sweeps" in checked.stderr, checked
    workers.start(BROKER_URL, queue, str(store), None, "--sweeps", "--config", str(config))
    workers.start(BROKER_URL, queue, str(store), None, "--config", str(config), "--schedule-file",
                  str(tmp_path / "beat-schedule"), command="beat")
    wait_for(lambda: "scheduled sweep ended with exit status 1" in workers.logs(), "a scheduled sweep to end")
    found = run("findings", "--db", store, "--format", "json")
    assert any(f["redacted"].endswith(planted[-4:]) for f in found.json()), found


def test_a_bad_schedule_is_a_usage_error(run, tmp_path):
    config = tmp_path / "keysweep.toml"
    config.write_text('[sources]\ngit = ["."]\n[distributed]\nbroker = "redis://127.0.0.1:6379/0"\n'
                      '[schedule]\nsweep = "0 99 * * *"\n')
    bad = run("beat", "--config", config, "--check")
    assert bad.code == 2 and "99" in bad.stderr and "Traceback" not in bad.stderr
    config.write_text('[sources]\ngit = ["."]\n[distributed]\nbroker = "redis://127.0.0.1:6379/0"\n'
                      '[schedule]\nsweep = "0 2 * * *"\nargs = ["--db", "other.db"]\n')
    assert run("beat", "--config", config, "--check").code == 2
    config.write_text('[sources]\ngit = ["."]\n[distributed]\nbroker = "http://nope"\n[schedule]\nevery = 60\n')
    assert run("beat", "--config", config, "--check").code == 2


def test_the_deployment_examples_run_command_lines_keysweep_accepts():
    """examples/distributed/compose.yaml and examples/k8s/keysweep-distributed.yaml (not run here: no
    Docker daemon, no cluster): every keysweep command line in them parses as keysweep's own."""
    import click
    import yaml

    from keysweep.cli import cli

    root = Path(__file__).resolve().parent.parent / "examples"
    compose = yaml.safe_load((root / "distributed" / "compose.yaml").read_text())
    lines = [service["command"] for service in compose["services"].values()
             if isinstance(service.get("command"), list) and service.get("image", "").startswith("keysweep")]
    for document in yaml.safe_load_all((root / "k8s" / "keysweep-distributed.yaml").read_text()):
        lines += [container["args"] for container in document["spec"]["template"]["spec"]["containers"]]
    assert len(lines) == 7
    commands = set()
    for args in lines:
        command = cli.get_command(click.Context(cli), args[0])
        command.make_context(args[0], list(args[1:]))  # raises on an option keysweep does not take
        commands.add(args[0])
    assert commands == {"worker", "beat", "sweep"}
