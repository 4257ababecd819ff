"""Matching engine: find candidate regions fast, then confirm and capture with `regex`.

Two interchangeable candidate finders feed the same confirmation step, so they give the same
findings:
- `hyperscan`: one Hyperscan database over every rule's pattern (compiled in prefilter mode, so
  constructs Hyperscan lacks are widened, never narrowed). Every end offset of a possible match is
  reported; the rule's own regex then runs only in a window around it.
- `regex`: the rules one of whose keywords occurs in the lower-cased content (all keywords found in
  one pass, keywords.py) are worth running; the rule's regex then runs over the whole content.
A rule whose pattern has no bounded width is confirmed over the whole content by both.

After confirmation, both backends share the same steps: each match goes through its rule's
enricher, checksum, entropy and allowlist filters (the placeholder filter is the global allowlists
of rules/placeholders.toml); base64 runs that decode to text are
scanned again (decode.py) with the start of their line as context; a match whose secret another
match of a preferred rule covers at the same place is dropped (a `fallback` rule yields to a
specific one, e.g. a PEM key inside a GCP service-account file, or a bearer token that is a
provider's API key); and secrets are joined to the identifiers their rules name (`key_id_rule`).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from re import _parser as sre_parse  # the stdlib parser gives pattern widths
from typing import Iterable, Iterator, Literal

from keysweep import providers
from keysweep.cache import cache_dir, read_trusted, write_private
from keysweep.fingerprint import shannon_entropy
from keysweep.models import Match
from keysweep.providers.candidate import Candidate
from keysweep.scanner import decode
from keysweep.scanner.keywords import KeywordIndex
from keysweep.scanner.rules import Rule
from keysweep.scanner.sources import BINARY_SNIFF
from keysweep.scanner.unescape import ESCAPE_PATTERN, EscapedLines, View, unescaped_view
from keysweep.scanner.wide import WideText, decode_wide

Backend = Literal["auto", "hyperscan", "regex"]
ALLOW_MARKERS = (b"keysweep:allow", b"gitleaks:allow")
MAX_WINDOW = 4096
# Context kept after a window so that \b and lookaheads at its end see the real next characters.
TAIL_SLACK = 256
FULL = None
# Base64 inside base64 (a Docker config's `auth` inside a Kubernetes Secret) is decoded once more.
MAX_DECODE_DEPTH = 2
# Bytes of the encoded value's line, before it, scanned with the decoded text: the variable name
# (`SERVICE_API_KEY: <base64>`) that context-bound rules need.
DECODE_CONTEXT = 200
CONFIDENCE_RANK = {"high": 0, "medium": 1, "low": 2}
# Between pieces `may_match` asks about together: blank lines, as between commit messages.
MAY_MATCH_GAP = b"\n" * 16
DECODE_GATE = 2**31 - 1  # Hyperscan id of the decode gate's literals (never a rule index)
ESCAPE_GATE = 2**31 - 2  # Hyperscan id of the escape pattern (unescape.py): its hits are where escapes end
# Hyperscan id of the decode gate's context keywords (`SERVICE_API_KEY: <base64>`): every hit is
# reported, so only the lines holding one are searched for base64 values when no encoded literal
# opened the whole content (`together` is an English word: most content holding it holds no value).
CONTEXT_GATE = 2**31 - 3
GATES = (DECODE_GATE, ESCAPE_GATE, CONTEXT_GATE)
RESERVED_GROUPS = ("secret", "key_id")
# CPU seconds one regex step may take (the `regex` module's `timeout` counts process time, so a
# loaded machine does not trip it). A rule from a third party can backtrack catastrophically
# (`(a|aa)+b` on a run of `a`s): past this it is stopped for that content and reported, and the
# scan goes on. Legitimate confirmations take microseconds in a window and well under a second
# over a 10 MB file.
CONFIRM_TIMEOUT = 2.0


class CompiledAllowlist:
    __slots__ = ("regexes", "target", "stopwords", "all_of", "timeout")

    def __init__(self, allowlist, timeout: float | None = CONFIRM_TIMEOUT) -> None:
        import regex

        self.regexes = tuple(regex.compile(p.encode()) for p in allowlist.regexes)
        self.target = allowlist.regex_target
        self.stopwords = allowlist.stopwords
        self.all_of = allowlist.condition == "and"
        self.timeout = timeout

    def allows(self, secret: str, match: bytes, line: bytes, key_id: str | None = None) -> bool:
        """Whether this allowlist drops the match. Target `credential` is the secret and, when the
        match carries one, its key id, each on its own (stopwords too): a documentation key id
        makes the pair it belongs to documentation."""
        values = [secret] if self.target != "credential" or not key_id else [secret, key_id]
        if self.target in ("secret", "credential"):
            subjects = [value.encode("utf-8", "surrogateescape") for value in values]
        else:
            subjects = [match if self.target == "match" else line]
        results = []
        if self.regexes:
            results.append(any(p.search(subject, timeout=self.timeout) for p in self.regexes for subject in subjects))
        if self.stopwords:
            lowered = [value.lower() for value in values]
            results.append(any(word in value for word in self.stopwords for value in lowered))
        if not results:
            return False
        return all(results) if self.all_of else any(results)


class CompiledRule:
    """A rule ready to match; its pattern is compiled on first use."""

    __slots__ = ("rule", "keywords", "order", "timeout", "_pattern", "_width", "_extra_groups", "_allowlists",
                 "_check", "_enricher")

    def __init__(self, rule: Rule, order: int = 0, timeout: float | None = CONFIRM_TIMEOUT) -> None:
        self.rule = rule
        self.keywords = tuple(k.lower().encode() for k in rule.keywords)
        self.order = order  # position in the rule set: the earlier rule wins a tie
        self.timeout = timeout
        self._pattern = None
        self._width: int | None | bool = False
        self._extra_groups: tuple[str, ...] | None = None
        self._allowlists: tuple[CompiledAllowlist, ...] | None = None
        self._check = self._enricher = None

    @property
    def check(self):
        """The rule's offline check (its `checksum` field), loaded on the rule's first candidate."""
        if self._check is None:
            self._check = providers.check(self.rule.checksum, self.rule.provider)
        return self._check

    @property
    def enricher(self):
        """The rule's enricher (its `enrich` field), loaded on the rule's first candidate."""
        if self._enricher is None:
            self._enricher = providers.enricher(self.rule.enrich, self.rule.provider)
        return self._enricher

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

    @property
    def extra_groups(self) -> tuple[str, ...]:
        """Named groups besides `secret` and `key_id`: their values become match metadata."""
        if self._extra_groups is None:
            self._extra_groups = tuple(name for name in self.pattern.groupindex if name not in RESERVED_GROUPS)
        return self._extra_groups

    @property
    def allowlists(self) -> tuple[CompiledAllowlist, ...]:
        if self._allowlists is None:
            self._allowlists = tuple(CompiledAllowlist(a, self.timeout) for a in self.rule.allowlists)
        return self._allowlists


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


class DecodeFilter:
    """Which decoded base64 values are worth scanning, decided the same way by both backends.

    A decoded value is scanned when it holds a rule keyword in a case a key or variable is written
    in (as is, UPPER, Capitalised, Title; and the rule's literal prefix), holds the base64 of a
    token prefix (a value encoded twice), or when its line, before it, holds a keyword of a rule
    that reads its context there (`SERVICE_API_KEY: <base64>`). A rule without keywords makes every value worth
    scanning. With Hyperscan, `hyperscan_gate` answers for a whole content at literal speed whether
    any of its values can qualify, so most content never has its base64 runs looked for: it holds
    the base64 spellings (every alignment) of those keywords, their double encodings, and the
    context keywords.
    """

    NESTED_MIN = 4  # encoded prefix fragments this long are also looked for, twice encoded

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.everything = any(not c.keywords for c in rules)
        variants: set[bytes] = set()
        prefixes: set[bytes] = set()
        context: set[bytes] = set()
        for compiled in rules:
            rule = compiled.rule
            for keyword in rule.keywords:
                variants.update(v.encode() for v in (keyword, keyword.upper(), keyword.capitalize(), keyword.title()))
            if rule.prefix:
                prefixes.add(rule.prefix.encode())
            if not rule.fallback and not _secret_first(rule.regex):
                context.update(compiled.keywords)
        variants |= prefixes
        self.variants = tuple(sorted(variants))
        self.encoded = {f for v in variants for f in decode.encoded_fragments(v)}
        # Twice-encoded values (a Docker `auth` inside a Secret) are looked for by token prefix.
        self.nested = tuple(sorted(f for p in prefixes for f in decode.encoded_fragments(p) if len(f) >= self.NESTED_MIN))
        self.twice_encoded = {f for n in self.nested for f in decode.encoded_fragments(n)}
        self.context = tuple(sorted(context))

    def wants(self, prefix: bytes, text: bytes) -> bool:
        if self.everything:
            return True
        if any(v in text for v in self.variants) or any(f in text for f in self.nested):
            return True
        lowered = prefix.lower()
        return any(k in lowered for k in self.context)

    def gate_literals(self) -> list[tuple[bytes, bool]] | None:
        """(literal, context) pairs: content holding none of them holds no value worth scanning.
        Encoded literals (`context` false, case-sensitive) may be anywhere in a value worth
        scanning; a context keyword (caseless) lies before it on its line. None when every value
        is worth scanning (a rule without keywords)."""
        if self.everything:
            return None
        return ([(f, False) for f in sorted(self.encoded | self.twice_encoded)]
                + [(k, True) for k in self.context])


_SECRET_FIRST = re.compile(r"(?:\(\?:\(\?<=[^()]*\)\|\(\?<![^()]*\)\)|\(\?<![^()]*\))?\(\?P<secret>")


def _secret_first(pattern: str) -> bool:
    """Whether the pattern starts with its secret (after a boundary assertion): such a rule takes
    no context from before the value."""
    return _SECRET_FIRST.match(pattern) is not None


class Engine:
    """Compiled rule set. `scan(content)` returns confirmed matches, in content order."""

    def __init__(self, rules: Iterable[Rule], backend: Backend = "auto", decode_base64: bool = True,
                 confirm_timeout: float | None = CONFIRM_TIMEOUT) -> None:
        self.rules = [CompiledRule(rule, order, confirm_timeout) for order, rule in enumerate(rules)]
        self.confirm_timeout = confirm_timeout
        self.by_id = {c.rule.id: c for c in self.rules}
        self.decode_base64 = decode_base64
        self._id_rules = {c.rule.key_id_rule for c in self.rules if c.rule.key_id_rule}
        self._keyword_index: KeywordIndex | None = None  # built on first use: Hyperscan needs none
        if backend == "auto":
            backend = "hyperscan" if hyperscan_available() else "regex"
        self.backend = backend
        self._decodable = DecodeFilter(self.rules) if decode_base64 else None
        gate = self._decodable.gate_literals() if self._decodable is not None and backend == "hyperscan" else None
        self._hs = _HyperscanIndex(self.rules, gate) if backend == "hyperscan" else None
        self._gated = gate is not None
        self._escaped_lines = EscapedLines()
        self.suppressed_inline = 0
        # Ids of the rules stopped by the time limit in the last `scan` (their other matches in
        # that content are kept; the caller reports the content as partly scanned).
        self.timed_out: list[str] = []

    # -- candidates ---------------------------------------------------------------------------
    def _candidates_regex(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        """Every rule one of whose keywords occurs in the content (case folded), and every rule
        without keywords; all keywords are looked for in one pass (keywords.py)."""
        if self._keyword_index is None:
            self._keyword_index = KeywordIndex(k for c in self.rules for k in c.keywords)
            self._rules_of_keyword: dict[bytes, list[int]] = {}
            for index, compiled in enumerate(self.rules):
                for keyword in set(compiled.keywords):
                    self._rules_of_keyword.setdefault(keyword, []).append(index)
            self._keywordless = [index for index, compiled in enumerate(self.rules) if not compiled.keywords]
        present = self._keyword_index.present(content.lower())
        selected = set(self._keywordless)
        for keyword in present:
            selected.update(self._rules_of_keyword[keyword])
        return dict.fromkeys(sorted(selected), FULL)

    def may_match(self, pieces: list[bytes], group: int = 64) -> list[bool]:
        """For each piece, whether a `scan` could find anything in it: False only when Hyperscan
        finds none of the rules' patterns or keywords, no decode-gate literal and no escape there
        (then `scan` finds nothing, for certain). Many small pieces (commit messages) are asked
        `group` at a time, joined by blank lines; a group that shows a hit is halved until each
        piece is asked alone: a few passes over pieces that mostly hold nothing. Without
        Hyperscan, with a rule that runs on everything, or for a piece holding a NUL byte (it may
        be UTF-16), every piece may."""
        if self._hs is None or self._hs.always_full or not self._gated:
            return [True] * len(pieces)
        answers = [False] * len(pieces)

        def ask(low: int, high: int) -> None:
            part = pieces[low:high]
            joined = MAY_MATCH_GAP + MAY_MATCH_GAP.join(part) + MAY_MATCH_GAP
            if b"\0" in joined and high - low == 1:
                answers[low] = True
            elif b"\0" in joined or self._hs.scan(joined):
                if high - low == 1:
                    answers[low] = True
                else:
                    middle = (low + high) // 2
                    ask(low, middle)
                    ask(middle, high)

        for low in range(0, len(pieces), group):
            ask(low, min(low + group, len(pieces)))
        return answers

    def candidates(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        """Rule index -> merged (start, end) windows to confirm in, or FULL for the whole content."""
        selected = self._candidates(content)
        for gate in GATES:
            selected.pop(gate, None)
        return selected

    def _candidates(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        """Rule index -> windows; with Hyperscan, DECODE_GATE is in it when the same pass found
        a literal of the decode gate (see DecodeFilter)."""
        if self._hs is None:
            return self._candidates_regex(content)
        selected = self._hs.scan(content)
        # A rule runs only where one of its keywords occurs, as in the regex backend: otherwise a
        # pattern that can match without any keyword (`secret_access-key = …`) makes them disagree.
        lowered: bytes | None = None
        for index in [i for i in selected if i not in GATES and self.rules[i].keywords]:
            if lowered is None:
                lowered = content.lower()
            if not any(k in lowered for k in self.rules[index].keywords):
                del selected[index]
        return selected

    # -- confirmation -------------------------------------------------------------------------
    def scan(self, content: bytes, *, keep_allowed: bool = False, wide_as: tuple[str, int] | None = None) -> list[Match]:
        """Matches in `content`. A match on a line with an allow marker has `allowed_by` set and is
        counted in `suppressed_inline`; it is returned only with `keep_allowed` (the scan stage
        records it as a suppressed occurrence). `wide_as` (encoding, byte-order mark length) says
        the content is UTF-16/32 text instead of letting its first bytes tell (a window of a large
        file whose start told)."""
        self.timed_out = []
        if wide_as is not None:
            wide = decode_wide(content, wide_as)
        else:
            wide = decode_wide(content) if content.find(b"\0", 0, BINARY_SNIFF) >= 0 else None
        matches = self._scan(content if wide is None else wide.utf8, 0)
        if wide is not None and matches:
            matches = _from_wide(wide, matches)
        allowed = sum(1 for m in matches if m.allowed_by)
        if not allowed:
            return matches
        self.suppressed_inline += allowed
        return matches if keep_allowed else [m for m in matches if not m.allowed_by]

    def _scan(self, content: bytes, depth: int) -> list[Match]:
        matches, escape_ends = self._found(content, depth)
        view = self._unescaped(content, escape_ends, depth)
        if view is not None:
            matches = self._with_unescaped(content, view, matches, depth)
        # Allowed matches are settled apart: an allowed line neither hides nor absorbs (as a key
        # id) a match the scan reports, exactly as when allowed matches were dropped here.
        reported = self._settled([m for m in matches if not m.allowed_by])
        allowed = [m for m in matches if m.allowed_by]
        if allowed:
            reported.extend(self._settled(allowed))
            reported.sort(key=lambda m: (m.start, m.rule_id))
        return reported

    def _unescaped(self, content: bytes, escape_ends: list[int] | None, depth: int) -> View | None:
        """The unescaped view of `content`, when it can show a match. Placing matches needs each
        escape located and mapped back (costly in Python); whether the view shows any match at all
        is asked first of the same lines decoded without the map (each line decoded once per run,
        `EscapedLines`), so content whose escapes sit away from any key (URLs in tests, HTML) pays
        one more pass over those lines, or nothing when the same lines showed nothing before."""
        if escape_ends == []:
            return None
        if escape_ends is not None:
            text = self._escaped_lines.text(content, escape_ends)
            if not text or self._escaped_lines.quiet(depth, text):
                return None
            if not self._found(text, depth)[0]:
                self._escaped_lines.remember_quiet(depth, text)
                return None
        return unescaped_view(content, escape_ends)

    def _found(self, content: bytes, depth: int) -> tuple[list[Match], list[int] | None]:
        """Confirmed matches in `content` and in the base64 values it holds, not yet settled; and
        the offsets where an escape may end (Hyperscan reports them in the same pass; None with
        the regex backend, for unescape.py to look itself)."""
        candidates = self._candidates(content)
        gate_open = not self._gated or DECODE_GATE in candidates
        escape_ends = None if self._hs is None else (candidates.pop(ESCAPE_GATE, None) or [])
        context_ends = candidates.pop(CONTEXT_GATE, None)
        candidates.pop(DECODE_GATE, None)
        matches = self._confirmed(content, candidates)
        if self._decodable is not None and depth < MAX_DECODE_DEPTH:
            if gate_open:
                matches.extend(self._scan_decoded(content, depth))
            elif context_ends:
                # No encoded literal: a value can only be worth scanning for a context keyword
                # before it on its line, so only those lines are searched.
                matches.extend(self._scan_decoded(content, depth, _lines_holding(content, context_ends)))
        return matches, escape_ends

    def _with_unescaped(self, content: bytes, view: View, matches: list[Match], depth: int) -> list[Match]:
        """`matches` plus those the unescaped lines show at an escape (a key after `%3D`, an AWS
        secret holding `%2F`, a key after a colour code), placed at their original offsets. A
        match of the content itself that runs into an escape where the unescaped view found a
        key (`mAIza…` after `[1;32`) is the escape misread as part of a key: it is dropped."""
        found = [m for m in self._found(view.text, depth)[0] if view.touches_escape(m.start, m.end)]
        if not found:
            return matches
        placed: list[Match] = []
        for match in found:
            start, end = view.original_start(match.start), view.original_end(match.end)
            line_start = content.rfind(b"\n", 0, start) + 1
            line_end = content.find(b"\n", start)
            placed.append(Match(**{
                **_asdict(match), "start": start, "end": end, "line": content.count(b"\n", 0, start) + 1,
                "decoded_from": match.decoded_from or view.decoded_inside(match.start, match.end),
                "allowed_by": allow_marker(content[line_start: line_end if line_end != -1 else len(content)]),
            }))
        # A rule that reads the escapes itself (Slack's URL-encoded xoxd- cookie) matched the very
        # same bytes: that match stands, as written there; the decoded one is not a second finding.
        as_written = {(m.rule_id, m.start, m.end) for m in matches}
        placed = [p for p in placed if (p.rule_id, p.start, p.end) not in as_written]
        if not placed:
            return matches

        def misread(match: Match) -> bool:
            return (any(e.start < match.end and match.start < e.end for e in view.escapes)
                    and any(p.start < match.end and match.start < p.end for p in placed))

        return [m for m in matches if not misread(m)] + placed

    def _settled(self, matches: list[Match]) -> list[Match]:
        matches = self._without_overlaps(matches)
        matches.sort(key=lambda m: (m.start, m.rule_id))
        return self._pair_key_ids(matches)

    def _confirmed(self, content: bytes, candidates: dict[int, list[tuple[int, int]] | None]) -> list[Match]:
        matches: list[Match] = []
        for index, windows in candidates.items():
            compiled = self.rules[index]
            try:
                matches.extend(self._confirmed_rule(compiled, content, windows))
            except TimeoutError:
                # One slow window means the rule is stopped for the whole content: a thousand
                # windows of a catastrophic pattern must not cost a thousand time limits.
                if compiled.rule.id not in self.timed_out:
                    self.timed_out.append(compiled.rule.id)
        return matches

    def _confirmed_rule(self, compiled: CompiledRule, content: bytes,
                        windows: list[tuple[int, int]] | None) -> Iterator[Match]:
        """One rule's confirmed matches (raises TimeoutError past the time limit; matches already
        yielded stand)."""
        length = len(content)
        timeout = compiled.timeout
        seen_spans: set[tuple[int, int]] = set()
        if windows is FULL:
            ranges = [(0, length, length)]
        else:
            ranges = [(low, min(length, high + TAIL_SLACK), length if high + TAIL_SLACK >= length else high)
                      for low, high in windows]
        for low, high, limit in ranges:
            for found in compiled.pattern.finditer(content, low, high, timeout=timeout):
                if found.end() > limit:
                    break
                span = found.span("secret")
                if span in seen_spans or span[0] < 0:
                    continue
                seen_spans.add(span)
                match = self._confirm(compiled, found, content)
                if match is not None:
                    yield match

    def _confirm(self, compiled: CompiledRule, found, content: bytes) -> Match | None:
        rule = compiled.rule
        raw = found.group("secret")
        if not raw:
            return None
        secret = raw.decode("utf-8", "surrogateescape")
        start, end = found.span("secret")
        key_id = None
        if "key_id" in found.re.groupindex and found.group("key_id"):
            key_id = found.group("key_id").decode("ascii", "replace")
        metadata = {name: found.group(name).decode("utf-8", "replace")
                    for name in compiled.extra_groups if found.group(name)}
        if rule.enrich:
            enriched = compiled.enricher(Candidate(secret, key_id, content, start, end, dict(metadata)))
            if enriched is None:
                return None
            secret, key_id = enriched.secret, enriched.key_id
            metadata.update(enriched.metadata)
        if rule.checksum and not compiled.check(secret):
            return None
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            return None
        line_start = content.rfind(b"\n", 0, start) + 1
        line_end = content.find(b"\n", end)
        line_text = content[line_start: line_end if line_end != -1 else len(content)]
        if compiled.allowlists and any(a.allows(secret, found.group(0), line_text, key_id)
                                       for a in compiled.allowlists):
            return None
        return Match(
            rule_id=rule.id,
            provider=rule.provider,
            secret=secret,
            start=start,
            end=end,
            line=content.count(b"\n", 0, start) + 1,
            key_id=key_id,
            metadata=metadata or None,
            allowed_by=allow_marker(line_text),
        )

    def _scan_decoded(self, content: bytes, depth: int, lines: list[tuple[int, int]] | None = None) -> list[Match]:
        """Matches inside base64 values that decode to text (values starting on one of `lines`,
        (start, end) spans, when given). The decoded text is scanned after the part of its line
        that precedes it (so `KEY: <base64>` keeps its variable name); a match reports the
        encoded run's place and `decoded_from="base64"`."""
        found: list[Match] = []
        values = decode.decoded_values(content) if lines is None else (
            value for low, high in lines for value in decode.decoded_values(content, low, high))
        for value in values:
            line_start = content.rfind(b"\n", 0, value.start) + 1
            prefix = content[max(line_start, value.start - DECODE_CONTEXT): value.start]
            if not self._decodable.wants(prefix, value.text):
                continue
            line_end = content.find(b"\n", value.start)
            line_text = content[line_start: line_end if line_end != -1 else len(content)]
            allowed = allow_marker(line_text)
            line = content.count(b"\n", 0, value.start) + 1
            for inner in self._scan(prefix + value.text, depth + 1):
                if inner.start < len(prefix) and inner.decoded_from is None:
                    continue  # in the original text: the plain scan reports it
                found.append(Match(**{**_asdict(inner), "start": value.start, "end": value.end, "line": line,
                                      "decoded_from": "base64", "allowed_by": allowed or inner.allowed_by}))
        return found

    def _without_overlaps(self, matches: list[Match]) -> list[Match]:
        """One match per secret and place: when two matches overlap and hold the same (normalised)
        secret, keep the preferred rule's (specific before fallback, higher confidence, earlier)."""
        if len(matches) < 2:
            return matches

        def preference(match: Match) -> tuple:
            compiled = self.by_id[match.rule_id]
            return (compiled.rule.fallback, CONFIDENCE_RANK[compiled.rule.confidence], compiled.order, match.start)

        kept: dict[str, list[Match]] = {}
        for match in sorted(matches, key=preference):
            same = kept.setdefault(match.secret, [])
            if any(other.start < match.end and match.start < other.end for other in same):
                continue
            same.append(match)
        return [match for group in kept.values() for match in group]

    def _pair_key_ids(self, matches: list[Match]) -> list[Match]:
        """Join a secret to the nearest identifier its rule names (AWS secret ↔ access key id);
        an identifier joined to a secret, or already carried by one (an `AKIA…,secret` CSV row),
        is then part of that finding, not one of its own. The identifier's metadata (the decoded
        account id) moves to the secret's finding. When other identifiers were in reach too, the
        secret's metadata says how many (`key_id_candidates`): the nearest is then a guess, which
        no verdict about the secret may rest on alone (providers/aws.py)."""
        if not self._id_rules or not any(m.rule_id in self._id_rules for m in matches):
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
                    candidates = len({found.secret for _d, _i, found in near})
                    choice = {"key_id_candidates": str(candidates)} if candidates > 1 else {}
                    metadata = {**(other.metadata or {}), **(match.metadata or {}), **choice} or None
                    match = Match(**{**_asdict(match), "key_id": other.secret, "metadata": metadata})
            paired.append(match)
        carried = {m.key_id for m in paired if m.key_id and m.rule_id not in self._id_rules}
        return [m for i, m in enumerate(paired)
                if i not in consumed and not (m.rule_id in self._id_rules and m.secret in carried)]


