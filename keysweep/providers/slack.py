"""Slack bot, user and app tokens (`xoxb-`, `xoxp-`, `xapp-`, the expiring `xoxe.xoxb-`/`xoxe.xoxp-`), refresh
tokens (`xoxe-1-`), browser sessions (`xoxc-` + the `xoxd-` cookie) and incoming webhooks."""

from __future__ import annotations

from keysweep.providers.base import Provider, Replacement
from keysweep.verify.http_verifier import DeadAnswer, HttpVerifier, NoFreeCheck, header, pick
from keysweep.verify.reach import Reach, access_of, unseen

CHECKS: dict = {}


# -- liveness (network; judged by verify/http_verifier.py) ---------------------------------

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
        scopes = header(response, "x-oauth-scopes")
        if scopes is not None:  # the token's scopes, sent with Web API answers
            identity["scopes"] = [s.strip() for s in scopes.split(",") if s.strip()]
        return identity
    return {"_unknown": f"Slack said {str(body.get('error') or 'not ok')[:60]}"}


# POST auth.test: Slack answers 200 with ok true/false; the error code tells a dead token.
_AUTH_TEST = HttpVerifier("slack", ("slack",), "/auth.test", method="POST", live=_auth_test, dead=BAD_TOKEN)
_WEBHOOK = NoFreeCheck("slack", ("slack",), "an incoming webhook can only be checked by posting to it; not checked")
# A refresh token authenticates no API call: exchanging it (oauth.v2.access, tooling.tokens.rotate)
# uses it up and mints new tokens, so there is no read-only check.
_REFRESH = NoFreeCheck("slack", ("slack",),
                       "a refresh token can only be checked by exchanging it, which uses it up; not checked")
# A browser session's xoxc- token works only with its `d` cookie and the cookie only with a token:
# either alone draws `invalid_auth` from a live session, which must not read as dead.
_SESSION = NoFreeCheck("slack", ("slack",),
                       "a browser session token (xoxc-) and its d cookie (xoxd-) are checked only together; not checked")
# Rule ids whose credential is no bearer token for auth.test / auth.revoke.
REFRESH_RULES = frozenset({"slack.refresh-token"})
SESSION_RULES = frozenset({"slack.client-token", "slack.session-cookie"})


class SlackVerifier:
    name = "slack"
    providers = ("slack",)
    checks = (_AUTH_TEST, _WEBHOOK, _REFRESH, _SESSION)

    async def verify(self, credential, ctx):
        return await self._check_for(credential).verify(credential, ctx)

    @staticmethod
    def _check_for(credential):
        if credential.rule_id == "slack.webhook-url" or credential.secret.startswith("https://"):
            return _WEBHOOK
        if credential.rule_id in REFRESH_RULES or credential.secret.startswith("xoxe-"):
            return _REFRESH
        if credential.rule_id in SESSION_RULES or credential.secret.startswith(("xoxc-", "xoxd-")):
            return _SESSION
        return _AUTH_TEST


VERIFIER = SlackVerifier()


# -- reach (what a live token can do; keysweep/verify/reach.py) -----------------------------

def scope_access(scope: str) -> str:
    """A scope's access: Slack names a scope object:action; `read` and `history` only read (as does
    `identify`), anything else (write, an unknown action, a legacy umbrella scope) counts as write."""
    _, _, action = scope.partition(":")
    return "read" if action.split(".")[0] in ("read", "history") or scope == "identify" else "write"


def slack_reach(identity: dict) -> Reach:
    """Reach of a token from its auth.test answer: its scopes (`x-oauth-scopes`) and workspace.
    Admin scopes (`admin`, `admin.*`, an Enterprise Grid organisation's) are flagged."""
    who = " ".join(part for part in (
        f"bot {identity['bot_id']}" if identity.get("bot_id") else f"user {identity.get('user_id') or '?'}",
        f"in {identity.get('team') or identity.get('team_id') or '?'}") if part)
    team = [f"team:{identity['team_id']}"] if identity.get("team_id") else []
    if identity.get("enterprise_id"):
        team.append(f"enterprise:{identity['enterprise_id']}")
    scopes = identity.get("scopes")
    if not isinstance(scopes, list):
        return Reach(identity=who, resources=tuple(team), evidence="POST auth.test (no x-oauth-scopes header)",
                     unknown=("permissions: the answer carried no x-oauth-scopes header",))
    flagged = tuple(s for s in scopes if s == "admin" or s.startswith("admin."))
    return Reach(identity=who, permissions=tuple(scopes), resources=tuple(team), flagged=flagged,
                 access=access_of(flagged, [scope_access(s) for s in scopes] or ["read"]),
                 evidence="POST auth.test x-oauth-scopes")


async def read_reach(credential, ctx, identity) -> Reach:
    """No further call: auth.test's answer already named the token's scopes and workspace."""
    if "team_id" not in identity and "user_id" not in identity:
        return unseen("identity: the verification recorded no workspace")
    return slack_reach(identity)


PROVIDER = Provider(
    "slack", "Slack",
    base_url="https://slack.com/api",
    console_url="https://api.slack.com/apps",
    # Tokens of a person, not of a workload (OWASP NHI10, "human use of NHI").
    human_rules=frozenset({"slack.user-token", "slack.rotating-user-token", "slack.client-token",
                           "slack.session-cookie"}),
    checks=CHECKS, verifier=VERIFIER,
    revokers={"slack": "keysweep.revokers.slack:SlackRevoker"},
    # What a live token can do (docs/output.md, `reach`).
    reach=read_reach,
    # What should replace a leaked long-lived credential (docs/output.md, `replacement`).
    replacement=Replacement(
        "bot-token",
        "Replace a user token (xoxp) with the app's bot token (xoxb) holding only the scopes the integration calls: "
        "a bot token belongs to the app, not to a person, and the app stays installed when its installer is "
        "deactivated. Turn on token rotation so access tokens expire and are renewed with a refresh token kept "
        "server-side.",
        "https://docs.slack.dev/authentication/tokens"),
)
