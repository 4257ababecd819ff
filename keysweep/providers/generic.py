"""Checks shared by rules whose values have no prefix (context-bound keys)."""

from keysweep.providers.base import Provider, Replacement


def mixed_case(secret: str) -> bool:
    """Random alphanumeric keys of 32+ characters all but surely hold both cases (a value without
    an upper-case letter has odds (36/62)^32 ≈ 3e-8); hex digests, UUIDs and words do not."""
    return any(c.isupper() for c in secret) and any(c.islower() for c in secret)


CHECKS = {"mixed_case": mixed_case}


PROVIDER = Provider(
    "generic", "Generic secrets", checks=CHECKS,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "provider-short-lived-credential",
        "The provider is not known: use its short-lived or federated credential where it has one; otherwise one key "
        "per service with the fewest permissions and an expiry, kept in a secrets manager and rotated.",
        "https://owasp.org/www-project-non-human-identities-top-10/2025/top-10-2025"),
)
