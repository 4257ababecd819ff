"""Strings a scanned source chooses (file and directory names, owner labels, a provider's error
text) in the outputs that leave the terminal: a Slack message, the GitHub Action's job log, SARIF,
CSV, the HTML report. Each shows them as text: no mention, link, formatting, workflow command,
formula or markup of their own. (The terminal's own rules: tests/test_hostile_sources.py.)"""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pytest

from keysweep.providers import PROVIDERS
from keysweep.sanitize import SLACK_BACKTICK, slack_code, terminal_safe
from tests.fakes.providers import FakeProviders, FakeWebhook

# A directory name written in Slack's mrkdwn: bold, italic, strike, a code span closing early, a
# broadcast mention in both spellings, an explicit link, an emoji code; the file opens a quote.
SLACK_DIR = "*REVOKED* _ok_ ~x~ `c` @channel <!here> <http:|rotate here> :fire: a&b"
SLACK_FILE = "> quote.env"


def test_a_slack_notification_shows_a_hostile_place_as_code(run, tmp_path, keys, monkeypatch):
    """Was: the place sent as mrkdwn, so Slack showed REVOKED in bold, `c` as code, the rest struck
    through, and linked whatever its auto-linker found."""
    value = keys.huggingface()
    (tmp_path / "code" / SLACK_DIR).mkdir(parents=True)
    (tmp_path / "code" / SLACK_DIR / SLACK_FILE).write_text(f'HF_TOKEN = "{value}"\n')
    db = tmp_path / "s.db"
    scanned = run("scan", "dir", tmp_path / "code", "--db", db, "--format", "json")
    assert scanned.code == 1, scanned
    (finding,) = scanned.json()
    hook = FakeWebhook()
    with FakeProviders(hook=hook):
        config = tmp_path / "keysweep.toml"
        config.write_text(f'[notify]\nwebhook = "{hook.url}"\nformat = "slack"\n')
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # verification cannot say dead
        done = run("revoke", "--all", "--execute", "--confirm-attempts", "1", "--config", config, "--db", db)
        assert done.code == 0, done
    replacement = PROVIDERS["huggingface"].replacement
    text = ("*A leaked credential of yours must be revoked by hand*: huggingface "
            f"`{finding['redacted']}` (huggingface.user-token) in "
            f"`*REVOKED* _ok_ ~x~ {SLACK_BACKTICK}c{SLACK_BACKTICK} @channel &lt;!here&gt; &lt;http:|rotate here&gt; "
            f":fire: a&amp;b/&gt; quote.env:1`. "
            "Revoke it now at <https://huggingface.co/settings/tokens>, issue a replacement, and update whatever "
            "used it. keysweep keeps checking until it no longer works. (`no revocation API for this provider`)\n"
            f"Instead of a new standing key: {replacement.summary} <{replacement.docs_url}>")
    expected = {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text,
                                                                        "verbatim": True}}]}
    assert hook.raw == [json.dumps(expected).encode("utf-8")]



def test_a_slack_message_fits_slack_however_long_the_places(run, tmp_path, keys, monkeypatch):
    """Slack refuses a section longer than 3000 characters, and the message with it. Was: six places
    of 1,200 characters each were sent whole (7,000+ characters): the owner was never told."""
    from keysweep.remediation.notify import SLACK_SECTION_LIMIT

    value = keys.huggingface()
    deep = "/".join(["d" * 240] * 5)
    for n in range(6):
        (tmp_path / "code" / f"{n}{deep}").mkdir(parents=True)
        (tmp_path / "code" / f"{n}{deep}" / "app.env").write_text(f'HF_TOKEN = "{value}"\n')
    db = tmp_path / "s.db"
    assert run("scan", "dir", tmp_path / "code", "--db", db).code == 1
    hook = FakeWebhook()
    with FakeProviders(hook=hook):
        config = tmp_path / "keysweep.toml"
        config.write_text(f'[notify]\nwebhook = "{hook.url}"\nformat = "slack"\n')
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
        done = run("revoke", "--all", "--execute", "--confirm-attempts", "1", "--config", config, "--db", db)
        assert done.code == 0, done
    (body,) = hook.bodies
    (block,) = body["blocks"]
    text = block["text"]["text"]
    assert len(text) <= SLACK_SECTION_LIMIT and text == body["text"]
    shown = text.count("/app.env:1`") + text.count("\u2026`")
    more = int(text.split(" (+")[1].split(" more)")[0])
    assert shown >= 1 and shown + more == 6, text


