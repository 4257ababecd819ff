"""Slack bot, user and app tokens (`xoxb-`, `xoxp-`, `xapp-`, …)."""

from __future__ import annotations

CHECKS: dict = {}


# -- liveness (network; judged by detectors/verification.py) ---------------------------------
from keysweep.detectors.verification import HttpVerifier, NoFreeCheck, pick  # noqa: E402

_DEAD_ERRORS = {"invalid_auth", "token_revoked", "account_inactive", "token_expired", "org_login_required"}


def _auth_test(body, response):
    if not isinstance(body, dict) or "ok" not in body:
        return None
    if body["ok"] is True:
        identity = pick(body, "team", "team_id", "user", "user_id", "bot_id", "url", "enterprise_id")
        identity["owner"] = body.get("user")
        return identity
    error = str(body.get("error") or "")
    if error in _DEAD_ERRORS:
        return {"_dead": error}
    return {"_unknown": f"Slack said {error or 'not ok'}"}


# POST auth.test: Slack answers 200 with ok true/false; the error code tells a dead token.
_AUTH_TEST = HttpVerifier("slack", ("slack",), "/auth.test", method="POST", live=_auth_test)
_WEBHOOK = NoFreeCheck("slack", ("slack",), "an incoming webhook can only be checked by posting to it; not checked")


class SlackVerifier:
    name = "slack"
    providers = ("slack",)

    async def verify(self, credential, ctx):
        webhook = credential.rule_id == "slack.webhook-url" or credential.secret.startswith("https://")
        return await (_WEBHOOK if webhook else _AUTH_TEST).verify(credential, ctx)


VERIFIER = SlackVerifier()
