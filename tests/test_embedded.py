"""Binary files keys are known to hide in (SQLite, pickle, .pyc, Java class) are scanned through
their printable runs (keysweep/scanner/embedded.py), on both engines, in `scan dir`, `scan git`
and inside archives; binary media and object files stay skipped."""

from __future__ import annotations

import io
import pickle
import py_compile
import sqlite3
import zipfile

import pytest

from keysweep.scanner.embedded import embedded_kind, printable_runs
from keysweep.scanner.pipeline import scan_git, scan_local
from keysweep.scanner.reread import Rereader
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources.directory import DirectorySource
from keysweep.scanner.sources.git import GitRepo
from tests.conftest import BACKENDS, find_secret

RULES = load_rules()


def sqlite_with(path, rows: list[tuple[str, str]]) -> bytes:
    with sqlite3.connect(path) as db:
        db.execute("create table settings (name text, value text)")
        db.executemany("insert into settings values (?, ?)", rows)
    db.close()
    return path.read_bytes()


def pyc_with(tmp_path, source: str) -> bytes:
    module = tmp_path / "mod_src.py"
    module.write_text(source)
    return (tmp_path / py_compile.compile(str(module), cfile=str(tmp_path / "mod.pyc"))).read_bytes()


def class_with(text: str) -> bytes:
    """A Java class file's start: magic, version 52, a constant pool holding one UTF-8 string."""
    data = text.encode()
    return b"\xca\xfe\xba\xbe\x00\x00\x00\x34\x00\x02\x01" + len(data).to_bytes(2, "big") + data + b"\x00\x21"


def test_kinds_are_told_by_their_magic_bytes(tmp_path):
    assert embedded_kind(sqlite_with(tmp_path / "a.db", [])) == "sqlite"
    assert embedded_kind(pickle.dumps({"a": 1}, protocol=2)) == "pickle"
    assert embedded_kind(pickle.dumps({"a": 1}, protocol=5)) == "pickle"
    assert embedded_kind(pyc_with(tmp_path, "X = 1\n")) == "pyc"
    assert embedded_kind(class_with("hello")) == "java-class"
    assert embedded_kind(b"\x89PNG\r\n\x1a\n\x00\x00") is None
    assert embedded_kind(b"\x7fELF\x02\x01\x01\x00") is None
    assert embedded_kind(b"\xca\xfe\xba\xbe\x00\x00\x00\x02")  is None  # a Mach-O universal binary


def test_runs_are_lines_and_a_glued_prefix_starts_its_own():
    pieces = [b"\x00\x01short\x00a long enough run\x00\x8clsk-ant-api03-", b"abcdefgh\x00tail"]
    assert b"".join(printable_runs(pieces, [b"sk-ant-api03-"])) == b"a long enough run\nl\nsk-ant-api03-abcdefgh\n"
    assert b"".join(printable_runs([b"\x00%hf_abcdefgh\x00"], [b"hf_"])) == b"%\nhf_abcdefgh\n"
    # A prefix that ends a longer one (sk_ at the end of gsk_) does not split it again.
    glued = b"\x00%}GROQ_API_KEYgsk_abcdefgh\x00"
    assert b"".join(printable_runs([glued], [b"gsk_", b"sk_", b"sk-ant-api03-"])) == b"%}GROQ_API_KEY\ngsk_abcdefgh\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_in_sqlite_pickle_pyc_and_class_files_are_found(run, tmp_path, keys, backend):
    in_db, in_pickle, in_pyc, in_class = keys.anthropic(), keys.openai_project(), keys.github(), keys.huggingface()
    root = tmp_path / "project"
    root.mkdir()
    sqlite_with(root / "app.db", [("ANTHROPIC_API_KEY", in_db), ("debug", "true")])
    (root / "client.pkl").write_bytes(pickle.dumps({"model": "gpt", "OPENAI_API_KEY": in_pickle}, protocol=4))
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "settings.cpython-311.pyc").write_bytes(pyc_with(
        tmp_path, f"def connect():\n    return Client(token='{in_pyc}', retries=3)\n"))
    (root / "Config.class").write_bytes(class_with(in_class))

    result = run("scan", "dir", root, "--no-store", "--format", "json", "--engine", backend)
    assert result.code == 1, result
    findings = result.json()
    assert len(findings) == 4
    for secret, path in ((in_db, "app.db"), (in_pickle, "client.pkl"),
                         (in_pyc, "__pycache__/settings.cpython-311.pyc"), (in_class, "Config.class")):
        [occurrence] = find_secret(findings, secret)["occurrences"]
        assert (occurrence["path"], occurrence["line"]) == (path, None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_media_object_files_and_clean_databases_report_nothing(run, tmp_path, keys, backend):
    key = keys.anthropic()
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + f"\x00tEXt key {key}\x00".encode())
    (tmp_path / "lib.o").write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + f"ANTHROPIC_API_KEY={key}\x00".encode())
    sqlite_with(tmp_path / "empty.db", [("name", "nothing secret here")])
    result = run("scan", "dir", tmp_path, "--no-store", "--engine", backend)
    assert result.code == 0, result
    assert "2 binary skipped" in result.stdout


def test_a_database_committed_to_git_and_one_inside_a_zip(make_repo, keys, tmp_path, engine):
    committed, zipped = keys.anthropic(), keys.openai_project()
    database = sqlite_with(tmp_path / "dev.db", [("ANTHROPIC_API_KEY", committed)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cache/client.pkl", pickle.dumps({"OPENAI_API_KEY": zipped}))
    repo = make_repo()
    repo.commit("Add fixtures", {"fixtures/dev.db": database, "fixtures/cache.zip": buffer.getvalue()})

    result = scan_git(GitRepo(repo.path), engine)
    by_path = {o.path: o for f in result.findings for o in f.occurrences}
    assert set(by_path) == {"fixtures/dev.db", "fixtures/cache.zip!cache/client.pkl"}
    assert by_path["fixtures/dev.db"].locator["decoded_from"] == "strings"
    assert by_path["fixtures/dev.db"].line is None
    rereader = Rereader(RULES, engine)
    assert sorted(rereader.read(f).secret for f in result.findings) == sorted([committed, zipped])


def test_a_value_in_a_database_on_disk_is_read_back(tmp_path, keys, engine):
    key = keys.anthropic()
    sqlite_with(tmp_path / "app.db", [("ANTHROPIC_API_KEY", key)])
    [finding] = scan_local(DirectorySource(tmp_path), engine).findings
    assert Rereader(RULES, engine).read(finding).secret == key
