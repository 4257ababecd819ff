"""Rotation target: a GitLab project CI/CD variable (a `gitlab-ci-variable` / `gitlab-ci` occurrence
of a project; group and instance variables are not written). No version, no check-and-set and no
history: the variable is read again just before the PUT (its value must still be the one read) and
after it (it must hold the value written); a write made by someone between that read and the PUT
cannot be seen afterwards, and docs/revocation.md says so. Calls go through keysweep's HTTP client
(redirects not followed: the token goes to GitLab's own API only)."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import quote

from keysweep.fingerprint import secret_sha256
from keysweep.http import HttpClient
from keysweep.providers import provider
from keysweep.revokers.rotation.base import (
    Calls,
    RotationError,
    Target,
    TargetStore,
    WrittenOverAChange,
    access_of,
    changed,
    not_believed,
)

# The occurrence sources of a GitLab CI/CD variable: what `scan gitlab` records, and the older name.
SOURCES = ("gitlab-ci-variable", "gitlab-ci")


def target_from_locator(locator: dict[str, Any]) -> Target | None:
    """The project-level GitLab CI/CD variable a `gitlab-ci` occurrence was read from (its key and
    environment scope), with the scan's API URL and token variable. Group and instance variables
    are not written."""
    access = access_of(locator)
    if locator.get("level") != "project" or not locator.get("project_id") or not locator.get("variable") \
            or not access.get("api_url"):
        return None
    api = str(access["api_url"]).rstrip("/")
    scope = str(locator.get("environment_scope") or "*")
    return {"service": "gitlab-ci", "id": f"{locator.get('host')}/{locator.get('project')} {locator['variable']} "
                                         f"(environment {scope})",
            "api_url": api if api.endswith("/api/v4") else f"{api}/api/v4", "project_id": str(locator["project_id"]),
            "variable": str(locator["variable"]), "environment_scope": scope,
            "token_env": str(access.get("token_env") or provider("gitlab").env_name_for_admin_key())}


def target_from(occurrence) -> Target | None:
    return target_from_locator(occurrence.locator or {}) if occurrence.source in SOURCES else None


def is_target(occurrence, target: Target) -> bool:
    return target_from_locator(occurrence.locator or {}) == target


def describe(target: Target) -> str:
    return f"gitlab CI variable {target['id']}"


def _gitlab_call(settings, target: Target, method: str, data: dict[str, str] | None = None):
    """(status, JSON or None) of one call on the variable, through keysweep's HTTP client (redirects
    are not followed: the token goes to GitLab's own API only). Runs in the rotation's worker
    thread, which has no event loop of its own."""
    env = settings.env if settings is not None else os.environ
    token = env.get(target["token_env"])
    if not token:
        raise RotationError(f"{describe(target)}: {target['token_env']} is not set")
    url = f"{target['api_url']}/projects/{quote(target['project_id'], safe='')}/variables/" \
          f"{quote(target['variable'], safe='')}"
    params = {"filter[environment_scope]": target["environment_scope"]}
    return asyncio.run(_gitlab_request(method, url, params, data, {"PRIVATE-TOKEN": token}))


async def _gitlab_request(method: str, url: str, params: dict[str, str], data: dict[str, str] | None,
                          headers: dict[str, str]) -> tuple[int, Any]:
    async with HttpClient(timeout=30.0) as http:
        response = await http.request(method, url, headers=headers, params=params, data=data)
    return response.status, response.json()


def _gitlab_refused(target: Target, status: int, body: Any) -> RotationError:
    message = body.get("message") if isinstance(body, dict) else None
    text = " ".join(str(message).split())[:200] if message else "not GitLab's JSON"
    return RotationError(f"{describe(target)}: {status} {text}")


def _gitlab_variable(target: Target, body: Any) -> str | None:
    """The value of GitLab's variable object for this key and scope, else None."""
    if not isinstance(body, dict) or body.get("key") != target["variable"] or \
            str(body.get("environment_scope") or "*") != target["environment_scope"]:
        return None
    return body["value"] if isinstance(body.get("value"), str) else None


def read(settings, target: Target) -> tuple[str, dict[str, Any]]:
    try:
        status, body = _gitlab_call(settings, target, "GET")
    except RotationError:
        raise
    except Exception as exc:
        raise RotationError(f"{describe(target)}: {type(exc).__name__}") from None
    if status != 200:
        raise _gitlab_refused(target, status, body)
    value = _gitlab_variable(target, body)
    if value is None:
        raise RotationError(f"{describe(target)}: GitLab's answer is not the variable with its value (a hidden "
                            f"variable cannot be read, so it cannot be rewritten)")
    return value, {"sha256": secret_sha256(value)}


def write(settings, target: Target, value: str, meta: dict[str, Any], new_id: str) -> None:
    current, _meta = read(settings, target)
    if secret_sha256(current) != meta["sha256"]:
        raise changed(describe(target))
    del current
    try:
        status, body = _gitlab_call(settings, target, "PUT", {"value": value})
    except RotationError:
        raise
    except Exception:  # sent, and its answer lost: not known either way
        raise not_believed(describe(target), "GitLab's variable") from None
    if status >= 400:
        raise _gitlab_refused(target, status, body)
    if status != 200 or _gitlab_variable(target, body) != value:
        raise not_believed(describe(target), "GitLab's variable holding the value written")
    after, _meta = read(settings, target)
    if after != value:
        raise WrittenOverAChange(f"{describe(target)} was written, then changed by someone else before it was read "
                                 f"back (GitLab has no check-and-set); check it, then deactivate the old key")


STORE = TargetStore(
    titles=("a GitLab project CI/CD variable",), sources=SOURCES,
    calls={"gitlab-ci": Calls("gitlab:GET project variable", "gitlab:PUT project variable")},
    target_from=target_from, is_target=is_target, describe=describe, read=read, write=write,
)
