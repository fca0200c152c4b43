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
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlite_utils import Database

from bot import messages as msg
from bot.channels.common import (
    Backoff,
    StartError,
    as_dict,
    as_ref,
    clean_text,
    is_storage_fault,
    split_text,
)
from bot.channels.quarantine import quarantine
from bot.models import Choice, Delivery, Incoming, Outcome, Reply
from bot.store.outbox import DeliveryError

log = logging.getLogger(__name__)

CHANNEL = "zalo"
MAX_TEXT = 2000
EVENTS_WITH_TEXT = {"message.text.received"}
EVENT_IMAGE = "message.image.received"
MAX_DOWNLOAD = 5 * 1024 * 1024  # an image larger than this is not kept
DOWNLOAD_SECONDS = 20


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


def incoming_from(event: dict, photos: tuple[str, ...] | None = None) -> Incoming | None:
    """An Incoming for the core from a Zalo Bot event (None for events we ignore).

    `photos` replaces the event's photo URL with what the channel stored (Zalo's
    URLs expire, so images are downloaded when they arrive)."""
    message = event["message"]
    sender = as_dict(message.get("from"))
    chat = as_dict(message.get("chat"))
    user_ref = as_ref(sender.get("id")) or as_ref(chat.get("id"))
    if not user_ref or sender.get("is_bot"):
        return None
    name = event["event_name"]
    common = {
        "channel": CHANNEL, "user_ref": user_ref, "chat_ref": as_ref(chat.get("id")) or user_ref,
        "update_id": as_ref(message.get("message_id")) or None,
        "display_name": clean_text(sender.get("display_name") or ""),
    }
    if name in EVENTS_WITH_TEXT:
        return Incoming(text=clean_text(message.get("text") or ""), **common)
    if name == EVENT_IMAGE:
        if photos is None:
            url = photo_url(event)
            photos = (url,) if url else ()
        return Incoming(text=clean_text(message.get("caption") or ""), photos=photos, **common)
    kind = "sticker" if name == "message.sticker.received" else "tin nhắn này"
    return Incoming(unsupported=kind, **common)


def photo_url(event: dict) -> str:
    """The image's URL in a `message.image.received` event ("photo_url" or "photo")."""
    message = as_dict(event.get("message"))
    url = message.get("photo_url") or message.get("photo") or ""
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else ""


