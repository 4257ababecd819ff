"""The HTML report a CISO can hand on (issue 14), read from its structure: headline cards that agree
with `keysweep status`; three charts, each with axis labels, ticks and a legend; the OWASP NHI codes
with their names; a credentials table with location, verification, reach and owner, sortable and
filterable by one inline script; owners merged across spellings; nothing external; and every
string from a scanned source or a provider escaped (file names, owners and scopes carrying markup
and script stay text). tests/test_report_browser.py renders the same page in Chromium."""

from __future__ import annotations

import re

import pytest

from keysweep.remediation import report as R
from keysweep.remediation.charts import nice_ticks, time_unit
from keysweep.sanitize import terminal_safe
from keysweep.store import Store
from tests.report_pages import HOSTILE_CONTACT, HOSTILE_OWNER, HOSTILE_PATHS, HOSTILE_SCOPE, Page, hostile_store
from tests.test_report_truth import DETECTED, finding, in_git

CARD_KEYS = ("count", "live", "dead", "unknown", "unverified", "no_value", "unowned", "open_jobs")


@pytest.fixture
def page(run, tmp_path):
    db, found = hostile_store(tmp_path)
    result = run("report", "--format", "html", "--db", db)
    assert result.code == 0, result
    return Page(result.stdout), result.stdout, db, found


def test_the_cards_are_the_counts_status_gives(page, run):
    parsed, _text, db, _found = page
    totals = run("status", "--format", "json", "--db", db).json()["totals"]
    cards = {a["data-key"]: int(a["data-count"]) for a in parsed.tags("div") if "card" in (a.get("class") or "").split()}
    assert cards == {key: totals[key] for key in CARD_KEYS}
    assert cards["live"] == 4 and cards["unknown"] == 1 and cards["dead"] == 2  # as the store holds them


def test_three_charts_each_with_axis_labels_ticks_and_a_legend(page):
    parsed, text, _db, _found = page
    charts = re.findall(r'<svg class="chart".*?</svg>', text, re.S)
    assert len(charts) == 3
    for chart in charts:
        assert re.search(r'class="axis-label x-label"[^>]*>[^<]+</text>', chart)
        assert re.search(r'class="axis-label y-label"[^>]*>[^<]+</text>', chart)
        for axis, least in (("x-axis", 1), ("y-axis", 2)):  # a provider axis may name one provider
            ticks = re.search(rf'<g class="axis {axis}">(.*?</g>)</g>', chart, re.S).group(1)
            assert len(re.findall(r'<g class="tick"><line[^>]*/><text[^>]*>[^<]+</text></g>', ticks)) >= least, axis
        assert re.search(r'<g class="legend">(<rect[^>]*/><text[^>]*>[^<]+</text>)+</g>', chart)
    labels = [re.search(r'y-label"[^>]*>([^<]+)<', chart).group(1) for chart in charts]
    assert labels[0] == "credentials" and labels[1] == "credentials"
    assert re.fullmatch(r"time to remediation \((seconds|minutes|hours|days)\)", labels[2])  # the unit


def test_chart_scales_are_round_and_name_their_unit():
    assert nice_ticks(7, whole=True) == [0, 2, 4, 6, 8]
    assert nice_ticks(0.9) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, whole=True) == [0, 1, 2, 3]
    assert [time_unit(s)[0] for s in (30, 600, 3 * 3600, 5 * 86400)] == ["seconds", "minutes", "hours", "days"]


def test_the_nhi_codes_are_listed_with_their_names(page):
    parsed, text, _db, _found = page
    nhi = parsed.text("nhi")
    for code, name in R.NHI_RISKS.items():
        assert re.search(rf"{code}\s*{re.escape(name)}", nhi), code
    # In the table each code carries its name.
    assert '<abbr title="Secret Leakage">NHI2</abbr>' in text


