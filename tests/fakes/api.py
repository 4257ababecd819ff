"""A scriptable HTTP server on 127.0.0.1 for tests: provider APIs without the internet.

    with FakeApi() as api:
        api.add("GET", "/openai/v1/models", json={"object": "list", "data": []})
        api.add("GET", "/slow", delay=5)                      # a timeout
        api.add("GET", "/html", status=502, body="<html>…")   # a proxy's error page
        settings = Settings(env={"OPENAI_BASE_URL": api.url + "/openai/v1"})

Routes are matched on method and path (query ignored); a route may be a callable
`(request) -> Reply` for answers that depend on headers or query. Every request is recorded
(method, path, query, headers, body) for assertions. The server runs its own event loop in a
thread, so synchronous tests and `asyncio.run()` callers can both use it.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    body: str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class FakeApi:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[Seen] = []
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None

    # -- scripting --------------------------------------------------------------------------
    def add(self, method: str, path: str, reply: Reply | Callable[[Seen], Reply] | None = None, **kwargs: Any) -> None:
        self.routes[(method.upper(), path)] = reply if reply is not None else Reply(**kwargs)

    def reset(self) -> None:
        self.routes.clear()
        self.requests.clear()

    def seen(self, path: str | None = None) -> list[Seen]:
        return [r for r in self.requests if path is None or r.path == path]

    # -- serving ----------------------------------------------------------------------------
    async def _handle(self, request):
        from aiohttp import web

        body = await request.read()
        seen = Seen(request.method, request.path, dict(request.query), dict(request.headers), body)
        self.requests.append(seen)
        route = self.routes.get((request.method, request.path))
        if route is None:
            return web.json_response({"error": {"message": "no such route in FakeApi", "type": "not_found"}},
                                     status=404)
        reply = route(seen) if callable(route) else route
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.json is not None:
            payload = jsonlib.dumps(reply.json).encode()
            content_type = reply.content_type or "application/json"
        else:
            raw = reply.body if reply.body is not None else b""
            payload = raw.encode() if isinstance(raw, str) else raw
            content_type = reply.content_type or ("text/html" if payload.lstrip()[:1] == b"<" else "text/plain")
        return web.Response(status=reply.status, body=payload, headers={"Content-Type": content_type, **reply.headers})

    def _serve(self) -> None:
        from aiohttp import web

        async def main() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, shutdown_timeout=0.1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self._stopping = asyncio.Event()
            self._ready.set()
            await self._stopping.wait()
            await self._runner.cleanup()

        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(main())
        finally:
            # Handlers still sleeping (a simulated timeout the client gave up on) end with the server.
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()

            async def drain() -> None:
                await asyncio.gather(*pending, return_exceptions=True)

            self._loop.run_until_complete(drain())
            self._loop.close()

    def start(self) -> "FakeApi":
        self._thread = threading.Thread(target=self._serve, name="fakeapi", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("FakeApi did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> "FakeApi":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
