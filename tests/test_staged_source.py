"""`keysweep scan staged` (pre-commit): only lines the index adds; line numbers are the file's."""

from __future__ import annotations

import pytest

from keysweep.sanitize import terminal_safe
from tests.conftest import find_secret


@pytest.fixture
def repo(make_repo, keys):
    repo = make_repo()
    repo.committed_key = keys.openai_project()
    repo.commit("Initial", {"config.py": f"import os\nOLD_KEY = '{repo.committed_key}'\nDEBUG = False\n",
                            "README.md": "# app\n"})
    return repo


def staged(run, repo, *extra: str, cwd=None):
    return run("scan", "staged", *extra, cwd=cwd or repo.path)


def test_only_added_lines_in_the_index_are_reported(run, repo, keys):
    added, unstaged = keys.anthropic(), keys.github()
    # Staged: one added line (line 4); the committed key on line 2 is an unchanged line.
    repo.write("config.py", f"import os\nOLD_KEY = '{repo.committed_key}'\nDEBUG = False\nCLAUDE = '{added}'\n")
    repo.git("add", "config.py")
    # Unstaged: a further change in the work tree only.
    repo.write("config.py", f"import os\nOLD_KEY = '{repo.committed_key}'\nDEBUG = False\nCLAUDE = '{added}'\n"
                            f"GH = '{unstaged}'\n")
    repo.write("untracked.env", f"GH={unstaged}\n")

    result = staged(run, repo, "--format", "json")
    assert result.code == 1, result
    findings = result.json()
    assert len(findings) == 1
    finding = find_secret(findings, added)
    assert finding["rule_id"] == "anthropic.api-key"
    [occurrence] = finding["occurrences"]
    assert {k: occurrence[k] for k in ("source", "path", "line", "commit")} == {
        "source": "staged", "path": "config.py", "line": 4, "commit": None}


def test_line_numbers_map_to_the_file_across_hunks(run, repo, keys):
    first, second = keys.huggingface(), keys.google_api_key()
    lines = [f"line {i}" for i in range(1, 41)]
    repo.commit("Long file", {"long.txt": "\n".join(lines) + "\n"})
    lines.insert(4, f"HF_TOKEN={first}")          # becomes line 5
    lines[29] = f"GOOGLE_API_KEY={second}"        # replaces line 30 (a modified line counts as added)
    repo.write("long.txt", "\n".join(lines) + "\n")
    repo.git("add", "long.txt")

    findings = staged(run, repo, "--format", "json").json()
    assert [(o["path"], o["line"]) for o in find_secret(findings, first)["occurrences"]] == [("long.txt", 5)]
    assert [(o["path"], o["line"]) for o in find_secret(findings, second)["occurrences"]] == [("long.txt", 30)]


def test_a_new_file_and_a_file_in_a_subdirectory(run, repo, keys):
    key = keys.openai_service_account()
    repo.write("svc/deploy/agent.env", f"# agent\n\nOPENAI_API_KEY={key}\n")
    repo.git("add", "svc/deploy/agent.env")
    # Run from a subdirectory: the scan covers the whole index and paths stay repository-relative.
    result = staged(run, repo, "--format", "json", cwd=repo.path / "svc")
    assert result.code == 1, result
    [occurrence] = find_secret(result.json(), key)["occurrences"]
    assert (occurrence["path"], occurrence["line"]) == ("svc/deploy/agent.env", 3)
    assert occurrence["repo"] == str(repo.path.resolve())


def test_clean_index_exits_0_and_prints_nothing(run, repo, keys):
    repo.write("config.py", "import os\nDEBUG = True\n")   # removes the committed key: a deletion
    repo.write("notes.md", "nothing secret\n")
    repo.git("add", "config.py", "notes.md")
    repo.write("notes.md", f"nothing secret\nKEY={keys.anthropic()}\n")  # unstaged
    result = staged(run, repo)
    assert (result.code, result.stdout, result.stderr) == (0, "", "")
    as_json = staged(run, repo, "--format", "json")
    assert (as_json.code, as_json.json()) == (0, [])


def test_nothing_staged_exits_0(run, repo):
    assert staged(run, repo).code == 0


def test_finding_exits_1_in_every_format(run, repo, keys):
    key = keys.github()
    repo.write("ci.sh", f"export GITHUB_TOKEN={key}\n")
    repo.git("add", "ci.sh")
    for fmt in ("table", "json", "jsonl", "sarif", "csv"):
        result = staged(run, repo, "--format", fmt)
        assert result.code == 1, (fmt, result)
        assert key not in result.stdout + result.stderr
    table = staged(run, repo)
    assert "ci.sh:1" in table.stdout and "ghp_…" in table.stdout


def test_binary_staged_file_is_skipped(run, repo, keys):
    repo.write("blob.bin", b"\x00\x01" + keys.anthropic().encode() + b"\x00")
    repo.git("add", "blob.bin")
    result = staged(run, repo, "--format", "json")
    assert (result.code, result.json()) == (0, [])


def test_staged_scan_with_a_store_reports_only_the_index(run, repo, keys, tmp_path):
    """A history scan in the same store must not make the pre-commit hook fail a clean commit."""
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    repo.write("notes.md", "clean\n")
    repo.git("add", "notes.md")
    clean = staged(run, repo, "--db", db, "--format", "json")
    assert (clean.code, clean.json()) == (0, []), clean

    key = keys.huggingface()
    repo.write("notes.md", f"clean\nHF={key}\n")
    repo.git("add", "notes.md")
    dirty = staged(run, repo, "--db", db, "--format", "json")
    assert dirty.code == 1, dirty
    assert [f["secret_sha256"] for f in dirty.json()] == [find_secret(dirty.json(), key)["secret_sha256"]]


