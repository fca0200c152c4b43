"""Telegram, through python-telegram-bot v22: updates in, outbox deliveries out.

Incoming: our own getUpdates loop (or the webhook) parses each update on its
own; every message, edited message and button press becomes an `Incoming` for
the core. An update that cannot be parsed or handled is quarantined and
acknowledged; errors from getUpdates are backed off (honouring retry_after). Replies to one of the bot's own messages carry the
ticket that message was about (looked up in our `channel_messages` table,
never read from forward metadata), which is how technicians answer an
official by replying to a ticket card in their group.

Outgoing: the outbox worker calls `TelegramSender.send`. Choices become an
inline keyboard, long text is split under 4096 characters at line
boundaries, everything is HTML-escaped, and a reply with a `key` (a ticket
card) edits the message posted earlier under that key instead of posting a
new one. Telegram's answers become outbox outcomes: 429 → retry after the
time it asks, 403 → the user is unreachable, network errors and 5xx → retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application

from bot import messages as msg
from bot.channels.common import Backoff, StartError, clean_text, is_storage_fault, split_text
from bot.channels.telegram_http import AiohttpRequest, not_sent
from bot.channels.quarantine import quarantine
from bot.models import Delivery, Incoming, Outcome, Reply
from bot.store.database import Writer
from bot.store.outbox import DeliveryError, iso

log = logging.getLogger(__name__)

CHANNEL = "telegram"
PRIVATE_INTERVAL = 1.0  # seconds between messages to one private chat
GROUP_INTERVAL = 3.0  # 20 messages a minute in a group
OVERALL_PER_SECOND = 30
RAW_PIECE = 3500  # characters of text per message before escaping
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Connections for sending, our getUpdates long poll included (see `send_request` for the size).
SEND_POOL = 16
SEND_READ_TIMEOUT = 30.0  # seconds to wait for Telegram's answer to a send
SEND_CONNECT_TIMEOUT = 5.0  # seconds to open a connection to the Bot API

MENU_ACTIONS = {msg.MENU_ASK: "menu:ask", msg.MENU_REPORT: "menu:report", msg.MENU_TICKETS: "menu:tickets"}
MAIN_MENU = ReplyKeyboardMarkup([[msg.MENU_ASK, msg.MENU_REPORT], [msg.MENU_TICKETS]], resize_keyboard=True)

STAFF_COMMANDS = [
    ("hoi", "Hỏi đáp"), ("baoloi", "Báo sự cố cho kỹ thuật viên"), ("yeucau", "Các yêu cầu của tôi"),
    ("dangky", "Đăng ký thông tin cán bộ"), ("huy", "Hủy thao tác đang làm"), ("trogiup", "Hướng dẫn"),
]
TECHNICIAN_COMMANDS = [
    ("ds", "Hàng đợi yêu cầu"), ("xem", "Xem yêu cầu N"), ("nhan", "Nhận xử lý yêu cầu N"),
    ("traloi", "Trả lời cán bộ: /traloi N nội dung"), ("ghichu", "Ghi chú nội bộ: /ghichu N nội dung"),
    ("cho", "Chờ cán bộ bổ sung"), ("xong", "Đã xử lý: /xong N ghi chú"), ("chuyen", "Chuyển hàng đợi"),
    ("mo", "Mở lại yêu cầu"), ("trogiup", "Hướng dẫn"),
]
ADMIN_COMMANDS = TECHNICIAN_COMMANDS + [
    ("taifaq", "Nạp lại FAQ"), ("chuatraloi", "Câu hỏi FAQ chưa trả lời được"), ("thongke", "Thống kê"),
    ("cachly", "Tin nhắn bị cách ly"),
    ("capquyen", "Cấp quyền"), ("thuhoi", "Thu hồi quyền"), ("duyet", "Duyệt đăng ký"),
]


def _escaped_pieces(text: str) -> list[str]:
    """HTML-escaped pieces, each within Telegram's limit once escaped (cut before escaping,
    so an entity like &amp; is never split)."""
    pieces: list[str] = []
    for raw in split_text(text, RAW_PIECE):
        escaped = html.escape(raw, quote=False)
        if len(escaped) > MessageLimit.MAX_TEXT_LENGTH:  # mostly '&' and '<': cut smaller
            pieces += [html.escape(p, quote=False) for p in split_text(raw, MessageLimit.MAX_TEXT_LENGTH // 5)]
        else:
            pieces.append(escaped)
    return pieces


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if reply.request_contact:
        return ReplyKeyboardMarkup([[KeyboardButton(msg.BTN_SHARE_PHONE, request_contact=True)]],
                                   one_time_keyboard=True, resize_keyboard=True)
    if not reply.choices:
        return None
    if {c.action for c in reply.choices} == set(MENU_ACTIONS.values()):
        return MAIN_MENU  # the main menu stays under the text box
    return InlineKeyboardMarkup([[InlineKeyboardButton(c.label, callback_data=c.action)] for c in reply.choices])


def _update_id(item: object) -> int | None:
    """The update's id if it has a usable one (an int, as Telegram sends it)."""
    value = item.get("update_id") if isinstance(item, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def send_request() -> AiohttpRequest:
    """The HTTP client for sends (and our getUpdates): a pool for many chats at once, and
    timeouts that fit the Bot API.

    aiohttp rather than PTB's default httpx: see bot/channels/telegram_http.py.

    SEND_POOL connections: replies to many chats go out at once, and our getUpdates long
    poll holds one connection too (it goes through this request object). With aiohttp
    the pool's size costs nothing per request (bench_telegram, 1000 updates x 4 rounds:
    2.92, 2.72, 2.76, 2.89, 2.88 CPU ms/update with 2, 4, 8, 16, 32 connections, all
    within the run-to-run noise; httpcore looked at every pooled connection on each
    request, so there fewer was cheaper). So it is sized for Telegram: at up to ~0.3 s
    per send, the 15 sends in flight of a pool of 16 keep up with its limit of 30
    messages a second, the 7 of a pool of 8 would not.

    PTB's default 5 s read timeout is shorter than a slow Telegram answer; a send
    that timed out after it went out may well have arrived, so it must not be
    retried blindly. Waiting longer makes that rare, and `send` reports it as
    "in doubt" (not sent again) rather than as a failure.
    """
    return AiohttpRequest(connection_pool_size=SEND_POOL, connect_timeout=SEND_CONNECT_TIMEOUT,
                          read_timeout=SEND_READ_TIMEOUT,
                          write_timeout=SEND_READ_TIMEOUT, pool_timeout=SEND_READ_TIMEOUT)


def _seconds(value: object) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # type: ignore[arg-type]


def _record_sent(db: Database, row: tuple) -> None:
    """(channel, chat, message, ticket, key, when) into channel_messages, in the caller's transaction."""
    db.execute("insert or replace into channel_messages (channel, chat_ref, message_ref, ticket_id, key, created_at) "
               "values (?, ?, ?, ?, ?, ?)", row)


class _Pacer:
    """Spaces messages: per chat (1/s private, 20/min group) and overall (30/s)."""

    def __init__(self, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.now = now
        self.sleep = sleep
        self.next_for_chat: dict[str, float] = {}
        self.recent: list[float] = []
        self.lock = asyncio.Lock()

    async def wait(self, chat_ref: str) -> None:
        interval = GROUP_INTERVAL if chat_ref.startswith("-") else PRIVATE_INTERVAL
        now = self.now()
        ready = self.next_for_chat.get(chat_ref, now)
        self.next_for_chat[chat_ref] = max(ready, now) + interval
        if ready > now:
            await self.sleep(ready - now)
        async with self.lock:
            now = self.now()
            self.recent = [t for t in self.recent if now - t < 1.0]
            if len(self.recent) >= OVERALL_PER_SECOND:
                await self.sleep(1.0 - (now - self.recent[0]))
            self.recent.append(self.now())


class TelegramChannel:
    """The Telegram bot (PTB's `Bot`), our own getUpdates loop, and the outbox sender.

    We poll ourselves instead of using PTB's Updater: the Updater parses a whole
    batch at once, so one update the library cannot parse fails the batch, the offset
    never moves, and the same batch comes back for ever. Here each update is parsed
    and handled on its own; one that cannot be is quarantined and acknowledged, and a
    storage fault acknowledges nothing (Telegram keeps the update until we can store it).
    """

    def __init__(self, token: str, api_base_url: str, db: Database,
                 handle: Callable[[Incoming], Awaitable[Outcome]], clock: Callable[[], datetime],
                 poll_timeout: int = 30, webhook: bool = False,
                 local_file: Callable[[str], Path | None] | None = None, writer: Writer | None = None) -> None:
        self.db = db  # the event loop's connection: small reads by key only
        self.writer = writer  # where what was sent is recorded (None: on `db`, for scripts and tests)
        self.local_file = local_file  # "/files/…" (a stored image) -> its file, to upload
        self.handle = handle
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.api_base_url = api_base_url.rstrip("/")
        base = self.api_base_url
        # PTB's own getUpdates request is never used (we poll through the send request, see
        # `_fetch`), but PTB builds and opens one: ours, so that no httpx client is made at all.
        self.requests = (send_request(), AiohttpRequest(connection_pool_size=1))
        self.app = (Application.builder().token(token).base_url(f"{base}/bot")
                    .base_file_url(f"{base}/file/bot").updater(None).request(self.requests[0])
                    .get_updates_request(self.requests[1]).build())
        self.webhook = webhook
        self.pacer = _Pacer()
        self.backoff = Backoff()
        self.offset = 0  # the next update_id wanted: everything below it is acknowledged
        self._polling: asyncio.Task | None = None

    # -- lifetime -------------------------------------------------------------------

    async def start(self, polling: bool = True) -> None:
        """Check the token with getMe and start polling; a failure is one clear StartError.

        On a failure the HTTP sessions opened for getMe are closed here: PTB's
        `Application.shutdown` does nothing after a failed `initialize`."""
        try:
            try:
                await self.app.initialize()
            except BaseException:
                await self.app.bot.shutdown()
                raise
        except InvalidToken:
            raise StartError("Telegram refused the bot token: check TELEGRAM_BOT_TOKEN "
                             "(from @BotFather)") from None
        except NetworkError as exc:
            raise StartError(f"cannot reach the Telegram Bot API at {self.api_base_url} "
                             f"({type(exc).__name__}); check the network or telegram.api_base_url "
                             "(TELEGRAM_API_BASE_URL)") from None
        except TelegramError as exc:
            raise StartError(f"the Telegram Bot API at {self.api_base_url} refused getMe "
                             f"({type(exc).__name__}); check TELEGRAM_BOT_TOKEN and "
                             "telegram.api_base_url") from None
        if polling and not self.webhook:
            self._polling = asyncio.create_task(self._poll(), name="telegram-poll")

    async def stop_updates(self) -> None:
        """Take no more updates; sending keeps working until `close`."""
        if self._polling is not None:
            self._polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
            self._polling = None

    async def close(self) -> None:
        await self.stop_updates()
        await self.app.shutdown()  # a no-op when start never got through getMe

    async def set_commands(self, technician_chats: list[str], admin_chats: list[str]) -> None:
        """Vietnamese command menus: staff in private chats, technicians in their groups.

        A nicety: if Telegram refuses now, the bot still starts (the menus are kept from
        the last start)."""
        bot = self.app.bot
        try:
            await bot.set_my_commands([BotCommand(c, d) for c, d in STAFF_COMMANDS],
                                      scope=BotCommandScopeAllPrivateChats())
            for chat in technician_chats:
                await bot.set_my_commands([BotCommand(c, d) for c, d in TECHNICIAN_COMMANDS],
                                          scope=BotCommandScopeChat(int(chat)))
            for chat in admin_chats:
                await bot.set_my_commands([BotCommand(c, d) for c, d in ADMIN_COMMANDS],
                                          scope=BotCommandScopeChat(int(chat)))
        except TelegramError as exc:
            log.warning("telegram: the command menus were not set (%s); carrying on", type(exc).__name__)

    async def set_webhook(self, url: str, secret: str) -> None:
        try:
            await self.app.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        except TelegramError as exc:
            raise StartError(f"Telegram refused the webhook {url} ({type(exc).__name__}: {exc.message}); "
                             "check telegram.webhook_url") from None

    async def process_webhook(self, data: dict) -> None:
        """One update posted to our webhook: handled (and committed) before we answer 200.

        An update that cannot be handled is quarantined and answered 200 (so Telegram
        stops resending it); a storage fault raises, the webhook answers 500, and
        Telegram delivers the update again later."""
        update_id = _update_id(data)
        try:
            await self._take(data)
        except Exception as exc:
            if is_storage_fault(exc):
                raise
            quarantine(self.db, self.clock(), CHANNEL, None if update_id is None else str(update_id), data, exc)

    # -- polling ----------------------------------------------------------------------

    async def _poll(self) -> None:
        """getUpdates until cancelled: each update parsed and handled on its own, errors backed off."""
        while True:
            batch = await self._fetch()
            if batch is None:
                continue
            before = self.offset
            if await self._take_batch(batch):
                if batch and self.offset == before:  # no usable update_id at all: do not spin
                    await self._pause("getUpdates returned updates without an update_id")
                else:
                    self.backoff.reset()  # only a batch taken whole ends a run of failures

    async def _pause(self, why: str, retry_after: float | None = None) -> None:
        delay = self.backoff.next_delay(retry_after)
        log.warning("telegram: %s; polling again in %.1f s", why, delay)
        await asyncio.sleep(delay)

    async def _fetch(self) -> list | None:
        """One getUpdates call; None (after a back-off pause) when it failed."""
        params: dict = {"timeout": self.poll_timeout, "allowed_updates": ALLOWED_UPDATES}
        if self.offset:
            params["offset"] = self.offset
        try:
            # The raw JSON, not PTB's parsed tuple: one bad update must not fail the batch.
            # Bot API method names are case-insensitive; "getupdates" keeps PTB from
            # suggesting its parsing get_updates.
            result = await self.app.bot.do_api_request("getupdates", api_kwargs=params,
                                                        read_timeout=self.poll_timeout + 10)
        except asyncio.CancelledError:
            raise
        except RetryAfter as exc:
            await self._pause("getUpdates: rate limited", _seconds(exc.retry_after))
            return None
        except TelegramError as exc:  # network, 5xx, 409 conflict, a body that is not JSON …
            await self._pause(f"getUpdates failed ({type(exc).__name__}: {exc.message})")
            return None
        except Exception as exc:  # noqa: BLE001 - whatever the wire brings, polling goes on
            await self._pause(f"getUpdates failed ({type(exc).__name__})")
            return None
        if not isinstance(result, list):
            await self._pause(f"getUpdates answered a {type(result).__name__}, not a list")
            return None
        return result

    async def _take_polled(self, item: object) -> bool:
        """Handle one polled update and acknowledge it; False on a storage fault (not acknowledged)."""
        return await self._take_batch([item])

    async def _take_batch(self, batch: list) -> bool:
        """Handle a getUpdates batch, acknowledging each update once it is committed.

        Every update is parsed and queued for the writer before the first one is
        awaited, so the batch shares a transaction (and one commit), each update
        in its own savepoint: one that fails rolls back alone and is quarantined.
        They are still handled in order. False on a storage fault: nothing from
        that update on is acknowledged, and the rest of the batch comes again
        (what was stored of it is recognised by its update_id and not answered twice).
        """
        queued: list[tuple[object, int | None, Awaitable[Outcome] | BaseException | None]] = []
        done = 0
        try:
            for item in batch:
                try:
                    handled: Awaitable[Outcome] | BaseException | None = await self._submit(item)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - sorted below, in order with the others
                    handled = exc
                queued.append((item, _update_id(item), handled))
            for done, (item, update_id, handled) in enumerate(queued):
                try:
                    if isinstance(handled, BaseException):
                        raise handled
                    if handled is not None:
                        await handled
                except Exception as exc:  # noqa: BLE001 - sorted below: storage fault or poison
                    if not await self._set_aside(item, update_id, exc):
                        await self._drain(queued[done + 1:])
                        return False
                if update_id is not None:
                    self.offset = max(self.offset, update_id + 1)
        except asyncio.CancelledError:  # stopping: what has not started is not handled (nor acknowledged)
            for _, _, handled in queued[done:]:
                if isinstance(handled, asyncio.Future):
                    handled.cancel()
            raise
        return True

    async def _set_aside(self, item: object, update_id: int | None, exc: Exception) -> bool:
        """An update that failed: quarantined (True), or a storage fault, paused on (False)."""
        ref = None if update_id is None else str(update_id)
        if is_storage_fault(exc):
            await self._pause(f"the database cannot be written ({exc}); update {ref} is not "
                              "acknowledged and will come again")
            return False
        try:
            quarantine(self.db, self.clock(), CHANNEL, ref, item, exc)
        except Exception as stored:  # noqa: BLE001 - cannot even keep it: try again later
            await self._pause(f"update {ref} could not be quarantined ({type(stored).__name__})")
            return False
        return True

    @staticmethod
    async def _drain(queued: list[tuple[object, int | None, Awaitable[Outcome] | BaseException | None]]) -> None:
        """Wait out updates queued behind one that was not stored: they come again anyway."""
        for _, _, handled in queued:
            if handled is not None and not isinstance(handled, BaseException):
                with contextlib.suppress(Exception):
                    await handled

    async def _take(self, data: object) -> None:
        """Parse one raw update and hand it to the core; raises whatever goes wrong."""
        handled = await self._submit(data)
        if handled is not None:
            await handled

    async def _submit(self, data: object) -> Awaitable[Outcome] | None:
        """Parse one raw update and queue it for the core: its outcome once committed, or None
        when there is nothing to handle. Raises what goes wrong before it is queued."""
        if not isinstance(data, dict):
            raise ValueError(f"an update must be an object, not {type(data).__name__}")
        update = Update.de_json(data, self.app.bot)
        # Our handlers directly (never PTB's process_update, which would swallow a storage
        # fault into an error handler and acknowledge an update that was not stored).
        incoming = None
        if update.callback_query is not None:
            incoming = await self._callback_incoming(update)
        elif update.effective_message is not None:
            incoming = self._incoming(update, update.effective_message)
        return None if incoming is None else self.handle(incoming)

    # -- incoming ---------------------------------------------------------------------

    def _about_ticket(self, chat_ref: str, message: Message | None) -> int | None:
        if message is None:
            return None
        rows = list(self.db["channel_messages"].rows_where(
            "channel = ? and chat_ref = ? and message_ref = ?", [CHANNEL, chat_ref, str(message.message_id)]))
        return rows[0]["ticket_id"] if rows else None

    def _incoming(self, update: Update, message: Message) -> Incoming | None:
        user = message.from_user
        if user is None or user.is_bot:
            return None
        chat_ref = str(message.chat_id)
        text = clean_text(message.text or message.caption or "")
        action = MENU_ACTIONS.get(text.strip())
        photos = (message.photo[-1].file_id,) if message.photo else ()
        contact = message.contact.phone_number if message.contact and message.contact.user_id == user.id else None
        unsupported = None
        if not text and not photos and contact is None:
            unsupported = "sticker" if message.sticker else "tin nhắn này"
        return Incoming(
            channel=CHANNEL, user_ref=str(user.id), chat_ref=chat_ref, text="" if action else text,
            action=action, photos=photos, contact_phone=clean_text(contact) if contact else None,
            update_id=str(update.update_id), album_id=message.media_group_id,
            edited=update.edited_message is not None, display_name=clean_text(user.full_name),
            unsupported=unsupported, about_ticket=self._about_ticket(chat_ref, message.reply_to_message),
            in_group=message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
        )

    async def _callback_incoming(self, update: Update) -> Incoming:
        """A button press: always answered (stops the spinner), then handed to the core."""
        query = update.callback_query
        assert query is not None
        try:
            await query.answer()
        except TelegramError as exc:  # too old, or already answered: the press still counts
            log.info("answerCallbackQuery failed: %s", exc)
        message = query.message
        chat_ref = str(message.chat.id) if message is not None else str(query.from_user.id)
        in_group = message is not None and message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        return Incoming(
            channel=CHANNEL, user_ref=str(query.from_user.id), chat_ref=chat_ref,
            action=clean_text(query.data or ""), update_id=str(update.update_id),
            display_name=clean_text(query.from_user.full_name), in_group=in_group,
        )

    # -- outgoing ---------------------------------------------------------------------

    def _keyed_message(self, chat_ref: str, key: str) -> str | None:
        rows = list(self.db["channel_messages"].rows_where(
            "channel = ? and chat_ref = ? and key = ?", [CHANNEL, chat_ref, key], order_by="created_at desc", limit=1))
        return rows[0]["message_ref"] if rows else None

    async def _remember(self, chat_ref: str, message_id: int, delivery: Delivery) -> None:
        """Record which ticket (or card) a message we sent belongs to, on the writer thread.

        The message has gone out: if recording it fails (a full disk, a lock held
        too long) that is logged and the send still counts as done. Raising would
        make the outbox send it again, a copy the official did not need; what is
        lost is only that a reply to this one message is not tied to its ticket.
        """
        if delivery.ticket_id is None and delivery.reply.key is None:
            return
        row = (CHANNEL, chat_ref, str(message_id), delivery.ticket_id, delivery.reply.key, iso(self.clock()))
        try:
            if self.writer is not None:
                await self.writer.run(_record_sent, self.writer.db, row)
            else:
                with self.db.atomic():
                    _record_sent(self.db, row)
        except Exception as exc:  # noqa: BLE001 - see the docstring: never a reason to send again
            log.warning("telegram: message %s to %s went out but could not be recorded: %s", message_id, chat_ref, exc)

    async def send(self, delivery: Delivery) -> None:
        """Deliver one outbox item; Telegram errors become retry/give-up decisions."""
        try:
            await self._send(delivery)
        except RetryAfter as exc:
            raise DeliveryError(f"rate limited: {exc.message}", retry_after=_seconds(exc.retry_after)) from exc
        except Forbidden as exc:
            raise DeliveryError(f"forbidden: {exc.message}", permanent=True) from exc
        except TimedOut as exc:
            if not_sent(exc):  # a timeout before the request went out: safe to send again
                raise DeliveryError(f"telegram timeout before sending: {exc.message}") from exc
            raise DeliveryError(f"no answer from Telegram within {SEND_READ_TIMEOUT:g} s; the message may "
                                "have arrived", in_doubt=True) from exc
        except BadRequest as exc:
            raise DeliveryError(f"bad request: {exc.message}", permanent=True) from exc
        except (NetworkError, TelegramError) as exc:
            raise DeliveryError(f"telegram error: {exc}") from exc

    def _photos(self, refs: tuple[str, ...]) -> list[str | bytes]:
        """Telegram file ids and URLs as they are; our stored images ("/files/…") as their bytes."""
        photos: list[str | bytes] = []
        for ref in refs:
            if not ref.startswith("/"):
                photos.append(ref)
            elif self.local_file is not None and (path := self.local_file(ref)) is not None:
                photos.append(path.read_bytes())  # at most a few MB, from local disk
        return photos

    async def _send(self, delivery: Delivery) -> None:
        bot = self.app.bot
        chat = delivery.chat_ref
        reply = delivery.reply
        keyboard = _keyboard(reply)
        if reply.key is not None:
            existing = self._keyed_message(chat, reply.key)
            if existing is not None:
                await self.pacer.wait(chat)
                try:
                    await bot.edit_message_text(_escaped_pieces(reply.text)[0], chat_id=int(chat),
                                                message_id=int(existing), parse_mode=ParseMode.HTML,
                                                reply_markup=keyboard if isinstance(keyboard, InlineKeyboardMarkup)
                                                else None)
                    return
                except BadRequest as exc:
                    if "not modified" in exc.message.lower():
                        return
                    if "not found" not in exc.message.lower():
                        raise
                    # the card was deleted: post a new one below
        photos = self._photos(reply.photos)
        if photos:
            await self.pacer.wait(chat)
            if len(photos) == 1:
                sent = [await bot.send_photo(int(chat), photos[0])]
            else:
                sent = list(await bot.send_media_group(int(chat), [InputMediaPhoto(p) for p in photos[:10]]))
            for message in sent:
                await self._remember(chat, message.message_id, delivery)
        if reply.document:  # a report file: the path is ours (written by the bot), never a user's
            await self.pacer.wait(chat)
            path = Path(reply.document)
            with path.open("rb") as f:
                message = await bot.send_document(int(chat), f, filename=path.name)
            await self._remember(chat, message.message_id, delivery)
        pieces = _escaped_pieces(reply.text)
        for n, piece in enumerate(pieces):
            await self.pacer.wait(chat)
            last = n == len(pieces) - 1
            message = await bot.send_message(int(chat), piece, parse_mode=ParseMode.HTML,
                                             reply_markup=keyboard if last else None)
            await self._remember(chat, message.message_id, delivery)
