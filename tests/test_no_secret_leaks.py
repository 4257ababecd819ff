"""The secret value never leaves memory: not in the store file (nor its write-ahead log), not in any
output format, not on stderr. Only the redacted form and the SHA-256 do."""

from __future__ import annotations

import hashlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keysweep.testing.gitrepo import RepoBuilder
from keysweep.testing.keygen import KeyGen

FORMATS = ("table", "json", "jsonl", "sarif", "csv", "gitlab")

KINDS = ("openai_project", "openai_service_account", "openai_admin", "openai_legacy", "anthropic",
         "huggingface", "google_api_key", "github", "aws_pair")

TEMPLATES = (
    "{name} = '{value}'\n",
    'export {name}="{value}"\n',
    "{name}: {value}\n",
    '{{"{name}": "{value}"}}\n',
    "    client = Client(api_key=\"{value}\")  # {name}\n",
)


def plant(keys: KeyGen, rng: random.Random, kind: str) -> tuple[str, list[str], list[str]]:
    """(file text, secret values, identifiers that may be shown) for one planted credential."""
    if kind == "aws_pair":
        key_id, secret = keys.aws_access_key_id(), keys.aws_secret_access_key()
        return (f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n", [secret], [key_id])
    value = getattr(keys, kind)()
    template = rng.choice(TEMPLATES)
    return template.format(name=kind.upper(), value=value), [value], []


def fragments(secret: str) -> list[str]:
    """The value, and its body without the 4 characters a redaction may show at each end."""
    return [secret, secret[4:-4]]


def build_planted_repo(path, seed: int) -> tuple[RepoBuilder, list[str], list[str]]:
    rng = random.Random(seed)
    keys = KeyGen(seed)
    repo = RepoBuilder(path)
    secrets: list[str] = []
    identifiers: list[str] = []
    repo.commit("Initial", {"README.md": "# planted\n"})
    for index in range(rng.randint(4, 9)):
        kind = rng.choice(KINDS)
        text, values, ids = plant(keys, rng, kind)
        secrets += values
        identifiers += ids
        filler = "".join(f"# line {i}\n" for i in range(rng.randint(0, 30)))
        path_name = f"{rng.choice(['src', 'deploy', 'conf', '.github/workflows'])}/f{index}.{rng.choice(['py', 'env', 'yml', 'sh'])}"
        repo.commit(f"Change {index}", {path_name: filler + text})
        if rng.random() < 0.4:
            repo.commit(f"Remove {index}", delete=[path_name])
        if rng.random() < 0.3:
            repo.git("checkout", "-q", "-b", f"side-{index}")
            repo.commit(f"Side {index}", {f"side/{index}.txt": text})
            repo.git("checkout", "-q", "main")
    return repo, secrets, identifiers


def assert_no_secret(blob: bytes | str, secrets: list[str], where: str) -> None:
    data = blob if isinstance(blob, bytes) else blob.encode("utf-8", "surrogateescape")
    for secret in secrets:
        for fragment in fragments(secret):
            assert fragment.encode() not in data, f"planted secret …{secret[-4:]} found in {where}"


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_no_planted_secret_in_store_or_output(run, tmp_path_factory, seed):
    work = tmp_path_factory.mktemp("leak")
    repo, secrets, identifiers = build_planted_repo(work / "repo", seed)
    db = work / "store.db"
    outputs: list[tuple[str, str]] = []

    for fmt in FORMATS:
        result = run("scan", "git", repo.path, "--db", db, "--format", fmt, "--full")
        assert result.code == 1, result
        outputs += [(f"scan git --format {fmt} stdout", result.stdout), (f"scan git {fmt} stderr", result.stderr)]
        listed = run("findings", "--db", db, "--format", fmt)
        outputs += [(f"findings --format {fmt}", listed.stdout), (f"findings {fmt} stderr", listed.stderr)]
    for fmt in ("table", "json"):
        dir_scan = run("scan", "dir", repo.path, "--db", db, "--format", fmt)
        outputs += [(f"scan dir --format {fmt}", dir_scan.stdout + dir_scan.stderr)]
    report = work / "report.sarif"
    assert run("scan", "git", repo.path, "--db", db, "--format", "sarif", "-o", report).code == 1
    outputs.append(("-o report.sarif", report.read_text(encoding="utf-8")))

    # The scans found what was planted: the property is about real findings, not an empty store.
    findings = run("findings", "--db", db, "--format", "json").json()
    fingerprints = {f["secret_sha256"] for f in findings}
    for secret in secrets:
        assert hashlib.sha256(secret.encode()).hexdigest() in fingerprints
    # An AWS key id is an identifier, shown as key_id by design; its secret is not.
    assert set(identifiers) <= {f["key_id"] for f in findings}

    for where, text in outputs:
        assert_no_secret(text, secrets, where)
    store_files = [p for p in work.iterdir() if p.name.startswith("store.db")]
    assert any(p.name == "store.db" for p in store_files)
    for path in store_files:  # store.db, store.db-wal, store.db-shm
        assert_no_secret(path.read_bytes(), secrets, path.name)


def test_wal_file_is_checked_while_it_holds_data(run, make_repo, keys, tmp_path):
    """Right after a scan, before any checkpoint, the write-ahead log is where new rows are."""
    import sqlite3

    repo = make_repo()
    secret = keys.openai_project()
    repo.commit("Add", {"a.env": f"OPENAI_API_KEY={secret}\n"})
    db = tmp_path / "store.db"
    holder = sqlite3.connect(db)  # an open reader keeps the WAL from being checkpointed away
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE IF NOT EXISTS keepalive (x)")
    holder.commit()
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM keepalive").fetchall()
    try:
        assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
        wal = tmp_path / "store.db-wal"
        assert wal.exists() and wal.stat().st_size > 0
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in wal.read_bytes() + db.read_bytes()
        assert_no_secret(wal.read_bytes(), [secret], "store.db-wal")
        assert_no_secret(db.read_bytes(), [secret], "store.db")
    finally:
        reader.close()
        holder.close()
