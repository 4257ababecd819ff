"""The provider registry: one explicit table of every provider keysweep knows.

Each module `keysweep/providers/<name>.py` holds everything keysweep knows about one provider as
`PROVIDER` (see providers/base.py): endpoints and environment names, offline checks and enrichers
(referenced by a rule's `checksum`/`enrich` fields), the read-only verifier, the admin inventory,
the console URL and its revokers. A new provider is one rule file, one module listed here, at most
one revoker module, a fake and tests.
"""

from __future__ import annotations

from keysweep.providers import (
    anthropic,
    aws,
    azure,
    cohere,
    deepseek,
    gcp,
    generic,
    github,
    gitlab,
    google,
    groq,
    huggingface,
    langsmith,
    mistral,
    openai,
    openrouter,
    perplexity,
    pinecone,
    private_key,
    replicate,
    slack,
    stripe,
    together,
    wandb,
    xai,
)
from keysweep.providers.base import Check, Enricher, Provider

PROVIDERS: dict[str, Provider] = {module.PROVIDER.name: module.PROVIDER for module in (
    anthropic, aws, azure, cohere, deepseek, gcp, generic, github, gitlab, google, groq, huggingface, langsmith,
    mistral, openai, openrouter, perplexity, pinecone, private_key, replicate, slack, stripe, together,
    wandb, xai,
)}


def provider(name: str) -> Provider:
    """The record of `name`; a provider with rules but no module gets an empty record."""
    return PROVIDERS.get(name) or Provider(name, name)


def _merged(kind: str) -> dict:
    merged: dict = {}
    for record in PROVIDERS.values():
        for name, function in getattr(record, kind).items():
            if name in merged:
                raise RuntimeError(f"duplicate check or enricher name {name!r}")
            merged[name] = function
    return merged


# Checks (a rule's `checksum` field) and enrichers (its `enrich` field): normalise the secret, name
# its key id, attach metadata, or drop the match. See providers/candidate.py.
CHECKS: dict[str, Check] = _merged("checks")
ENRICHERS: dict[str, Enricher] = _merged("enrichers")


def verifier_for(name: str):
    """The provider's read-only verifier (see verify/model.py), or None when it has none."""
    return provider(name).verifier
