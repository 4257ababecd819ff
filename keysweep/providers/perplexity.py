"""Perplexity API keys (`pplx-`)."""

from __future__ import annotations

from keysweep.providers.base import Provider

CHECKS: dict = {}


# -- liveness ---------------------------------------------------------------------------------
from keysweep.verify.http_verifier import NoFreeCheck  # noqa: E402

VERIFIER = NoFreeCheck("perplexity", ("perplexity",),
                       "Perplexity has no free read-only check (its authenticated calls are billed); not checked")


PROVIDER = Provider(
    "perplexity", "Perplexity",
    base_url="https://api.perplexity.ai",
    console_url="https://www.perplexity.ai/account/api/keys",
    checks=CHECKS, verifier=VERIFIER,
    revokers={"perplexity": "keysweep.revokers.perplexity:PerplexityRevoker"},
)
