"""Owners from where a key is stored in the cloud: the tags of the secret (Secrets Manager) or
other resource it was read from (a Kubernetes object's owner labels and annotations, a Vault
secret's custom metadata), and who last modified an SSM parameter (`LastModifiedUser`).

Cloud sources record these non-secret facts in each occurrence's `metadata` when they read a value;
this resolver only reads them back, so it needs no network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keysweep.owners.aws import OWNER_TAGS, PURPOSE_TAGS, TEAM_TAGS, _tag
from keysweep.owners.model import Candidate

if TYPE_CHECKING:
    from keysweep.models import Finding
    from keysweep.owners.model import OwnerContext

TAG_OWNER_CONFIDENCE = 0.85
TAG_TEAM_CONFIDENCE = 0.6
MODIFIER_CONFIDENCE = 0.45


def _principal(arn: str) -> str:
    """`arn:aws:iam::123:user/jane` → `jane`; an assumed role keeps its session name."""
    tail = arn.rsplit(":", 1)[-1]
    return tail.split("/", 1)[-1] if "/" in tail else tail


def short_names(tags: dict[str, Any]) -> dict[str, Any]:
    """Tags by name, with Kubernetes-style prefixed names (`acme.io/owner`) also known by the part
    after the last `/`; a name given in full wins over a prefixed one."""
    named = {str(k).rsplit("/", 1)[-1]: v for k, v in tags.items() if "/" in str(k)}
    named.update({k: v for k, v in tags.items() if "/" not in str(k)})
    return named


async def resolve(finding: "Finding", octx: "OwnerContext") -> list["Candidate"]:
    configured: dict[str, tuple[str, ...]] = getattr(octx.owner_rules, "tags", None) or {}
    candidates: list[Candidate] = []
    seen: set[tuple[str, str | None]] = set()
    for occurrence in finding.occurrences:
        metadata: dict[str, Any] = getattr(occurrence, "metadata", None) or {}
        if not metadata:
            continue
        locator = occurrence.locator or {}
        where = locator.get("resource") or locator.get("arn") or locator.get("name") or occurrence.source
        tags = metadata.get("tags") if isinstance(metadata.get("tags"), dict) else {}
        if tags:
            # Full names too, so the owners file's [tags] may name a prefixed label (acme.io/steward).
            named = {**{str(k).lower(): v for k, v in tags.items()}, **short_names(tags)}
            owner, team, purpose = (_tag(named, builtin + configured.get(kind, ())) for kind, builtin in
                                    (("owner", OWNER_TAGS), ("team", TEAM_TAGS), ("purpose", PURPOSE_TAGS)))
            name = owner or team
            if name and (name, team) not in seen:
                seen.add((name, team))
                shown = ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))
                candidates.append(Candidate(
                    name=name, team=team, purpose=purpose, source="cloud-tags",
                    confidence=TAG_OWNER_CONFIDENCE if owner else TAG_TEAM_CONFIDENCE,
                    evidence=f"tags of {where}: {shown}", contact=owner if owner and "@" in owner else None,
                    details={"resource": where, "tags": tags}))
        modifier = metadata.get("last_modified_user")
        if isinstance(modifier, str) and modifier and (modifier, None) not in seen:
            seen.add((modifier, None))
            candidates.append(Candidate(
                name=_principal(modifier), source="last-modified-by", confidence=MODIFIER_CONFIDENCE,
                evidence=f"{modifier} last modified {where} ({metadata.get('last_modified_at') or 'time unknown'})",
                details={"resource": where, "principal": modifier}))
    return candidates
