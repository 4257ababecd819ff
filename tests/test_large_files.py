"""Large files and blobs: read in pieces and matched in overlapping chunks (keysweep/scanner/
chunked.py), up to --max-size (256 MiB by default); what is over it is skipped, counted and its
bytes said. A key straddling a chunk boundary is found exactly once, where the one-shot scan finds
it; peak memory stays bounded with a 256 MiB blob."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from keysweep.scanner import chunked
from keysweep.scanner.pipeline import scan_git
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources import DEFAULT_MAX_SIZE
from keysweep.scanner.sources.git import GitRepo
from tests.conftest import BACKENDS, KEYSWEEP_BIN, find_secret, git

RULES = load_rules()
MiB = 1024 * 1024
FILLER = b"the quick brown fox jumps over the lazy dog, nothing to see on this line\n"


def filler(size: int) -> bytearray:
    return bytearray((FILLER * (size // len(FILLER) + 1))[:size])


def place(content: bytearray, offset: int, text: bytes) -> None:
    content[offset: offset + len(text)] = text


def summary(matches) -> list[tuple]:
    return [(m.rule_id, m.secret, m.start, m.end, m.line) for m in matches]


def test_the_overlap_covers_every_bounded_rule_twice(engine):
    overlap = chunked.overlap_for(engine)
    assert overlap >= chunked.MIN_OVERLAP
    assert all(overlap >= 2 * c.width for c in engine.rules if c.width is not None)


def test_a_key_straddling_each_chunk_boundary_is_found_exactly_once_where_the_whole_scan_finds_it(engine, keys):
    chunk = 256 * 1024
    content = filler(5 * chunk)
    planted = []
    for boundary, back in ((chunk, 10), (2 * chunk, 1), (3 * chunk, 30), (4 * chunk, 0)):
        key = keys.anthropic() if boundary % (2 * chunk) else keys.openai_project()
        line = f"\nAPI_KEY={key}\n".encode()
        start = boundary - back - len("\nAPI_KEY=")
        place(content, start, line)
        planted.append(key)
    whole = engine.scan(bytes(content), keep_allowed=True)
    pieces = (bytes(content[i: i + 7777]) for i in range(0, len(content), 7777))
    matches, timed_out = chunked.scan_pieces(engine, pieces, chunk_size=chunk)
    assert timed_out == []
    assert summary(matches) == summary(whole)
    assert sorted(m.secret for m in matches) == sorted(planted)
    for key in planted:  # each where it lies, on its own line
        [match] = [m for m in matches if m.secret == key]
        assert bytes(content[match.start: match.end]).decode() == key
        assert match.line == content.count(b"\n", 0, match.start) + 1


def test_content_within_one_chunk_is_one_ordinary_scan(engine, keys):
    text = f"x = 1\nTOKEN={keys.anthropic()}\n".encode()
    matches, _ = chunked.scan_pieces(engine, [text[:5], text[5:]])
    assert summary(matches) == summary(engine.scan(text, keep_allowed=True))


def test_no_key_in_a_large_filler_means_no_match(engine):
    matches, _ = chunked.scan_pieces(engine, [bytes(filler(3 * MiB))], chunk_size=MiB)
    assert matches == []


def test_default_limit_is_256_mib_and_the_help_says_so(run):
    assert DEFAULT_MAX_SIZE == 256 * MiB
    assert str(256 * MiB) in run("scan", "dir", "--help").stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_over_the_chunk_size_is_scanned_in_chunks_by_scan_dir(run, tmp_path, keys, backend):
    key, straddling = keys.anthropic(), keys.openai_project()
    content = filler(chunked.CHUNK_SIZE + 3 * MiB)
    place(content, chunked.CHUNK_SIZE - 20, f"\nOPENAI_API_KEY={straddling}\n".encode())
    place(content, len(content) - 200, f"\nANTHROPIC_API_KEY={key}\n".encode())
    (tmp_path / "dump.sql").write_bytes(bytes(content))
    result = run("scan", "dir", tmp_path, "--no-store", "--format", "json", "--engine", backend)
    assert result.code == 1, result
    findings = result.json()
    assert len(findings) == 2
    for secret in (key, straddling):
        [occurrence] = find_secret(findings, secret)["occurrences"]
        offset = bytes(content).index(secret.encode())
        assert occurrence["path"] == "dump.sql"
        assert occurrence["line"] == content.count(b"\n", 0, offset) + 1


def test_a_large_binary_file_is_skipped_as_binary(run, tmp_path, keys):
    content = bytearray(b"\0") + filler(chunked.CHUNK_SIZE + MiB)
    place(content, 5000, f"\nKEY={keys.anthropic()}\n".encode())
    (tmp_path / "blob.bin").write_bytes(bytes(content))
    result = run("scan", "dir", tmp_path, "--no-store")
    assert result.code == 0, result
    assert "1 binary skipped" in result.stdout


def test_a_large_blob_is_streamed_from_git_with_its_line(make_repo, keys, engine):
    repo = make_repo()
    key = keys.anthropic()
    content = filler(chunked.CHUNK_SIZE + MiB)
    place(content, chunked.CHUNK_SIZE - 5, f"\nANTHROPIC_API_KEY={key}\n".encode())
    repo.commit("Add dump", {"dump.sql": bytes(content), "small.txt": "hello\n"})

    result = scan_git(GitRepo(repo.path), engine)
    [finding] = result.findings
    [occurrence] = finding.occurrences
    assert occurrence.path == "dump.sql"
    assert occurrence.line == content.count(b"\n", 0, bytes(content).index(key.encode())) + 1
    assert result.stats.blobs_scanned == 2
    assert result.stats.bytes_scanned == len(content) + len("hello\n")
    assert result.stats.errors == []


def test_a_large_blob_without_a_key_is_recorded_as_scanned(make_repo, engine):
    repo = make_repo()
    repo.commit("Add dump", {"dump.sql": bytes(filler(chunked.CHUNK_SIZE + MiB))})
    result = scan_git(GitRepo(repo.path), engine)
    assert result.findings == []
    blob = git(repo.path, "rev-parse", "HEAD:dump.sql")
    assert blob in result.scanned_objects


def test_what_is_over_the_limit_is_counted_with_its_bytes(run, make_repo, keys):
    repo = make_repo()
    repo.commit("Add", {"big.env": "#\n" * 3000 + f"KEY={keys.anthropic()}\n", "small.txt": "hi\n"})
    for target in ("git", "dir"):
        result = run("scan", target, repo.path, "--no-store", "--max-size", "4000")
        assert result.code == 0, result
        assert "1 over size limit skipped (0.0 MB not read)" in result.stdout, result
    listed = run("scan", "dir", repo.path, "--no-store", "--format", "json", "--max-size", "4000")
    assert listed.json() == []


PEAK_PROBE = textwrap.dedent("""
    import resource, subprocess, sys
    done = subprocess.run(sys.argv[1:], capture_output=True)
    sys.stdout.write(f"{done.returncode} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n")
    sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
