"""Shared fixtures: an isolated environment, generated keys, real git repositories and a CLI runner.

The whole session — collection included, and every subprocess it starts — runs with HOME, the XDG
directories and KEYSWEEP_DB inside one temporary directory, so nothing touches the user's home,
store or caches; an audit hook records any write the test process still attempts under the real
home, and the session fails if there was one. Every test also gets its own store path and data
dir. The Hyperscan database cache is shared by the session (compiling it is the slow part of a start).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before anything imports keysweep: test modules load rules at collection time, and the rules
# cache would otherwise land in the real ~/.cache/keysweep.
REAL_HOME = Path(os.path.expanduser("~")).resolve()
SESSION_HOME = Path(tempfile.mkdtemp(prefix="keysweep-test-session-")).resolve()
SESSION_ENV = {
    "HOME": str(SESSION_HOME / "home"),
    "XDG_CACHE_HOME": str(SESSION_HOME / "cache"),
    "XDG_DATA_HOME": str(SESSION_HOME / "data"),
    "XDG_CONFIG_HOME": str(SESSION_HOME / "config"),
    "XDG_STATE_HOME": str(SESSION_HOME / "state"),
    "KEYSWEEP_DB": str(SESSION_HOME / "data" / "keysweep" / "keysweep.db"),
}
for _name in ("home", "cache", "data", "config", "state"):
    (SESSION_HOME / _name).mkdir()
os.environ.update(SESSION_ENV)

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from keysweep.testing.gitrepo import RepoBuilder  # noqa: E402
from keysweep.testing.keygen import KeyGen  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
KEYSWEEP_BIN = Path(sys.executable).parent / "keysweep"


# -- writes under the real home -------------------------------------------------------------------
HOME_WRITES: list[str] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _under_real_home(path: Any) -> bool:
    if isinstance(path, int) or path is None:
        return False
    try:
        resolved = Path(os.fsdecode(path)).absolute()
    except (TypeError, ValueError):
        return False
    return resolved == REAL_HOME or REAL_HOME in resolved.parents


def _audit_home_writes(event: str, args: tuple) -> None:
    """Records (never blocks) what this process writes under the real home: `open` for writing,
    directories made, files renamed, removed or connected to as SQLite databases."""
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & _WRITE_FLAGS)
        targets = [path] if writing else []
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.chmod", "os.truncate", "os.utime"):
        targets = [args[0]]
    elif event in ("os.rename", "os.link", "os.symlink"):
        targets = [args[0], args[1]]
    elif event == "sqlite3.connect":
        targets = [args[0]]
    else:
        return
    for target in targets:
        if _under_real_home(target):
            HOME_WRITES.append(f"{event} {os.fsdecode(target)}")


sys.addaudithook(_audit_home_writes)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_HOME, ignore_errors=True)
    if HOME_WRITES:
        sys.stderr.write("\nthe test suite wrote under the real home:\n  " + "\n  ".join(HOME_WRITES[:20]) + "\n")
        session.exitstatus = 1


# -- environment ----------------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def session_home() -> Path:
    """The session's home, XDG dirs and default store (set at import, above, and inherited by every
    subprocess): restored here in case something in the process replaced them."""
    os.environ.update(SESSION_ENV)
    yield SESSION_HOME
    os.environ.update(SESSION_ENV)


@pytest.fixture(scope="session")
def session_cache(session_home) -> Path:
    return session_home / "cache"


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path, session_cache):
    """No test reads or writes the user's store; git never asks an editor or a signing key."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(session_cache))
    monkeypatch.setenv("KEYSWEEP_DB", str(tmp_path / "default-store.db"))
    monkeypatch.delenv("KEYSWEEP_DEBUG", raising=False)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig-global"))
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    yield


