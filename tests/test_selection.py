"""`keysweep findings`, `verify`, `owners`, `revoke` and `report` select the same credentials the same way: finding ids as
arguments, --provider (any case), --rule, --owner, --team, --status (the report's statuses),
--source, --repo, --since; a filter value that matches nothing known is one warning line."""

from __future__ import annotations

import pytest

from tests.selection_helpers import responder_store

STATUSES = ("live", "dead", "unknown", "unverified", "no_value")


def listed(run, db, *args) -> set[str]:
    result = run("findings", *args, "--format", "json", "--db", db)
    assert result.code == (1 if result.json() else 0), result
    return {f["id"] for f in result.json()}


def planned(run, db, *args) -> set[str]:
    result = run("revoke", *args, "--format", "json", "--db", db)
    assert result.code == 0, result
    return {row["finding"] for row in result.json()["plan"]}


def reported(run, db, *args) -> set[str]:
    result = run("report", *args, "--format", "json", "--db", db)
    assert result.code == 0, result
    report = result.json()
    ids = {c["id"] for c in report["credentials"]}
    assert report["totals"]["count"] == len(ids)  # the counts are of the selection, not the store
    return ids


@pytest.fixture
def store(tmp_path):
    return responder_store(tmp_path)


def test_each_status_selects_what_the_report_counts_under_that_status(run, store):
    db, _found = store
    report = run("report", "--format", "json", "--db", db).json()
    for status in STATUSES:
        expected = {c["id"] for c in report["credentials"] if c["status"] == status}
        assert expected, f"the store has no {status} credential"
        assert listed(run, db, "--status", status) == expected, status
        assert planned(run, db, "--status", status) == expected, status


def test_a_key_confirmed_dead_after_revoking_is_dead_not_live(run, store):
    db, found = store
    # Its latest verification says live, but keysweep confirmed it dead after that check.
    assert found["revoked"].id in listed(run, db, "--status", "dead")
    assert found["revoked"].id not in listed(run, db, "--status", "live")


def test_findings_revoke_and_report_take_the_same_filters(run, store):
    db, f = store
    openai = {f[name].id for name in ("live", "flaky", "unchecked", "dead_already", "revoked", "variable")}
    cases = [
        (("--provider", "openai"), openai),
        (("--provider", "OpenAI"), openai),
        (("--rule", "aws.iam-stale-access-key"), {f["key_age"].id}),
        (("--owner", "WEB-TEAM"), {f["variable"].id}),
        (("--owner", "web@acme.test"), {f["variable"].id}),          # the owner's contact
        (("--team", "ml-platform"), {f["revoked"].id}),
        (("--source", "aws-ssm"), {f["spread"].id}),
        (("--source", "dir"), {f["spread"].id}),
        (("--repo", "acme/web"), openai | {f["spread"].id}),
        (("--since", "2026-12-02"), {f["spread"].id}),
        (("--since", "2026-12-01T12:00:00Z"), openai | {f["key_age"].id, f["spread"].id}),
        ((f["live"].id, f["key_age"].id), {f["live"].id, f["key_age"].id}),
        (("--provider", "openai", "--status", "live"), {f["live"].id, f["variable"].id}),
        (("--status", "live", "--since", "2026-12-02"), {f["spread"].id}),
        ((f["live"].id, "--status", "dead"), set()),
    ]
    for args, expected in cases:
        assert listed(run, db, *args) == expected, args
        assert planned(run, db, *args) == expected, args
        assert reported(run, db, *args) == expected, args


def test_findings_without_a_selection_lists_everything_it_did_before(run, store):
    db, found = store
    assert listed(run, db) == {finding.id for finding in found.values()}


def test_a_relative_since_counts_back_from_now(run, store):
    db, found = store
    assert listed(run, db, "--since", "3650d") == {finding.id for finding in found.values()}
    assert listed(run, db, "--since", "0h") == set()


def test_report_without_a_selection_counts_everything(run, store):
    db, found = store
    assert reported(run, db) == {finding.id for finding in found.values()}


def test_the_report_of_a_team_is_that_teams_status(run, store):
    db, found = store
    report = run("report", "--team", "ML-PLATFORM", "--format", "json", "--db", db).json()
    assert [c["id"] for c in report["credentials"]] == [found["revoked"].id]
    assert report["totals"]["dead"] == 1 and report["totals"]["count"] == 1
    assert list(report["by"]["team"]) == ["ML-Platform"]
    html = run("report", "--owner", "web@acme.test", "--format", "html", "--db", db).stdout
    assert found["variable"].id in html and found["revoked"].id not in html


