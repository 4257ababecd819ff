"""Owner notifications through webhooks (`[notify]` in keysweep.toml).

    [notify]
    webhook_env = "KEYSWEEP_WEBHOOK_URL"   # name of an environment variable holding the URL
    # webhook = "https://…"                # or the URL itself (Slack hook URLs are secrets: prefer _env)
    format = "slack"                       # "slack" (text + blocks) or "json" (generic)

    [notify.teams.payments]                # per team (owner's team), or per owner in [notify.owners."name"]
    webhook_env = "PAYMENTS_WEBHOOK"
    format = "json"

Every request is signed when a signing secret is set (the environment variable named by
`signing_secret_env`, default KEYSWEEP_WEBHOOK_SECRET; a team's or owner's entry may name its own):
`X-Keysweep-Timestamp: <unix seconds>` and `X-Keysweep-Signature-256: sha256=<hex HMAC-SHA256(secret,
timestamp + "." + body)>`, so a receiver can reject a spoofed or replayed "key revoked" message
(docs/revocation.md gives the check). A `signing_secret_env` set in keysweep.toml whose variable
is empty is a misconfiguration: nothing is sent unsigned to that target (its status says why).

Messages name a finding by id, provider, redacted form and place; never by value. The webhook
URL itself is never printed or recorded (it may carry a token): only its host.

Places, owner names, the key's reach and error details come from scanned data and end up in chat
tools: they carry no control or bidi characters (`keysweep.sanitize.terminal_safe`). In a Slack
message each is a code span (`keysweep.sanitize.slack_code`): `&`, `<` and `>` escaped as Slack asks,
so a file named `<https://evil|rotate here>` or `<!here>` is neither a link nor a mention, and no
`*bold*`, `_italic_`, `~strike~` or `>` quote of its own; each is cut to 300 characters. The
message's section is `verbatim`, so Slack links no bare URL or channel name in it either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keysweep.http import TransportError
from keysweep.locations import describe_all, describe_finding
from keysweep.providers import provider as provider_record
from keysweep.remediation.secrets import scrub
from keysweep.sanitize import slack_code, slack_escape, terminal_safe
from keysweep.scanner.rules import finding_replacement
from keysweep.verify.reach import finding_reach, finding_severity, reach_summary

if TYPE_CHECKING:
    from keysweep.context import Context
    from keysweep.models import Finding

KIND_TITLES = {
    "found": "A credential of yours was found",
    "revoked": "A leaked credential of yours was revoked",
    "cannot_revoke": "A leaked credential of yours must be revoked by hand",
    "failed": "Automatic revocation of your leaked credential failed",
}


SIGNING_SECRET_ENV = "KEYSWEEP_WEBHOOK_SECRET"
TIMESTAMP_HEADER = "X-Keysweep-Timestamp"
SIGNATURE_HEADER = "X-Keysweep-Signature-256"


@dataclass
class Target:
    url: str
    format: str  # slack | json
    name: str    # which config entry (for records): "default", "team:payments", …
    # The HMAC key (never shown); None: unsigned. `unsigned_why`: a configured secret is missing.
    secret: bytes | None = field(default=None, repr=False)
    unsigned_why: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"


def signature(secret: bytes, timestamp: str, payload: bytes) -> str:
    """`sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`: the X-Keysweep-Signature-256 value."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + payload, hashlib.sha256).hexdigest()


def signed_headers(secret: bytes | None, payload: bytes, now: float) -> dict[str, str]:
    """The request's headers: JSON, and with a secret the timestamp and the signature over them."""
    headers = {"Content-Type": "application/json"}
    if secret:
        timestamp = str(int(now))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, payload)
    return headers


def _entry(entry: dict[str, Any], env, name: str, default_secret_env: str | None) -> Target | None:
    url = entry.get("webhook") or (env.get(entry["webhook_env"]) if entry.get("webhook_env") else None)
    if not url:
        return None
    configured = entry.get("signing_secret_env") or default_secret_env
    secret_env = configured or SIGNING_SECRET_ENV
    secret = env.get(secret_env) or None
    unsigned_why = f"not sent: ${secret_env} (signing_secret_env) is not set" if configured and not secret else None
    return Target(url=url, format=entry.get("format", "slack"), name=name,
                  secret=secret.encode("utf-8") if secret else None, unsigned_why=unsigned_why)


def targets_for(finding: "Finding", settings) -> list[Target]:
    """The owner's webhook, else the team's, else the default one."""
    config = settings.section("notify")
    default_secret_env = config.get("signing_secret_env")
    owner = finding.owner or {}
    for key, section in ((owner.get("name"), "owners"), (owner.get("team"), "teams")):
        if key and key in config.get(section, {}):
            target = _entry(config[section][key], settings.env, f"{section[:-1]}:{key}", default_secret_env)
            if target:
                return [target]
    target = _entry(config, settings.env, "default", default_secret_env)
    return [target] if target else []


def where(finding: "Finding") -> str:
    """The finding's first place as the scan table names it, and how many more (one naming for all)."""
    return describe_finding(finding)


def locations(finding: "Finding") -> list[str]:
    return describe_all(finding)


