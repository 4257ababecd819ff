"""Scheduled sweeps on Celery beat: `[schedule]` of keysweep.toml as a beat schedule (plain Python
until `beat_schedule` builds Celery's crontab).

    [schedule]
    sweep = "0 2 * * *"          # crontab, UTC (or `every = 86400`, seconds)
    args = ["--verify", "--owners"]

`keysweep beat` sends, at those times, one `keysweep.scheduled_sweep` task to the `<queue>.sweeps`
queue; the worker started with `keysweep worker --sweeps` takes it and runs `keysweep sweep --broker`
with its own keysweep.toml and --db (its units then go to the other workers, as for a sweep started
by hand). A sweep still running when the next is due is not started twice: the sweeps worker runs
one at a time.
"""

from __future__ import annotations

from typing import Any

from keysweep.errors import KeysweepError

SCHEDULED_TASK = "keysweep.scheduled_sweep"
ENTRY = "keysweep-sweep"
# Options of `keysweep sweep` a schedule cannot set: the sweeps worker gives them.
RESERVED = ("--config", "--broker", "--db", "-o", "--output")


def schedule_of(settings) -> dict[str, Any] | None:
    """The checked `[schedule]`, or None when there is none. Raises KeysweepError (exit 2)."""
    section = settings.section("schedule") if settings is not None else {}
    if not section:
        return None
    where = f"{getattr(settings, 'config_path', None) or 'keysweep.toml'}: [schedule]"
    if ("sweep" in section) == ("every" in section):
        raise KeysweepError(f"{where}: give either sweep = \"<crontab>\" or every = <seconds>")
    if "sweep" in section:
        fields = str(section["sweep"]).split()
        if len(fields) != 5:
            raise KeysweepError(f"{where} sweep {section['sweep']!r}: expected 5 crontab fields "
                                "(minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\"")
    args = [str(a) for a in section.get("args", [])]
    for arg in args:
        if arg.split("=", 1)[0] in RESERVED:
            raise KeysweepError(f"{where} args: {arg.split('=', 1)[0]} is the sweeps worker's to give")
    return {"sweep": section.get("sweep"), "every": section.get("every"), "args": args}


def beat_schedule(schedule: dict[str, Any], sweeps_queue: str) -> dict[str, Any]:
    """Celery's `beat_schedule` for a checked `[schedule]`."""
    from celery.schedules import crontab  # noqa: PLC0415  (Celery only for beat)

    if schedule["sweep"]:
        minute, hour, day_of_month, month_of_year, day_of_week = schedule["sweep"].split()
        try:
            when: Any = crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                                day_of_week=day_of_week)
        except ValueError as exc:
            raise KeysweepError(f"[schedule] sweep {schedule['sweep']!r}: {exc}") from None
        expires = 3600.0
    else:
        when = expires = float(schedule["every"])
    # A sweep not started before the next is due is dropped: a slow sweeps worker never builds a backlog.
    return {ENTRY: {"task": SCHEDULED_TASK, "schedule": when, "args": [schedule["args"]],
                    "options": {"queue": sweeps_queue, "expires": expires}}}