def test_outside_a_repository_is_an_input_error(run, tmp_path):
    result = run("scan", "staged", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.startswith("keysweep: error: ") and "not inside a git work tree" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("name", ["plain space.env", 'my "quoted" file.env', "tab\there.env", "clé ünïcode.env",
                                  "dir with space/inner.env"])
def test_unusual_file_names_are_reported_as_they_are(run, repo, keys, name):
    key = keys.github()
    repo.write(name, f"\nGITHUB_TOKEN={key}\n")
    repo.git("add", "--", name)
    result = staged(run, repo, "--format", "json")
    assert result.code == 1, result
    assert [(o["path"], o["line"]) for o in find_secret(result.json(), key)["occurrences"]] == [(name, 2)]


def test_a_hit_says_how_to_go_on_in_one_short_block(run, repo, keys):
    key = keys.github()
    repo.write("ci.sh", f"export GITHUB_TOKEN={key}\n")
    repo.git("add", "ci.sh")
    result = staged(run, repo)
    assert result.code == 1
    advice = result.stderr.strip().splitlines()
    assert advice[0] == "keysweep: this commit would add a credential. To go on, either"
    assert len(advice) == 4 and all(len(line) <= 80 for line in advice)
    assert "remove it" in advice[1] and "rotate it" in advice[2] and "keysweep:allow" in advice[3]
    # Machine formats keep stdout clean; the advice is on stderr for the person at the commit.
    as_json = staged(run, repo, "--format", "json")
    assert as_json.code == 1 and as_json.json() and "keysweep:allow" in as_json.stderr
    # The way it names works: the allowed line passes.
    repo.write("ci.sh", f"export GITHUB_TOKEN={key}  # keysweep:allow\n")
    repo.git("add", "ci.sh")
    allowed = staged(run, repo)
    assert (allowed.code, allowed.stderr) == (0, "")


def test_a_hit_is_reported_as_plain_aligned_lines(run, repo, keys):
    """The hook's report is the scan table's information as plain text: a title, a header and one
    line per finding (id, rule, redacted secret, source, where, number of places), columns two
    spaces apart and nothing folded, then the summary line. A staged change has no commit and no
    author yet, so those two empty columns are left out. No box drawing, no colour: it reads the
    same in a terminal, in pre-commit's captured output and in a CI log."""
    gh, hf = keys.github(), keys.huggingface()
    repo.write("ci.sh", f"export GITHUB_TOKEN={gh}\n")
    repo.write("deploy/app.env", f"# app\nHF_TOKEN={hf}\nHF_AGAIN={hf}\n")
    repo.git("add", "ci.sh", "deploy/app.env")
    as_json = staged(run, repo, "--format", "json").json()
    result = staged(run, repo)
    assert result.code == 1, result
    rows = [["id", "rule", "secret", "source", "where", "n"]]
    for finding in as_json:
        first = finding["occurrences"][0]
        rows.append([finding["id"], finding["rule_id"], finding["redacted"], "staged",
                     f"{repo.path.resolve()}:{first['path']}:{first['line']}", str(len(finding["occurrences"]))])
    widths = [max(len(row[k]) for row in rows) for k in range(6)]
    table = ["  ".join([*(cell.ljust(widths[k]) for k, cell in enumerate(row[:-1])), row[-1]]) for row in rows]
    assert result.stdout.splitlines() == ["2 findings", *table, "2 files (0.0 MB) scanned"]
    assert {row[1] for row in rows[1:]} == {"github.classic-pat", "huggingface.user-token"}
    assert [row[-1] for row in rows[1:] if row[1].startswith("huggingface")] == ["2"]
    assert gh not in result.stdout + result.stderr and hf not in result.stdout + result.stderr


# An OSC 8 hyperlink, rich markup, the 8-bit CSI, a bidi override, a zero-width space, and a CR LF
# that would print a forged line of keysweep's own: all in one staged file's name.
EVIL_NAME = "e\x1b]8;;x\x07[bold red]REVOKED[\\]\x9b2J\u202e\u200b\r\nkeysweep: 0 findings.env"


def test_a_hostile_file_name_is_shown_as_text_in_the_plain_report(run, run_process, repo, keys):
    """Every cell is data: the name is printed escaped (terminal_safe), on the one line of its
    finding, by the CLI and by the console script the hook runs alike; JSON keeps it exact."""
    key = keys.anthropic()
    repo.write(EVIL_NAME, f"K={key}\n")
    repo.git("add", "--", EVIL_NAME)
    [finding] = staged(run, repo, "--format", "json").json()
    assert finding["occurrences"][0]["path"] == EVIL_NAME
    for result in (staged(run, repo), run_process("scan", "staged", cwd=repo.path)):
        out = result.stdout if isinstance(result.stdout, str) else result.stdout.decode()
        assert result.code == 1, result
        for char in ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\u200b"):
            assert char not in out, repr(char)
        lines = out.splitlines()
        assert len(lines) == 4 and not any(line.startswith("keysweep: 0 findings") for line in lines), out
        assert lines[2].split("  ")[0] == finding["id"]
        assert lines[2].endswith(f":{terminal_safe(EVIL_NAME)}:1  1"), lines[2]
        assert "[bold red]REVOKED[\\]" in lines[2]  # markup is not a language here: shown as written
