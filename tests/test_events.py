"""`keysweep events`: the store's dated facts about findings as JSON Lines with stable ids, for SIEM
ingestion; `--since` on the event's time, `--after-seq` to resume exactly, `--kind` (a family:
`verified`)."""

from __future__ import annotations

import json

import pytest

from keysweep.store import Store
from tests.conftest import find_secret


@pytest.fixture
def store_with_events(run, make_repo, keys, tmp_path):
    repo = make_repo()
    key = keys.openai_project()
    repo.commit("Config", {"app/.env": f"OPENAI_API_KEY={key}\n"})
    db = tmp_path / "store.db"
    scanned = run("scan", "git", repo.path, "--db", db, "--format", "json")
    finding = find_secret(scanned.json(), key)
    store = Store(db)
    store.record_verification(finding["id"], "live", {"org": "org-acme"}, None, "2030-01-02T00:00:00Z")
    store.record_verification(finding["id"], "dead", None, None, "2030-01-03T00:00:00Z")
    store.close()
    return dict(db=db, finding=finding, key=key)


def events(run, db, *extra):
    result = run("events", "--db", db, *extra)
    assert result.code == 0, result
    return result.jsonl()


def test_every_event_with_its_finding_and_a_stable_id(run, store_with_events):
    s = store_with_events
    listed = events(run, s["db"])
    assert [e["kind"] for e in listed] == ["detected", "leaked", "verified_live", "verified_dead"]
    assert all(e["finding_id"] == s["finding"]["id"] and e["provider"] == "openai" for e in listed)
    assert all(e["redacted"] == s["finding"]["redacted"] for e in listed)
    assert [e["seq"] for e in listed] == sorted(e["seq"] for e in listed)
    assert len({e["id"] for e in listed}) == 4 and all(e["id"].startswith("ev_") for e in listed)
    assert events(run, s["db"]) == listed  # the same ids on every read
    leaked = listed[1]
    assert leaked["at"] == s["finding"]["occurrences"][0]["committed_at"]
    text = run("events", "--db", s["db"]).stdout
    body = s["key"][len("sk-proj-"):]
    assert not any(body[i:i + 8] in text for i in range(len(body) - 7))


def test_after_seq_resumes_and_since_filters_on_the_events_time(run, store_with_events):
    s = store_with_events
    listed = events(run, s["db"])
    assert events(run, s["db"], "--after-seq", listed[1]["seq"]) == listed[2:]
    assert events(run, s["db"], "--after-seq", listed[-1]["seq"]) == []
    assert [e["kind"] for e in events(run, s["db"], "--since", "2030-01-03")] == ["verified_dead"]


def test_kind_names_a_kind_or_a_family(run, store_with_events):
    s = store_with_events
    assert [e["kind"] for e in events(run, s["db"], "--kind", "verified")] == ["verified_live", "verified_dead"]
    assert [e["kind"] for e in events(run, s["db"], "--kind", "detected", "--kind", "verified_dead")] == \
        ["detected", "verified_dead"]
    assert events(run, s["db"], "--kind", "verif") == []  # a family is a whole word before "_"


def test_json_is_the_same_events_as_one_array(run, store_with_events, tmp_path):
    s = store_with_events
    as_json = run("events", "--db", s["db"], "--format", "json", "-o", tmp_path / "events.json")
    assert as_json.code == 0 and as_json.stdout == ""
    assert json.loads((tmp_path / "events.json").read_text()) == events(run, s["db"])


def test_errors_are_one_line(run, tmp_path, store_with_events):
    missing = run("events", "--db", tmp_path / "none.db")
    assert missing.code == 2 and "no store yet" in missing.stderr
    bad = run("events", "--db", store_with_events["db"], "--since", "yesterday-ish")
    assert bad.code == 2 and "--since" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_kind_that_is_no_kind_of_event_is_one_warning(run, tmp_path):
    from tests.selection_helpers import responder_store

    db, _found = responder_store(tmp_path)
    typo = run("events", "--kind", "revokd", "--db", db)
    assert typo.code == 0 and typo.stdout == ""
    assert typo.stderr.startswith("keysweep: warning: --kind 'revokd': no such kind of event (kinds: ")
    assert "revoked" in typo.stderr and len(typo.stderr.splitlines()) == 1
    family = run("events", "--kind", "verified", "--kind", "rotated", "--db", db)  # a family; a kind not held yet
    assert family.stderr == "" and family.stdout.count('"kind": "verified_') == 6
