"""The HTML report rendered in a real headless Chromium (Debian's `chromium`, which .ci/run installs
when it is missing), checked from the page itself: no console error, no horizontal overflow at
1280 px, every chart with axis labels, sorting and filtering that work, hostile strings that stay
text. A screenshot at 1280 px and the printed PDF are kept as test artifacts
($KEYSWEEP_TEST_ARTIFACTS, default test-artifacts/ in the project).

Without Chromium the test is skipped on a developer's machine and fails under CI (CI=true)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from keysweep.sanitize import terminal_safe
from tests.report_pages import HOSTILE_OWNER, HOSTILE_PATHS, hostile_store

from .conftest import PROJECT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("KEYSWEEP_TEST_ARTIFACTS") or PROJECT / "test-artifacts")

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("no chromium here (`apt-get install chromium`; .ci/run installs it)", allow_module_level=True)

# Runs first in the page: every uncaught error and console.error is kept for the probe to report.
CATCH_ERRORS = """<script>window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push("error: " + e.message); });
window.addEventListener("unhandledrejection", function (e) { window.__errors.push("rejection: " + e.reason); });
(function () { var original = console.error; console.error = function () {
  window.__errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
  return original.apply(console, arguments); }; }());</script>"""

# Runs last, after the report's own script: measures the page and drives its table as a person would.
PROBE = """<script>(function () {
  var out = {errors: window.__errors};
  var root = document.documentElement;
  out.viewport = root.clientWidth; out.scroll_width = root.scrollWidth; out.inner_width = window.innerWidth;
  out.charts = Array.prototype.map.call(document.querySelectorAll("svg.chart"), function (svg) {
    var box = svg.getBoundingClientRect();
    return {x_label: (svg.querySelector(".x-label") || {}).textContent || "",
            y_label: (svg.querySelector(".y-label") || {}).textContent || "",
            x_ticks: svg.querySelectorAll(".x-axis .tick text").length,
            y_ticks: svg.querySelectorAll(".y-axis .tick text").length,
            legend: svg.querySelectorAll(".legend text").length, width: box.width, right: box.right};
  });
  var table = document.getElementById("credentials"), heads = table.tHead.rows[0].cells;
  out.table_width = table.scrollWidth; out.table_box = table.parentNode.clientWidth;
  function column(name) {
    for (var i = 0; i < heads.length; i++) { if (heads[i].textContent.trim() === name) { return i; } }
    return -1;
  }
  function values(i) {
    return Array.prototype.map.call(table.tBodies[0].rows, function (row) {
      var cell = row.cells[i]; var sort = cell.getAttribute("data-sort");
      return sort === null ? cell.textContent.trim() : sort; });
  }
  var exposure = column("exposure"), id = column("id");
  heads[exposure].click(); out.exposure_ascending = values(exposure);
  out.exposure_aria = heads[exposure].getAttribute("aria-sort");
  heads[exposure].click(); out.exposure_descending = values(exposure);
  heads[id].click(); out.id_ascending = values(id);
  var text = document.getElementById("filter-text"), status = document.getElementById("filter-status");
  function visible() {
    return Array.prototype.filter.call(table.tBodies[0].rows, function (row) { return !row.hidden; })
      .map(function (row) { return row.cells[id].textContent.trim(); });
  }
  text.value = "anthropic"; text.dispatchEvent(new Event("input"));
  out.filter_anthropic = visible(); out.shown = document.getElementById("shown").textContent;
  text.value = ""; text.dispatchEvent(new Event("input"));
  status.value = "live"; status.dispatchEvent(new Event("change"));
  out.filter_live = visible();
  status.value = ""; status.dispatchEvent(new Event("change"));
  out.all_rows = visible().length;
  out.scripts = document.scripts.length;
  out.handlers = document.querySelectorAll("[onerror],[onclick],[onmouseover],[onload]").length;
  out.images = document.images.length;
  out.table_text = table.textContent;
  out.cards = {};
  Array.prototype.forEach.call(document.querySelectorAll(".card"), function (card) {
    out.cards[card.getAttribute("data-key")] = parseInt(card.getAttribute("data-count"), 10); });
  var pre = document.createElement("pre"); pre.id = "probe-result"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}());</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.fail("CI without chromium: .ci/run installs Debian's chromium package")
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, timeout=180)