# -- keys and repositories ------------------------------------------------------------------------
@pytest.fixture
def keys(request) -> KeyGen:
    """Generated fake keys, seeded per test so failures reproduce."""
    import zlib

    return KeyGen(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def make_repo(tmp_path):
    """make_repo(name="repo") -> RepoBuilder: a real git repository in the test's tmp dir."""
    def factory(name: str = "repo", branch: str = "main") -> RepoBuilder:
        return RepoBuilder(tmp_path / name, branch=branch)
    return factory


def git(path: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
    full_env = dict(os.environ)
    full_env.setdefault("GIT_AUTHOR_DATE", "@1700000000 +0000")
    full_env.setdefault("GIT_COMMITTER_DATE", "@1700000000 +0000")
    full_env.update(env or {})
    result = subprocess.run(["git", *args], cwd=path, input=input, capture_output=True, env=full_env)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode(errors="replace").strip()


def fast_import(repo: Path, commits: list[dict[str, Any]], branch: str = "refs/heads/main") -> list[str]:
    """Build many commits at once with `git fast-import`.

    Each commit is {"files": {path: bytes|str}, "delete": [path], "message": str,
    "author": (name, email), "time": int}. Returns the commit ids, oldest first.
    """
    lines: list[bytes] = []
    for mark, spec in enumerate(commits, 1):
        name, email = spec.get("author", ("Bulk Author", "bulk@example.com"))
        when = spec.get("time", 1_700_000_000 + mark * 60)
        message = spec.get("message", f"commit {mark}").encode()
        lines.append(f"commit {branch}\nmark :{mark}\n".encode())
        lines.append(f"author {name} <{email}> {when} +0000\n".encode())
        lines.append(f"committer {name} <{email}> {when} +0000\n".encode())
        lines.append(f"data {len(message)}\n".encode() + message + b"\n")
        for path in spec.get("delete", ()):
            lines.append(f"D {path}\n".encode())
        for path, content in spec.get("files", {}).items():
            data = content.encode() if isinstance(content, str) else content
            lines.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
    marks = repo / ".git" / "fast-import-marks"
    git(repo, "fast-import", "--quiet", f"--export-marks={marks}", input=b"".join(lines))
    by_mark = dict(line.split(" ", 1) for line in marks.read_text().split("\n") if line)
    marks.unlink()
    return [by_mark[f":{i}"] for i in range(1, len(commits) + 1)]


# -- the engine ----------------------------------------------------------------------------------
def _backends() -> list[str]:
    from keysweep.scanner.engine import hyperscan_available

    return ["regex", "hyperscan"] if hyperscan_available() else ["regex"]


BACKENDS = _backends()  # the engine backends this machine has: tests run on each


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request, session_cache):
    """The shipped rules' engine, once per module and backend (Hyperscan's database in the session's cache)."""
    from keysweep.scanner.engine import Engine
    from keysweep.scanner.rules import load_rules

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(session_cache))
        yield Engine(load_rules(), backend=request.param)


# -- running the CLI ------------------------------------------------------------------------------
@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:  # shown by pytest when an assertion about a Run fails
        return f"exit {self.code}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


class _EntryPoint:
    """`keysweep.cli.main` (the console script: it turns errors into one line and exit 2) shaped
    like a click command, so CliRunner can isolate its streams."""

    name = "keysweep"

    def main(self, args=(), prog_name=None, **_extra):
        from keysweep.cli import main

        saved = sys.argv
        sys.argv = ["keysweep", *args]
        try:
            main()
        finally:
            sys.argv = saved


# -- every findings output the suite sees is checked against `keysweep schema findings` -----------
FINDINGS_COMMANDS = ("scan", "sweep", "findings", "owners", "verify", "demo")
_VALIDATORS: dict[str, Any] = {}
VALIDATED: list[int] = [0]  # how many findings outputs the session checked (its own test reads it)


def findings_validator(kind: str):
    """jsonschema validators for `--format json` (an array) and one `--format jsonl` line."""
    if not _VALIDATORS:
        import jsonschema

        from keysweep.schemas import finding_line_schema, findings_schema

        _VALIDATORS["json"] = jsonschema.Draft202012Validator(findings_schema())
        _VALIDATORS["jsonl"] = jsonschema.Draft202012Validator(finding_line_schema())
    return _VALIDATORS[kind]


