"""One CLI (issue 14): counts in words ("1 blob", "2 credentials"; "blobs" only for git), tables that
fit an 80-column terminal without cutting an id or a rule id, piped tables that never cut an id, and
the scan table's `where` (the origin) with the kind of source in its own column."""

from __future__ import annotations

import io
import re

import pytest

from keysweep.models import Finding, Occurrence, ScanStats
from keysweep.output import summary_line, write_table
from keysweep.sanitize import rich_text
from keysweep.tables import Column, print_table
from keysweep.wording import counted, fold_place, folded
from tests.test_report_truth import finding, in_git, in_ssm

LONG_RULE = "generic.ai-bearer-token-host-after"  # the longest shipped rule id


def test_counted_agrees_in_number():
    assert [counted(n, "blob") for n in (0, 1, 2)] == ["0 blobs", "1 blob", "2 blobs"]
    assert counted(1, "credential") == "1 credential" and counted(2, "credential") == "2 credentials"
    assert counted(3, "repository") == "3 repositories" and counted(1, "new finding") == "1 new finding"


def test_the_summary_says_blobs_only_for_git():
    stats = ScanStats(blobs_scanned=1, bytes_scanned=10, archive_members=1)
    assert summary_line(stats).startswith("1 blob (0.0 MB) scanned, 1 archive member scanned")
    assert summary_line(stats, "file").startswith("1 file (0.0 MB) scanned")
    stats.blobs_scanned = 2
    assert summary_line(stats, "file").startswith("2 files (0.0 MB) scanned")
    stats.messages_scanned = 1
    assert "1 blob" not in summary_line(stats) and ", 1 commit or tag message" in summary_line(stats)
    stats.messages_scanned = 3
    assert ", 3 commit and tag messages" in summary_line(stats)


def test_scan_dir_counts_files_and_scan_git_blobs(run, tmp_path, make_repo):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.txt").write_text("nothing here\n")
    result = run("scan", "dir", tmp_path / "one", "--no-store")
    assert result.code == 0 and "1 file (" in result.stdout and "blob" not in result.stdout, result
    repo = make_repo()
    repo.commit("one file", {"a.txt": "nothing here\n"})
    result = run("scan", "git", repo.path, "--no-store")
    assert result.code == 0 and "1 blob (" in result.stdout, result


def _findings(rule_id: str = LONG_RULE) -> list[Finding]:
    ssm = finding("sk-proj-" + "Ssm0" * 12, in_ssm("/prod/a/very/long/parameter/path/that/must/fold/openai"),
                  rule_id=rule_id)
    git = finding("sk-proj-" + "G1t0" * 12, in_git("config/deeply/nested/directory/with/a/long/path/.env"),
                  rule_id=rule_id)
    git.occurrences[0].author_email = "someone.with.a.long.name@example.test"
    return [ssm, git]


def _lines(findings: list[Finding], width: int | None) -> list[str]:
    out = io.StringIO()
    write_table(findings, {}, out, None, [], width=width)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("rule_id", [LONG_RULE, "openai.project-key"])
def test_the_scan_table_fits_80_columns_with_ids_and_rule_ids_whole(rule_id):
    findings = _findings(rule_id)
    lines = _lines(findings, 80)
    assert max(map(len, lines)) <= 80, "\n".join(lines)
    for f in findings:  # on one line each, never cut
        assert any(f.id in line for line in lines) and sum(rule_id in line for line in lines) == 2
    assert "where" in lines[2]


def test_a_wide_terminal_shows_the_source_beside_where():
    lines = _lines(_findings("openai.project-key"), 200)
    header = next(line for line in lines if "where" in line)
    assert re.search(r"source\s+┃\s+where", header), header
    row = next(line for line in lines if "aws-ssm" in line)
    assert "ssm us-east-1 /prod/a/very" in row  # the origin: the store and the name


