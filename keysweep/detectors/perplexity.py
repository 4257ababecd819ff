"""Perplexity API keys (`pplx-`)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness ---------------------------------------------------------------------------------
from keysweep.detectors.verification import NoFreeCheck  # noqa: E402

VERIFIER = NoFreeCheck("perplexity", ("perplexity",),
                       "Perplexity has no free read-only check (its authenticated calls are billed); not checked")
