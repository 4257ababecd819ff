"""Detection rules as data: load, validate and self-test the TOML rule files.

A rule file holds `[[rules]]` tables and/or `[[global_allowlists]]` tables (filters applied to every
rule that does not set `allow_placeholders`, each with examples that `rules check` runs). Field
reference: docs/rules.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import keysweep
from keysweep import providers
from keysweep.cache import cache_dir, read_trusted, write_private
from keysweep.errors import RuleError
from keysweep.providers import provider
from keysweep.providers.base import Replacement

if TYPE_CHECKING:
    from keysweep.models import Finding

ID_FORMAT = re.compile(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$")
REQUIRED = ("id", "name", "provider", "description", "regex", "examples", "negative_examples")
KNOWN_FIELDS = set(REQUIRED) | {
    "keywords", "entropy", "checksum", "long_lived", "references", "confidence",
    "key_id_rule", "key_id_window", "prefix", "allow_placeholders", "enrich", "fallback", "allowlists",
    "replacement",
}
REPLACEMENT_FIELDS = ("kind", "summary", "docs_url")
ALLOWLIST_FIELDS = {"description", "regexes", "regex_target", "stopwords", "condition", "examples",
                    "negative_examples"}
CONFIDENCE_LEVELS = ("low", "medium", "high")
REGEX_TARGETS = ("secret", "match", "line", "credential")


@dataclass(frozen=True)
class Allowlist:
    """Matches to ignore: any (condition "or") or all (condition "and") of the given criteria hold.

    `regexes` are searched in the secret, the whole regex match, the match's line, or the
    credential: the secret and, when the match carries one, its key id, each apart
    (`regex_target`); `stopwords` are searched (case-insensitively) in the secret, or in the
    secret and its key id for the `credential` target.
    """

    regexes: tuple[str, ...] = ()
    regex_target: str = "secret"
    stopwords: tuple[str, ...] = ()
    condition: str = "or"
    description: str = ""
    # Lines holding a would-be finding this allowlist drops, and lines whose finding it keeps: run
    # by `rules check` (required of a global allowlist, optional on a rule's own).
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    provider: str
    description: str
    regex: str
    keywords: tuple[str, ...] = ()
    entropy: float | None = None
    checksum: str | None = None
    long_lived: bool = True
    references: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    confidence: str = "high"
    key_id_rule: str | None = None
    key_id_window: int = 400
    prefix: str | None = None
    allow_placeholders: bool = False
    enrich: str | None = None
    fallback: bool = False
    allowlists: tuple[Allowlist, ...] = ()
    # The short-lived or narrower credential that should replace one of this kind, when it is not
    # its provider's (providers/<name>.py); `replacement_of` resolves the two.
    replacement: Replacement | None = None
    origin: str = field(default="", compare=False)
    source_format: str = field(default="keysweep", compare=False)

    @property
    def display_prefix(self) -> str:
        """Literal prefix every secret of this rule starts with, shown in redactions."""
        if self.prefix is not None:
            return self.prefix
        return ""


def default_rules_dir() -> Path:
    """Rules shipped in the wheel (keysweep/rules) or, in a source checkout, the top-level rules/."""
    package_dir = Path(__file__).resolve().parent.parent
    installed = package_dir / "rules"
    if installed.is_dir():
        return installed
    return package_dir.parent / "rules"


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1


def _rule_from_table(table: dict[str, Any], path: Path, text: str, validate_patterns: bool = True) -> Rule:
    rule_id = table.get("id")
    where = f"{path}:{_line_of(text, repr(rule_id)[1:-1]) if rule_id else 1}"
    missing = [name for name in REQUIRED if name not in table]
    if missing:
        raise RuleError(f"{where}: rule {rule_id or '?'} is missing {', '.join(missing)}")
    unknown = sorted(set(table) - KNOWN_FIELDS)
    if unknown:
        raise RuleError(f"{where}: rule {rule_id} has unknown field(s) {', '.join(unknown)}")
    if not isinstance(rule_id, str) or not ID_FORMAT.match(rule_id):
        raise RuleError(f"{where}: rule id {rule_id!r} must look like 'provider.kind' (lower case, dots, dashes)")
    for list_field in ("examples", "negative_examples", "keywords", "references"):
        value = table.get(list_field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RuleError(f"{where}: rule {rule_id}: {list_field} must be a list of strings")
    if not table["examples"] or not table["negative_examples"]:
        raise RuleError(f"{where}: rule {rule_id} needs at least one example and one negative example")
    confidence = table.get("confidence", "high")
    if confidence not in CONFIDENCE_LEVELS:
        raise RuleError(f"{where}: rule {rule_id}: confidence must be one of {', '.join(CONFIDENCE_LEVELS)}")
    if validate_patterns:
        check_pattern(table["regex"], f"{where}: rule {rule_id}")
    allowlists = tuple(_allowlist_from_table(entry, f"{where}: rule {rule_id}")
                       for entry in _list_of_tables(table.get("allowlists", []), f"{where}: rule {rule_id}"))
    return Rule(
        id=rule_id,
        name=str(table["name"]),
        provider=str(table["provider"]),
        description=str(table["description"]).strip(),
        regex=table["regex"],
        keywords=tuple(table.get("keywords", ())),
        entropy=float(table["entropy"]) if "entropy" in table else None,
        checksum=table.get("checksum"),
        long_lived=bool(table.get("long_lived", True)),
        references=tuple(table.get("references", ())),
        examples=tuple(table["examples"]),
        negative_examples=tuple(table["negative_examples"]),
        confidence=confidence,
        key_id_rule=table.get("key_id_rule"),
        key_id_window=int(table.get("key_id_window", 400)),
        prefix=table.get("prefix"),
        allow_placeholders=bool(table.get("allow_placeholders", False)),
        enrich=table.get("enrich"),
        fallback=bool(table.get("fallback", False)),
        allowlists=allowlists,
        replacement=_replacement_from_table(table.get("replacement"), f"{where}: rule {rule_id}"),
        origin=str(path),
    )


def _replacement_from_table(value: Any, where: str) -> Replacement | None:
    """A rule's `[rules.replacement]`: kind, summary and docs_url, all non-empty strings."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RuleError(f"{where}: replacement must be a table ([rules.replacement])")
    unknown = sorted(set(value) - set(REPLACEMENT_FIELDS))
    missing = [name for name in REPLACEMENT_FIELDS if not (isinstance(value.get(name), str) and value[name].strip())]
    if unknown or missing:
        raise RuleError(f"{where}: replacement needs kind, summary and docs_url (strings)"
                        + (f"; unknown field(s) {', '.join(unknown)}" if unknown else ""))
    if not value["docs_url"].startswith("https://"):
        raise RuleError(f"{where}: replacement docs_url must be an https:// link")
    return Replacement(kind=value["kind"].strip(), summary=" ".join(value["summary"].split()),
                       docs_url=value["docs_url"].strip())


