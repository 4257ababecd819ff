"""Perplexity API keys (`pplx-`)."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import NoFreeCheck

CHECKS: dict = {}


# -- liveness ---------------------------------------------------------------------------------

VERIFIER = NoFreeCheck("perplexity", ("perplexity",),
                       "Perplexity has no free read-only check (its authenticated calls are billed); not checked")


PROVIDER = Provider(
    "perplexity", "Perplexity",
    base_url="https://api.perplexity.ai",
    console_url="https://www.perplexity.ai/account/api/keys",
    checks=CHECKS, verifier=VERIFIER,
    revokers={"perplexity": "keysweep.revokers.perplexity:PerplexityRevoker"},
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "per-service-key",
        "Generate one API key per service inside an API group for that project or environment, and rotate keys on a "
        "schedule through the key management endpoints (generate_auth_token, then revoke_auth_token for the old "
        "key).",
        "https://docs.perplexity.ai/guides/api-key-management"),
)
