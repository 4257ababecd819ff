"""Hugging Face user (`hf_`) and org (`api_org_`) tokens."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, pick

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

# The Hub's answer to a token it does not know (what huggingface_hub reports for a bad token).
INVALID_TOKEN = DeadAnswer(
    401, {"error": "Invalid credentials in Authorization header"}, "Invalid credentials",
    example={"error": "Invalid credentials in Authorization header"},
    source="https://huggingface.co/docs/hub/security-tokens")


def _whoami(body, response):
    if not isinstance(body, dict) or not (body.get("name") or body.get("type")):
        return None
    identity = pick(body, "type", "name", "fullname", "email")
    orgs = [org.get("name") for org in body.get("orgs") or [] if isinstance(org, dict) and org.get("name")]
    if orgs:
        identity["orgs"] = orgs
    token = ((body.get("auth") or {}).get("accessToken") or {})
    identity.update({f"token_{k}": v for k, v in pick(token, "displayName", "role").items()})
    identity["owner"] = body.get("email") or body.get("name")
    return identity


# GET /api/whoami-v2: who the token is, read-only.
VERIFIER = HttpVerifier("huggingface", ("huggingface",), "/api/whoami-v2", live=_whoami, dead=(INVALID_TOKEN,))


PROVIDER = Provider(
    "huggingface", "Hugging Face",
    base_url="https://huggingface.co",
    base_url_env="HF_ENDPOINT",
    console_url="https://huggingface.co/settings/tokens",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"huggingface.user-token"}),
    checks=CHECKS, verifier=VERIFIER,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "fine-grained-token",
        "Replace a read, write or organization token with a fine-grained user access token limited to the "
        "repositories and organizations the workload touches and to the permissions it uses, one token per "
        "application, so a leak exposes only those resources.",
        "https://huggingface.co/docs/hub/security-tokens"),
)