""")


def peak_rss_kib(*command: str) -> tuple[int, int]:
    """(exit status, largest resident set in KiB of the command and every process it waited for),
    measured in a fresh process so that nothing else this test session ran counts."""
    probe = subprocess.run([sys.executable, "-c", PEAK_PROBE, *command], capture_output=True, text=True, timeout=900)
    code, peak = probe.stdout.split()
    return int(code), int(peak)


@pytest.mark.slow
def test_peak_memory_stays_under_250_mb_with_a_256_mib_blob(make_repo, keys):
    size = 256 * MiB
    key = keys.anthropic()
    content = filler(size)
    place(content, size // 2 + 3, f"\nANTHROPIC_API_KEY={key}\n".encode())
    repo = make_repo()
    repo.commit("init", {"README.md": "hello\n"})
    (repo.path / "dump.sql").write_bytes(bytes(content))
    del content
    # The blob goes in with git's own streaming (over core.bigFileThreshold), never through Python.
    git(repo.path, "-c", "core.bigFileThreshold=1m", "add", "dump.sql")
    git(repo.path, "commit", "-q", "-m", "Add dump")

    for command in (("scan", "git", str(repo.path)), ("scan", "dir", str(repo.path / "dump.sql"))):
        code, peak = peak_rss_kib(str(KEYSWEEP_BIN), *command, "--no-store", "--format", "json")
        assert code == 1, command  # the key in the middle is found
        assert peak * 1024 < 250 * 1000 * 1000, f"{command}: peak RSS {peak / 1024:.0f} MiB"


# -- UTF-16 / UTF-32 files over the chunk size ----------------------------------------------------
WIDE = ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
BOMS = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\0\0", "utf-32-be": b"\0\0\xfe\xff"}


def wide_content(encoding: str, bom: bool, units: int, filler_text: str = FILLER.decode()) -> bytearray:
    """`units` characters of filler text in `encoding`, after its byte-order mark when `bom`."""
    text = (filler_text * (units // len(filler_text) + 1))[:units]
    return bytearray((BOMS[encoding] if bom else b"") + text.encode(encoding))


@pytest.mark.parametrize("encoding", WIDE)
@pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
def test_a_key_straddling_a_chunk_boundary_in_wide_text_is_found_once_in_place(engine, keys, encoding, bom):
    # Chunk size, overlap and piece size are none of them a multiple of the code unit: the
    # boundaries must still fall between code units (a UTF-32 window cut two bytes into a unit
    # reads as binary, one cut one byte in as the other byte order).
    chunk, overlap = 64 * 1024 + 3, 4 * 1024 + 1
    unit = 2 if "16" in encoding else 4
    content = wide_content(encoding, bom, 5 * chunk // unit)
    header = len(BOMS[encoding]) if bom else 0
    planted = []
    for boundary, back in ((chunk, 10), (2 * chunk, 1), (3 * chunk, 31), (4 * chunk, 0)):
        key = keys.anthropic() if boundary % (2 * chunk) else keys.openai_project()
        line = f"\nAPI_KEY={key}\n".encode(encoding)
        start = boundary - (back + len("\nAPI_KEY=")) * unit
        start -= (start - header) % unit  # on a character of the file
        place(content, start, line)
        planted.append(key)
    pieces = (bytes(content[i: i + 7777]) for i in range(0, len(content), 7777))
    matches, timed_out = chunked.scan_pieces(engine, pieces, chunk_size=chunk, overlap=overlap)
    assert timed_out == []
    assert sorted(m.secret for m in matches) == sorted(planted)
    for key in planted:  # each where it lies, on its own line, written in the file's encoding
        [match] = [m for m in matches if m.secret == key]
        assert bytes(content[match.start: match.end]).decode(encoding) == key
        assert match.decoded_from == encoding
        assert match.line == bytes(content[header:match.start]).decode(encoding).count("\n") + 1


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-32-be"])
def test_the_encoding_of_a_wide_file_is_read_once_from_its_start(engine, keys, encoding):
    # After its byte-order mark the file is Chinese text: a later window on its own has no NUL
    # byte to tell it is UTF-16/32, and the key there must still be read in the file's encoding.
    chunk = 64 * 1024
    unit = 2 if "16" in encoding else 4
    # `上` is 0A 4E in UTF-16-LE and `Ċ` (U+010A) 00 00 01 0A in UTF-32-BE: a 0x0A byte that is no newline.
    content = wide_content(encoding, True, 4 * chunk // unit, "密钥轮换说明，请勿提交上传。\u010a\n")
    key = keys.anthropic()
    start = 3 * chunk + 100 * unit
    start -= (start - len(BOMS[encoding])) % unit
    place(content, start, f"\nANTHROPIC_API_KEY={key}\n".encode(encoding))
    matches, _ = chunked.scan_pieces(engine, [bytes(content)], chunk_size=chunk, overlap=4096)
    [match] = matches
    assert match.secret == key
    assert bytes(content[match.start: match.end]).decode(encoding) == key
    assert match.line == bytes(content[len(BOMS[encoding]):match.start]).decode(encoding).count("\n") + 1


def test_a_utf16_file_over_the_chunk_size_is_scanned_in_chunks_by_scan_dir(run, tmp_path, keys):
    unit = 2
    content = wide_content("utf-16-le", True, (chunked.CHUNK_SIZE + MiB) // unit)
    key = keys.openai_project()
    start = chunked.CHUNK_SIZE - 20 * unit
    place(content, start, f"\nOPENAI_API_KEY={key}\n".encode("utf-16-le"))
    (tmp_path / "export.reg").write_bytes(bytes(content))
    result = run("scan", "dir", tmp_path, "--no-store", "--format", "json")
    assert result.code == 1, result
    [occurrence] = find_secret(result.json(), key)["occurrences"]
    offset = bytes(content).index(key.encode("utf-16-le"))
    assert occurrence["line"] == bytes(content[2:offset]).decode("utf-16-le").count("\n") + 1
    assert occurrence["locator"].get("decoded_from") == "utf-16-le"


def test_chunk_boundaries_fall_between_code_units():
    for size, unit in ((64 * 1024 + 3, 4), (64 * 1024 + 1, 2), (16 * MiB, 4), (7, 1)):
        aligned = chunked.aligned(size, unit)
        assert aligned % unit == 0 and size <= aligned < size + unit
