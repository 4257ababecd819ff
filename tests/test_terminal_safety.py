"""Output that cannot be spoofed: every string from a scanned source reaches the terminal as text
(never rich markup) with control and bidi characters escaped; CSV cells cannot start a formula;
JSON, JSONL and SARIF keep the exact strings.

The hostile repository below holds one planted key per hostile file name, committed by an author
whose name and email carry terminal escapes. Each command that prints a table or a plan must
report every key, exit as usual, and show the names escaped.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from keysweep.sanitize import csv_safe, rich_text, terminal_safe
from keysweep.testing.gitrepo import RepoBuilder
from keysweep.testing.keygen import KeyGen

EVIL_AUTHOR = ("Evil \x1b[31mName\x1b[0m", "evil\x1b]8;;https://evil.example\x07@example.com")

# What a terminal must never receive raw from scanned data: ESC, BEL, CR, the 8-bit CSI, bidi controls.
RAW_FORBIDDEN = ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\u2066", "\u200f")


def hostile_files(keys: KeyGen) -> dict[str, tuple[str, str]]:
    """{file name as written: (path as a finding reports it, planted key)}."""
    return {
        "[/]": ("[/]", keys.openai_project()),
        # The filesystem folds `//` into one directory separator, so the path reads `https:/evil`.
        "[link=https://evil]x[/link].env": ("[link=https:/evil]x[/link].env", keys.anthropic()),
        "clear\x1b[2J.env": ("clear\x1b[2J.env", keys.github()),
        "cr\rover.env": ("cr\rover.env", keys.huggingface()),
        "nl\nline.env": ("nl\nline.env", keys.groq()),
        "bidi\u202etxt.env": ("bidi\u202etxt.env", keys.xai()),
        "isolate\u2066x\u2069.env": ("isolate\u2066x\u2069.env", keys.openai_service_account()),
        "csi\x9b2J.env": ("csi\x9b2J.env", keys.github_fine_grained()),
        "bell\x07.env": ("bell\x07.env", keys.perplexity()),
    }


def escaped_paths(files: dict[str, tuple[str, str]]) -> list[str]:
    return [terminal_safe(path) for path, _key in files.values()]


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """rich adds no colour codes of its own, so any ESC in the output came from the data."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "dumb")


@pytest.fixture
def hostile_repo(tmp_path, keys) -> tuple[Path, dict[str, tuple[str, str]]]:
    files = hostile_files(keys)
    repo = RepoBuilder(tmp_path / "hostile")
    repo.commit("hostile names", {name: f"TOKEN={key}\n" for name, (_path, key) in files.items()},
                author=EVIL_AUTHOR)
    return repo.path, files


@pytest.fixture
def hostile_dir(tmp_path, keys) -> tuple[Path, dict[str, tuple[str, str]]]:
    files = hostile_files(keys)
    root = tmp_path / "hostile-dir"
    for name, (_path, key) in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"TOKEN={key}\n")
    return root, files


def assert_nothing_raw(result) -> None:
    for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        for char in RAW_FORBIDDEN:
            assert char not in text, (stream, repr(char), result)
    assert "Traceback" not in result.stderr and "MarkupError" not in result.stderr, result


def assert_escaped_paths_shown(result, files) -> None:
    for shown in escaped_paths(files):
        assert shown in result.stdout, (shown, result)


def scanned_store(run, tmp_path, hostile_repo) -> Path:
    repo, files = hostile_repo
    db = tmp_path / "store.db"
    result = run("scan", "git", repo, "--db", db, "--format", "json")
    assert result.code == 1, result
    assert len(result.json()) == len(files), result
    return db


# -- the sanitisers themselves ---------------------------------------------------------------------
@pytest.mark.parametrize("raw, shown", [
    ("plain/path.env", "plain/path.env"),
    ("a\x1b[2Jb", "a\\x1b[2Jb"),
    ("bell\x07", "bell\\x07"),
    ("cr\rlf\ntab\t", "cr\\rlf\\ntab\\t"),
    ("nul\x00del\x7f", "nul\\x00del\\x7f"),
    ("c1\x9b2J\x85", "c1\\x9b2J\\x85"),
    ("rlo\u202eltr\u202a", "rlo\\u202eltr\\u202a"),
    ("iso\u2066x\u2069\u2067\u2068", "iso\\u2066x\\u2069\\u2067\\u2068"),
    ("marks\u200e\u200f\u061c", "marks\\u200e\\u200f\\u061c"),
    ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ("byte\udcff", "byte\\xff"),
    ("[/] [link=https://e]x[/link] :smile:", "[/] [link=https://e]x[/link] :smile:"),
    ("café 日本 ✓ C:\\Users", "café 日本 ✓ C:\\Users"),
    (None, ""),
    (42, "42"),
])
def test_terminal_safe_escapes_what_a_terminal_would_obey(raw, shown):
    assert terminal_safe(raw) == shown


