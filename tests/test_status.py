"""`keysweep status`: the report's counts (same names, same numbers) in total, per provider and per
team, and the ten most urgent credentials — live first, then long-lived, widest reach, oldest."""

from __future__ import annotations

import json

from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Finding, Occurrence
from keysweep.store import Store
from tests.selection_helpers import responder_store

COUNT_KEYS = ("count", "live", "dead", "unknown", "unverified", "no_value", "unowned", "open_jobs")


def test_status_counts_are_the_reports(run, tmp_path):
    db, _found = responder_store(tmp_path)
    status = run("status", "--format", "json", "--db", db)
    assert status.code == 0, status
    status = status.json()
    report = run("report", "--format", "json", "--db", db).json()
    assert status["totals"] == {key: report["totals"][key] for key in COUNT_KEYS}
    assert status["totals"] == {"count": 8, "live": 3, "dead": 2, "unknown": 1, "unverified": 1, "no_value": 1,
                                "unowned": 6, "open_jobs": 1}
    for ours, theirs in (("by_provider", "provider"), ("by_team", "team")):
        assert status[ours] == {name: {key: summary[key] for key in COUNT_KEYS}
                                for name, summary in report["by"][theirs].items()}
    assert set(status["by_provider"]) == {"anthropic", "aws", "openai"}
    assert set(status["by_team"]) == {"(no team)", "ML-Platform", "web"}
    # The owners threshold moves both the same way.
    lenient = run("status", "--format", "json", "--min-confidence", "0.2", "--db", db).json()
    assert lenient["totals"]["unowned"] == 5


def test_the_table_says_the_same_numbers(run, tmp_path):
    db, _found = responder_store(tmp_path)
    table = run("status", "--db", db)
    assert table.code == 0
    head = table.stdout.split("\n\n")[0].splitlines()  # folded between counts to fit 80 columns
    assert head == ["8 credentials: 3 live, 2 dead, 1 unknown, 1 unverified, 1 no value, 6 unowned,", "  1 open job"]
    assert "by provider" in table.stdout and "by team" in table.stdout and "most urgent:" in table.stdout
    rows = {line.split()[0]: line.split()[1:] for line in table.stdout.splitlines() if line.startswith("openai ")}
    assert rows["openai"] == ["6", "2", "2", "1", "1", "0", "4", "1"]


def test_the_most_urgent_come_live_first_then_long_lived_widest_and_oldest(run, tmp_path):
    db, f = responder_store(tmp_path)
    urgent = run("status", "--format", "json", "--db", db).json()["urgent"]
    assert [u["id"] for u in urgent] == [
        f["spread"].id,      # live, long-lived, in three kinds of source
        f["live"].id,        # live, one place, committed 637 days ago
        f["variable"].id,    # live, one place, set a month ago
        f["flaky"].id,       # latest check inconclusive
        f["unchecked"].id,   # never checked
        f["key_age"].id,     # nothing to check
    ]                        # the dead ones need nothing more
    assert [u["rank"] for u in urgent] == [1, 2, 3, 4, 5, 6]
    top = urgent[0]
    assert top["status"] == "live" and top["places"] == 3 and top["sources"] == ["aws-ssm", "dir", "git"]
    assert set(top) == {"rank", "id", "status", "provider", "rule_id", "redacted", "long_lived", "places", "sources",
                        "leaked_at", "age_seconds", "owner", "team", "unowned", "where", "severity", "overprivileged",
                        "job"}


def test_ten_at_most_and_a_short_lived_key_after_a_long_lived_one(run, tmp_path):
    store = Store(tmp_path / "k.db")
    made = []
    for index in range(12):
        value = f"sk-proj-{index:02d}" + "Many" * 12
        digest = secret_sha256(value)
        made.append(Finding(id=finding_id("openai", digest), rule_id="openai.project-key", provider="openai",
                            secret_sha256=digest, redacted=redact(value, value[:8]), long_lived=index != 0,
                            occurrences=[Occurrence(source="git", path=f"f{index}.env", line=1, repo="acme/app",
                                                    commit="c" * 40, committed_at=f"2026-01-{index + 10:02d}T00:00:00Z",
                                                    locator={"blob": "b" * 40})]))
    store.record(made, "scope", "2026-12-01T00:00:00Z")
    for finding in made:
        store.record_verification(finding.id, "live", {}, None, "2026-12-01T01:00:00Z")
    store.close()
    urgent = run("status", "--format", "json", "--db", tmp_path / "k.db").json()["urgent"]
    assert len(urgent) == 10
    # Long-lived ones first, oldest commit first; the one short-lived key (the oldest) is not in the ten.
    assert [u["id"] for u in urgent] == [f.id for f in made[1:11]]


def test_scanned_strings_reach_the_terminal_sanitised(run, tmp_path):
    store = Store(tmp_path / "k.db")
    value = "sk-proj-" + "Evil" * 12
    digest = secret_sha256(value)
    evil = Finding(id=finding_id("openai", digest), rule_id="openai.project-key", provider="openai",
                   secret_sha256=digest, redacted=redact(value, value[:8]), long_lived=True,
                   occurrences=[Occurrence(source="git", path="a\x1b[31m\u202e.env", line=1, repo="acme/app",
                                           commit="c" * 40, locator={"blob": "b" * 40})])
    store.record([evil], "scope", "2026-12-01T00:00:00Z")
    store.replace_owner_candidates(evil.id, [{"name": "mallory\x1b]8;;http://x\x07", "team": "red\u202eteam",
                                              "source": "owners-file", "confidence": 0.9, "chosen": True}],
                                   "2026-12-01T00:00:00Z")
    store.close()
    table = run("status", "--db", tmp_path / "k.db")
    assert table.code == 0
    assert "\x1b" not in table.stdout and "\u202e" not in table.stdout and "\x07" not in table.stdout
    assert "mallory" in table.stdout and "red" in table.stdout
    # JSON keeps the exact strings.
    data = json.loads(run("status", "--format", "json", "--db", tmp_path / "k.db").stdout)
    assert data["urgent"][0]["team"] == "red\u202eteam"


def test_output_file_and_no_store(run, tmp_path):
    db, _found = responder_store(tmp_path)
    out = tmp_path / "status.json"
    result = run("status", "--format", "json", "-o", out, "--db", db)
    assert result.code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["totals"]["count"] == 8
    missing = run("status", "--db", tmp_path / "nothing.db")
    assert missing.code == 2 and "no store yet" in missing.stderr
    assert not (tmp_path / "nothing.db").exists()


def test_an_empty_store_has_nothing_urgent(run, tmp_path):
    Store(tmp_path / "k.db").close()
    result = run("status", "--db", tmp_path / "k.db")
    assert result.code == 0
    assert result.stdout.splitlines()[0].startswith("0 credentials: 0 live")
    assert "Nothing urgent" in result.stdout
