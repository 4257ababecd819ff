"""One CLI (issue 14): every command's options, read from click's command tree as `--help` shows
them. The same concept has the same option everywhere; a format's help lists its values; no git
option on a scan that reads no repository; old spellings are hidden aliases that still work."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from keysweep.cli import AliasOption, cli


def _walk(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _walk(command, click.Context(command, parent=ctx, info_name=name), path + (name,))
        else:
            yield " ".join(path + (name,)), command


COMMANDS = dict(_walk(cli, click.Context(cli, info_name="keysweep")))


def _shown(command: click.Command) -> dict[str, click.Option]:
    """Each visible option flag (every spelling, `--x` and `--no-x`) → its option."""
    return {flag: param for param in command.params if isinstance(param, click.Option) and not param.hidden
            for flag in param.opts + param.secondary_opts}


def _help(path: str) -> str:
    result = CliRunner().invoke(cli, path.split() + ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


# Commands that print records: each takes --format (with its values described) and -o/--output.
PRINTS_RECORDS = {"events", "findings", "status", "owners", "verify", "revoke", "report", "sweep", "demo", "rules list",
                  "audit log", "audit head", "scan git", "scan dir", "scan staged", "scan github", "scan gitlab",
                  "scan aws", "scan kubernetes", "scan vault", "scan gcp", "scan azure", "store migrate"}
# Commands that write one document of their own (a baseline, a schema): -o/--output, no --format.
WRITES_A_DOCUMENT = {"baseline create", "schema"}
# Commands whose long runs show progress on stderr.
SHOWS_PROGRESS = {"scan git", "scan dir", "scan github", "scan gitlab", "scan aws", "sweep", "verify", "owners", "demo",
                  "store migrate",
                  "scan kubernetes", "scan vault", "scan gcp", "scan azure"}
# Commands that report something by its age (Actions secrets, IAM keys): only they take --max-age.
REPORTS_BY_AGE = {"scan github", "scan aws", "sweep"}
# Options about cloning or walking a repository: not on a scan that reads none.
GIT_OPTIONS = {"--cache-dir", "--git-workers", "--unreachable", "--clone", "--no-clone"}
NOT_GIT_SCANS = {"scan aws", "scan kubernetes", "scan vault", "scan gcp", "scan azure"}
# The concept, and the one spelling each command shows for it (that ecosystem's own name).
CANONICAL = {
    "scan github": {"--api-url"}, "scan gitlab": {"--api-url"}, "scan aws": {"--endpoint-url"},
    "scan vault": {"--addr"}, "scan gcp": {"--endpoint-url"}, "scan azure": {"--vault-url"},
    "owners": {"--min-confidence"}, "report": {"--min-confidence"}, "status": {"--min-confidence"},
}
# Spellings no command shows: another name of a concept that has one already.
ELSEWHERE_NAMED = {"--url": "--api-url", "--endpoint": "--endpoint-url", "--base-url": "--api-url",
                   "--out": "--output", "--confidence": "--min-confidence", "--vault-addr": "--addr"}
# The old spellings still accepted, hidden: (command, alias, the option it stands for, a value).
ALIASES = {("scan gitlab", "--url", "--api-url", "https://gitlab.example.test"),
           ("owners", "--threshold", "--min-confidence", "0.75"),
           ("report", "--threshold", "--min-confidence", "0.75")}


def test_the_walk_sees_every_command():
    # `worker` and `beat` run until stopped and print nothing but their logs.
    assert PRINTS_RECORDS | WRITES_A_DOCUMENT | {"rules check", "audit verify", "init", "worker", "beat"} == set(COMMANDS)


@pytest.mark.parametrize("path", sorted(PRINTS_RECORDS))
def test_a_command_that_prints_records_takes_format_and_output(path):
    shown = _shown(COMMANDS[path])
    assert "--format" in shown and "-o" in shown and "--output" in shown, path
    assert shown["-o"] is shown["--output"]
    fmt = shown["--format"]
    assert isinstance(fmt.type, click.Choice)
    listed = fmt.help or ""
    assert all(value in listed for value in fmt.type.choices), (path, listed)
    assert listed.startswith("Output format: ")


@pytest.mark.parametrize("path", sorted(set(COMMANDS) - PRINTS_RECORDS - WRITES_A_DOCUMENT))
def test_a_command_that_prints_no_records_takes_neither(path):
    shown = _shown(COMMANDS[path])
    assert "--format" not in shown and "--output" not in shown


@pytest.mark.parametrize("path", sorted(WRITES_A_DOCUMENT))
def test_a_command_that_writes_a_document_takes_output_not_format(path):
    shown = _shown(COMMANDS[path])
    assert "--format" not in shown and shown["-o"] is shown["--output"]


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_progress_is_one_switch_where_progress_shows(path):
    shown = _shown(COMMANDS[path])
    if path in SHOWS_PROGRESS:
        assert shown.get("--progress") is not None and shown["--progress"] is shown.get("--no-progress"), path
    else:
        assert "--progress" not in shown, path


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_one_concept_one_spelling(path):
    shown = _shown(COMMANDS[path])
    assert CANONICAL.get(path, set()) <= set(shown), path
    assert not set(shown) & set(ELSEWHERE_NAMED), (path, set(shown) & set(ELSEWHERE_NAMED))
    if "--threshold" in shown:  # only revoke's: the count of credentials above which --yes is needed
        assert path == "revoke" and isinstance(shown["--threshold"].type, click.IntRange)
    if "--min-confidence" in shown:
        assert isinstance(shown["--min-confidence"].type, click.FloatRange)


@pytest.mark.parametrize("path", sorted(NOT_GIT_SCANS))
def test_a_scan_that_reads_no_repository_shows_no_git_option(path):
    assert not set(_shown(COMMANDS[path])) & GIT_OPTIONS
    assert not any(flag in _help(path) for flag in GIT_OPTIONS)
    # Nor does its progress promise a bar per repository.
    assert "repositor" not in (_shown(COMMANDS[path])["--progress"].help or "")


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_max_age_only_where_something_is_reported_by_its_age(path):
    assert ("--max-age" in _shown(COMMANDS[path])) == (path in REPORTS_BY_AGE), path


@pytest.mark.parametrize("path", sorted(SHOWS_PROGRESS))
def test_progress_says_what_it_counts_on_this_command(path):
    """No help naming other commands' units ("scan git: blobs …; verify: keys") where it shows."""
    words = _shown(COMMANDS[path])["--progress"].help or ""
    assert not any(f"{other}:" in words for other in COMMANDS), words
    unit = {"scan git": "blobs", "scan dir": "files", "verify": "keys", "owners": "findings", "demo": "blobs",
            "store migrate": "rows"}.get(path)
    assert unit is None or unit in words, words


