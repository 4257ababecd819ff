"""Benchmark (not a test): mass revocation of 1,000 generated keys across five fake providers, each
enforcing a server-side rate limit on its revoke endpoint (token bucket, 429 + Retry-After).

Reports keys revoked per second against the aggregate allowed rate (target ≥ 90%), checks that
every key was revoked exactly once and every job confirmed dead.

    .venv/bin/python bench/bench_revoke.py [--keys 1000] [--rate 40] [--burst 1]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from keysweep.context import Context  # noqa: E402
from keysweep.fingerprint import finding_id, redact, secret_sha256  # noqa: E402
from keysweep.http import HttpClient  # noqa: E402
from keysweep.models import Finding, Occurrence  # noqa: E402
from keysweep.remediation.jobs import Jobs  # noqa: E402
from keysweep.remediation.orchestrator import Orchestrator, provider_hosts, start_run  # noqa: E402
from keysweep.remediation.services import for_revocation  # noqa: E402
from keysweep.revokers import available_revokers  # noqa: E402
from keysweep.settings import Settings  # noqa: E402
from keysweep.store import Store  # noqa: E402
from keysweep.testing.keygen import KeyGen  # noqa: E402
from tests.fakes import providers as F  # noqa: E402

PROVIDERS = ("gitlab", "slack", "openai", "anthropic", "openrouter")


def generate(provider: str, rng: random.Random, keys: KeyGen) -> tuple[str, str]:
    alnum = string.ascii_letters + string.digits
    body = lambda n, a=alnum: "".join(rng.choice(a) for _ in range(n))  # noqa: E731
    return {
        "gitlab": lambda: ("gitlab.pat-routable", f"glpat-{body(20)}"),
        "slack": lambda: ("slack.bot-token", f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{body(24)}"),
        "openai": lambda: ("openai.project-key", keys.openai_project()),
        "anthropic": lambda: ("anthropic.api-key", keys.anthropic()),
        "openrouter": lambda: ("openrouter.api-key", f"sk-or-v1-{body(64, '0123456789abcdef')}"),
    }[provider]()


async def revoke_all(store, settings, by_sha, findings, providers):
    revokers = available_revokers()
    async with HttpClient(rate_limits=provider_hosts(settings, providers), default_rate=1000) as http:
        ctx = for_revocation(Context(http=http, settings=settings, store=store, actor="bench",
                                     extra={"secret_reader": lambda f: by_sha.get(f.secret_sha256)}))
        run_id = start_run(store, "bench", "bench", ctx.now())
        jobs = Jobs(store, "bench", run_id, ctx.now)
        created = []
        for finding in findings:
            revoker = next(r for r in revokers.values() if r.supports(finding))
            job, _ = jobs.create(finding, revoker.name, await revoker.plan(finding, ctx), approve=True)
            created.append(job)
        started = time.monotonic()
        summary = await Orchestrator(ctx, jobs, revokers, confirm_attempts=3, confirm_delay=0.2).run(created)
        return summary, started, time.monotonic()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=40.0, help="revocations/s each fake allows")
    parser.add_argument("--burst", type=float, default=1.0, help="token-bucket burst of each fake")
    args = parser.parse_args()
    rng, keys = random.Random(7), KeyGen(7)
    per = args.keys // len(PROVIDERS)
    values = {p: [generate(p, rng, keys) for _ in range(per)] for p in PROVIDERS}
    fakes = {
        "gitlab": F.FakeGitLab, "slack": F.FakeSlack, "openai": F.FakeOpenAI, "anthropic": F.FakeAnthropic,
        "openrouter": F.FakeOpenRouter,
    }
    servers = {p: fakes[p]([v for _, v in values[p]], revoke_rate=args.rate, burst=args.burst) for p in PROVIDERS}
    with tempfile.TemporaryDirectory() as tmp, F.FakeProviders(**servers) as running:
        store = Store(Path(tmp) / "bench.db")
        findings, by_sha = [], {}
        for provider, items in values.items():
            for rule_id, value in items:
                digest = secret_sha256(value)
                by_sha[digest] = value
                findings.append(Finding(id=finding_id(provider, digest), rule_id=rule_id, provider=provider,
                                        secret_sha256=digest, redacted=redact(value, value[:4]), long_lived=True,
                                        occurrences=[Occurrence(source="dir", path="keys.env", line=1)]))
        store.record(findings, "bench", "2025-01-01T00:00:00Z")
        config = {"providers": {p: {"revoke_rate": args.rate, "revoke_burst": args.burst, "rate_limit": 1000,
                                    "concurrency": 16}
                                for p in PROVIDERS}}
        settings = Settings(env=running.env(), config=config)
        summary, started, finished = asyncio.run(revoke_all(store, settings, by_sha, findings, PROVIDERS))
        total = sum(len(v) for v in values.values())
        stamps = sorted(t for s in servers.values() for t in s.revoked_times)
        revoked = len(stamps)
        span = stamps[-1] - started if stamps else float("nan")
        allowed = args.rate * len(PROVIDERS)
        achieved = revoked / span
        twice = sum(1 for s in servers.values() for n in s.effective.values() if n > 1)
        limited = sum(s.bucket.limited for s in servers.values())
        print(f"keys: {total} across {len(PROVIDERS)} fake providers, each allowing {args.rate:g} revocations/s "
              f"(burst {args.burst:g}) → {allowed:g}/s allowed")
        steady = sum((len(s.revoked_times) - 1) / (max(s.revoked_times) - min(s.revoked_times))
                     for s in servers.values() if len(s.revoked_times) > 1)
        print(f"revoked: {revoked} in {span:.2f}s from the start → {achieved:.1f} keys/s = "
              f"{100 * achieved / allowed:.1f}% of the allowed rate")
        print(f"steady state (first to last revocation per provider): {steady:.1f} keys/s = "
              f"{100 * steady / allowed:.1f}% of the allowed rate")
        for provider, server in servers.items():
            times = sorted(server.revoked_times)
            rate = len(times) / (times[-1] - started) if times else 0
            print(f"  {provider:<11} {len(times):>4} revoked, {rate:6.1f}/s, {server.bucket.limited} answered 429")
        print(f"jobs: {dict(summary.states)}; revoked twice: {twice}; 429 answers: {limited}; "
              f"all done (confirmed) in {finished - started:.2f}s")
        ok = revoked == total and twice == 0 and summary.states.get("confirmed") == total
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
