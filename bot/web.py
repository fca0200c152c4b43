"""The bot's HTTP server: Telegram's webhook and a health check.

The webhook refuses any request without the secret token Telegram was given
(compared in constant time), and answers 200 only after the update has been
handled and committed, so Telegram redelivers anything we did not take.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

TELEGRAM_WEBHOOK_PATH = "/telegram/webhook"
TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so the secret cannot be guessed from response times."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def create_web_app(health: Callable[[], dict], telegram: Callable[[dict], Awaitable[None]] | None = None,
                   telegram_secret: str | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **health()})

    app.router.add_get("/healthz", healthz)

    if telegram is not None:
        assert telegram_secret, "a webhook needs a secret"

        async def telegram_webhook(request: web.Request) -> web.Response:
            if not secret_matches(request.headers.get(TELEGRAM_SECRET_HEADER), telegram_secret):
                log.warning("telegram webhook: refused a request without the right secret from %s",
                            request.remote)
                return web.json_response({"ok": False, "error": "forbidden"}, status=403)
            try:
                data = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return web.json_response({"ok": False, "error": "not json"}, status=400)
            if not isinstance(data, dict) or "update_id" not in data:
                return web.json_response({"ok": False, "error": "not an update"}, status=400)
            await telegram(data)
            return web.json_response({"ok": True})

        app.router.add_post(TELEGRAM_WEBHOOK_PATH, telegram_webhook)
    return app