def _lines_holding(content: bytes, ends: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each line holding one of the offsets `ends` (where a keyword ends), once."""
    spans: list[tuple[int, int]] = []
    for end in sorted(ends):
        if spans and end <= spans[-1][1]:
            continue
        start = content.rfind(b"\n", 0, max(end - 1, 0)) + 1
        stop = content.find(b"\n", max(end - 1, 0))
        spans.append((start, len(content) if stop < 0 else stop))
    return spans


def _from_wide(wide: WideText, matches: list[Match]) -> list[Match]:
    """Matches found in the UTF-8 form of UTF-16/32 text, at their offsets in the original bytes
    (lines are the same). The value is written in that encoding there."""
    offsets = wide.offsets({m.start for m in matches} | {m.end for m in matches})
    return [Match(**{**_asdict(m), "start": offsets[m.start], "end": offsets[m.end],
                     "decoded_from": m.decoded_from or wide.encoding}) for m in matches]


def allow_marker(line: bytes) -> str | None:
    """The allow marker on a line, if any: a person accepted what this line holds."""
    for marker in ALLOW_MARKERS:
        if marker in line:
            return marker.decode()
    return None


def _asdict(match: Match) -> dict:
    return {name: getattr(match, name) for name in Match.__slots__}


def hyperscan_expression(pattern: str) -> bytes:
    """Hyperscan has no named groups; grouping is all the prefilter needs."""
    return re.sub(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>", "(", pattern).encode()


class _HyperscanIndex:
    def __init__(self, rules: list[CompiledRule], gate: list[tuple[bytes, bool]] | None = None) -> None:
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
        # The decode gate's literals ride in the same pass (literals cost Hyperscan little): the
        # encoded ones open the whole content, the context keywords their lines (every hit).
        for literal, context in gate or ():
            if context:
                entries.append((re.escape(literal), CONTEXT_GATE, hyperscan.HS_FLAG_CASELESS))
            else:
                entries.append((re.escape(literal), DECODE_GATE, hyperscan.HS_FLAG_SINGLEMATCH))
        entries.append((ESCAPE_PATTERN, ESCAPE_GATE, 0))
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
        return self.scan(content)

    def scan(self, content: bytes) -> dict[int, list[tuple[int, int]] | None]:
        selected: dict[int, list[tuple[int, int]] | None] = {i: FULL for i in self.always_full}
        if self.db is None or not content:
            return selected
        ends: dict[int, list[int]] = {}

        def on_match(rule_index: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            ends.setdefault(rule_index, []).append(to)

        self.db.scan(content, match_event_handler=on_match)
        if ends.pop(DECODE_GATE, None) is not None:
            selected[DECODE_GATE] = FULL
        context_ends = ends.pop(CONTEXT_GATE, None)
        if context_ends is not None:
            selected[CONTEXT_GATE] = context_ends  # where a context keyword ends
        escape_ends = ends.pop(ESCAPE_GATE, None)
        if escape_ends is not None:
            selected[ESCAPE_GATE] = escape_ends  # where an escape ends, not windows
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


def _load_or_compile(hyperscan, entries: list[tuple[bytes, int, int]], on_reject) -> object:
    """Compile the database, or load it from the cache: compiling the whole catalogue costs far
    more than scanning a pre-commit change. A pattern Hyperscan rejects falls back to keywords."""
    for _ in range(len(entries) + 1):
        digest = hashlib.sha256(repr((hyperscan_version(hyperscan), entries)).encode()).hexdigest()[:32]
        cached = cache_dir() / f"hs-{digest}.db"
        # Native data that C code deserialises: only from a file this user owns and no one else
        # can write (keysweep.cache); anything else is compiled afresh.
        serialized = read_trusted(cached)
        if serialized is not None:
            try:
                # loadb needs the mode, and a deserialised database needs its own scratch space.
                loaded = hyperscan.loadb(serialized, hyperscan.HS_MODE_BLOCK)
                loaded.scratch = hyperscan.Scratch(loaded)
                return loaded
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
            write_private(cached, hyperscan.dumpb(db))
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
