"""Weights & Biases API keys."""

from __future__ import annotations

import base64

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# W&B's GraphQL API refuses an unknown key with 401 and this GraphQL error (what its SDK reports).
NOT_LOGGED_IN = DeadAnswer(
    401, {"errors": [{"message": "user is not logged in"}]}, "user is not logged in",
    example={"errors": [{"message": "user is not logged in", "path": ["viewer"]}], "data": {"viewer": None}},
    source="https://github.com/wandb/wandb/issues/7118")


def _viewer(body, response):
    viewer = ((body or {}).get("data") or {}).get("viewer") if isinstance(body, dict) else None
    if not isinstance(viewer, dict) or not viewer.get("username"):
        return None
    identity = pick(viewer, "username", "email", "entity")
    identity["owner"] = viewer.get("email") or viewer["username"]
    return identity


# POST /graphql `viewer { username }`: a read-only query of who the key is.
VERIFIER = HttpVerifier("wandb", ("wandb",), "/graphql", method="POST", live=_viewer, dead=(NOT_LOGGED_IN,),
                        auth=lambda key: {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()},
                        json_body={"query": "query { viewer { username email entity } }"},
                        default_base="https://api.wandb.ai")


PROVIDER = Provider(
    "wandb", "Weights & Biases",
    console_url="https://wandb.ai/authorize",
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "service-account",
        "Log automated runs with a team-scoped service account instead of a person's API key: it is limited to the "
        "team, outlives its creator, and can authenticate with identity federation (JWTs from your identity "
        "provider) instead of an API key.",
        "https://docs.wandb.ai/guides/hosting/iam/service-accounts"),
)
