"""A responder kills every OpenAI key one team owns, and a proxy answers for OpenAI on one of them.

A repository's history holds three OpenAI project keys: two in the ml-platform team's services,
one in the web team's, and an Anthropic key of ml-platform beside them. The responder scans,
attributes (owners file), verifies, plans and executes `keysweep revoke --provider openai --team ml-platform`.
OpenAI answers one delete as documented; for the other key a proxy in front of OpenAI answers the
delete with its own "401 Authorization Required" HTML page. Exactly the first key is deleted at the
fake OpenAI; the second is left to a person and the printed summary says so — which key, which
job, that nothing shows OpenAI refused anything, and the command to rerun once the cause is fixed;
the web team's key and the Anthropic key are never touched. The person then fixes the route and
reruns: the second key is deleted once, and the audit chain holds.
"""

from __future__ import annotations

import re

from tests.fakes.providers import FakeAnthropic, FakeOpenAI, FakeProviders
from tests.revoke_helpers import env_for, set_env, write_config

OWNERS = """
[[owner]]
name = "Jane ML"
team = "ml-platform"
contact = "jane@acme.io"
[owner.match]
path = "services/ml/**"

[[owner]]
name = "Web crew"
team = "web"
[owner.match]
path = "web/**"
"""


def deletes_of(fake: FakeOpenAI, value: str) -> int:
    """DELETE requests the fake received for the key holding `value` (answered by it or the proxy)."""
    key_id = next(k for k, (_project, v) in fake.ids.items() if v == value)
    return sum(1 for method, path in fake.requests if method == "DELETE" and path.endswith(f"/api_keys/{key_id}"))