def _option(args: list[str], *names: str) -> str | None:
    """The value of the option's last occurrence (click keeps the last)."""
    found = None
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                found = args[index + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                found = arg.split("=", 1)[1]
    return found


def validate_findings_output(args: list[str], stdout: str, cwd: Path | None = None) -> None:
    """When `args` ask a findings command for json or jsonl, its output (stdout, or the -o file) must
    validate against the findings schema: every JSON output of the suite is held to the contract. A
    `--format gitlab` report must validate against GitLab's secret detection report schema."""
    if not args or args[0] not in FINDINGS_COMMANDS or "--help" in args or "-h" in args:
        return
    fmt = _option(args, "--format")
    if fmt not in ("json", "jsonl", "gitlab"):
        return
    output = _option(args, "-o", "--output")
    text = stdout
    if output is not None:
        target = Path(output) if cwd is None else Path(cwd) / output
        if not target.is_file():
            return  # the command failed before writing it (the test says what it expects)
        text = target.read_text(encoding="utf-8")
    if not text.strip():
        return  # nothing written: an error (one line on stderr), checked by the test itself
    if fmt == "gitlab":  # GitLab's secret detection report, held to GitLab's schema (tests/gitlab_schema.py)
        from tests.gitlab_schema import gitlab_report_errors

        problems = gitlab_report_errors(json.loads(text))
        if problems:
            raise AssertionError(f"keysweep {' '.join(args[:2])} --format gitlab: not a valid GitLab secret detection "
                                 f"report: {problems[0]}")
        VALIDATED[0] += 1
        return
    documents = [json.loads(text)] if fmt == "json" else [json.loads(line) for line in text.splitlines() if line.strip()]
    for document in documents:
        errors = sorted(findings_validator(fmt).iter_errors(document), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            raise AssertionError(f"keysweep {' '.join(args[:2])} --format {fmt}: output does not match "
                                 f"`keysweep schema findings` at {list(first.absolute_path)}: {first.message}")
    VALIDATED[0] += 1


@pytest.fixture
def run():
    """run(*args, cwd=None) -> Run: the real entry point, in process (fast). A json/jsonl findings
    output is validated against `keysweep schema findings` (validate_findings_output)."""
    def invoke(*args: str, cwd: Path | None = None) -> Run:
        runner = CliRunner()
        previous = Path.cwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            result = runner.invoke(_EntryPoint(), [str(a) for a in args], catch_exceptions=False)
        finally:
            os.chdir(previous)
        validate_findings_output([str(a) for a in args], result.stdout, cwd)
        return Run(result.exit_code, result.stdout, result.stderr)
    return invoke


@pytest.fixture
def run_process():
    """run_process(*args, cwd=None) -> Run: the installed console script, in a subprocess."""
    def invoke(*args: str, cwd: Path | None = None, env: dict | None = None) -> Run:
        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run([str(KEYSWEEP_BIN), *map(str, args)], cwd=cwd, capture_output=True,
                                env=full_env, timeout=120)
        validate_findings_output([str(a) for a in args], result.stdout.decode("utf-8", "replace"), cwd)
        return Run(result.returncode, result.stdout.decode("utf-8", "replace"),
                   result.stderr.decode("utf-8", "replace"))
    return invoke


# -- reading findings -----------------------------------------------------------------------------
def by_rule(findings: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for finding in findings:
        grouped.setdefault(finding["rule_id"], []).append(finding)
    return grouped


def find_secret(findings: list[dict], secret: str) -> dict:
    """The one finding whose fingerprint is this secret's SHA-256."""
    import hashlib

    digest = hashlib.sha256(secret.encode()).hexdigest()
    matching = [f for f in findings if f["secret_sha256"] == digest]
    assert len(matching) == 1, f"expected one finding for …{secret[-6:]}, got {len(matching)}: " \
                               f"{[f['rule_id'] + ' ' + f['redacted'] for f in findings]}"
    return matching[0]


def places(finding: dict) -> set[tuple]:
    """(path, line, commit) of every occurrence."""
    return {(o["path"], o["line"], o["commit"]) for o in finding["occurrences"]}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes tens of seconds (builds a wheel); runs by default, "
                                       "deselect with -m 'not slow'")


# -- no internet ----------------------------------------------------------------------------------
def _is_loopback(address) -> bool:
    import ipaddress

    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like never leave the machine
    host = address[0]
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an unresolved name: it could go anywhere


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Fail any test that opens a connection to a non-loopback address (also through a library's
    own DNS resolution: names are resolved before connect, so the address is checked)."""
    import socket

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address):
        if not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")

    def connect(self, address):
        guard(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield


# -- provider APIs on 127.0.0.1 (verification, owners) ---------------------------------------------
PROVIDER_ENV = ("OPENAI_BASE_URL", "OPENAI_ADMIN_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_ADMIN_KEY",
                "ANTHROPIC_API_KEY", "HF_ENDPOINT", "GITHUB_API_URL", "GITHUB_TOKEN", "GITLAB_URL", "GITLAB_TOKEN",
                "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def clean_provider_env(monkeypatch, tmp_path):
    """No real endpoint, admin key or AWS profile of the machine leaks into a test; boto3 never
    asks the instance metadata service."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("KEYSWEEP_") and (name.endswith("_BASE_URL") or name.endswith("_ADMIN_KEY")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.fixture(scope="session")
def _fake_api_server():
    from tests.fakes.api import FakeApi

    server = FakeApi().start()
    yield server
    server.stop()


@pytest.fixture
def fake_api(_fake_api_server):
    """A scriptable provider API on 127.0.0.1 (tests.fakes.api.FakeApi), empty per test."""
    _fake_api_server.reset()
    yield _fake_api_server
    _fake_api_server.reset()


# OpenAI's documented answers for a key it accepts: the models list (the org in a header) and the key's user.
OPENAI_MODELS = {"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]}


@pytest.fixture
def openai_api(fake_api, monkeypatch):
    """fake_api answering as OpenAI does for a live key, with OPENAI_BASE_URL pointing at it."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    fake_api.add("GET", "/openai/v1/models", json=OPENAI_MODELS, headers={"openai-organization": "org-acme"})
    fake_api.add("GET", "/openai/v1/me", json={"object": "user", "id": "user-1", "email": "jane@acme.io"})
    return fake_api


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto in server mode on 127.0.0.1 (one per session): the AWS endpoint URL."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def allow(actions: str | list[str]) -> str:
    """An IAM policy document allowing `actions` on every resource."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})


def refuse_inactive_keys(monkeypatch) -> None:
    """Have moto refuse a request signed with an IAM access key that is not Active, as AWS does.

    AWS authenticates no request signed with an inactive key: STS's GetCallerIdentity (and every other
    call) is answered 403 InvalidClientTokenId, "The security token included in the request is
    invalid." (AWS Common Errors: InvalidClientTokenId, HTTP 403), the answer it gives a deleted key.
    moto's signature check (moto.iam.access_control.IAMUserAccessKey) finds the key by its id and
    never looks at its status, so an inactive key still signed in. The server runs in this process
    (ThreadedMotoServer): its lookup is wrapped to refuse such a key with moto's own answer for an
    unknown id (CreateAccessKeyFailure "InvalidId" -> InvalidClientTokenId, 403); a deleted key moto
    already refuses so. Undone when the test ends."""
    from moto.iam import access_control

    lookup = access_control.IAMUserAccessKey.__init__

    def active_only(self, account_id, partition, access_key_id, headers):
        lookup(self, account_id, partition, access_key_id, headers)
        for user in self.backend.list_users("/", None, None):
            if any(key.access_key_id == access_key_id and key.status != "Active" for key in user.access_keys):
                raise access_control.CreateAccessKeyFailure(reason="InvalidId")

    monkeypatch.setattr(access_control.IAMUserAccessKey, "__init__", active_only)


class SignedMoto:
    """moto, reset, with AWS_ENDPOINT_URL and the region pointing at it. `client(service)` sets things up
    with moto's own credentials; `sign_in(key)` then makes `key` keysweep's credentials and has moto
    check every signature and policy until the test ends."""

    def __init__(self, endpoint: str, monkeypatch, region: str) -> None:
        import requests

        self.endpoint, self.monkeypatch, self.region = endpoint, monkeypatch, region
        requests.post(f"{endpoint}/moto-api/reset", timeout=10)
        refuse_inactive_keys(monkeypatch)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def sign_in(self, key: dict[str, str]) -> None:
        import requests

        self.monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        self.monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"0", timeout=10)


@pytest.fixture
def signed_moto(moto_endpoint, monkeypatch):
    """signed_moto(region="us-east-1") -> SignedMoto; moto stops checking signatures after the test."""
    import requests

    try:
        yield lambda region="us-east-1": SignedMoto(moto_endpoint, monkeypatch, region)
    finally:
        requests.post(f"{moto_endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)


def two_profiles_secret_first(moto: SignedMoto, monkeypatch) -> tuple[dict[str, str], dict[str, str], dict[str, str], str]:
    """In a signed moto (set up with moto's own credentials, nobody signed in yet): keysweep's admin,
    allowed everything, and users deploy and billing with an active key each; with the text of a credentials file listing each profile's secret before its key id, as
    the file allows, so the billing secret sits nearer the default profile's key id than its own.
    Returns (admin, deploy's key, billing's key, that text)."""
    iam = moto.client("iam")
    iam.create_user(UserName="keysweep-admin")
    iam.put_user_policy(UserName="keysweep-admin", PolicyName="all", PolicyDocument=allow("*"))
    admin = iam.create_access_key(UserName="keysweep-admin")["AccessKey"]
    made = {}
    for user in ("deploy", "billing"):
        iam.create_user(UserName=user)
        made[user] = iam.create_access_key(UserName=user)["AccessKey"]
    a, b = made["deploy"], made["billing"]
    text = (f"[default]\naws_secret_access_key = {a['SecretAccessKey']}\naws_access_key_id = {a['AccessKeyId']}\n"
            f"[billing]\naws_secret_access_key = {b['SecretAccessKey']}\naws_access_key_id = {b['AccessKeyId']}\n")
    return admin, a, b, text


def admin_client(moto: SignedMoto, admin: dict[str, str], service: str, monkeypatch):
    """A boto3 client of `service` in moto with the admin's key (boto3's default session forgotten:
    it keeps the credentials an earlier test in this process resolved)."""
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return boto3.client(service, endpoint_url=moto.endpoint, region_name=moto.region,
                        aws_access_key_id=admin["AccessKeyId"], aws_secret_access_key=admin["SecretAccessKey"])


@pytest.fixture
def aws_principals(signed_moto):
    """In moto: keysweep's own audit user (may read IAM), an admin user, a read-only S3 user (its own
    policy allows no IAM read at all) in a group with an inline policy; signatures checked."""
    moto = signed_moto()
    iam = moto.client("iam")
    iam.create_user(UserName="keysweep-audit")
    iam.put_user_policy(UserName="keysweep-audit", PolicyName="audit",
                        PolicyDocument=allow(["iam:Get*", "iam:List*", "sts:*"]))
    audit = iam.create_access_key(UserName="keysweep-audit")["AccessKey"]
    iam.create_user(UserName="ops-admin")
    iam.attach_user_policy(UserName="ops-admin", PolicyArn=iam.create_policy(
        PolicyName="everything", PolicyDocument=allow("*"))["Policy"]["Arn"])
    admin = iam.create_access_key(UserName="ops-admin")["AccessKey"]
    iam.create_user(UserName="reports")
    iam.attach_user_policy(UserName="reports", PolicyArn=iam.create_policy(
        PolicyName="s3-read", PolicyDocument=allow(["s3:GetObject", "s3:ListBucket"]))["Policy"]["Arn"])
    iam.create_group(GroupName="analysts")
    iam.add_user_to_group(GroupName="analysts", UserName="reports")
    iam.put_group_policy(GroupName="analysts", PolicyName="athena", PolicyDocument=allow("athena:GetQueryResults"))
    reader = iam.create_access_key(UserName="reports")["AccessKey"]
    moto.sign_in(audit)
    return {"admin": admin, "reader": reader}


# -- store backends -------------------------------------------------------------------------------
# The PostgreSQL server the store tests use (issue 16): 127.0.0.1:5432, trust auth, database `test`,
# unless the developer points them elsewhere.
POSTGRES_URL = os.environ.get("KEYSWEEP_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url_in_schema(schema: str, base: str = POSTGRES_URL) -> str:
    """`base` with its connections' search_path set to `schema` (where the store's tables go)."""
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_url():
    """A PostgreSQL store of this test's own: a fresh schema (parallel runs and CI jobs never meet),
    dropped with everything in it afterwards."""
    import uuid

    import psycopg

    schema = f"keysweep_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield postgres_url_in_schema(schema)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '30s'")
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_at(request, tmp_path) -> str:
    """Where a store conformance test keeps its store: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")
