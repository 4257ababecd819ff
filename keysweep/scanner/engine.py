"""Matching engine: find candidate regions fast, then confirm and capture with `regex`.

Two interchangeable candidate finders feed the same confirmation step, so they give the same
findings:
- `hyperscan`: one Hyperscan database over every rule's pattern (compiled in prefilter mode, so
  constructs Hyperscan lacks are widened, never narrowed). Every end offset of a possible match is
  reported; the rule's own regex then runs only in a window around it.
- `regex`: a literal keyword check on the lower-cased content selects the rules worth running; the
  rule's regex then runs over the whole content.
A rule whose pattern has no bounded width is confirmed over the whole content by both.
"""

from __future__ import annotations

from re import _parser as sre_parse  # the stdlib parser gives pattern widths
import warnings
import hashlib
import os
import re
from pathlib import Path
from typing import Iterable, Literal

from keysweep.detectors import CHECKS
from keysweep.detectors.placeholders import is_placeholder
from keysweep.fingerprint import shannon_entropy
from keysweep.scanner.models import Match
from keysweep.scanner.rules import Rule

Backend = Literal["auto", "hyperscan", "regex"]
ALLOW_MARKERS = (b"keysweep:allow", b"gitleaks:allow")
MAX_WINDOW = 4096
# Context kept after a window so that \b and lookaheads at its end see the real next characters.
TAIL_SLACK = 256
FULL = None


class CompiledRule:
    """A rule ready to match; its pattern is compiled on first use."""

    __slots__ = ("rule", "keywords", "_pattern", "_width")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.keywords = tuple(k.lower().encode() for k in rule.keywords)
        self._pattern = None
        self._width: int | None | bool = False

    @property
    def pattern(self):
        if self._pattern is None:
            import regex

            self._pattern = regex.compile(self.rule.regex.encode())
        return self._pattern

    @property
    def width(self) -> int | None:
        """Longest possible match, when bounded and small."""
        if self._width is False:
            self._width = _max_width(self.rule.regex)
        return self._width


