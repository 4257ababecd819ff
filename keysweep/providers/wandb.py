"""Weights & Biases API keys."""

from __future__ import annotations

import base64

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# No answer of W&B's proves a key dead. W&B documents no error body for its GraphQL API; the one
# keysweep pinned, 401 "user is not logged in", came from an issue thread (wandb/wandb#7118) whose
# key was configured and not shown dead, and W&B's SDK explains that same 401 as a key "either invalid
# or missing, or the host is incorrect" (wandb/wandb#5319) — a key that never arrived, or went to the
# wrong host — while a deleted key was answered "permission denied" (wandb/wandb#2966). So a 401 is
# unknown: live or unknown only.
NO_DEAD_ANSWER = ("W&B documents no error body; its 401 \"user is not logged in\" also means a key that did not "
                  "arrive or went to the wrong host: a 401 is unknown")


def _viewer(body, response):
    viewer = ((body or {}).get("data") or {}).get("viewer") if isinstance(body, dict) else None
    if not isinstance(viewer, dict) or not viewer.get("username"):
        return None
    identity = pick(viewer, "username", "email", "entity")
    identity["owner"] = viewer.get("email") or viewer["username"]
    return identity


# POST /graphql `viewer { username }`: a read-only query of who the key is.
VERIFIER = HttpVerifier("wandb", ("wandb",), "/graphql", method="POST", live=_viewer, dead=(), reason=NO_DEAD_ANSWER,
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