async def download(session: aiohttp.ClientSession, url: str, limit: int = MAX_DOWNLOAD) -> bytes | None:
    """The file at `url` (at most `limit` bytes), or None when it cannot be had."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=DOWNLOAD_SECONDS)) as response:
            if response.status != 200:
                log.warning("image download: HTTP %s", response.status)
                return None
            data = await response.content.read(limit + 1)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("image download failed: %s", type(exc).__name__)
        return None
    if len(data) > limit:
        log.warning("image download: larger than %d bytes, not kept", limit)
        return None
    return data


class ZaloBotChannel:
    """The Zalo Bot API client, its polling loop, and its outbox sender.

    Like Telegram's, an event that cannot be handled is quarantined (with `db`) and
    skipped; a storage fault keeps the event (a polled one in memory, since Zalo has no
    offset to hold back; a webhook one by answering 500) until the database works.
    """

    def __init__(self, token: str, api_base_url: str, handle: Callable[[Incoming], Awaitable[Outcome]],
                 remember_choices: Callable[[str, str, Sequence[Choice]], None],
                 poll_timeout: int = 30, db: Database | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 store_image: Callable[[bytes], Awaitable[str]] | None = None) -> None:
        self._base = f"{api_base_url.rstrip('/')}/bot{token}"
        self.api_base_url = api_base_url.rstrip("/")
        self.handle = handle
        self.remember_choices = remember_choices
        self.poll_timeout = poll_timeout
        self.db = db
        self.clock = clock
        self.store_image = store_image
        self.session: aiohttp.ClientSession | None = None
        self._polling: asyncio.Task | None = None
        self.backoff = Backoff()

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.poll_timeout + 15))
        try:
            me = await self.call("getMe")  # a wrong token fails here, at start-up, not at the first reply
        except DeliveryError as exc:
            await self.session.close()
            refused = exc.permanent or "401" in str(exc)
            raise StartError(
                "Zalo refused the bot token: check ZALO_BOT_TOKEN" if refused else
                f"cannot reach the Zalo Bot API at {self.api_base_url}; check the network or "
                "zalo_bot.api_base_url (ZALO_BOT_API_BASE_URL)") from None
        log.info("zalo bot: connected as %s", as_dict(me).get("account_name", "?"))

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
        if code in (400, 401, 403, 404):
            raise DeliveryError(f"zalo bot {method}: {code} {description}", permanent=True)
        raise DeliveryError(f"zalo bot {method}: {code} {description}")

    # -- incoming ---------------------------------------------------------------------

    async def take(self, payload: Any) -> bool:
        """A webhook body or polled update: hand it to the core. False if it is not an event.

        An event that breaks on the way is quarantined (True: it was taken); a storage
        fault is raised, so the update is not acknowledged."""
        event = event_of(payload)
        if event is None:
            return False
        try:
            photos = await self._stored_photos(event)
            incoming = incoming_from(event, photos)
            if incoming is not None:
                await self.handle(incoming)
        except Exception as exc:
            if is_storage_fault(exc) or self.db is None:
                raise
            message = as_dict(event.get("message"))
            quarantine(self.db, self.clock(), CHANNEL, as_ref(message.get("message_id")) or None, payload, exc)
        return True

    async def _stored_photos(self, event: dict) -> tuple[str, ...] | None:
        """The event's image downloaded and stored ("/files/…"), since Zalo's URL expires;
        None (keep the URL) when that is not possible."""
        if event.get("event_name") != EVENT_IMAGE or self.store_image is None or self.session is None:
            return None
        url = photo_url(event)
        if not url:
            return None
        data = await download(self.session, url)
        if data is None:
            return None
        try:
            return (await self.store_image(data),)
        except ValueError as exc:  # not an image we keep
            log.warning("zalo bot: the image sent is not kept (%s)", exc)
            return ()

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

    async def _pause(self, why: str, retry_after: float | None = None) -> None:
        delay = self.backoff.next_delay(retry_after)
        log.warning("zalo bot: %s; polling again in %.1f s", why, delay)
        await asyncio.sleep(delay)

    async def _poll(self) -> None:
        """Long polling: one update per call; 408 means nothing came. Errors are backed off."""
        assert self.session is not None
        while True:
            try:
                async with self.session.post(f"{self._base}/getUpdates",
                                             json={"timeout": str(self.poll_timeout)}) as response:
                    status = response.status
                    body = await response.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                await self._pause(f"getUpdates failed ({type(exc).__name__})")
                continue
            if not isinstance(body, dict):
                await self._pause(f"getUpdates answered HTTP {status} with a {type(body).__name__}")
                continue
            if not body.get("ok"):
                code = body.get("error_code")
                if code == 408 or status == 408:  # the long poll ended with nothing: ask again
                    self.backoff.reset()
                    continue
                retry_after = as_dict(body.get("parameters")).get("retry_after")
                await self._pause(f"getUpdates refused ({code or status})",
                                  float(retry_after) if isinstance(retry_after, int | float) else None)
                continue
            self.backoff.reset()
            await self._take_polled(body)

    async def _take_polled(self, body: dict) -> None:
        """Handle one polled update; on a storage fault keep it and try again until it is stored."""
        while True:
            try:
                if not await self.take(body) and self.db is not None:
                    quarantine(self.db, self.clock(), CHANNEL, None, body, "not an event")
                self.backoff.reset()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - storage fault (or no db to quarantine in)
                if not is_storage_fault(exc):
                    log.error("zalo bot: an update could not be handled (%s: %s); skipped",
                              type(exc).__name__, exc)
                    return
                await self._pause(f"the database cannot be written ({exc}); the update is kept")


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
