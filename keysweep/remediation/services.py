"""What revokers need from the remediation layer, handed to them through the context.

Revokers sit below `keysweep.remediation` and never import it (a test pins that). Whoever builds a
context for revocation calls `for_revocation(ctx)`: the orchestrator does, for the contexts it opens
and the ones it is given, and so do tests that call a revoker directly.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from keysweep.remediation.jobs import note_job
from keysweep.remediation.notify import Notifier
from keysweep.remediation.secrets import ContextSecrets

if TYPE_CHECKING:
    from keysweep.context import Context


def for_revocation(ctx: "Context") -> "Context":
    """Fill in what is not set yet: `ctx.secrets` (the secret re-reader, which honours an injected
    `ctx.extra["secret_reader"]`), `ctx.notify` (owner webhooks) and `ctx.note_job` (identifiers
    recorded in the running job). Returns the same context."""
    if ctx.secrets is None:
        ctx.secrets = ContextSecrets(ctx)
    if ctx.notify is None:
        ctx.notify = Notifier(ctx)
    if ctx.note_job is None:
        ctx.note_job = partial(note_job, ctx)
    return ctx
