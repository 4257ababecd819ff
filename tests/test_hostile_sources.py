"""Strings a scanned source chooses — a Helm release's values keys, its notes, a chart's file
names — reach every output as data: escaped on a terminal and in the HTML report, exact in JSON,
never markup, never a forged line; and no such string, however malformed (a lone surrogate that
JSON's `\\ud800` makes), stops the rest of its namespace from being read."""

from __future__ import annotations

import html
import json

import pytest

from keysweep.sanitize import terminal_safe
from tests.fakes.kubernetes import FakeKubernetes, kubeconfig

from .conftest import find_secret
from .test_google_apikeys import leaked_repo as google_leak  # noqa: F401  (a fixture)

pytest.importorskip("kubernetes")

TOKEN = "k8s-reader-token-not-a-secret"
# An OSC 8 hyperlink, rich markup, the 8-bit CSI, a bidi override, a zero-width space, and a CR LF
# that would print a forged line of keysweep's own.
EVIL = "e\x1b]8;;https://x\x07[bold red]REVOKED[/]\x9b2J\u202e\u200b\r\nkeysweep: 0 findings"
RAW_FORBIDDEN = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\u200b")


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """rich adds no colour codes of its own, so any ESC in the output came from the data."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "400")  # each place on one line of the table


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    server = FakeKubernetes(token=TOKEN).start()
    monkeypatch.setenv("KUBECONFIG", kubeconfig(tmp_path / "kubeconfig", server.url, TOKEN, {"prod": "apps"},
                                                current="prod"))
    yield server
    server.stop()


def assert_nothing_raw(result) -> None:
    for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        for char in RAW_FORBIDDEN:
            assert char not in text, (stream, repr(char), result)
        assert not any(line.startswith("keysweep: 0 findings") for line in text.splitlines()), (stream, result)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result


def html_report(run, tmp_path, db) -> str:
    """`report --format html` of the store: the page, holding none of the raw control characters."""
    page = tmp_path / "report.html"
    assert run("report", "--db", db, "--format", "html", "-o", page).code == 0
    text = page.read_text()
    for char in RAW_FORBIDDEN:
        assert char not in text, repr(char)
    return text


@pytest.fixture
def hostile_release(cluster, keys):
    """A release whose values hold a key under a hostile path, and another under a key that is a
    lone surrogate (valid JSON, not valid UTF-8)."""
    planted = {"evil": keys.openai_project(), "surrogate": keys.anthropic(), "plain": keys.github()}
    cluster.helm_release("apps", "pay", 1, values={EVIL: {"apiKey": planted["evil"]},
                                                   "s\ud800": planted["surrogate"], "gh": planted["plain"]},
                         notes=EVIL)
    return planted


EVIL_PLACE = f"k8s prod apps helm release pay v1 values:{EVIL}.apiKey"


def test_a_lone_surrogate_in_a_values_key_hides_nothing(run, tmp_path, hostile_release):
    """Was: UnicodeEncodeError for the whole namespace, 'nothing was scanned', every key missed."""
    result = run("scan", "kubernetes", "--db", tmp_path / "s.db", "--no-progress", "--format", "json")
    assert result.code == 1, result
    assert len(result.json()) == 3, result
    (place,) = find_secret(result.json(), hostile_release["surrogate"])["occurrences"]
    assert place["locator"]["key"] == "values:s\ufffd"  # what UTF-8, SQLite and the audit chain can hold
    assert result.stderr == "", result


@pytest.mark.parametrize("fmt", ["table", "csv", "sarif", "gitlab", "jsonl"])
def test_every_scan_format_reports_every_key_of_a_hostile_release(run, tmp_path, hostile_release, fmt):
    result = run("scan", "kubernetes", "--db", tmp_path / "s.db", "--no-progress", "--format", fmt)
    assert result.code == 1, result
    assert_nothing_raw(result)
    for value in hostile_release.values():
        assert value not in result.stdout
    if fmt == "table":
        assert terminal_safe(EVIL_PLACE) in result.stdout, result
        assert "values:s\ufffd" in result.stdout, result


def test_json_keeps_the_hostile_values_path_exactly(run, tmp_path, hostile_release):
    result = run("scan", "kubernetes", "--db", tmp_path / "s.db", "--no-progress", "--format", "json")
    (place,) = find_secret(result.json(), hostile_release["evil"])["occurrences"]
    assert place["locator"]["key"] == f"values:{EVIL}.apiKey"
    assert place["locator"]["resource"] == EVIL_PLACE


@pytest.fixture
def hostile_store(run, tmp_path, hostile_release):
    db = tmp_path / "s.db"
    assert run("scan", "kubernetes", "--db", db, "--no-progress", "--format", "json").code == 1
    return db


@pytest.mark.parametrize("command", [("findings",), ("status",), ("report",), ("revoke", "--all"),
                                     ("owners", "--offline"), ("report", "--audit")])
def test_stored_hostile_places_are_shown_escaped(run, hostile_store, command):
    result = run(*command, "--db", hostile_store)
    assert result.code == (1 if command == ("findings",) else 0), result  # findings: 1 when any is open
    assert_nothing_raw(result)
    if command[0] in ("findings", "status", "revoke"):
        assert terminal_safe(EVIL_PLACE) in result.stdout, result


def test_the_html_report_shows_a_hostile_place_as_text(run, tmp_path, hostile_store):
    text = html_report(run, tmp_path, hostile_store)
    assert html.escape(terminal_safe(EVIL_PLACE), quote=True) in text


def test_json_commands_keep_the_place_and_stay_json(run, hostile_store):
    for command in (("findings", "--format", "json"), ("report", "--format", "json"), ("events",)):
        result = run(*command, "--db", hostile_store)
        assert result.code == (1 if command[0] == "findings" else 0), result
        text = result.stdout
        for line in (text.splitlines() if command == ("events",) else [text]):
            json.loads(line)
    places = [o["locator"]["resource"] for f in run("findings", "--format", "json", "--db", hostile_store).json()
              for o in f["occurrences"]]
    assert EVIL_PLACE in places


def test_the_matched_bytes_keep_smuggled_bytes_and_mark_lone_surrogates():
    from keysweep.sanitize import stored_text
    from keysweep.scanner.sources import utf8

    assert utf8("a\ud800b\udc80c") == b"a\xef\xbf\xbdb\x80c"  # \udc80: a byte surrogateescape read
    # A name keeps a smuggled byte visible as \\xNN (as file names are) and a lone surrogate as U+FFFD.
    assert stored_text("s\ud800\udc80x") == "s\ufffd\\x80x" and stored_text("plain") == "plain"


# -- bytes that are not UTF-8: a directory named in Latin-1, an actor from the environment ------------
@pytest.fixture
def latin1_repo(make_repo, keys):
    """A repository in a directory whose name holds the byte 0xff (Python's argv gives it as \\udcff)."""
    planted = keys.openai_project()
    repo = make_repo("caf\udcff")
    repo.commit("key", {"a.env": f"K={planted}\n"})
    return repo.path, planted


def test_a_repository_in_a_directory_not_named_in_utf8_is_scanned_and_selected(run, tmp_path, latin1_repo):
    """Was: 'internal error: UnicodeDecodeError' (git's answer decoded as UTF-8), nothing scanned;
    then a --repo naming it failed the store's query."""
    path, planted = latin1_repo
    db = tmp_path / "s.db"
    result = run("scan", "git", path, "--db", db, "--format", "json")
    assert result.code == 1, result
    (place,) = find_secret(result.json(), planted)["occurrences"]
    shown = str(path.parent) + "/caf\\xff"  # as file names are stored: the byte written \\xNN
    assert place["repo"] == shown
    table = run("findings", "--repo", path, "--db", db)
    assert table.code == 1 and f"{shown}:a.env:1" in table.stdout and table.stderr == "", table
    plan = run("revoke", "--all", "--repo", path, "--db", db)
    assert plan.code == 0 and "1 credential would be acted on" in plan.stdout, plan


def test_an_actor_not_in_utf8_is_recorded_in_the_audit_chain(run, tmp_path, latin1_repo, monkeypatch):
    """Was: 'internal error: UnicodeEncodeError' from --actor (or $KEYSWEEP_ACTOR) with such a byte."""
    path, _planted = latin1_repo
    db = tmp_path / "s.db"
    run("scan", "git", path, "--db", db, "--format", "json")
    assert run("revoke", "--all", "--actor", "mall\udcffory", "--db", db).code == 0
    monkeypatch.setenv("KEYSWEEP_ACTOR", "env\udcfe")
    assert run("revoke", "--all", "--db", db).code == 0
    log = run("audit", "log", "--db", db)
    assert log.code == 0 and "mall\\xffory" in log.stdout and "env\\xfe" in log.stdout, log
    assert run("audit", "verify", "--db", db).code == 0


# -- a distributed sweep's worker log -----------------------------------------------------------------
def test_a_workers_log_line_shows_a_units_label_and_error_escaped(monkeypatch, caplog):
    """A unit's label names a repository (a forge's listing chose it) and its error quotes what a
    store answered: the worker's warning shows both as one line of text. Was: raw ESC, CR LF."""
    import logging

    pytest.importorskip("celery")
    from keysweep.distributed.app import make_app
    from keysweep.distributed.config import DistributedConfig

    def fails(payload, state):
        raise RuntimeError(f"proxy said {EVIL}")

    monkeypatch.setattr("keysweep.distributed.tasks.run_unit", fails)
    app = make_app(DistributedConfig(broker="memory://", max_attempts=2), state=object())
    app.conf.task_always_eager = True
    caplog.set_level(logging.WARNING, logger="keysweep")
    (task,) = [task for name, task in app.tasks.items() if name.startswith("keysweep.") and "unit" in name]
    answer = task.apply(args=[{"unit": {"label": f"git {EVIL}"}}]).result
    said = " ".join(f"RuntimeError: proxy said {EVIL}".split())  # an error is one line: CR LF is a space
    assert answer == {"label": f"git {EVIL}", "failed": f"failed 2 times, last: {said}"}  # data, for the sweep
    (line,) = [record.getMessage() for record in caplog.records if "attempt 1 failed" in record.getMessage()]
    assert line == f"git {terminal_safe(EVIL)}: attempt 1 failed: {terminal_safe(said)}"


# -- a key's reach: names an IAM policy chose ----------------------------------------------------------
# A role name, a condition's title and a Deny statement's Sid are the policy writer's text.
HOSTILE_REACH = {
    "identity": f"sa@{EVIL}.iam.gserviceaccount.com",
    "permissions": [f"roles/owner{EVIL}", "[link=https://evil]roles/viewer[/link]"],
    "resources": [f"folders/1{EVIL}"], "flagged": [f"roles/owner{EVIL}"], "access": "admin",
    "evidence": f"cloudresourcemanager getIamPolicy {EVIL}",
    "unknown": [f"conditional bindings: roles/editor ({EVIL})", f'policy: Deny statement "{EVIL}" (iam:*)'],
    "details": {"granted_on": {f"folders/1{EVIL}": [f"roles/owner{EVIL}"]}},
    "checked_at": "2026-12-01T00:00:00Z",
}


@pytest.fixture
def store_with_reach(hostile_store):
    from keysweep.store import Store

    store = Store(hostile_store)
    for finding in store.findings():
        store.record_verification(finding.id, "live", {"login": EVIL}, None, "2026-12-01T00:00:00Z",
                                  reach=HOSTILE_REACH)
    store.close()
    return hostile_store


@pytest.mark.parametrize("command", [("revoke", "--all"), ("report",), ("report", "--audit"), ("status",),
                                     ("findings",), ("verify", "--ttl", "999999999")])
def test_a_hostile_reach_is_shown_as_text(run, store_with_reach, command):
    result = run(*command, "--db", store_with_reach)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result
    assert_nothing_raw(result)
    if command[0] == "revoke":
        assert f"reach:   critical (admin): roles/owner{terminal_safe(EVIL)}!, [link=https://evil]roles/viewer[/link]" \
               in result.stdout, result


def test_the_html_report_shows_a_hostile_reach_as_text(run, tmp_path, store_with_reach):
    text = html_report(run, tmp_path, store_with_reach)
    assert html.escape(f"roles/owner{terminal_safe(EVIL)}!", quote=True) in text
    assert "<link" not in text and "[link=https://evil]roles/viewer[/link]" in text


def test_json_keeps_a_hostile_reach_exactly(run, store_with_reach):
    result = run("findings", "--format", "json", "--db", store_with_reach)
    reaches = [f["reach"] for f in result.json()]
    assert reaches and all(r["unknown"] == HOSTILE_REACH["unknown"] for r in reaches)
    assert all(r["details"] == HOSTILE_REACH["details"] for r in reaches)


# -- a provider's error body, quoted by a revocation job ----------------------------------------------
def test_a_revocation_refused_with_a_hostile_message_is_recorded_and_shown_as_text(run, monkeypatch, google_leak):
    """Google's google.rpc.Status message is the answerer's text (a proxy's too), and JSON lets it
    hold a lone surrogate. Was: 'internal error: UnicodeEncodeError' in the middle of the run (the
    job left `revoking`, every resume failing the same way)."""
    r = google_leak
    assert run("scan", "dir", str(r.leak)).code == 1
    assert run("owners", "--format", "json").code == 0  # binds the key to its name at Google
    message = f"{EVIL} \ud800"
    r.servers.call(lambda: r.fake.operation_errors.append({"code": 9, "message": message}))
    done = run("revoke", "--provider", "google", "--execute", "--yes", "--confirm-delay", "0.01")
    assert done.code == 0, done
    assert_nothing_raw(done)
    assert f"failed (code 9): {terminal_safe(message)}" in done.stdout, done
    (job,) = run("revoke", "--provider", "google", "--format", "json").json()["plan"]
    assert job["job"]["state"] == "failed_permanent"
    log = run("audit", "log")
    # The audit row's JSON escapes C0 controls; the C1, bidi and zero-width ones the display escapes.
    assert log.code == 0 and "[bold red]REVOKED[/]\\x9b2J\\u202e\\u200b\\r\\nkeysweep: 0 findings \ufffd" in log.stdout, log
    assert_nothing_raw(log)
    assert run("audit", "verify").code == 0


# -- owner hints a store's labels give --------------------------------------------------------------
def test_hostile_owner_labels_are_owners_as_text(run, tmp_path, cluster, keys):
    """Labels are the cluster user's text. Was: a label value with a lone surrogate made every
    `keysweep owners` run on the store fail with 'internal error: UnicodeEncodeError'."""
    cluster.secret("apps", "openai", {"OPENAI_API_KEY": keys.openai_project()},
                   labels={"owner": EVIL, "team": EVIL, "acme.io/owner": "o\ud800"})
    db = tmp_path / "s.db"
    assert run("scan", "kubernetes", "--db", db, "--no-progress", "--format", "json").code == 1
    owners = run("owners", "--offline", "--db", db)
    assert owners.code == 0, owners
    assert_nothing_raw(owners)
    assert terminal_safe(EVIL) in owners.stdout and "acme.io/owner=o\ufffd" in owners.stdout, owners
    (finding,) = run("owners", "--offline", "--format", "json", "--db", db).json()
    assert (finding["owner"]["name"], finding["owner"]["team"]) == (EVIL, EVIL)  # JSON: exact
    for command in (("status",), ("report",), ("revoke", "--all")):
        shown = run(*command, "--db", db)
        assert shown.code == 0, shown
        assert_nothing_raw(shown)
        assert terminal_safe(EVIL) in shown.stdout, shown


def test_a_release_with_a_byte_that_is_not_utf8_is_still_read(run, tmp_path, cluster, keys):
    """Was: 'Helm release skipped: the release is not JSON' — one Latin-1 byte in its notes hid
    every key in its values."""
    import base64
    import gzip

    planted = keys.openai_project()
    release = (b'{"name": "pay", "version": 1, "info": {"notes": "caf\xe9"}, "chart": {"metadata": {"name": "w"}},'
               b' "config": {"openai": {"apiKey": "' + planted.encode() + b'"}}}')
    cluster.helm_release("apps", "pay", 1, packed=base64.b64encode(gzip.compress(release)))
    result = run("scan", "kubernetes", "--db", tmp_path / "s.db", "--no-progress", "--format", "json")
    assert result.code == 1 and result.stderr == "", result
    (place,) = find_secret(result.json(), planted)["occurrences"]
    assert place["locator"]["key"] == "values:openai.apiKey"


# -- what a provider says about a live key -------------------------------------------------------------
def test_an_identity_a_provider_answers_with_hostile_text_is_an_owner_as_text(run, tmp_path, fake_api, monkeypatch,
                                                                               keys):
    """OpenAI's /v1/me names the key's user (or a proxy answers in its place). Was: an email with a
    lone surrogate made `keysweep owners` fail with 'internal error: UnicodeEncodeError'."""
    from tests.conftest import OPENAI_MODELS

    monkeypatch.setenv("OPENAI_BASE_URL", fake_api.url + "/openai/v1")
    fake_api.add("GET", "/openai/v1/models", json=OPENAI_MODELS, headers={"openai-organization": "org-acme"})
    fake_api.add("GET", "/openai/v1/me", json={"object": "user", "id": "user-1", "email": "jane\ud800@acme.io",
                                               "name": EVIL})
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "a.env").write_text(f"K={keys.openai_project()}\n")
    db = tmp_path / "s.db"
    assert run("scan", "dir", leak, "--db", db).code == 1
    verified = run("verify", "--db", db)
    assert verified.code == 1, verified  # live
    assert_nothing_raw(verified)
    owners = run("owners", "--db", db)
    assert owners.code == 0, owners
    assert_nothing_raw(owners)
    assert "jane\ufffd@acme.io" in owners.stdout, owners
    (finding,) = run("findings", "--format", "json", "--db", db).json()
    assert finding["owner"]["name"] == "jane\ufffd@acme.io"
    assert finding["verification"]["identity"]["user_name"] == EVIL  # JSON: exact


