"""Remote sources (GitHub, GitLab, AWS): one interface for everything that lives behind an API.

A remote source is an async producer. It yields, as it lists things:

- `Unit`: values read from one scope (a repository's Actions variables, a region's secrets),
  to be matched in memory, plus inventory records — long-lived credentials known from metadata
  alone (a secret nobody rotated, an old IAM access key);
- `GitTarget`: a repository to clone or fetch into the cache and scan with the git source;
- `Pending`: work not done yet (a coroutine returning units), so listing is not held up by the
  reads it leads to: the runner awaits pending work on a bounded pool of workers.

Values never leave memory: an `Entry.text` is matched and dropped; only its fingerprint, a
redacted form and the locator of the place (repo + variable, secret ARN + version, …) are kept.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Protocol, Union

from keysweep.clock import parse_utc, utc_iso
from keysweep.errors import KeysweepError
from keysweep.scanner.rules import Rule

if TYPE_CHECKING:
    from keysweep.context import Context


class RemoteError(Exception):
    """A remote call that answered with an error: reported as one line, the sweep goes on."""


@dataclass(slots=True)
class Entry:
    """One value: a variable, a secret version, a parameter, a function's environment variable."""

    text: str                       # what is matched, e.g. "NAME=value"; held in memory only
    locator: dict[str, Any]         # the exact resource (never the value)
    metadata: dict[str, Any] | None = None   # non-secret facts shown on the occurrence
    at: str | None = None           # when the value was put there (a leak's start), if known


@dataclass(slots=True)
class ValueGroup:
    """Entries matched together as one piece of content (so an AWS key id in one variable pairs
    with the secret in the next). `object_id` marks the group as read for incremental sweeps."""

    kind: str                       # occurrence source, e.g. "github-actions-variable"
    entries: list[Entry]
    object_id: str | None = None


@dataclass(slots=True)
class InventoryRecord:
    """A long-lived credential reported from metadata alone: no value was (or can be) read."""

    kind: str                       # occurrence source, e.g. "aws-iam-access-key"
    rule_id: str                    # e.g. "aws.iam-stale-access-key"
    provider: str
    identity: str                   # stable description of the credential; its SHA-256 is secret_sha256
    redacted: str
    locator: dict[str, Any]
    metadata: dict[str, Any] | None = None
    key_id: str | None = None
    long_lived: bool = True