def test_the_credentials_table_has_location_verification_reach_and_owner(page):
    parsed, text, _db, found = page
    head = re.search(r'<table id="credentials".*?</thead>', text, re.S).group(0)
    for column in ("location", "status", "reach", "owner", "exposure", "OWASP NHI"):
        assert f">{column}</th>" in head, column
    rows = [a for a in parsed.tags("tr") if a.get("data-status")]
    assert len(rows) == len(found)
    body = parsed.text("credentials")
    assert "github.com/acme/web:live.env:3" in body and "ssm us-east-1 /prod/agent/anthropic (v3)" in body
    assert f"scopes: {HOSTILE_SCOPE}" in body and "org: <i>org</i>" in body  # reach, as text
    # Sorting and filtering: one inline script, and the controls it reads.
    assert len(parsed.tags("script")) == 1 and 'id="filter-text"' in text and 'id="filter-status"' in text
    assert re.findall(r"<th data-numeric>(\w+)</th>", head) == ["exposure", "response"]  # sorted as numbers


def test_nothing_external(page):
    parsed, text, _db, _found = page
    assert not parsed.tags("link") and not parsed.tags("img") and not parsed.tags("iframe")
    for _tag, attrs, _classes in parsed.elements:
        assert "src" not in attrs
    # The only addresses are the links to the vendors' documentation of the replacement.
    assert {tag for tag, attrs, _c in parsed.elements if "href" in attrs} == {"a"}
    assert "@import" not in text and "url(" not in text


def test_hostile_names_owners_and_scopes_stay_text(page):
    parsed, text, _db, _found = page
    # Structure: the page's own script only, no element made from data, no event handler attribute.
    assert len(parsed.tags("script")) == 1 and not parsed.tags("img") and not parsed.tags("b") \
        and not parsed.tags("i")
    assert len(parsed.tags("h1")) == 1  # the page's title only
    for _tag, attrs, _classes in parsed.elements:
        assert not any(name.startswith("on") for name in attrs), attrs
    # Each string reads as written (controls and bidi escaped, as on a terminal).
    body = parsed.text("credentials")
    for path in HOSTILE_PATHS:
        assert f"{terminal_safe(path)}:1" in body, path
    assert "\u202e" not in text
    assert HOSTILE_OWNER in body
    # The owner's contact sits in an attribute: quotes escaped, so it cannot end it.
    assert any(attrs.get("title") == HOSTILE_CONTACT for attrs in parsed.tags("span"))
    script = text.split("<script>", 1)[1].split("</script>", 1)[0]
    assert "alert" not in script


def test_owners_are_merged_across_spellings(tmp_path):
    store = Store(tmp_path / "o.db")
    spelled = [("Dana Dev", "dana@example.com"), ("dana@example.com", None), ("DANA  dev", None),
               ("Sam Ops", "sam@example.com")]
    findings = [finding("sk-proj-" + f"Own{i}" * 12, in_git(f"o{i}.env")) for i in range(len(spelled))]
    store.record(findings, "scope", DETECTED)
    for f, (name, contact) in zip(findings, spelled):
        store.replace_owner_candidates(f.id, [{"name": name, "contact": contact, "source": "owners-file",
                                               "confidence": 0.9, "evidence": "test", "chosen": True}], DETECTED)
    report = R.build(store)
    assert {name: s["count"] for name, s in report["by"]["owner"].items()} == {"Dana Dev": 3, "Sam Ops": 1}
    people = {c["owner"]: c["owner_person"] for c in report["credentials"]}
    assert people == {"Dana Dev": "Dana Dev", "dana@example.com": "Dana Dev", "DANA  dev": "Dana Dev",
                      "Sam Ops": "Sam Ops"}
    html_rows = Page(R.render_html(report)).text("credentials")
    assert html_rows.count("Dana Dev") == 3 and "dana@example.com" not in html_rows


def test_a_page_for_print_and_for_1280_pixels(page):
    _parsed, text, _db, _found = page
    style = text.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "@media print" in style and ".controls{display:none}" in style.replace(" ", "")
    assert "max-width:1280px" in style and ".scroll{overflow-x:auto" in style
