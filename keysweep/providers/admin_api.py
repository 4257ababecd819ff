"""Reading a provider's admin API for its key inventory (providers/base.py's `Inventory`): one GET
or a cursor-paginated listing through the run's HTTP client, each failure one `AdminApiError`
whose message is the warning owners/ prints (never a body, never a credential)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from keysweep.clock import utc_iso
from keysweep.errors import KeysweepError
from keysweep.http import HttpClient, ListingError, Response, TransportError, list_all, list_by_offset
from keysweep.providers.base import Listing

if TYPE_CHECKING:
    from keysweep.providers.base import InventoryAccess

MAX_PAGES = 200


class AdminApiError(KeysweepError):
    """An admin API could not be read (no answer, an error status, not JSON)."""


def iso(value: Any) -> str | None:
    """A provider's timestamp (Unix seconds or an ISO string) as ISO 8601 UTC."""
    if isinstance(value, (int, float)) and value > 0:
        return utc_iso(datetime.fromtimestamp(value, timezone.utc))
    return value if isinstance(value, str) else None


async def get_json(access: "InventoryAccess", url: str, headers: dict[str, str], params: dict[str, str] | None,
                   what: str) -> Any:
    try:
        response = await access.ctx.http.request("GET", url, headers=headers, params=params)
    except TransportError as exc:
        raise AdminApiError(f"{what}: no answer ({exc})") from None
    body = response.json()
    if response.status != 200 or not isinstance(body, dict):
        raise AdminApiError(f"{what}: HTTP {response.status}{'' if body is not None else ' (not JSON)'}")
    return body


async def list_pages(http: HttpClient, base: str, listing: Listing, headers: dict[str, str], *,
                     on_response: Callable[[Response], None] | None = None, max_pages: int = 1000,
                     **fields: str) -> list[dict[str, Any]]:
    """Every entry of `listing` (its path filled with `fields`) under `base`; `on_response` sees each
    page's answer (a revoker records its calls with it). Raises http.py's ListingError."""
    url = listing.url(base, **fields)
    if listing.paging == "offset":
        return await list_by_offset(http, url, headers=headers, params=listing.params, offset_param=listing.cursor,
                                    on_response=on_response)
    return await list_all(http, url, headers=headers, params=listing.params, cursor_param=listing.cursor,
                          max_pages=max_pages, on_response=on_response)


async def paginate(access: "InventoryAccess", base: str, listing: Listing, headers: dict[str, str], what: str,
                   **fields: str) -> list[dict[str, Any]]:
    """`list_pages` for an inventory: at most MAX_PAGES pages, a failure as one AdminApiError."""
    try:
        return await list_pages(access.ctx.http, base, listing, headers, max_pages=MAX_PAGES, **fields)
    except ListingError as exc:
        if exc.response is None:
            raise AdminApiError(f"{what}: no answer ({exc.error})") from None
        not_json = "" if exc.response.json() is not None else " (not JSON)"
        raise AdminApiError(f"{what}: HTTP {exc.response.status}{not_json}") from None