def handed_to(run, monkeypatch, db, command: str, *args) -> set[str]:
    """The findings `keysweep verify` or `keysweep owners` acts on (their checks replaced: no network)."""
    acted: list[str] = []
    if command == "verify":
        def check(findings, *_args, **_kwargs):
            acted.extend(f.id for f in findings)
            return []
        monkeypatch.setattr("keysweep.commands.verify.run_verification", check)
    else:
        def resolve(findings, *_args, **_kwargs):
            acted.extend(f.id for f in findings)
            return {}, []
        monkeypatch.setattr("keysweep.commands.owners.run_owners", resolve)
    result = run(command, *args, "--format", "json", "--db", db)
    assert result.code == 0, result
    return set(acted)


@pytest.mark.parametrize("command", ["verify", "owners"])
def test_verify_and_owners_select_as_findings_does(run, store, monkeypatch, command):
    db, f = store
    openai = {f[name].id for name in ("live", "flaky", "unchecked", "dead_already", "revoked", "variable")}
    cases = [
        ((), {finding.id for finding in f.values()}),
        (("--provider", "OpenAI"), openai),
        (("--rule", "aws.iam-stale-access-key"), {f["key_age"].id}),
        (("--team", "ml-platform"), {f["revoked"].id}),
        (("--owner", "web@acme.test"), {f["variable"].id}),
        (("--status", "unverified"), {f["unchecked"].id}),
        (("--source", "aws-ssm"), {f["spread"].id}),
        (("--since", "2026-12-02"), {f["spread"].id}),
        ((f["live"].id, f["key_age"].id), {f["live"].id, f["key_age"].id}),
        (("--id", f["live"].id), {f["live"].id}),  # the earlier spelling of an id, still accepted
    ]
    for args, expected in cases:
        assert handed_to(run, monkeypatch, db, command, *args) == expected, args
        if "--id" not in args:
            assert listed(run, db, *args) == expected, args


@pytest.mark.parametrize("command", ["findings", "verify", "owners", "revoke", "report"])
def test_a_filter_value_matching_nothing_known_is_one_warning(run, store, command):
    db, _found = store
    result = run(command, "--provider", "nosuch", "--db", db)
    assert result.code == 0, result
    warnings = [line for line in result.stderr.splitlines() if "nosuch" in line]
    assert len(warnings) == 1 and warnings[0].startswith("keysweep: warning: --provider 'nosuch': no such provider")
    assert "openai" in warnings[0]  # it says what is known
    # A registered provider the store holds nothing of is known: an empty answer, no warning.
    quiet = run(command, "--provider", "cohere", "--db", db)
    assert quiet.code == 0 and "warning" not in quiet.stderr
    # Every filter that matches nothing is named, each on its line.
    several = run(command, "--team", "nobody", "--repo", "nowhere", "--db", db)
    assert [line.split(":")[2].strip().split(" ")[0] for line in several.stderr.splitlines()
            if "warning" in line] == ["--team", "--repo"]


def test_the_warning_is_sanitised(run, store):
    db, _found = store
    result = run("findings", "--team", "evil\x1b[2J\u202e\nteam", "--db", db)
    assert result.code == 0
    warnings = [line for line in result.stderr.splitlines() if "--team" in line]
    assert len(warnings) == 1
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


def test_an_unknown_id_or_a_bad_date_is_a_usage_error(run, store):
    db, _found = store
    for command in ("findings", "verify", "owners", "revoke", "report"):
        unknown = run(command, "f_0000000000000000", "--db", db)
        assert unknown.code == 2 and "no such finding: f_0000000000000000" in unknown.stderr, unknown
        bad = run(command, "--since", "last tuesday", "--db", db)
        assert bad.code == 2 and len(bad.stderr.strip().splitlines()) == 1, bad
        assert "--since 'last tuesday'" in bad.stderr


def test_revoke_still_needs_a_selection(run, store):
    db, _found = store
    result = run("revoke", "--db", db)
    assert result.code == 2 and "--since" in result.stderr


def test_the_status_choices_are_the_reports_statuses():
    from keysweep.commands._selection import STATUS_CHOICES
    from keysweep.remediation.report import STATUSES as REPORT_STATUSES

    assert STATUS_CHOICES == REPORT_STATUSES == STATUSES