def test_a_teams_openai_keys_are_killed_and_the_one_a_proxy_answered_is_left_to_a_person(
        run, make_repo, keys, tmp_path, monkeypatch):
    ml_ok, ml_proxied, web, ml_anthropic = keys.openai_project(), keys.openai_project(), keys.openai_project(), \
        keys.anthropic()
    repo = make_repo("platform")
    repo.commit("services", {"services/ml/rag/.env": f"OPENAI_API_KEY={ml_ok}\n",
                             "services/ml/eval/settings.py": f'OPENAI_KEY = "{ml_proxied}"\n'
                                                             f'ANTHROPIC_KEY = "{ml_anthropic}"\n',
                             "web/.env": f"OPENAI_API_KEY={web}\n"}, author=("Dana Dev", "dana@acme.io"))
    repo.commit("move keys to the vault", {"services/ml/rag/.env": "OPENAI_API_KEY=${OPENAI_API_KEY}\n"},
                author=("Dana Dev", "dana@acme.io"))
    (tmp_path / "keysweep-owners.toml").write_text(OWNERS)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "keysweep.toml", providers=("openai", "anthropic"))
    db = tmp_path / "store.db"
    secrets = (ml_ok, ml_proxied, web, ml_anthropic)

    openai = FakeOpenAI([ml_ok, ml_proxied, web])
    anthropic = FakeAnthropic([ml_anthropic])
    with FakeProviders(openai=openai, anthropic=anthropic) as fakes:
        set_env(monkeypatch, env_for(fakes, db))

        def said(result) -> str:
            text = result.stdout + result.stderr
            assert not [s for s in secrets if s in text], "a secret reached the terminal"
            assert "Traceback" not in text and "internal error" not in text, result
            return text

        # scan: four keys, one finding each.
        scanned = run("scan", "git", repo.path, "--format", "json")
        said(scanned)
        assert scanned.code == 1, scanned
        ids = {name: next(f["id"] for f in scanned.json() if f["redacted"][-4:] == value[-4:])
               for name, value in (("ml_ok", ml_ok), ("ml_proxied", ml_proxied), ("web", web),
                                   ("ml_anthropic", ml_anthropic))}

        # owners: the owners file puts two OpenAI keys (and the Anthropic key) in ml-platform.
        owners = run("owners", "--config", config, "--format", "json")
        said(owners)
        assert owners.code == 0, owners
        # Anthropic names the key's creator by id; the fake organisation no longer holds that user:
        # the warning says which record could not be read, and what follows from it.
        assert "keysweep: warning: Anthropic Admin API: user user_1: HTTP 404 (named by its id only)" \
            in owners.stderr.splitlines(), owners.stderr
        teams = {f["id"]: f["owner"]["team"] for f in owners.json()}
        assert {name: teams[i] for name, i in ids.items()} == {
            "ml_ok": "ml-platform", "ml_proxied": "ml-platform", "web": "web", "ml_anthropic": "ml-platform"}

        # verify: every key is live at its provider.
        verified = run("verify", "--config", config, "--format", "json")
        said(verified)
        assert verified.code == 1, verified  # documented: 1 when any key is live
        assert {f["id"]: f["verification"]["status"] for f in verified.json()} == dict.fromkeys(ids.values(), "live")

        # The plan: exactly the team's two OpenAI keys, and no request sent.
        before = len(openai.requests) + len(anthropic.requests)
        plan = run("revoke", "--provider", "openai", "--team", "ml-platform", "--config", config)
        said(plan)
        assert plan.code == 0, plan
        assert {ids["ml_ok"], ids["ml_proxied"]} == set(re.findall(r"^(f_\w+)  openai", plan.stdout, re.M))
        assert plan.stdout.rstrip().endswith("Dry run: 2 credentials would be acted on. Add --execute to act.")
        assert len(openai.requests) + len(anthropic.requests) == before, "the dry run sent a request"

        # A proxy answers OpenAI's delete of one key with its own 401 page.
        openai.intermediary, openai.intermediary_on, openai.intermediary_keys = "html_401", "revoke", {ml_proxied}
        done = run("revoke", "--provider", "openai", "--team", "ml-platform", "--execute", "--config", config,
                   "--confirm-delay", "0.05")
        said(done)
        assert done.code == 0, done  # documented: 3 only with --fail-on-error

        # At the fake: exactly the documented success deleted; the proxied key is live, asked once;
        # the web team's key and the Anthropic key were never asked about.
        assert openai.revoked == {ml_ok} and openai.effective[ml_ok] == 1
        assert openai.active == {ml_proxied, web}
        assert deletes_of(openai, ml_ok) == 1 and deletes_of(openai, ml_proxied) == 1 and deletes_of(openai, web) == 0
        assert anthropic.active == {ml_anthropic} and anthropic.revoke_requests == 0

        # The summary says exactly that: one confirmed, one left to a person (which key, which job,
        # why — a page that is not OpenAI's — and the command to rerun), nothing about the other.
        lines = done.stdout.splitlines()
        assert re.fullmatch(r"1 confirmed, 1 failed_permanent in \d+\.\ds", lines[0]), done.stdout
        proxied_redacted = next(f["redacted"] for f in scanned.json() if f["id"] == ids["ml_proxied"])
        failed = [line for line in lines if line.startswith("  failed ")]
        assert len(failed) == 1, done.stdout
        assert re.fullmatch(
            rf"  failed {ids['ml_proxied']} {re.escape(proxied_redacted)} \(job \d+\): needs a person: OpenAI key "
            r"deletion: HTTP 401 with an HTML page, not the provider's answer: a proxy, gateway or firewall "
            r"answered in its place; nothing shows the call reached the provider", failed[0]), failed[0]
        assert "credential rejected" not in done.stdout, "a proxy's page is not OpenAI rejecting the admin key"
        assert "  not yet confirmed dead among the selected: 1 failed_permanent" in lines
        left = [line for line in lines if line.startswith("  left to a person:")]
        assert left == [f"  left to a person: {ids['ml_proxied']} — not proven revoked; fix the cause shown "
                        f"(or revoke the key by hand at its provider), then rerun: keysweep revoke "
                        f"{ids['ml_proxied']} --execute"], done.stdout
        assert ids["ml_ok"] not in done.stdout, "the deleted key is not among what is left to do"
        assert f"revoked {ids['ml_ok']}" in done.stderr and f"confirmed dead {ids['ml_ok']}" in done.stderr
        assert f"FAILED {ids['ml_proxied']}" in done.stderr

        # status names the key left to a person among the most urgent; the deleted one is not there.
        status = run("status")
        said(status)
        entry = re.search(rf"^ +\d+\. {ids['ml_proxied']} .*?(?=^ +\d+\. |\Z)", status.stdout, re.M | re.S)
        assert entry and "revocation failed: needs a person" in " ".join(entry.group(0).split()), status.stdout
        assert ids["ml_ok"] not in status.stdout
        urgent = {u["id"]: u for u in run("status", "--format", "json").json()["urgent"]}
        assert urgent[ids["ml_proxied"]]["job"] == "failed_permanent" and urgent[ids["web"]]["job"] is None

        # status and report agree with the fake: one dead, one live with its job open.
        report = run("report", "--team", "ml-platform", "--provider", "openai", "--format", "json")
        said(report)
        totals = report.json()["totals"]
        assert (totals["count"], totals["confirmed_dead"], totals["live"], totals["open_jobs"]) == (2, 1, 1, 1), totals
        (left,) = report.json()["left_to_a_person"]
        assert (left["id"], left["redacted"], left["owner"]) == (ids["ml_proxied"], proxied_redacted, "Jane ML")
        assert left["error"].startswith("needs a person: OpenAI key deletion: HTTP 401 with an HTML page"), left
        handed_on = run("report", "--team", "ml-platform").stdout  # the text to hand on says it too
        section = handed_on[handed_on.index("left to a person"):]
        assert section.splitlines()[1].split()[:3] == [ids["ml_proxied"], "openai", proxied_redacted], handed_on
        assert "HTTP 401 with an HTML page, not the provider's answer" in section.splitlines()[2]
        assert ids["ml_ok"] not in section
        page = run("report", "--team", "ml-platform", "--format", "html").stdout
        left_list = page[page.index('<ul id="left">'):page.index("</ul>", page.index('<ul id="left">'))]
        assert left_list.count("<li>") == 1 and ids["ml_proxied"] in left_list and ids["ml_ok"] not in left_list
        assert "HTTP 401 with an HTML page, not the provider&#x27;s answer" in left_list, left_list
        still = run("revoke", "--resume", "--fail-on-error", "--config", config)
        assert still.code == 3, still  # red until a person settles it; and nothing was sent
        assert deletes_of(openai, ml_proxied) == 1
        assert re.search(rf"^  failed earlier {ids['ml_proxied']} {re.escape(proxied_redacted)} \(job \d+\): needs a "
                         r"person: OpenAI key deletion: HTTP 401 with an HTML page", still.stdout, re.M), still.stdout
        assert f"  left to a person: {ids['ml_proxied']} — " in still.stdout

        # The plan now: the deleted key is done, the other shows why it failed; no request sent.
        sent = len(openai.requests)
        replan = run("revoke", "--provider", "openai", "--team", "ml-platform", "--config", config)
        said(replan)
        assert "    done:    confirmed dead by an earlier run: nothing will be sent" in replan.stdout
        assert re.search(r"^    failed:  needs a person: OpenAI key deletion: HTTP 401 with an HTML page, not the "
                         r"provider's answer", replan.stdout, re.M), replan.stdout
        assert replan.stdout.rstrip().endswith("Dry run: 1 credential would be acted on. Add --execute to act.\n"
                                               "  1 already confirmed dead: nothing to send.")
        assert len(openai.requests) == sent

        # The person fixes the route and reruns the command the summary gave: deleted once, confirmed.
        openai.intermediary = None
        rerun = run("revoke", ids["ml_proxied"], "--execute", "--config", config, "--confirm-delay", "0.05")
        said(rerun)
        assert rerun.code == 0, rerun
        assert rerun.stdout.splitlines()[0].startswith("1 confirmed in "), rerun.stdout
        assert openai.revoked == {ml_ok, ml_proxied} and openai.effective[ml_proxied] == 1
        assert openai.active == {web} and deletes_of(openai, web) == 0
        assert anthropic.active == {ml_anthropic} and anthropic.revoke_requests == 0
        settled = run("report", "--team", "ml-platform", "--format", "json").json()
        assert settled["left_to_a_person"] == [] and settled["totals"]["confirmed_dead"] == 2
        assert "Left to a person" not in run("report", "--team", "ml-platform", "--format", "html").stdout
        assert run("audit", "verify").code == 0