def test_the_aliases_are_these_and_hidden():
    found = {(path, flag, param.alias_of) for path, command in COMMANDS.items()
             for param in command.params if isinstance(param, AliasOption) for flag in param.opts}
    assert found == {(path, alias, canonical) for path, alias, canonical, _value in ALIASES}
    for path, alias, canonical, _value in ALIASES:
        text = _help(path)
        assert canonical in text and alias + " " not in text, path


@pytest.mark.parametrize("path,alias,canonical,value", sorted(ALIASES))
def test_an_alias_gives_the_command_what_its_new_name_gives(path, alias, canonical, value, monkeypatch):
    command = COMMANDS[path]
    received: list[dict] = []
    monkeypatch.setattr(command.callback, "__wrapped__", lambda **kwargs: received.append(kwargs))
    for flag in (alias, canonical):
        result = CliRunner().invoke(cli, path.split() + [flag, value])
        assert result.exit_code == 0, result.output
    assert len(received) == 2 and received[0] == received[1]
    target = next(p.target for p in command.params if isinstance(p, AliasOption) and alias in p.opts)
    assert str(received[0][target]) == value


@pytest.mark.parametrize("path,alias,canonical,value", sorted(ALIASES))
def test_an_alias_and_its_new_name_together_is_a_usage_error(path, alias, canonical, value, run):
    result = run(*path.split(), alias, value, canonical, value)
    assert result.code == 2
    assert f"{alias} is the old name of {canonical}" in result.stderr


