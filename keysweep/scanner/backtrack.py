"""Does a rule's pattern backtrack catastrophically? Find out by trying it, briefly.

The `regex` module backtracks: `(a|aa)+b` on forty `a`s takes minutes, and a rule from a third party
(a `--rules` file, a gitleaks config written for RE2, which never backtracks) can hold such a
pattern without anyone noticing. The engine stops any confirmation that passes its time limit
(engine.CONFIRM_TIMEOUT), so a scan never stalls; this check tells a rule's author before that.

Probes are built from the pattern itself: for each place a quantifier can be entered (reached by a
minimal sample of what precedes it) and each character or repeated unit the pattern can consume
there, the probe is that prefix, the unit repeated, then a character that ends the run without
completing a match, which forces the engine to try every way of splitting the run. A pattern that
needs more than PROBE_TIMEOUT of CPU on a probe of a few dozen characters is exponential there:
no legitimate rule comes near it (they answer in microseconds).
"""

from __future__ import annotations

import warnings
from re import _constants as sre_constants  # noqa: F401  (the parser's opcodes, below)
from re import _parser as sre_parse

PROBE_REPEAT = 48  # (a|aa)+b needs ~fib(48) steps here: far past the limit
PROBE_TIMEOUT = 0.25  # CPU seconds per probe
MAX_ENTRY_POINTS = 12
MAX_UNITS = 16
ENDINGS = ("\x00",)  # a byte no continuation takes: the run must be split every way before failing

_CATEGORY_SAMPLES = {
    "CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "a", "CATEGORY_WORD": "a", "CATEGORY_NOT_WORD": "-",
    "CATEGORY_SPACE": " ", "CATEGORY_NOT_SPACE": "a", "CATEGORY_LINEBREAK": "\n", "CATEGORY_NOT_LINEBREAK": "a",
}
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def _class_samples(items) -> list[str]:
    """Characters a character class `[...]` accepts (one per range or category)."""
    samples: list[str] = []
    if items and str(items[0][0]) == "NEGATE":
        return ["a", "-", "0"]  # a negated class accepts nearly anything: try the usual suspects
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            samples.append(chr(value))
        elif name == "RANGE":
            samples.append(chr(value[0]))
        elif name == "CATEGORY":
            samples.append(_CATEGORY_SAMPLES.get(str(value), "a"))
    return samples


def _sample(items) -> str:
    """A short string the parsed sequence matches (its minimal form)."""
    out: list[str] = []
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(value))
        elif name == "NOT_LITERAL":
            out.append("a" if value != ord("a") else "b")
        elif name == "IN":
            out.extend(_class_samples(value)[:1] or ["a"])
        elif name == "ANY":
            out.append("a")
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            out.append(_sample(value[-1]))
        elif name == "BRANCH":
            out.append(_sample(value[1][0]) if value[1] else "")
        elif name in _REPEATS:
            low, _high, body = value
            out.append(_sample(body) * low)
    return "".join(out)


def _alphabet(items, found: dict[str, None]) -> None:
    """Every character the pattern can consume (one per class), in order of appearance."""
    for op, value in items:
        name = str(op)
        if name == "LITERAL":
            found.setdefault(chr(value))
        elif name == "IN":
            for char in _class_samples(value):
                found.setdefault(char)
        elif name == "ANY":
            found.setdefault("a")
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            _alphabet(value[-1], found)
        elif name == "BRANCH":
            for alternative in value[1]:
                _alphabet(alternative, found)
        elif name in _REPEATS:
            _alphabet(value[2], found)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _alphabet(value[1], found)


def _entry_points(items, prefix: str, found: dict[str, None], units: dict[str, None]) -> None:
    """Prefixes that lead the matcher to each quantifier, and each quantifier's body sample."""
    items = list(items)
    for index, (op, value) in enumerate(items):
        name = str(op)
        here = prefix + _sample(items[:index])
        if name in _REPEATS:
            found.setdefault(here)
            body_sample = _sample(value[2])
            if body_sample:
                units.setdefault(body_sample)
            _entry_points(value[2], here, found, units)
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            _entry_points(value[-1], here, found, units)
        elif name == "BRANCH":
            for alternative in value[1]:
                _entry_points(alternative, here, found, units)


def probes(pattern: str) -> list[str]:
    """Strings on which a catastrophically backtracking `pattern` takes exponential time."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = sre_parse.parse(pattern)
    except Exception:
        # Syntax only the `regex` module reads (\p{L}, …): probe with the literal characters.
        letters = dict.fromkeys(c for c in pattern if c.isalnum())
        return [c * PROBE_REPEAT + end for c in list(letters)[:MAX_UNITS] for end in ENDINGS]
    entries: dict[str, None] = {}
    units: dict[str, None] = {}
    _entry_points(parsed, "", entries, units)
    if not entries:
        return []  # no quantifier: nothing to backtrack over
    alphabet: dict[str, None] = {}
    _alphabet(parsed, alphabet)
    for char in alphabet:
        units.setdefault(char)
    chosen_units = [u for u in units if len(u) <= 8][:MAX_UNITS]
    found: list[str] = []
    for entry in list(entries)[:MAX_ENTRY_POINTS]:
        for unit in chosen_units:
            run = unit * max(1, PROBE_REPEAT // len(unit))
            found.extend(entry + run + end for end in ENDINGS)
    return list(dict.fromkeys(found))


def catastrophic_probe(pattern: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """The first probe `pattern` cannot answer within `timeout` CPU seconds, or None."""
    import regex

    compiled = regex.compile(pattern.encode("utf-8", "surrogateescape"))
    for probe in probes(pattern):
        try:
            compiled.search(probe.encode("utf-8", "surrogateescape"), timeout=timeout)
        except TimeoutError:
            return probe
    return None


def describe(probe: str) -> str:
    """A probe as a short, printable description: `'key=' + 'a' x 48 + '\\x00'`."""
    parts: list[str] = []
    literal = ""
    index = 0
    while index < len(probe):
        end = index
        while end < len(probe) and probe[end] == probe[index]:
            end += 1
        if end - index > 3:
            if literal:
                parts.append(repr(literal))
                literal = ""
            parts.append(f"{probe[index]!r} x {end - index}")
        else:
            literal += probe[index:end]
        index = end
    if literal:
        parts.append(repr(literal))
    return " + ".join(parts)[:200]


def backtracking_problem(pattern: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """A one-line reason to reject `pattern`, or None when every probe is answered in time."""
    probe = catastrophic_probe(pattern, timeout)
    if probe is None:
        return None
    return (f"regex backtracks catastrophically (no answer within {timeout:g} s of CPU on {describe(probe)}): "
            "a quantifier over alternatives or groups that can match the same text, such as (a|aa)+ or "
            "(a+)+; make the alternatives exclusive or use an atomic group (?>...) or possessive quantifier")
