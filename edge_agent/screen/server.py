"""The device's own screen, served on the agent's loop: the page, its live updates (server-sent events) and its
actions.

aiohttp's server runs as one more task on the agent's asyncio loop (``AppRunner`` + ``TCPSite``, started and
cleaned up as coroutines): one loop, no second framework's signal handling. Views come from :class:`ScreenFeed`
(the outlet's retained publishes); ``POST /actions`` takes the command model the ``dv/{device}/ui`` topic takes and
hands it to the same route table (``InboundRouter.submit``), so no workflow exists twice. Being on the device, the
server adds the ``confirm_code`` a merge confirm needs (the device's screen key): the point of a local screen.

Security: every request's ``Host`` must be the server's own (a DNS-rebinding page cannot read the token); an
``Origin`` other than the server's own is refused; every action carries the per-start page token; bodies are
bounded and a malformed one is a 400 with its reason; live streams are bounded. Refusals are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from edge_agent.config import ScreenSection
from edge_agent.contract.base import utcnow
from edge_agent.contract.codec import Rejected
from edge_agent.contract.device import T_SESSION_COMMAND
from edge_agent.identity.tokens import confirm_code
from edge_agent.screen import const
from edge_agent.screen.claim_qr import claim_link_of, qr_svg
from edge_agent.screen.feed import ScreenFeed, Update
from edge_agent.screen.pages import CONTENT_TYPES, asset, catalogue, locales, render_page, static_names

log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Screen-Token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"reason": reason, "detail": detail[:300]}, status=status)


@dataclass
class ScreenServer:
    settings: ScreenSection
    feed: ScreenFeed
    ui_topic: str
    submit: Callable[[str, bytes], None]
    """The route table (InboundRouter.submit): raises Rejected with the reason, after counting it."""
    reject: Callable[[str, Rejected], None]
    """Count and log a refused request, as the inbound router does."""
    online: Callable[[], bool]
    screen_key: bytes
    source: str
    page: str = "kiosk"
    """Which page (``static/{page}.html`` and its ``messages/{locale}/{page}.json``) this device's role shows."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """Per start, embedded in the served page, required on every action and stream."""
    refused: Counter[str] = field(default_factory=Counter)
    port: int | None = None
    """The bound port once serving (``listen`` may name port 0 in tests)."""

    # --- the app ------------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=const.SCREEN_ACTION_MAX_BYTES)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/messages.json", self._messages)
        app.router.add_get("/events", self._events)
        app.router.add_get("/claim.svg", self._claim_qr)
        app.router.add_post("/actions", self._action)
        app.on_response_prepare.append(self._headers)
        return app

    async def run(self) -> None:
        """Serve until cancelled; a port that cannot be bound is retried (the agent goes on saving scans)."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=const.SCREEN_SHUTDOWN_S)
        await runner.setup()
        try:
            while True:
                site = web.TCPSite(runner, self.settings.host, self.settings.port)
                try:
                    await site.start()
                    break
                except OSError as exc:
                    log.error("screen: cannot listen on %s (%s); retrying", self.settings.listen, exc.strerror or exc)
                    await asyncio.sleep(const.SCREEN_BIND_RETRY_S)
            self.port = _bound_port(runner, self.settings.port)
            log.info("screen: serving http://%s:%s/", self.settings.host, self.port)
            while True:
                self.feed.set_online(self.online())
                await asyncio.sleep(const.SCREEN_LINK_POLL_S)
        finally:
            self.feed.close_all()
            with contextlib.suppress(Exception):
                await runner.cleanup()

    # --- security -----------------------------------------------------------------------------------------
    def _host_allowed(self, host: str | None) -> bool:
        if not host or self.port is None:
            return False
        name, _, port = host.rpartition(":")
        if port != str(self.port):
            return False
        name = name.strip("[]")
        listen = self.settings.host
        if name == listen:
            return True
        if _is_loopback(listen):
            return name == "localhost" or _is_loopback(name)
        if listen in ("0.0.0.0", "::"):  # any address of the device, but an address: a DNS name may rebind
            return name == "localhost" or _is_ip(name)
        return False

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._host_allowed(request.host):
            return self._refuse(403, "screen_host", f"Host {request.host[:100]!r} is not this screen's")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"http://{request.host}":
            return self._refuse(403, "screen_origin", f"Origin {origin[:100]!r} is not this screen's")
        return await handler(request)

    def _token_ok(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def _refuse(self, status: int, reason: str, detail: str) -> web.Response:
        self.refused[reason] += 1
        self.reject("screen", Rejected(reason, detail))
        return _refusal(status, reason, detail)

    async def _headers(self, _request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")

    # --- the page -----------------------------------------------------------------------------------------
    async def _page(self, _request: web.Request) -> web.Response:
        page = render_page(self.page, self.token, self.settings.locale, self.settings.attract_after_s)
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = CONTENT_TYPES.get(name[name.rfind(".") :]) if "." in name else None
        if kind is None or name not in static_names():
            raise web.HTTPNotFound()
        return web.Response(text=asset(name), content_type=kind, charset="utf-8")

    async def _messages(self, request: web.Request) -> web.Response:
        """The page's catalogue in the device's locale, or the one the shopper chose for their session."""
        locale = request.query.get("locale", self.settings.locale)
        if locale not in locales():
            return _refusal(404, "unknown_locale", f"allowed: {', '.join(sorted(locales()))}")
        return web.json_response(catalogue(locale, self.page))

    # --- live updates -------------------------------------------------------------------------------------
    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._token_ok(request.query.get("token")):
            return self._refuse(403, "screen_token", "a live stream without this start's page token")
        if self.feed.streams >= const.SCREEN_SSE_MAX_CLIENTS:
            response = self._refuse(503, "screen_streams", f"{const.SCREEN_SSE_MAX_CLIENTS} live streams open")
            response.headers["Retry-After"] = "5"
            return response
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        stream.headers["Cache-Control"] = "no-cache"
        queue = self.feed.open()
        try:
            await stream.prepare(request)
            await stream.write(f"retry: {const.SCREEN_SSE_RETRY_MS}\n\n".encode())
            for first in self.feed.snapshot():
                await stream.write(_sse(*first))
            await stream.write(_sse(self.feed.seq, "synced", {}))  # the page now shows the device's state
            while True:
                update: Update | None
                try:
                    async with asyncio.timeout(const.SCREEN_SSE_KEEPALIVE_S):
                        update = await queue.get()
                except TimeoutError:
                    await stream.write(b": keepalive\n\n")
                    continue
                if update is None:
                    break
                await stream.write(_sse(*update))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.feed.close(queue)
        return stream

    # --- the kiosk's claim QR ("take my basket to my phone", edge_agent/roles/claim.py) ---------------------
    async def _claim_qr(self, request: web.Request) -> web.Response:
        """The current claim link as an SVG QR; the link is a capability for the basket, so token-checked."""
        if not self._token_ok(request.query.get("token")):
            return self._refuse(403, "screen_token", "the claim QR without this start's page token")
        link = claim_link_of(self.feed.views.get("claim"))
        if link is None:
            return _refusal(404, "no_claim_link", "the basket offers no claim link now")
        return web.Response(body=qr_svg(link), content_type="image/svg+xml")

    # --- actions ------------------------------------------------------------------------------------------
    async def _action(self, request: web.Request) -> web.Response:
        if not self._token_ok(request.headers.get(TOKEN_HEADER)):
            return self._refuse(403, "screen_token", "an action without this start's page token")
        try:
            body = await request.json(loads=json.loads)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, "too_large", f"more than {const.SCREEN_ACTION_MAX_BYTES} bytes")
        except ValueError as exc:
            return self._refuse(400, "not_json", str(exc))
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("type"), str)
            or not isinstance(body.get("data"), dict)
        ):
            return self._refuse(400, "not_an_action", 'allowed: {"type": "<ui command type>", "data": {...}}')
        data: dict[str, Any] = dict(body["data"])
        if body["type"] == T_SESSION_COMMAND and data.get("action") == "confirm_merge":
            preview_id = data.get("preview_id")
            if isinstance(preview_id, str):  # the screen runs on the device: it proves so with the screen key
                data["confirm_code"] = confirm_code(self.screen_key, preview_id)
        event = {
            "specversion": "1.0",
            "type": body["type"],
            "source": self.source,
            "id": f"screen:{uuid.uuid4()}",
            "time": utcnow().isoformat(),
            "datacontenttype": "application/json",
            "data": data,
        }
        try:
            self.submit(self.ui_topic, json.dumps(event).encode())
        except Rejected as rej:  # already counted by the route table
            self.refused[rej.reason] += 1
            return _refusal(400, rej.reason, rej.detail)
        return web.json_response({"accepted": True}, status=202)


def _sse(seq: int, name: str, body: dict[str, Any]) -> bytes:
    return f"id: {seq}\nevent: {name}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n".encode()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured
