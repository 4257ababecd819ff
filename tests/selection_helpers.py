"""A store a responder would hold: every status the report counts, owners with teams, a key found in
three kinds of source, findings detected on two days (built on tests/test_report_truth.py's)."""

from __future__ import annotations

from pathlib import Path

from tests.test_report_truth import DETECTED, finding, in_git, in_ssm, populated

LATER = "2026-12-02T09:00:00Z"


def responder_store(tmp_path: Path) -> tuple[Path, dict]:
    """(store path, {name: Finding}): populated()'s seven credentials (live, live, unknown,
    unverified, dead, confirmed dead, no value) plus `spread`, an Anthropic key live in git, a
    directory and an SSM parameter, detected a day later. Teams: `revoked` is ML-Platform's,
    `variable` web's."""
    store, found = populated(tmp_path)
    spread = finding("sk-ant-api03-" + "Wide" * 20, in_git("svc/.env", at="2026-06-01T00:00:00Z"),
                     rule_id="anthropic.api-key", provider="anthropic")
    spread.occurrences.append(in_ssm("/prod/agent/anthropic"))
    from keysweep.models import Occurrence

    spread.occurrences.append(Occurrence(source="dir", path="deploy/agent.env", line=2, locator={"path": "x"}))
    store.record([spread], "scope", LATER)
    store.record_verification(spread.id, "live", {}, None, "2026-12-02T09:30:00Z")
    store.replace_owner_candidates(found["revoked"].id, [{"name": "ml-team", "team": "ML-Platform",
                                                          "source": "openai-admin", "confidence": 0.9,
                                                          "evidence": "test", "chosen": True}], DETECTED)
    store.replace_owner_candidates(found["variable"].id, [{"name": "web-team", "team": "web",
                                                           "contact": "web@acme.test", "source": "owners-file",
                                                           "confidence": 0.95, "evidence": "test", "chosen": True}],
                                   DETECTED)
    store.close()
    return tmp_path / "k.db", dict(found, spread=spread)
