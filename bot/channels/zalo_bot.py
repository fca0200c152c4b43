"""Zalo Bot API (Telegram-like bots on bot.zaloplatforms.com), over aiohttp.

Zalo bots have no buttons: choices are rendered as numbered lines
("Gõ 1 …") and the core maps a typed number, or the option's own words, back
to the choice. Messages are at most 2,000 characters, so longer text is split
at line breaks. Updates arrive on our webhook (secret header compared in
constant time; both the wrapped and the bare payload shapes) or, for
development, by long polling, which returns one update per call and 408 when
nothing came.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from bot import messages as msg
from bot.channels.common import split_text
from bot.models import Choice, Delivery, Incoming, Outcome, Reply
from bot.store.database import StorageUnavailable
from bot.store.outbox import DeliveryError

log = logging.getLogger(__name__)

CHANNEL = "zalo"
MAX_TEXT = 2000
EVENTS_WITH_TEXT = {"message.text.received"}
EVENT_IMAGE = "message.image.received"


def render_numbered(reply: Reply) -> str:
    """The reply as plain text with its choices as "Gõ 1 …" lines, set apart by a rule so that
    an answer's own numbered steps are never mistaken for choices."""
    lines = [reply.text]
    if reply.choices:
        lines += ["", msg.CHOICES_NUMBERED]
        lines += [f"Gõ {n}: {choice.label}" for n, choice in enumerate(reply.choices, 1)]
    return "\n".join(lines)


def event_of(payload: Any) -> dict | None:
    """The event inside a webhook body or getUpdates result, in either shape Zalo uses."""
    if not isinstance(payload, dict):
        return None
    inner = payload.get("result") if "result" in payload else payload
    if isinstance(inner, dict) and isinstance(inner.get("message"), dict) and inner.get("event_name"):
        return inner
    return None


def incoming_from(event: dict) -> Incoming | None:
    """An Incoming for the core from a Zalo Bot event (None for events we ignore)."""
    message = event["message"]
    sender = message.get("from") or {}
    chat = message.get("chat") or {}
    user_ref = str(sender.get("id") or chat.get("id") or "")
    if not user_ref or sender.get("is_bot"):
        return None
    name = event["event_name"]
    common = {
        "channel": CHANNEL, "user_ref": user_ref, "chat_ref": str(chat.get("id") or user_ref),
        "update_id": str(message.get("message_id") or "") or None,
        "display_name": str(sender.get("display_name") or ""),
    }
    if name in EVENTS_WITH_TEXT:
        return Incoming(text=str(message.get("text") or ""), **common)
    if name == EVENT_IMAGE:
        url = message.get("photo_url") or message.get("photo") or ""
        return Incoming(text=str(message.get("caption") or ""), photos=(str(url),) if url else (), **common)
    kind = "sticker" if name == "message.sticker.received" else "tin nhắn này"
    return Incoming(unsupported=kind, **common)


class ZaloBotChannel:
    """The Zalo Bot API client, its polling loop, and its outbox sender."""

    def __init__(self, token: str, api_base_url: str, handle: Callable[[Incoming], Awaitable[Outcome]],
                 remember_choices: Callable[[str, str, Sequence[Choice]], None],
                 poll_timeout: int = 30) -> None:
        self._base = f"{api_base_url.rstrip('/')}/bot{token}"
        self.handle = handle
        self.remember_choices = remember_choices
        self.poll_timeout = poll_timeout
        self.session: aiohttp.ClientSession | None = None
        self._polling: asyncio.Task | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.poll_timeout + 15))
        me = await self.call("getMe")  # a wrong token fails here, at start-up, not at the first reply
        log.info("zalo bot: connected as %s", (me or {}).get("account_name", "?"))

    async def close(self) -> None:
        await self.stop_updates()
        if self.session is not None:
            await self.session.close()

    async def call(self, method: str, **params: Any) -> Any:
        """One API call; errors come back as DeliveryError with Zalo's verdict."""
        assert self.session is not None
        try:
            async with self.session.post(f"{self._base}/{method}", json=params) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DeliveryError(f"zalo bot {method}: {type(exc).__name__}") from exc
        if isinstance(body, dict) and body.get("ok"):
            return body.get("result")
        code = body.get("error_code") if isinstance(body, dict) else response.status
        description = body.get("description", "") if isinstance(body, dict) else ""
        if code == 429:
            raise DeliveryError(f"zalo bot {method}: quota exceeded", retry_after=30)
        if code in (400, 403, 404):
            raise DeliveryError(f"zalo bot {method}: {code} {description}", permanent=True)
        raise DeliveryError(f"zalo bot {method}: {code} {description}")

    # -- incoming ---------------------------------------------------------------------

    async def take(self, payload: Any) -> bool:
        """A webhook body or polled update: hand it to the core. False if it is not an event.

        Raises `StorageUnavailable` when it could not be stored (then it is not acknowledged).
        """
        event = event_of(payload)
        if event is None:
            return False
        incoming = incoming_from(event)
        if incoming is not None:
            await self.handle(incoming)
        return True

    async def _take_until_stored(self, payload: Any) -> None:
        """A polled update is gone from Zalo once fetched: keep it until the database takes it."""
        delay = 1.0
        while True:
            try:
                await self.take(payload)
                return
            except StorageUnavailable:
                log.warning("zalo bot: database cannot be written; keeping the update, retrying in %.0f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)

    async def set_webhook(self, url: str, secret: str) -> None:
        await self.call("setWebhook", url=url, secret_token=secret)

    async def start_polling(self) -> None:
        await self.call("deleteWebhook")  # polling and a webhook exclude each other
        self._polling = asyncio.create_task(self._poll())

    async def stop_updates(self) -> None:
        if self._polling is not None:
            self._polling.cancel()
            try:
                await self._polling
            except asyncio.CancelledError:
                pass
            self._polling = None

    async def _poll(self) -> None:
        """Long polling for development: one update per call; 408 means nothing came."""
        assert self.session is not None
        while True:
            try:
                async with self.session.post(f"{self._base}/getUpdates",
                                             json={"timeout": str(self.poll_timeout)}) as response:
                    body = await response.json(content_type=None)
                if isinstance(body, dict) and body.get("ok"):
                    await self._take_until_stored(body)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("zalo bot polling: %s; retrying in 1 s", type(exc).__name__)
                await asyncio.sleep(1)

    # -- outgoing ---------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> None:
        reply = delivery.reply
        chat = delivery.chat_ref
        for photo in reply.photos:
            if photo.startswith("http"):  # Zalo takes photo URLs only
                await self.call("sendPhoto", chat_id=chat, photo=photo)
        for piece in split_text(render_numbered(reply), MAX_TEXT):
            await self.call("sendMessage", chat_id=chat, text=piece)
        if reply.choices:
            self.remember_choices(CHANNEL, chat, reply.choices)
