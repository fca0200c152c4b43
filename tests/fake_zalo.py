"""Fake Zalo servers (aiohttp) for tests: the Zalo Bot Platform and the Zalo OA API v3 + OAuth.

Both servers listen on 127.0.0.1 on a free port. Use them with ``async with``::

    async with FakeZaloBot() as zb:      # base URL: f"{zb.url}/bot{zb.token}/<method>"
        ...
    async with FakeZaloOA() as oa:       # POST f"{oa.url}/v3.0/oa/message/cs"
        ...                              # POST f"{oa.url}/v4/oa/access_token"

or through the fixtures ``zalo_bot`` and ``zalo_oa`` (import them into a test module:
``from tests.fake_zalo import zalo_bot, zalo_oa  # noqa: F401``, or list this module in
``pytest_plugins``).

**FakeZaloBot** (bot-api.zaloplatforms.com, Telegram-like; see
shared/notes/channels-telegram-zalo.md §2a):

* ``/bot<token>/<method>``, GET or POST; parameters as query string, JSON, form or multipart.
  Method names are case-sensitive. Envelopes ``{"ok": true, "result": ...}`` and
  ``{"ok": false, "error_code": N, "description": "..."}`` (HTTP status = error_code).
  Wrong token: 401. Unknown method: 404.
* getMe, sendMessage, sendPhoto, sendSticker, sendChatAction, setWebhook, deleteWebhook,
  getWebhookInfo, getUpdates. getUpdates long-polls (``timeout`` seconds, default 30) and returns
  ONE event object ``{"event_name": ..., "message": {...}}`` as ``result``, or HTTP 408
  ``{"ok": false, "error_code": 408, "description": "Request timeout"}``. With a webhook set it
  answers ``webhook_conflict_status`` (409 by default).
* Users' side: ``user_text``, ``user_image``, ``user_sticker``, ``user_unsupported`` and
  ``queue_event``. Events are queued for getUpdates, or POSTed to the webhook when one is set,
  with header ``X-Bot-Api-Secret-Token``, in the wrapped shape ``{"ok": true, "result": event}``
  (``webhook_wrapped=False`` posts the bare event). ``post_webhook`` forges requests.
* Bot's side: ``calls``, ``sent()``, ``actions``, ``errors``, ``webhook_deliveries``,
  ``wait_for()``; failures with ``fail_next(method, status, description, times)``.

**FakeZaloOA** (openapi.zalo.me + oauth.zaloapp.com on one server; §2b):

* ``POST /v3.0/oa/message/cs`` (header ``access_token``, JSON body). Always HTTP 200 with
  ``{"error": 0, "message": "Success", "data": {"message_id", "user_id"}}`` or an error body
  (-216 invalid/expired token, -201 invalid parameters such as text over 2000 characters).
  Each sent message is recorded as ``"reply"`` (``recipient.message_id`` given) or
  ``"proactive"``; nothing is refused for being outside the window.
* ``POST /v4/oa/access_token`` (header ``secret_key`` = app secret; form body ``app_id``,
  ``grant_type=refresh_token``, ``refresh_token``). Rotates both tokens; refresh tokens are
  single use (-14014 on reuse).
* ``post_event(url, event, ...)`` POSTs a webhook event signed like Zalo:
  ``X-ZEvent-Signature: mac=sha256(app_id + raw_body + timestamp + oa_secret_key)``.
  ``user_send_text``, ``user_send_image``, ``follow``, ``unfollow`` and ``oa_send_text`` only
  build event dicts.
* ``calls``, ``sent()``, ``window()``, ``wait_for()``, ``fail_next(path, error_code, message)``
  (body-level error) and ``fail_http(path, status)``.

Error codes and wordings other than those named above are not verified against the real APIs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import inspect
import json
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Self

import pytest
from aiohttp import web

from tests.fake_server import FakeServer

# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------

MAX_TEXT_LENGTH = 2000  # Zalo Bot sendMessage text (1-2000) and caption; OA text
SECRET_TOKEN_MIN, SECRET_TOKEN_MAX = 8, 256
BOT_SECRET_HEADER = "X-Bot-Api-Secret-Token"
OA_SIGNATURE_HEADER = "X-ZEvent-Signature"

MESSAGE_PATH = "/v3.0/oa/message/cs"
OAUTH_PATH = "/v4/oa/access_token"

# OA error codes. -216, -201 and -14014 come from the notes/brief; the others are placeholders.
ERR_OA_TOKEN_INVALID = -216
ERR_OA_PARAMS = -201
ERR_OAUTH_INVALID_PARAM = -14001  # unverified
ERR_OAUTH_INVALID_APP = -14002  # unverified
ERR_OAUTH_INVALID_SECRET = -14003  # unverified
ERR_OAUTH_INVALID_REFRESH = -14014

OA_BUTTON_TYPES = frozenset(
    {"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.sms", "oa.open.phone"}
)
OA_MAX_BUTTONS = 5  # unverified

REPLY_WINDOW_MS = 48 * 3600 * 1000  # free replies within 48 h of the user's last message
FREE_REPLIES = 8


def now_ms() -> int:
    return int(time.time() * 1000)


def hex_id() -> str:
    """A Zalo-style message id: 20 lowercase hex digits."""
    return secrets.token_hex(10)


def zalo_event_signature(
    app_id: str, raw_body: bytes | str, timestamp: str | int, key: str
) -> str:
    """``sha256(app_id + raw_body + timestamp + key)`` as hex: plain SHA-256, not HMAC."""
    body = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
    data = str(app_id).encode("utf-8") + body + str(timestamp).encode("utf-8")
    return hashlib.sha256(data + key.encode("utf-8")).hexdigest()


class _Recorder:
    """``wait_for`` and ``dump`` shared by both fakes."""

    calls: list[tuple[str, dict]]
    errors: list[tuple[str, int, str]]

    async def wait_for(self, predicate: Callable[[Any], Any], timeout: float = 5.0) -> None:
        """Poll ``predicate(self)`` (may be async) until truthy; AssertionError on timeout."""
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
                    f"{type(self).__name__}.wait_for: condition not met within {timeout}s\n"
                    + self.dump()
                )
            await asyncio.sleep(0.01)

    def _dump_header(self) -> list[str]:
        return []

    # Zalo's CDN: images users send are at URLs that expire. ``host_image`` puts bytes at a URL
    # on this server (GET /images/<name>); ``expire_image`` makes that URL answer 404.
    url: str

    def host_image(self, content: bytes, name: str | None = None) -> str:
        images: dict[str, bytes] = self.__dict__.setdefault("_images", {})
        name = name or f"{hex_id()}.jpg"
        images[name] = bytes(content)
        return f"{self.url}/images/{name}"

    def expire_image(self, url: str) -> None:
        self.__dict__.setdefault("_images", {}).pop(url.rsplit("/", 1)[-1], None)

    async def _serve_image(self, request: web.Request) -> web.Response:
        content = self.__dict__.setdefault("_images", {}).get(request.match_info["name"])
        if content is None:
            return web.Response(status=404, text="expired")
        return web.Response(body=content, content_type="image/jpeg")

    def dump(self, last: int = 25) -> str:
        """The most recent calls and errors, for assertion messages."""
        lines = self._dump_header()
        lines.append(f"last {min(last, len(self.calls))} of {len(self.calls)} calls:")
        for name, params in self.calls[-last:]:
            text = json.dumps(params, ensure_ascii=False, default=repr)
            lines.append(f"  {name} {text[:300]}")
        if self.errors:
            lines.append("errors returned:")
            lines.extend(f"  {m} -> {s} {d}" for m, s, d in self.errors[-10:])
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Zalo Bot Platform
# --------------------------------------------------------------------------------------------

DEFAULT_BOT_TOKEN = "1459232241454765289:fakeZaloBotToken-abc-xyz"

_NO_RESULT = object()  # marks answers that carry only {"ok": true} (sendChatAction)


class BotApiError(Exception):
    """A Zalo Bot API error answer. Raise it inside a method handler."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def _bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