def test_piped_output_never_cuts_an_id(run, tmp_path, keys):
    """Piped, the table is as wide as its rows need: the finding's id (the one the JSON gives) and
    its whole place stand on one line, even with a place far wider than any terminal. A piped table
    drawn at a terminal's width (80, or the 200 a pipe starts from) folds the place and fails here."""
    (tmp_path / "code").mkdir()
    name = "d" * 230 + ".env"
    (tmp_path / "code" / name).write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    listed = run("scan", "dir", tmp_path / "code", "--no-store", "--format", "json")
    assert listed.code == 1, listed
    [expected] = [f["id"] for f in listed.json()]
    result = run("scan", "dir", tmp_path / "code", "--no-store")
    assert result.code == 1, result
    rows = [line for line in result.stdout.splitlines() if expected in line]
    assert len(rows) == 1, result.stdout
    assert f"{name}:1" in rows[0], result.stdout
    assert re.findall(r"f_[0-9a-f]+", result.stdout) == [expected], result.stdout


def test_a_table_drops_the_least_useful_columns_first():
    columns = (Column("id", whole=True), Column("keep-me", whole=True, drop=2), Column("text"),
               Column("extra", whole=True, drop=1))
    rows = [[rich_text("f_" + "a" * 16), rich_text("x" * 20), rich_text("word " * 30), rich_text("y" * 20)]]
    out = io.StringIO()
    print_table(out, "t", columns, rows, width=60)
    text = out.getvalue()
    assert "keep-me" in text and "extra" not in text and "f_" + "a" * 16 in text
    assert max(map(len, text.splitlines())) <= 60


def test_status_fits_80_columns_and_folds_between_facts(run, tmp_path):
    from tests.selection_helpers import responder_store

    db, _found = responder_store(tmp_path)
    lines = run("status", "--db", db).stdout.splitlines()
    assert max(map(len, lines)) <= 80, "\n".join(line for line in lines if len(line) > 80)
    ids = [line.split()[1] for line in lines if re.match(r"\s+\d+\. f_", line)]
    assert ids and all(re.fullmatch(r"f_[0-9a-f]{16}", i) for i in ids)


def test_occurrence_source_column_comes_from_the_first_place():
    f = finding("sk-proj-" + "Src0" * 12, Occurrence(source="dir", path="a.env", line=1))
    lines = _lines([f], 160)
    assert any(" dir " in line and "a.env:1" in line for line in lines)


def _on_a_terminal(*args, columns: int = 80) -> str:
    """What `keysweep ARGS` shows with its standard output on a terminal `columns` wide."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import termios

    from .conftest import KEYSWEEP_BIN

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([str(KEYSWEEP_BIN), *map(str, args)], stdout=slave, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=dict(env, TERM="dumb"))
    os.close(slave)
    screen = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    process.communicate(timeout=60)
    os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace")).replace("\r\n", "\n")


def _long_named_store(tmp_path):
    """The responder store, the ML-Platform key's owner a name longer than any column gives it."""
    from keysweep.store import Store
    from tests.selection_helpers import responder_store

    db, found = responder_store(tmp_path)
    store = Store(db)
    owner = "Platform Engineering On-Call Rotation (EMEA)"
    store.replace_owner_candidates(found["revoked"].id, [{"name": owner, "team": "ML-Platform",
                                                         "source": "owners-file", "confidence": 0.9,
                                                         "evidence": "test", "chosen": True}],
                                   "2026-12-01T12:00:00Z")
    store.close()
    return db, found, owner


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="a pseudo-terminal is POSIX")
def test_report_on_an_80_column_terminal_fits_without_cutting_an_id_or_a_name(tmp_path):
    db, found, owner = _long_named_store(tmp_path)
    screen = _on_a_terminal("report", "--db", db)
    lines = screen.rstrip("\n").split("\n")
    assert "by provider" in screen and max(map(len, lines)) <= 80, \
        "\n".join(line for line in lines if len(line) > 80) or screen
    assert owner in lines  # whole, on a line of its own above its counts
    for name in ("live", "spread", "key_age"):  # the ids of the lists below the tables, never cut
        assert any(found[name].id in line for line in lines), name
    assert re.search(r"^\s+exposure median 636\.\dd, p90 636\.\dd; response median 3\.0h", screen, re.M), screen