def test_the_pre_commit_scan_works_in_a_directory_not_named_in_utf8(run, make_repo, keys):
    """Was: 'internal error: UnicodeDecodeError' (exit 2) from `scan staged`, the pre-commit hook,
    in such a repository: every commit there blocked, and no key in it found."""
    repo = make_repo("caf\udcff")
    repo.commit("init", {"README": "hi\n"})
    planted = keys.anthropic()
    (repo.path / "c.env").write_text(f"K={planted}\n")
    repo.git("add", "c.env")
    result = run("scan", "staged", "--format", "json", cwd=repo.path)
    assert result.code == 1, result
    (place,) = find_secret(result.json(), planted)["occurrences"]
    assert (place["repo"], place["path"]) == (str(repo.path.parent) + "/caf\\xff", "c.env")


def test_a_directory_not_named_in_utf8_is_scanned_into_the_store(run, tmp_path, keys):
    """Was: 'internal error: UnicodeEncodeError' once the scan was recorded (the store's query on
    the scope), every key found in it lost."""
    root = tmp_path / "caf\udcff"
    root.mkdir()
    planted = keys.openai_project()
    (root / "a.env").write_text(f"K={planted}\n")
    db = tmp_path / "s.db"
    for _ in range(2):  # the second reading finds the scope's record
        result = run("scan", "dir", root, "--db", db, "--format", "json")
        assert result.code == 1 and result.stderr == "", result
    assert find_secret(run("findings", "--format", "json", "--db", db).json(), planted)
