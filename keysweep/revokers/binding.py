"""Which key in a provider's admin inventory is this finding? The one matcher, for owners and revokers.

A provider's admin API lists each key with a redacted form of it (the provider's `Inventory.hint`:
`sk-proj-abc...wxyz`, `sk-xyz-api03-R2D...igAA`). A key id learned from such a listing is later
used to DELETE or disable a key by id, so it may only come from proof:

- `exact`: the value was re-read and its SHA-256 is the finding's, and it agrees with every
  character the provider's hint shows (a hint showing more than the last four);
- `hint`: no proven value, but our redacted form (literal prefix + last 4) is compatible with the
  hint. Evidence for an owner, never a key id;
- `no`: anything else.

`bind()` then names an inventory entry only when exactly one entry is `exact`: two keys whose
hints both fit the value (same visible prefix and suffix) name neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Protocol

from keysweep.fingerprint import secret_sha256


class Finding(Protocol):
    """What the matcher needs of a finding (a stored Finding, or a plan's identifiers)."""

    secret_sha256: str
    redacted: str


Shown = Literal["exact", "hint", "no"]

_GAP = re.compile(r"\.{2,}|…|\*{3,}")


def split_hint(hint: str) -> tuple[str, str] | None:
    """`sk-ant-api03-R2D...igAA` → ("sk-ant-api03-R2D", "igAA"); None unless exactly one gap."""
    parts = _GAP.split(hint or "")
    if len(parts) != 2 or not parts[1]:
        return None
    return parts[0], parts[1]


def hint_fits(hint: str, secret: str) -> bool:
    """The provider's redacted form could be this exact value: its visible prefix and suffix both fit."""
    split = split_hint(hint)
    if split is None:
        return False
    prefix, suffix = split
    if len(suffix) < 2 or len(prefix) + len(suffix) >= len(secret):
        return False
    return secret.startswith(prefix) and secret.endswith(suffix)


def hint_fits_redacted(hint: str, redacted: str) -> bool:
    """Weaker: our stored redacted form (known prefix + `…` + last 4) is compatible with the hint."""
    ours, theirs = split_hint(redacted), split_hint(hint)
    if ours is None or theirs is None:
        return False
    our_prefix, our_suffix = ours
    their_prefix, their_suffix = theirs
    shorter = min(len(our_suffix), len(their_suffix))
    if shorter < 4 or our_suffix[-shorter:] != their_suffix[-shorter:]:
        return False
    return their_prefix.startswith(our_prefix) or our_prefix.startswith(their_prefix)


def value_is_the_findings(finding: "Finding", value: str | None) -> bool:
    """The re-read value is this finding's (its SHA-256 agrees), not merely some value."""
    return bool(value) and secret_sha256(value) == finding.secret_sha256


def shows(hint: str | None, finding: "Finding", value: str | None) -> Shown:
    """Does an inventory entry whose redacted form is `hint` show this finding's key?"""
    if not isinstance(hint, str) or split_hint(hint) is None:
        return "no"
    if value_is_the_findings(finding, value):
        prefix, _ = split_hint(hint)
        if not prefix:  # a hint that shows only the tail cannot tell keys apart
            return "hint" if hint_fits(hint, value) else "no"
        return "exact" if hint_fits(hint, value) else "no"
    return "hint" if hint_fits_redacted(hint, finding.redacted) else "no"


@dataclass
class Binding:
    """The inventory entry proven to be the finding's key (`entry`), or why there is none."""

    entry: dict[str, Any] | None
    matched: list[dict[str, Any]] = field(default_factory=list)  # entries that show it, exact or hint
    exact: bool = False
    reason: str = ""

    @property
    def key_id(self) -> str | None:
        return str(self.entry["id"]) if self.entry and self.entry.get("id") else None


def bind(entries: Iterable[dict[str, Any]], hint_of: Callable[[dict[str, Any]], Any], finding: "Finding",
         value: str | None) -> Binding:
    """The one entry that exactly shows the finding's key, if there is exactly one."""
    judged = [(entry, shows(hint_of(entry), finding, value)) for entry in entries]
    exact = [entry for entry, shown in judged if shown == "exact"]
    hints = [entry for entry, shown in judged if shown == "hint"]
    if len(exact) == 1:
        return Binding(exact[0], exact, True, "the re-read value fits the provider's redacted form of one key")
    if len(exact) > 1:
        return Binding(None, exact, True, f"{len(exact)} keys in the inventory show the same redacted form as "
                                          f"this value; none can be proven to be it")
    if hints:
        why = ("the value can no longer be re-read" if not value_is_the_findings(finding, value)
               else "the provider's redacted form shows only the last characters")
        return Binding(None, hints, False, f"only the last characters match ({why}); that is a hint, not proof")
    return Binding(None, [], value_is_the_findings(finding, value), "no key in the inventory shows this value")
