"""Who the token says it is: the identity its own liveness check returned (GitHub `/user` login,
GitLab token user, the account or user a provider's verifier reports, the AWS caller ARN, …).

The latest stored verification is used; a GitHub or GitLab finding never verified is checked now
(read-only, and recorded like any verification).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keysweep.owners.model import Candidate
from keysweep.verify.runner import verify_findings

if TYPE_CHECKING:
    from keysweep.models import Finding
    from keysweep.owners.model import OwnerContext

CONFIDENCE = {"github": 0.75, "gitlab": 0.75}
DEFAULT_CONFIDENCE = 0.6
CHECK_NOW = ("github", "gitlab")


async def _verification(finding: "Finding", octx: "OwnerContext") -> dict | None:
    if finding.verification or finding.provider not in CHECK_NOW:
        return finding.verification

    results = await verify_findings([finding], octx.ctx, ttl=0, rereader=octx.rereader)
    return results[0].as_json() if results else None


async def resolve(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    verification = await _verification(finding, octx)
    if not verification or verification.get("status") != "live":
        return []
    identity = verification.get("identity") or {}
    who = identity.get("owner")
    if not who:
        return []
    provider = finding.provider
    contact = next((identity[k] for k in ("email", "user_email") if identity.get(k)), None)
    team = next((str(identity[k]) for k in ("team", "org", "account") if identity.get(k)), None)
    details = {k: identity[k] for k in ("login", "username", "user_id", "id", "arn", "account", "key_id")
               if identity.get(k) is not None}
    return [Candidate(
        name=str(who), team=team, source="token-identity", confidence=CONFIDENCE.get(provider, DEFAULT_CONFIDENCE),
        evidence=f"the {provider} token itself identifies as {who} (live check at {verification.get('checked_at')})",
        contact=contact, details=details)]
