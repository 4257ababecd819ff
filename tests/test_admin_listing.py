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
        bodies = self.pages.get(url) or [{"data": [], "has_more": False}]
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


@pytest.mark.parametrize("page", [
    {},                                                 # a proxy's empty object
    {"data": [{"id": "a"}]},                            # no has_more: cannot tell whether it is all
    {"data": {"id": "a"}, "has_more": False},           # data not a list
    {"data": [], "has_more": True},                     # more announced, and no cursor to ask it with
    [{"id": "a"}],
], ids=["empty-object", "no-has-more", "data-not-a-list", "more-after-an-empty-page", "a-list"])
def test_a_cursor_page_not_in_the_documented_shape_is_a_listing_error_never_a_shorter_list(page):
    http = ScriptedHttp({f"{BASE}/keys": [page]})
    with pytest.raises(ListingError, match="HTTP 200 without the documented listing"):
        run(list_pages(http, BASE, Listing("/keys", {}, "after"), {}))


def test_a_cursor_listing_longer_than_its_page_limit_is_an_error_not_its_first_pages():
    endless = ScriptedHttp({f"{BASE}/keys": [{"data": [{"id": "a"}], "has_more": True, "last_id": "a"}]})
    with pytest.raises(ListingError, match="more than 3 pages") as raised:
        run(list_pages(endless, BASE, Listing("/keys", {}, "after"), {}, max_pages=3))
    assert raised.value.pages == 3 and len(endless.seen) == 3


def test_an_offset_listing_past_its_limit_is_an_error_not_its_first_entries():
    from keysweep.http import list_by_offset

    endless = ScriptedHttp({f"{BASE}/keys": [{"data": [{"hash": "h"}, {"hash": "i"}]}]})
    with pytest.raises(ListingError, match="more than 3 pages"):
        run(list_by_offset(endless, f"{BASE}/keys", headers={}, params={}, offset_param="offset", max_offset=5))
    assert [params["offset"] for _, params in endless.seen] == ["0", "2", "4"]


def test_a_revoker_believes_no_listing_a_proxy_answered_and_proves_nothing_from_a_cut_one():
    ctx = Context(http=ScriptedHttp({f"{BASE}/keys": [{}]}), settings=Settings(env={}))
    calls: list[tuple[str, str, str]] = []
    result = run(list_admin_pages(ctx, BASE, Listing("/keys", {}, "after"), {}, calls, "key listing"))
    assert isinstance(result, RevokeResult) and not result.ok and result.retryable
    assert result.detail == "key listing: HTTP 200 without the documented success body; not believed"
    assert result.calls == (("GET", f"{BASE}/keys", "200"),)

    endless = ScriptedHttp({f"{BASE}/keys": [{"data": [{"id": "a"}], "has_more": True, "last_id": "a"}]})
    calls = []
    result = run(list_admin_pages(Context(http=endless, settings=Settings(env={})), BASE,
                                  Listing("/keys", {}, "after"), {}, calls, "key listing"))
    assert not result.ok and not result.retryable
    assert result.detail == "needs a person: key listing: more than 1000 pages, not read whole"
    assert len(result.calls) == 1000


def test_an_owner_inventory_says_a_proxied_or_cut_listing_was_not_read_whole():
    from keysweep.providers.admin_api import AdminApiError, paginate

    class Access:
        cache: dict = {}

        def __init__(self, http):
            self.ctx = Context(http=http, settings=Settings(env={}))

        def warn(self, message):
            raise AssertionError(message)

    with pytest.raises(AdminApiError, match=r"^keys: HTTP 200 without the documented listing$"):
        run(paginate(Access(ScriptedHttp({f"{BASE}/keys": [{}]})), BASE, Listing("/keys", {}, "after"), {}, "keys"))
    endless = ScriptedHttp({f"{BASE}/keys": [{"data": [{"id": "a"}], "has_more": True, "last_id": "a"}]})
    with pytest.raises(AdminApiError, match=r"^keys: more than 200 pages, not read whole$"):
        run(paginate(Access(endless), BASE, Listing("/keys", {}, "after"), {}, "keys"))


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
