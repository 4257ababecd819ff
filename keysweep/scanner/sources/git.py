"""Whole-history git source: every unique blob is read once, whatever the number of commits that
contain it; provenance (first commit, path, author) is resolved afterwards for matching blobs only.

`git cat-file --batch-all-objects --batch-check` lists every object with its type and size straight
from the pack indexes, so sizes are known before reading and oversized blobs are never read. Blobs
that no ref reaches (dangling after a rebase) are read too, but only reported when the caller asks
for unreachable objects: provenance resolution tells which are reachable.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from keysweep.clock import utc_iso
from keysweep.errors import SourceError
from keysweep.safefs import read_text
from keysweep.scanner.sources import display_path

ZERO_SHA = "0" * 40
STREAM_THRESHOLD = 16 * 1024 * 1024
# git maps pack files into memory in windows of up to 1 GiB (core.packedGitLimit allows 32 TiB of
# them on 64-bit systems) and keeps up to 96 MiB of delta bases: reading every blob of a 330 MB
# pack, `cat-file --batch` reached 310 MiB resident, the largest process of a scan, growing with the
# pack. These bounds hold it near 140 MiB whatever the repository's size, for the same CPU time
# (docs/benchmarks.md, "Memory"). Given on the command line, they win over any configuration.
GIT = ("git", "-c", "core.packedGitWindowSize=16m", "-c", "core.packedGitLimit=64m",
       "-c", "core.deltaBaseCacheLimit=32m")
# One line of `cat-file --batch-check` for the object listings: a blob with its size, a commit or
# an annotated tag, or an object git lists but cannot read.
_LISTED = re.compile(rb"^([0-9a-f]{40,64}) (?:(blob|commit|tag) ([0-9]+)|missing)$", re.MULTILINE)
# The listings are read this many bytes at a time, never whole (a million objects list in 60 MB).
_LISTING_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Introduction:
    """Where a blob entered history: a commit putting it at a path, or a ref naming it directly."""

    commit: str | None
    path: str
    author_name: str
    author_email: str
    committed_at: str
    timestamp: int


class _CountingReader:
    """A readable stream that counts the bytes read through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def _widen_pipe(fd: int) -> None:
    """A 1 MiB pipe instead of 64 KiB: fewer wake-ups of both processes per gigabyte of blobs."""
    try:
        import fcntl  # noqa: PLC0415  (POSIX only: elsewhere the pipe keeps its size)

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


def corrupt_object_message(sha: str, why: str) -> str:
    return (f"object {sha}: corrupt, not scanned ({why}); the other objects were scanned "
            f"(git fsck shows the damage)")


def _git(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, **kwargs)
    except FileNotFoundError:
        raise SourceError("git is not installed or not on PATH") from None


