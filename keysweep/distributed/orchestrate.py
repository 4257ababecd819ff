"""The sweeping side of a distributed sweep: the local Runner, except that each unit its sources
yield that can be described (keysweep.distributed.units) is sent to the workers instead of being
read here; then it waits for every answer and folds them into the sweep's totals, so the CLI
reports, persists nothing twice and exits as for a local sweep.

An answer can say less than what its unit recorded: a worker that dies after recording a unit and
before answering leaves it to another, which finds everything already read and nothing new. So the
sweep's verdict is also read from the store: every scan the workers recorded for this sweep keeps
the ids of the findings it found new and its error lines (`Store.sweep_scans`), written in the
same transaction as the findings themselves."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, fields
from typing import Any

from keysweep.distributed.app import TASK, make_app
from keysweep.distributed.config import DistributedConfig, redacted_url
from keysweep.distributed.units import describe_item, describe_source
from keysweep.models import ScanStats
from keysweep.scanner.pipeline import merge_stats
from keysweep.scanner.remote import Runner, SweepOutcome
from keysweep.scanner.sources.remote import Pending, describe_exception

POLL = 0.25
CHECKED = 500  # answers looked up per round
QUIET_HINT = 30.0  # seconds without an answer before saying what the sweep waits for
# The counts of ScanStats (the rest are lists of lines).
COUNTS = tuple(f.name for f in fields(ScanStats) if f.name not in ("errors", "warnings"))


@dataclass
class Dispatch:
    source: dict[str, Any]
    unit: dict[str, Any]

    @property
    def label(self) -> str:
        return self.unit.get("label") or "unit"


class _Dispatching:
    """A source whose describable units become Dispatch items (the rest are read here)."""

    def __init__(self, source) -> None:
        self.source = source
        self.label = source.label
        self.described = describe_source(source)

    async def items(self, run):
        async for item in self.source.items(run):
            unit = describe_item(item) if self.described is not None else None
            if unit is None:
                yield item
                continue
            if isinstance(item, Pending) and hasattr(item.work, "close"):
                item.work.close()  # done by a worker instead: never awaited here
            yield Dispatch(self.described, unit)


class DistributedRunner(Runner):
    def __init__(self, engine, *, config: DistributedConfig, options: dict[str, Any], started: str,
                 say=None, **kwargs) -> None:
        super().__init__(engine, **kwargs)
        self.config = config
        self.options = options
        self.started = started
        self.say = say or (lambda text: None)
        self.app = make_app(config)
        self.sent: list[tuple[str, Any]] = []
        self.sweep = uuid.uuid4().hex  # names the scans the workers record for this sweep
        # What the workers' answers said (the rest of the totals is what this process read itself).
        self.answered = ScanStats()
        self.answered_counters: dict[str, int] = {}

    async def run(self, sources) -> SweepOutcome:
        await super().run([_Dispatching(source) for source in sources])
        if self.sent:
            await self.collect()
            self.fold_recorded()
        findings = sorted(self.findings.values(), key=lambda f: (f.provider, f.rule_id, f.id))
        return SweepOutcome(findings, self.stats, self.scopes, self.new_ids, dict(self.counters))

    async def handle(self, item: Any) -> None:
        if not isinstance(item, Dispatch):
            await super().handle(item)
            return
        payload = {"source": item.source, "unit": item.unit, "options": self.options, "started": self.started,
                   "sweep": self.sweep}
        try:
            result = self.app.send_task(TASK, args=[payload], queue=self.config.queue)
        except Exception as exc:  # the broker is unreachable: this unit is not read
            self.error(f"{item.label}: not sent to {redacted_url(self.config.broker)}: {describe_exception(exc)}")
            return
        self.sent.append((item.label, result))
        if item.unit.get("op") == "git":  # reported even if no worker can read it, as a local sweep does
            self.scopes.add(item.unit["target"]["name"])
        self.counters["units_sent"] = self.counters.get("units_sent", 0) + 1

    async def collect(self) -> None:
        """Wait for every unit's answer (polling, off the event loop), folding each in as it comes."""
        outstanding = list(self.sent)
        last = time.monotonic()
        hinted = False
        while outstanding:
            done, outstanding = await asyncio.to_thread(self._ready, outstanding)
            for label, result in done:
                self.fold(label, result)
            if done:
                last = time.monotonic()
            elif not hinted and time.monotonic() - last > QUIET_HINT:
                hinted = True
                self.say(f"keysweep: waiting for workers on queue {self.config.queue!r} at "
                         f"{redacted_url(self.config.broker)} ({len(outstanding)} of {len(self.sent)} units "
                         f"outstanding; start one with `keysweep worker`)")
            if outstanding and not done:
                await asyncio.sleep(POLL)

    @staticmethod
    def _ready(outstanding):
        """The answered units among the first CHECKED outstanding ones (one look-up each), and the
        rest, those looked at and still waiting moved to the back: a sweep of 20,000 units does not
        ask 20,000 times per round."""
        looked, rest = outstanding[:CHECKED], outstanding[CHECKED:]
        done, waiting = [], []
        for label, result in looked:
            (done if result.ready() else waiting).append((label, result))
        return done, rest + waiting

    def fold(self, label: str, result) -> None:
        try:
            value = result.get(propagate=False, timeout=30)
        except Exception as exc:
            self.error(f"{label}: no answer from the worker: {describe_exception(exc)}")
            return
        if not result.successful() or not isinstance(value, dict):
            self.error(f"{label}: task failed: {describe_exception(value) if isinstance(value, BaseException) else value}")
            return
        if value.get("failed"):
            self.error(f"{label}: {value['failed']}")
            return
        self.scopes.update(value.get("scopes") or ())
        known = set(self.new_ids)
        self.new_ids.extend(i for i in value.get("new_ids") or () if i not in known)
        stats = stats_of(value.get("stats") or {})
        merge_stats(self.stats, stats)
        merge_stats(self.answered, stats)
        for key, count in (value.get("counters") or {}).items():
            if isinstance(count, int):
                self.counters[key] = self.counters.get(key, 0) + count
                self.answered_counters[key] = self.answered_counters.get(key, 0) + count
        for event in value.get("events") or ():
            event = dict(event)
            self.progress(event.pop("event"), **event)
        self.counters["units_done"] = self.counters.get("units_done", 0) + 1

    def fold_recorded(self) -> None:
        """What the workers recorded for this sweep and no answer said (a unit whose first reading
        was lost after recording it, then read again and found read): the findings new to the store,
        the scopes they were found in, the errors met (once each), the objects read and the
        repositories scanned rather than unchanged."""
        if self.store is None:
            return
        known, errors = set(self.new_ids), set(self.stats.errors)
        recorded, repositories = ScanStats(), set()
        for source, scope, new_ids, stats in self.store.sweep_scans(self.sweep):
            self.scopes.add(scope)
            if source == "git":
                repositories.add(scope)
            for finding_id in new_ids:
                if finding_id not in known:
                    known.add(finding_id)
                    self.new_ids.append(finding_id)
            for line in stats.get("errors") or ():
                if line not in errors:
                    errors.add(line)
                    self.error(line)
            merge_stats(recorded, stats_of({k: v for k, v in stats.items() if k not in ("errors", "warnings")}))
        for name in COUNTS:  # every answering reading's scans are recorded too: the rest were lost ones
            extra = getattr(recorded, name) - getattr(self.answered, name)
            if extra > 0:
                setattr(self.stats, name, getattr(self.stats, name) + extra)
        scanned = self.answered_counters.get("repos_scanned", 0)
        if len(repositories) > scanned:
            moved = len(repositories) - scanned
            self.counters["repos_scanned"] = self.counters.get("repos_scanned", 0) + moved
            unchanged = min(moved, self.answered_counters.get("repos_unchanged", 0))
            self.counters["repos_unchanged"] = self.counters.get("repos_unchanged", 0) - unchanged


def stats_of(stats: dict[str, Any]) -> ScanStats:
    """ScanStats from its JSON form (an answer's, a recorded scan's), ignoring what it does not know."""
    return ScanStats(**{k: v for k, v in stats.items() if k in ScanStats.__dataclass_fields__})