def test_piped_report_never_cuts_a_name(run, tmp_path):
    db, _found, owner = _long_named_store(tmp_path)
    result = run("report", "--db", db)
    rows = [line for line in result.stdout.splitlines() if owner in line]
    assert len(rows) == 1 and re.search(r"\s1\s+0\s+1\s+0\s+0\s+0\s+0\s+0\s+636\.\dd", rows[0]), result.stdout


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="a pseudo-terminal is POSIX")
def test_a_revocation_plan_on_a_terminal_breaks_between_words_never_in_a_url(run, tmp_path):
    from tests.selection_helpers import responder_store

    db, _found = responder_store(tmp_path)
    piped = run("revoke", "--all", "--db", db).stdout
    assert max(map(len, piped.splitlines())) > 200  # one line per field: the replacement's whole text
    screen = _on_a_terminal("revoke", "--all", "--db", db)
    assert " ".join(screen.split()) == " ".join(piped.split())  # only where the lines break differs
    for line in screen.splitlines():
        if len(line) > 80:  # only what cannot be broken: a call's method and URL, a URL on its own
            assert re.fullmatch(r" {4}call: {4}[A-Z]+ \S+| +\S+", line), line
    assert re.search(r"^ {4}call: {4}DELETE https://api\.openai\.com/v1/organization/projects/\{project\}/api_keys/"
                     r"\{id\}\n {13}— delete the project API key$", screen, re.M), screen


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="a pseudo-terminal is POSIX")
def test_the_audit_log_counts_in_words_and_fits_a_terminal_between_fields(run, tmp_path, keys):
    from keysweep.remediation import audit
    from keysweep.store import Store

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    db = tmp_path / "s.db"
    assert run("scan", "dir", tmp_path / "code", "--db", db).code == 1
    store = Store(db)
    with store.transaction():
        audit.append(store.conn, "2026-12-02T17:00:00Z", "dana@acme.test", "revoke.select",
                     {"policy": None, "selection": {"provider": "openai", "team": "web"}},
                     {"findings": 1, "mode": "dry-run", "run": "4f1c2a9b7d3e"})
    store.close()
    assert run("audit", "verify", "--db", db).stdout == "audit log: 1 row, chain intact\n"
    piped = run("audit", "log", "--db", db).stdout
    assert len(piped.splitlines()) == 1 and len(piped) > 80
    screen = _on_a_terminal("audit", "log", "--db", db)
    assert " ".join(screen.split()) == " ".join(piped.split())
    assert [len(line) <= 80 for line in screen.splitlines()] == [True, True, True], screen
    typo = run("audit", "log", "--action", "revok.*", "--db", db)  # a glob that matches no action held
    assert typo.code == 0 and typo.stdout == ""
    assert typo.stderr == "keysweep: warning: --action 'revok.*': matches no action in the log (actions: revoke.select)\n"
    assert run("audit", "log", "--action", "revoke.*", "--db", db).stderr == ""


@pytest.mark.skipif(not hasattr(__import__("os"), "openpty"), reason="a pseudo-terminal is POSIX")
def test_rules_list_on_an_80_column_terminal_keeps_each_rules_name_beside_its_whole_id():
    screen = _on_a_terminal("rules", "list")
    lines = screen.rstrip("\n").split("\n")
    assert max(map(len, lines)) <= 80, screen
    header = next(line for line in lines if " id " in line)
    assert "name" in header and "check" not in header and "long-lived" not in header, header
    assert any("OpenAI project API key" in line for line in lines), screen  # room for a name on one line
    assert any(LONG_RULE in line for line in lines)  # the longest rule id, whole on its line


def _where_cells(lines: list[str]) -> list[list[str]]:
    """The `where` column's lines of each row of a drawn scan table (the last column at 80)."""
    header = next(i for i, line in enumerate(lines) if "where" in line)
    column = [cell.strip() for cell in lines[header].split("┃")].index("where")
    cells: list[list[str]] = []
    for line in lines[header + 2:]:
        parts = line.split("│")
        if len(parts) <= column:
            continue
        if parts[1].strip():  # a row's first line carries its id
            cells.append([])
        cells[-1].append(parts[column].strip())
    return cells


def test_the_where_column_folds_at_path_separators_at_80_columns():
    """A responder reads the place a directory at a time: lines break after `/` (or the `repo:`
    colon, or a space), never inside a directory's or the file's name, and together they are the
    whole place, nothing cut."""
    lines = _lines(_findings(LONG_RULE), 80)
    assert max(map(len, lines)) <= 80, "\n".join(lines)
    ssm, git = _where_cells(lines)
    assert git == ["github.com/acme/", "web:config/deeply/", "nested/directory/", "with/a/long/path/", ".env:3"], lines
    assert ssm == ["ssm us-east-1", "/prod/a/very/long/", "parameter/path/", "that/must/fold/", "openai (v3)"], lines


