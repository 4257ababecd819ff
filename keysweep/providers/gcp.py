"""GCP service-account JSON keys.

The finding's secret is the private key, canonicalised as in `private_key.canonical_pem`: its
SHA-256 is the same whether the JSON is pretty-printed or minified, escaped inside another JSON
string, base64-encoded in a Kubernetes Secret or CI variable, or saved as a bare PEM file. The
key's identifier `private_key_id` (40 hex; Google publishes it in the account's public certificate
list) is the finding's `key_id`, and `client_email` / `project_id` go to its metadata: with them a
responder can disable the key (`projects/-/serviceAccounts/EMAIL/keys/KEY_ID:disable`) without
reading the secret.
"""

from __future__ import annotations

import re

from keysweep.providers import private_key
from keysweep.providers.base import Endpoint, Provider, Replacement
from keysweep.providers.candidate import Candidate, Enriched

CONTEXT = 3000  # bytes either side of the private key searched for the other fields
_Q = rb'\\{0,3}"'  # a JSON quote, possibly escaped once or twice (JSON inside JSON)


def _field(name: bytes, value: bytes) -> re.Pattern:
    return re.compile(_Q + name + _Q + rb"\s{0,3}:\s{0,3}" + _Q + b"(?P<value>" + value + b")" + _Q)


_TYPE = _field(b"type", b"service_account")
_KEY_ID = _field(b"private_key_id", rb"[0-9a-f]{40}")
_EMAIL = _field(b"client_email", rb"[A-Za-z0-9._%+-]{1,100}@[A-Za-z0-9.-]{1,100}\.gserviceaccount\.com")
_PROJECT = _field(b"project_id", rb"[a-z][a-z0-9.:-]{3,60}")


def _nearest(pattern: re.Pattern, window: bytes, anchor: int) -> str | None:
    best = None
    for found in pattern.finditer(window):
        distance = abs(found.start() - anchor)
        if best is None or distance < best[0]:
            best = (distance, found["value"].decode("ascii"))
    return best[1] if best else None


def service_account(candidate: Candidate) -> Enriched | None:
    """The canonical key plus the account's identifiers; None when the JSON is no service-account
    key (a PEM in some other JSON is left to the private-key rule)."""
    parsed = private_key.parse(candidate.secret)
    if parsed is None:
        return None
    low = max(0, candidate.start - CONTEXT)
    window = candidate.content[low: candidate.end + CONTEXT]
    anchor = candidate.start - low
    email = _nearest(_EMAIL, window, anchor)
    if _TYPE.search(window) is None and email is None:
        return None
    key_id = _nearest(_KEY_ID, window, anchor)
    metadata = {name: value for name, value in (
        ("client_email", email), ("private_key_id", key_id), ("project_id", _nearest(_PROJECT, window, anchor)),
    ) if value}
    label, data = parsed
    return Enriched(secret=private_key.canonical_pem(label, data), key_id=key_id, metadata=metadata)


CHECKS: dict = {}
ENRICHERS = {"gcp_service_account": service_account}

# The IAM REST API, where service-account keys are disabled and deleted (revokers/gcp.py). Set by
# the provider's own base-URL setting (KEYSWEEP_GCP_BASE_URL, or `[providers.gcp] base_url`); its
# default is not the record's `base_url`, which would also give the host a request rate in runs
# that never call it.
IAM = Endpoint("KEYSWEEP_GCP_BASE_URL", "https://iam.googleapis.com")


def iam_url(settings) -> str:
    """The environment, then keysweep.toml, then Google's IAM API."""
    return settings.base_url("gcp") or IAM.default


PROVIDER = Provider(
    "gcp", "Google Cloud (service accounts)",
    endpoints={"iam": IAM},
    checks=CHECKS, enrichers=ENRICHERS,
    revokers={"gcp": "keysweep.revokers.gcp:GcpServiceAccountKeyRevoker"},
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "workload-identity-federation",
        "Stop using service-account key files. Workloads outside Google Cloud (GitHub Actions, GitLab CI, AWS, "
        "Azure, Kubernetes) use Workload Identity Federation: they exchange their own identity token for a "
        "short-lived access token that impersonates the service account. Workloads on Google Cloud use the service "
        "account attached to them. Then delete the key and enforce the iam.disableServiceAccountKeyCreation "
        "organization policy.",
        "https://cloud.google.com/iam/docs/workload-identity-federation"),
)