@pytest.mark.parametrize("char", ["x", "<", "&"])
def test_every_field_at_its_longest_still_fits_one_slack_section(char):
    """Slack counts the text as sent: a scanned `<` or `&` is sent as its entity (`&lt;`, `&amp;`),
    so a field of them is four or five times its length. Was: each field was cut to 300 characters
    before escaping, and a hostile author name, path and error of `<` made a 5,399-character section
    that Slack refuses, and the owner was not told."""
    from keysweep.remediation import notify

    long = char * 5000
    facts = {"title": "A credential of yours was found", "provider": "huggingface", "redacted": long,
             "rule_id": "huggingface.user-token", "locations": [long] * 40, "where": long, "owner": long,
             "action": "It will be revoked; prepare a replacement.", "detail": long, "console": None,
             "reach": {"identity": long, "permissions": [long], "severity": "high"},
             "replacement": {"kind": "k", "summary": "s" * 400, "docs_url": "https://docs.example/x"}}
    text = notify.body(notify.Target("https://hooks.example/x", "slack", "default"), facts)["text"]
    assert len(text) <= notify.SLACK_SECTION_LIMIT
    shown = {"x": "x", "<": "&lt;", "&": "&amp;"}[char]
    assert text.count("`" + shown) >= 2 and "(+" in text


def test_keysweeps_own_links_stay_links_in_a_verbatim_slack_section():
    """A verbatim section links nothing by itself: every console and documentation link keysweep
    names is written as Slack's explicit `<url>`, underscores and all."""
    from keysweep.remediation import notify

    for record in PROVIDERS.values():
        for url in (record.console_url, record.replacement.docs_url if record.replacement else None):
            if url:
                assert notify._slack_link(url) == "<" + url.replace("&", "&amp;") + ">", url
    assert notify._slack_link("javascript:alert(1)") == "javascript:alert(1)"
    assert notify._slack_link("https://e/x|evil") == "https://e/x|evil"

def test_slack_code_spans():
    assert slack_code("app/.env:3") == "`app/.env:3`"
    assert slack_code("") == "" and slack_code(None) == ""
    assert slack_code("a`b<@U123>&\n") == f"`a{SLACK_BACKTICK}b&lt;@U123&gt;&amp;\\n`"
    long = slack_code("x" * 1000)
    assert long == "`" + "x" * 299 + "\u2026`"
    # Cut as sent (an entity counts whole), never inside an entity.
    assert slack_code("<" * 1000) == "`" + "&lt;" * 74 + "\u2026`"
    assert slack_code("a&" * 500) == "`" + "a&amp;" * 49 + "a\u2026`"
    assert len(slack_code("<" * 1000, limit=40)) <= 40 + 2


@pytest.mark.parametrize("raw, shown", [
    ("vendor/##[add-mask]keysweep", "vendor/##\\x5badd-mask]keysweep"),
    ("x ##vso[task.setvariable variable=PATH]/tmp", "x ##vso\\x5btask.setvariable variable=PATH]/tmp"),
    ("##VSO[task.complete]", "##VSO\\x5btask.complete]"),
    ("##teamcity[buildStatus text='ok']", "##teamcity\\x5bbuildStatus text='ok']"),
    ("::error file=a::forged", "\\x3a:error file=a::forged"),
    ("  ::add-mask::x", "  \\x3a:add-mask::x"),
    ("\u00a0::debug::x", "\u00a0\\x3a:debug::x"),
    ("a::b ::c", "a::b ::c"),  # only a line's start is a command
    ("C++ ## [x] :x", "C++ ## [x] :x"),
])
def test_terminal_text_carries_no_ci_log_command(raw, shown):
    assert terminal_safe(raw) == shown


# -- CSV: no formula, however it is dressed ---------------------------------------------------------
def test_csv_neutralises_formulas_behind_white_space_and_line_breaks(run, make_repo, keys):
    """OWASP's list (= + - @ TAB CR) was neutralised; a formula behind a space (an import that trims
    spaces evaluates it), a LF or a no-break space was not. Columns and other cells: unchanged."""
    from keysweep.output import CSV_COLUMNS

    repo = make_repo()
    names = {" =HYPERLINK(\"https:evil\").env": keys.openai_project(), "\n=1+1.env": keys.anthropic(),
             "\u00a0@SUM(1).env": keys.github(), "  -2+3.env": keys.huggingface(), "a =b.env": keys.groq()}
    repo.commit("keys", {name: f"TOKEN={key}\n" for name, key in names.items()},
                author=("Mallory", "\u00a0=cmd@example.com"))
    result = run("scan", "git", repo.path, "--no-store", "--format", "csv")
    assert result.code == 1, result
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_column = [dict(zip(CSV_COLUMNS, row)) for row in rows[1:]]
    assert {row["path"] for row in by_column} == {"' =HYPERLINK(\"https:evil\").env", "'\n=1+1.env",
                                                 "'\u00a0@SUM(1).env", "'  -2+3.env", "a =b.env"}
    assert {row["author_email"] for row in by_column} == {"'\u00a0=cmd@example.com"}
    assert {row["repo"] for row in by_column} == {str(repo.path)}