@dataclass(slots=True)
class Unit:
    """The result of reading one scope: recorded in the store as one scan."""

    source: str                     # store source name, e.g. "github-actions", "aws-ssm"
    scope: str                      # store scope, e.g. "github.com/acme/api", "aws:default:eu-west-1"
    repo: str | None = None
    groups: list[ValueGroup] = field(default_factory=list)
    inventory: list[InventoryRecord] = field(default_factory=list)
    # Objects to mark as read even though they carry no value (e.g. a listing's state).
    scanned_objects: list[str] = field(default_factory=list)
    # HTTP validators to save once the unit is recorded: (url, etag, body or None).
    validators: list[tuple[str, str, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class GitTarget:
    """A repository to scan with the git source: cloned/fetched into the cache, or a local path."""

    name: str                       # shown as the occurrence `repo` and used as the store scope
    url: str | None = None          # clone URL; None for a local repository at `path`
    path: str | None = None
    state: str | None = None        # e.g. the API's pushed_at: unchanged + same rules → skip
    # "Authorization: …" sent only to the clone URL's host; never logged. A callable is asked when
    # the clone starts (in its thread): a GitHub App's installation token, live at that moment.
    auth_header: str | Callable[[], str | None] | None = None
    metadata: dict[str, Any] | None = None
    # How to fetch it again later (forge, API URL, the *name* of the token variable): stored with
    # each occurrence so a value can be re-read from the cache, or a fresh clone.
    access: dict[str, Any] | None = None


@dataclass(slots=True)
class Pending:
    label: str                      # names the work in an error line
    work: Awaitable[Any]            # returns a Unit, a GitTarget, a list of them, or None
    # What the work is, as plain data its source can turn into the same work again elsewhere
    # (`source.rebuild(run, spec)`): a distributed sweep sends it to a worker (keysweep/distributed).
    # None: the work can only be done here.
    spec: dict[str, Any] | None = None


Item = Union[Unit, GitTarget, Pending]


class SourceRun(Protocol):
    """What the runner gives a source: shared client and clock, store look-ups, error reporting."""

    ctx: "Context"
    max_age_days: int
    max_size: int
    rules_digest: str

    def error(self, message: str) -> None: ...
    def already(self, source: str, scope: str) -> set[str]: ...
    def validator(self, url: str) -> tuple[str, str | None] | None: ...
    def remember(self, validators: list[tuple[str, str, str | None]]) -> None: ...
    def now(self) -> datetime: ...


class RemoteSource(Protocol):
    label: str

    def items(self, run: SourceRun) -> AsyncIterator[Item]: ...


class PerTargetSource:
    """A source read one target at a time in a thread (an Azure vault, a GCP project, a Kubernetes
    namespace, a Vault KV mount), through a blocking SDK. A target is plain data named by `fields`
    (`{"vault": url}`); its Pending's spec is `{"op": "read", **target}`, so a distributed sweep's
    worker does the same work again (`rebuild`). A source says which targets it has (`targets`),
    which a spec may name (`knows`), each one's store scope (`scope`) and how one is read (`read`,
    given what the store already holds of its scope)."""

    label: str                      # names the source in error lines
    source: str                     # store source name of its units, e.g. "azure-keyvault"
    fields: tuple[str, ...]         # what names one target, e.g. ("vault",); one that is None is left out of the spec

    def targets(self, run: SourceRun) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(label, target) for each target to read."""
        raise NotImplementedError

    def knows(self, **target: Any) -> bool:
        """Whether a target a spec names (from another machine) is one of this source's."""
        raise NotImplementedError

    def scope(self, **target: Any) -> str:
        raise NotImplementedError

    def read(self, run: SourceRun, scope: str, already: set[str], **target: Any) -> Unit | None:
        """The target's unit, or None when nothing of it could be read (an error line says why)."""
        raise NotImplementedError

    async def items(self, run: SourceRun) -> AsyncIterator[Item]:
        async for label, target in self.targets(run):
            yield self._pending(run, label, target)

    def rebuild(self, run: SourceRun, item: Pending) -> Pending:
        """One target read again from its Pending's `spec` (a distributed sweep's worker, with the
        credentials of its own environment)."""
        spec = item.spec or {}
        target = {name: spec.get(name) for name in self.fields}
        if spec.get("op") != "read" or not self.knows(**target):
            raise RemoteError(f"{self.label}: unknown unit {spec.get('op')!r}")
        return self._pending(run, item.label, target)

    def _pending(self, run: SourceRun, label: str, target: dict[str, Any]) -> Pending:
        spec = {name: value for name, value in target.items() if value is not None}  # a field left out is None
        return Pending(label, self._read(run, target), {"op": "read", **spec})

    async def _read(self, run: SourceRun, target: dict[str, Any]) -> Unit | None:
        import asyncio  # noqa: PLC0415  (only a sweep awaits it; importing the data model loads no event loop)

        scope = self.scope(**target)
        already = set(run.already(self.source, scope))  # the store is read on the event loop's thread
        return await asyncio.to_thread(self.read, run, scope, already, **target)


# -- helpers shared by the sources ----------------------------------------------------------------
def optional_module(name: str, needs: str, extra: str):
    """The module `name` of an optional extra; a usage error naming the extra when it is absent."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise KeysweepError(f"reading {needs}: pip install 'keysweep[{extra}]'") from None


def error_line(exc: BaseException) -> str:
    """An SDK error as one line, `Name: message` (300 characters at most)."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    return f"{name}: {text}"[:300] if text else name


def inventory_sha256(identity: str) -> str:
    """secret_sha256 of an inventory record: SHA-256 of a namespaced description, never of a value
    (none was read), so it can never collide with the fingerprint of a real secret."""
    return hashlib.sha256(f"keysweep-inventory\0{identity}".encode()).hexdigest()


def parse_time(value: Any) -> datetime | None:
    """An API timestamp (ISO 8601 string or datetime) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = parse_utc(str(value))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def iso(value: Any) -> str | None:
    moment = parse_time(value)
    return utc_iso(moment) if moment else None


def age_days(value: Any, now: datetime) -> int | None:
    moment = parse_time(value)
    return None if moment is None else int((now - moment).total_seconds() // 86400)


def older_than(value: Any, now: datetime, days: int) -> bool:
    """Whether a timestamp lies more than `days` days before `now` (exact, not whole days: with
    an age limit of 0 anything older than now counts)."""
    moment = parse_time(value)
    return moment is not None and now - moment > timedelta(days=days)


def describe_exception(exc: BaseException) -> str:
    """One line for an error line: never a traceback, never a request body or header."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    if isinstance(exc, (RemoteError,)) or type(exc).__name__ in {"TransportError", "SourceError"}:
        return text
    return f"{type(exc).__name__}: {text}"[:500]


def entry_text(name: str, value: str) -> str:
    """Variables are matched as `NAME=value`: the name gives keyword rules their context."""
    return f"{name}={value}"


def inventory_rules() -> list:
    """Rules of inventory findings, for rendering (name, confidence, SARIF descriptor). They match
    nothing: the sources report these from metadata."""
    never = "(?!)"
    return [
        Rule(id="github.actions-stale-secret", name="GitHub Actions secret not updated for too long",
             provider="github-actions", regex=never, confidence="medium",
             description="A GitHub Actions secret (repository, environment or organization) whose value has "
                         "not been updated for longer than the age limit. Its value cannot be read back, so "
                         "whatever credential it holds has lived at least that long.",
             references=("https://docs.github.com/en/rest/actions/secrets",)),
        Rule(id="github.dependabot-stale-secret", name="GitHub Dependabot secret not updated for too long",
             provider="github-dependabot", regex=never, confidence="medium",
             description="A Dependabot secret (repository or organization) whose value has not been updated for "
                         "longer than the age limit: typically a private registry's token, which has lived at "
                         "least that long.",
             references=("https://docs.github.com/en/rest/dependabot/secrets",)),
        Rule(id="github.codespaces-stale-secret", name="GitHub Codespaces secret not updated for too long",
             provider="github-codespaces", regex=never, confidence="medium",
             description="A Codespaces secret (repository or organization) whose value has not been updated for "
                         "longer than the age limit; every codespace of the repositories it is shared with gets "
                         "it as an environment variable.",
             references=("https://docs.github.com/en/rest/codespaces/repository-secrets",
                         "https://docs.github.com/en/rest/codespaces/organization-secrets")),
        Rule(id="gitlab.ci-hidden-variable", name="GitLab masked and hidden CI/CD variable",
             provider="gitlab-ci", regex=never, confidence="low",
             description="A GitLab CI/CD variable created masked and hidden: its value cannot be read back, "
                         "so it is listed as inventory to review (owner, purpose, rotation).",
             references=("https://docs.gitlab.com/api/project_level_variables/",)),
        Rule(id="aws.iam-stale-access-key", name="Active AWS IAM access key older than the age limit",
             provider="aws", regex=never, confidence="high",
             description="An active long-term IAM user access key created longer ago than the age limit. "
                         "It signs requests until someone deactivates it, whether or not it leaked.",
             references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",)),
    ]
