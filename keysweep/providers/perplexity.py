"""Perplexity API keys (`pplx-`)."""

from __future__ import annotations

from keysweep.providers.base import Provider

CHECKS: dict = {}


# -- liveness ---------------------------------------------------------------------------------
from keysweep.verify.http_verifier import NoFreeCheck  # noqa: E402

VERIFIER = NoFreeCheck("perplexity", ("perplexity",),
                       "Perplexity has no free read-only check (its authenticated calls are billed); not checked")


PROVIDER = Provider("perplexity", "Perplexity", checks=CHECKS, verifier=VERIFIER)
