"""Zalo Official Account (OA API v3): signed webhook events in, customer-service messages out.

Events: the `X-ZEvent-Signature` header is `mac=` SHA-256(app_id + raw body +
timestamp + OA secret key), compared in constant time; forged events and
events too old to be a live delivery are refused and logged. Zalo wants its
200 within 2 seconds and retries otherwise, so an event is only stored (its
`msg_id` as key: a retried delivery is a no-op) before the answer, and handled
right after by `process_inbox`.

Sending: `/v3.0/oa/message/cs` with the access token, quoting the user's last
`msg_id` so it counts as a reply. Up to five choices become `oa.query.hide`
buttons whose payload is the choice's number; more become numbered lines.
An expired token (-216) triggers one refresh with the single-use rotating
refresh token, stored at once, and one retry. Outside Zalo's reply window (8
replies within 48 hours of the user's last message) a message is held, and
released, behind a short notice, when the user writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlite_utils import Database

from bot import messages as msg
from bot.channels.common import Backoff, as_dict, as_ref, clean_text, is_storage_fault, split_text
from bot.channels.quarantine import quarantine
from bot.channels.zalo_bot import download, render_numbered
from bot.models import Choice, Delivery, Incoming, Outcome, Reply
from bot.store.outbox import DeliveryError, iso, release_held

log = logging.getLogger(__name__)

CHANNEL = "zalo_oa"
MAX_TEXT = 2000
MAX_BUTTONS = 5
TOKEN_EXPIRED = -216
SIGNATURE_HEADER = "X-ZEvent-Signature"


class ForgedEvent(Exception):
    """A webhook request that is not a genuine, fresh Zalo event."""


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    return hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


class ZaloOAChannel:
    def __init__(self, db: Database, app_id: str, oa_secret_key: str, app_secret: str,
                 api_base_url: str, oauth_base_url: str, handle: Callable[[Incoming], Awaitable[Outcome]],
                 remember_choices: Callable[[str, str, Sequence[Choice]], None],
                 clock: Callable[[], datetime], window: timedelta = timedelta(hours=48),
                 replies_per_window: int = 8, max_event_age: timedelta = timedelta(hours=2),
                 store_image: Callable[[bytes], Awaitable[str]] | None = None) -> None:
        self.db = db
        self.app_id = app_id
        self.oa_secret_key = oa_secret_key
        self.app_secret = app_secret
        self.api_base_url = api_base_url.rstrip("/")
        self.oauth_base_url = oauth_base_url.rstrip("/")
        self.handle = handle
        self.remember_choices = remember_choices
        self.clock = clock
        self.window = window
        self.replies_per_window = replies_per_window
        self.max_event_age = max_event_age
        self.store_image = store_image
        self.session: aiohttp.ClientSession | None = None
        self.backoff = Backoff()
        self._draining: asyncio.Task | None = None
        self._again = False

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        if self._draining is not None and not self._draining.done():
            self._draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._draining
        if self.session is not None:
            await self.session.close()

    # -- tokens -------------------------------------------------------------------------

    def seed_tokens(self, access_token: str, refresh_token: str) -> None:
        """Tokens from the environment, used only until the database has its own."""
        if self.db["oa_tokens"].count == 0 and refresh_token:
            with self.db.atomic():
                self.db["oa_tokens"].insert({"id": 1, "access_token": access_token,
                                             "refresh_token": refresh_token, "updated_at": iso(self.clock())})

    def _tokens(self) -> dict:
        rows = list(self.db["oa_tokens"].rows_where("id = 1"))
        if not rows:
            raise DeliveryError("zalo oa: no tokens (set ZALO_OA_REFRESH_TOKEN)", permanent=True)
        return rows[0]

    async def refresh(self) -> str:
        """Trade the refresh token for new tokens; both are stored in one transaction at once."""
        assert self.session is not None
        current = self._tokens()
        try:
            async with self.session.post(
                f"{self.oauth_base_url}/v4/oa/access_token", headers={"secret_key": self.app_secret},
                data={"app_id": self.app_id, "grant_type": "refresh_token",
                      "refresh_token": current["refresh_token"]},
            ) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DeliveryError(f"zalo oa token refresh: {type(exc).__name__}") from exc
        if not isinstance(body, dict) or not body.get("access_token") or not body.get("refresh_token"):
            log.error("zalo oa: token refresh refused: %s", (body or {}).get("error_name") if isinstance(body, dict) else body)
            raise DeliveryError("zalo oa: token refresh refused", retry_after=300)
        expires = self.clock() + timedelta(seconds=int(body.get("expires_in") or 0))
        with self.db.atomic():
            self.db["oa_tokens"].update(1, {"access_token": body["access_token"],
                                            "refresh_token": body["refresh_token"],
                                            "expires_at": iso(expires), "updated_at": iso(self.clock())})
        log.info("zalo oa: access token refreshed")
        return str(body["access_token"])

    # -- incoming -----------------------------------------------------------------------

    def verify(self, raw_body: bytes, header: str | None) -> dict:
        """The event, if the signature is Zalo's and the event is fresh; else ForgedEvent."""
        try:
            event = json.loads(raw_body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ForgedEvent("not JSON") from exc
        if not isinstance(event, dict):
            raise ForgedEvent("not an event")
        timestamp = str(event.get("timestamp") or "")
        if str(event.get("app_id")) != self.app_id:
            raise ForgedEvent("another app's event")
        if not (timestamp.isascii() and timestamp.isdigit()):  # also keeps lone surrogates out of the hash
            raise ForgedEvent("bad timestamp")
        given = (header or "").strip().removeprefix("mac=")
        expected = signature(self.app_id, raw_body, timestamp, self.oa_secret_key)
        if not (given.isascii() and hmac.compare_digest(given, expected)):
            raise ForgedEvent("bad signature")
        try:
            sent_at = datetime.fromtimestamp(int(timestamp) / 1000, UTC)
        except (ValueError, OverflowError, OSError) as exc:  # not a number, or years beyond 9999
            raise ForgedEvent("bad timestamp") from exc
        if abs(self.clock() - sent_at) > self.max_event_age:
            raise ForgedEvent("stale event (replayed?)")
        return event

    def store(self, event: dict) -> bool:
        """Keep a verified event for processing; False if it was already received (a retry)."""
        message = as_dict(event.get("message"))
        event_id = clean_text(message.get("msg_id") or f"{event.get('event_name')}:{event.get('timestamp')}")
        with self.db.atomic():
            if list(self.db["inbox"].rows_where("channel = ? and event_id = ?", [CHANNEL, event_id])):
                return False
            self.db["inbox"].insert({"channel": CHANNEL, "event_id": event_id, "status": "pending",
                                     # ASCII-escaped: a lone surrogate from a JSON escape cannot fail the insert
                                     "payload": json.dumps(event),
                                     "received_at": iso(self.clock())})
        return True

    async def process_inbox(self) -> int:
        """Handle stored events in arrival order; returns how many this call handled.

        One drain at a time: a call while one runs only makes it go round once more (so
        two webhook deliveries never handle the same rows side by side). When the database
        cannot be written the drain waits, backing off, with the events safe in the inbox."""
        if self._draining is not None and not self._draining.done():
            self._again = True
            return 0
        self._draining = asyncio.current_task()
        try:
            return await self._drain()
        finally:
            self._draining = None

    async def _drain(self) -> int:
        """Handle every pending event; returns how many. An event that cannot be handled is
        quarantined; on a storage fault the rest wait, and are tried again after a pause."""
        done = 0
        while True:
            self._again = False
            try:
                rows = list(self.db["inbox"].rows_where("channel = ? and status = 'pending'", [CHANNEL],
                                                         order_by="rowid", limit=100))
                for row in rows:
                    await self._process(row)
                    done += 1
            except Exception as exc:  # noqa: BLE001 - a storage fault: keep the events, retry later
                if not is_storage_fault(exc):
                    raise
                delay = self.backoff.next_delay()
                log.error("zalo oa: the database cannot be written (%s); events wait, retrying in %.0f s",
                          exc, delay)
                await asyncio.sleep(delay)
                continue
            self.backoff.reset()
            if not self._again and len(rows) < 100:
                return done

    async def _process(self, row: dict) -> None:
        """One stored event: to the core, or to quarantine; then marked so it is not taken again."""
        status = "done"
        try:
            event = json.loads(row["payload"])
            incoming = await self._incoming(event)
            if incoming is not None:
                self._user_wrote(incoming.chat_ref, incoming.update_id or "")
                await self.handle(incoming)
        except Exception as exc:
            if is_storage_fault(exc):
                raise
            quarantine(self.db, self.clock(), CHANNEL, row["event_id"], row["payload"], exc)
            status = "quarantined"
        with self.db.atomic():
            self.db["inbox"].update((CHANNEL, row["event_id"]), {"status": status})

    async def _incoming(self, event: dict) -> Incoming | None:
        name = event.get("event_name")
        if not isinstance(name, str) or not name.startswith("user_send_"):
            return None  # follows, read receipts, echoes of our own messages
        user = as_ref(as_dict(event.get("sender")).get("id"))
        if not user:
            raise ValueError("an event from a user without sender.id")
        message = as_dict(event.get("message"))
        common = {"channel": CHANNEL, "user_ref": user, "chat_ref": user,
                  "update_id": as_ref(message.get("msg_id")) or None}
        if name == "user_send_text":
            return Incoming(text=clean_text(message.get("text") or ""), **common)
        if name == "user_send_image":
            urls = [url for a in _list(message.get("attachments"))
                    if isinstance(url := as_dict(as_dict(a).get("payload")).get("url"), str)
                    and url.startswith(("http://", "https://"))]
            return Incoming(text=clean_text(message.get("text") or ""), photos=await self._stored(urls), **common)
        return Incoming(unsupported=name.removeprefix("user_send_"), **common)

    async def _stored(self, urls: list[str]) -> tuple[str, ...]:
        """Each image downloaded and stored ("/files/…"): Zalo's URLs expire. A URL that cannot
        be downloaded is kept as it is, for a technician to try while it lasts."""
        if self.store_image is None or self.session is None:
            return tuple(urls)
        refs: list[str] = []
        for url in urls[:10]:
            data = await download(self.session, url)
            if data is None:
                refs.append(url)
                continue
            try:
                refs.append(await self.store_image(data))
            except ValueError as exc:
                log.warning("zalo oa: an image sent is not kept (%s)", exc)
        return tuple(refs)

    def _user_wrote(self, chat_ref: str, msg_id: str) -> None:
        """The window reopens; anything held for this user goes out, after a notice."""
        now = self.clock()
        with self.db.atomic():
            self.db["reply_windows"].upsert({"channel": CHANNEL, "chat_ref": chat_ref, "last_user_at": iso(now),
                                             "last_message_id": msg_id, "replies": 0},
                                            pk=("channel", "chat_ref"))
            held = self.db.execute("select count(*) from outbox where status = 'held' and channel = ? "
                                   "and chat_ref = ?", [CHANNEL, chat_ref]).fetchone()[0]
            if held:
                release_held(self.db, now, CHANNEL, chat_ref, Reply(msg.REPLIES_WAITING.format(n=held)))

    # -- outgoing -----------------------------------------------------------------------

    def _window(self, chat_ref: str) -> dict | None:
        rows = list(self.db["reply_windows"].rows_where("channel = ? and chat_ref = ?", [CHANNEL, chat_ref]))
        if not rows:
            return None
        row = rows[0]
        if self.clock() - datetime.fromisoformat(row["last_user_at"]) > self.window:
            return None
        if row["replies"] >= self.replies_per_window:
            return None
        return row

    def _messages(self, reply: Reply) -> list[dict]:
        bodies: list[dict] = [{"attachment": {"type": "template", "payload": {
            "template_type": "media", "elements": [{"media_type": "image", "url": url}]}}}
            for url in reply.photos if url.startswith("http")]
        if reply.choices and len(reply.choices) <= MAX_BUTTONS and len(reply.text) <= 640:
            buttons = [{"title": c.label[:100], "type": "oa.query.hide", "payload": str(n)}
                       for n, c in enumerate(reply.choices, 1)]
            bodies.append({"attachment": {"type": "template", "payload": {
                "template_type": "button", "text": reply.text, "buttons": buttons}}})
        else:
            bodies += [{"text": piece} for piece in split_text(render_numbered(reply), MAX_TEXT)]
        return bodies

    async def send(self, delivery: Delivery) -> None:
        window = self._window(delivery.chat_ref)
        if window is None:
            raise DeliveryError("outside Zalo's reply window", hold=True)
        bodies = self._messages(delivery.reply)
        if window["replies"] + len(bodies) > self.replies_per_window:
            raise DeliveryError("Zalo's reply allowance is used up", hold=True)
        for body in bodies:
            recipient = {"user_id": delivery.chat_ref}
            if window["last_message_id"]:
                recipient["message_id"] = window["last_message_id"]
            await self._post_cs({"recipient": recipient, "message": body})
        with self.db.atomic():
            self.db.execute("update reply_windows set replies = replies + ? where channel = ? and chat_ref = ?",
                            [len(bodies), CHANNEL, delivery.chat_ref])
        if delivery.reply.choices:
            self.remember_choices(CHANNEL, delivery.chat_ref, delivery.reply.choices)

    async def _post_cs(self, payload: dict[str, Any], retried: bool = False) -> None:
        assert self.session is not None
        token = self._tokens()["access_token"] or ""
        try:
            async with self.session.post(f"{self.api_base_url}/v3.0/oa/message/cs", json=payload,
                                         headers={"access_token": token}) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise DeliveryError(f"zalo oa send: {type(exc).__name__}") from exc
        error = body.get("error") if isinstance(body, dict) else None
        if error == 0:
            return
        if error == TOKEN_EXPIRED and not retried:
            await self.refresh()
            await self._post_cs(payload, retried=True)
            return
        raise DeliveryError(f"zalo oa send: error {error}: {(body or {}).get('message', '')}")
