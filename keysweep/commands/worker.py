"""`keysweep worker`: a Celery worker that reads the units a distributed `keysweep sweep --broker`
sends, into the shared store (docs/scale-out.md)."""

from __future__ import annotations

import logging
import os

import click

from keysweep.cli import fail
from keysweep.distributed.config import distributed_config, redacted_url
from keysweep.errors import KeysweepError
from keysweep.settings import load_settings


@click.command("worker")
@click.option("--broker", help="Celery broker (redis://… or amqp://…). Default: $KEYSWEEP_BROKER_URL or "
                               "keysweep.toml [distributed] broker.")
@click.option("--queue", help="Queue to take units from (default: [distributed] queue, else 'keysweep'); "
                              "the sweep must send to the same one.")
@click.option("--db", type=click.Path(dir_okay=False),
              help="The shared store: a postgresql:// URL (a SQLite file only when every worker and the "
                   "sweep run on one machine). Default: $KEYSWEEP_DB or the user data dir.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="keysweep.toml for [distributed], [providers.*] rate limits and endpoints. Default: ./keysweep.toml.")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Units read at once by this worker (1: in this process; more: a pool of processes).")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="Where repositories are cloned (default: the sweep's --cache-dir, else the user cache dir).")
@click.option("--sweeps", is_flag=True,
              help="Run the scheduled sweeps `keysweep beat` sends (queue '<queue>.sweeps') instead of units: "
                   "each is `keysweep sweep --broker` with this worker's --config and --db. Run one such worker.")
@click.option("--loglevel", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True, help="Celery's log level (on stderr).")
def worker_cmd(broker, queue, db, config_path, concurrency, cache_dir, sweeps, loglevel):
    """Take units of a distributed sweep from the broker and read them into the shared store,
    until stopped (SIGTERM: finish the unit in hand; a killed worker's unit goes to another).
    Tokens come from this machine's environment ($GITHUB_TOKEN, $GITLAB_TOKEN, the AWS chain, or
    the variables keysweep.toml names); none travels through the broker."""
    try:
        settings = load_settings(config_path)
        config = distributed_config(settings, broker, queue=queue, required=True)
    except KeysweepError as exc:
        fail(str(exc))
    assert config is not None
    from keysweep.distributed.app import make_app  # noqa: PLC0415  (Celery only here)
    from keysweep.distributed.tasks import WorkerState  # noqa: PLC0415
    from keysweep.store import Store  # noqa: PLC0415

    try:  # opened once here so a bad --db is a one-line error and migrations run before any task
        Store(db).close()
    except KeysweepError as exc:
        fail(str(exc))
    handler = logging.StreamHandler()  # this worker's own notes (a unit delivered again, a failed attempt)
    handler.setFormatter(logging.Formatter("keysweep: worker: %(message)s"))
    logging.getLogger("keysweep.worker").addHandler(handler)
    logging.getLogger("keysweep.worker").setLevel(logging.INFO)
    state = WorkerState(db=db, settings=settings, cache_dir=cache_dir, limiter_redis=config.limiter_redis,
                        config_path=str(settings.config_path) if settings.config_path else None)
    app = make_app(config, state)
    queue_name = config.sweeps_queue if sweeps else config.queue
    click.echo(f"keysweep: worker {os.getpid()} on queue {queue_name!r} at {redacted_url(config.broker)}", err=True)
    argv = ["worker", "--queues", queue_name, "--loglevel", loglevel.upper(), "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--hostname", f"keysweep-{os.getpid()}@%h"]
    argv += ["--pool", "solo"] if concurrency == 1 or sweeps else ["--pool", "prefork", "--concurrency", str(concurrency)]
    app.worker_main(argv)