def test_a_name_wider_than_the_column_is_the_only_thing_cut_and_hostile_places_stay_data():
    name = "[link=http://x]\x1b[2J" + "n" * 40 + ".env"
    lines = _lines([finding("sk-proj-" + "H0st" * 12, in_git(f"ops/{name}"), rule_id=LONG_RULE)], 80)
    assert max(map(len, lines)) <= 80 and "\x1b" not in "".join(lines), "\n".join(lines)
    (cell,) = _where_cells(lines)
    assert cell[0] == "github.com/acme/" and cell[1] == "web:ops/", cell  # the directories whole
    assert "".join(cell[2:]) == "[link=http://x]\\x1b[2J" + "n" * 40 + ".env:3"  # as the characters it is


def test_fold_place_breaks_after_separators_and_keeps_a_line_number():
    assert fold_place("src/app/settings.py:12", 15) == ["src/app/", "settings.py:12"]
    assert fold_place("ssm eu-west-1 /a/b", 13) == ["ssm eu-west-1", "/a/b"]
    assert fold_place("short/path", 80) == ["short/path"]
    assert fold_place("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_a_reports_place_wider_than_a_line_folds_after_its_separators():
    place = "github.com/acme/platform-monorepo:services/payments/deploy/overlays/production/secrets.env:14"
    lines = folded("  f_0123456789abcdef", ["openai", "sk-proj-…Ab12", place], width=80, indent=" " * 6,
                   place_last=True)
    assert lines == ["  f_0123456789abcdef  openai  sk-proj-…Ab12",
                     "      github.com/acme/platform-monorepo:services/payments/deploy/overlays/",
                     "      production/secrets.env:14"]
    assert folded("  f_0", ["openai", place], width=80, indent=" " * 6)[-1] == " " * 6 + place  # only when asked


# -- the plain report (`scan staged`'s table format, keysweep/plain.py) --------------------------------

def _plain(findings, stats=None, errors=(), nothing_read=False) -> list[str]:
    from keysweep.plain import write_plain

    out = io.StringIO()
    write_plain(findings, out, stats, errors, nothing_read=nothing_read, unit="file")
    return out.getvalue().splitlines()


def test_the_plain_report_keeps_commit_and_author_when_a_row_has_them_and_aligns_wide_characters():
    """Columns are aligned by the width a terminal gives each character (a CJK character takes two),
    and commit and author are shown as soon as one finding has them."""
    from keysweep.plain import cell_width

    wide = finding("sk-proj-" + "W1de" * 12, in_git("設定/.env"))
    wide.occurrences[0].author_email = "dev@example.test"
    plain = finding("sk-proj-" + "Pl4n" * 12, in_git("config/app/.env"))
    lines = _plain([wide, plain], ScanStats(blobs_scanned=2, bytes_scanned=10))
    assert lines[0] == "2 findings"
    assert lines[1].split() == ["id", "rule", "secret", "source", "where", "commit", "author", "n"]
    assert lines[-1] == "2 files (0.0 MB) scanned"
    assert "dev@example.test" in lines[2] and "c" * 10 in lines[2] and "c" * 11 not in lines[2]
    # Every column starts at the same terminal column on each line.
    assert cell_width("設定") == 4
    header_at = cell_width(lines[1][:lines[1].index("commit")])
    assert all(cell_width(line[:line.index("c" * 10)]) == header_at for line in lines[2:4]), lines


def test_the_plain_report_never_says_no_findings_about_what_it_could_not_read():
    stats = ScanStats(blobs_scanned=1, bytes_scanned=10)
    assert _plain([], stats) == ["No findings.", "1 file (0.0 MB) scanned"]
    assert _plain([], stats, ["rule x timed out on a\x1b[2J.env"]) == [
        "No findings in what could be read (1 error below).", "1 file (0.0 MB) scanned",
        "error: rule x timed out on a\\x1b[2J.env"]
    assert _plain([], None, ["git: cannot read the index"], nothing_read=True) == [
        "Nothing was scanned: every source failed (errors below).", "error: git: cannot read the index"]
