"""`owners --offline` weighs the candidates of the resolvers it skips (admin inventories, IAM, the
token's identity) as stored by an earlier online run: a weaker offline guess never replaces them."""

from __future__ import annotations

from keysweep.fingerprint import finding_id, redact, secret_sha256
from keysweep.models import Finding, Occurrence
from keysweep.store import Store


def test_offline_run_keeps_the_stronger_stored_candidate(tmp_path, run):
    value = "sk-proj-" + "Own3" * 12
    digest = secret_sha256(value)
    finding = Finding(id=finding_id("openai", digest), rule_id="openai.project-key", provider="openai",
                      secret_sha256=digest, redacted=redact(value, "sk-proj-"), long_lived=True,
                      occurrences=[Occurrence(source="git", path=".env", line=1, repo="acme/web", commit="c" * 40,
                                              author_name="Dev", author_email="dev@acme.test",
                                              committed_at="2026-01-01T00:00:00Z")])
    store = Store(tmp_path / "k.db")
    store.record([finding], "scope", "2026-01-02T00:00:00Z")
    # What an online run stored: the admin inventory's owner (chosen) and the commit author.
    store.replace_owner_candidates(finding.id, [
        {"name": "ml-platform", "team": "ml", "source": "openai-admin", "confidence": 0.9, "chosen": True,
         "evidence": "project key owned by ml-platform | chosen over 1 other candidate: commit-author Dev (0.30)",
         "details": {"project_id": "proj_1", "key_id": "key_1"}},
        {"name": "Dev", "contact": "dev@acme.test", "source": "commit-author", "confidence": 0.3,
         "evidence": "author of commit"},
    ], "2026-01-02T00:00:00Z")
    store.close()
    result = run("owners", "--offline", "--format", "json", "--db", tmp_path / "k.db")
    (record,) = result.json()
    assert record["owner"]["name"] == "ml-platform" and record["owner"]["source"] == "openai-admin"
    assert record["owner"]["confidence"] == 0.9 and record["unowned"] is False
    sources = {c["source"]: c for c in record["owner_candidates"]}
    assert set(sources) == {"openai-admin", "commit-author"}  # all kept
    assert sources["openai-admin"]["details"]["project_id"] == "proj_1"  # what a revoker needs later
    assert sources["openai-admin"]["evidence"].count("chosen over") == 1
    # Run it again: still one of each, still the admin inventory.
    again = run("owners", "--offline", "--format", "json", "--db", tmp_path / "k.db").json()[0]
    assert again["owner"]["source"] == "openai-admin" and len(again["owner_candidates"]) == 2
