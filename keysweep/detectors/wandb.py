"""Weights & Biases API keys."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
import base64  # noqa: E402

from keysweep.detectors.verification import HttpVerifier, pick  # noqa: E402


def _viewer(body, response):
    viewer = ((body or {}).get("data") or {}).get("viewer") if isinstance(body, dict) else None
    if not isinstance(viewer, dict) or not viewer.get("username"):
        return None
    identity = pick(viewer, "username", "email", "entity")
    identity["owner"] = viewer.get("email") or viewer["username"]
    return identity


# POST /graphql `viewer { username }`: a read-only query of who the key is.
VERIFIER = HttpVerifier("wandb", ("wandb",), "/graphql", method="POST", live=_viewer,
                        auth=lambda key: {"Authorization": "Basic " + base64.b64encode(f"api:{key}".encode()).decode()},
                        json_body={"query": "query { viewer { username email entity } }"},
                        default_base="https://api.wandb.ai")