class GitRepo:
    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        if not path.exists():
            raise SourceError(f"{path}: no such directory")
        if not path.is_dir():
            raise SourceError(f"{path}: not a directory")
        result = _git(["rev-parse", "--absolute-git-dir"], path)
        if result.returncode != 0:
            raise SourceError(f"{path}: not a git repository")
        # os.fsdecode: a directory's name may hold bytes that are not UTF-8.
        self.git_dir = Path(os.fsdecode(result.stdout.strip()))
        top = _git(["rev-parse", "--show-toplevel"], path)
        self.root = Path(os.fsdecode(top.stdout.strip())) if top.returncode == 0 else self.git_dir
        self.path = self.root.resolve()

    @property
    def identity(self) -> str:
        """The repository as named in findings and in the incremental-scan record: its path, any
        byte of it that is not UTF-8 written `\\xNN` (as file names are) for the store and outputs."""
        return display_path(os.fsencode(self.path))

    def committed_file(self, name: str, limit: int) -> bytes | None:
        """A regular file at the root of HEAD's tree, or None when there is none (or no HEAD).
        Raises SourceError, saying why, when the entry is not a regular file of at most `limit`
        bytes (a hostile repository can commit a link, a submodule or a huge file there)."""
        listing = _git(["ls-tree", "-l", "HEAD", "--", name], self.path)
        fields = listing.stdout.split(b"\t", 1)[0].split()
        if listing.returncode != 0 or len(fields) != 4:
            return None
        mode, size = fields[0], fields[3]
        if mode not in (b"100644", b"100755"):
            kind = {b"120000": "a symbolic link", b"160000": "a submodule", b"040000": "a directory"}
            raise SourceError(f"{kind.get(mode, 'not a regular file')}, not read")
        if not size.isdigit() or int(size) > limit:
            raise SourceError(f"larger than {limit} bytes, not read")
        blob = _git(["cat-file", "blob", fields[2].decode()], self.path)
        return blob.stdout if blob.returncode == 0 else None

    def blob_inventory(self, errors: list[str] | None = None) -> list[tuple[str, int]]:
        """(sha, size) of every blob in the object database, in pack order. An object git lists
        but cannot read (a truncated loose object) is named in `errors`."""
        blobs = []
        for sha, kind, size in listed_objects(self.path):
            if kind == b"blob":
                blobs.append((sha.decode(), int(size)))
            elif kind is None and errors is not None:
                errors.append(corrupt_object_message(sha.decode(errors="replace"), "git cannot read its header"))
        return blobs

    def read_blobs(self, shas: Iterable[str], errors: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
        """Stream blob contents through `git cat-file --batch`. git stops at an object it cannot
        read: that object is named in `errors` and a new `cat-file` goes on with the next one, so
        one corrupt object never hides the rest."""
        pending = list(shas)
        while pending:
            broken = yield from self._read_batch(pending, errors)
            if broken is None:
                return
            pending = pending[broken + 1:]

    def _read_batch(self, shas: list[str], errors: list[str] | None):
        """Yield (sha, content) in request order; return the index of the object git failed on,
        or None when every object was answered."""
        with tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen(
                [*GIT, "cat-file", "--batch", "--buffer"],
                cwd=self.path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                bufsize=1 << 20,
            )
            assert proc.stdin is not None and proc.stdout is not None
            _widen_pipe(proc.stdout.fileno())

            request = "".join(f"{sha}\n" for sha in shas).encode()

            def feed() -> None:
                try:
                    proc.stdin.write(request)
                    proc.stdin.close()
                except (BrokenPipeError, ValueError):
                    pass

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            out = proc.stdout
            index = 0
            try:
                while index < len(shas):
                    header = out.readline()
                    if not header:
                        break  # git exited before answering shas[index]
                    parts = header.split()
                    if len(parts) < 3:  # "<sha> missing": listed, yet unreadable
                        if errors is not None:
                            errors.append(corrupt_object_message(shas[index], "git cannot read it"))
                        index += 1
                        continue
                    size = int(parts[2])
                    content = out.read(size)
                    if len(content) < size or out.read(1) != b"\n":
                        break  # git died in the middle of this object
                    yield parts[0].decode(), content
                    index += 1
            finally:
                out.close()
                proc.kill()
                proc.wait()
                writer.join(timeout=1)
            if index >= len(shas):
                return None
            if errors is not None:
                stderr.seek(0)
                said = stderr.read().decode("utf-8", "replace").strip().splitlines()
                errors.append(corrupt_object_message(shas[index], said[-1] if said else "git stopped reading"))
            return index

    @contextmanager
    def blob_stream(self, sha: str, size: int, errors: list[str] | None = None) -> Iterator[BinaryIO]:
        """One blob's content as a stream from `git cat-file blob`, for a blob too large to hold
        (read in pieces, never whole). A blob git delivers short of `size` is named in `errors`."""
        with tempfile.TemporaryFile() as stderr:
            try:
                # Over core.bigFileThreshold git streams a whole (non-delta) object instead of
                # inflating it in memory first: lowered to what keysweep holds at once.
                proc = subprocess.Popen([*GIT, "-c", f"core.bigFileThreshold={STREAM_THRESHOLD}", "cat-file", "blob",
                                         sha], cwd=self.path, stdout=subprocess.PIPE, stderr=stderr, bufsize=1 << 20)
            except FileNotFoundError:
                raise SourceError("git is not installed or not on PATH") from None
            assert proc.stdout is not None
            _widen_pipe(proc.stdout.fileno())
            counted = _CountingReader(proc.stdout)
            short = False
            try:
                yield counted
                # Read to its end yet short of its size: git stopped on a damaged object (a reader
                # that stopped early on purpose leaves bytes behind).
                short = counted.count < size and counted.read(1) == b""
            finally:
                proc.stdout.close()
                proc.kill()
                proc.wait()
            if short and errors is not None:
                stderr.seek(0)
                said = stderr.read().decode("utf-8", "replace").strip().splitlines()
                errors.append(corrupt_object_message(sha, said[-1] if said else "git stopped reading"))

    def submodules(self) -> list[tuple[str, str, bool]]:
        """(path, commit, checked out) of each submodule at HEAD: a separate repository whose
        objects are not in this one."""
        result = _git(["ls-tree", "-r", "-z", "--full-tree", "HEAD"], self.path)
        if result.returncode != 0:
            return []  # no HEAD yet
        found = []
        for entry in result.stdout.split(b"\0"):
            meta, _, raw_path = entry.partition(b"\t")
            parts = meta.split(b" ")
            if len(parts) == 3 and parts[1] == b"commit":
                path = display_path(raw_path)
                found.append((path, parts[2].decode(), (self.path / os.fsdecode(raw_path) / ".git").exists()))
        return found

    def shallow_boundary(self) -> list[str]:
        """The commits a shallow clone stops at (their parents were not fetched)."""
        result = _git(["rev-parse", "--git-path", "shallow"], self.path)
        if result.returncode != 0:
            return []
        try:
            text = read_text(self.path / os.fsdecode(result.stdout.strip()), follow_symlinks=True)
        except (OSError, UnicodeDecodeError):
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def coverage_warnings(self) -> list[str]:
        """What a scan of this repository cannot see, and how to scan it."""
        warnings = []
        for path, commit, checked_out in self.submodules():
            target = shlex.quote(str(self.path / path))
            how = f"keysweep scan git {target}" if checked_out else \
                f"git submodule update --init -- {shlex.quote(path)}, then keysweep scan git {target}"
            warnings.append(f"submodule {path} (commit {commit[:12]}) is a separate repository and was not "
                            f"scanned: run {how}")
        boundary = self.shallow_boundary()
        if boundary:
            named = ", ".join(commit[:12] for commit in boundary[:3]) + (
                f" and {len(boundary) - 3} more" if len(boundary) > 3 else "")
            warnings.append(f"shallow clone: history before {named} not scanned; run git fetch --unshallow, "
                            "then scan again")
        return warnings

    def refs(self) -> list[tuple[str, str, str]]:
        """(refname, peeled object id, peeled object type) of every ref, annotated tags peeled."""
        result = _git(["for-each-ref", "--format=%(refname)%00%(objectname)%00%(objecttype)%00"
                                        "%(*objectname)%00%(*objecttype)"], self.path)
        if result.returncode != 0:
            raise SourceError(f"{self.path}: cannot list refs: {result.stderr.decode(errors='replace').strip()}")
        refs = []
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split("\0")
            if len(parts) == 5:
                name, obj, kind, peeled, peeled_kind = parts
                refs.append((name, peeled or obj, peeled_kind or kind))
        return refs

    def ref_tips(self) -> dict[str, str]:
        """Ref name -> the object it names, as stored (an annotated tag is its tag object), for
        every ref, plus HEAD and each linked worktree's HEAD when detached: every place `git log
        --all` starts from. One `git for-each-ref`; a detached HEAD is read from its file."""
        result = _git(["for-each-ref", "--format=%(objectname) %(refname)"], self.path)
        if result.returncode != 0:
            raise SourceError(f"{self.path}: cannot list refs: {result.stderr.decode(errors='replace').strip()}")
        tips = {}
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            sha, _, name = line.partition(" ")
            if name:
                tips[name] = sha
        for name, head in self._detached_heads():
            tips[name] = head
        return tips

    def _detached_heads(self) -> Iterator[tuple[str, str]]:
        """("HEAD", sha) when HEAD names a commit directly, and ("worktrees/<name>/HEAD", sha) for
        each linked worktree whose HEAD does (a HEAD naming a branch is listed with the branch)."""
        common = self.git_dir
        try:
            common = (self.git_dir / read_text(self.git_dir / "commondir").strip()).resolve()
        except (OSError, UnicodeDecodeError):
            pass
        heads = [("HEAD", self.git_dir / "HEAD")]
        try:
            heads += [(f"worktrees/{entry.name}/HEAD", entry / "HEAD") for entry in sorted((common / "worktrees").iterdir())]
        except OSError:
            pass
        for name, path in heads:
            try:
                value = read_text(path).strip()
            except (OSError, UnicodeDecodeError):
                continue
            if len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value):
                yield name, value

    def objects_since(self, tips: Iterable[str], old_tips: Iterable[str],
                      also: Iterable[str] = ()) -> dict[str, tuple[str, int]]:
        """sha -> (type, size) of the objects reachable from `tips` that are not reachable from
        `old_tips` (the tips of an earlier scan), and of those of `also` that still exist: what
        an incremental scan may not have read. git walks only the commits that are new; it may
        list a blob an old commit holds too (the caller skips those it already read), never leave
        out one that only new commits hold. An old tip that is gone (history rewritten, then
        collected) is left out of the exclusion."""
        tips, old_tips, also = sorted(set(tips)), sorted(set(old_tips)), set(also)
        present = self.object_sizes([*old_tips, *also])
        found = {sha: present[sha] for sha in also if sha in present}
        if not tips:
            return found
        revisions = "".join([f"{tip}\n" for tip in tips] + [f"^{old}\n" for old in old_tips if old in present])
        listing = subprocess.Popen([*GIT, "rev-list", "--objects", "--no-object-names", "--stdin"], cwd=self.path,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        objects, err = listing.communicate(revisions.encode())
        if listing.returncode != 0:
            raise SourceError(f"{self.path}: git rev-list failed: {err.decode(errors='replace').strip()}")
        found.update(self.object_sizes(objects.decode().split()))
        return found

    def object_sizes(self, shas: Iterable[str]) -> dict[str, tuple[str, int]]:
        """sha -> (type, size) of those of `shas` that exist in this repository."""
        shas = list(dict.fromkeys(shas))
        if not shas:
            return {}
        result = _git(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"], self.path,
                      input="".join(f"{sha}\n" for sha in shas).encode())
        sizes = {}
        for line in result.stdout.split(b"\n"):
            parts = line.split(b" ")
            if len(parts) == 3 and parts[2].isdigit():
                sizes[parts[0].decode()] = (parts[1].decode(), int(parts[2]))
        return sizes

    def existing_commits(self, shas: Iterable[str]) -> list[str]:
        """Those of `shas` that name a commit in this repository."""
        shas = list(shas)
        if not shas:
            return []
        result = _git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], self.path,
                      input="".join(f"{sha}\n" for sha in shas).encode())
        return [line.split(" ")[0] for line in result.stdout.decode(errors="replace").splitlines()
                if line.endswith(" commit")]

    def commit_tips(self) -> list[str]:
        return sorted({obj for _, obj, kind in self.refs() if kind == "commit"})

    def introductions(self, targets: set[str], exclude_tips: Iterable[str] = (),
                      tips: Iterable[str] | None = None) -> dict[str, list[Introduction]]:
        """For each target blob, the earliest commit that put it at each path, across all refs
        (or, with `tips`, across the commits those reach).

        With `exclude_tips` (the ref tips of an earlier scan, or a range's base), only commits not
        reachable from them are read: an incremental scan then costs what the new history costs."""
        found: dict[str, dict[str, Introduction]] = {}
        if not targets:
            return {}
        if tips is None:
            for refname, obj, kind in self.refs():
                if kind == "blob" and obj in targets:
                    # A ref or tag naming a blob directly (like git.git's junio-gpg-pub): no commit.
                    found.setdefault(obj, {})[refname] = Introduction(
                        commit=None, path=refname, author_name="", author_email="", committed_at="", timestamp=0)
        for blob, intro in self._logged_blobs(exclude_tips, tips, wanted=targets):
            per_path = found.setdefault(blob, {})
            earlier = per_path.get(intro.path)
            if earlier is None or (intro.timestamp, intro.commit or "") < (earlier.timestamp, earlier.commit or ""):
                per_path[intro.path] = intro
        return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}

    def _logged_blobs(self, exclude_tips: Iterable[str] = (), tips: Iterable[str] | None = None,
                      wanted: set[str] | None = None) -> Iterator[tuple[str, Introduction]]:
        """(blob, where a commit put it) for every blob each commit's diff adds or changes (those
        in `wanted`, when given: the others cost no record), in the commits reachable from `tips`
        (None: from every ref) and not from `exclude_tips`. A merge counts only what it changes
        against every parent (`git log -c`)."""
        # A tip an earlier scan saw may be gone since (history rewritten, then gc): `^<missing>`
        # would make git log fail, so only tips that are still commits here are excluded.
        revisions = "".join([f"{tip}\n" for tip in tips or ()]
                            + [f"^{tip}\n" for tip in self.existing_commits(exclude_tips)]).encode()
        proc = subprocess.Popen(
            [*GIT, "log", *(["--all"] if tips is None else []), "--stdin", "--raw", "--no-abbrev", "--no-renames",
             "-c", "-z", "--format=%x01%H%x00%an%x00%ae%x00%ct"],
            cwd=self.path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        data, err = proc.communicate(revisions)
        if proc.returncode != 0:
            if b"does not have any commits" in err or b"unknown revision" in err:
                return
            raise SourceError(f"{self.path}: git log failed: {err.decode(errors='replace').strip()}")
        for chunk in data.split(b"\x01"):
            if not chunk:
                continue
            fields = chunk.split(b"\0")
            if len(fields) < 4:
                continue
            # Raw entries are `:meta\0path\0` (`::meta` for a merge's combined diff). Merges put an
            # empty field after the header, so entries are read one field at a time, not in pairs.
            entries: list[tuple[bytes, bytes]] = []
            pending: bytes | None = None
            for field in fields[4:]:
                if pending is not None:
                    entries.append((pending, field))
                    pending = None
                elif field.strip().startswith(b":"):
                    pending = field.strip()
            commit = name = email = None
            for meta, path in entries:
                parts = meta.split(b" ")
                blob = parts[-2].decode() if len(parts) >= 3 else ""
                # A deletion names no blob (a submodule's entry names a commit: callers look at types).
                if not blob or blob == ZERO_SHA or (wanted is not None and blob not in wanted):
                    continue
                if commit is None:
                    commit, name, email, when = (f.decode("utf-8", "replace") for f in fields[:4])
                    timestamp = int(when.strip() or 0)
                yield blob, Introduction(
                    commit=commit, path=display_path(path),
                    author_name=name, author_email=email,
                    committed_at=utc_iso(datetime.fromtimestamp(timestamp, timezone.utc)),
                    timestamp=timestamp,
                )

    def resolve_range(self, spec: str) -> tuple[str | None, str]:
        """`BASE..HEAD` as (base commit, head commit): what `scan git --range` reads is the commits
        reachable from HEAD and not from BASE. A BASE of zeros (git's "no old value", as a
        pre-receive hook is given for a new branch) is None: all of HEAD's history. Raises
        SourceError, in one line, for anything else (no `..`, `...`, a name that is no commit)."""
        base, sep, head = spec.partition("..")
        if not sep or not base or not head or head.startswith("."):
            raise SourceError(f"--range {spec!r}: expected BASE..HEAD (two commits, e.g. origin/main..HEAD)")
        if set(base) == {"0"} and len(base) in (40, 64):
            return None, self._commit(head, spec)
        return self._commit(base, spec), self._commit(head, spec)

    def _commit(self, name: str, spec: str) -> str:
        result = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}"], self.path)
        sha = result.stdout.decode(errors="replace").strip()
        if result.returncode != 0 or len(sha) not in (40, 64):
            raise SourceError(f"--range {spec!r}: {name!r} is not a commit in {self.path}")
        return sha

    def range_commits(self, base: str | None, head: str, exclude: Iterable[str] = ()) -> list[str]:
        """The commits reachable from `head` and not from `base` (nor from any of `exclude`), newest first."""
        revisions = f"{head}\n" + (f"^{base}\n" if base else "") + "".join(f"^{tip}\n" for tip in exclude)
        result = _git(["rev-list", "--stdin"], self.path, input=revisions.encode())
        if result.returncode != 0:
            raise SourceError(f"{self.path}: git rev-list failed: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode().split()

    def range_blobs(self, base: str | None, head: str, exclude: Iterable[str] = ()) -> dict[str, list[Introduction]]:
        """Each blob a commit of the range adds or changes -> where (the earliest such commit per
        path), like `introductions` but for every blob of those commits. `exclude`: further commits
        whose history is left out (the repository's ref tips, for `--exclude-refs`)."""
        found: dict[str, dict[str, Introduction]] = {}
        for blob, intro in self._logged_blobs([*([base] if base else []), *exclude], [head]):
            per_path = found.setdefault(blob, {})
            earlier = per_path.get(intro.path)
            if earlier is None or (intro.timestamp, intro.commit or "") < (earlier.timestamp, earlier.commit or ""):
                per_path[intro.path] = intro
        return {blob: sorted(paths.values(), key=lambda i: (i.timestamp, i.path)) for blob, paths in found.items()}


@dataclass(frozen=True, slots=True)
class Message:
    """The message of a commit or an annotated tag: its subject and body, as written (the header,
    with a signature's armour, is not part of it)."""

    sha: str                  # the commit or tag object
    kind: str                 # "commit" or "tag"
    text: bytes
    author_name: str          # a commit's author, a tag's tagger
    author_email: str
    committed_at: str         # committer (or tagger) time, like blob introductions
    tag: str | None = None    # a tag's name
    target: str | None = None  # the object a tag names


def _person(value: bytes) -> tuple[str, str, int]:
    """(name, email, unix time) of an `author`/`committer`/`tagger` header value."""
    name, _, rest = value.decode("utf-8", "replace").partition(" <")
    email, _, when = rest.partition("> ")
    stamp = when.split(" ")[0]
    return name, email, int(stamp) if stamp.lstrip("-").isdigit() else 0


def parse_message(sha: str, kind: str, raw: bytes) -> Message:
    """A commit or tag object's message and who wrote it. Header continuation lines (a `gpgsig`
    block) start with a space and are skipped with the header."""
    header, _, text = raw.partition(b"\n\n")
    fields: dict[bytes, bytes] = {}
    for line in header.split(b"\n"):
        if line[:1] != b" ":
            name, _, value = line.partition(b" ")
            fields.setdefault(name, value)
    who = fields.get(b"author") or fields.get(b"tagger") or b""
    name, email, _ = _person(who)
    _, _, when = _person(fields.get(b"committer") or who)
    tag = fields.get(b"tag")
    return Message(
        sha=sha, kind=kind, text=text, author_name=name, author_email=email,
        committed_at=utc_iso(datetime.fromtimestamp(when, timezone.utc)) if when else "",
        tag=tag.decode("utf-8", "backslashreplace") if tag is not None else None,
        target=fields[b"object"].decode() if kind == "tag" and b"object" in fields else None,
    )


def message_inventory(repo: GitRepo) -> list[tuple[str, str]]:
    """(sha, "commit" | "tag") of every commit and annotated tag object, reachable or not."""
    return [(sha.decode(), kind.decode()) for sha, kind, _ in listed_objects(repo.path) if kind in (b"commit", b"tag")]


def listed_objects(path: Path) -> Iterator[tuple[bytes, bytes | None, bytes | None]]:
    """(sha, kind, size) of every blob, commit and annotated tag object in the repository's object
    database, in pack order; (sha, None, None) for an object git lists but cannot read. Read from
    `git cat-file --batch-all-objects` a piece at a time: the listing is never held whole (sympy's
    430,000 objects took 80 MB to split into lines at once)."""
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen([*GIT, "cat-file", "--batch-all-objects", "--unordered",
                                     "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
                                    cwd=path, stdout=subprocess.PIPE, stderr=stderr)
        except FileNotFoundError:
            raise SourceError("git is not installed or not on PATH") from None
        assert proc.stdout is not None
        rest = b""
        finished = False
        try:
            while piece := proc.stdout.read(_LISTING_CHUNK):
                cut = piece.rfind(b"\n")
                if cut < 0:
                    rest += piece
                    continue
                lines, rest = rest + piece[:cut], piece[cut + 1:]
                for found in _LISTED.finditer(lines):
                    yield found[1], found[2], found[3]
            for found in _LISTED.finditer(rest):
                yield found[1], found[2], found[3]
            finished = True
        finally:
            proc.stdout.close()
            if not finished:  # the caller stopped reading: git is not waited for to the end
                proc.kill()
            proc.wait()
        if proc.returncode != 0:
            stderr.seek(0)
            raise SourceError(f"{path}: cannot list objects: {stderr.read().decode(errors='replace').strip()}")


def read_messages(repo: GitRepo, objects: list[tuple[str, str]], errors: list[str] | None = None) -> Iterator[Message]:
    """The message of each (sha, kind), read through `cat-file --batch` like blobs (and, like
    them, past an object git cannot read)."""
    kinds = dict(objects)
    for sha, raw in _read_objects(repo, [sha for sha, _ in objects], errors):
        yield parse_message(sha, kinds.get(sha, "commit"), raw)


def _read_objects(repo: GitRepo, shas: list[str], errors: list[str] | None):
    pending = shas
    while pending:
        broken = yield from repo._read_batch(pending, errors)
        if broken is None:
            return
        pending = pending[broken + 1:]


def commit_messages(repo: GitRepo, shas: list[str] | None = None,
                    errors: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """(sha, message) of every commit a ref reaches, or of each of `shas`, formatted by one `git log`
    (git parses the commits; the text is the object's own, as `parse_message` reads it). Commits
    that stream does not give (git stopped on a damaged object, a message git cuts short) are read
    one by one through `cat-file`, like blobs."""
    walk = ["--all"] if shas is None else ["--no-walk=unsorted", "--stdin"]
    result = _git(["log", *walk, "-z", "--format=%H%x00%B"], repo.path,
                  input="".join(f"{sha}\n" for sha in shas or ()).encode())
    fields = result.stdout.split(b"\0")
    names, texts = fields[0:-1:2], fields[1::2]
    in_step = len(names)
    for index, name in enumerate(names):
        if len(name) not in (40, 64) or not name.isalnum():
            in_step = index  # out of step (a message git cut short): the rest is read the slow way
            break
    given = {name.decode() for name in names[:in_step]}
    yield from zip((name.decode() for name in names[:in_step]), texts[:in_step])
    if shas is None and result.returncode == 0 and in_step == len(names) and len(fields) % 2 == 1:
        return
    rest = [sha for sha in (shas if shas is not None else sorted(reachable_commits(repo))) if sha not in given]
    for message in read_messages(repo, [(sha, "commit") for sha in rest], errors):
        yield message.sha, message.text


def reachable_commits(repo: GitRepo) -> set[str]:
    """Every commit some ref reaches."""
    result = _git(["rev-list", "--all"], repo.path)
    return set(result.stdout.decode().split()) if result.returncode == 0 else set()


def tag_refs(repo: GitRepo) -> dict[str, str]:
    """Annotated tag object -> the ref naming it."""
    result = _git(["for-each-ref", "--format=%(objectname) %(objecttype) %(refname)"], repo.path)
    names: dict[str, str] = {}
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1] == "tag":
            names.setdefault(parts[0], parts[2])
    return names


def read_message(repo: str, sha: str) -> bytes | None:
    """One commit's or tag's message, for re-reading a value seen there."""
    for kind in ("commit", "tag"):
        result = _git(["cat-file", kind, sha], Path(repo))
        if result.returncode == 0:
            return parse_message(sha, kind, result.stdout).text
    return None
