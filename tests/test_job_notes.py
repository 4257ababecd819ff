"""A revoker's job notes (`ctx.note_job`) are audited under the action its caller names: aws-rotate's
as `revoke.rotate` (as they always were), any other revoker's (Google's operation name) as the
neutral `revoke.note`, never as a rotation."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from keysweep.context import Context
from keysweep.remediation import audit
from keysweep.remediation.jobs import Jobs
from keysweep.remediation.services import for_revocation
from keysweep.revokers import Plan, aws_rotate
from keysweep.store import Store
from tests.test_audit_anchor import a_finding


def store_with_jobs(tmp_path, *revokers: str) -> tuple[Store, list[str]]:
    store = Store(tmp_path / "k.db")
    findings = [a_finding(n) for n in range(len(revokers))]
    store.record(findings, "scope", "2026-01-01T00:00:00Z")
    jobs = Jobs(store, "alice", "run1", lambda: "2026-01-02T00:00:00Z")
    for finding, revoker in zip(findings, revokers):
        jobs.create(finding, revoker, Plan(revoker, finding.id, [], data={}), approve=True)
    return store, [finding.id for finding in findings]


def revocation_context(store: Store) -> Context:
    return for_revocation(Context(http=None, store=store, actor="tester",
                                  clock=lambda: datetime(2026, 1, 3, tzinfo=timezone.utc)))


def notes(store: Store) -> list[tuple[str, str, dict]]:
    return [(row["action"], json.loads(row["target"])["finding"], json.loads(row["result"]))
            for row in audit.rows(store.conn) if row["action"] in ("revoke.note", "revoke.rotate")]


def plan_data(store: Store, finding_id: str) -> dict:
    (plan,) = store.conn.execute("SELECT plan FROM revocations WHERE finding_id = ?", [finding_id]).fetchone()
    return json.loads(plan)["data"]


def test_rotation_notes_stay_revoke_rotate_and_other_notes_are_revoke_note(tmp_path):
    store, (google_finding, rotated_finding) = store_with_jobs(tmp_path, "google", "aws-rotate")
    ctx = revocation_context(store)
    ctx.note_job(google_finding, "google", deleting="operations/akdel.123")
    aws_rotate.note_job(ctx, rotated_finding, "aws-rotate", new_key_id="AKIAEXAMPLE0000NEW01")
    assert notes(store) == [("revoke.note", google_finding, {"deleting": "operations/akdel.123"}),
                            ("revoke.rotate", rotated_finding, {"new_key_id": "AKIAEXAMPLE0000NEW01"})]
    assert plan_data(store, google_finding) == {"deleting": "operations/akdel.123"}
    assert plan_data(store, rotated_finding) == {"new_key_id": "AKIAEXAMPLE0000NEW01"}


@pytest.mark.parametrize("action", ["rotate", "audit.delete", "revoke.", "revoke.Confirm x", ""])
def test_a_note_action_is_revoke_dot_a_word(tmp_path, action):
    store, (finding,) = store_with_jobs(tmp_path, "google")
    before = audit.head(store.conn)
    with pytest.raises(ValueError):
        revocation_context(store).note_job(finding, "google", action=action, deleting="operations/x")
    assert audit.head(store.conn) == before and plan_data(store, finding) == {}