def test_rich_text_is_never_markup_nor_emoji():
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(rich_text("[/] [link=https://evil]x[/link].env :smile:"))
    assert out.getvalue() == "[/] [link=https://evil]x[/link].env :smile:\n"


@pytest.mark.parametrize("cell, written", [
    ("=HYPERLINK(\"https://evil\")", "'=HYPERLINK(\"https://evil\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("a=b", "a=b"),
    ("src/=x.env", "src/=x.env"),
    ("", ""),
    (None, ""),
])
def test_csv_safe_neutralises_formulas_only(cell, written):
    assert csv_safe(cell) == written


# -- every command that prints from scanned data ----------------------------------------------------
def test_scan_git_table_shows_hostile_names_escaped(run, hostile_repo):
    repo, files = hostile_repo
    result = run("scan", "git", repo, "--no-store")
    assert result.code == 1, result
    assert f"{len(files)} findings" in result.stdout, result
    assert_nothing_raw(result)
    assert_escaped_paths_shown(result, files)
    assert terminal_safe(EVIL_AUTHOR[1]) in result.stdout, result


def test_scan_dir_table_shows_hostile_names_escaped(run, hostile_dir):
    root, files = hostile_dir
    result = run("scan", "dir", root, "--no-store")
    assert result.code == 1, result
    assert f"{len(files)} findings" in result.stdout, result
    assert_nothing_raw(result)
    assert_escaped_paths_shown(result, files)


def test_findings_table_shows_hostile_names_escaped(run, tmp_path, hostile_repo):
    db = scanned_store(run, tmp_path, hostile_repo)
    result = run("findings", "--db", db)
    assert result.code == 1, result
    assert f"{len(hostile_repo[1])} findings" in result.stdout, result
    assert_nothing_raw(result)
    assert_escaped_paths_shown(result, hostile_repo[1])


def test_revoke_dry_run_plan_shows_hostile_names_escaped(run, tmp_path, hostile_repo):
    db = scanned_store(run, tmp_path, hostile_repo)
    run("owners", "--offline", "--db", db)  # the plan also names the owner: the evil commit author
    result = run("revoke", "--all", "--db", db)
    assert result.code == 0, result
    assert "Dry run:" in result.stdout, result
    assert_nothing_raw(result)
    assert_escaped_paths_shown(result, hostile_repo[1])
    assert terminal_safe(EVIL_AUTHOR[0]) in result.stdout, result


def test_owners_table_shows_hostile_author_escaped(run, tmp_path, hostile_repo):
    db = scanned_store(run, tmp_path, hostile_repo)
    result = run("owners", "--offline", "--db", db)
    assert result.code == 0, result
    assert f"{len(hostile_repo[1])} findings" in result.stdout, result
    assert_nothing_raw(result)
    assert terminal_safe(EVIL_AUTHOR[0]) in result.stdout, result


def test_report_tables_show_hostile_names_escaped(run, tmp_path, hostile_repo):
    db = scanned_store(run, tmp_path, hostile_repo)
    run("owners", "--offline", "--db", db)
    result = run("report", "--db", db)
    assert result.code == 0, result
    assert_nothing_raw(result)
    assert terminal_safe(EVIL_AUTHOR[0]) in result.stdout, result
    for shown in escaped_paths(hostile_repo[1]):
        assert f"hostile:{shown}" in result.stdout, (shown, result)
    audit = run("report", "--audit", "--db", db)
    assert audit.code == 0, audit
    assert_nothing_raw(audit)
    assert terminal_safe(EVIL_AUTHOR[0]) in audit.stdout, audit


def test_report_html_escapes_markup_and_controls(run, tmp_path, hostile_repo):
    db = scanned_store(run, tmp_path, hostile_repo)
    run("owners", "--offline", "--db", db)
    page = tmp_path / "report.html"
    assert run("report", "--db", db, "--format", "html", "-o", page).code == 0
    text = page.read_text()
    for char in RAW_FORBIDDEN:
        assert char not in text, repr(char)
    assert "Evil \\x1b[31mName" in text


def test_verify_table_shows_provider_answers_escaped(tmp_path, hostile_repo, run):
    """`verify` prints identities and errors that a provider (or a proxy) chose."""
    from keysweep.commands.verify import _table
    from keysweep.store import Store

    db = scanned_store(run, tmp_path, hostile_repo)
    findings = Store(db).findings()
    for finding in findings:
        finding.verification = {"status": "unknown", "identity": {"login": "[red]root[/] \x1b[2J"},
                                "error": "proxy said \u202e[/]\x07", "checked_at": "2026-01-01T00:00:00Z"}
    out = io.StringIO()
    _table({})(findings, out)
    text = out.getvalue()
    for char in RAW_FORBIDDEN:
        assert char not in text, repr(char)
    assert "login=[red]root[/] \\x1b[2J" in text
    assert "\\u202e[/]\\x07" in text


def test_error_lines_quoting_a_path_are_escaped(run, tmp_path):
    missing = tmp_path / "gone\x1b[2J\u202e"
    result = run("scan", "git", missing)
    assert result.code == 2, result
    assert_nothing_raw(result)
    assert len(result.stderr.splitlines()) == 1, result
    assert "gone\\x1b[2J\\u202e" in result.stderr, result


def test_notification_text_carries_no_controls_and_no_slack_links(hostile_repo, run, tmp_path):
    from keysweep.remediation.notify import Target, body, message
    from keysweep.store import Store

    db = scanned_store(run, tmp_path, hostile_repo)
    run("owners", "--offline", "--db", db)
    for finding in Store(db).findings():
        for target in (Target("https://hooks.example/x", "slack", "default"),
                       Target("https://hooks.example/x", "json", "default")):
            payload = json.dumps(body(target, message("found", finding, "detail <https://evil|here> \x1b[2J")),
                                 ensure_ascii=False)
            for char in RAW_FORBIDDEN:
                assert char not in payload, repr(char)
            assert "\\x1b[31mName" in payload
            if target.format == "slack":
                assert "<https://evil|here>" not in payload and "&lt;https://evil|here&gt;" in payload


# -- machine formats: exact strings, and CSV that cannot run a formula -----------------------------
def hostile_paths_in_order(files) -> set[str]:
    return {path for path, _key in files.values()}


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_formats_keep_hostile_paths_exactly(run, hostile_dir, fmt):
    root, files = hostile_dir
    result = run("scan", "dir", root, "--no-store", "--format", fmt)
    assert result.code == 1, result
    records = result.json() if fmt == "json" else result.jsonl()
    assert {o["path"] for f in records for o in f["occurrences"]} == hostile_paths_in_order(files)


def test_json_keeps_hostile_author_exactly(run, hostile_repo):
    repo, files = hostile_repo
    result = run("scan", "git", repo, "--no-store", "--format", "json")
    assert result.code == 1, result
    occurrences = [o for f in result.json() for o in f["occurrences"]]
    assert {o["path"] for o in occurrences} == hostile_paths_in_order(files)
    # git keeps the escapes in the name but trims trailing control characters from it
    assert {o["author_email"] for o in occurrences} == {EVIL_AUTHOR[1]}


def test_sarif_keeps_hostile_paths_exactly(run, hostile_dir):
    root, files = hostile_dir
    result = run("scan", "dir", root, "--no-store", "--format", "sarif")
    assert result.code == 1, result
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in result.json()["runs"][0]["results"]]
    assert {unquote(uri) for uri in uris} == hostile_paths_in_order(files)


