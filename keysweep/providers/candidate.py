"""What an enricher sees and returns.

An enricher (named by a rule's `enrich` field, registered in `ENRICHERS` of a provider module) runs
on every regex match of its rule before the checksum, entropy and placeholder filters. It may
normalise the secret (so that every encoding of one credential has one `secret_sha256`), name its
identifier (`key_id`) and attach metadata (account id, client e-mail, ...), or drop the match by
returning None. Enrichers are pure functions of the scanned bytes: no network, no state.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    secret: str
    key_id: str | None
    content: bytes          # the whole scanned content (the candidate's context)
    start: int              # span of the secret in `content`
    end: int
    groups: dict[str, str] = field(default_factory=dict)  # other named groups of the rule's regex


@dataclass(frozen=True)
class Enriched:
    secret: str
    key_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
