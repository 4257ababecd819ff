"""An admin API's listing is declared once, on the provider's record (`Listing`: path, query, paging),
and both owners and revokers page it through providers/admin_api.py's `list_pages`; a revoker still
records every page's call for the audit log."""

from __future__ import annotations

import asyncio
import json

import pytest

from keysweep.context import Context
from keysweep.http import ListingError, Response
from keysweep.providers import anthropic, openai, openrouter
from keysweep.providers.admin_api import list_pages
from keysweep.providers.base import Listing
from keysweep.revokers._common import list_admin_pages
from keysweep.revokers.anthropic import AnthropicRevoker
from keysweep.revokers.base import RevokeResult
from keysweep.revokers.openai import OpenAIRevoker
from keysweep.revokers.openrouter import OpenRouterRevoker
from keysweep.settings import Settings

BASE = "https://admin.example"


class ScriptedHttp:
    """Answers GETs from `pages` (url -> list of JSON bodies, one per request) and records every
    request's url and query."""

    def __init__(self, pages: dict[str, list], status: int = 200) -> None:
        self.pages = {url: list(bodies) for url, bodies in pages.items()}
        self.status = status
        self.seen: list[tuple[str, dict[str, str]]] = []

    async def request(self, method, url, *, headers=None, params=None, **_):
        assert method == "GET"
        self.seen.append((url, dict(params or {})))
        bodies = self.pages.get(url) or [{"data": []}]
        body = bodies.pop(0) if len(bodies) > 1 else bodies[0]
        return Response(self.status, {}, json.dumps(body).encode(), url)


def run(coro):
    return asyncio.run(coro)


def test_cursor_listing_follows_last_id_and_reports_each_page():
    listing = Listing("/things/{group}/keys", {"limit": "2"}, "after_id")
    http = ScriptedHttp({f"{BASE}/things/g1/keys": [
        {"data": [{"id": "a"}, {"id": "b"}], "has_more": True, "last_id": "b"},
        {"data": [{"id": "c"}], "has_more": False}]})
    answers: list[int] = []
    items = run(list_pages(http, BASE, listing, {}, on_response=lambda r: answers.append(r.status), group="g1"))
    assert [item["id"] for item in items] == ["a", "b", "c"]
    assert http.seen == [(f"{BASE}/things/g1/keys", {"limit": "2"}),
                         (f"{BASE}/things/g1/keys", {"limit": "2", "after_id": "b"})]
    assert answers == [200, 200]


def test_offset_listing_counts_entries_until_an_empty_page():
    listing = Listing("/keys", {}, "offset", paging="offset")
    http = ScriptedHttp({f"{BASE}/keys": [{"data": [{"hash": "h1"}, {"hash": "h2"}]}, {"data": [{"hash": "h3"}]},
                                          {"data": []}]})
    items = run(list_pages(http, BASE, listing, {}))
    assert [item["hash"] for item in items] == ["h1", "h2", "h3"]
    assert [params for _, params in http.seen] == [{"offset": "0"}, {"offset": "2"}, {"offset": "3"}]


def test_offset_listing_without_a_data_list_is_a_listing_error():
    http = ScriptedHttp({f"{BASE}/keys": [{"error": "nope"}]})
    with pytest.raises(ListingError):
        run(list_pages(http, BASE, Listing("/keys", {}, "offset", paging="offset"), {}))


def test_a_revoker_records_every_page_and_a_failure_as_its_result():
    listing = Listing("/keys", {"limit": "1"}, "after")
    http = ScriptedHttp({f"{BASE}/keys": [{"data": [{"id": "a"}], "has_more": True, "last_id": "a"},
                                          {"data": [{"id": "b"}], "has_more": False}]})
    calls: list[tuple[str, str, str]] = []
    ctx = Context(http=http, settings=Settings(env={}))
    assert len(run(list_admin_pages(ctx, BASE, listing, {}, calls, "listing"))) == 2
    assert calls == [("GET", f"{BASE}/keys", "200"), ("GET", f"{BASE}/keys", "200")]

    failing = Context(http=ScriptedHttp({}, status=503), settings=Settings(env={}))
    calls = []
    result = run(list_admin_pages(failing, BASE, listing, {}, calls, "listing"))
    assert isinstance(result, RevokeResult) and not result.ok and result.retryable
    assert result.calls == (("GET", f"{BASE}/keys", "503"),)


# The revokers ask exactly what the provider's record declares (path and query), as owners do.
def openai_inventory(ctx):
    return OpenAIRevoker()._inventory("project", {}, ctx, [])


def anthropic_inventory(ctx):
    return AnthropicRevoker()._inventory(ctx, {}, [])


def openrouter_inventory(ctx):
    return OpenRouterRevoker()._list_keys(ctx, BASE, {}, [])


@pytest.mark.parametrize("env, list_inventory, expected", [
    ({"OPENAI_BASE_URL": BASE}, openai_inventory,
     [(openai.PROJECTS.url(BASE), dict(openai.PROJECTS.params)),
      (openai.PROJECT_KEYS.url(BASE, project="p1"), dict(openai.PROJECT_KEYS.params))]),
    ({"ANTHROPIC_BASE_URL": BASE}, anthropic_inventory,
     [(anthropic.API_KEYS.url(BASE), dict(anthropic.API_KEYS.params))]),
    ({"KEYSWEEP_OPENROUTER_BASE_URL": BASE}, openrouter_inventory,
     [(openrouter.KEYS.url(BASE), {"offset": "0"})]),
], ids=["openai", "anthropic", "openrouter"])
def test_revokers_list_the_providers_declared_listing(env, list_inventory, expected):
    http = ScriptedHttp({openai.PROJECTS.url(BASE): [{"data": [{"id": "p1"}], "has_more": False}]})
    ctx = Context(http=http, settings=Settings(env=env))
    assert not isinstance(run(list_inventory(ctx)), RevokeResult)
    assert http.seen == expected
