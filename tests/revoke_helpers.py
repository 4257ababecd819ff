"""Helpers for revocation tests: plant generated keys in a directory, scan it into a store, and
point providers at local fakes."""

from __future__ import annotations

import os
from pathlib import Path

from keysweep.testing.keygen import KeyGen


def plant_keys(root: Path, keys: KeyGen, counts: dict[str, int]) -> dict[str, list[str]]:
    """Write `counts` keys per kind (github, openai, anthropic) into files under root."""
    makers = {"github": keys.github, "openai": keys.openai_project, "anthropic": keys.anthropic}
    planted: dict[str, list[str]] = {}
    root.mkdir(parents=True, exist_ok=True)
    for kind, count in counts.items():
        values = [makers[kind]() for _ in range(count)]
        planted[kind] = values
        lines = [f"{kind.upper()}_KEY_{i} = \"{value}\"\n" for i, value in enumerate(values)]
        (root / f"{kind}.env").write_text("".join(lines))
    return planted


def env_for(fakes, db: Path, **extra: str) -> dict[str, str]:
    env = {"KEYSWEEP_DB": str(db)}
    env.update(fakes.env())
    env.update(extra)
    return env


def set_env(monkeypatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("OPENAI_ADMIN_KEY", "ANTHROPIC_ADMIN_KEY"):
        if key not in env:
            monkeypatch.delenv(key, raising=False)


def write_config(path: Path, rate: float = 50.0, providers=("github", "openai", "anthropic"), extra: str = "") -> Path:
    lines = []
    for provider in providers:
        lines.append(f"[providers.{provider}]\nrate_limit = 1000\nrevoke_rate = {rate}\nconcurrency = 8\n")
    path.write_text("\n".join(lines) + extra)
    return path


def kill_mid_run_then_resume(run_process, fakes, db: Path, config: Path, total: int, keysweep_bin: Path,
                             at_fraction: float = 0.4, timeout: float = 120):
    """Start `keysweep revoke --all --execute` as a real process, SIGKILL it once `at_fraction` of
    the keys are revoked at the fakes, then run `revoke --resume`; returns the resume's result."""
    return kill_and_resume(run_process, fakes, db, config, total, keysweep_bin, kills=(at_fraction,), timeout=timeout)


def kill_and_resume(run_process, fakes, db: Path, config: Path, total: int, keysweep_bin: Path,
                    kills: tuple[float, ...], timeout: float = 120):
    """`keysweep revoke --all --execute` as a real process, SIGKILLed once the fakes have revoked
    `kills[0]` of the keys; then a `revoke --resume` process killed at `kills[1]`, and so on; then a
    last `revoke --resume` left to finish, whose result is returned."""
    import signal
    import subprocess
    import time

    base = [str(keysweep_bin), "revoke", "--config", str(config), "--confirm-delay", "0.05"]
    for cycle, fraction in enumerate(kills):
        env = {**os.environ, **env_for(fakes, db, KEYSWEEP_ACTOR="first-run" if cycle == 0 else f"resume-{cycle}")}
        mode = ["--all", "--execute", "--yes"] if cycle == 0 else ["--resume"]
        process = subprocess.Popen(base + mode, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        revoked = 0
        while time.monotonic() < deadline:
            revoked = fakes.call(lambda: sum(len(f.revoked) for f in fakes.providers.values()))
            if revoked >= total * fraction or process.poll() is not None:
                break
            time.sleep(0.02)
        assert process.poll() is None, f"run {cycle + 1} finished before it could be killed; slow the fakes down"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert 0 < revoked < total
    return run_process("revoke", "--resume", "--config", config, "--confirm-delay", "0.05",
                       "--format", "json", env=env_for(fakes, db, KEYSWEEP_ACTOR="second-run" if len(kills) == 1
                                                       else "last-run"))


def assert_each_key_revoked_once(fakes, planted: dict[str, list[str]]) -> None:
    for name, values in planted.items():
        fake = fakes[name]
        assert not fake.active, f"{name}: {len(fake.active)} keys never revoked"
        assert {fake.effective[v] for v in values} == {1}, name
        repeats = {v: n for v, n in fake.revoke_calls.items() if n > 1}
        assert not repeats, f"{name}: {len(repeats)} keys were sent to the revoke endpoint twice"


os.environ.setdefault("KEYSWEEP_ACTOR", "tester@ci")