# -- SARIF: message strings show what they quote -----------------------------------------------------
SARIF_NAME = "{0} [rotate here](https:evil.example) }{\u202e.txt"


def test_sarif_messages_quote_a_hostile_name_without_placeholder_or_link(run, tmp_path):
    """SARIF 2.1.0 §3.11.5: a message's `{0}` is a placeholder (the consumer puts arguments[0] there;
    with none the log is invalid), literal braces are doubled; §3.11.6: `[text](uri)` in a plain
    text message is a link; a bidi override reorders what a person reads. Was: an error quoting a
    file named as above carried all three as written."""
    from tests.test_rule_timeouts import REDOS_RULES, TRAP

    root = tmp_path / "project"
    root.mkdir()
    (root / SARIF_NAME).write_text(TRAP)
    rules = tmp_path / "redos.toml"
    rules.write_text(REDOS_RULES)
    result = run("scan", "dir", root, "--no-store", "--format", "sarif", "--rules", rules)
    assert result.code == 0, result
    (run_,) = result.json()["runs"]
    (notification,) = run_["invocations"][0]["toolExecutionNotifications"]
    assert notification["message"]["text"] == (
        "{{0}} [rotate here] (https:evil.example) }}{{\\u202e.txt: rule custom.redos exceeded the 2 s regex time limit "
        "and was skipped there (its pattern backtracks; 'keysweep rules check' tells)")



def test_gitlab_shows_a_hostile_place_as_text_and_keeps_the_file_exact(run, tmp_path, keys):
    """GitLab shows `details` and `scan.messages` to people; `location.file` is what it links with.
    Was: the place and the error carried the bidi override and the line break as written."""
    from tests.test_rule_timeouts import REDOS_RULES, TRAP

    root = tmp_path / "project"
    root.mkdir()
    name = "cfg\u202eenv.txt\r\nkeysweep: 0 findings ##[add-mask]x.env"
    (root / name).write_text(f"KEY={keys.openai_project()}\n")
    (root / f"trap{name}").write_text(TRAP)
    rules = tmp_path / "redos.toml"
    rules.write_text(REDOS_RULES)
    result = run("scan", "dir", root, "--no-store", "--format", "gitlab", "--rules", rules)
    assert result.code == 1, result
    report = result.json()
    (vulnerability,) = report["vulnerabilities"]
    assert vulnerability["location"]["file"] == name
    assert vulnerability["details"]["place"]["value"] == \
        "cfg\\u202eenv.txt\\r\\nkeysweep: 0 findings ##\\x5badd-mask]x.env:1"
    (message,) = report["scan"]["messages"]
    assert message["value"].startswith("trapcfg\\u202eenv.txt\\r\\nkeysweep: 0 findings ##\\x5badd-mask]x.env: "
                                       "rule custom.redos exceeded"), message


def test_gitlab_shows_a_hostile_author_as_text(run, make_repo, keys):
    repo = make_repo()
    repo.commit("k", {"app.env": f"K={keys.openai_project()}\n"}, author=("Mallory \u202eredlof", "m\u200b@e.com"))
    result = run("scan", "git", repo.path, "--no-store", "--format", "gitlab")
    assert result.code == 1, result
    (vulnerability,) = result.json()["vulnerabilities"]
    assert vulnerability["location"]["commit"]["author"] == "Mallory \\u202eredlof <m\\u200b@e.com>"

def test_sarif_rule_texts_are_message_strings():
    from keysweep.models import Finding, Occurrence
    from keysweep.output import sarif
    from keysweep.scanner.rules import Rule

    rule = Rule(id="custom.x", name="{1} <img src=x> [a](https://e)", provider="custom",
                description="d {2} <script>", regex="x", references=("javascript:alert(1)", "https://docs.example/x"))
    finding = Finding(id="f_1", rule_id="custom.x", provider="custom", secret_sha256="0" * 64, redacted="x{0}…](y",
                      long_lived=True, occurrences=[Occurrence(source="dir", path="a.txt", line=1)])
    (descriptor,) = sarif([finding], {"custom.x": rule})["runs"][0]["tool"]["driver"]["rules"]
    assert descriptor["shortDescription"] == {"text": "{{1}} <img src=x> [a] (https://e)"}
    assert descriptor["help"]["markdown"].startswith("**{{1}} &lt;img src=x&gt; [a] (https://e)**\n\nd {{2}} &lt;script&gt;")
    assert descriptor["helpUri"] == "https://docs.example/x"
    (result,) = sarif([finding], {"custom.x": rule})["runs"][0]["results"]
    assert result["message"]["text"].startswith("{{1}} <img src=x> [a] (https://e) x{{0}}…] (y (finding f_1")


