"""Typed records passed between pipeline stages. The secret value lives only in `Match.secret`,
in memory, for the duration of a scan; everything that outlives a scan carries its fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, ContextManager


@dataclass(frozen=True, slots=True)
class Blob:
    """A piece of content to scan, with where it came from.

    `provenance` is source-specific (for git: repo and blob id; for dir: path). `line_map`, when
    set, maps the 1-based line numbers of `content` back to the original file (staged hunks).
    """

    content: bytes
    source: str
    provenance: dict[str, Any]
    line_map: tuple[int, ...] | None = None
    # Content too large to hold at once (over keysweep/scanner/chunked.py's chunk size): `content`
    # is empty and `opener()` gives a stream of its `size` bytes, matched in overlapping chunks.
    opener: Callable[[], ContextManager[BinaryIO]] | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Match:
    rule_id: str
    provider: str
    secret: str
    start: int
    end: int
    line: int
    key_id: str | None = None
    decoded_from: str | None = None  # "base64" when the secret was found inside a decoded value
    # Identifiers learned offline (AWS account id, GCP client_email, the API host of a generic
    # bearer token, ...); never secret.
    metadata: dict[str, str] | None = None
    # The allow marker (`keysweep:allow`, `gitleaks:allow`) on the secret's line: the match is kept
    # and recorded as a suppressed occurrence, not reported by default.
    allowed_by: str | None = None
    # Inside an archive: the member's path, one segment per nested archive (`("b.tar.gz", "c/.env")`);
    # an empty segment is the unnamed content of a compressed file (keysweep/scanner/archives.py).
    member: tuple[str, ...] | None = None


# Locator key holding how to reach the place again (the clone's cache directory, the forge's API
# URL and the *name* of its token variable, an AWS profile and endpoint; never a credential). It
# says how, not where: it is not part of an occurrence's identity, and a later scan refreshes it.
ACCESS = "access"


def place_of(locator: dict[str, Any] | None) -> dict[str, Any]:
    """The locator without its access details: what names the place."""
    return {key: value for key, value in (locator or {}).items() if key != ACCESS}


@dataclass(slots=True)
class Occurrence:
    source: str
    path: str | None
    line: int | None
    repo: str | None = None
    commit: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    committed_at: str | None = None
    locator: dict[str, Any] = field(default_factory=dict)
    seen_at: str | None = None
    # Non-secret facts about the place, refreshed on each scan: rotation state of a stored secret,
    # age of a CI secret, last modifier of a parameter, … (remote sources; None for git/dir).
    metadata: dict[str, Any] | None = None
    # Accepted by a person (inline allow marker or ignore file); `suppression` says which (see
    # keysweep/suppress.py). Not part of the place's identity.
    suppressed: bool = False
    suppression: dict[str, Any] | None = None

    def identity(self) -> tuple:
        # The whole locator: two CI variables of one repo holding the same key are two places.
        return (self.source, self.repo, self.path, self.line, self.commit,
                tuple(sorted((key, str(value)) for key, value in place_of(self.locator).items())))


@dataclass(slots=True)
class Finding:
    id: str
    rule_id: str
    provider: str
    secret_sha256: str
    redacted: str
    long_lived: bool
    key_id: str | None = None
    occurrences: list[Occurrence] = field(default_factory=list)
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    status: str = "open"
    verification: dict[str, Any] | None = None
    owner: dict[str, Any] | None = None
    remediation: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None  # non-secret facts from the first match (stored since migration 5)
    # A key keysweep itself created (`revoke --rotate`): {"rotated_from": finding id, "written_to":
    # locator of the store it was written to}; None otherwise (and for one-shot scans without a store).
    managed: dict[str, Any] | None = None
    # With `scan … --baseline FILE`: whether the baseline lists this finding's id (a known secret:
    # listed, but it does not fail the run); None when no baseline was given.
    baselined: bool | None = None
    # What the key could do when last seen live (keysweep/verify/reach.py `Reach.record()`); kept
    # after the key dies. None until a reach was read.
    reach: dict[str, Any] | None = None


@dataclass(slots=True)
class ScanStats:
    blobs_scanned: int = 0
    bytes_scanned: int = 0
    blobs_skipped_binary: int = 0
    blobs_skipped_size: int = 0
    # Bytes of the blobs and files skipped for their size: what was not read.
    bytes_skipped_size: int = 0
    # Members of archives and compressed files scanned (each also counts its bytes as scanned).
    archive_members: int = 0
    blobs_already_scanned: int = 0
    blobs_unreachable: int = 0
    # Commit and annotated-tag messages read (git only; not counted as blobs).
    messages_scanned: int = 0
    matches: int = 0
    suppressed_inline: int = 0
    # A part that could not be read: the scan is partial (exit 3 with --fail-on-error).
    errors: list[str] = field(default_factory=list)
    # A part deliberately left out, said so the user knows (a FIFO in `scan dir`, a submodule, the
    # history beyond a shallow clone's boundary): the scan of everything else is complete.
    warnings: list[str] = field(default_factory=list)


def occurrence_order(o: Occurrence) -> tuple:
    return (o.committed_at or "", o.repo or "", o.path or "", o.line or 0, o.commit or "")
