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


os.environ.setdefault("KEYSWEEP_ACTOR", "tester@ci")
