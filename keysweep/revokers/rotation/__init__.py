"""The secret stores an AWS key rotation (revokers/aws_rotate.py) writes the new key into: one
module each, behind one interface (`base.TargetStore`: the occurrence sources it reads targets
from, the target an occurrence names, describe, read, write, the check before any key is created,
the call names the plan shows). A new store is one module here and one line in `STORES`.

`STORES` is also the order of preference: the rotation's target is read from the finding's
occurrences of the first store that has one (within a store, the first such occurrence).
"""

from __future__ import annotations

from typing import Any

from keysweep.revokers.rotation import aws_secrets, azure, gcp, gitlab, kubernetes, vault
from keysweep.revokers.rotation.base import Target, TargetStore

STORES: tuple[TargetStore, ...] = (aws_secrets.STORE, vault.STORE, kubernetes.STORE, gcp.STORE, azure.STORE,
                                   gitlab.STORE)

_BY_SERVICE = {service: store for store in STORES for service in store.calls}
# Every occurrence source a target is read from.
SOURCES = tuple(source for store in STORES for source in store.sources)


def store_for(target: Target) -> TargetStore:
    """The store a target (as planned and kept in the job) is written through."""
    try:
        return _BY_SERVICE[target["service"]]
    except KeyError:
        raise ValueError(f"no rotation target store writes {target.get('service')!r}") from None


def titles() -> str:
    """Every store, for people: "Secrets Manager, SSM, …, Azure Key Vault or a GitLab project CI/CD variable"."""
    names = [title for store in STORES for title in store.titles]
    return f"{', '.join(names[:-1])} or {names[-1]}"


def target_from_occurrences(finding) -> Target | None:
    """The target the finding was read from: the first occurrence of the most preferred store that has one."""
    for store in STORES:
        for occurrence in finding.occurrences:
            if occurrence.source in store.sources:
                target = store.target_from(occurrence)
                if target:
                    return target
    return None


def is_target(occurrence, target: Target | None) -> bool:
    """The occurrence is the place the rotation writes (its target)."""
    if not target:
        return False
    store = _BY_SERVICE.get(target["service"])
    return store is not None and occurrence.source in store.sources and store.is_target(occurrence, target)


def parse_target(text: str) -> Target:
    """A policy `rotate_to`, in a form one of the stores takes (`secretsmanager:<name or ARN>`,
    `ssm:<parameter name>`, or an ARN of either); ValueError for any other."""
    text = str(text).strip()
    forms: dict[str, None] = {}
    for store in STORES:
        if store.rotate_to is not None:
            target = store.rotate_to.parse(text)
            if target:
                return target
            forms[store.rotate_to.forms] = None
    raise ValueError(f"rotate_to {text!r}: expected {'; '.join(forms)}")


def describe(target: Target) -> str:
    return store_for(target).describe(target)


def get_call(target: Target) -> str:
    return store_for(target).calls[target["service"]].get


def put_call(target: Target) -> str:
    return store_for(target).calls[target["service"]].put


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    """The stored value and what writing it back needs (SSM type, the Vault version)."""
    return store_for(target).read(settings, target)


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> Any:
    """Write the value; the version made where the store numbers them (Secret Manager), else None."""
    return store_for(target).write(settings, target, value, meta, new_id)


def check_writable(settings, target: Target) -> None:
    """Before any key is created: credentials that may not write the target stop the rotation here,
    not after a new key exists."""
    check = store_for(target).check_writable
    if check is not None:
        check(settings, target)
