"""`keysweep beat`: Celery beat sending the sweeps of keysweep.toml `[schedule]` (docs/scale-out.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from keysweep.cli import fail
from keysweep.distributed.config import distributed_config, redacted_url
from keysweep.distributed.schedule import ENTRY, schedule_of
from keysweep.errors import KeysweepError
from keysweep.settings import load_settings


@click.command("beat")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="keysweep.toml with [schedule] (and [distributed]). Default: ./keysweep.toml.")
@click.option("--broker", help="Celery broker. Default: $KEYSWEEP_BROKER_URL or [distributed] broker.")
@click.option("--queue", help="The workers' queue (scheduled sweeps go to '<queue>.sweeps').")
@click.option("--schedule-file", type=click.Path(dir_okay=False),
              help="Where beat remembers the last run of each entry. Default: keysweep-beat-schedule in the "
                   "user data dir.")
@click.option("--check", is_flag=True, help="Print the schedule and exit (nothing is sent).")
@click.option("--loglevel", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="Celery's log level (on stderr).")
def beat_cmd(config_path, broker, queue, schedule_file, check, loglevel):
    """Send a sweep at the times of keysweep.toml [schedule] (a crontab in UTC, or every N seconds)
    to the `keysweep worker --sweeps` worker, which runs `keysweep sweep --broker` — the distributed
    alternative to a cron job or a CI schedule. Run one beat per schedule."""
    try:
        settings = load_settings(config_path)
        config = distributed_config(settings, broker, queue=queue, required=True)
        schedule = schedule_of(settings)
        if schedule is None:
            raise KeysweepError(f"{settings.config_path or 'keysweep.toml'}: no [schedule] (e.g. sweep = \"0 2 * * *\")")
        from keysweep.distributed.schedule import beat_schedule  # noqa: PLC0415  (Celery's crontab)

        assert config is not None
        entries = beat_schedule(schedule, config.sweeps_queue)
    except KeysweepError as exc:
        fail(str(exc))
    entry = entries[ENTRY]
    when = schedule["sweep"] and f"at {schedule['sweep']} (crontab, UTC)" or f"every {schedule['every']:g}s"
    click.echo(f"keysweep: beat: `keysweep sweep {' '.join(schedule['args'])}`".rstrip() +
               f" {when} → queue {entry['options']['queue']!r} at {redacted_url(config.broker)}", err=True)
    if check:
        return
    from celery.apps.beat import Beat  # noqa: PLC0415

    from keysweep.distributed.app import make_app  # noqa: PLC0415

    app = make_app(config)
    app.conf.beat_schedule = entries
    app.conf.timezone = "UTC"
    app.conf.enable_utc = True
    if schedule_file is None:
        folder = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "keysweep"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        schedule_file = str(folder / "keysweep-beat-schedule")
    Beat(app=app, schedule=schedule_file, loglevel=loglevel.upper(), quiet=True).run()