def test_csv_neutralises_formula_cells_and_keeps_the_rest(run, tmp_path, keys):
    root = tmp_path / "formulas"
    root.mkdir()
    planted = {"=HYPERLINK(\"https:evil\").env": keys.openai_project(), "+cmd.env": keys.anthropic(),
               "-2+3.env": keys.github(), "@SUM(1).env": keys.huggingface(), "\tTAB.env": keys.groq(),
               "plain=ok.env": keys.xai()}
    for name, key in planted.items():
        (root / name).write_text(f"TOKEN={key}\n")
    result = run("scan", "dir", root, "--no-store", "--format", "csv")
    assert result.code == 1, result
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(planted), result
    paths = {row["path"] for row in rows}
    assert paths == {"'" + name for name in planted if name != "plain=ok.env"} | {"plain=ok.env"}
    for row in rows:  # the other cells are exactly what JSON says
        assert row["secret_sha256"] and not row["secret_sha256"].startswith("'")
        assert row["redacted"] and row["rule_id"] and row["source"] == "dir"


def test_audit_log_shows_actor_and_selection_escaped(run, tmp_path, hostile_repo):
    """JSON in the audit chain escapes C0 controls but keeps C1 and bidi characters as they are."""
    db = scanned_store(run, tmp_path, hostile_repo)
    planned = run("revoke", "--all", "--repo", "hostile\u202e", "--actor", "mallory\x9b2J\u2066", "--db", db)
    assert planned.code == 0, planned
    result = run("audit", "log", "--db", db)
    assert result.code == 0, result
    assert_nothing_raw(result)
    assert "mallory\\x9b2J\\u2066" in result.stdout, result
    assert "hostile\\u202e" in result.stdout, result


def test_sweep_error_lines_quote_hostile_paths_escaped(run, tmp_path):
    gone = tmp_path / "gone\x1b[2J\u202e"
    config = tmp_path / "keysweep.toml"
    config.write_text(f"[sources]\ngit = [{json.dumps(str(gone))}]\n")  # TOML reads JSON's \u escapes
    result = run("sweep", "--config", config, "--db", tmp_path / "s.db", "--no-progress")
    assert result.code == 3, result
    assert_nothing_raw(result)
    assert "gone\\x1b[2J\\u202e" in result.stderr, result
