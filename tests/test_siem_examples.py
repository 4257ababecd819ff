"""The SIEM examples of docs/usage.md (`keysweep events` into Splunk's HTTP Event Collector and
Elasticsearch's bulk API), run as written with bash, jq and curl against local fakes of the two APIs
(their URLs swapped for the fakes'). The fakes answer as the vendors document: HEC wants
`Authorization: Splunk <token>` (401 "Token is required", 403 "Invalid token"), takes a batch of
JSON event objects each with an `event`, answers 400 "No data" to an empty body and
`{"text": "Success", "code": 0}` otherwise; `_bulk` wants NDJSON (an action line, then the document;
the body ends with a newline) and answers 200 with `errors` and one item per action, 400 to an empty
body."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYSWEEP_BIN, PROJECT
from tests.fakes.serving import ThreadedApp

pytestmark = pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None,
                                reason="the documented snippets use jq and curl")
USAGE = (PROJECT / "docs" / "usage.md").read_text()
TOKEN = "11111111-2222-3333-4444-555555555555"


def snippet(heading: str) -> str:
    """The first ```sh block after the paragraph that starts with `heading`."""
    match = re.search(rf"^{re.escape(heading)}.*?\n```sh\n(.*?)```", USAGE, re.S | re.M)
    assert match, f"docs/usage.md has no sh block after {heading!r}"
    return match.group(1)


class FakeHEC(ThreadedApp):
    """Splunk HTTP Event Collector, /services/collector/event."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []

    async def handle(self, request):
        from aiohttp import web

        if request.method != "POST" or request.path != "/services/collector/event":
            return web.json_response({"text": "The requested URL was not found on this server.", "code": 404}, status=404)
        auth = request.headers.get("Authorization", "")
        if not auth:
            return web.json_response({"text": "Token is required", "code": 2}, status=401)
        if auth != f"Splunk {TOKEN}":
            return web.json_response({"text": "Invalid token", "code": 4}, status=403)
        body = (await request.read()).decode()
        if not body.strip():
            return web.json_response({"text": "No data", "code": 5}, status=400)
        decoder, index, batch = json.JSONDecoder(), 0, []
        while index < len(body):
            if body[index].isspace():
                index += 1
                continue
            try:
                event, index = decoder.raw_decode(body, index)
            except ValueError:
                return web.json_response({"text": "Invalid data format", "code": 6, "invalid-event-number": len(batch)},
                                         status=400)
            if not isinstance(event, dict) or "event" not in event:
                return web.json_response({"text": "Event field is required", "code": 12,
                                          "invalid-event-number": len(batch)}, status=400)
            batch.append(event)
        self.events.extend(batch)
        return web.json_response({"text": "Success", "code": 0})


class FakeElastic(ThreadedApp):
    """Elasticsearch /_bulk with `index` actions."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[tuple[str, str], dict] = {}

    async def handle(self, request):
        from aiohttp import web

        if request.method not in ("POST", "PUT") or request.path != "/_bulk":
            return web.json_response({"error": "no handler found", "status": 400}, status=400)
        if not request.headers.get("Content-Type", "").startswith(("application/x-ndjson", "application/json")):
            return web.json_response({"error": "Content-Type header is not supported", "status": 406}, status=406)
        body = (await request.read()).decode()
        if not body:
            return web.json_response({"error": {"type": "action_request_validation_exception",
                                                "reason": "Validation Failed: 1: no requests added;"}, "status": 400},
                                     status=400)
        if not body.endswith("\n"):
            return web.json_response({"error": {"type": "illegal_argument_exception",
                                                "reason": "The bulk request must be terminated by a newline [\\n]"},
                                      "status": 400}, status=400)
        lines = body.splitlines()
        items = []
        for action_line, document_line in zip(lines[::2], lines[1::2]):
            target = json.loads(action_line)["index"]
            key = (target["_index"], target["_id"])
            result = "updated" if key in self.documents else "created"
            self.documents[key] = json.loads(document_line)
            items.append({"index": {"_index": key[0], "_id": key[1], "result": result,
                                    "status": 200 if result == "updated" else 201}})
        return web.json_response({"took": 1, "errors": False, "items": items})


@pytest.fixture
def events_store(run, make_repo, keys, tmp_path):
    repo = make_repo()
    repo.commit("Config", {"app/.env": f"OPENAI_API_KEY={keys.openai_project()}\n",
                           "deploy.sh": f"export GH={keys.github()}\n"})
    db = tmp_path / "store.db"
    assert run("scan", "git", repo.path, "--db", db, "--format", "json").code == 1
    return dict(db=db, repo=repo, listed=run("events", "--db", db).jsonl())


def run_snippet(script: str, cwd: Path, db: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "KEYSWEEP_DB": str(db), "PYTHONPATH": str(PROJECT),
                "PATH": f"{KEYSWEEP_BIN.parent}{os.pathsep}{os.environ['PATH']}", **env}
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


def test_splunk_hec_gets_each_event_once_and_resumes(events_store, tmp_path, keys, run):
    hec = FakeHEC().start()
    try:
        script = snippet("Splunk (HTTP Event Collector)").replace("https://splunk.example.com:8088", hec.url)
        work = tmp_path / "splunk"
        work.mkdir()
        first = run_snippet(script, work, events_store["db"], SPLUNK_HEC_TOKEN=TOKEN)
        assert first.returncode == 0, first.stderr
        listed = events_store["listed"]
        assert [e["event"]["id"] for e in hec.events] == [e["id"] for e in listed]
        assert all(e["sourcetype"] == "keysweep:event" and isinstance(e["time"], int) for e in hec.events)
        assert (work / ".keysweep-last-seq").read_text().strip() == str(listed[-1]["seq"])

        again = run_snippet(script, work, events_store["db"], SPLUNK_HEC_TOKEN=TOKEN)
        assert again.returncode == 0, again.stderr  # nothing new: nothing sent, no error
        assert len(hec.events) == len(listed) and len(hec.requests) == 1

        events_store["repo"].commit("More", {"agent.py": f"KEY = '{keys.anthropic()}'\n"})
        assert run("scan", "git", events_store["repo"].path, "--db", events_store["db"], "--format", "json").code == 1
        refused = run_snippet(script, work, events_store["db"], SPLUNK_HEC_TOKEN="wrong")
        assert refused.returncode != 0 and "403" in refused.stderr
        assert (work / ".keysweep-last-seq").read_text().strip() == str(listed[-1]["seq"])  # kept: resent next time
        resumed = run_snippet(script, work, events_store["db"], SPLUNK_HEC_TOKEN=TOKEN)
        assert resumed.returncode == 0, resumed.stderr
        ids = [e["event"]["id"] for e in hec.events]
        assert len(ids) == len(set(ids)) > len(listed)  # the new events, each once
    finally:
        hec.stop()


def test_elasticsearch_bulk_indexes_each_event_by_its_id(events_store, tmp_path):
    elastic = FakeElastic().start()
    try:
        script = snippet("Elasticsearch (bulk API").replace("https://elastic.example.com:9200", elastic.url)
        work = tmp_path / "elastic"
        work.mkdir()
        first = run_snippet(script, work, events_store["db"])
        assert first.returncode == 0, first.stderr
        listed = events_store["listed"]
        # Every event, the `leaked` ones too (dated by the commit, years back), each under its own id.
        assert set(elastic.documents) == {("keysweep-events", e["id"]) for e in listed}
        assert all(elastic.documents[("keysweep-events", e["id"])] == e for e in listed)
        assert {e["kind"] for e in listed} >= {"detected", "leaked"}
        nothing_new = run_snippet(script, work, events_store["db"])
        assert nothing_new.returncode == 0, nothing_new.stderr
        assert len(elastic.requests) == 1  # no new event: no request
        (work / ".keysweep-elastic-seq").unlink()  # sending everything again stores each event once
        assert run_snippet(script, work, events_store["db"]).returncode == 0
        assert len(elastic.documents) == len(listed) and len(elastic.requests) == 2
    finally:
        elastic.stop()
