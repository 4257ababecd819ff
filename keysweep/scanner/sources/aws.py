"""AWS: Secrets Manager, SSM Parameter Store, Lambda environment variables of every published version (values matched in memory)
and IAM access keys (inventoried by age), per profile and region, through boto3.

boto3 uses its standard credential chain and endpoint settings (AWS_ENDPOINT_URL and the
per-service variants are honoured by botocore itself); `endpoint_url` overrides them. Retries use
botocore's "standard" mode (exponential backoff with jitter on throttling and 5xx). Each (profile,
region, service) is one unit of work: a throttled region or a denied service is one error line.

Incremental: a secret version (ARN@version id), a parameter version (name@version) or a function
revision (ARN@revision id) already read with the same rules is not read again, which also spares
a GetSecretValue (logged in CloudTrail, bumps LastAccessedDate) when nothing changed.

With `versions`: every other *staged* version of a secret too (AWSPREVIOUS, AWSPENDING, custom
labels: those ListSecrets names in SecretVersionsToStages; versions without a label are the ones
Secrets Manager is about to delete), each by GetSecretValue(VersionId); and every older version of
a parameter (GetParameterHistory WithDecryption, up to the 100 SSM keeps), asked once per
parameter version (`name@history:N` marks the history read up to version N).
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any, AsyncIterator, Iterable

from keysweep.errors import KeysweepError
from keysweep.models import ACCESS
from keysweep.scanner.sources import looks_binary
from keysweep.scanner.sources.remote import (
    Entry,
    InventoryRecord,
    Item,
    Pending,
    RemoteError,
    SourceRun,
    Unit,
    ValueGroup,
    age_days,
    entry_text,
    iso,
    older_than,
)

SERVICES = ("secretsmanager", "ssm", "lambda", "iam")
ROLE_SESSION_NAME = "keysweep"
XML_ERROR = re.compile(r"<Code>([^<]{1,100})</Code>\s*<Message>([^<]{0,300})</Message>")
# An IAM role ARN (aws, aws-cn, aws-us-gov partitions; a path is allowed before the name).
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def check_role_arn(value: str | None, what: str = "--role-arn") -> str | None:
    """A role ARN as given, or a one-line KeysweepError (exit 2) before any call."""
    if value in (None, ""):
        return None
    if not ROLE_ARN.match(str(value).strip()):
        raise KeysweepError(f"{what} {value!r}: expected an IAM role ARN, e.g. arn:aws:iam::123456789012:role/keysweep-audit")
    return str(value).strip()


def role_session(profile: str | None, role_arn: str, endpoint_url: str | None = None):
    """A boto3 session acting as `role_arn`: sts:AssumeRole with the profile's (or the default
    chain's) credentials, session name "keysweep", and botocore's refreshable credentials, which
    assume the role again before the temporary credentials expire (a scan longer than an hour goes
    on). STS is asked at `endpoint_url` when one is set, else where boto3 sends it."""
    import boto3
    from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

    session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    source = session.get_credentials()
    if source is None:
        raise RemoteError("no AWS credentials found to assume the role with (environment, shared files, SSO, "
                          "instance role, web identity)")
    core = session._session  # botocore's session under boto3's: its config and client factory

    def create_client(service: str, *args: Any, **kwargs: Any):
        if endpoint_url:
            kwargs.setdefault("endpoint_url", endpoint_url)
        return core.create_client(service, *args, **kwargs)

    fetcher = AssumeRoleCredentialFetcher(create_client, source, role_arn,
                                          extra_args={"RoleSessionName": ROLE_SESSION_NAME})
    # The role's credentials replace the source's for every client of this session (boto3 has no
    # public setter; this is botocore's documented refreshable-credentials object).
    core._credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
    return session


def aws_error(exc: BaseException) -> str:
    """One line from a botocore error: the code and message, never the request."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        error = response["Error"]
        code = error.get("Code") or "Error"
        message = " ".join(str(error.get("Message") or "").split())
        embedded = XML_ERROR.search(message)
        if embedded:  # a query-protocol (XML) error body where JSON was expected: its code and message
            code, message = embedded.group(1), embedded.group(2)
        return f"{code}: {message}"[:300] if message else str(code)
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if isinstance(exc, RemoteError):
        return text
    if name == "NoCredentialsError":
        return "no AWS credentials found (environment, shared files, SSO, instance role)"
    if name == "ProfileNotFound":
        return text
    return f"{name}: {text}"[:300] if text else name


