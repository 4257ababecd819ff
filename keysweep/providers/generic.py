"""Checks shared by rules whose values have no prefix (context-bound keys)."""

from keysweep.providers.base import Provider


def mixed_case(secret: str) -> bool:
    """Random alphanumeric keys of 32+ characters all but surely hold both cases (a value without
    an upper-case letter has odds (36/62)^32 ≈ 3e-8); hex digests, UUIDs and words do not."""
    return any(c.isupper() for c in secret) and any(c.islower() for c in secret)


CHECKS = {"mixed_case": mixed_case}


PROVIDER = Provider("generic", "Generic secrets", checks=CHECKS)
