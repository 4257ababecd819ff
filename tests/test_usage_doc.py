"""docs/usage.md shows each command's output as it is now (issue 14). Each `<!-- sample: ARGS -->`
block in it is `keysweep ARGS` run on one example store (tests/selection_helpers.py's responder
store) at a fixed moment, and must be exactly that output; the demo, the pre-commit advice and the
configuration error shown in prose are compared with a real run too.

`KEYSWEEP_UPDATE_DOCS=1 pytest tests/test_usage_doc.py` writes the samples again (the test then
passes and the diff shows what changed)."""

from __future__ import annotations

import os
import re
import shlex
from datetime import datetime, timezone

import pytest

from keysweep.testing.keygen import KeyGen
from tests.selection_helpers import responder_store

from .conftest import PROJECT

USAGE = PROJECT / "docs" / "usage.md"
SAMPLE = re.compile(r"<!-- sample: (?P<args>[^>]*?) -->\n(?P<body>.*?)<!-- /sample -->", re.S)
# The moment every sample is taken at: ages and open windows count to it.
NOW = datetime(2026, 12, 2, 18, 0, 0, tzinfo=timezone.utc)


class FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW if tz is not None else NOW.replace(tzinfo=None)


def indented(text: str) -> str:
    """As a Markdown code block: four spaces in, no trailing blanks (an editor would strip them)."""
    return "".join(f"    {line.rstrip()}\n" if line.strip() else "\n" for line in text.rstrip("\n").split("\n"))


def sample_text(run, tmp_path, args: str) -> str:
    """`keysweep ARGS` on a store of its own (a dry run writes audit rows: the report's audit head
    would depend on the order the samples are taken in); a scan reads `app/` as the doc describes it."""
    home = tmp_path / re.sub(r"\W+", "-", args)
    home.mkdir()
    db, _found = responder_store(home)
    if args.startswith("scan "):
        keys = KeyGen(14)  # the same generated keys every time
        (home / "app" / "config").mkdir(parents=True)
        (home / "app" / "config" / ".env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n"
                                                      f"ANTHROPIC_API_KEY={keys.anthropic()}\n")
        (home / "app" / "deploy.py").write_text(f'TOKEN = "{keys.github()}"\n')
        db = home / "scan.db"
    result = run(*shlex.split(args), "--db", db, cwd=home)
    assert result.code in (0, 1), result
    return indented(f"$ keysweep {args}\n{result.stdout}")


def test_every_sample_is_the_commands_output_now(run, tmp_path, monkeypatch):
    monkeypatch.setattr("keysweep.remediation.report.datetime", FrozenDatetime)
    monkeypatch.setattr("keysweep.remediation.status.datetime", FrozenDatetime)
    doc = USAGE.read_text()
    samples = list(SAMPLE.finditer(doc))
    assert [m["args"] for m in samples] == ["scan dir app", "findings", "status", "owners --offline", "revoke --provider anthropic",
                                               "report"]
    if os.environ.get("KEYSWEEP_UPDATE_DOCS"):
        USAGE.write_text(SAMPLE.sub(lambda m: f"<!-- sample: {m['args']} -->\n"
                                              f"{sample_text(run, tmp_path, m['args'])}<!-- /sample -->", doc))
        return
    for match in samples:
        assert match["body"] == sample_text(run, tmp_path, match["args"]), \
            f"docs/usage.md's sample of `keysweep {match['args']}` is not what it prints now " \
            f"(KEYSWEEP_UPDATE_DOCS=1 pytest {__file__} writes it again)"


def prose_block(after: str) -> list[str]:
    """The indented lines of the first code block following the line that contains `after`."""
    lines = USAGE.read_text().split("\n")
    start = next(i for i, line in enumerate(lines) if after in line)
    block: list[str] = []
    for line in lines[start + 1:]:
        if line.startswith("    "):
            block.append(line[4:])
        elif block and line.strip():
            break
    return block


def test_the_demo_says_what_the_doc_shows(run, tmp_path):
    home = tmp_path / "demo"
    result = run("demo", "--keep", home)
    assert result.code == 0, result
    shown = [line.replace(str(home), "/tmp/keysweep-demo-x1y2z3w4") for line in result.stderr.splitlines()
             if line.strip()]
    documented = [line for line in prose_block("ends with the next commands") if line != "…the findings…"]

    def spaced(lines):  # the comments are aligned to the longest command: the width varies with the path
        return [re.sub(r" {2,}#", "  #", line) for line in lines]

    assert spaced(shown) == spaced(documented)


def test_the_pre_commit_advice_is_the_doc(run, make_repo, keys):
    repo = make_repo()
    repo.commit("init", {"README.md": "x\n"})
    (repo.path / "app.env").write_text(f"OPENAI_API_KEY={keys.openai_project()}\n")
    repo.git("add", "app.env")
    result = run("scan", "staged", "--no-store", cwd=repo.path)
    assert result.code == 1, result
    advice = prose_block("When `keysweep scan staged` stops a commit")
    assert result.stderr.splitlines()[-len(advice):] == advice


def test_the_configuration_error_is_the_doc(run, tmp_path):
    (tmp_path / "keysweep.toml").write_text("[providers.openai]\nrate_limit = 0\n")
    result = run("verify", "--db", tmp_path / "none.db", cwd=tmp_path)
    [documented] = prose_block("a negative number or malformed TOML is one line")
    # The file is named by its full path: the doc's was /srv/app.
    assert result.code == 2 and result.stderr.strip().replace(str(tmp_path), "/srv/app") == documented, result


@pytest.mark.parametrize("args", ["status", "report"])
def test_a_sample_taken_at_another_moment_differs(run, tmp_path, monkeypatch, args):
    """The check can fail: the same command an hour later prints other ages."""
    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return NOW.replace(hour=19) if tz is not None else NOW.replace(hour=19, tzinfo=None)

    monkeypatch.setattr("keysweep.remediation.report.datetime", Later)
    monkeypatch.setattr("keysweep.remediation.status.datetime", Later)
    documented = next(m["body"] for m in SAMPLE.finditer(USAGE.read_text()) if m["args"] == args)
    assert sample_text(run, tmp_path, args) != documented
