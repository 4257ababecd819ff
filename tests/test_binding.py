"""Never act on the wrong key: a provider key id is bound to a finding only by proof (the re-read
value fitting exactly one inventory key's redacted form), by one matcher that owners and revokers
share, and re-checked before every destructive call by id.

The fakes here disagree with keysweep on purpose: inventories with two keys sharing the last four
characters, and two keys whose redacted forms are identical."""

from __future__ import annotations

import sqlite3

import pytest

from keysweep.fingerprint import redact, secret_sha256
from keysweep.revokers._common import PlanIdentity
from keysweep.revokers.binding import bind, shows
from tests.fakes.providers import FakeAnthropic, FakeOpenAI, FakeProviders, anthropic_hint, openai_redacted
from tests.revoke_helpers import env_for, set_env, write_config


def identity(value: str) -> PlanIdentity:
    return PlanIdentity(secret_sha256(value), redact(value, "sk-proj-"))


def tail_twin(value: str, other: str) -> str:
    """Another key of the same shape whose last four characters are the value's."""
    return other[:-4] + value[-4:]


def hint_twin(value: str, other: str) -> str:
    """Another key whose OpenAI redacted form (first 10 + last 4) is the value's own."""
    return value[:10] + other[10:-4] + value[-4:]


# -- the matcher ----------------------------------------------------------------------------------
def test_shows_is_exact_only_for_the_rehashed_value_fitting_every_shown_character(keys):
    value, other = keys.openai_project(), keys.openai_project()
    finding = identity(value)
    assert shows(openai_redacted(value), finding, value) == "exact"
    assert shows(openai_redacted(tail_twin(value, other)), finding, value) == "no"
    # Without the value only our own redacted form (last 4) can be compared: a hint, never exact.
    assert shows(openai_redacted(value), finding, None) == "hint"
    assert shows(openai_redacted(tail_twin(value, other)), finding, None) == "hint"
    # A value whose SHA-256 is not the finding's proves nothing.
    assert shows(openai_redacted(other), finding, other) == "no"
    # A provider form that shows only the tail cannot tell keys apart, even with the value.
    assert shows("..." + value[-4:], finding, value) == "hint"


def test_bind_names_a_key_only_when_exactly_one_shows_the_value(keys):
    value, other, third = keys.openai_project(), keys.openai_project(), keys.openai_project()
    finding = identity(value)
    entries = [{"id": "key_tail", "redacted_value": openai_redacted(tail_twin(value, other))},
               {"id": "key_real", "redacted_value": openai_redacted(value)}]
    assert bind(entries, lambda e: e["redacted_value"], finding, value).key_id == "key_real"
    without_value = bind(entries, lambda e: e["redacted_value"], finding, None)
    assert without_value.key_id is None and len(without_value.matched) == 2
    shared = entries + [{"id": "key_same_hint", "redacted_value": openai_redacted(hint_twin(value, third))}]
    ambiguous = bind(shared, lambda e: e["redacted_value"], finding, value)
    assert ambiguous.key_id is None and {e["id"] for e in ambiguous.matched} == {"key_real", "key_same_hint"}


# -- owners and revoke, end to end against the fakes ------------------------------------------------
def deletes(fake) -> list[tuple[str, str]]:
    return [(method, path) for method, path in fake.requests if method == "DELETE"]


def scan_one(run, tmp_path, value: str):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "app.env").write_text(f"OPENAI_API_KEY={value}\n")
    db = tmp_path / "s.db"
    assert run("scan", "dir", folder, "--db", db).code == 1
    return folder / "app.env", db


def job_of(result) -> dict:
    jobs = result.json()["jobs"]
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_unreadable_value_gets_no_key_id_and_a_stored_tail_match_is_never_deleted(run, tmp_path, keys, monkeypatch):
    leaked, other = keys.openai_project(), keys.openai_project()
    twin = tail_twin(leaked, other)  # the organisation's key that merely ends like the leaked one
    path, db = scan_one(run, tmp_path, leaked)
    path.unlink()  # the value can no longer be re-read
    fake = FakeOpenAI([twin], projects=1)
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        owners = run("owners", "--db", db, "--format", "json")
        finding = owners.json()[0]
        assert finding["key_id"] is None, "a last-4 match must never become a key id"
        candidate = [c for c in finding["owner_candidates"] if c["source"] == "openai-admin"][0]
        assert candidate["confidence"] <= 0.5 and "last 4" in candidate["evidence"]

        # A store written by an older keysweep may hold the tail match's id: the revoker must re-prove it.
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE findings SET key_id = 'key_00000'")
        result = run("revoke", "--all", "--execute", "--yes", "--config", write_config(tmp_path / "k.toml"),
                     "--confirm-delay", "0", "--format", "json")
        job = job_of(result)
        assert job["state"] == "failed_permanent", job
        assert job["last_error"].startswith("needs a person: ") and "re-read" in job["last_error"]
        assert deletes(fake) == [], "nothing may be deleted without proof"
        assert twin in fake.active


