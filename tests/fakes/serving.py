"""An aiohttp application on 127.0.0.1 in a thread of its own, for fakes of whole services
(Kubernetes, Vault): synchronous clients and `asyncio.run()` callers can both use it. With an
`ssl_context` it serves HTTPS (Azure Key Vault: azure-core sends bearer tokens over TLS only)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass


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

    async def handle(self, request):  # pragma: no cover - overridden
        raise NotImplementedError

    async def _record(self, request):
        self.requests.append(Seen(request.method, request.path, dict(request.query), dict(request.headers)))
        return await self.handle(request)

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
