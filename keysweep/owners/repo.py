"""Owners from the repository itself: CODEOWNERS at the commit where the secret was found, and the
author of that commit (the weakest signal: the person who pushed is not always the owner)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from keysweep.owners.model import Candidate
from keysweep.owners.ownersfile import glob_to_regex
from keysweep.safefs import read_text_or_warn
from keysweep.scanner.reread import local_git_dir

if TYPE_CHECKING:
    from keysweep.models import Finding, Occurrence
    from keysweep.owners.model import OwnerContext

# GitHub's lookup order: the first of these that exists is the file in force.
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
CODEOWNERS_CONFIDENCE = 0.6
AUTHOR_CONFIDENCE = 0.3
MAX_OCCURRENCES = 25


@dataclass(frozen=True)
class CodeownersRule:
    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern


@lru_cache(maxsize=1024)
def codeowners_regex(pattern: str) -> re.Pattern:
    """A CODEOWNERS pattern (gitignore syntax, with GitHub's reading) as a regex over a path.

    - a leading `/`, or a `/` inside the pattern, anchors it at the repository root; otherwise it
      matches at any depth;
    - a trailing `/` matches only a directory (so everything under it);
    - a pattern naming a file or directory also covers everything under that directory, except
      when its last component has a `*` (GitHub: `docs/*` owns `docs/a.md`, not `docs/x/b.md`);
    - `**` spans directories, `*` and `?` stay within one component.
    """
    directory_only = pattern.endswith("/")
    body = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in body
    last = body.rsplit("/", 1)[-1]
    if directory_only:
        tail = "/.*"
    elif "*" in last and last != "**":
        tail = ""
    else:
        tail = "(?:/.*)?"
    body_regex = glob_to_regex(body, backslash_escapes=True)
    return re.compile(("^" if anchored else "^(?:.*/)?") + body_regex + tail + r"\Z", re.DOTALL)


def parse_codeowners(text: str) -> list[CodeownersRule]:
    rules = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.split(r"(?<!\\)\s#", line, maxsplit=1)[0]  # trailing comment
        parts = line.split()
        pattern, owners = parts[0], tuple(p for p in parts[1:] if p.startswith("@") or "@" in p)
        if pattern.startswith("!") or "[" in pattern:
            continue  # negation and character ranges are not valid in CODEOWNERS
        rules.append(CodeownersRule(pattern, owners, number, codeowners_regex(pattern)))
    return rules


def owners_of(rules: list[CodeownersRule], path: str) -> CodeownersRule | None:
    """The last matching line wins (even one with no owners: that path is deliberately unowned)."""
    path = path.lstrip("/")
    found = None
    for rule in rules:
        if rule.regex.match(path):
            found = rule
    return found


def _git_show(repo: str, commit: str, path: str) -> str | None:
    try:
        result = subprocess.run(["git", "cat-file", "-p", f"{commit}:{path}"], cwd=repo, capture_output=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "replace")


def codeowners_at(octx: "OwnerContext", occurrence: "Occurrence") -> tuple[str, str, list[CodeownersRule]] | None:
    """(where, file path, rules) of the CODEOWNERS in force where the occurrence was found."""
    locator = occurrence.locator or {}
    cache = octx.cache.setdefault("codeowners", {})
    if occurrence.commit and (occurrence.repo or locator.get("repo")):
        repo = str(locator.get("repo") or occurrence.repo)
        key = ("git", repo, occurrence.commit)
        if key not in cache:
            cache[key] = None
            # A forge repository's history is in the sweep's cached clone (cloned again if cleared,
            # unless offline); a local one is its own path.
            git_dir = local_git_dir(occurrence, octx.ctx.settings, fetch=not octx.offline,
                                    attempted=octx.cache.setdefault("clone_attempts", set()))
            if git_dir is not None:
                for candidate in CODEOWNERS_PATHS:
                    text = _git_show(git_dir, occurrence.commit, candidate)
                    if text is not None:
                        cache[key] = (f"commit {occurrence.commit[:12]}", candidate, parse_codeowners(text))
                        break
        return cache[key]
    root = locator.get("root")
    if root and Path(root).is_dir():
        key = ("dir", root)
        if key not in cache:
            cache[key] = None
            for candidate in CODEOWNERS_PATHS:
                # The scanned tree wrote it: only a regular file inside the tree, of bounded size.
                text = read_text_or_warn(Path(root) / candidate, "CODEOWNERS", root=root, errors="replace")
                if text is not None:
                    cache[key] = ("working tree", candidate, parse_codeowners(text))
                    break
        return cache[key]
    return None


def _split_owners(owners: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(name, team, contact): the first person (else the first team), the first team, an email."""
    teams = [o for o in owners if o.startswith("@") and "/" in o]
    people = [o for o in owners if o.startswith("@") and "/" not in o]
    emails = [o for o in owners if not o.startswith("@")]
    name = (people or emails or teams or [None])[0]
    return name, (teams[0] if teams else None), (emails[0] if emails else None)


async def resolve_codeowners(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    by_owners: dict[tuple[str, ...], Candidate] = {}
    for occurrence in finding.occurrences[:MAX_OCCURRENCES]:
        if not occurrence.path:
            continue
        found = codeowners_at(octx, occurrence)
        if found is None:
            continue
        where, file, rules = found
        rule = owners_of(rules, occurrence.path)
        if rule is None or not rule.owners or rule.owners in by_owners:
            continue
        name, team, contact = _split_owners(rule.owners)
        by_owners[rule.owners] = Candidate(
            name=name, team=team, source="codeowners", confidence=CODEOWNERS_CONFIDENCE, contact=contact,
            evidence=f"{file} at {where}, line {rule.line}: '{rule.pattern}' {' '.join(rule.owners)} "
                     f"owns {occurrence.path}",
            details={"file": file, "line": rule.line, "pattern": rule.pattern, "owners": list(rule.owners),
                     "commit": occurrence.commit, "path": occurrence.path})
    return list(by_owners.values())


async def resolve_commit_author(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    seen: set[str] = set()
    candidates = []
    for occurrence in finding.occurrences:  # oldest first: whoever introduced it
        who = occurrence.author_email or occurrence.author_name
        if not who or who in seen:
            continue
        seen.add(who)
        candidates.append(Candidate(
            name=occurrence.author_name or occurrence.author_email, contact=occurrence.author_email,
            source="commit-author", confidence=AUTHOR_CONFIDENCE if not candidates else AUTHOR_CONFIDENCE - 0.1,
            evidence=f"author of commit {(occurrence.commit or '')[:12]} that put it in {occurrence.path} "
                     f"({occurrence.committed_at or 'unknown time'})",
            details={"commit": occurrence.commit, "path": occurrence.path}))
        if len(candidates) == 3:
            break
    return candidates
