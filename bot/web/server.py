"""The bot's HTTP server: the messengers' webhooks and a health check.

Every webhook refuses a request that does not prove it comes from the
platform (a secret header, or Zalo OA's signature), compared in constant
time. Telegram and the Zalo Bot get their 200 only after the update has been
handled and committed, so they redeliver anything we did not take; Zalo OA
wants its answer within 2 seconds, so its events are stored first and handled
right after the answer. When the database cannot be written, every webhook
answers 503, so the platform delivers the update again later, and /healthz
answers 503 too while a real write fails.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.store.database import is_unavailable
from bot.web.trust import Network, add_security_headers, client_address

log = logging.getLogger(__name__)

TELEGRAM_WEBHOOK_PATH = "/telegram/webhook"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_BOT_WEBHOOK_PATH = "/zalo/bot/webhook"
ZALO_BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"
ZALO_OA_WEBHOOK_PATH = "/zalo/oa/webhook"
MAX_BODY = 6 * 1024 * 1024
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple)  # web.trusted_proxies, parsed: for the logs

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the secret cannot be guessed from response times."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _refused(request: web.Request, what: str, why: str) -> web.Response:
    log.warning("%s webhook: refused a request from %s: %s", what,
                client_address(request, request.app.get(TRUSTED_PROXIES, ())), why)
    return web.json_response({"ok": False, "error": "forbidden"}, status=403)


async def _json(request: web.Request) -> dict | None:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _not_stored(what: str, exc: Exception) -> web.Response:
    log.warning("%s webhook: not acknowledged, the database cannot be written (%s); "
                "the platform will deliver it again", what, exc)
    return web.json_response({"ok": False, "error": "storage unavailable, try again"}, status=503)


def telegram_webhook(process: Callable[[dict], Awaitable[None]], secret: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(TELEGRAM_SECRET_HEADER), secret):
            return _refused(request, "telegram", "wrong or missing secret")
        data = await _json(request)
        if data is None or "update_id" not in data:
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        try:
            await process(data)
        except Exception as exc:
            if is_unavailable(exc):
                return _not_stored("telegram", exc)
            raise
        return web.json_response({"ok": True})

    return handler


def zalo_bot_webhook(take: Callable[[dict], Awaitable[bool]], secret: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        if not secret_matches(request.headers.get(ZALO_BOT_SECRET_HEADER), secret):
            return _refused(request, "zalo bot", "wrong or missing secret")
        data = await _json(request)
        try:
            taken = data is not None and await take(data)
        except Exception as exc:
            if is_unavailable(exc):
                return _not_stored("zalo bot", exc)
            raise
        if not taken:
            return web.json_response({"ok": False, "error": "not an event"}, status=400)
        return web.json_response({"ok": True})

    return handler


def zalo_oa_webhook(verify: Callable[[bytes, str | None], dict], store: Callable[[dict], bool],
                    after: Callable[[], None], header: str) -> Handler:
    from bot.channels.zalo_oa import ForgedEvent

    async def handler(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            event = verify(raw, request.headers.get(header))
        except ForgedEvent as exc:
            return _refused(request, "zalo oa", str(exc))
        try:
            store(event)  # a retried delivery is already stored: nothing to do twice
        except Exception as exc:
            if is_unavailable(exc):
                return _not_stored("zalo oa", exc)
            raise
        after()
        return web.json_response({"error": 0})

    return handler


def create_web_app(health: Callable[[], Awaitable[tuple[bool, dict]] | dict], routes: list[tuple[str, Handler]],
                   trusted_proxies: tuple[Network, ...] = ()) -> web.Application:
    """`health` says whether the bot can work (the database takes a write) and what to report."""
    app = web.Application(client_max_size=MAX_BODY)  # also caps console uploads (5 MB images)
    app[TRUSTED_PROXIES] = trusted_proxies
    app.on_response_prepare.append(add_security_headers)  # nosniff, no framing, a CSP: every response

    async def healthz(request: web.Request) -> web.Response:
        result = health()
        if inspect.isawaitable(result):
            result = await result
        ok, report = result if isinstance(result, tuple) else (True, result)
        return web.json_response({"ok": ok, **report}, status=200 if ok else 503)

    app.router.add_get("/healthz", healthz)
    # Pages are Jinja2 templates (bot.web.pages); CSS and scripts are files under /static.
    app.router.add_static("/static", Path(__file__).parent / "static")
    for path, handler in routes:
        app.router.add_post(path, handler)
    return app