def test_gitlab_url_alias_still_reaches_the_source(run):
    result = run("scan", "gitlab", "--group", "acme", "--url", "not-a-url", "--no-store")
    assert result.code == 2 and "GitLab URL 'not-a-url'" in result.stderr


def test_output_writes_the_records_where_stdout_would_have(run, tmp_path, keys):
    """-o on the commands that gained it: the file holds what standard output would, which stays empty."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    db = str(tmp_path / "store.db")
    assert run("scan", "dir", tmp_path / "code", "--db", db).code == 1
    for args in (("revoke", "--all", "--format", "json"), ("audit", "log", "--format", "json"),
                 ("audit", "head"), ("rules", "list", "--format", "json")):
        shown = run(*args, "--db", db) if args[0] != "rules" else run(*args)
        target = tmp_path / f"{args[0]}-{args[1]}.out"
        written = run(*args, "--db", db, "-o", target) if args[0] != "rules" else run(*args, "-o", target)
        assert written.code == shown.code and written.stdout == "", args
        text = target.read_text()
        assert text.strip() and text.splitlines()[0] == shown.stdout.splitlines()[0], args
        if args[0] == "revoke":
            assert json.loads(text)["mode"] == "dry-run"


@pytest.mark.parametrize("args", [(), ("scan",), ("audit",), ("rules",)])
def test_a_bare_group_prints_its_help_and_exits_0(run, args):
    result = run(*args)
    assert result.code == 0, result
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout and result.stderr == ""


@pytest.mark.parametrize("args", [("nosuch",), ("scan", "nosuch"), ("scan", "git", "--nosuch")])
def test_a_real_usage_error_stays_exit_2(run, args):
    result = run(*args)
    assert result.code == 2 and result.stderr.startswith("keysweep: error: ") and result.stdout == ""


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_help_fits_80_columns_and_explains_every_option(path):
    """`keysweep … --help` on an 80-column terminal: exit 0, no line wider, and every option shown
    says what it does (a bare `--max-size INTEGER RANGE` tells a person nothing)."""
    result = CliRunner().invoke(cli, path.split() + ["--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines()), path
    unexplained = [param.opts[0] for param in COMMANDS[path].params
                   if isinstance(param, click.Option) and not param.hidden and not param.help]
    assert unexplained == [], (path, unexplained)
    assert (COMMANDS[path].help or "").strip(), path  # the command says what it is for


def test_docs_usage_names_every_command_that_takes_format_and_progress():
    """The 'same option for the same thing' table of docs/usage.md keeps up with the commands."""
    from .conftest import PROJECT

    rows = {line.split("|")[1].strip(): line for line in (PROJECT / "docs" / "usage.md").read_text().splitlines()
            if line.startswith("| ")}
    for concept, paths in (("output format", PRINTS_RECORDS), ("progress on stderr", SHOWS_PROGRESS)):
        named = rows[concept]
        missing = sorted(path for path in paths
                         if f"`{path}`" not in named and not (path.startswith("scan ") and "`scan …`" in named))
        assert missing == [], (concept, missing)


def test_revoke_rotate_help_names_every_store_the_rotation_writes_the_new_key_to():
    """`--rotate` writes the new AWS key back where the old one was found, in any of the stores
    docs/revocation.md (AWS rotation, step 2) lists; its help said only Secrets Manager and SSM,
    which sent a responder with a key in Vault or a Kubernetes Secret to rotate it by hand."""
    result = CliRunner().invoke(cli, ["revoke", "--help"], terminal_width=80)
    text = " ".join(result.output.split())
    rotate = text[text.index("--rotate"):text.index("--preflight")]
    for store in ("Secrets Manager", "SSM", "Vault KV", "Kubernetes Secret", "GCP Secret Manager", "Azure Key Vault",
                  "GitLab project variable"):
        assert store in rotate, (store, rotate)
