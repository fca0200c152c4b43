"""A fake Telegram Bot API server (aiohttp) for a real python-telegram-bot ``Application``.

The server listens on 127.0.0.1 on a free port. Point PTB at it like this::

    async with FakeTelegram() as tg:
        app = (ApplicationBuilder().token(tg.token)
               .base_url(f"{tg.url}/bot").base_file_url(f"{tg.url}/file/bot").build())
        # or simply: app = tg.builder().build()

On the wire each method is ``POST /bot<token>/<method>``. The body is form-encoded, or multipart
when files are attached. Strings arrive raw and every other value is JSON-encoded. Responses use
the Bot API envelopes ``{"ok": true, "result": ...}`` and
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}``.

The test drives the fake from two sides:

* what users do: ``user_text``, ``user_photo``, ``user_press``, ``user_contact``,
  ``user_sticker``, ``user_edit`` and ``queue_update``. Each one enqueues an Update for
  ``getUpdates``. When a webhook is set (and ``deliver_by_webhook`` is true), the update is
  POSTed to the webhook instead.
* what the bot did: ``calls``, ``sent()``, ``edits()``, ``answers``, ``actions``, ``deleted``,
  ``commands``, ``webhook_deliveries``, ``errors`` and ``wait_for()``.

You can inject failures with ``fail_next(method, status, description, retry_after=...)``.

To use the fixture, register it in a conftest (``pytest_plugins = ["tests.fake_telegram"]``) or
import it into a test module (``from tests.fake_telegram import tg  # noqa: F401``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import os
import re
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Self

import aiohttp
import pytest
from aiohttp import web

from tests.fake_server import FakeServer

DEFAULT_TOKEN = "123456789:AAFakeTokenForTests-0123456789abcdefXYZ"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

# These parameters are always strings: PTB sends them raw, so they are never JSON-decoded.
# Any other parameter is JSON-decoded if that works ("42" -> 42, '{"a":1}' -> dict) and is
# kept as a string otherwise (for example chat_id="@channel").
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "url", "secret_token",
        "ip_address", "photo", "document", "sticker", "video", "audio", "animation", "voice",
        "video_note", "file_id", "action", "inline_message_id", "language_code", "data",
        "business_connection_id", "message_effect_id", "title", "description",
        "short_description", "name", "phone_number", "first_name", "last_name", "emoji",
        "address", "question", "certificate", "thumbnail", "vcard", "foursquare_id",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)

_UPDATE_KINDS = (
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
    "inline_query", "chosen_inline_result", "my_chat_member", "chat_member",
    "chat_join_request", "message_reaction", "message_reaction_count", "poll", "poll_answer",
    "pre_checkout_query", "shipping_query", "business_message", "business_connection",
)

_HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
        "code", "pre", "blockquote", "tg-emoji",
    }
)

_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


class ApiError(Exception):
    """A Bot API error answer. Raise it inside a method handler."""

    def __init__(self, status: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Checking parse_mode markup. The checks are simplified, but they mimic Telegram's (tdlib's)
# error texts. Each function returns the plain text with the markup removed.
# --------------------------------------------------------------------------------------------


def _check_html(text: str) -> str:
    stack: list[tuple[str, int]] = []
    plain: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "<":
            if c == "&":
                m = re.match(r"&(#\d+|#x[0-9a-fA-F]+|lt|gt|amp|quot);", text[i:])
                if m:
                    plain.append("x")
                    i += len(m.group(0))
                    continue
            plain.append(c)
            i += 1
            continue
        end = text.find(">", i)
        if end < 0:
            raise _bad(
                f"can't parse entities: Unclosed start tag at byte offset {_byte_offset(text, i)}"
            )
        if text.startswith("</", i):
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise _bad(
                    "can't parse entities: Unexpected end tag at byte offset "
                    f"{_byte_offset(text, i)}"
                )
            open_name, _ = stack.pop()
            if name and name != open_name:
                raise _bad(
                    "can't parse entities: Unmatched end tag at byte offset "
                    f"{_byte_offset(text, i)}, expected \"</{open_name}>\", found \"</{name}>\""
                )
        else:
            body = text[i + 1 : end]
            name = re.split(r"\s", body, maxsplit=1)[0].lower() if body else ""
            if name not in _HTML_TAGS:
                raise _bad(
                    f'can\'t parse entities: Unsupported start tag "{name}" at byte offset '
                    f"{_byte_offset(text, i)}"
                )
            stack.append((name, i))
        i = end + 1
    if stack:
        raise _bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    return "".join(plain)


_MDV2_RESERVED = set("]()>#+-=|{}.!")
_MDV2_NAMES = {
    "_": "Italic", "__": "Underline", "*": "Bold", "~": "Strikethrough", "||": "Spoiler",
    "[": "TextUrl",
}


def _check_markdown_v2(text: str) -> str:
    stack: list[tuple[str, int]] = []
    plain: list[str] = []
    i, n = 0, len(text)

    def reserved(ch: str) -> ApiError:
        return _bad(
            f"can't parse entities: Character '{ch}' is reserved and must be escaped with the "
            "preceding '\\'"
        )

    def unclosed(kind: str, start: int) -> ApiError:
        return _bad(
            f"can't parse entities: Can't find end of {kind} entity at byte offset "
            f"{_byte_offset(text, start)}"
        )

    def skip_code(start: int, fence: str, kind: str) -> int:
        j = start + len(fence)
        while j < n:
            if text[j] == "\\" and j + 1 < n:
                plain.append(text[j + 1])
                j += 2
                continue
            if text.startswith(fence, j):
                return j + len(fence)
            plain.append(text[j])
            j += 1
        raise unclosed(kind, start)

    while i < n:
        c = text[i]
        line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\":
            if i + 1 >= n:
                raise reserved("\\")
            plain.append(text[i + 1])
            i += 2
            continue
        if line_start and text.startswith("**>", i):
            i += 3
            continue
        if line_start and c == ">":
            i += 1
            continue
        if text.startswith("```", i):
            i = skip_code(i, "```", "Pre")
            continue
        if c == "`":
            i = skip_code(i, "`", "Code")
            continue
        token = None
        if text.startswith("__", i) or text.startswith("||", i):
            token = text[i : i + 2]
        elif c in "_*~":
            token = c
        if token is not None:
            if stack and stack[-1][0] == token:
                stack.pop()
            else:
                stack.append((token, i))
            i += len(token)
            continue
        if c == "[" or text.startswith("![", i):
            step = 2 if c == "!" else 1
            stack.append(("[", i))
            i += step
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            stack.pop()
            i += 1
            if i < n and text[i] == "(":
                j = i + 1
                while j < n and text[j] != ")":
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise _bad(
                        "can't parse entities: Can't find end of a URL at byte offset "
                        f"{_byte_offset(text, i)}"
                    )
                i = j + 1
            continue
        if c in _MDV2_RESERVED:
            raise reserved(c)
        plain.append(c)
        i += 1
    if stack:
        token, start = stack[-1]
        raise unclosed(_MDV2_NAMES[token], start)
    return "".join(plain)


def _check_markdown_legacy(text: str) -> str:
    plain: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            plain.append(text[i + 1])
            i += 2
            continue
        if c in "_*`[":
            fence = "```" if text.startswith("```", i) else ("]" if c == "[" else c)
            end = text.find(fence, i + (3 if fence == "```" else 1))
            if end < 0:
                raise _bad(
                    "can't parse entities: Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(text, i)}"
                )
            plain.append(text[i + len(fence) if fence == "```" else i + 1 : end])
            i = end + len(fence)
            if fence == "]" and i < n and text[i] == "(":
                close = text.find(")", i)
                i = close + 1 if close >= 0 else n
            continue
        plain.append(c)
        i += 1
    return "".join(plain)


def _plain_text(text: str, parse_mode: str | None) -> str:
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _check_html(text)
    if mode == "markdownv2":
        return _check_markdown_v2(text)
    if mode == "markdown":
        return _check_markdown_legacy(text)
    if parse_mode:
        raise _bad(f"unsupported parse_mode {parse_mode!r}")
    return text


def _check_reply_markup(markup: Any) -> dict | None:
    """Validate ``reply_markup`` and return it as a dict (None when absent)."""
    if markup in (None, ""):
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(str(data).encode("utf-8"))
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad("BUTTON_DATA_INVALID")
            elif len(button) == 1:
                raise _bad("text buttons are unallowed in the inline keyboard")
    return markup


def _inline_only(markup: dict | None) -> dict | None:
    """Telegram echoes only inline keyboards in the Message it returns."""
    if markup and "inline_keyboard" in markup:
        return markup
    return None


def _decode_value(key: str, value: Any) -> Any:
    if isinstance(value, web.FileField):
        return value  # handled by the caller
    if key in _STRING_PARAMS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _update_kind(update: dict) -> str | None:
    for key in update:
        if key != "update_id":
            return key
    return None


@contextlib.contextmanager
def ptb_offline_env() -> Iterator[None]:
    """Set the environment for PTB tests, and restore it afterwards.

    * Adds 127.0.0.1/localhost to NO_PROXY (and no_proxy), so that httpx, which trusts the
      environment, never sends requests for the fake through a proxy.
    * Sets PTB_TIMEDELTA=true. Without it, PTB 22.x emits a PTBDeprecationWarning *while
      constructing* ``RetryAfter``. Under ``filterwarnings = error`` that warning replaces the
      RetryAfter exception.
    """
    saved = {k: os.environ.get(k) for k in ("NO_PROXY", "no_proxy", "PTB_TIMEDELTA")}
    try:
        for key in ("NO_PROXY", "no_proxy"):
            parts = [p for p in (os.environ.get(key) or "").split(",") if p.strip()]
            for host in ("127.0.0.1", "localhost"):
                if host not in parts:
                    parts.append(host)
            os.environ[key] = ",".join(parts)
        os.environ["PTB_TIMEDELTA"] = "true"
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class FakeTelegram(FakeServer):
    """An in-process fake Telegram Bot API server. See the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        deliver_by_webhook: bool = True,
        strict_chats: bool = False,
        bot_first_name: str = "Help Desk Bot",
        bot_username: str = "helpdesk_test_bot",
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.url = ""
        self.deliver_by_webhook = deliver_by_webhook
        # strict_chats=True: sending to a chat that no user_* call has introduced gives
        # 400 "Bad Request: chat not found". The default (False) invents the chat.
        self.strict_chats = strict_chats
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456789
        self.bot_user: dict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        # What the bot did.
        self.calls: list[tuple[str, dict]] = []
        self.errors: list[tuple[str, int, str]] = []  # (method, status, description)
        self.answers: list[dict] = []  # answerCallbackQuery params
        self.actions: list[dict] = []  # sendChatAction params
        self.deleted: list[tuple[int, int]] = []  # (chat_id, message_id)
        self.commands: dict[tuple[str, str], list[dict]] = {}  # (scope json, lang) -> commands
        self.webhook_deliveries: list[tuple[dict, int]] = []  # (update, HTTP status; 0 = error)
        self._sent: list[dict] = []
        self._edits: list[dict] = []

        # Webhook state.
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.webhook_allowed_updates: list[str] | None = None
        self._webhook_last_error: tuple[int, str] | None = None

        # Internal state.
        self.allowed_updates: list[str] | None = None
        self._pending: list[dict] = []
        self._last_update_id = 0
        self._message_ids: defaultdict[int, itertools.count] = defaultdict(
            lambda: itertools.count(1)
        )
        self._messages: dict[tuple[int, int], dict] = {}
        self._chats: dict[int, dict] = {}
        self._users: dict[int, dict] = {}
        self._blocked: set[int] = set()
        self._files: dict[str, tuple[bytes, str]] = {}  # file_id -> (content, file_path)
        self._file_counter = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._failures: defaultdict[str, deque[ApiError]] = defaultdict(deque)
        self._raw_failures: defaultdict[str, deque[tuple[int, bytes, float]]] = defaultdict(deque)
        self._slow: defaultdict[str, deque[float]] = defaultdict(deque)
        self._poll_generation = 0
        self._changed: asyncio.Event | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task | None = None

        self._methods: dict[str, Callable[[dict], Any]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo",
                "sendMessage", "editMessageText", "editMessageReplyMarkup",
                "editMessageCaption", "answerCallbackQuery", "sendPhoto", "sendDocument",
                "sendMediaGroup", "sendChatAction", "getFile", "setMyCommands",
                "deleteMyCommands", "getMyCommands", "copyMessage", "forwardMessage",
                "deleteMessage", "getChat", "close", "logOut",
            )
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        self._closing = False
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        await self._start_app(app)
        self._worker = asyncio.create_task(self._webhook_worker(), name="fake-tg-webhook")
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        await self._cancel(self._worker)
        self._worker = None
        await self._stop_app()

    def builder(self):  # -> telegram.ext.ApplicationBuilder
        """Return an ``ApplicationBuilder`` already pointed at this server (token and URLs)."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(f"{self.url}/bot")
            .base_file_url(f"{self.url}/file/bot")
        )

    # ------------------------------------------------------------------ inspection

    def sent(self, chat_id: int | None = None) -> list[dict]:
        """Messages the bot sent, in order, as they were at sending time.

        The methods counted are sendMessage, sendPhoto, sendDocument, sendMediaGroup (one entry
        per message), copyMessage and forwardMessage. Each entry is the Message dict plus these
        keys: ``reply_markup`` (always present, None when there was none, and it includes reply
        keyboards that Telegram does not echo back), ``parse_mode`` (None when there was none)
        and ``method``.
        """
        return [m for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def edits(self, chat_id: int | None = None) -> list[dict]:
        """Successful editMessageText, editMessageReplyMarkup and editMessageCaption calls.

        Each entry holds ``method``, ``chat_id``, ``message_id`` and ``reply_markup`` (None
        means the keyboard was removed), plus ``text`` or ``caption`` and ``parse_mode`` when
        the method took them, plus ``message``, the edited Message.
        """
        return [e for e in self._edits if chat_id is None or e["chat_id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> dict | None:
        """The current state of a stored message (after edits), or None if it was deleted."""
        msg = self._messages.get((chat_id, message_id))
        return copy.deepcopy(msg) if msg is not None else None

    def calls_to(self, method: str) -> list[dict]:
        """The params of every call to ``method``. The name match ignores case."""
        return [p for m, p in self.calls if m.lower() == method.lower()]

    def my_commands(
        self, scope: dict | None = None, language_code: str = ""
    ) -> list[dict] | None:
        key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return self.commands.get((key, language_code))

    @property
    def pending_updates(self) -> list[dict]:
        return list(self._pending)

    async def wait_for(
        self, predicate: Callable[[FakeTelegram], Any], timeout: float = 5.0
    ) -> None:
        """Poll ``predicate(self)`` until it is truthy. Raise AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate(self)
            if inspect.isawaitable(result):
                result = await result
            if result:
                return
            if loop.time() >= deadline:
                raise AssertionError(
                    f"FakeTelegram.wait_for: condition not met within {timeout}s\n" + self.dump()
                )
            await asyncio.sleep(0.01)

    async def wait_sent(
        self, count: int = 1, chat_id: int | None = None, timeout: float = 5.0
    ) -> list[dict]:
        """Wait until at least ``count`` messages were sent (to ``chat_id``), and return them."""
        await self.wait_for(lambda t: len(t.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    def dump(self, last: int = 25) -> str:
        """Return the most recent calls and errors, for assertion messages."""
        lines = [f"pending updates: {len(self._pending)}; webhook: {self.webhook_url or '-'}"]
        interesting = [(m, p) for m, p in self.calls if m.lower() != "getupdates"]
        polls = len(self.calls) - len(interesting)
        lines.append(
            f"last {min(last, len(interesting))} of {len(interesting)} calls "
            f"(not counting {polls} getUpdates):"
        )
        for method, params in interesting[-last:]:
            text = json.dumps(params, ensure_ascii=False, default=repr)
            lines.append(f"  {method} {text[:300]}")
        if self.errors:
            lines.append("errors returned:")
            lines.extend(f"  {m} -> {s} {d}" for m, s, d in self.errors[-10:])
        return "\n".join(lines)

    # ------------------------------------------------------------------ failure injection

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        *,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail with this error.

        Failures are checked after the token check and before any real work, so a failed call
        has no effect. The call is still recorded in ``calls``.
        """
        parameters: dict[str, int] = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        for _ in range(times):
            self._failures[method.lower()].append(
                ApiError(status, description, parameters or None)
            )

    def fail_raw_next(self, method: str, body: bytes = b"{not json", status: int = 200,
                      delay: float = 0.0, times: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` answer ``body`` as is (malformed JSON, an
        HTML error page …) with ``status``, after ``delay`` seconds. The call has no effect."""
        for _ in range(times):
            self._raw_failures[method.lower()].append((status, body, delay))

    def slow_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` do their work, then answer only after ``seconds``
        (as a loaded Telegram does: the message is delivered, the answer is late)."""
        for _ in range(times):
            self._slow[method.lower()].append(seconds)

    def block(self, user_id: int) -> None:
        """Simulate that a user blocked the bot: sends to them get 403."""
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    # ------------------------------------------------------------------ files

    def add_file(self, file_id: str, content: bytes, file_path: str | None = None) -> None:
        """Register a file. getFile gives its ``file_path``, served at /file/bot<token>/<path>."""
        path = file_path or f"documents/file_{next(self._file_counter)}"
        self._files[file_id] = (bytes(content), path)

    def _ensure_file(self, file_id: str, content: bytes, prefix: str, ext: str) -> None:
        if file_id not in self._files:
            self._files[file_id] = (content, f"{prefix}/file_{next(self._file_counter)}{ext}")

    def _new_file_id(self, prefix: str = "AgAD") -> str:
        return f"{prefix}{next(self._file_counter):08d}"

    # ------------------------------------------------------------------ users' side

    def _user(self, user_id: int, first_name: str = "An") -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi"}
        self._users[user_id] = user
        return user

    def _chat(self, user: dict, chat_id: int | None, chat_type: str) -> dict:
        if chat_id is None or chat_id == user["id"]:
            chat_id = user["id"]
            chat_type = "private"
        elif chat_type == "private" and chat_id < 0:
            chat_type = "supergroup"
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        else:
            if chat_id >= 0:
                raise ValueError(f"group/supergroup chat ids are negative, got {chat_id}")
            chat = self._chats.get(chat_id) or {
                "id": chat_id,
                "type": chat_type,
                "title": f"Group {chat_id}",
            }
        self._chats[chat_id] = chat
        return chat

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        chat_type: str,
        first_name: str,
        reply_to_message_id: int | None = None,
        **content: Any,
    ) -> dict:
        user = self._user(user_id, first_name)
        chat = self._chat(user, chat_id, chat_type)
        msg = {
            "message_id": next(self._message_ids[chat["id"]]),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        if reply_to_message_id is not None:
            replied = self._messages.get((chat["id"], reply_to_message_id))
            if replied is None:
                replied = {
                    "message_id": reply_to_message_id,
                    "date": int(time.time()),
                    "chat": chat,
                    "from": self.bot_user,
                    "text": "",
                }
            replied = dict(replied)
            replied.pop("reply_to_message", None)
            msg["reply_to_message"] = replied
        self._messages[(chat["id"], msg["message_id"])] = msg
        return copy.deepcopy(msg)

    def user_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        *,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        first_name: str = "An",
    ) -> dict:
        """A user sends ``text`` ("/cmd" gets a bot_command entity). Returns the Update."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        msg = self._user_message(
            user_id, chat_id, chat_type, first_name, reply_to_message_id, **content
        )
        return self.queue_update({"message": msg})

    def user_photo(
        self,
        user_id: int,
        file_id: str,
        chat_id: int | None = None,
        *,
        caption: str = "",
        media_group_id: str | None = None,
        first_name: str = "An",
    ) -> dict:
        """A user sends a photo. ``photo[-1].file_id == file_id``, and getFile works for it."""
        jpeg = b"\xff\xd8\xff fake jpeg "
        self._ensure_file(file_id, jpeg + file_id.encode(), "photos", ".jpg")
        self._ensure_file(f"{file_id}-s", jpeg + b"small " + file_id.encode(), "photos", ".jpg")
        content: dict[str, Any] = {"photo": self._photo_sizes(file_id)}
        if caption:
            content["caption"] = caption
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        msg = self._user_message(user_id, chat_id, "private", first_name, **content)
        return self.queue_update({"message": msg})

    def user_press(
        self,
        user_id: int,
        message: dict,
        data: str,
        chat_id: int | None = None,
        *,
        check_button: bool = True,
        first_name: str = "An",
    ) -> dict:
        """A user presses an inline button with ``data`` on ``message`` (a message the bot sent).

        The callback carries the message's current state. With ``check_button`` (the default),
        the message must have a button with this callback_data, or the call raises
        AssertionError. Pass ``check_button=False`` to send stale or forged data.
        """
        chat_id = message["chat"]["id"] if chat_id is None else chat_id
        current = self._messages.get((chat_id, message["message_id"]))
        if current is None:
            current = {k: v for k, v in message.items() if k not in ("method", "parse_mode")}
            if not _inline_only(current.get("reply_markup")):
                current.pop("reply_markup", None)
        if check_button:
            buttons = [
                b.get("callback_data")
                for row in ((current.get("reply_markup") or {}).get("inline_keyboard") or [])
                for b in row
            ]
            if data not in buttons:
                raise AssertionError(
                    f"message {message['message_id']} in chat {chat_id} has no button with "
                    f"callback_data={data!r} (buttons: {buttons}); pass check_button=False to "
                    "send it anyway"
                )
        user = self._user(user_id, first_name)
        query_id = f"{self.bot_user['id']}{next(self._callback_ids):06d}"
        self._open_callbacks.add(query_id)
        callback = {
            "id": query_id,
            "from": user,
            "chat_instance": f"ci{abs(chat_id)}",
            "data": data,
            "message": copy.deepcopy(current),
        }
        return self.queue_update({"callback_query": callback})

    def user_contact(self, user_id: int, phone: str, *, first_name: str = "An") -> dict:
        """A user shares their own contact (as from a request_contact button)."""
        contact = {"phone_number": phone, "first_name": first_name, "user_id": user_id}
        msg = self._user_message(user_id, None, "private", first_name, contact=contact)
        return self.queue_update({"message": msg})

    def user_sticker(self, user_id: int, file_id: str = "stk", *, first_name: str = "An") -> dict:
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\U0001f44d",
        }
        msg = self._user_message(user_id, None, "private", first_name, sticker=sticker)
        return self.queue_update({"message": msg})

    def user_edit(
        self, user_id: int, message_id: int, text: str, chat_id: int | None = None
    ) -> dict:
        """A user edits an earlier message. This produces an ``edited_message`` update."""
        chat_id = user_id if chat_id is None else chat_id
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            user = self._users.get(user_id) or self._user(user_id)
            stored = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self._chat(user, chat_id, "private"),
                "from": user,
            }
            self._messages[(chat_id, message_id)] = stored
        stored["text"] = text
        stored["edit_date"] = int(time.time())
        return self.queue_update({"edited_message": copy.deepcopy(stored)})

    def queue_update(self, update: dict) -> dict:
        """Queue a raw Update. If it has no ``update_id``, the next one is assigned."""
        if "update_id" not in update:
            update = {"update_id": self._next_update_id(), **update}
        else:
            self._last_update_id = max(self._last_update_id, int(update["update_id"]))
        self._pending.append(update)
        self._notify()
        return update

    async def post_webhook(
        self, update: dict, secret: str | None, url: str | None = None
    ) -> int:
        """POST ``update`` to the webhook URL (or ``url``), with ``secret`` as the secret header.

        Returns the HTTP status. It bypasses the update queue: use it to forge requests.
        """
        target = url or self.webhook_url
        if not target:
            raise AssertionError("post_webhook: no webhook is set and no url was given")
        if "update_id" not in update:
            update = {"update_id": self._next_update_id(), **update}
        return await self._post_json(target, update, secret)

    # ------------------------------------------------------------------ delivery internals

    def _next_update_id(self) -> int:
        self._last_update_id += 1
        return self._last_update_id

    def _notify(self) -> None:
        if self._changed is not None:
            old, self._changed = self._changed, asyncio.Event()
            old.set()

    def _allowed(self, update: dict, allowed: list[str] | None) -> bool:
        return not allowed or _update_kind(update) in allowed

    async def _post_json(self, url: str, update: dict, secret: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        status = await self._post(url, json.dumps(update, ensure_ascii=False).encode(), headers)
        if status == 0:
            self._webhook_last_error = (int(time.time()), "Connection failed")
        return status

    async def _webhook_worker(self) -> None:
        while True:
            event = self._changed
            assert event is not None
            while (
                self.webhook_url and self.deliver_by_webhook and self._pending
                and not self._closing
            ):
                update = self._pending.pop(0)
                if not self._allowed(update, self.webhook_allowed_updates):
                    continue
                status = await self._post_json(self.webhook_url, update, self.webhook_secret)
                self.webhook_deliveries.append((update, status))
                if status and not 200 <= status < 300:
                    self._webhook_last_error = (
                        int(time.time()),
                        f"Wrong response from the webhook: {status}",
                    )
            await event.wait()

    # ------------------------------------------------------------------ HTTP handlers

    @staticmethod
    def _envelope_error(status: int, description: str, parameters: dict | None = None):
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> dict:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
                return params
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {
                        "_file": True,
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "content": value.file.read(),
                    }
                else:
                    params[key] = value
        return {k: _decode_value(k, v) for k, v in params.items()}

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._read_params(request)
        self.calls.append((method, params))
        if request.match_info["token"] != self.token:
            self.errors.append((method, 401, "Unauthorized"))
            return self._envelope_error(401, "Unauthorized")
        key = method.lower()
        if self._raw_failures.get(key):
            status, body, delay = self._raw_failures[key].popleft()
            self.errors.append((method, status, "raw answer"))
            await asyncio.sleep(delay)
            return web.Response(body=body, status=status, content_type="application/json")
        try:
            if self._failures.get(key):
                raise self._failures[key].popleft()
            handler = self._methods.get(key)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
            if self._slow.get(key):
                await asyncio.sleep(self._slow[key].popleft())
        except ApiError as err:
            self.errors.append((method, err.status, err.description))
            return self._envelope_error(err.status, err.description, err.parameters)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._envelope_error(401, "Unauthorized")
        path = request.match_info["path"]
        for content, file_path in self._files.values():
            if file_path == path:
                return web.Response(body=content, content_type="application/octet-stream")
        return self._envelope_error(404, "Not Found")

    # ------------------------------------------------------------------ helpers for methods

    def _require(self, params: dict, name: str) -> Any:
        value = params.get(name)
        if value in (None, ""):
            raise _bad(f"{name} is empty" if name != "chat_id" else "chat_id is empty")
        return value

    def _target_chat(self, params: dict) -> dict:
        chat_id = self._require(params, "chat_id")
        if not isinstance(chat_id, int):
            raise _bad("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.strict_chats:
                raise _bad("chat not found")
            chat = (
                {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
                if chat_id > 0
                else {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
            )
            self._chats[chat_id] = chat
        return chat

    def _check_text(self, text: Any, parse_mode: str | None) -> str:
        if not isinstance(text, str) or not text.strip():
            raise _bad("message text is empty")
        plain = _plain_text(text, parse_mode)
        if not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text

    def _check_caption(self, caption: Any, parse_mode: str | None) -> str | None:
        if caption in (None, ""):
            return None
        plain = _plain_text(str(caption), parse_mode)
        if len(plain) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        return str(caption)

    def _reply_to(self, chat: dict, params: dict) -> dict | None:
        reply = params.get("reply_parameters")
        message_id = None
        allow_without = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_without = allow_without or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
        if message_id is None:
            return None
        replied = self._messages.get((chat["id"], message_id))
        if replied is None:
            if allow_without:
                return None
            raise _bad("message to be replied not found")
        replied = dict(replied)
        replied.pop("reply_to_message", None)
        return replied

    def _new_bot_message(self, chat: dict, params: dict, method: str, **content: Any) -> dict:
        markup = _check_reply_markup(params.get("reply_markup"))
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids[chat["id"]]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            **{k: v for k, v in content.items() if v is not None},
        }
        replied = self._reply_to(chat, params)
        if replied is not None:
            msg["reply_to_message"] = replied
        if _inline_only(markup):
            msg["reply_markup"] = markup
        self._messages[(chat["id"], msg["message_id"])] = msg
        record = copy.deepcopy(msg)
        record["reply_markup"] = copy.deepcopy(markup)
        record["parse_mode"] = params.get("parse_mode")
        record["method"] = method
        self._sent.append(record)
        return copy.deepcopy(msg)

    def _photo_sizes(self, file_id: str) -> list[dict]:
        return [
            {"file_id": f"{file_id}-s", "file_unique_id": f"u-{file_id}-s", "width": 90,
             "height": 67, "file_size": 1200},
            {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 1280,
             "height": 960, "file_size": 98000},
        ]

    def _media_file_id(self, value: Any, params: dict, prefix: str, ext: str) -> str:
        """Resolve a photo/document parameter to a file_id, registering uploaded content."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if isinstance(value, dict) and value.get("_file"):
            file_id = self._new_file_id()
            self._ensure_file(file_id, value["content"], prefix, ext)
            return file_id
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                file_id = self._new_file_id()
                self._ensure_file(file_id, b"downloaded from " + value.encode(), prefix, ext)
                return file_id
            return value
        raise _bad(f"there is no {prefix[:-1] or 'file'} in the request")

    def _stored_bot_message(self, params: dict) -> dict:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        msg = self._messages.get((chat_id, message_id))
        if msg is None:
            raise _bad("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise _bad("message can't be edited")
        return msg

    def _record_edit(self, method: str, msg: dict, params: dict, **extra: Any) -> dict:
        msg["edit_date"] = int(time.time())
        self._edits.append(
            {
                "method": method,
                "chat_id": msg["chat"]["id"],
                "message_id": msg["message_id"],
                **extra,
                "reply_markup": copy.deepcopy(msg.get("reply_markup")),
                "message": copy.deepcopy(msg),
            }
        )
        return copy.deepcopy(msg)

    # ------------------------------------------------------------------ Bot API methods

    def _m_getMe(self, params: dict) -> dict:
        return dict(self.bot_user)

    def _m_close(self, params: dict) -> bool:
        return True

    def _m_logOut(self, params: dict) -> bool:
        return True

    async def _m_getUpdates(self, params: dict) -> list[dict]:
        if self.webhook_url:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            self.allowed_updates = params["allowed_updates"] or None
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # wakes (and thereby terminates) an older long poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            assert event is not None
            if generation != self._poll_generation:
                raise ApiError(409, _POLL_CONFLICT)
            self._pending = [u for u in self._pending if self._allowed(u, self.allowed_updates)]
            if self._closing or self.webhook_url:
                return []
            if self._pending:
                return copy.deepcopy(self._pending[:limit])
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _m_setWebhook(self, params: dict) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook_url = url
        self.webhook_secret = str(secret) if (url and secret is not None) else None
        if "allowed_updates" in params:
            self.webhook_allowed_updates = params["allowed_updates"] or None
        self._webhook_last_error = None
        self._notify()
        return True

    def _m_deleteWebhook(self, params: dict) -> bool:
        self.webhook_url = ""
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._notify()
        return True

    def _m_getWebhookInfo(self, params: dict) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            info["ip_address"] = self.host
            if self.webhook_allowed_updates:
                info["allowed_updates"] = list(self.webhook_allowed_updates)
            if self._webhook_last_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    def _m_sendMessage(self, params: dict) -> dict:
        chat = self._target_chat(params)
        text = self._check_text(params.get("text"), params.get("parse_mode"))
        return self._new_bot_message(chat, params, "sendMessage", text=text)

    def _m_sendPhoto(self, params: dict) -> dict:
        chat = self._target_chat(params)
        caption = self._check_caption(params.get("caption"), params.get("parse_mode"))
        file_id = self._media_file_id(params.get("photo"), params, "photos", ".jpg")
        return self._new_bot_message(
            chat, params, "sendPhoto", photo=self._photo_sizes(file_id), caption=caption
        )

    def _m_sendDocument(self, params: dict) -> dict:
        chat = self._target_chat(params)
        caption = self._check_caption(params.get("caption"), params.get("parse_mode"))
        raw = params.get("document")
        file_id = self._media_file_id(raw, params, "documents", "")
        filename = raw.get("filename") if isinstance(raw, dict) else None
        document = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": filename or "document",
            "file_size": len(self._files.get(file_id, (b"",))[0]),
        }
        return self._new_bot_message(
            chat, params, "sendDocument", document=document, caption=caption
        )

    def _m_sendMediaGroup(self, params: dict) -> list[dict]:
        chat = self._target_chat(params)
        media = params.get("media")
        if not isinstance(media, list):
            raise _bad("can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            # The exact wording Telegram uses here is not verified.
            raise _bad("wrong number of media specified (must be 2-10)")
        group_id = str(10_000_000 + next(self._file_counter))
        messages = []
        item_params = {k: v for k, v in params.items() if k != "reply_markup"}
        for item in media:
            kind = item.get("type")
            caption = self._check_caption(item.get("caption"), item.get("parse_mode"))
            if kind == "photo":
                file_id = self._media_file_id(item.get("media"), params, "photos", ".jpg")
                content: dict[str, Any] = {"photo": self._photo_sizes(file_id)}
            elif kind in ("document", "video", "audio"):
                file_id = self._media_file_id(item.get("media"), params, "documents", "")
                content = {kind: {"file_id": file_id, "file_unique_id": f"u-{file_id}"}}
                if kind == "video":
                    content[kind].update(width=640, height=480, duration=1)
                elif kind == "audio":
                    content[kind]["duration"] = 1
            else:
                raise _bad(f"unsupported media type {kind!r} in sendMediaGroup")
            msg = self._new_bot_message(
                chat, {**item_params, "parse_mode": item.get("parse_mode")}, "sendMediaGroup",
                media_group_id=group_id, caption=caption, **content,
            )
            messages.append(msg)
        return messages

    def _m_copyMessage(self, params: dict) -> dict:
        chat = self._target_chat(params)
        source = self._messages.get((params.get("from_chat_id"), params.get("message_id")))
        if source is None:
            raise _bad("message to copy not found")
        content = {
            k: copy.deepcopy(v)
            for k, v in source.items()
            if k not in ("message_id", "from", "chat", "date", "reply_markup", "edit_date",
                         "reply_to_message", "forward_origin", "media_group_id")
        }
        if "caption" in params:
            content["caption"] = self._check_caption(params["caption"], params.get("parse_mode"))
        msg = self._new_bot_message(chat, params, "copyMessage", **content)
        return {"message_id": msg["message_id"]}

    def _m_forwardMessage(self, params: dict) -> dict:
        chat = self._target_chat(params)
        source = self._messages.get((params.get("from_chat_id"), params.get("message_id")))
        if source is None:
            raise _bad("message to forward not found")
        content = {
            k: copy.deepcopy(v)
            for k, v in source.items()
            if k not in ("message_id", "from", "chat", "date", "reply_markup", "edit_date",
                         "reply_to_message", "forward_origin")
        }
        sender = source.get("from") or self.bot_user
        content["forward_origin"] = {
            "type": "user", "date": source["date"], "sender_user": sender,
        }
        params = {k: v for k, v in params.items() if k != "reply_markup"}
        return self._new_bot_message(chat, params, "forwardMessage", **content)

    def _m_editMessageText(self, params: dict) -> dict | bool:
        markup = _inline_only(_check_reply_markup(params.get("reply_markup")))
        if params.get("inline_message_id"):
            self._check_text(params.get("text"), params.get("parse_mode"))
            return True
        msg = self._stored_bot_message(params)
        if "text" not in msg:
            raise _bad("there is no text in the message to edit")
        text = self._check_text(params.get("text"), params.get("parse_mode"))
        if msg["text"] == text and msg.get("reply_markup") == markup:
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        msg["text"] = text
        # Like Telegram: leaving out reply_markup removes the inline keyboard.
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        return self._record_edit(
            "editMessageText", msg, params, text=text, parse_mode=params.get("parse_mode")
        )

    def _m_editMessageReplyMarkup(self, params: dict) -> dict | bool:
        markup = _inline_only(_check_reply_markup(params.get("reply_markup")))
        if params.get("inline_message_id"):
            return True
        msg = self._stored_bot_message(params)
        if msg.get("reply_markup") == markup:
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        return self._record_edit("editMessageReplyMarkup", msg, params)

    def _m_editMessageCaption(self, params: dict) -> dict | bool:
        markup = _inline_only(_check_reply_markup(params.get("reply_markup")))
        caption = self._check_caption(params.get("caption"), params.get("parse_mode"))
        if params.get("inline_message_id"):
            return True
        msg = self._stored_bot_message(params)
        if "text" in msg:
            raise _bad("there is no caption in the message to edit")
        if msg.get("caption") == caption and msg.get("reply_markup") == markup:
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        if caption:
            msg["caption"] = caption
        else:
            msg.pop("caption", None)
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        return self._record_edit(
            "editMessageCaption", msg, params, caption=caption,
            parse_mode=params.get("parse_mode"),
        )

    def _m_answerCallbackQuery(self, params: dict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _bad(_QUERY_INVALID[len("Bad Request: ") :])
        self._open_callbacks.discard(query_id)
        self.answers.append(params)
        return True

    def _m_sendChatAction(self, params: dict) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self.actions.append(params)
        return True

    def _m_getFile(self, params: dict) -> dict:
        file_id = str(params.get("file_id") or "")
        if file_id not in self._files:
            raise _bad("invalid file_id")
        content, path = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    @staticmethod
    def _commands_key(params: dict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not _BOT_COMMAND_RE.match(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description must be non-empty")
        self.commands[self._commands_key(params)] = commands
        return True

    def _m_deleteMyCommands(self, params: dict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_getMyCommands(self, params: dict) -> list[dict]:
        return self.commands.get(self._commands_key(params), [])

    def _m_deleteMessage(self, params: dict) -> bool:
        key = (params.get("chat_id"), params.get("message_id"))
        if key not in self._messages:
            raise _bad("message to delete not found")
        del self._messages[key]
        self.deleted.append(key)  # type: ignore[arg-type]
        return True

    def _m_getChat(self, params: dict) -> dict:
        chat = self._chats.get(params.get("chat_id"))  # type: ignore[arg-type]
        if chat is None:
            raise _bad("chat not found")
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }


@pytest.fixture(name="tg")
async def tg_fixture() -> AsyncIterator[FakeTelegram]:
    """Fixture ``tg``: a started FakeTelegram, with the environment from ``ptb_offline_env``."""
    with ptb_offline_env():
        async with FakeTelegram() as server:
            yield server


# The same fixture under the name ``tg``, so that tests can import it as ``tg`` too.
tg = tg_fixture
