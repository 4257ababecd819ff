"""Owner resolution: who owns each leaked credential, what it is for, and why we think so.

A chain of resolvers each proposes candidates `(name, team, purpose, source, confidence,
evidence)`; every candidate is stored (`owner_candidates`), the best is chosen (`chosen = 1`) and
the choice is explained in its evidence. In chain order, which also breaks confidence ties:

| source | resolver | confidence |
|---|---|---|
| `owners-file` | keysweep-owners.toml entry matching repo/path/provider/rule/account/store/CI scope | 0.95 (or the entry's own) |
| `<provider>-admin` | the provider's admin inventory (its record's `Inventory`, see owners/inventories.py): the key whose redacted form fits the leaked value, or that the provider looks up by value | 0.9 for a person (0.7 for a service account or an unnamed creator) |
| `aws-iam` | IAM user of the access key (GetAccessKeyLastUsed) and its `owner`/`team`/`purpose` tags | 0.9 with an owner tag, else 0.6 |
| `token-identity` | who the token itself says it is (GitHub `/user` login, GitLab token user, …) | 0.75 GitHub/GitLab, else 0.6 |
| `cloud-tags` | `owner`/`team`/`purpose` tags of the secret or resource the value was read from | 0.85 with an owner tag, else 0.6 |
| `last-modified-by` | the principal that last modified the SSM parameter (`LastModifiedUser`) | 0.45 |
| `codeowners` | CODEOWNERS of the path, read at the commit where the secret was found | 0.6 |
| `commit-author` | author of the commit that introduced it | 0.3 |

A match made only on the last four characters (the value could not be re-read) or several keys
fitting one hint lower the confidence; a key id is stored on the finding only from a unique match.
Findings whose best candidate is below the threshold (default 0.5) are **unowned**.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from keysweep.context import Context
from keysweep.fingerprint import redaction_prefix, scrub_secret
from keysweep.http import HttpClient, RetryPolicy
from keysweep.owners import aws, cloud, inventories, ownersfile, repo, tokens
from keysweep.owners.inventories import inventory_providers
from keysweep.owners.model import Candidate, OwnerContext, Resolver
from keysweep.owners.tokens import CHECK_NOW
from keysweep.scanner.reread import Rereader
from keysweep.verify.http_verifier import scrub
from keysweep.verify.runner import rate_limits
from keysweep.wording import counted

if TYPE_CHECKING:
    from keysweep.models import Finding
    from keysweep.owners.ownersfile import OwnerRule

DEFAULT_THRESHOLD = 0.5


def resolvers() -> list[tuple[str, Resolver]]:
    return [
        ("owners-file", ownersfile.resolve),
        *inventories.resolvers(),  # each provider's admin inventory (`<provider>-admin`)
        ("aws-iam", aws.resolve),
        ("token-identity", tokens.resolve),
        ("cloud", cloud.resolve),
        ("codeowners", repo.resolve_codeowners),
        ("commit-author", repo.resolve_commit_author),
    ]


# Resolvers that call a provider (skipped by --offline, their stored candidates kept instead).
def network_sources() -> set[str]:
    """Resolvers that call a provider (skipped by --offline, their stored candidates kept instead):
    every provider's admin inventory, IAM and the token's own identity."""
    return {record.inventory.source for record in inventory_providers()} | {"aws-iam", "token-identity"}


def choose(candidates: list[Candidate], order: list[str]) -> Candidate | None:
    """Highest confidence wins; ties go to the resolver earlier in the chain. The winner's
    evidence says what it was chosen over."""
    if not candidates:
        return None
    rank = {source: i for i, source in enumerate(order)}
    for emitted in ("cloud-tags", "last-modified-by"):  # the `cloud` resolver's two kinds of candidate
        rank.setdefault(emitted, rank.get("cloud", len(order)))
    ranked = sorted(candidates, key=lambda c: (-c.confidence, rank.get(c.source, len(order))))
    best = ranked[0]
    best.chosen = True
    others = [f"{c.source} {c.name or '?'} ({c.confidence:.2f})" for c in ranked[1:]]
    best.evidence = (best.evidence + (f" | chosen over {counted(len(others), 'other candidate')}: " + "; ".join(others[:6])
                                      if others else " | the only candidate")).strip()
    return best


def kept_candidates(stored: list[dict[str, Any]], skipped: set[str]) -> list[Candidate]:
    """Stored candidates of resolvers that do not run this time (`--offline` skips the network
    ones): kept and weighed again, so an offline run never replaces an admin inventory's 0.9 with a
    commit author's 0.3."""
    kept = []
    for row in stored:
        if row.get("source") not in skipped:
            continue
        evidence = str(row.get("evidence") or "")
        for marker in (" | chosen over ", " | the only candidate"):
            evidence = evidence.split(marker)[0]
        kept.append(Candidate(name=row.get("name"), team=row.get("team"), purpose=row.get("purpose"),
                              source=row["source"], confidence=float(row.get("confidence") or 0.0),
                              evidence=evidence, contact=row.get("contact"), details=dict(row.get("details") or {})))
    return kept