@pytest.fixture
def rendered(run, tmp_path):
    db, found = hostile_store(tmp_path)
    page = tmp_path / "report.html"
    result = run("report", "--format", "html", "--db", db, "-o", page)
    assert result.code == 0, result
    html = page.read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("<head>", "<head>" + CATCH_ERRORS, 1).replace("</body>", PROBE + "</body>", 1))
    dumped = chromium(tmp_path / "profile", "--window-size=1280,900", "--dump-dom", probe.as_uri())
    assert dumped.returncode == 0, dumped.stderr.decode(errors="replace")[-3000:]
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', dumped.stdout.decode())
    assert match, dumped.stdout.decode()[-3000:]
    import html as html_module

    result_data = json.loads(html_module.unescape(match.group(1)))
    return result_data, dumped.stderr.decode(errors="replace"), page, db, found


def test_no_console_error(rendered):
    probe, log, *_ = rendered
    assert probe["errors"] == []
    assert "Uncaught" not in log and not re.search(r"CONSOLE\(\d+\).*error", log, re.I), log[-3000:]


def test_no_horizontal_overflow_at_1280_px(rendered):
    probe, *_ = rendered
    assert probe["inner_width"] == 1280
    assert probe["scroll_width"] <= probe["viewport"], probe
    assert probe["table_width"] <= probe["table_box"], probe  # the credentials table fits too, no scrolling
    for chart in probe["charts"]:
        assert chart["right"] <= probe["viewport"] and chart["width"] > 300, chart  # on the page, readable


def test_every_chart_has_axis_labels_ticks_and_a_legend(rendered):
    probe, *_ = rendered
    assert len(probe["charts"]) == 3
    for chart in probe["charts"]:
        assert chart["x_label"].strip() and chart["y_label"].strip(), chart
        assert chart["x_ticks"] >= 1 and chart["y_ticks"] >= 2 and chart["legend"] >= 2, chart


def test_the_table_sorts_and_filters(rendered, run):
    probe, _log, _page, db, found = rendered
    ascending = [float(v) for v in probe["exposure_ascending"] if v != ""]
    descending = [float(v) for v in probe["exposure_descending"] if v != ""]
    assert len(ascending) >= 3 and ascending == sorted(ascending) and descending == sorted(ascending, reverse=True)
    assert probe["exposure_aria"] == "ascending"
    assert probe["exposure_ascending"][-1] == "" and probe["exposure_descending"][-1] == ""  # blanks last
    assert probe["id_ascending"] == sorted(f.id for f in found.values())
    assert probe["filter_anthropic"] == [found["spread"].id] and probe["shown"] == f"1 of {len(found)} shown"
    live = {c["id"] for c in run("report", "--status", "live", "--format", "json", "--db", db).json()["credentials"]}
    assert set(probe["filter_live"]) == live and probe["all_rows"] == len(found)


def test_the_cards_agree_with_status(rendered, run):
    probe, _log, _page, db, _found = rendered
    totals = run("status", "--format", "json", "--db", db).json()["totals"]
    assert probe["cards"] == totals


def test_hostile_strings_stay_text_in_the_browser(rendered):
    probe, *_ = rendered
    assert probe["scripts"] == 3  # the report's own, and the test's two
    assert probe["handlers"] == 0 and probe["images"] == 0
    for path in HOSTILE_PATHS:
        assert terminal_safe(path) in probe["table_text"], path
    assert HOSTILE_OWNER in probe["table_text"]


def test_a_screenshot_and_the_printed_pdf_are_kept(rendered):
    _probe, _log, page, *_ = rendered
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot, pdf = ARTIFACTS / "report-1280.png", ARTIFACTS / "report.pdf"
    for target in (shot, pdf):
        target.unlink(missing_ok=True)
    profile = page.parent / "profile-artifacts"
    taken = chromium(profile, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", taken.stderr[-2000:]
    printed = chromium(profile, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert printed.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-", printed.stderr[-2000:]