def message(kind: str, finding: "Finding", detail: str = "") -> dict[str, Any]:
    """The facts of a notification: identifiers, place, owner, what to do. No value."""
    owner = finding.owner or {}
    console = provider_record(finding.provider).console_url
    action = {
        "revoked": "Issue a replacement and update whatever used it.",
        "cannot_revoke": f"Revoke it now{' at ' + console if console else ''}, issue a replacement, and update "
                         f"whatever used it. keysweep keeps checking until it no longer works.",
        "failed": f"Revoke it by hand{' at ' + console if console else ''}; keysweep keeps checking.",
        "found": "It will be revoked; prepare a replacement.",
    }.get(kind, "")
    def shown(value: Any) -> Any:
        return terminal_safe(value) if isinstance(value, str) else value

    replacement = finding_replacement(finding)
    return {"event": kind, "title": KIND_TITLES.get(kind, kind), "finding": finding.id,
            "provider": finding.provider, "rule_id": finding.rule_id, "redacted": shown(finding.redacted),
            "key_id": shown(finding.key_id), "where": shown(where(finding)),
            "locations": [shown(place) for place in locations(finding)], "owner": shown(owner.get("name")),
            "team": shown(owner.get("team")), "console": console, "action": action, "detail": shown(detail) or None,
            # What to issue instead of another standing key (its provider's or its rule's; docs/output.md).
            "replacement": replacement.as_json() if replacement else None,
            # How urgent, and what the key can do (docs/output.md `reach`; null until one was read).
            "severity": finding_severity(finding), "reach": finding_reach(finding)}


# Slack refuses a section whose text is longer than this (Block Kit text object: 3000 characters),
# and with it the whole message: the owner would not be told.
SLACK_SECTION_LIMIT = 3000


def _places(facts: dict[str, Any], budget: int, shown: int = 5) -> str:
    """The first places, each a code span, and how many more, in at most `budget` characters: as
    many places as fit (the first cut to fit if it must)."""
    places = facts.get("locations") or [facts["where"]]
    spans: list[str] = []
    for index, place in enumerate(places[:shown]):
        more = len(places) - index - 1
        suffix = f" (+{more} more)" if more else ""
        span = slack_code(place)
        used = len("; ".join([*spans, span]) + suffix)
        if used > budget:
            if spans:
                break
            span = slack_code(place, limit=max(16, budget - len(suffix) - 16))
        spans.append(span)
    more = len(places) - len(spans)
    return "; ".join(spans) + (f" (+{more} more)" if more > 0 else "")


_PLAIN_HTTPS = re.compile(r"https://[^\s<>|]+")


def _slack_link(url: str | None) -> str:
    """An https URL keysweep names (a provider's console, a replacement's docs) as Slack's explicit
    link `<url>` (no mrkdwn inside one: `_` and `*` in a URL stay as they are; `&` as `&amp;`);
    anything else as escaped text."""
    return f"<{slack_escape(url)}>" if url and _PLAIN_HTTPS.fullmatch(url) else slack_escape(url or "")


def body(target: Target, facts: dict[str, Any]) -> dict[str, Any]:
    """The request body: the facts as JSON, or a Slack message in which every string that came from
    scanned data or a provider is a code span (see the module's doc)."""
    if target.format == "json":
        return {"source": "keysweep", **facts}
    s, c = slack_escape, slack_code
    action = s(facts["action"])
    if facts.get("console"):  # keysweep's own link, still a link in a verbatim section
        action = action.replace(s(facts["console"]), _slack_link(facts["console"]))
    head = f"*{s(facts['title'])}*: {s(facts['provider'])} {c(facts['redacted'])} ({s(facts['rule_id'])}) in "
    tail = f"{' — owner ' + c(facts['owner']) if facts['owner'] else ''}. {action}"
    if facts.get("detail"):
        tail += f" ({c(facts['detail'])})"
    if facts.get("reach"):
        tail += f"\nIt can: {c(reach_summary(facts['reach']))}"
    if facts.get("replacement"):
        replacement = facts["replacement"]
        tail += f"\nInstead of a new standing key: {s(replacement['summary'])} {_slack_link(replacement['docs_url'])}"
    text = head + _places(facts, SLACK_SECTION_LIMIT - len(head) - len(tail)) + tail
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}]}


async def notify(kind: str, finding: "Finding", ctx: "Context", detail: str = "") -> list[dict[str, Any]]:
    """Send to the finding's targets; returns [{target, host, status}] (no URLs). Never raises."""
    facts = message(kind, finding, scrub(detail, ctx) or "")
    sent = []
    for target in targets_for(finding, ctx.settings):
        if target.unsigned_why:
            sent.append({"target": target.name, "host": target.host, "status": target.unsigned_why, "ok": False})
            continue
        # The exact bytes sent are the bytes signed (retries resend them with the same timestamp).
        payload = json.dumps(body(target, facts)).encode("utf-8")
        try:
            response = await ctx.http.request("POST", target.url, data=payload,
                                              headers=signed_headers(target.secret, payload, time.time()))
            status = str(response.status)
            ok = 200 <= response.status < 300
        except TransportError:
            status, ok = "no response", False
        sent.append({"target": target.name, "host": target.host, "status": status, "ok": ok})
    return sent


class Notifier:
    """Owner notifications for one context: what `ctx.notify` holds for revocation (the notify
    revoker sits below this package and reaches it only through the context)."""

    def __init__(self, ctx: "Context") -> None:
        self._ctx = ctx

    def console(self, provider: str) -> str:
        return provider_record(provider).console_url or "the provider's console"

    def targets(self, finding: "Finding") -> list[Target]:
        return targets_for(finding, self._ctx.settings)

    async def send(self, kind: str, finding: "Finding", detail: str = "") -> list[dict[str, Any]]:
        return await notify(kind, finding, self._ctx, detail)


def dumps(facts: dict[str, Any]) -> str:
    return json.dumps(facts, sort_keys=True)