def _without_secret(candidate: Candidate, secret: str | None, prefix: str) -> Candidate:
    """A candidate as stored and printed: its free text (a provider's key name or evidence may echo
    part of the key) keeps no 8+ character run of the value."""
    if secret:
        candidate.evidence = scrub_secret(candidate.evidence, secret, prefix)
        candidate.name = scrub_secret(candidate.name, secret, prefix)
        candidate.purpose = scrub_secret(candidate.purpose, secret, prefix)
    return candidate


async def resolve_finding(finding: "Finding", octx: OwnerContext,
                          kept: list[Candidate] | None = None) -> list[Candidate]:
    """Every resolver's candidates for one finding (a failing resolver is a warning, not a stop),
    plus `kept` ones from an earlier run; the best of all is chosen."""
    chain = resolvers()
    network = network_sources()
    candidates: list[Candidate] = []
    for source, resolver in chain:
        if octx.offline and source in network:
            continue
        try:
            found = await resolver(finding, octx)
        except Exception as exc:  # one resolver's failure must not hide the others' answers
            secret = octx.secret(finding) if source in network else None
            octx.warn(scrub(f"{source}: {type(exc).__name__}: {exc}", secret, limit=200))
            continue
        secret = octx.secret(finding) if found and source in network else None
        for candidate in found:
            candidate.source = candidate.source or source
            candidates.append(_without_secret(candidate, secret, redaction_prefix(finding.redacted)))
    candidates.extend(kept or [])
    choose(candidates, [source for source, _ in chain])
    return candidates


def is_unowned(owner: dict[str, Any] | None, threshold: float) -> bool:
    return owner is None or owner.get("name") in (None, "") or float(owner.get("confidence") or 0) < threshold


def run_owners(findings: list["Finding"], settings, store, owner_rules: list["OwnerRule"], *, offline: bool = False,
               rereader: "Rereader | None" = None, concurrency: int = 8,
               progress: Callable[[int], None] | None = None) -> tuple[dict[str, list[Candidate]], list[str]]:
    """Resolve every finding, store all candidates (one chosen) and learned key ids; synchronous.
    `progress(done)` is told how many findings are resolved after each one."""
    async def main() -> tuple[dict[str, list[Candidate]], list[str]]:
        called = [*(record.name for record in inventory_providers()), *CHECK_NOW]  # the providers resolvers call
        client = HttpClient(timeout=float(settings.section("owners").get("timeout", 20.0)),
                            rate_limits=rate_limits(settings, called),
                            policy=RetryPolicy(attempts=3, max_retry_after=30.0))
        async with client as http:
            ctx = Context(http=http, settings=settings, store=store, actor="keysweep owners")
            octx = OwnerContext(ctx=ctx, rereader=rereader or Rereader(settings=settings), owner_rules=owner_rules,
                                offline=offline)
            semaphore = asyncio.Semaphore(max(1, concurrency))
            results: dict[str, list[Candidate]] = {}

            async def one(finding: "Finding") -> None:
                kept = kept_candidates(store.owner_candidates(finding.id), network_sources()) \
                    if offline and store is not None else []
                async with semaphore:
                    candidates = await resolve_finding(finding, octx, kept)
                results[finding.id] = candidates
                if store is not None:
                    store.replace_owner_candidates(finding.id, [c.row() for c in candidates], ctx.now())
                learned = [c.key_id for c in candidates if c.key_id and c.source != "owners-file"]
                if learned and store is not None and learned[0] != finding.key_id:
                    store.set_key_id(finding.id, learned[0])
                if progress is not None:
                    progress(len(results))

            await asyncio.gather(*(one(f) for f in findings))
            return results, octx.warnings

    if not findings:
        return {}, []
    return asyncio.run(main())