class FakeZaloBot(_Recorder, FakeServer):
    """An in-process fake of the Zalo Bot Platform API. See the module docstring."""

    def __init__(
        self,
        token: str = DEFAULT_BOT_TOKEN,
        *,
        deliver_by_webhook: bool = True,
        webhook_wrapped: bool = True,
        webhook_conflict_status: int = 409,
        require_https: bool = False,
        strict_chats: bool = False,
        account_name: str = "bot.helpdesk",
        default_poll_timeout: float = 30.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.host = host
        self.url = ""
        # True: events go to the webhook (when set); False: they stay queued.
        self.deliver_by_webhook = deliver_by_webhook
        # True: POST {"ok": true, "result": event}; False: POST the bare event.
        self.webhook_wrapped = webhook_wrapped
        # getUpdates while a webhook is set: 409 by default (the real code is unverified).
        self.webhook_conflict_status = webhook_conflict_status
        # Real Zalo demands an https webhook; tests on 127.0.0.1 need http, so it's off.
        self.require_https = require_https
        # strict_chats=True: sending to a chat no user_* call has introduced gives 400.
        self.strict_chats = strict_chats
        self.default_poll_timeout = default_poll_timeout
        prefix = token.split(":", 1)[0]
        self.bot_info: dict[str, Any] = {
            "id": prefix if prefix.isdigit() else "1459232241454765289",
            "account_name": account_name,
            "account_type": "BASIC",
            "can_join_groups": False,
        }

        # What the bot did.
        self.calls: list[tuple[str, dict]] = []  # (method, params), every request
        self.errors: list[tuple[str, int, str]] = []  # (method, status, description)
        self.actions: list[dict] = []  # sendChatAction params
        self.webhook_deliveries: list[tuple[dict, int]] = []  # (posted body, status; 0 = error)
        self._sent: list[dict] = []

        # Webhook state.
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_updated_at = 0

        # Internal state.
        self._pending: list[dict] = []
        self._chats: set[str] = set()
        self._blocked: set[str] = set()
        self._failures: defaultdict[str, deque[BotApiError]] = defaultdict(deque)
        self._changed: asyncio.Event | None = None
        self._closing = False
        self._runner = None
        self._session = None
        self._worker: asyncio.Task | None = None
        self._methods: dict[str, Callable[[dict], Any]] = {
            name: getattr(self, f"_m_{name}")
            for name in (
                "getMe", "getUpdates", "setWebhook", "deleteWebhook", "getWebhookInfo",
                "sendMessage", "sendPhoto", "sendSticker", "sendChatAction",
            )
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        self._closing = False
        self._changed = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/images/{name}", self._serve_image)
        await self._start_app(app)
        self._worker = asyncio.create_task(self._webhook_worker(), name="fake-zalo-webhook")
        return self

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        await self._cancel(self._worker)
        self._worker = None
        await self._stop_app()

    @property
    def base_url(self) -> str:
        """``<url>/bot<token>``: append ``/<method>``."""
        return f"{self.url}/bot{self.token}"

    # ------------------------------------------------------------------ inspection

    def sent(self, chat_id: str | None = None) -> list[dict]:
        """sendMessage, sendPhoto and sendSticker calls that succeeded, in order.

        Each entry is the request params plus ``method``, ``chat_id`` (as a string),
        ``message_id`` and ``date`` (ms) of the answer.
        """
        return [m for m in self._sent if chat_id is None or m["chat_id"] == str(chat_id)]

    def calls_to(self, method: str) -> list[dict]:
        """The params of every request to ``method`` (exact, case-sensitive name)."""
        return [p for m, p in self.calls if m == method]

    @property
    def pending_events(self) -> list[dict]:
        return copy.deepcopy(self._pending)

    async def wait_sent(
        self, count: int = 1, chat_id: str | None = None, timeout: float = 5.0
    ) -> list[dict]:
        """Wait until at least ``count`` messages were sent (to ``chat_id``); return them."""
        await self.wait_for(lambda z: len(z.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    def _dump_header(self) -> list[str]:
        return [f"pending events: {len(self._pending)}; webhook: {self.webhook_url or '-'}"]

    # ------------------------------------------------------------------ failure injection

    def fail_next(self, method: str, status: int, description: str, times: int = 1) -> None:
        """Make the next ``times`` calls to ``method`` fail (e.g. 429 "Quota exceeded").

        Checked after the token and before any work, so a failed call has no effect; it is
        still recorded in ``calls``. Method names are case-sensitive, as on Zalo.
        """
        for _ in range(times):
            self._failures[method].append(BotApiError(status, description))

    def block(self, user_id: str) -> None:
        """Sends to this chat get 403 "Forbidden" (wording unverified)."""
        self._blocked.add(str(user_id))

    def unblock(self, user_id: str) -> None:
        self._blocked.discard(str(user_id))

    # ------------------------------------------------------------------ users' side

    def _user_event(
        self,
        event_name: str,
        user_id: str,
        display_name: str,
        chat_id: str | None,
        content: dict[str, Any],
    ) -> dict:
        user_id = str(user_id)
        chat = str(chat_id) if chat_id is not None else user_id
        message = {
            "from": {"id": user_id, "display_name": display_name, "is_bot": False},
            "chat": {"id": chat, "chat_type": "PRIVATE" if chat == user_id else "GROUP"},
            **content,
            "message_id": hex_id(),
            "date": now_ms(),
        }
        self._chats.add(chat)
        return self.queue_event({"event_name": event_name, "message": message})

    def user_text(
        self,
        user_id: str,
        text: str,
        display_name: str = "An",
        *,
        chat_id: str | None = None,
    ) -> dict:
        """A user sends ``text`` (``message.text.received``). Returns the bare event."""
        return self._user_event(
            "message.text.received", user_id, display_name, chat_id, {"text": text}
        )

    def user_image(
        self,
        user_id: str,
        photo_url: str,
        caption: str = "",
        display_name: str = "An",
        *,
        url_fields: tuple[str, ...] = ("photo_url", "photo"),
    ) -> dict:
        """A user sends a photo (``message.image.received``).

        The URL goes into every key in ``url_fields``: ``photo_url`` (as OpenClaw reads it)
        and ``photo`` (as the official docs name it). Pass ``url_fields=("photo",)`` to check
        that the bot copes with only one of them.
        """
        content: dict[str, Any] = {field: photo_url for field in url_fields}
        if caption:
            content["caption"] = caption
        return self._user_event("message.image.received", user_id, display_name, None, content)

    def user_sticker(
        self, user_id: str, sticker: str = "0e078a2fb66a5f34067b", display_name: str = "An"
    ) -> dict:
        """A user sends a sticker (``message.sticker.received``, with ``sticker`` and ``url``)."""
        content = {"sticker": sticker, "url": f"https://zalo-api.zadn.vn/api/emoticon/{sticker}"}
        return self._user_event(
            "message.sticker.received", user_id, display_name, None, content
        )

    def user_unsupported(self, user_id: str, display_name: str = "An") -> dict:
        """``message.unsupported.received``: no content (e.g. a protected-category sender)."""
        return self._user_event(
            "message.unsupported.received", user_id, display_name, None, {}
        )

    def queue_event(self, event: dict) -> dict:
        """Queue a raw bare event ``{"event_name", "message"}``; returns a copy."""
        self._pending.append(copy.deepcopy(event))
        self._notify()
        return copy.deepcopy(event)

    def webhook_body(self, event: dict, wrapped: bool | None = None) -> dict:
        """The body posted for ``event``: wrapped in ``{"ok", "result"}`` or bare."""
        wrapped = self.webhook_wrapped if wrapped is None else wrapped
        return {"ok": True, "result": copy.deepcopy(event)} if wrapped else copy.deepcopy(event)

    async def post_webhook(
        self,
        event: dict,
        secret: str | None,
        wrapped: bool = True,
        url: str | None = None,
    ) -> int:
        """POST ``event`` to the webhook (or ``url``) with ``secret`` as the secret header.

        ``secret=None`` omits the header. Bypasses the queue and ``webhook_deliveries``: use
        it to forge requests. Returns the HTTP status (0 if the connection failed).
        """
        target = url or self.webhook_url
        if not target:
            raise AssertionError("post_webhook: no webhook is set and no url was given")
        return await self._post_event(target, self.webhook_body(event, wrapped), secret)

    # ------------------------------------------------------------------ delivery internals

    def _notify(self) -> None:
        if self._changed is not None:
            old, self._changed = self._changed, asyncio.Event()
            old.set()

    async def _post_event(self, url: str, body: dict, secret: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[BOT_SECRET_HEADER] = secret
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return await self._post(url, raw, headers)

    async def _webhook_worker(self) -> None:
        while True:
            event = self._changed
            assert event is not None
            while (
                self.webhook_url and self.deliver_by_webhook and self._pending
                and not self._closing
            ):
                body = self.webhook_body(self._pending.pop(0))
                status = await self._post_event(self.webhook_url, body, self.webhook_secret)
                self.webhook_deliveries.append((body, status))
            await event.wait()

    # ------------------------------------------------------------------ HTTP handling

    async def _read_params(self, request: web.Request) -> dict:
        params: dict[str, Any] = dict(request.query)
        if not request.can_read_body:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.text()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _bad("can't parse JSON body") from None
                if not isinstance(body, dict):
                    raise _bad("JSON body must be an object")
                params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
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
        return params

    @staticmethod
    def _error_response(status: int, description: str) -> web.Response:
        body = {"ok": False, "error_code": status, "description": description}
        return web.json_response(body, status=status)

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            params = await self._read_params(request)
        except BotApiError as err:
            self.calls.append((method, {}))
            self.errors.append((method, err.status, err.description))
            return self._error_response(err.status, err.description)
        self.calls.append((method, params))
        try:
            if request.match_info["token"] != self.token:
                raise BotApiError(401, "Unauthorized")
            if self._failures.get(method):
                raise self._failures[method].popleft()
            handler = self._methods.get(method)
            if handler is None:
                raise BotApiError(404, "Not Found")
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except BotApiError as err:
            self.errors.append((method, err.status, err.description))
            return self._error_response(err.status, err.description)
        if result is _NO_RESULT:
            return web.json_response({"ok": True})
        return web.json_response({"ok": True, "result": result})

    # ------------------------------------------------------------------ method helpers

    def _chat_id(self, params: dict) -> str:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise _bad("chat_id is required")
        chat_id = str(chat_id)
        if chat_id in self._blocked:
            raise BotApiError(403, "Forbidden: user has blocked the bot")
        if self.strict_chats and chat_id not in self._chats:
            raise _bad("chat not found")
        return chat_id

    @staticmethod
    def _text(value: Any, name: str, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                raise _bad(f"{name} is required and must be 1-{MAX_TEXT_LENGTH} characters")
            return None
        if not isinstance(value, str):
            raise _bad(f"{name} must be a string")
        if len(value) > MAX_TEXT_LENGTH:
            raise _bad(f"{name} must be 1-{MAX_TEXT_LENGTH} characters")
        return value

    def _record_sent(self, method: str, chat_id: str, params: dict) -> dict:
        result = {"message_id": hex_id(), "date": now_ms()}
        self._sent.append(
            {**copy.deepcopy(params), "method": method, "chat_id": chat_id, **result}
        )
        return result

    @staticmethod
    def _timeout(params: dict, default: float) -> float:
        raw = params.get("timeout")
        if raw is None or raw == "":
            return default
        try:
            return max(0.0, float(raw))
        except (TypeError, ValueError):
            raise _bad("timeout must be a number of seconds") from None

    def _webhook_conflict(self) -> BotApiError:
        return BotApiError(
            self.webhook_conflict_status,
            "Conflict: webhook is active; use deleteWebhook before getUpdates",
        )

    # ------------------------------------------------------------------ Bot API methods

    def _m_getMe(self, params: dict) -> dict:
        return dict(self.bot_info)

    async def _m_getUpdates(self, params: dict) -> dict:
        if self.webhook_url:
            raise self._webhook_conflict()
        timeout = self._timeout(params, self.default_poll_timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            assert changed is not None
            if self.webhook_url:
                raise self._webhook_conflict()
            if self._pending:
                return self._pending.pop(0)
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                raise BotApiError(408, "Request timeout")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    def _m_setWebhook(self, params: dict) -> dict:
        url = params.get("url")
        if not isinstance(url, str) or not url:
            raise _bad("url is required")
        schemes = ("https://",) if self.require_https else ("http://", "https://")
        if not url.startswith(schemes):
            raise _bad("url must be an HTTPS URL")
        secret = params.get("secret_token")
        if not isinstance(secret, str) or not (
            SECRET_TOKEN_MIN <= len(secret) <= SECRET_TOKEN_MAX
        ):
            raise _bad(
                f"secret_token is required and must be {SECRET_TOKEN_MIN}-{SECRET_TOKEN_MAX} "
                "characters"
            )
        self.webhook_url = url
        self.webhook_secret = secret
        self.webhook_updated_at = now_ms()
        self._notify()
        return {"url": url, "updated_at": self.webhook_updated_at}

    def _m_deleteWebhook(self, params: dict) -> dict:
        self.webhook_url = ""
        self.webhook_secret = None
        self.webhook_updated_at = now_ms()
        self._notify()
        return {"url": "", "updated_at": self.webhook_updated_at}

    def _m_getWebhookInfo(self, params: dict) -> dict:
        return {"url": self.webhook_url, "updated_at": self.webhook_updated_at}

    def _m_sendMessage(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        self._text(params.get("text"), "text", required=True)
        return self._record_sent("sendMessage", chat_id, params)

    def _m_sendPhoto(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise _bad("photo must be an image URL")
        self._text(params.get("caption"), "caption", required=False)
        return self._record_sent("sendPhoto", chat_id, params)

    def _m_sendSticker(self, params: dict) -> dict:
        chat_id = self._chat_id(params)
        if not isinstance(params.get("sticker"), str) or not params["sticker"]:
            raise _bad("sticker is required")
        return self._record_sent("sendSticker", chat_id, params)

    def _m_sendChatAction(self, params: dict) -> object:
        self._chat_id(params)
        if params.get("action") not in ("typing", "upload_photo"):
            raise _bad("action must be typing or upload_photo")
        self.actions.append(copy.deepcopy(params))
        return _NO_RESULT  # the docs' sample answer is just {"ok": true}


# --------------------------------------------------------------------------------------------
# Zalo Official Account API v3 + OAuth v4
# --------------------------------------------------------------------------------------------


class _OAError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class FakeZaloOA(_Recorder, FakeServer):
    """An in-process fake of the Zalo OA API v3 (message/cs) and OAuth v4 token refresh."""

    def __init__(
        self,
        *,
        app_id: str = "2553928453557884079",
        app_secret: str = "fake-app-secret-KJH8d7f6",
        oa_secret_key: str = "fake-oa-secret-key-Qw3rTy",
        oa_id: str = "4318815133391279036",
        access_token: str = "oa-access-token-0",
        refresh_token: str = "oa-refresh-token-0",
        expires_in: str = "90000",
        revoke_old_access_token: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.oa_secret_key = oa_secret_key
        self.oa_id = oa_id
        self.expires_in = expires_in
        # True: a refresh invalidates the previous access token at once (stricter than Zalo,
        # whose old token probably lives until it expires). False: both stay valid.
        self.revoke_old_access_token = revoke_old_access_token
        self.host = host
        self.url = ""

        self.current_access_token = access_token
        self.current_refresh_token = refresh_token
        self.refresh_count = 0
        self.used_refresh_tokens: list[str] = []
        self._valid_access_tokens: set[str] = {access_token}

        # What the client did.
        self.calls: list[tuple[str, dict]] = []  # (path, {"headers", "body"})
        self.errors: list[tuple[str, int, str]] = []  # (path, error code or HTTP status, msg)
        self.event_deliveries: list[tuple[dict, int]] = []  # (event, status) from post_event
        self._sent: list[dict] = []
        # Seconds to sleep before answering, per path (makes concurrent requests overlap).
        self.latency: dict[str, float] = {}

        # Users' messages seen by the builders: user_id -> {msg_id: timestamp ms}, and the
        # ordering (sequence number) of each user's latest message versus sent messages.
        self._user_messages: defaultdict[str, dict[str, int]] = defaultdict(dict)
        self._user_last_seq: dict[str, int] = {}
        self._seq = 0
        self._body_failures: defaultdict[str, deque[_OAError]] = defaultdict(deque)
        self._http_failures: defaultdict[str, deque[int]] = defaultdict(deque)
        self._runner = None
        self._session = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_post(MESSAGE_PATH, self._handle_message)
        app.router.add_post(OAUTH_PATH, self._handle_oauth)
        app.router.add_get("/images/{name}", self._serve_image)
        await self._start_app(app)
        return self

    async def stop(self) -> None:
        await self._stop_app()

    @property
    def message_url(self) -> str:
        return f"{self.url}{MESSAGE_PATH}"

    @property
    def oauth_url(self) -> str:
        return f"{self.url}{OAUTH_PATH}"

    # ------------------------------------------------------------------ inspection

    def sent(self, user_id: str | None = None) -> list[dict]:
        """Messages accepted by /v3.0/oa/message/cs, in order.

        Each entry: ``user_id``, ``recipient``, ``message`` (decoded body parts),
        ``access_token`` (the header used), ``kind`` ("reply" if ``recipient.message_id`` was
        given, else "proactive"), ``quoted_message_id``, ``quoted_known`` (the quoted id came
        from a user_send_* event built for this user), ``in_free_window`` (a reply within 48 h
        of the user's last message and among the first 8 since), ``message_id`` (answered),
        ``text`` (message text or template text) and ``buttons`` (template buttons or []).
        """
        return [m for m in self._sent if user_id is None or m["user_id"] == str(user_id)]

    def calls_to(self, path: str) -> list[dict]:
        path = "/" + path.lstrip("/")
        return [c for p, c in self.calls if p == path]

    def window(self, user_id: str) -> dict:
        """Reply-window bookkeeping for a user (recorded only; the fake never refuses).

        ``last_user_message_ms`` (None if no user_send_* event was built for them),
        ``replies_since`` and ``proactive_since`` (messages sent since that message),
        ``free_replies_left`` (8 minus replies since, 0 once 48 h have passed).
        """
        user_id = str(user_id)
        seen = self._user_messages.get(user_id) or {}
        last = max(seen.values()) if seen else None
        last_seq = self._user_last_seq.get(user_id, 0)
        since = [m for m in self.sent(user_id) if m["_seq"] > last_seq]
        replies = sum(1 for m in since if m["kind"] == "reply")
        open_ = last is not None and now_ms() - last <= REPLY_WINDOW_MS
        return {
            "last_user_message_ms": last,
            "replies_since": replies,
            "proactive_since": len(since) - replies,
            "free_replies_left": max(0, FREE_REPLIES - replies) if open_ else 0,
        }

    async def wait_sent(
        self, count: int = 1, user_id: str | None = None, timeout: float = 5.0
    ) -> list[dict]:
        await self.wait_for(lambda z: len(z.sent(user_id)) >= count, timeout)
        return self.sent(user_id)

    def _dump_header(self) -> list[str]:
        valid = self.current_access_token in self._valid_access_tokens
        line = (
            f"access token: {self.current_access_token!r} (valid: {valid}); refresh token: "
            f"{self.current_refresh_token!r}; refreshes: {self.refresh_count}"
        )
        return [line]

    # ------------------------------------------------------------------ tokens & failures

    def expire_access_token(self) -> None:
        """Invalidate the current access token: the next send with it gets -216."""
        self._valid_access_tokens.discard(self.current_access_token)

    def access_token_valid(self, token: str) -> bool:
        return token in self._valid_access_tokens

    def fail_next(self, path: str, error_code: int, message: str, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` get HTTP 200 with this error body.

        For the message path the body is ``{"error": code, "message": message}``; for the
        OAuth path ``{"error": code, "error_name": message, "error_description": message}``.
        Checked before the token, with no effect (no send recorded, no rotation).
        """
        path = "/" + path.lstrip("/")
        for _ in range(times):
            self._body_failures[path].append(_OAError(error_code, message))

    def fail_http(self, path: str, status: int, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` get this HTTP status (plain-text body)."""
        path = "/" + path.lstrip("/")
        for _ in range(times):
            self._http_failures[path].append(status)

    # ------------------------------------------------------------------ event builders

    def user_id_by_app(self, user_id: str) -> str:
        """A stable fake ``user_id_by_app`` for a user id."""
        digest = hashlib.sha256(f"{self.app_id}:{user_id}".encode()).hexdigest()
        return str(int(digest[:15], 16))

    def _event(self, event_name: str, user_id: str, timestamp: str | int | None) -> dict:
        return {
            "app_id": self.app_id,
            "user_id_by_app": self.user_id_by_app(user_id),
            "event_name": event_name,
            "timestamp": str(now_ms() if timestamp is None else timestamp),
        }

    def _user_message_event(
        self, event_name: str, user_id: str, message: dict, timestamp: str | int | None
    ) -> dict:
        user_id = str(user_id)
        event = self._event(event_name, user_id, timestamp)
        event["sender"] = {"id": user_id}
        event["recipient"] = {"id": self.oa_id}
        event["message"] = message
        # Move timestamp last, like Zalo's samples.
        event["timestamp"] = event.pop("timestamp")
        self._user_messages[user_id][message["msg_id"]] = int(event["timestamp"])
        self._seq += 1
        self._user_last_seq[user_id] = self._seq
        return event

    def user_send_text(
        self,
        user_id: str,
        text: str,
        msg_id: str | None = None,
        *,
        timestamp: str | int | None = None,
    ) -> dict:
        """Build a ``user_send_text`` event (not posted: use ``post_event``)."""
        message = {"text": text, "msg_id": msg_id or hex_id()}
        return self._user_message_event("user_send_text", user_id, message, timestamp)

    def user_send_image(
        self,
        user_id: str,
        url: str,
        text: str = "",
        msg_id: str | None = None,
        *,
        timestamp: str | int | None = None,
    ) -> dict:
        """Build a ``user_send_image`` event with ``message.attachments[0].payload.url``."""
        message = {
            "text": text,
            "msg_id": msg_id or hex_id(),
            "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}],
        }
        return self._user_message_event("user_send_image", user_id, message, timestamp)

    def follow(self, user_id: str, *, timestamp: str | int | None = None) -> dict:
        """Build a ``follow`` event (``follower.id`` is the user)."""
        event = self._event("follow", str(user_id), timestamp)
        event.update(oa_id=self.oa_id, source="oa_profile", follower={"id": str(user_id)})
        return event

    def unfollow(self, user_id: str, *, timestamp: str | int | None = None) -> dict:
        event = self.follow(user_id, timestamp=timestamp)
        event["event_name"] = "unfollow"
        return event

    def oa_send_text(
        self,
        user_id: str,
        text: str,
        msg_id: str | None = None,
        *,
        timestamp: str | int | None = None,
    ) -> dict:
        """Build an ``oa_send_text`` echo (sender is the OA). Bots should ignore these."""
        event = self._event("oa_send_text", str(user_id), timestamp)
        event["sender"] = {"id": self.oa_id}
        event["recipient"] = {"id": str(user_id)}
        event["message"] = {"text": text, "msg_id": msg_id or hex_id()}
        event["timestamp"] = event.pop("timestamp")
        return event

    # ------------------------------------------------------------------ event poster

    def event_body(self, event: dict, *, compact: bool = False) -> bytes:
        """The raw bytes ``post_event`` sends for ``event``.

        Default: ``json.dumps(event).encode()``. ``compact=True``: no spaces and raw UTF-8
        (``ensure_ascii=False``), so a bot that re-serialises the parsed JSON with Python's
        defaults computes a different hash.
        """
        if compact:
            return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return json.dumps(event).encode("utf-8")

    def sign(self, event: dict, body: bytes, secret_key: str | None = None) -> str:
        """The hex ``mac`` for ``body`` (uses ``event["app_id"]`` and ``event["timestamp"]``)."""
        key = self.oa_secret_key if secret_key is None else secret_key
        return zalo_event_signature(
            event.get("app_id", self.app_id), body, event.get("timestamp", ""), key
        )

    async def post_event(
        self,
        url: str,
        event: dict,
        *,
        secret_key: str | None = None,
        mac: str | None = None,
        timestamp: str | int | None = None,
        signature_header: str | None = None,
        unsigned: bool = False,
        compact: bool = False,
        headers: dict[str, str] | None = None,
    ) -> int:
        """POST ``event`` to ``url`` signed like Zalo; return the HTTP status (0: no connection).

        ``app_id`` (ours) and ``timestamp`` (now, ms, string) are added when missing;
        ``timestamp=`` overrides the event's timestamp (the signature follows it). The header is
        ``X-ZEvent-Signature: mac=<sha256(app_id + raw_body + timestamp + key)>`` where key is
        ``secret_key`` (default: the OA secret key). Forgeries: ``mac=`` sends that hex instead,
        ``signature_header=`` sends that exact header value (e.g. without "mac="),
        ``unsigned=True`` omits the header.
        """
        event = copy.deepcopy(event)
        event.setdefault("app_id", self.app_id)
        if timestamp is not None:
            event["timestamp"] = str(timestamp)
        event.setdefault("timestamp", str(now_ms()))
        body = self.event_body(event, compact=compact)
        all_headers = {"Content-Type": "application/json"}
        if not unsigned:
            if signature_header is None:
                digest = mac if mac is not None else self.sign(event, body, secret_key)
                signature_header = f"mac={digest}"
            all_headers[OA_SIGNATURE_HEADER] = signature_header
        all_headers.update(headers or {})
        status = await self._post(url, body, all_headers)
        self.event_deliveries.append((event, status))
        return status

    # ------------------------------------------------------------------ HTTP handling

    async def _pre(self, path: str, request: web.Request, record: dict) -> web.Response | None:
        """Record the call, apply latency and injected failures."""
        self.calls.append((path, record))
        delay = self.latency.get(path, 0.0)
        if delay:
            await asyncio.sleep(delay)
        if self._http_failures.get(path):
            status = self._http_failures[path].popleft()
            self.errors.append((path, status, "injected HTTP error"))
            return web.Response(status=status, text=f"HTTP {status}")
        if self._body_failures.get(path):
            raise self._body_failures[path].popleft()
        return None

    def _error_body(self, path: str, err: _OAError) -> web.Response:
        self.errors.append((path, err.code, err.message))
        if path == OAUTH_PATH:
            body = {"error": err.code, "error_name": err.message, "error_description": err.message}
        else:
            body = {"error": err.code, "message": err.message}
        return web.json_response(body)

    async def _handle_message(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        token = request.headers.get("access_token")
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        record = {
            "headers": {"access_token": token, "content_type": request.content_type},
            "body": body if body is not None else raw.decode("utf-8", "replace"),
        }
        try:
            early = await self._pre(MESSAGE_PATH, request, record)
            if early is not None:
                return early
            if token is None or token not in self._valid_access_tokens:
                raise _OAError(ERR_OA_TOKEN_INVALID, "Access token is invalid")
            data = self._send(token, body)
        except _OAError as err:
            return self._error_body(MESSAGE_PATH, err)
        return web.json_response({"error": 0, "message": "Success", "data": data})

    def _send(self, token: str, body: Any) -> dict:
        def bad(what: str) -> _OAError:
            return _OAError(ERR_OA_PARAMS, f"Parameters are invalid: {what}")

        if not isinstance(body, dict):
            raise bad("body must be a JSON object")
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("user_id"):
            raise bad("recipient.user_id is required")
        message = body.get("message")
        if not isinstance(message, dict):
            raise bad("message is required")
        text = message.get("text")
        attachment = message.get("attachment")
        if text is None and attachment is None:
            raise bad("message has neither text nor attachment")
        if text is not None:
            self._check_text(text, "text", bad)
        buttons: list[dict] = []
        template_type = None
        if attachment is not None:
            template_type, buttons, template_text = self._check_attachment(attachment, bad)
            if text is None:
                text = template_text
        user_id = str(recipient["user_id"])
        quoted = recipient.get("message_id")
        kind = "reply" if quoted else "proactive"
        seen = self._user_messages.get(user_id) or {}
        window = self.window(user_id)
        data = {"message_id": hex_id(), "user_id": user_id}
        self._seq += 1
        self._sent.append(
            {
                "user_id": user_id,
                "recipient": copy.deepcopy(recipient),
                "message": copy.deepcopy(message),
                "access_token": token,
                "kind": kind,
                "quoted_message_id": quoted or None,
                "quoted_known": bool(quoted) and quoted in seen,
                "in_free_window": kind == "reply" and window["free_replies_left"] > 0,
                "message_id": data["message_id"],
                "text": text,
                "template_type": template_type,
                "buttons": copy.deepcopy(buttons),
                "sent_at_ms": now_ms(),
                "_seq": self._seq,
            }
        )
        return data

    @staticmethod
    def _check_text(text: Any, name: str, bad: Callable[[str], _OAError]) -> None:
        if not isinstance(text, str) or not text:
            raise bad(f"{name} must be a non-empty string")
        if len(text) > MAX_TEXT_LENGTH:
            raise bad(f"{name} too long (max {MAX_TEXT_LENGTH} characters)")

    def _check_attachment(
        self, attachment: Any, bad: Callable[[str], _OAError]
    ) -> tuple[str, list[dict], str | None]:
        if not isinstance(attachment, dict) or attachment.get("type") != "template":
            raise bad("attachment.type must be template")
        payload = attachment.get("payload")
        if not isinstance(payload, dict):
            raise bad("attachment.payload is required")
        template_type = payload.get("template_type")
        if template_type == "button":
            self._check_text(payload.get("text"), "payload.text", bad)
            buttons = payload.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= OA_MAX_BUTTONS:
                raise bad(f"payload.buttons must hold 1-{OA_MAX_BUTTONS} buttons")
            for button in buttons:
                if not isinstance(button, dict) or not button.get("title"):
                    raise bad("button.title is required")
                kind = button.get("type")
                if kind not in OA_BUTTON_TYPES:
                    raise bad(f"button.type {kind!r} is not supported")
                value = button.get("payload")
                if kind.startswith("oa.query.") and (not isinstance(value, str) or not value):
                    raise bad("button.payload must be a non-empty string for oa.query.*")
                if kind == "oa.open.url" and not (isinstance(value, dict) and value.get("url")):
                    raise bad("button.payload.url is required for oa.open.url")
            return template_type, buttons, payload["text"]
        if template_type == "media":
            elements = payload.get("elements")
            if not isinstance(elements, list) or not elements:
                raise bad("payload.elements is required")
            for element in elements:
                if not isinstance(element, dict) or element.get("media_type") not in (
                    "image", "gif"
                ):
                    raise bad("element.media_type must be image or gif")
                if not (element.get("url") or element.get("attachment_id")):
                    raise bad("element.url or element.attachment_id is required")
            return template_type, [], None
        if template_type == "request_user_info":
            return template_type, [], None
        raise bad(f"template_type {template_type!r} is not supported")

    async def _handle_oauth(self, request: web.Request) -> web.StreamResponse:
        secret = request.headers.get("secret_key")
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = json.loads(await request.text() or "{}")
                if isinstance(body, dict):
                    params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        record = {
            "headers": {"secret_key": secret, "content_type": request.content_type},
            "body": params,
        }
        try:
            early = await self._pre(OAUTH_PATH, request, record)
            if early is not None:
                return early
            result = self._refresh(secret, params)
        except _OAError as err:
            return self._error_body(OAUTH_PATH, err)
        return web.json_response(result)

    def _refresh(self, secret: str | None, params: dict) -> dict:
        if str(params.get("app_id") or "") != self.app_id:
            raise _OAError(ERR_OAUTH_INVALID_APP, "Invalid app id")
        if secret != self.app_secret:
            raise _OAError(ERR_OAUTH_INVALID_SECRET, "Invalid secret key")
        if params.get("grant_type") != "refresh_token":
            raise _OAError(ERR_OAUTH_INVALID_PARAM, "grant_type must be refresh_token")
        token = params.get("refresh_token")
        if not token or token != self.current_refresh_token:
            raise _OAError(ERR_OAUTH_INVALID_REFRESH, "Invalid refresh token")
        self.refresh_count += 1
        n = self.refresh_count
        access = f"oa-access-token-{n}-{secrets.token_hex(6)}"
        refresh = f"oa-refresh-token-{n}-{secrets.token_hex(6)}"
        self.used_refresh_tokens.append(token)
        if self.revoke_old_access_token:
            self._valid_access_tokens.discard(self.current_access_token)
        self._valid_access_tokens.add(access)
        self.current_access_token = access
        self.current_refresh_token = refresh
        return {"access_token": access, "refresh_token": refresh, "expires_in": self.expires_in}


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(name="zalo_bot")
async def zalo_bot_fixture() -> AsyncIterator[FakeZaloBot]:
    """Fixture ``zalo_bot``: a started FakeZaloBot with default settings."""
    async with FakeZaloBot() as server:
        yield server


@pytest.fixture(name="zalo_oa")
async def zalo_oa_fixture() -> AsyncIterator[FakeZaloOA]:
    """Fixture ``zalo_oa``: a started FakeZaloOA with default settings."""
    async with FakeZaloOA() as server:
        yield server


# The same fixtures under their fixture names, so tests can import them as such.
zalo_bot = zalo_bot_fixture
zalo_oa = zalo_oa_fixture
