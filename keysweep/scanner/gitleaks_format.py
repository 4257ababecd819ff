"""gitleaks / Betterleaks rule files, accepted by `--rules` so teams keep their custom rules.

A gitleaks config is told apart from ours by what it has (`title`, `[extend]`, `[allowlist]`,
`[[allowlists]]`, a rule's `secretGroup`, `tags`, `path` or `allowlist`) or lacks (a rule with `id`,
or with `[[rules.allowlists]]`, but none of our `name` / `provider` / `examples`): both formats
spell a rule's allowlists `[[rules.allowlists]]`, so that field alone decides nothing. Each
`[[rules]]` table becomes a Rule:

- `regex` (Go RE2 syntax, which the `regex` module reads with `\\z` spelled `\\Z`): the capture group
  gitleaks reports as the secret (`secretGroup`, else the first group, else the whole match)
  becomes the named group `secret`.
- `keywords`, `entropy`, `description` carry over; `provider` is `custom`; `confidence` medium.
- `[[rules.allowlists]]` / `[rules.allowlist]` and the global `[allowlist]` / `[[allowlists]]`
  (with `targetRules`) keep `regexes`, `regexTarget` (secret, match, line), `stopwords` and
  `condition`. `paths` and `commits` criteria need the file's path or commit, which the engine does
  not see: an allowlist made only of them is ignored (the finding is reported), and under
  `condition = "AND"` such an allowlist is ignored too rather than half-applied.
- Rules with only a `path` (no `regex`), and `[[rules.required]]` composite rules, are skipped:
  their meaning depends on file paths or on other rules' matches nearby.

A pattern written for RE2 (which never backtracks) can backtrack catastrophically in the `regex`
module: each imported rule is probed (scanner/backtrack.py) and one that stalls is left out with a
warning line (`rules check` reports it as a failure instead), so an imported config cannot be used
to stall a scan; the engine's time limit covers what the probes miss.

Rules keep the user's ids (lower-cased; characters other than letters, digits, `.` and `-`
become `-`). Their patterns may be unbounded; they then run over whole files holding a keyword.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from keysweep.errors import RuleError
from keysweep.safefs import warn
from keysweep.scanner.backtrack import backtracking_problem
from keysweep.scanner.rules import ID_FORMAT, Allowlist, Rule, check_pattern

GITLEAKS_TOP_LEVEL = {"title", "extend", "allowlist", "allowlists", "description", "minVersion"}
GITLEAKS_RULE_FIELDS = {"secretGroup", "tags", "path", "allowlist", "required", "title",
                        "validate", "filter", "skipReport"}
SHARED_RULE_FIELDS = {"allowlists"}  # a rule field in both formats: it tells neither apart
OUR_ONLY_FIELDS = {"name", "provider", "examples", "negative_examples"}
_LEADING_FLAGS = re.compile(r"\(\?[a-zA-Z]+\)")
TARGETS = {"": "secret", "secret": "secret", "match": "match", "line": "line"}


def is_gitleaks_config(data: dict[str, Any]) -> bool:
    if GITLEAKS_TOP_LEVEL & set(data):
        return True
    tables = data.get("rules")
    if not isinstance(tables, list):
        return False
    for table in tables:
        if not isinstance(table, dict):
            continue
        if GITLEAKS_RULE_FIELDS & set(table):
            return True
        if ("id" in table or SHARED_RULE_FIELDS & set(table)) and not (OUR_ONLY_FIELDS & set(table)):
            return True
    return False


def convert(data: dict[str, Any], path: Path, text: str, keep_backtracking: bool = False) -> list[Rule]:
    tables = data.get("rules", [])
    if not isinstance(tables, list):
        raise RuleError(f"{path}: [[rules]] must be an array of tables")
    global_lists = [*_as_list(data.get("allowlist")), *_as_list(data.get("allowlists"))]
    rules = []
    for table in tables:
        rule = _convert_rule(table, path, text, global_lists)
        if rule is None:
            continue
        problem = None if keep_backtracking else backtracking_problem(rule.regex)
        if problem is not None:
            warn(f"{path}: gitleaks rule {rule.id} left out: {problem}")
            continue
        rules.append(rule)
    return rules


def _as_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return value
    raise RuleError("allowlist(s) must be a table or an array of tables")


def _convert_rule(table: dict[str, Any], path: Path, text: str, global_lists: list[dict]) -> Rule | None:
    raw_id = str(table.get("id", "")).strip()
    where = f"{path}:{_line_of(text, raw_id)}: rule {raw_id or '?'}"
    if not raw_id:
        raise RuleError(f"{where}: a gitleaks rule needs an id")
    if "regex" not in table or table.get("required"):
        return None
    rule_id = normalise_id(raw_id)
    pattern = secret_group_pattern(go_to_python(str(table["regex"])), table.get("secretGroup"), where)
    check_pattern(pattern, where)
    lists = [*_as_list(table.get("allowlist")), *_as_list(table.get("allowlists"))]
    lists += [entry for entry in global_lists
              if not entry.get("targetRules") or raw_id in entry.get("targetRules", [])]
    allowlists = tuple(a for a in (_allowlist(entry, where) for entry in lists) if a is not None)
    keywords = table.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise RuleError(f"{where}: keywords must be a list of strings")
    description = str(table.get("description") or raw_id).strip()
    return Rule(
        id=rule_id,
        name=description.split(". ")[0][:120],
        provider="custom",
        description=description,
        regex=pattern,
        keywords=tuple(k.lower() for k in keywords),
        entropy=float(table["entropy"]) if table.get("entropy") else None,
        long_lived=True,
        confidence="medium",
        allowlists=allowlists,
        origin=str(path),
        source_format="gitleaks",
    )


def _allowlist(entry: dict[str, Any], where: str) -> Allowlist | None:
    condition = str(entry.get("condition", "OR")).lower()
    if condition not in ("or", "and"):
        raise RuleError(f"{where}: allowlist condition must be OR or AND")
    regexes = [go_to_python(str(p)) for p in entry.get("regexes", [])]
    for pattern in regexes:
        check_pattern(pattern, f"{where}: allowlist", need_secret=False)
    stopwords = [str(w).lower() for w in entry.get("stopwords", [])]
    path_only = bool(entry.get("paths") or entry.get("commits"))
    if not regexes and not stopwords:
        return None  # paths / commits only: the engine cannot tell, so it reports
    if condition == "and" and path_only:
        return None
    target = TARGETS.get(str(entry.get("regexTarget", "")).lower())
    if target is None:
        raise RuleError(f"{where}: allowlist regexTarget must be secret, match or line")
    return Allowlist(regexes=tuple(regexes), regex_target=target, stopwords=tuple(stopwords),
                     condition=condition, description=str(entry.get("description", "")))


def normalise_id(raw: str) -> str:
    rule_id = "".join(c if c.isalnum() or c in ".-" else "-" for c in raw.lower()).strip(".-")
    while "--" in rule_id or ".." in rule_id:
        rule_id = rule_id.replace("--", "-").replace("..", ".")
    if not ID_FORMAT.match(rule_id):
        raise RuleError(f"rule id {raw!r} cannot be turned into a keysweep id")
    return rule_id


def go_to_python(pattern: str) -> str:
    """RE2 spellings the `regex` module reads differently: `\\z` (end of text) is `\\Z` there."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            nxt = pattern[index + 1]
            out.append("\\Z" if nxt == "z" else char + nxt)
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _capturing_groups(pattern: str) -> list[tuple[int, int]]:
    """(index of the group's '(', length of its opening token) of each capturing group, in order."""
    groups, index, in_class = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if pattern.startswith("[^]", index) or pattern.startswith("[]", index):
                index += 2 if pattern[index + 1] == "]" else 3
                continue
        elif char == "(":
            if not pattern.startswith("(?", index):
                groups.append((index, 1))
            elif pattern.startswith(("(?P<", "(?<"), index) and not pattern.startswith(("(?<=", "(?<!"), index):
                close = pattern.index(">", index)
                groups.append((index, close - index + 1))
        index += 1
    return groups


def secret_group_pattern(pattern: str, secret_group: Any, where: str) -> str:
    """The pattern with gitleaks' secret group renamed `secret` (or the whole match wrapped)."""
    if "(?P<secret>" in pattern or "(?<secret>" in pattern:
        raise RuleError(f"{where}: a group is already named 'secret'")
    groups = _capturing_groups(pattern)
    if secret_group in (None, 0, "0", ""):
        if not groups:
            flags = _LEADING_FLAGS.match(pattern)
            head = flags.group(0) if flags else ""
            return f"{head}(?P<secret>{pattern[len(head):]})"
        number = 1
    else:
        try:
            number = int(secret_group)
        except (TypeError, ValueError):
            raise RuleError(f"{where}: secretGroup must be a number") from None
        if not 1 <= number <= len(groups):
            raise RuleError(f"{where}: secretGroup {number} but the regex has {len(groups)} group(s)")
    at, length = groups[number - 1]
    return pattern[:at] + "(?P<secret>" + pattern[at + length:]


def _line_of(text: str, needle: str) -> int:
    if needle:
        for number, line in enumerate(text.splitlines(), 1):
            if needle in line:
                return number
    return 1