def _max_width(pattern: str) -> int | None:
    """Upper bound on match length, from the stdlib parser; None when unbounded or unparseable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, high = sre_parse.parse(pattern).getwidth()
    except Exception:
        return None
    return high if high <= MAX_WINDOW else None


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


class Engine:
    """Compiled rule set. `scan(content)` returns confirmed matches, in content order."""

    def __init__(self, rules: Iterable[Rule], backend: Backend = "auto") -> None:
        self.rules = [CompiledRule(rule) for rule in rules]
        self.by_id = {c.rule.id: c for c in self.rules}
        if backend == "auto":
            backend = "hyperscan" if hyperscan_available() else "regex"
        self.backend = backend
        self._hs = _HyperscanIndex(self.rules) if backend == "hyperscan" else None
        self.suppressed_inline = 0

    # -- candidates ---------------------------------------------------------------------------
    def _candidates_regex(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        lowered = content.lower()
        selected: dict[int, list[tuple[int, int]] | None] = {}
        for index, compiled in enumerate(self.rules):
            if not compiled.keywords or any(k in lowered for k in compiled.keywords):
                selected[index] = FULL
        return selected

    def candidates(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        """Rule index -> merged (start, end) windows to confirm in, or FULL for the whole content."""
        if self._hs is None:
            return self._candidates_regex(content)
        return self._hs.candidates(content)

    # -- confirmation -------------------------------------------------------------------------
    def scan(self, content: bytes) -> list[Match]:
        matches: list[Match] = []
        length = len(content)
        for index, windows in self.candidates(content).items():
            compiled = self.rules[index]
            seen_spans: set[tuple[int, int]] = set()
            if windows is FULL:
                iterators = [compiled.pattern.finditer(content)]
                limits = [length]
            else:
                iterators, limits = [], []
                for low, high in windows:
                    iterators.append(compiled.pattern.finditer(content, low, min(length, high + TAIL_SLACK)))
                    limits.append(length if high + TAIL_SLACK >= length else high)
            for iterator, limit in zip(iterators, limits):
                for found in iterator:
                    if found.end() > limit:
                        break
                    span = found.span("secret")
                    if span in seen_spans or span[0] < 0:
                        continue
                    seen_spans.add(span)
                    match = self._confirm(compiled, found, content)
                    if match is not None:
                        matches.append(match)
        matches.sort(key=lambda m: (m.start, m.rule_id))
        return self._pair_key_ids(matches)

    def _confirm(self, compiled: CompiledRule, found, content: bytes) -> Match | None:
        rule = compiled.rule
        raw = found.group("secret")
        if not raw:
            return None
        secret = raw.decode("utf-8", "surrogateescape")
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            return None
        if rule.checksum and not CHECKS[rule.checksum](secret):
            return None
        if not rule.allow_placeholders and is_placeholder(secret):
            return None
        start, end = found.span("secret")
        line_start = content.rfind(b"\n", 0, start) + 1
        line_end = content.find(b"\n", end)
        line_text = content[line_start: line_end if line_end != -1 else len(content)]
        if any(marker in line_text for marker in ALLOW_MARKERS):
            self.suppressed_inline += 1
            return None
        key_id = None
        if "key_id" in found.re.groupindex and found.group("key_id"):
            key_id = found.group("key_id").decode("ascii", "replace")
        return Match(
            rule_id=rule.id,
            provider=rule.provider,
            secret=secret,
            start=start,
            end=end,
            line=content.count(b"\n", 0, start) + 1,
            key_id=key_id,
        )

    def _pair_key_ids(self, matches: list[Match]) -> list[Match]:
        """Join a secret to the nearest identifier its rule names (AWS secret ↔ access key id);
        an identifier joined to a secret is then part of that finding, not one of its own."""
        if not any(self.by_id[m.rule_id].rule.key_id_rule for m in matches):
            return matches
        consumed: set[int] = set()
        paired: list[Match] = []
        for match in matches:
            rule = self.by_id[match.rule_id].rule
            if rule.key_id_rule and match.key_id is None:
                near = [
                    (abs(other.start - match.start), i, other)
                    for i, other in enumerate(matches)
                    if other.rule_id == rule.key_id_rule and abs(other.start - match.start) <= rule.key_id_window
                ]
                if near:
                    _, i, other = min(near, key=lambda t: (t[0], t[1]))
                    consumed.add(i)
                    match = Match(**{**_asdict(match), "key_id": other.secret})
            paired.append(match)
        return [m for i, m in enumerate(paired) if i not in consumed]


def _asdict(match: Match) -> dict:
    return {name: getattr(match, name) for name in Match.__slots__}


def hyperscan_expression(pattern: str) -> bytes:
    """Hyperscan has no named groups; grouping is all the prefilter needs."""
    return re.sub(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>", "(", pattern).encode()


class _HyperscanIndex:
    def __init__(self, rules: list[CompiledRule]) -> None:
        import hyperscan

        self.rules = rules
        self.always_full: list[int] = []
        # Rule indices whose hits are keyword literals, not pattern ends: confirm over everything.
        self.keyword_ids: set[int] = set()
        pattern_flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_ALLOWEMPTY
        keyword_flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
        entries: list[tuple[bytes, int, int]] = []
        for index, compiled in enumerate(rules):
            if compiled.width is not None:
                entries.append((hyperscan_expression(compiled.rule.regex), index, pattern_flags))
            else:
                self._use_keywords(index, entries, keyword_flags)
        self.db = _load_or_compile(hyperscan, entries, on_reject=lambda index: self._use_keywords(
            index, entries, keyword_flags)) if entries else None

    def _use_keywords(self, index: int, entries: list[tuple[bytes, int, int]], flags: int) -> None:
        entries[:] = [entry for entry in entries if entry[1] != index]
        if self.rules[index].keywords:
            self.keyword_ids.add(index)
            entries.extend((re.escape(k), index, flags) for k in self.rules[index].keywords)
        else:
            self.always_full.append(index)

    def candidates(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        selected: dict[int, list[tuple[int, int]] | None] = {i: FULL for i in self.always_full}
        if self.db is None or not content:
            return selected
        ends: dict[int, list[int]] = {}

        def on_match(rule_index: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            ends.setdefault(rule_index, []).append(to)

        self.db.scan(content, match_event_handler=on_match)
        for index, offsets in ends.items():
            width = self.rules[index].width
            if index in self.keyword_ids or width is None:
                selected[index] = FULL
                continue
            offsets.sort()
            windows: list[tuple[int, int]] = []
            for end in offsets:
                low, high = max(0, end - 2 * width), end + width
                if windows and low <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], max(windows[-1][1], high))
                else:
                    windows.append((low, high))
            selected[index] = windows
        return selected


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keysweep"


def _load_or_compile(hyperscan, entries: list[tuple[bytes, int, int]], on_reject) -> object:
    """Compile the database, or load it from the cache: compiling the whole catalogue costs far
    more than scanning a pre-commit change. A pattern Hyperscan rejects falls back to keywords."""
    for _ in range(len(entries) + 1):
        digest = hashlib.sha256(repr((hyperscan_version(hyperscan), entries)).encode()).hexdigest()[:32]
        cached = _cache_dir() / f"hs-{digest}.db"
        try:
            return hyperscan.loadb(cached.read_bytes())
        except Exception:
            pass
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            db.compile(expressions=[e for e, _, _ in entries], ids=[i for _, i, _ in entries],
                       elements=len(entries), flags=[f for _, _, f in entries])
        except Exception:
            rejected = _first_rejected(hyperscan, entries)
            if rejected is None:
                raise
            on_reject(rejected)
            continue
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(hyperscan.dumpb(db))
            os.replace(tmp, cached)
        except OSError:
            pass  # an unwritable cache only costs start-up time
        return db
    raise RuntimeError("hyperscan rejected every rule")


def hyperscan_version(hyperscan) -> str:
    return str(getattr(hyperscan, "__version__", "")) + str(getattr(hyperscan, "HS_VERSION", ""))


def _first_rejected(hyperscan, entries: list[tuple[bytes, int, int]]) -> int | None:
    for expression, index, flags in entries:
        try:
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(expressions=[expression], ids=[0], elements=1, flags=[flags])
        except Exception:
            return index
    return None