def _list_of_tables(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RuleError(f"{where}: allowlists must be a list of tables ([[rules.allowlists]])")
    return value


def _allowlist_from_table(entry: dict[str, Any], where: str) -> Allowlist:
    unknown = sorted(set(entry) - ALLOWLIST_FIELDS)
    if unknown:
        raise RuleError(f"{where}: allowlist has unknown field(s) {', '.join(unknown)}")
    target = entry.get("regex_target", "secret")
    if target not in REGEX_TARGETS:
        raise RuleError(f"{where}: allowlist regex_target must be one of {', '.join(REGEX_TARGETS)}")
    condition = str(entry.get("condition", "or")).lower()
    if condition not in ("or", "and"):
        raise RuleError(f"{where}: allowlist condition must be 'or' or 'and'")
    for pattern in entry.get("regexes", []):
        check_pattern(pattern, f"{where}: allowlist", need_secret=False)
    for list_field in ("examples", "negative_examples"):
        value = entry.get(list_field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RuleError(f"{where}: allowlist {list_field} must be a list of strings")
    return Allowlist(regexes=tuple(entry.get("regexes", [])), regex_target=target,
                     stopwords=tuple(str(w).lower() for w in entry.get("stopwords", [])),
                     condition=condition, description=str(entry.get("description", "")),
                     examples=tuple(entry.get("examples", ())),
                     negative_examples=tuple(entry.get("negative_examples", ())))


def _global_allowlists(data: dict[str, Any], path: Path) -> list[Allowlist]:
    """A native file's `[[global_allowlists]]`: each needs a description, examples and negative
    examples, so `rules check` proves what it drops and what it keeps."""
    entries = _list_of_tables(data.get("global_allowlists", []), f"{path}: global_allowlists")
    allowlists = []
    for entry in entries:
        where = f"{path}: global allowlist {entry.get('description', '?')!r}"
        if not entry.get("description") or not entry.get("examples") or not entry.get("negative_examples"):
            raise RuleError(f"{where}: needs a description, examples and negative_examples")
        allowlists.append(_allowlist_from_table(entry, where))
    return allowlists


def check_pattern(pattern: str, where: str, need_secret: bool = True) -> None:
    import regex

    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise RuleError(f"{where}: regex does not compile: {exc}") from None
    if need_secret and "secret" not in compiled.groupindex:
        raise RuleError(f"{where}: regex has no named group 'secret'")


def _parse_toml(text: str) -> dict[str, Any]:
    import tomllib  # noqa: PLC0415  parsed rules are usually cached: most runs never need the parser

    return tomllib.loads(text)


def load_rule_file(path: Path, validate_patterns: bool = True, keep_backtracking: bool = False) -> list[Rule]:
    """The rules of one file. A gitleaks config's rules that backtrack catastrophically are left
    out with a warning, unless `keep_backtracking` (`rules check`, which reports them)."""
    return _load_file(path, validate_patterns, keep_backtracking)[0]


def _load_file(path: Path, validate_patterns: bool = True,
               keep_backtracking: bool = False) -> tuple[list[Rule], list[Allowlist]]:
    """The rules and the global allowlists of one file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read rule file: {exc}") from None
    try:
        data = _parse_toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise RuleError(f"{path}: malformed TOML: {exc}") from None
    # gitleaks_format builds this module's Rule records (an import cycle), and most runs never need it.
    from keysweep.scanner import gitleaks_format  # noqa: PLC0415

    if gitleaks_format.is_gitleaks_config(data):
        return gitleaks_format.convert(data, path, text, keep_backtracking), []
    globals_ = _global_allowlists(data, path)
    tables = data.get("rules", [])
    if not isinstance(tables, list) or not (tables or globals_):
        raise RuleError(f"{path}: no [[rules]] tables")
    return [_rule_from_table(table, path, text, validate_patterns) for table in tables], globals_


def rule_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.toml")))
        elif path.is_file():
            found.append(path)
        else:
            raise RuleError(f"{path}: no such rule file or folder")
    return found


def load_rules(extra: Iterable[Path] = (), include_default: bool = True, validate_shipped: bool = False,
               keep_backtracking: bool = False) -> list[Rule]:
    """Shipped rules plus the user's; rejects duplicate ids and dangling references.

    Users' patterns are compiled here so a broken one fails with its file and line. The shipped
    ones are compiled by the test suite and `rules check`, and lazily by the engine, which keeps a
    pre-commit run from compiling patterns whose keywords never occur."""
    rules: list[Rule] = []
    globals_: list[Allowlist] = []
    if include_default:
        shipped = rule_files([default_rules_dir()])
        cached = None if validate_shipped else _cached_rules(shipped)
        if cached is None:
            loaded = [_load_file(path, validate_patterns=validate_shipped) for path in shipped]
            cached = ([rule for file_rules, _ in loaded for rule in file_rules],
                      [entry for _, file_globals in loaded for entry in file_globals])
            validate_names(cached[0])  # what is cached was checked: a cached set loads no provider module
            _cache_rules(shipped, *cached)
        rules.extend(cached[0])
        globals_.extend(cached[1])
    users: list[Rule] = []
    for path in rule_files(extra):
        file_rules, file_globals = _load_file(path, keep_backtracking=keep_backtracking)
        users.extend(file_rules)
        globals_.extend(file_globals)
    rules = with_global_allowlists(rules + users, globals_)
    validate_rule_set(rules, named=users)
    return rules


def with_global_allowlists(rules: list[Rule], allowlists: list[Allowlist]) -> list[Rule]:
    """Every rule that takes the placeholder filter also takes the global allowlists (after its own)."""
    if not allowlists:
        return rules
    extra = tuple(allowlists)
    return [rule if rule.allow_placeholders else replace(rule, allowlists=rule.allowlists + extra)
            for rule in rules]


def _rules_cache_path(paths: list[Path]) -> Path | None:
    """Parsing two dozen TOML files is most of a pre-commit run's own work, so the parsed shipped
    rules are cached, keyed by each file's path, size and modification time."""
    try:
        stamp = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    except OSError:
        return None
    digest = hashlib.sha256(repr((RULES_CACHE_VERSION, stamp)).encode()).hexdigest()[:24]
    return cache_dir() / f"rules-{digest}.json"


# Bump when the Rule record changes shape (a cache of the old shape is then never read).
RULES_CACHE_VERSION = 4
_SEQUENCE_FIELDS = ("keywords", "references", "examples", "negative_examples")
_ALLOWLIST_SEQUENCES = ("regexes", "stopwords", "examples", "negative_examples")
_RULE_FIELD_NAMES = frozenset(Rule.__dataclass_fields__)


def rule_to_plain(rule: Rule) -> dict[str, Any]:
    """The rule as JSON-ready plain data (lists, strings, numbers, nested allowlists)."""
    return asdict(rule)


def rule_from_plain(data: dict[str, Any]) -> Rule:
    """The inverse of `rule_to_plain`; TypeError or ValueError when `data` is not one."""
    if not isinstance(data, dict) or data.keys() != _RULE_FIELD_NAMES:
        raise ValueError("not a rule record")
    values = dict(data)
    for name in _SEQUENCE_FIELDS:
        if not isinstance(values[name], list) or not all(isinstance(v, str) for v in values[name]):
            raise ValueError(f"{name} is not a list of strings")
        values[name] = tuple(values[name])
    if not isinstance(values["regex"], str) or not isinstance(values["id"], str):
        raise ValueError("id and regex must be strings")
    values["allowlists"] = tuple(allowlist_from_plain(entry) for entry in values["allowlists"])
    if values["replacement"] is not None:
        values["replacement"] = Replacement(**values["replacement"])
    return Rule(**values)


def allowlist_from_plain(entry: dict[str, Any]) -> Allowlist:
    return Allowlist(**{**entry, **{name: tuple(entry[name]) for name in _ALLOWLIST_SEQUENCES}})


def rules_digest(rules: Iterable[Rule]) -> str:
    """What an incremental scan's "already scanned" records are valid for: every field of every rule
    (patterns, keywords, entropy, checksum, allowlists, enrichment, examples...) as canonical JSON,
    plus the keysweep version, whose engine and filters the records also depend on. Any rule edit
    or upgrade then rescans. A rule's `origin` (the file it came from) is left out: moving the
    rules folder changes no match."""
    plain = sorted((_digest_plain(rule) for rule in rules), key=lambda entry: entry["id"])
    canonical = json.dumps({"keysweep": keysweep.__version__, "rules": plain}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_DIGEST_FIELDS = tuple(name for name in Rule.__dataclass_fields__ if name != "origin")


def _digest_plain(rule: Rule) -> dict[str, Any]:
    """`rule_to_plain(rule)` without `origin`, built field by field: the same JSON (a tuple is
    written as a list), without `asdict`'s deep copy of every value (a sweep hashes the rules on
    every run, changed or not)."""
    plain = {name: getattr(rule, name) for name in _DIGEST_FIELDS}
    plain["allowlists"] = [_flat_plain(entry) for entry in rule.allowlists]
    if rule.replacement is not None:
        plain["replacement"] = _flat_plain(rule.replacement)
    return plain


def _flat_plain(record) -> dict[str, Any]:
    """A dataclass whose fields are strings, numbers or tuples of them (Allowlist, Replacement)
    as the dict `asdict` gives."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def _cached_rules(paths: list[Path]) -> tuple[list[Rule], list[Allowlist]] | None:
    """The cached parsed rules, when the cache file is trustworthy (keysweep.cache: ours, private,
    a regular file) and is the record for exactly these files; else None (the files are parsed)."""
    cache = _rules_cache_path(paths)
    if cache is None:
        return None
    data = read_trusted(cache)
    if data is None:
        return None
    try:
        record = json.loads(data)
        if record.get("version") != RULES_CACHE_VERSION or record.get("key") != cache.stem:
            return None
        return ([rule_from_plain(entry) for entry in record["rules"]],
                [allowlist_from_plain(entry) for entry in record["global_allowlists"]])
    except (ValueError, TypeError, KeyError, AttributeError):  # truncated, foreign or older: parse instead
        return None


def _cache_rules(paths: list[Path], rules: list[Rule], global_allowlists: list[Allowlist]) -> None:
    """Plain JSON, never a pickle: loading it can build Rule records and nothing else."""
    cache = _rules_cache_path(paths)
    if cache is None:
        return
    record = {"version": RULES_CACHE_VERSION, "key": cache.stem, "rules": [rule_to_plain(r) for r in rules],
              "global_allowlists": [asdict(a) for a in global_allowlists]}
    try:
        write_private(cache, json.dumps(record, separators=(",", ":")).encode())
    except OSError:
        pass  # an unwritable cache only costs start-up time


def validate_rule_set(rules: list[Rule], named: list[Rule] | None = None) -> None:
    """Unique ids and resolvable references; the checks and enrichers named by `named` (default:
    every rule) must exist. `load_rules` passes only the user's rules there: the shipped ones were
    checked when they were parsed, and looking the names up loads every provider module."""
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            raise RuleError(f"{rule.origin}: duplicate rule id {rule.id} (also in {seen[rule.id].origin})")
        seen[rule.id] = rule
    validate_names(rules if named is None else named)
    for rule in rules:
        if rule.key_id_rule and rule.key_id_rule not in seen:
            raise RuleError(f"{rule.origin}: rule {rule.id}: key_id_rule {rule.key_id_rule!r} is not a loaded rule")


def validate_names(rules: list[Rule]) -> None:
    """Every `checksum` and `enrich` these rules name is a known check or enricher."""
    for rule in rules:
        if rule.checksum and rule.checksum not in providers.CHECKS:
            raise RuleError(f"{rule.origin}: rule {rule.id}: unknown checksum {rule.checksum!r} "
                            f"(known: {', '.join(sorted(providers.CHECKS))})")
        if rule.enrich and rule.enrich not in providers.ENRICHERS:
            raise RuleError(f"{rule.origin}: rule {rule.id}: unknown enricher {rule.enrich!r} "
                            f"(known: {', '.join(sorted(providers.ENRICHERS))})")


def replacement_of(rule: Rule) -> Replacement | None:
    """What should replace a leaked credential of this rule's kind: the rule's own `replacement`,
    else its provider's. None for a short-lived kind (nothing standing to replace)."""
    if not rule.long_lived:
        return None
    return rule.replacement or provider(rule.provider).replacement


@lru_cache(maxsize=1)
def _shipped_rules_by_id() -> dict[str, Rule]:
    return {rule.id: rule for rule in load_rules()}


def finding_replacement(finding: "Finding", rules: Mapping[str, Rule] | None = None) -> Replacement | None:
    """`replacement_of` the finding's rule (from `rules`, else the shipped ones); a finding whose rule
    is not loaded (an inventory record, a rule file no longer passed) gets its provider's."""
    if not finding.long_lived:
        return None
    rule = (rules if rules is not None else _shipped_rules_by_id()).get(finding.rule_id)
    return replacement_of(rule) if rule is not None else provider(finding.provider).replacement


def replacement_problem(rule: Rule) -> str | None:
    """`rules check`: a long-lived keysweep rule must say what should replace its credential. A
    gitleaks rule cannot say it, so it is not asked."""
    if rule.source_format != "keysweep" or not rule.long_lived or replacement_of(rule) is not None:
        return None
    return (f"{rule.origin}: rule {rule.id}: long-lived, but neither it ([rules.replacement]) nor its provider "
            f"(keysweep/providers/{rule.provider.replace('-', '_')}.py) names a replacement")


def self_test(rules: list[Rule], catalogue: list[Rule] | None = None) -> list[str]:
    """Run every rule's examples through the real engine, and ask every long-lived rule for its
    replacement (`replacement_problem`); return one message per failure. The
    allowlists' examples run over `catalogue` (default: `rules`), the whole loaded rule set when
    only some of its rules are checked."""
    # The engine compiles this module's Rule records (an import cycle); the backtracking check is
    # only for `rules check` and the self-test, not a scan's start-up.
    from keysweep.scanner.backtrack import backtracking_problem  # noqa: PLC0415
    from keysweep.scanner.engine import Engine, _max_width  # noqa: PLC0415

    by_id = {rule.id: rule for rule in rules}
    failures = [problem for problem in map(replacement_problem, rules) if problem]
    for rule in rules:
        if rule.source_format == "keysweep" and _max_width(rule.regex) is None:
            failures.append(f"{rule.origin}: rule {rule.id}: regex has no bounded width (use {{0,N}}, not * + {{n,}}): "
                            "every file holding a keyword would be searched whole")
        problem = backtracking_problem(rule.regex)
        if problem is not None:
            failures.append(f"{rule.origin}: rule {rule.id}: {problem}")
            continue  # its examples could take the engine's whole time limit each
        companions = [by_id[rule.key_id_rule]] if rule.key_id_rule else []
        engine = Engine([rule, *companions], backend="regex")
        for example in rule.examples:
            hits = [m for m in engine.scan(example.encode()) if m.rule_id == rule.id]
            if not hits:
                failures.append(f"{rule.origin}: rule {rule.id}: example does not match: {_abbrev(example)}")
        for example in rule.negative_examples:
            hits = [m for m in engine.scan(example.encode()) if m.rule_id == rule.id]
            if hits:
                failures.append(f"{rule.origin}: rule {rule.id}: negative example matches: {_abbrev(example)}")
    failures.extend(_allowlist_self_test(catalogue if catalogue is not None else rules))
    return failures


def _allowlist_self_test(rules: list[Rule]) -> list[str]:
    """Each allowlist with examples, through the real engine over every rule: an example yields no
    finding; it yields one with no allowlist at all (so it is a value some rule reports) and none
    with this allowlist alone (so this allowlist is what drops it, whatever other allowlists also
    would: a documentation key is also a run of `EXAMPLE`). A negative example still yields a
    finding with every allowlist."""
    from keysweep.scanner.engine import Engine  # noqa: PLC0415  (an import cycle: the engine compiles Rule records)

    tested: list[Allowlist] = []
    for rule in rules:
        tested.extend(a for a in rule.allowlists if (a.examples or a.negative_examples) and a not in tested)
    if not tested:
        return []
    engine = Engine(rules, backend="regex")
    bare = Engine([replace(r, allowlists=()) for r in rules], backend="regex")
    failures = []
    for allowlist in tested:
        name = f"allowlist {allowlist.description or allowlist.regexes!r}"
        alone = Engine([replace(r, allowlists=tuple(a for a in r.allowlists if a == allowlist)) for r in rules],
                       backend="regex")
        for example in allowlist.examples:
            if engine.scan(example.encode()):
                failures.append(f"{name}: example is still found: {_abbrev(example)}")
            elif not bare.scan(example.encode()):
                failures.append(f"{name}: example is found by no rule even without any allowlist: {_abbrev(example)}")
            elif alone.scan(example.encode()):
                failures.append(f"{name}: example is dropped by another allowlist, not by this one: {_abbrev(example)}")
        for example in allowlist.negative_examples:
            if not engine.scan(example.encode()):
                failures.append(f"{name}: negative example is not found: {_abbrev(example)}")
    return failures


def _abbrev(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."
