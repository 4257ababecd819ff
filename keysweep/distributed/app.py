"""The Celery application: one task, `keysweep.scan_unit`, acknowledged late.

- `task_acks_late` + `task_reject_on_worker_lost`: a task is acknowledged only once its unit is
  recorded; a worker that dies mid-unit leaves it to be delivered again (RabbitMQ: at once, when
  the connection drops; Redis: after the visibility timeout, 5 minutes by default, and at most a
  tenth of it more: `DistributedConfig.redis_transport_options`).
- `worker_prefetch_multiplier = 1`: a worker holds no more units than it runs.
- Bounded attempts: a redelivered task (its earlier delivery was lost with its worker) is sent
  again as a counted retry; an exception is retried with a backoff; after `max_attempts` the unit
  is answered as failed, so the sweep reports it instead of it going round forever.
"""

from __future__ import annotations

import logging
from typing import Any

from keysweep.distributed.config import DistributedConfig
from keysweep.sanitize import terminal_safe
from keysweep.scanner.sources.remote import describe_exception

TASK = "keysweep.scan_unit"
log = logging.getLogger("keysweep.worker")


def make_app(config: DistributedConfig, state=None):
    """The Celery app for `config`; with a WorkerState (`keysweep worker`), its task too."""
    from celery import Celery  # noqa: PLC0415  (Celery only for a distributed sweep or a worker)

    app = Celery("keysweep", broker=config.broker, backend=config.backend, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=config.queue, task_serializer="json", result_serializer="json",
        accept_content=["json"], result_accept_content=["json"], result_expires=86400,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        worker_redirect_stdouts=False, task_track_started=False, worker_send_task_events=False,
        # Results are small: counts, scopes, finding ids, error lines.
        result_extended=False,
    )
    if config.is_redis:
        app.conf.broker_transport_options = config.redis_transport_options
        app.conf.result_backend_transport_options = {"visibility_timeout": config.visibility_timeout}
    if state is not None:
        register(app, config, state)
        register_sweeps(app, config, state)
    return app


def attempt_of(request) -> tuple[int, bool]:
    """(this attempt's number, whether an earlier delivery of this very message was lost)."""
    redelivered = bool((request.delivery_info or {}).get("redelivered"))
    return (request.retries or 0) + 1 + (1 if redelivered else 0), redelivered


def register_sweeps(app, config: DistributedConfig, state) -> None:
    """The task a `keysweep worker --sweeps` runs: one scheduled sweep (from `keysweep beat`)."""
    from keysweep.distributed.schedule import SCHEDULED_TASK  # noqa: PLC0415
    from keysweep.distributed.tasks import run_scheduled_sweep  # noqa: PLC0415

    # Acknowledged at once: a scheduled sweep cut short is not started again (the next is due anyway,
    # and it reads incrementally from where this one recorded).
    @app.task(name=SCHEDULED_TASK, acks_late=False)
    def scheduled_sweep(args: list[str]) -> dict[str, Any]:
        log.info("scheduled sweep starting (%s)", " ".join(args) or "no extra options")
        result = run_scheduled_sweep(list(args), state, config.broker, config.queue)
        log.info("scheduled sweep ended with exit status %d: %s", result["exit"],
                 terminal_safe(" / ".join(result["stderr_tail"][-2:])))
        return result


def register(app, config: DistributedConfig, state) -> None:
    from keysweep.distributed.tasks import die_if_asked, hold_if_asked, run_unit  # noqa: PLC0415

    @app.task(bind=True, name=TASK, max_retries=None)
    def scan_unit(self, payload: dict[str, Any]) -> dict[str, Any]:
        hold_if_asked()
        label = (payload.get("unit") or {}).get("label") or "unit"
        attempt, redelivered = attempt_of(self.request)
        if attempt > config.max_attempts:
            return {"label": label, "failed": f"gave up after {config.max_attempts} attempts "
                                              f"(the worker running it was lost each time)"}
        if redelivered:
            # Sent again as a fresh message that counts this lost attempt (the lost one is acknowledged).
            log.warning("%s: delivered again after its worker was lost (attempt %d)", terminal_safe(label), attempt)
            raise self.retry(countdown=0)
        try:
            answer = run_unit(payload, state)
        except Exception as exc:  # the store or the broker failing under the unit: retried, then reported
            message = describe_exception(exc)
            if attempt >= config.max_attempts:
                return {"label": label, "failed": f"failed {config.max_attempts} times, last: {message}"}
            # The label names a repository or store, the message quotes its error: both the source's choice.
            log.warning("%s: attempt %d failed: %s", terminal_safe(label), attempt, terminal_safe(message))
            raise self.retry(countdown=min(2 ** attempt, 30)) from None
        die_if_asked()
        return answer
