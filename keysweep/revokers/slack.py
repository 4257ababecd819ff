"""Slack tokens: `POST auth.revoke` with the token as bearer → `{"ok": true, "revoked": true}`.

`test=1` asks Slack to check without revoking: `keysweep revoke --preflight` uses it (plan() itself
sends nothing). `invalid_auth`, `token_revoked`, `account_inactive` mean the token is already dead.
Incoming-webhook URLs have no revoke API, and refresh tokens (xoxe-1-) and browser sessions (xoxc- token,
xoxd- cookie) cannot call auth.revoke alone: the notify revoker handles them (a session ends when its
person signs out; a refresh token dies with the app's tokens or a reset of its token rotation).

Slack answers 200 with `{"ok": false, "error": …}` for its errors, so only a 200 is read: any other
status is an HTTP failure, and a 200 that is not a JSON object is not believed."""

from __future__ import annotations

from keysweep.providers.slack import DEAD_ERRORS, REFRESH_RULES, SESSION_RULES
from keysweep.revokers.http_revoker import HttpRevokerWithPreflight, Reply, SelfRevoke, bearer
from keysweep.verify.http_verifier import OneOf

NOT_BELIEVED = Reply("retry", "Slack said ok without the documented revoked flag; not believed", 200, {"ok": True})
ERRORS = (
    # The documented errors that say the token itself is dead (providers/slack.py); not `not_authed`,
    # which only says no token arrived (a proxy may have stripped it).
    Reply("gone", "already dead ({error})", 200, {"error": OneOf(*DEAD_ERRORS)}),
    Reply("busy", "Slack rate limit", 200, {"error": "ratelimited"}),
    Reply("refused", "Slack refused: {error}", 200, {"ok": False}),
)


def _bearer_rule(rule_id: str) -> bool:
    """A rule whose secret auth.revoke takes as its bearer token."""
    return "webhook" not in rule_id and rule_id not in REFRESH_RULES | SESSION_RULES


def _auth_revoke(revoked: bool, detail: str, **test_mode) -> SelfRevoke:
    return SelfRevoke("POST", "/auth.revoke", "revoke the token with itself (auth.revoke)", "Slack auth.revoke",
                      (Reply("revoked", detail, 200, {"ok": True, "revoked": revoked}), NOT_BELIEVED, *ERRORS),
                      rules=_bearer_rule, auth=bearer, not_believed=(200,), **test_mode)


class SlackRevoker(HttpRevokerWithPreflight):
    name = "slack"
    provider = "slack"
    calls = (_auth_revoke(True, "token revoked"),)
    # auth.revoke?test=1: Slack says whether it would revoke, and revokes nothing.
    preflight_call = _auth_revoke(False, "would be revoked", form={"test": "1"}, note=" (test=1)")
