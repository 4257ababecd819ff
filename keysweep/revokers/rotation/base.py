"""What every rotation target store shares: the interface a store module fills in (`TargetStore`),
the errors a step of the rotation raises, and the rewrite of the stored value (the old key id and
secret replaced by the new ones, layout kept).

A store's read, write and check run in the rotation's worker thread (`asyncio.to_thread`); none of
them ever puts a value in a message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from keysweep.fingerprint import secret_sha256

Target = dict[str, Any]

TOKEN = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_HEX = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Calls:
    """The names the plan and the job's calls give a store's read and write."""

    get: str
    put: str


@dataclass(frozen=True)
class RotateTo:
    """How a policy rule's `rotate_to` names a target of the store: `parse` gives the target, or None
    when the text names none of its own; `forms` says what it accepts, for the error."""

    parse: Callable[[str], Target | None]
    forms: str


@dataclass(frozen=True)
class TargetStore:
    """One kind of secret store the rotation writes the new key into (one module under rotation/,
    registered in rotation.STORES). A target is a JSON-able dict whose "service" is one of `calls`'
    keys; it is kept in the job's plan, so its fields are identifiers, never a value.

    - `titles`: how the plan's "no rotation target" sentence names it.
    - `sources`: the occurrence sources it reads targets from.
    - `target_from(occurrence)`: the target an occurrence of one of `sources` was read from, else None.
    - `is_target(occurrence, target)`: that occurrence (of one of `sources`) is this target.
    - `describe(target)`: the target for people (plan, messages, audit).
    - `read(settings, target)`: (the stored text, what writing it back needs: its version, type,
      key/value `values` for a key/value secret).
    - `write(settings, target, value, meta, new_id)`: write the rewritten value; the version made
      where the store numbers them, else None. Raises WriteConflict, UnprovenWrite,
      WrittenOverAChange or RotationError.
    - `check_writable(settings, target)`: before any key is created, the credentials may write it.
    - `retire_replaced` and `retire_calls`: disable the version the new one replaced once the new key
      is proven (`[providers.aws] disable_replaced_version`), and the plan's calls for it.
    """

    titles: tuple[str, ...]
    sources: tuple[str, ...]
    calls: dict[str, Calls]
    target_from: Callable[[Any], Target | None]
    is_target: Callable[[Any, Target], bool]
    describe: Callable[[Target], str]
    read: Callable[[Any, Target], tuple[str, dict[str, Any]]]
    write: Callable[[Any, Target, str, dict[str, Any], str], Any]
    check_writable: Callable[[Any, Target], None] | None = None
    rotate_to: RotateTo | None = None
    retire_replaced: Callable[..., tuple[str, bool]] | None = None
    retire_calls: tuple[tuple[str, str, str], ...] = ()


def access_of(locator: dict[str, Any]) -> dict[str, Any]:
    """The scan's access details on a locator (endpoint, token variable…), else {}."""
    return locator.get("access") if isinstance(locator.get("access"), dict) else {}


class RotationError(Exception):
    """A rotation step that cannot go on; the message carries no value."""


class WriteConflict(RotationError):
    """The target changed between keysweep's read and its write (Vault's check-and-set refused):
    retried, and the retry reads the new version."""


class WrittenOverAChange(RotationError):
    """The new key was written, but over a version someone added between keysweep's read and its
    write (a store without check-and-set, seen afterwards): left to a person, the old key active."""


class UnprovenWrite(RotationError):
    """The write was answered, but not in the store's documented success shape (a proxy's page, a
    gateway's stub): not believed. Retried; the retry reads the target to see whether it holds the
    new key, and the old key stays active until it does."""


def changed(where: str, seen: str | None = None) -> WriteConflict:
    """The target (`where`: as described) changed between keysweep's read and its write; `seen`: how
    the store showed it."""
    return WriteConflict(f"{where} changed since it was read" + (f" ({seen})" if seen else ""))


def not_believed(where: str, missing: str) -> UnprovenWrite:
    return UnprovenWrite(f"{where} answered the write without {missing}; not believed (the old key stays "
                         f"active; the next attempt reads it to see whether the new key is there)")


def rewrite(current: str, old_id: str, new_id: str, new_secret: str, old_secret_sha256: str | None) -> str:
    """`current` with the old key id and its secret replaced by the new ones (layout kept)."""
    if old_id not in current:
        raise RotationError(f"it does not hold {old_id}")
    tokens = [m for m in TOKEN.finditer(current) if not _HEX.fullmatch(m.group())]
    chosen = [m for m in tokens if old_secret_sha256 and secret_sha256(m.group()) == old_secret_sha256]
    if not chosen:
        if len(tokens) != 1:
            raise RotationError("cannot tell which value in it is the secret access key "
                                f"({len(tokens)} candidates)")
        chosen = tokens
    secret = chosen[0].group()
    return TOKEN.sub(lambda m: new_secret if m.group() == secret else m.group(), current).replace(old_id, new_id)


def rewrite_values(values: dict[str, Any], old_id: str, new_id: str, new_secret: str,
                   old_secret_sha256: str | None) -> dict[str, Any]:
    """`rewrite` over the text values of a key/value secret (Vault data, a Kubernetes Secret's
    decoded data): the id and the secret may sit in two of its keys; the others are kept as they are."""
    texts = {k: v for k, v in values.items() if isinstance(v, str)}
    joined = "\n".join(texts.values())
    if old_id not in joined:
        raise RotationError(f"it does not hold {old_id}")
    tokens = [m.group() for v in texts.values() for m in TOKEN.finditer(v) if not _HEX.fullmatch(m.group())]
    chosen = [t for t in tokens if old_secret_sha256 and secret_sha256(t) == old_secret_sha256]
    if not chosen:
        if len(set(tokens)) != 1:
            raise RotationError("cannot tell which value in it is the secret access key "
                                f"({len(set(tokens))} candidates)")
        chosen = tokens
    secret = chosen[0]
    return {k: (TOKEN.sub(lambda m: new_secret if m.group() == secret else m.group(), v).replace(old_id, new_id)
                if isinstance(v, str) else v) for k, v in values.items()}


def rewritten(current: str, meta: dict[str, Any], old_id: str, new_id: str, new_secret: str,
              old_secret_sha256: str | None) -> str:
    """The value to write: the stored text rewritten, or for a key/value target its values (JSON)."""
    if "values" in meta:
        return json.dumps(rewrite_values(meta["values"], old_id, new_id, new_secret, old_secret_sha256))
    return rewrite(current, old_id, new_id, new_secret, old_secret_sha256)
