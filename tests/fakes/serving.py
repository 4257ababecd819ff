"""An aiohttp application on 127.0.0.1 in a thread of its own, for fakes of whole services
(Kubernetes, Vault): synchronous clients and `asyncio.run()` callers can both use it. With an
`ssl_context` it serves HTTPS (Azure Key Vault: azure-core sends bearer tokens over TLS only).

A fake can be put behind a hostile intermediary (a proxy, WAF or gateway) for its reads or writes
of a secret (the fake says which requests those are, `call_kind`): `fake.intermediary["write"] =
(status, content_type, body)` answers them instead of the service (the write never arrives), or, with
`fake.forwards = True`, after the service handled it (a write made, its answer lost); a callable
instead rewrites the service's own JSON answer (a gateway dropping fields)."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class ThreadedApp:
    """Subclasses implement `async handle(request) -> web.Response`; every request is recorded."""

    def __init__(self, ssl_context=None) -> None:
        self.url = ""
        self.ssl_context = ssl_context
        self.requests: list[Seen] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        # "read" / "write" -> (status, content_type, body), or a function of the service's JSON answer
        self.intermediary: dict[str, tuple[int, str, bytes] | Callable[[Any], Any]] = {}
        self.forwards = False

    async def handle(self, request):  # pragma: no cover - overridden
        raise NotImplementedError

    def call_kind(self, request) -> str | None:
        """"read" or "write" for a request reading or writing a secret, else None."""
        return None

    async def _record(self, request):
        from aiohttp import web

        self.requests.append(Seen(request.method, request.path, dict(request.query), dict(request.headers)))
        reply = self.intermediary.get(self.call_kind(request) or "")
        if reply is None:
            return await self.handle(request)
        if callable(reply):
            answer = await self.handle(request)
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-type", "content-length")}
            return web.Response(status=answer.status, body=json.dumps(reply(json.loads(answer.body))).encode(),
                                content_type="application/json", headers=kept)
        if self.forwards:
            await self.handle(request)
        status, content_type, body = reply
        return web.Response(status=status, body=body, content_type=content_type)

    def _serve(self) -> None:
        from aiohttp import web

        async def main() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._record)
            runner = web.AppRunner(app, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
            await site.start()
            scheme = "https" if self.ssl_context is not None else "http"
            self.url = f"{scheme}://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            self._stopping = asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            await runner.cleanup()

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(main())
        finally:
            self._loop.close()

    def start(self):
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(5)