# -- the HTML report: text, never markup, in an element or an attribute ------------------------------
HTML_NAME = '"><img src=x onerror=alert(1)><!-- [x](javascript:alert(1)) --><script>alert(2)</script>'


def test_the_html_report_keeps_hostile_names_and_authors_as_text(run, make_repo, keys, tmp_path):
    """A file name and a commit author written as HTML (closing the attribute they land in, a tag, a
    comment, a javascript: link, a script) are shown as text in the cell and in the title attribute."""
    import html

    repo = make_repo()
    email = 'a"><svg/onload=alert(1)>@e.com'
    repo.commit("k", {f"{HTML_NAME}.env": f"K={keys.openai_project()}\n"}, author=(HTML_NAME[2:], email))
    db = tmp_path / "s.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    assert run("owners", "--offline", "--db", db).code == 0
    page = tmp_path / "r.html"
    assert run("report", "--db", db, "--format", "html", "-o", page).code == 0
    text = page.read_text()
    body = text[text.index("<tbody>"):text.index("</tbody>")]
    for raw in ("<img", "<svg", "<script", "<!--", "javascript:alert(1))\""):
        assert raw not in body, raw
    assert f'<td class="where">{html.escape(str(repo.path))}:{html.escape(HTML_NAME)}.env:1</td>' in body
    assert f'title="{html.escape(email.replace("<", "").replace(">", ""))}"' in body  # git drops <> from an email
    assert text.count("<script>") == 1  # the page's own


# -- JSON printed into a CI job's log ----------------------------------------------------------------
LOG_NAME = "x ##[add-mask]keysweep ##vso[task.setvariable variable=PATH]tmp.env"


@pytest.mark.parametrize("command", [("scan", "git", "{repo}", "--no-store", "--format", "json"),
                                     ("scan", "git", "{repo}", "--no-store", "--format", "jsonl"),
                                     ("scan", "git", "{repo}", "--no-store", "--format", "sarif"),
                                     ("scan", "git", "{repo}", "--no-store", "--format", "gitlab"),
                                     ("findings", "--db", "{db}", "--format", "json"),
                                     ("owners", "--offline", "--db", "{db}", "--format", "json"),
                                     ("report", "--db", "{db}", "--format", "json"),
                                     ("revoke", "--all", "--db", "{db}", "--format", "json")])
def test_json_in_a_job_log_is_the_same_value_and_no_runner_command(run, make_repo, keys, tmp_path, command):
    """`##[…]` is a GitHub Actions command (`##vso[…]` an Azure Pipelines one) anywhere in a line of a
    job's log, and a JSON string keeps it as written. Was: `keysweep findings --format json` in a
    step masked 'keysweep' in the rest of the log. Now `[` is `\\u005b` there: the same JSON value."""
    from tests.fakes.actions_runner import commands

    repo = make_repo()
    repo.commit("k", {LOG_NAME: f"K={keys.openai_project()}\n"})
    db = tmp_path / "s.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    result = run(*(part.format(repo=repo.path, db=db) for part in command))
    assert result.code in (0, 1), result
    assert commands(result.stdout.splitlines()) == [], result.stdout
    assert "##[" not in result.stdout and "##vso[" not in result.stdout
    decoded = [json.loads(line) for line in result.stdout.splitlines()] if "jsonl" in command else \
        [json.loads(result.stdout)]
    shown = json.dumps(decoded, ensure_ascii=False)
    assert (quote(LOG_NAME) if "sarif" in command else json.dumps(LOG_NAME)[1:-1]) in shown  # the exact value


def test_json_text_is_json_dumps_but_for_the_bracket():
    from keysweep.sanitize import json_text

    value = {"p": "a ##[x] ##vso[y] ##teamcity[z] ## [ok] #[ok] \\##[", "##[k": ["##["]}
    assert json.loads(json_text(value)) == value
    assert json_text(value) == json.dumps(value).replace("##[", "##\\u005b").replace("##vso[", "##vso\\u005b") \
        .replace("##teamcity[", "##teamcity\\u005b")
    assert json_text({"a": [1, "b"]}, indent=2) == json.dumps({"a": [1, "b"]}, indent=2)
