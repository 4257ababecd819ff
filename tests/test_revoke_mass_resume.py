"""The issue's mass-revocation scenario: 1,000 generated keys across five fake providers with
server-side rate limits, a real `keysweep revoke --execute` process killed (SIGKILL) in the middle,
then six `--resume` processes of which the first five are killed too: every key revoked exactly
once (the fakes' own records of each revoke request per key), none lost, all confirmed dead."""

from __future__ import annotations

import pytest

from tests.conftest import KEYSWEEP_BIN
from tests.fakes.providers import FakeAnthropic, FakeGitLab, FakeOpenAI, FakeOpenRouter, FakeProviders, FakeSlack
from tests.revoke_helpers import assert_each_key_revoked_once, kill_and_resume, write_config

PROVIDERS = ("gitlab", "slack", "openai", "anthropic", "openrouter")
KEYS_PER_PROVIDER = 200
# Six kill -9 / --resume cycles, each kill once another seventh of the keys is revoked at the fakes.
KILL_AT = tuple(n / 7 for n in range(1, 7))


@pytest.mark.slow
def test_thousand_keys_five_providers_killed_six_times_and_resumed(run_process, tmp_path, keys):
    makers = {"gitlab": keys.gitlab_pat, "slack": keys.slack_bot, "openai": keys.openai_project,
              "anthropic": keys.anthropic, "openrouter": keys.openrouter}
    planted = {p: [makers[p]() for _ in range(KEYS_PER_PROVIDER)] for p in PROVIDERS}
    code = tmp_path / "code"
    code.mkdir()
    for provider, values in planted.items():
        (code / f"{provider}.env").write_text(
            "".join(f'{provider.upper()}_KEY_{i} = "{value}"\n' for i, value in enumerate(values)))
    db = tmp_path / "store.db"
    scanned = run_process("scan", "dir", code, "--db", db, "--format", "json")
    assert scanned.code == 1, scanned
    assert len(scanned.json()) == len(PROVIDERS) * KEYS_PER_PROVIDER

    config = write_config(tmp_path / "keysweep.toml", rate=200.0, providers=PROVIDERS)
    kinds = {"gitlab": FakeGitLab, "slack": FakeSlack, "openai": FakeOpenAI, "anthropic": FakeAnthropic,
             "openrouter": FakeOpenRouter}
    # Each provider's revoke endpoint allows 100 requests/s: a run takes seconds, long enough to kill.
    fakes = FakeProviders(**{p: kinds[p](planted[p], revoke_rate=100, burst=2) for p in PROVIDERS})
    total = len(PROVIDERS) * KEYS_PER_PROVIDER
    with fakes:
        resumed = kill_and_resume(run_process, fakes, db, config, total, KEYSWEEP_BIN, kills=KILL_AT)
        assert resumed.code == 0, resumed
        assert_each_key_revoked_once(fakes, planted)

    report = run_process("report", "--db", db, "--format", "json")
    assert report.json()["totals"]["confirmed_dead"] == total
    assert run_process("audit", "verify", "--db", db).code == 0
