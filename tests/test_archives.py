"""Archives and compressed files (keysweep/scanner/archives.py), in `scan dir` and `scan git`, on
both engines: members found at `path!inner/path`, nesting, bounds against bombs said in a note,
hostile input (zip slip names, links, encryption, truncation, terminal escapes) answered with one
line, never a traceback or a hang; values re-read from inside the archive."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import pytest

from keysweep.scanner.archives import Expansion, Limits, container_kind, display_member, member_path
from keysweep.scanner.pipeline import scan_git, scan_local
from keysweep.scanner.reread import Rereader
from keysweep.scanner.rules import load_rules
from keysweep.scanner.sources.directory import DirectorySource
from keysweep.scanner.sources.git import GitRepo
from tests.conftest import BACKENDS, find_secret

RULES = load_rules()


# -- building archives ------------------------------------------------------------------------------
def zip_of(files: dict[str, bytes | str], *, encrypted: set[str] = frozenset(), links: set[str] = frozenset()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in links:
                info.external_attr = (0o120777 << 16)
            archive.writestr(info, content)
    data = bytearray(buffer.getvalue())
    for name in encrypted:  # set the "encrypted" flag in both headers (zipfile cannot encrypt)
        encoded = name.encode()
        for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = data.find(signature)
            while at >= 0:
                name_at = at + (30 if signature == b"PK\x03\x04" else 46)
                if data[name_at: name_at + len(encoded)] == encoded:
                    data[at + flag_at] |= 0x1
                at = data.find(signature, at + 1)
    return bytes(data)


def tar_of(files: dict[str, bytes | str], *, links: dict[str, str] | None = None, mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


def scan_dir_json(run, path, backend: str, *extra: str):
    result = run("scan", "dir", path, "--no-store", "--format", "json", "--engine", backend, *extra)
    assert result.code in (0, 1), result
    return result


def occurrence_paths(findings: list[dict], secret: str) -> list[str]:
    return sorted(o["path"] for o in find_secret(findings, secret)["occurrences"])


# -- kinds and names --------------------------------------------------------------------------------
def test_containers_are_told_by_their_magic_bytes():
    assert container_kind(zip_of({"a": "b"})) == "zip"
    assert container_kind(gzip.compress(b"x")) == "gzip"
    assert container_kind(bz2.compress(b"x")) == "bzip2"
    assert container_kind(lzma.compress(b"x")) == "xz"
    assert container_kind(tar_of({"a": "b"})) == "tar"
    assert container_kind(b"PK is a plain text file\n") is None
    assert container_kind(b"\x00\x01binary") is None


def test_member_paths_name_every_layer():
    assert member_path("a.zip", ("b.tar.gz", "c/.env")) == "a.zip!b.tar.gz!c/.env"
    assert member_path("conf/prod.env.gz", ("",)) == "conf/prod.env.gz!prod.env"
    assert member_path("a.zip", ("x.json.xz", "")) == "a.zip!x.json.xz!x.json"
    assert member_path("plain.env", None) == "plain.env"
    assert display_member(("", )) == "-"


# -- scan dir ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_keys_in_zip_family_members_are_found_at_their_inner_path(run, tmp_path, keys, backend):
    zipped, jarred, docx, wheel = keys.anthropic(), keys.openai_project(), keys.github(), keys.huggingface()
    (tmp_path / "bundle.zip").write_bytes(zip_of({"config/": "", "config/.env": f"# app\nANTHROPIC_API_KEY={zipped}\n"}))
    (tmp_path / "app.jar").write_bytes(zip_of({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n",
                                               "app.properties": f"openai.key={jarred}\n"}))
    (tmp_path / "report.docx").write_bytes(zip_of({"word/document.xml": f"<w:t>token {docx}</w:t>"}))
    (tmp_path / "pkg-1.0-py3-none-any.whl").write_bytes(zip_of({"pkg/settings.py": f"HF_TOKEN = '{wheel}'\n"}))
    (tmp_path / "clean.zip").write_bytes(zip_of({"README": "nothing here\n"}))

    findings = scan_dir_json(run, tmp_path, backend).json()
    assert len(findings) == 4
    [occurrence] = find_secret(findings, zipped)["occurrences"]
    assert (occurrence["path"], occurrence["line"]) == ("bundle.zip!config/.env", 2)
    assert occurrence_paths(findings, jarred) == ["app.jar!app.properties"]
    assert occurrence_paths(findings, docx) == ["report.docx!word/document.xml"]
    assert occurrence_paths(findings, wheel) == ["pkg-1.0-py3-none-any.whl!pkg/settings.py"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_compressed_files_and_nested_archives(run, tmp_path, keys, backend):
    gz, bz, xz, nested, deep = (keys.anthropic() for _ in range(5))
    (tmp_path / "prod.env.gz").write_bytes(gzip.compress(f"ANTHROPIC_API_KEY={gz}\n".encode()))
    (tmp_path / "dump.sql.bz2").write_bytes(bz2.compress(f"insert 'ANTHROPIC_API_KEY={bz}';\n".encode()))
    (tmp_path / "notes.txt.xz").write_bytes(lzma.compress(f"key: {xz}\n".encode()))
    inner = tar_of({"c/.env": f"\n\nANTHROPIC_API_KEY={nested}\n"}, mode="w:gz")
    (tmp_path / "a.zip").write_bytes(zip_of({"b.tar.gz": inner}))
    innermost = tar_of({"deep/.env": f"ANTHROPIC_API_KEY={deep}\n"}, mode="w:xz")
    (tmp_path / "outer.tar.bz2").write_bytes(
        tar_of({"mid.zip": zip_of({"inner.tar.xz": innermost})}, mode="w:bz2"))
    (tmp_path / "clean.tar.gz").write_bytes(tar_of({"a.txt": "hello\n"}, mode="w:gz"))

    findings = scan_dir_json(run, tmp_path, backend).json()
    assert len(findings) == 5
    assert occurrence_paths(findings, gz) == ["prod.env.gz!prod.env"]
    assert occurrence_paths(findings, bz) == ["dump.sql.bz2!dump.sql"]
    assert occurrence_paths(findings, xz) == ["notes.txt.xz!notes.txt"]
    [occurrence] = find_secret(findings, nested)["occurrences"]
    assert (occurrence["path"], occurrence["line"]) == ("a.zip!b.tar.gz!c/.env", 3)
    assert occurrence_paths(findings, deep) == ["outer.tar.bz2!mid.zip!inner.tar.xz!deep/.env"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_archive_without_keys_or_with_placeholders_reports_nothing(run, tmp_path, backend):
    (tmp_path / "docs.zip").write_bytes(zip_of({
        "README.md": "Set ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxx in your env\n",
        "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64}))
    (tmp_path / "data.tar.gz").write_bytes(tar_of({"x.csv": "a,b\n1,2\n"}, mode="w:gz"))
    result = scan_dir_json(run, tmp_path, backend)
    assert result.code == 0 and result.json() == [], result
    assert result.stderr == ""


def test_a_found_value_is_read_back_from_inside_the_archive(tmp_path, keys, engine):
    key = keys.anthropic()
    inner = tar_of({"c/.env": f"ANTHROPIC_API_KEY={key}\n"}, mode="w:gz")
    (tmp_path / "a.zip").write_bytes(zip_of({"b.tar.gz": inner}))
    result = scan_local(DirectorySource(tmp_path), engine)
    [finding] = result.findings
    [occurrence] = finding.occurrences
    assert occurrence.path == "a.zip!b.tar.gz!c/.env"
    assert occurrence.locator["path"] == "a.zip"
    assert occurrence.locator["member"] == ["b.tar.gz", "c/.env"]
    assert Rereader(RULES, engine).read(finding).secret == key


# -- scan git ---------------------------------------------------------------------------------------
def test_a_committed_archive_is_scanned_with_its_commit_and_member(make_repo, keys, engine):
    repo = make_repo()
    key, other = keys.anthropic(), keys.openai_project()
    commit = repo.commit("Add release", {"dist/release.zip": zip_of({"conf/.env": f"ANTHROPIC_API_KEY={key}\n"}),
                                         "backup.env.gz": gzip.compress(f"OPENAI_API_KEY={other}\n".encode()),
                                         "clean.tar.gz": tar_of({"a": "b\n"}, mode="w:gz")})
    result = scan_git(GitRepo(repo.path), engine)
    by_path = {o.path: o for f in result.findings for o in f.occurrences}
    assert set(by_path) == {"dist/release.zip!conf/.env", "backup.env.gz!backup.env"}
    assert by_path["dist/release.zip!conf/.env"].commit == commit
    assert by_path["dist/release.zip!conf/.env"].locator["member"] == ["conf/.env"]
    assert by_path["backup.env.gz!backup.env"].locator["member"] == [""]
    assert result.stats.archive_members == 3
    finding = next(f for f in result.findings if f.occurrences[0].path.startswith("dist/"))
    assert Rereader(RULES, engine).read(finding).secret == key


# -- bounds -----------------------------------------------------------------------------------------
def expand(data: bytes, limits: Limits, engine=None) -> tuple[list[tuple[str, bytes]], list[str]]:
    expansion = Expansion(limits, len(data))
    found = [(display_member(p.member), b"".join(p.pieces)) for p in expansion.parts(container_kind(data), io.BytesIO(data))]
    return found, expansion.notes


def test_each_bound_stops_the_archive_with_a_note():
    many = zip_of({f"f{i}.txt": "x\n" for i in range(20)})
    found, notes = expand(many, Limits(max_entries=5))
    assert len(found) == 5 and notes == [": archive bound hit: more than 5 members; the rest of it was not scanned"]

    big = gzip.compress(b"line of text\n" * 400_000)  # 5.2 MB of text, compressed ~250x
    _, notes = expand(big, Limits())
    assert notes == [f": archive bound hit: expands more than 100 times its {len(big)} bytes; "
                     "the rest of it was not scanned"]
    _, notes = expand(big, Limits(max_ratio=10_000, max_expanded=2_000_000))
    assert notes == [": archive bound hit: more than 2000000 bytes expanded; the rest of it was not scanned"]

    layered = b"ANTHROPIC_API_KEY=x\n"
    for _ in range(7):
        layered = gzip.compress(layered)
    found, notes = expand(layered, Limits(max_depth=5))
    assert found == [] and notes == ["!-: gzip nested more than 5 deep, not expanded"]

    oversized = zip_of({"big.txt": "y\n" * 5000, "small.txt": "ok\n"})
    found, notes = expand(oversized, Limits(max_member=1000))
    assert [name for name, _ in found] == ["small.txt"]
    assert notes == ["!big.txt: larger than 1000 bytes, not scanned"]


def test_a_bomb_is_noted_on_stderr_and_the_rest_of_the_scan_goes_on(run, tmp_path, keys):
    key = keys.anthropic()
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(b"A" * 60_000_000 + f"\nKEY={key}\n".encode()))
    (tmp_path / "ok.env").write_text(f"ANTHROPIC_API_KEY={keys.anthropic()}\n")
    result = run("scan", "dir", tmp_path, "--no-store", "--format", "json")
    assert result.code == 1, result
    assert len(result.json()) == 1  # the key past the bound is not reached
    assert "bomb.gz: archive bound hit: expands more than 100 times" in result.stderr
    assert "Traceback" not in result.stderr


# -- hostile input ----------------------------------------------------------------------------------
def test_hostile_archives_are_one_line_each_never_a_traceback(run, tmp_path, keys):
    slip, escaped = keys.anthropic(), keys.openai_project()
    (tmp_path / "slip.zip").write_bytes(zip_of({"../../../../tmp/evil.env": f"ANTHROPIC_API_KEY={slip}\n"}))
    (tmp_path / "links.zip").write_bytes(zip_of({"link.env": "/etc/passwd", "ok.txt": "fine\n"}, links={"link.env"}))
    (tmp_path / "links.tar").write_bytes(tar_of({"ok.txt": "fine\n"}, links={"passwd": "/etc/passwd"}))
    (tmp_path / "locked.zip").write_bytes(zip_of({"secret.env": "KEY=1\n"}, encrypted={"secret.env"}))
    whole = tar_of({f"f{i}.txt": "x" * 3000 for i in range(10)}, mode="w:gz")
    (tmp_path / "truncated.tar.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "cut.zip").write_bytes(zip_of({"a.txt": "hello\n" * 100})[:60])
    (tmp_path / "names.tar").write_bytes(tar_of({"evil\x1b[31m\u202e.env": f"OPENAI_API_KEY={escaped}\n"}))

    result = run("scan", "dir", tmp_path, "--no-store", "--format", "json")
    assert result.code == 1, result
    findings = result.json()
    assert occurrence_paths(findings, slip) == ["slip.zip!../../../../tmp/evil.env"]
    assert occurrence_paths(findings, escaped) == ["names.tar!evil\x1b[31m\u202e.env"]  # JSON keeps it exact
    assert not (tmp_path.parent.parent / "tmp" / "evil.env").exists()
    stderr = result.stderr
    assert "Traceback" not in stderr and "\x1b" not in stderr
    assert "links.zip!link.env: a symbolic link, not followed" in stderr
    assert "links.tar!passwd: a symbolic link, not followed" in stderr
    assert "locked.zip!secret.env: encrypted, not scanned" in stderr
    assert "truncated.tar.gz" in stderr and "cut.zip" in stderr
    assert all(line.startswith("keysweep: warning: ") for line in stderr.splitlines())

    table = run("scan", "dir", tmp_path, "--no-store")
    assert "\x1b" not in table.stdout and "\\x1b" in table.stdout and "\\u202e" in table.stdout