def test_two_keys_sharing_the_redacted_form_are_never_deleted(run, tmp_path, keys, monkeypatch):
    leaked, other = keys.openai_project(), keys.openai_project()
    twin = hint_twin(leaked, other)
    _, db = scan_one(run, tmp_path, leaked)
    fake = FakeOpenAI([leaked, twin], projects=1)
    assert openai_redacted(leaked) == openai_redacted(twin)
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        finding = run("owners", "--db", db, "--format", "json").json()[0]
        assert finding["key_id"] is None
        assert "ambiguous" in finding["owner"]["evidence"]
        result = run("revoke", "--all", "--execute", "--yes", "--config", write_config(tmp_path / "k.toml"),
                     "--confirm-delay", "0", "--format", "json")
        job = job_of(result)
        assert job["state"] == "failed_permanent" and job["last_error"].startswith("needs a person: ")
        assert "2 keys" in job["last_error"]
        assert deletes(fake) == []
        assert {leaked, twin} <= fake.active


def test_tail_twin_in_the_inventory_is_skipped_and_the_proven_key_deleted(run, tmp_path, keys, monkeypatch):
    leaked, other = keys.openai_project(), keys.openai_project()
    twin = tail_twin(leaked, other)
    _, db = scan_one(run, tmp_path, leaked)
    fake = FakeOpenAI([leaked, twin], projects=2)
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        finding = run("owners", "--db", db, "--format", "json").json()[0]
        leaked_id = next(k for k, (_p, v) in fake.ids.items() if v == leaked)
        assert finding["key_id"] == leaked_id
        result = run("revoke", "--all", "--execute", "--yes", "--config", write_config(tmp_path / "k.toml"),
                     "--confirm-delay", "0", "--format", "json")
        assert job_of(result)["state"] == "confirmed", result
        assert len(deletes(fake)) == 1 and leaked_id in deletes(fake)[0][1]
        assert twin in fake.active and leaked not in fake.active


def test_a_stored_key_id_that_is_not_the_proven_key_stops_the_revoker(run, tmp_path, keys, monkeypatch):
    leaked, other = keys.openai_project(), keys.openai_project()
    twin = tail_twin(leaked, other)
    _, db = scan_one(run, tmp_path, leaked)
    fake = FakeOpenAI([leaked, twin], projects=1)
    twin_id = next(k for k, (_p, v) in fake.ids.items() if v == twin)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE findings SET key_id = ?", [twin_id])
    with FakeProviders(openai=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        result = run("revoke", "--all", "--execute", "--yes", "--config", write_config(tmp_path / "k.toml"),
                     "--confirm-delay", "0", "--format", "json")
        job = job_of(result)
        assert job["state"] == "failed_permanent" and twin_id in job["last_error"], job
        assert deletes(fake) == [] and {leaked, twin} <= fake.active


@pytest.mark.parametrize("readable", [True, False])
def test_anthropic_never_disables_a_key_it_cannot_prove(run, tmp_path, keys, monkeypatch, readable):
    leaked, other = keys.anthropic(), keys.anthropic()
    twin = leaked[:16] + other[16:-4] + leaked[-4:]  # same partial_key_hint as the leaked key
    assert anthropic_hint(twin) == anthropic_hint(leaked)
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "bot.py").write_text(f'KEY = "{leaked}"\n')
    db = tmp_path / "s.db"
    assert run("scan", "dir", folder, "--db", db).code == 1
    if not readable:
        (folder / "bot.py").unlink()
    fake = FakeAnthropic([twin] if not readable else [leaked, twin])
    with FakeProviders(anthropic=fake) as fakes:
        set_env(monkeypatch, env_for(fakes, db))
        finding = run("owners", "--db", db, "--format", "json").json()[0]
        assert finding["key_id"] is None
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE findings SET key_id = ?", [next(iter(fake.ids))])
        result = run("revoke", "--all", "--execute", "--yes", "--config", write_config(tmp_path / "k.toml"),
                     "--confirm-delay", "0", "--format", "json")
        job = job_of(result)
        assert job["state"] == "failed_permanent" and job["last_error"].startswith("needs a person: "), job
        assert not [path for method, path in fake.requests if method == "POST"]
        assert twin in fake.active


def test_owners_and_revokers_use_the_one_matcher():
    import inspect

    from keysweep.owners import inventories
    from keysweep.revokers import _common, anthropic, openai

    for module in (inventories, _common):
        assert "bind(" in inspect.getsource(module), module.__name__
    for revoker in (openai, anthropic):  # both prove a key through the one shared check, which binds
        assert "proven_inventory_key(" in inspect.getsource(revoker), revoker.__name__
    assert not hasattr(openai, "matches_redacted"), "the revoker's looser matcher is gone"

