"""Slack bot, user and app tokens (`xoxb-`, `xoxp-`, `xapp-`, …)."""

from __future__ import annotations

from keysweep.providers.base import Provider

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, NoFreeCheck, pick  # noqa: E402

# auth.test's documented errors that say the token itself is no good (Slack answers HTTP 200).
# Not `not_authed` (no token arrived: a proxy may have stripped it) nor `org_login_required`
# (a workspace migration), which say nothing about the token.
DEAD_ERRORS = ("invalid_auth", "token_revoked", "account_inactive", "token_expired")
BAD_TOKEN = tuple(DeadAnswer(200, {"ok": False, "error": error}, error, example={"ok": False, "error": error},
                             source="https://api.slack.com/methods/auth.test") for error in DEAD_ERRORS)


def _auth_test(body, response):
    if not isinstance(body, dict) or "ok" not in body:
        return None
    if body["ok"] is True:
        identity = pick(body, "team", "team_id", "user", "user_id", "bot_id", "url", "enterprise_id")
        identity["owner"] = body.get("user")
        return identity
    return {"_unknown": f"Slack said {str(body.get('error') or 'not ok')[:60]}"}


# POST auth.test: Slack answers 200 with ok true/false; the error code tells a dead token.
_AUTH_TEST = HttpVerifier("slack", ("slack",), "/auth.test", method="POST", live=_auth_test, dead=BAD_TOKEN)
_WEBHOOK = NoFreeCheck("slack", ("slack",), "an incoming webhook can only be checked by posting to it; not checked")


class SlackVerifier:
    name = "slack"
    providers = ("slack",)
    checks = (_AUTH_TEST, _WEBHOOK)

    async def verify(self, credential, ctx):
        webhook = credential.rule_id == "slack.webhook-url" or credential.secret.startswith("https://")
        return await (_WEBHOOK if webhook else _AUTH_TEST).verify(credential, ctx)


VERIFIER = SlackVerifier()


PROVIDER = Provider(
    "slack", "Slack",
    base_url="https://slack.com/api",
    console_url="https://api.slack.com/apps",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"slack.user-token"}),
    checks=CHECKS, verifier=VERIFIER,
    revokers={"slack": "keysweep.revokers.slack:SlackRevoker"},
)