class AwsSource:
    label = "aws"

    def __init__(self, *, regions: Iterable[str] = (), profiles: Iterable[str] = (), endpoint_url: str | None = None,
                 services: Iterable[str] = SERVICES, max_workers: int = 4, role_arn: str | None = None,
                 versions: bool = False) -> None:
        self.regions = [r for r in regions if r]
        self.profiles = [p for p in profiles if p] or [None]
        self.endpoint_url = endpoint_url or None
        # keysweep's own access, short-lived: every call as this role (sts:AssumeRole, refreshed).
        self.role_arn = role_arn or None
        self.services = [s for s in SERVICES if s in set(services)]
        self.versions = versions  # older staged secret versions and parameter history too
        self._lock = threading.Lock()
        self._sessions: dict[str | None, Any] = {}
        self._clients: dict[tuple[str | None, str, str | None], Any] = {}

    # -- boto3 (called in worker threads) ------------------------------------------------------
    # Sessions and client creation are not thread-safe, clients are: create under a lock, once.
    def _session(self, profile: str | None):
        import boto3

        with self._lock:
            if profile not in self._sessions:
                if self.role_arn:
                    self._sessions[profile] = role_session(profile, self.role_arn, self.endpoint_url)
                else:
                    self._sessions[profile] = (boto3.session.Session(profile_name=profile) if profile
                                               else boto3.session.Session())
            return self._sessions[profile]

    def _client(self, profile: str | None, service: str, region: str | None):
        from botocore.config import Config

        session = self._session(profile)
        with self._lock:
            key = (profile, service, region)
            if key not in self._clients:
                config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10,
                                read_timeout=30, user_agent_extra="keysweep")
                kwargs: dict[str, Any] = {"config": config, "region_name": region or "us-east-1"}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                self._clients[key] = session.client(service, **kwargs)
            return self._clients[key]

    def _access(self, profile: str | None) -> dict[str, Any]:
        """How a later re-read reaches the same account: the profile's *name* and the endpoint
        (never a credential); empty for the default chain and endpoint."""
        access = {"profile": profile, "endpoint_url": self.endpoint_url, "role_arn": self.role_arn}
        return {ACCESS: {k: v for k, v in access.items() if v}} if any(access.values()) else {}

    def _regions(self, profile: str | None) -> list[str]:
        if self.regions:
            return self.regions
        return [self._session(profile).region_name or "us-east-1"]

    # -- the source ---------------------------------------------------------------------------
    async def items(self, run: SourceRun) -> AsyncIterator[Item]:
        for profile in self.profiles:
            name = profile or "default"
            try:
                regions = await asyncio.to_thread(self._regions, profile)
            except Exception as exc:
                run.error(f"aws profile {name}: {aws_error(exc)}")
                continue
            if "iam" in self.services:
                yield Pending(f"aws {name} iam", self._later(run, self.iam, profile, None),
                              {"op": "read", "service": "iam", "profile": profile, "region": None})
            for region in regions:
                for service in self.services:
                    if service == "iam":
                        continue
                    yield Pending(f"aws {name} {region} {service}", self._later(run, self._reader(service), profile, region),
                                  {"op": "read", "service": service, "profile": profile, "region": region})

    def _reader(self, service: str):
        return {"secretsmanager": self.secretsmanager, "ssm": self.ssm, "lambda": self.lambda_env, "iam": self.iam}[service]

    def rebuild(self, run: SourceRun, item: Pending) -> Pending:
        """One account × region × service read again from its `spec` (a distributed sweep's worker)."""
        spec = item.spec or {}
        if spec.get("op") != "read" or spec.get("service") not in SERVICES:
            raise RemoteError(f"aws: unknown unit {spec.get('op')!r}")
        return Pending(item.label, self._later(run, self._reader(spec["service"]), spec.get("profile"),
                                               spec.get("region")), spec)

    async def _later(self, run: SourceRun, reader, profile: str | None, region: str | None) -> Unit:
        scope = f"aws:{profile or 'default'}:{region or 'global'}"
        # The store is only read from the event loop thread: take what is already read first.
        source = {self.secretsmanager: "aws-secretsmanager", self.ssm: "aws-ssm", self.lambda_env: "aws-lambda",
                  self.iam: "aws-iam"}[reader]
        already = set(run.already(source, scope))
        try:
            return await asyncio.to_thread(reader, run, profile, region, scope, already)
        except RemoteError:
            raise
        except Exception as exc:
            raise RemoteError(aws_error(exc)) from None

    def secretsmanager(self, run: SourceRun, profile, region, scope: str, already: set[str]) -> Unit:
        client = self._client(profile, "secretsmanager", region)
        unit = Unit(source="aws-secretsmanager", scope=scope)
        wanted: dict[str, tuple[str, dict[str, Any]]] = {}
        staged: list[tuple[str, str, list[str], dict[str, Any]]] = []  # (arn, version, stages, metadata)
        now = run.now()
        for page in client.get_paginator("list_secrets").paginate():
            for secret in page.get("SecretList", []):
                arn = secret.get("ARN")
                stages = secret.get("SecretVersionsToStages") or {}
                version = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
                if not arn or secret.get("DeletedDate"):
                    continue
                if version is None:
                    version = (client.describe_secret(SecretId=arn).get("VersionIdsToStages") or {})
                    version = next((v for v, s in version.items() if "AWSCURRENT" in s), None)
                if version is None:
                    continue
                object_id = f"{arn}@{version}"
                older = [(v, sorted(s)) for v, s in stages.items() if s and "AWSCURRENT" not in s
                         and f"{arn}@{v}" not in already] if self.versions else []
                if object_id in already and not older:
                    continue
                rotated = secret.get("LastRotatedDate")
                changed = secret.get("LastChangedDate") or secret.get("CreatedDate")
                metadata = {
                    "name": secret.get("Name"),
                    "rotation_enabled": bool(secret.get("RotationEnabled", False)),
                    "last_rotated_at": iso(rotated), "last_changed_at": iso(secret.get("LastChangedDate")),
                    "last_accessed_at": iso(secret.get("LastAccessedDate")), "created_at": iso(secret.get("CreatedDate")),
                    "next_rotation_at": iso(secret.get("NextRotationDate")),
                    "rotation_lambda_arn": secret.get("RotationLambdaARN"),
                    "days_since_rotation": age_days(rotated or changed, now),
                    "tags": {t.get("Key"): t.get("Value") for t in secret.get("Tags") or [] if t.get("Key")} or None,
                }
                kept = {k: v for k, v in metadata.items() if v is not None}
                staged.extend((arn, v, labels, kept) for v, labels in older)
                if object_id not in already:
                    wanted[arn] = (version, kept)
        arns = list(wanted)
        values: dict[str, Any] = {}
        for start in range(0, len(arns), 20):
            batch = arns[start:start + 20]
            try:
                answer = client.batch_get_secret_value(SecretIdList=batch)
                for item in answer.get("SecretValues", []):
                    values[item.get("ARN")] = item
                for failure in answer.get("Errors", []):
                    run.error(f"aws {scope} secretsmanager {failure.get('SecretId')}: "
                              f"{failure.get('ErrorCode')}: {' '.join(str(failure.get('Message', '')).split())}")
            except Exception as exc:  # no BatchGetSecretValue permission: one by one
                if "AccessDenied" not in aws_error(exc) and "UnknownOperation" not in aws_error(exc) \
                        and "InvalidAction" not in aws_error(exc):
                    raise
                for arn in batch:
                    try:
                        values[arn] = client.get_secret_value(SecretId=arn, VersionId=wanted[arn][0])
                    except Exception as single:
                        run.error(f"aws {scope} secretsmanager {arn}: {aws_error(single)}")
        for arn, (version, metadata) in wanted.items():
            item = values.get(arn)
            if item is None:
                continue
            text = item.get("SecretString")
            if text is None and item.get("SecretBinary") is not None:
                raw = item["SecretBinary"]
                text = None if looks_binary(raw) else raw.decode("utf-8", "replace")
            read_version = item.get("VersionId") or version
            object_id = f"{arn}@{read_version}"
            if text is None:
                unit.scanned_objects.append(object_id)
                continue
            locator = {"arn": arn, "version_id": read_version, "region": region,
                       "resource": f"secretsmanager {region} {metadata.get('name') or arn}", **self._access(profile)}
            # When the value was put there: the secret's last change (a new version is one).
            at = metadata.get("last_changed_at") or metadata.get("created_at")
            unit.groups.append(ValueGroup("aws-secretsmanager", [Entry(text, locator, metadata, at=at)], object_id))
        for arn, version, labels, metadata in staged:
            self._staged_version(run, client, unit, scope, region, profile, arn, version, labels, metadata)
        return unit

    def _staged_version(self, run: SourceRun, client, unit: Unit, scope: str, region, profile, arn: str,
                        version: str, labels: list[str], metadata: dict[str, Any]) -> None:
        """One staged version other than AWSCURRENT (AWSPREVIOUS: the value before the last
        rotation or change, still valid for whatever was not moved to the new one)."""
        try:
            item = client.get_secret_value(SecretId=arn, VersionId=version)
        except Exception as exc:
            run.error(f"aws {scope} secretsmanager {arn} ({'/'.join(labels)}): {aws_error(exc)}")
            return
        object_id = f"{arn}@{version}"
        text = item.get("SecretString")
        if text is None and item.get("SecretBinary") is not None:
            raw = item["SecretBinary"]
            text = None if looks_binary(raw) else raw.decode("utf-8", "replace")
        if text is None:
            unit.scanned_objects.append(object_id)
            return
        shown = metadata.get("name") or arn
        locator = {"arn": arn, "version_id": version, "region": region,
                   "resource": f"secretsmanager {region} {shown} ({'/'.join(labels)})", **self._access(profile)}
        metadata = {**metadata, "stages": labels, "version_created_at": iso(item.get("CreatedDate"))}
        unit.groups.append(ValueGroup("aws-secretsmanager", [Entry(text, locator, {
            k: v for k, v in metadata.items() if v is not None})], object_id))

    def ssm(self, run: SourceRun, profile, region, scope: str, already: set[str]) -> Unit:
        client = self._client(profile, "ssm", region)
        unit = Unit(source="aws-ssm", scope=scope)
        wanted: dict[str, dict[str, Any]] = {}
        histories: list[tuple[str, int]] = []  # (name, current version) whose older versions are to read
        for page in client.get_paginator("describe_parameters").paginate():
            for parameter in page.get("Parameters", []):
                name, version = parameter.get("Name"), parameter.get("Version")
                if self.versions and name and isinstance(version, int) and version > 1 \
                        and f"{name}@history:{version}" not in already:
                    histories.append((name, version))
                if not name or f"{name}@{version}" in already:
                    continue
                wanted[name] = {k: v for k, v in {
                    "type": parameter.get("Type"), "version": version, "tier": parameter.get("Tier"),
                    "last_modified_at": iso(parameter.get("LastModifiedDate")),
                    "last_modified_user": parameter.get("LastModifiedUser"), "kms_key_id": parameter.get("KeyId"),
                }.items() if v is not None}
        names = list(wanted)
        for start in range(0, len(names), 10):
            answer = client.get_parameters(Names=names[start:start + 10], WithDecryption=True)
            for invalid in answer.get("InvalidParameters", []):
                run.error(f"aws {scope} ssm {invalid}: cannot be read")
            for parameter in answer.get("Parameters", []):
                name, value = parameter.get("Name"), parameter.get("Value")
                version = parameter.get("Version")
                metadata = dict(wanted.get(name) or {})
                metadata["version"] = version
                locator = {"name": name, "version": version, "arn": parameter.get("ARN"), "region": region,
                           "resource": f"ssm {region} {name} (v{version})", **self._access(profile)}
                if not isinstance(value, str):
                    continue
                # LastModifiedDate is the date of the version read (each put makes a new version).
                unit.groups.append(ValueGroup("aws-ssm", [Entry(entry_text(name, value), locator, metadata,
                                                                iso(parameter.get("LastModifiedDate"))
                                                                or metadata.get("last_modified_at"))],
                                              f"{name}@{version}"))
        for name, current in histories:
            if not self._history(run, client, unit, scope, region, profile, name, current, already):
                break
        return unit

    def _history(self, run: SourceRun, client, unit: Unit, scope: str, region, profile, name: str, current: int,
                 already: set[str]) -> bool:
        """The parameter's versions before `current` (GetParameterHistory, decrypted); False when
        the history may not be read at all (one error line for the scope, not one per parameter)."""
        try:
            history = [p for page in client.get_paginator("get_parameter_history").paginate(
                Name=name, WithDecryption=True) for p in page.get("Parameters", [])]
        except Exception as exc:
            message = aws_error(exc)
            run.error(f"aws {scope} ssm {name}: cannot read its history ({message})")
            return "AccessDenied" not in message
        for parameter in history:
            version, value = parameter.get("Version"), parameter.get("Value")
            if not isinstance(version, int) or version >= current or f"{name}@{version}" in already \
                    or not isinstance(value, str):
                continue
            metadata = {k: v for k, v in {
                "type": parameter.get("Type"), "version": version, "current_version": current,
                "tier": parameter.get("Tier"), "last_modified_at": iso(parameter.get("LastModifiedDate")),
                "last_modified_user": parameter.get("LastModifiedUser"), "kms_key_id": parameter.get("KeyId"),
                "labels": parameter.get("Labels") or None,
            }.items() if v is not None}
            locator = {"name": name, "version": version, "region": region,
                       "resource": f"ssm {region} {name} (v{version}, history)", **self._access(profile)}
            unit.groups.append(ValueGroup("aws-ssm", [Entry(entry_text(name, value), locator, metadata,
                                                            iso(parameter.get("LastModifiedDate")))], f"{name}@{version}"))
        unit.scanned_objects.append(f"{name}@history:{current}")
        return True

    def lambda_env(self, run: SourceRun, profile, region, scope: str, already: set[str]) -> Unit:
        client = self._client(profile, "lambda", region)
        unit = Unit(source="aws-lambda", scope=scope)
        for page in client.get_paginator("list_functions").paginate(FunctionVersion="ALL"):
            for function in page.get("Functions", []):
                arn, name = function.get("FunctionArn"), function.get("FunctionName")
                revision = function.get("RevisionId") or function.get("LastModified") or ""
                object_id = f"{arn}@{revision}"
                if not arn or object_id in already:
                    continue
                environment = function.get("Environment")
                if environment is None:
                    environment = client.get_function_configuration(FunctionName=arn).get("Environment") or {}
                if environment.get("Error"):
                    run.error(f"aws {scope} lambda {name}: environment unreadable: "
                              f"{environment['Error'].get('ErrorCode')}")
                    continue
                variables = environment.get("Variables") or {}
                metadata = {k: v for k, v in {"last_modified_at": iso(function.get("LastModified")),
                                              "runtime": function.get("Runtime"), "role": function.get("Role"),
                                              "revision_id": function.get("RevisionId")}.items() if v is not None}
                entries = [Entry(entry_text(key, value),
                                 {"function_arn": arn, "function": name, "version": function.get("Version"),
                                  "variable": key, "region": region,
                                  "resource": f"lambda {region} {name}:{function.get('Version') or '$LATEST'} env {key}",
                                  **self._access(profile)},
                                 metadata)
                           for key, value in sorted(variables.items()) if isinstance(value, str)]
                if entries:
                    unit.groups.append(ValueGroup("aws-lambda-env", entries, object_id))
                else:
                    unit.scanned_objects.append(object_id)
        return unit

    def iam(self, run: SourceRun, profile, region, scope: str, already: set[str]) -> Unit:
        client = self._client(profile, "iam", region)
        unit = Unit(source="aws-iam", scope=scope)
        now = run.now()
        for page in client.get_paginator("list_users").paginate():
            for user in page.get("Users", []):
                user_name, user_arn = user.get("UserName"), user.get("Arn") or ""
                account = user_arn.split(":")[4] if user_arn.count(":") >= 5 else None
                try:
                    keys = client.list_access_keys(UserName=user_name).get("AccessKeyMetadata", [])
                except Exception as exc:
                    run.error(f"aws {scope} iam user {user_name}: {aws_error(exc)}")
                    continue
                for key in keys:
                    key_id, created = key.get("AccessKeyId"), key.get("CreateDate")
                    age = age_days(created, now)
                    if key.get("Status") != "Active" or not older_than(created, now, run.max_age_days):
                        continue
                    last: dict[str, Any] = {}
                    try:
                        last = client.get_access_key_last_used(AccessKeyId=key_id).get("AccessKeyLastUsed") or {}
                    except Exception as exc:
                        run.error(f"aws {scope} iam key {key_id}: {aws_error(exc)}")
                    metadata = {k: v for k, v in {
                        "user": user_name, "user_arn": user_arn or None, "account": account,
                        "created_at": iso(created), "age_days": age, "max_age_days": run.max_age_days,
                        "status": key.get("Status"), "last_used_at": iso(last.get("LastUsedDate")),
                        "last_used_service": None if last.get("ServiceName") in (None, "N/A") else last.get("ServiceName"),
                        "last_used_region": None if last.get("Region") in (None, "N/A") else last.get("Region"),
                    }.items() if v is not None}
                    unit.inventory.append(InventoryRecord(
                        kind="aws-iam-access-key", rule_id="aws.iam-stale-access-key", provider="aws",
                        identity=f"aws-iam-access-key\0{key_id}", redacted=f"{key_id[:4]}…{key_id[-4:]}",
                        key_id=key_id, metadata=metadata,
                        locator={"user": user_name, "access_key_id": key_id, "account": account,
                                 "resource": f"iam user {user_name} access key {key_id}"}))
        return unit
