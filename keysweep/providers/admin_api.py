"""Reading a provider's admin API for its key inventory (providers/base.py's `Inventory`): one GET
or a cursor-paginated listing through the run's HTTP client, each failure one `AdminApiError`
whose message is the warning owners/ prints (never a body, never a credential)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from keysweep.clock import utc_iso
from keysweep.errors import KeysweepError
from keysweep.fingerprint import secret_sha256
from keysweep.http import HttpClient, ListingError, Response, TransportError, list_all, list_by_offset
from keysweep.providers.base import Inventory, Listing

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
        if exc.pages is not None:
            raise AdminApiError(f"{what}: more than {exc.pages} pages, not read whole") from None
        if exc.response is None:
            raise AdminApiError(f"{what}: no answer ({exc.error})") from None
        if exc.response.json() is None:
            raise AdminApiError(f"{what}: HTTP {exc.response.status} (not JSON)") from None
        shape = " without the documented listing" if 200 <= exc.response.status < 300 else ""
        raise AdminApiError(f"{what}: HTTP {exc.response.status}{shape}") from None


# -- the admin inventory entry of a live key, for its reach (keysweep/verify/reach.py) --------------
class ReachAccess:
    """What an inventory reads through when a reach reader asks (providers/base.py InventoryAccess):
    the run's context, a cache shared by the run's readers, and the warnings kept for `unknown`."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.cache: dict[str, Any] = ctx.extra.setdefault("reach:inventory", {})
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


@dataclass(frozen=True)
class _Value:
    """A finding as the matcher sees it, for a value in hand (its hash is the value's own)."""

    secret_sha256: str
    redacted: str = ""


async def inventory_entry(access: ReachAccess, name: str, inventory: Inventory, secret: str,
                          admin_env: str) -> tuple[dict[str, Any] | None, str | None]:
    """The admin inventory's entry for this live key, bound by the one matcher (exactly one entry's
    redacted form fits the value), or None and why not. The listing is read once per run."""
    if not access.ctx.settings.admin_key(name):
        return None, f"owner and project: not read ({admin_env} is not set)"
    if inventory.list_keys is None or inventory.hint is None:
        return None, "owner and project: the inventory cannot list keys"
    lock = access.cache.setdefault(f"{name}:lock", asyncio.Lock())
    async with lock:
        if f"{name}:keys" not in access.cache:
            try:
                access.cache[f"{name}:keys"] = await inventory.list_keys(access)
            except AdminApiError as exc:
                access.cache[f"{name}:keys"] = None
                access.cache[f"{name}:error"] = str(exc)
    keys = access.cache[f"{name}:keys"]
    if keys is None:
        return None, f"owner and project: {access.cache.get(f'{name}:error') or 'the Admin API did not answer'}"
    # Imported where used: the revokers package imports the provider registry, which imports this module.
    from keysweep.revokers.binding import bind  # noqa: PLC0415

    binding = bind(keys, inventory.hint, _Value(secret_sha256(secret)), secret)
    if binding.entry is None:
        return None, f"owner and project: {binding.reason}"
    return binding.entry, None
