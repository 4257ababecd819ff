"""For providers with no revocation API and any credential no other revoker handles: tell the
owner what to do, with the provider's console link (its record's `console_url`), through the
`[notify]` webhook. The orchestrator then keeps re-verifying; the remediation clock stops only
when verification says the key is dead.

The webhooks are the remediation layer's: this revoker reaches them through the context
(`ctx.notify`), which the orchestrator fills in."""

from __future__ import annotations

from keysweep.revokers._common import BaseRevoker, make_plan, safe_target
from keysweep.revokers.base import RevokeResult


class NotifyRevoker(BaseRevoker):
    name = "notify"
    manual = True  # the orchestrator waits for the owner (state awaiting_owner) instead of `revoked`

    def supports(self, finding) -> bool:
        return True

    async def plan(self, finding, ctx):
        notifier = ctx.notify
        console = notifier.console(finding.provider) if notifier is not None else "the provider's console"
        targets = notifier.targets(finding) if notifier is not None else []
        calls = [("POST", safe_target(t.url).split("/", 3)[0] + "//" + t.host + "/…",
                  f"tell the owner to revoke it at {console} ({t.name} webhook)") for t in targets]
        needs = [] if targets else ["a [notify] webhook in keysweep.toml"]
        return make_plan(self.name, finding, calls, needs, console=console)

    async def revoke(self, plan, ctx) -> RevokeResult:
        if ctx.store is None:
            return RevokeResult(False, "no store")
        found = ctx.store.findings(ids=[plan.finding_id])
        if not found:
            return RevokeResult(False, "finding no longer in the store")
        sent = await ctx.notify.send("cannot_revoke", found[0], "no revocation API for this provider") \
            if ctx.notify is not None else []
        calls = tuple(("POST", f"webhook {s['target']} ({s['host']})", s["status"]) for s in sent)
        if not sent:
            return RevokeResult(False, "no [notify] webhook configured: nobody can be told to revoke this key")
        if not any(s["ok"] for s in sent):
            return RevokeResult(False, "the owner's webhook did not accept the message", retryable=True, calls=calls)
        return RevokeResult(True, "owner notified", calls=calls)
