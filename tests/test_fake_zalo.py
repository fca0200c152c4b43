"""The fake Zalo servers (tests/fake_zalo.py), driven over HTTP with plain aiohttp clients."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fake_zalo import (  # noqa: F401
    MESSAGE_PATH,
    OAUTH_PATH,
    FakeZaloBot,
    FakeZaloOA,
    zalo_bot_fixture,
    zalo_event_signature,
    zalo_oa_fixture,
)

USER = "6ede9afa66b88fe6d6a9"
HEX20 = re.compile(r"^[0-9a-f]{20}$")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


class Receiver:
    """A tiny webhook endpoint on 127.0.0.1 that records what it gets."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append({"headers": dict(request.headers), "raw": raw, "json": json.loads(raw)})
        return web.Response(status=self.status)


@contextlib.asynccontextmanager
async def receiver(status: int = 200) -> AsyncIterator[Receiver]:
    rec = Receiver(status)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()


async def call(
    http: aiohttp.ClientSession,
    zb: FakeZaloBot,
    method: str,
    *,
    how: str = "json",
    token: str | None = None,
    **params: Any,
) -> tuple[int, dict]:
    url = f"{zb.url}/bot{token or zb.token}/{method}"
    if how == "json":
        request = http.post(url, json=params)
    elif how == "form":
        request = http.post(url, data={k: str(v) for k, v in params.items()})
    else:  # query string, GET
        request = http.get(url, params={k: str(v) for k, v in params.items()})
    async with request as resp:
        return resp.status, await resp.json()


# ============================================================================================
# FakeZaloBot
# ============================================================================================


async def test_bot_get_me_transports_token_and_case(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    expected = {
        "id": "1459232241454765289",
        "account_name": "bot.helpdesk",
        "account_type": "BASIC",
        "can_join_groups": False,
    }
    for how in ("json", "form", "get"):
        status, body = await call(http, zalo_bot, "getMe", how=how)
        assert (status, body) == (200, {"ok": True, "result": expected})

    status, body = await call(http, zalo_bot, "getMe", token="1:wrong")
    assert status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}

    status, body = await call(http, zalo_bot, "getme")  # case-sensitive
    assert status == 404 and body["ok"] is False and body["error_code"] == 404
    assert [m for m, _ in zalo_bot.calls] == ["getMe"] * 4 + ["getme"]


async def test_bot_send_message_limits_and_recording(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    before = int(time.time() * 1000)
    status, body = await call(http, zalo_bot, "sendMessage", chat_id=USER, text="Xin chào")
    assert status == 200 and body["ok"] is True
    first_id = body["result"]["message_id"]
    assert HEX20.match(first_id)
    assert before <= body["result"]["date"] <= int(time.time() * 1000)

    status, _ = await call(http, zalo_bot, "sendMessage", how="form", chat_id=USER, text="x" * 2000)
    assert status == 200
    status, _ = await call(http, zalo_bot, "sendMessage", how="get", chat_id="other", text="q")
    assert status == 200

    for bad in ("", "x" * 2001):
        status, body = await call(http, zalo_bot, "sendMessage", chat_id=USER, text=bad)
        assert status == 400 and body["ok"] is False and body["error_code"] == 400
    status, _ = await call(http, zalo_bot, "sendMessage", text="no chat")
    assert status == 400

    sent = zalo_bot.sent(USER)
    assert [(m["method"], m["chat_id"], len(m["text"])) for m in sent] == [
        ("sendMessage", USER, 8), ("sendMessage", USER, 2000)
    ]
    assert sent[0]["message_id"] == first_id and sent[0]["date"] >= before
    assert [m["chat_id"] for m in zalo_bot.sent()] == [USER, USER, "other"]
    assert len(zalo_bot.errors) == 3


async def test_bot_send_photo_and_chat_action(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    status, body = await call(
        http, zalo_bot, "sendPhoto", chat_id=USER, photo="https://x.test/a.png", caption="ảnh"
    )
    assert status == 200 and HEX20.match(body["result"]["message_id"])
    status, _ = await call(http, zalo_bot, "sendPhoto", chat_id=USER, photo="https://x.test/b")
    assert status == 200
    status, _ = await call(http, zalo_bot, "sendPhoto", chat_id=USER, photo="not a url")
    assert status == 400
    status, _ = await call(
        http, zalo_bot, "sendPhoto", chat_id=USER, photo="https://x.test/c", caption="c" * 2001
    )
    assert status == 400
    assert [(m["method"], m["photo"], m.get("caption")) for m in zalo_bot.sent(USER)] == [
        ("sendPhoto", "https://x.test/a.png", "ảnh"), ("sendPhoto", "https://x.test/b", None)
    ]

    status, body = await call(http, zalo_bot, "sendChatAction", chat_id=USER, action="typing")
    assert (status, body) == (200, {"ok": True})
    status, _ = await call(http, zalo_bot, "sendChatAction", chat_id=USER, action="dancing")
    assert status == 400
    assert zalo_bot.actions == [{"chat_id": USER, "action": "typing"}]


async def test_bot_long_poll_returns_one_update_then_408(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    # A poll that is waiting when the user writes returns that single event.
    poll = asyncio.create_task(call(http, zalo_bot, "getUpdates", how="form", timeout=5))
    await zalo_bot.wait_for(lambda z: len(z.calls_to("getUpdates")) == 1)
    await asyncio.sleep(0.05)
    assert not poll.done()
    event = zalo_bot.user_text(USER, "Xin chào", display_name="Ted")
    status, body = await asyncio.wait_for(poll, 3)
    assert status == 200 and body["ok"] is True
    assert body["result"] == event
    result = body["result"]
    assert result["event_name"] == "message.text.received"
    message = result["message"]
    assert message["from"] == {"id": USER, "display_name": "Ted", "is_bot": False}
    assert message["chat"] == {"id": USER, "chat_type": "PRIVATE"}
    assert message["text"] == "Xin chào" and HEX20.match(message["message_id"])
    assert message["date"] > 10**12  # milliseconds

    # Queued events come back one per call, in order (result is an object, not a list).
    zalo_bot.user_image(USER, "https://x.test/p.jpg", caption="giấy tờ")
    zalo_bot.user_sticker(USER)
    zalo_bot.user_unsupported(USER)
    got = []
    for _ in range(3):
        status, body = await call(http, zalo_bot, "getUpdates", timeout=1)
        assert status == 200 and isinstance(body["result"], dict)
        got.append(body["result"])
    assert [e["event_name"] for e in got] == [
        "message.image.received", "message.sticker.received", "message.unsupported.received"
    ]
    image = got[0]["message"]
    assert image["photo_url"] == image["photo"] == "https://x.test/p.jpg"
    assert image["caption"] == "giấy tờ"
    assert got[1]["message"]["sticker"] and got[1]["message"]["url"].startswith("https://")
    assert {"text", "photo_url", "sticker"}.isdisjoint(got[2]["message"])
    assert zalo_bot.pending_events == []

    # Nothing arrives: HTTP 408 after the timeout.
    loop = asyncio.get_running_loop()
    start = loop.time()
    status, body = await call(http, zalo_bot, "getUpdates", how="get", timeout=0.3)
    assert loop.time() - start >= 0.29
    assert status == 408
    assert body == {"ok": False, "error_code": 408, "description": "Request timeout"}
    status, _ = await call(http, zalo_bot, "getUpdates", timeout="soon")
    assert status == 400


async def test_bot_webhook_posts_with_secret_in_both_shapes(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    async with receiver() as rec:
        for secret in ("short7!", "s" * 257):
            status, _ = await call(http, zalo_bot, "setWebhook", url=rec.url, secret_token=secret)
            assert status == 400
        status, _ = await call(http, zalo_bot, "setWebhook", url=rec.url)
        assert status == 400
        secret = "hook-secret-123"
        status, body = await call(http, zalo_bot, "setWebhook", url=rec.url, secret_token=secret)
        assert status == 200 and body["result"]["url"] == rec.url
        assert body["result"]["updated_at"] > 10**12
        status, body = await call(http, zalo_bot, "getWebhookInfo")
        assert body["result"]["url"] == rec.url

        status, body = await call(http, zalo_bot, "getUpdates", timeout=0)
        assert status == 409 and body["error_code"] == 409

        # Wrapped shape (default).
        event = zalo_bot.user_text(USER, "qua webhook")
        await zalo_bot.wait_for(lambda z: len(z.webhook_deliveries) == 1)
        first = rec.requests[0]
        assert first["headers"]["X-Bot-Api-Secret-Token"] == secret
        assert first["headers"]["Content-Type"] == "application/json"
        assert first["json"] == {"ok": True, "result": event}
        assert zalo_bot.webhook_deliveries[0] == ({"ok": True, "result": event}, 200)

        # Bare shape.
        zalo_bot.webhook_wrapped = False
        bare = zalo_bot.user_image(USER, "https://x.test/q.jpg")
        await zalo_bot.wait_for(lambda z: len(z.webhook_deliveries) == 2)
        assert rec.requests[1]["json"] == bare
        assert rec.requests[1]["json"]["event_name"] == "message.image.received"
        assert rec.requests[1]["headers"]["X-Bot-Api-Secret-Token"] == secret

        # Forged requests through post_webhook.
        assert await zalo_bot.post_webhook(event, "wrong-secret") == 200
        assert await zalo_bot.post_webhook(event, None, wrapped=False) == 200
        assert rec.requests[2]["headers"]["X-Bot-Api-Secret-Token"] == "wrong-secret"
        assert rec.requests[2]["json"] == {"ok": True, "result": event}
        assert "X-Bot-Api-Secret-Token" not in rec.requests[3]["headers"]
        assert rec.requests[3]["json"] == event
        assert len(zalo_bot.webhook_deliveries) == 2

        # A failing endpoint is recorded with its status.
        rec.status = 500
        zalo_bot.user_text(USER, "lỗi")
        await zalo_bot.wait_for(lambda z: len(z.webhook_deliveries) == 3)
        assert zalo_bot.webhook_deliveries[2][1] == 500

        status, body = await call(http, zalo_bot, "deleteWebhook")
        assert status == 200 and body["result"]["url"] == ""
        zalo_bot.user_text(USER, "lại polling")
        status, body = await call(http, zalo_bot, "getUpdates", timeout=1)
        assert status == 200 and body["result"]["message"]["text"] == "lại polling"
    assert len(rec.requests) == 5


async def test_bot_webhook_delivers_events_queued_before_it_was_set(
    http: aiohttp.ClientSession,
) -> None:
    async with FakeZaloBot(webhook_wrapped=False) as zb, receiver() as rec:
        zb.user_text(USER, "sớm")
        status, _ = await call(http, zb, "setWebhook", url=rec.url, secret_token="12345678")
        assert status == 200
        await zb.wait_for(lambda z: len(rec.requests) == 1)
        assert rec.requests[0]["json"]["message"]["text"] == "sớm"
        assert "ok" not in rec.requests[0]["json"]


async def test_bot_setting_webhook_ends_a_waiting_poll(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    poll = asyncio.create_task(call(http, zalo_bot, "getUpdates", timeout=5))
    await zalo_bot.wait_for(lambda z: len(z.calls_to("getUpdates")) == 1)
    status, _ = await call(
        http, zalo_bot, "setWebhook", url="https://example.invalid/h", secret_token="12345678"
    )
    assert status == 200
    status, body = await asyncio.wait_for(poll, 3)
    assert status == 409 and body["ok"] is False


async def test_bot_fail_next_quota_and_wait_for(
    http: aiohttp.ClientSession, zalo_bot: FakeZaloBot
) -> None:
    zalo_bot.fail_next("sendMessage", 429, "Quota exceeded", times=2)
    for _ in range(2):
        status, body = await call(http, zalo_bot, "sendMessage", chat_id=USER, text="hi")
        assert status == 429
        assert body == {"ok": False, "error_code": 429, "description": "Quota exceeded"}
    assert zalo_bot.sent() == []
    status, _ = await call(http, zalo_bot, "sendMessage", chat_id=USER, text="hi")
    assert status == 200
    assert await zalo_bot.wait_sent(1, USER)
    assert zalo_bot.errors[:2] == [("sendMessage", 429, "Quota exceeded")] * 2

    with pytest.raises(AssertionError, match="condition not met"):
        await zalo_bot.wait_for(lambda z: len(z.sent()) > 5, timeout=0.05)


async def test_bot_strict_chats_and_block(http: aiohttp.ClientSession) -> None:
    async with FakeZaloBot(strict_chats=True) as zb:
        status, _ = await call(http, zb, "sendMessage", chat_id=USER, text="hi")
        assert status == 400
        zb.user_text(USER, "chào")
        status, _ = await call(http, zb, "sendMessage", chat_id=USER, text="hi")
        assert status == 200
        zb.block(USER)
        status, body = await call(http, zb, "sendMessage", chat_id=USER, text="hi")
        assert status == 403 and body["error_code"] == 403


# ============================================================================================
# FakeZaloOA
# ============================================================================================


async def oa_send(
    http: aiohttp.ClientSession, oa: FakeZaloOA, body: Any, token: str | None = None
) -> dict:
    """POST to /v3.0/oa/message/cs; the OA API always answers HTTP 200."""
    headers = {"access_token": token if token is not None else oa.current_access_token}
    async with http.post(oa.message_url, json=body, headers=headers) as resp:
        assert resp.status == 200
        return await resp.json()


async def oa_refresh(
    http: aiohttp.ClientSession,
    oa: FakeZaloOA,
    refresh_token: str,
    *,
    secret: str | None = None,
    app_id: str | None = None,
) -> dict:
    """POST the form to /v4/oa/access_token; errors also come back as HTTP 200."""
    form = {
        "app_id": app_id or oa.app_id,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    headers = {"secret_key": secret if secret is not None else oa.app_secret}
    async with http.post(oa.oauth_url, data=form, headers=headers) as resp:
        assert resp.status == 200
        return await resp.json()


def text_body(user_id: str, text: str, message_id: str | None = None) -> dict:
    recipient = {"user_id": user_id}
    if message_id:
        recipient["message_id"] = message_id
    return {"recipient": recipient, "message": {"text": text}}


async def test_oa_send_text_reply_and_proactive(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    incoming = zalo_oa.user_send_text(USER, "hỏi thủ tục")
    msg_id = incoming["message"]["msg_id"]
    body = await oa_send(http, zalo_oa, text_body(USER, "trả lời", msg_id))
    assert body["error"] == 0 and body["message"] == "Success"
    assert HEX20.match(body["data"]["message_id"]) and body["data"]["user_id"] == USER
    body = await oa_send(http, zalo_oa, text_body(USER, "thông báo"))
    assert body["error"] == 0

    sent = zalo_oa.sent(USER)
    assert [(m["kind"], m["text"], m["access_token"]) for m in sent] == [
        ("reply", "trả lời", "oa-access-token-0"),
        ("proactive", "thông báo", "oa-access-token-0"),
    ]
    assert sent[0]["quoted_message_id"] == msg_id and sent[0]["quoted_known"] is True
    assert sent[0]["in_free_window"] is True and sent[1]["in_free_window"] is False
    assert sent[0]["message"] == {"text": "trả lời"}
    assert sent[0]["recipient"] == {"user_id": USER, "message_id": msg_id}
    assert zalo_oa.window(USER)["replies_since"] == 1
    assert zalo_oa.window(USER)["proactive_since"] == 1
    assert zalo_oa.window(USER)["free_replies_left"] == 7
    assert zalo_oa.window("stranger")["free_replies_left"] == 0
    assert zalo_oa.calls_to(MESSAGE_PATH)[0]["headers"]["access_token"] == "oa-access-token-0"


async def test_oa_free_window_counts_eight_replies(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    msg_id = zalo_oa.user_send_text(USER, "?")["message"]["msg_id"]
    for i in range(9):
        body = await oa_send(http, zalo_oa, text_body(USER, f"r{i}", msg_id))
        assert body["error"] == 0  # the fake never refuses
    assert [m["in_free_window"] for m in zalo_oa.sent(USER)] == [True] * 8 + [False]
    zalo_oa.user_send_text(USER, "again")  # the user writes again: the window reopens
    assert zalo_oa.window(USER)["free_replies_left"] == 8


async def test_oa_invalid_token_expire_and_limits(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    body = await oa_send(http, zalo_oa, text_body(USER, "x"), token="nope")
    assert body == {"error": -216, "message": "Access token is invalid"}

    body = await oa_send(http, zalo_oa, text_body(USER, "y" * 2000))
    assert body["error"] == 0
    body = await oa_send(http, zalo_oa, text_body(USER, "y" * 2001))
    assert body["error"] == -201 and "too long" in body["message"]
    for bad in ({"message": {"text": "x"}}, {"recipient": {"user_id": USER}}, [1, 2]):
        body = await oa_send(http, zalo_oa, bad)
        assert body["error"] == -201

    zalo_oa.expire_access_token()
    body = await oa_send(http, zalo_oa, text_body(USER, "z"))
    assert body["error"] == -216
    assert not zalo_oa.access_token_valid("oa-access-token-0")
    assert len(zalo_oa.sent()) == 1

    # Refreshing gives a working token.
    body = await oa_refresh(http, zalo_oa, zalo_oa.current_refresh_token)
    assert body["access_token"] == zalo_oa.current_access_token
    body = await oa_send(http, zalo_oa, text_body(USER, "z"))
    assert body["error"] == 0
    assert zalo_oa.sent()[-1]["access_token"] == zalo_oa.current_access_token


async def test_oa_button_and_media_templates(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    buttons = [
        {"title": "1. Thủ tục", "type": "oa.query.hide", "payload": "#thutuc"},
        {"title": "2. Gặp cán bộ", "type": "oa.query.hide", "payload": "#canbo"},
    ]
    button_msg = {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "button", "text": "Chọn mục:", "buttons": buttons},
        }
    }
    body = await oa_send(
        http, zalo_oa, {"recipient": {"user_id": USER}, "message": button_msg}
    )
    assert body["error"] == 0
    media_msg = {
        "text": "Mẫu đơn",
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "media",
                "elements": [{"media_type": "image", "url": "https://x.test/form.png"}],
            },
        },
    }
    body = await oa_send(
        http, zalo_oa, {"recipient": {"user_id": USER}, "message": media_msg}
    )
    assert body["error"] == 0
    first, second = zalo_oa.sent(USER)
    assert first["template_type"] == "button" and first["text"] == "Chọn mục:"
    assert first["buttons"] == buttons and first["message"] == button_msg
    assert second["template_type"] == "media" and second["text"] == "Mẫu đơn"

    bad_button = json.loads(json.dumps(button_msg))
    bad_button["attachment"]["payload"]["buttons"][0]["type"] = "postback"
    body = await oa_send(
        http, zalo_oa, {"recipient": {"user_id": USER}, "message": bad_button}
    )
    assert body["error"] == -201
    too_many = json.loads(json.dumps(button_msg))
    too_many["attachment"]["payload"]["buttons"] = buttons * 3
    body = await oa_send(
        http, zalo_oa, {"recipient": {"user_id": USER}, "message": too_many}
    )
    assert body["error"] == -201
    assert len(zalo_oa.sent()) == 2


async def test_oa_refresh_rotation_is_single_use(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    first_refresh = zalo_oa.current_refresh_token
    body = await oa_refresh(http, zalo_oa, first_refresh)
    assert set(body) == {"access_token", "refresh_token", "expires_in"}
    assert body["expires_in"] == "90000"
    assert body["refresh_token"] != first_refresh
    assert body["access_token"] != "oa-access-token-0"
    assert (zalo_oa.current_access_token, zalo_oa.current_refresh_token) == (
        body["access_token"], body["refresh_token"]
    )
    assert zalo_oa.refresh_count == 1
    call = zalo_oa.calls_to(OAUTH_PATH)[0]
    assert call["headers"]["secret_key"] == zalo_oa.app_secret
    assert call["body"] == {
        "app_id": zalo_oa.app_id, "grant_type": "refresh_token", "refresh_token": first_refresh
    }

    # Reusing the old refresh token fails (HTTP 200, error body); nothing changes.
    again = await oa_refresh(http, zalo_oa, first_refresh)
    assert again["error"] == -14014
    assert again["error_name"] == "Invalid refresh token" and "error_description" in again
    assert zalo_oa.refresh_count == 1

    # The old access token is gone, the new one works.
    sent = await oa_send(http, zalo_oa, text_body(USER, "a"), token="oa-access-token-0")
    assert sent["error"] == -216
    sent = await oa_send(http, zalo_oa, text_body(USER, "a"), token=body["access_token"])
    assert sent["error"] == 0

    # Wrong secret_key / app_id: errors, no rotation.
    bad = await oa_refresh(http, zalo_oa, body["refresh_token"], secret="wrong")
    assert bad["error"] < 0 and "access_token" not in bad
    bad = await oa_refresh(http, zalo_oa, body["refresh_token"], app_id="123")
    assert bad["error"] < 0
    assert zalo_oa.current_refresh_token == body["refresh_token"]

    # The new refresh token works exactly once.
    second = await oa_refresh(http, zalo_oa, body["refresh_token"])
    assert "access_token" in second and zalo_oa.refresh_count == 2
    assert zalo_oa.used_refresh_tokens == [first_refresh, body["refresh_token"]]
    third = await oa_refresh(http, zalo_oa, body["refresh_token"])
    assert third["error"] == -14014


async def test_oa_concurrent_refresh_only_one_wins(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    zalo_oa.latency[OAUTH_PATH] = 0.05
    token = zalo_oa.current_refresh_token
    results = await asyncio.gather(*(oa_refresh(http, zalo_oa, token) for _ in range(3)))
    wins = [b for b in results if "access_token" in b]
    assert len(wins) == 1 and zalo_oa.refresh_count == 1
    assert sorted(b.get("error", 0) for b in results) == [-14014, -14014, 0]


async def test_oa_keep_old_access_token_option(http: aiohttp.ClientSession) -> None:
    async with FakeZaloOA(revoke_old_access_token=False, access_token="A0") as oa:
        body = await oa_refresh(http, oa, oa.current_refresh_token)
        assert body["expires_in"] == "90000"
        sent = await oa_send(http, oa, text_body(USER, "a"), token="A0")
        assert sent["error"] == 0


async def test_oa_fail_next_and_fail_http(
    http: aiohttp.ClientSession, zalo_oa: FakeZaloOA
) -> None:
    zalo_oa.fail_next(MESSAGE_PATH, -32, "Exceed rate limit", times=2)
    for _ in range(2):
        body = await oa_send(http, zalo_oa, text_body(USER, "x"))
        assert body == {"error": -32, "message": "Exceed rate limit"}
    body = await oa_send(http, zalo_oa, text_body(USER, "x"))
    assert body["error"] == 0

    zalo_oa.fail_http(MESSAGE_PATH, 503)
    async with http.post(
        zalo_oa.message_url,
        json=text_body(USER, "x"),
        headers={"access_token": zalo_oa.current_access_token},
    ) as resp:
        assert resp.status == 503
    assert len(zalo_oa.sent()) == 1

    zalo_oa.fail_next(OAUTH_PATH, -14014, "Invalid refresh token")
    body = await oa_refresh(http, zalo_oa, zalo_oa.current_refresh_token)
    assert body["error"] == -14014 and body["error_name"] == "Invalid refresh token"
    assert zalo_oa.refresh_count == 0
    zalo_oa.fail_http(OAUTH_PATH, 502)
    async with http.post(zalo_oa.oauth_url, data={}) as resp:
        assert resp.status == 502
    body = await oa_refresh(http, zalo_oa, zalo_oa.current_refresh_token)
    assert "access_token" in body
    await zalo_oa.wait_for(lambda z: z.refresh_count == 1)


async def test_oa_event_builders(zalo_oa: FakeZaloOA) -> None:
    text = zalo_oa.user_send_text(USER, "Chào", msg_id="cb31dff1c39642cc1b83")
    assert list(text) == [
        "app_id", "user_id_by_app", "event_name", "sender", "recipient", "message", "timestamp"
    ]
    assert text["app_id"] == zalo_oa.app_id and text["event_name"] == "user_send_text"
    assert text["sender"] == {"id": USER} and text["recipient"] == {"id": zalo_oa.oa_id}
    assert text["message"] == {"text": "Chào", "msg_id": "cb31dff1c39642cc1b83"}
    assert isinstance(text["timestamp"], str) and int(text["timestamp"]) > 10**12
    assert text["user_id_by_app"] == zalo_oa.user_id_by_app(USER)

    image = zalo_oa.user_send_image(USER, "https://x.test/i.jpg", text="cccd")
    assert image["event_name"] == "user_send_image" and image["message"]["text"] == "cccd"
    assert image["message"]["attachments"][0]["type"] == "image"
    assert image["message"]["attachments"][0]["payload"]["url"] == "https://x.test/i.jpg"
    assert HEX20.match(image["message"]["msg_id"])

    follow = zalo_oa.follow(USER)
    assert follow["event_name"] == "follow" and follow["follower"] == {"id": USER}
    assert zalo_oa.unfollow(USER)["event_name"] == "unfollow"
    echo = zalo_oa.oa_send_text(USER, "OA nói")
    assert echo["event_name"] == "oa_send_text"
    assert echo["sender"] == {"id": zalo_oa.oa_id} and echo["recipient"] == {"id": USER}
    assert zalo_oa.event_deliveries == []  # builders never post


async def test_oa_post_event_signature(zalo_oa: FakeZaloOA) -> None:
    async with receiver() as rec:
        event = zalo_oa.user_send_text(USER, "Xin chào cán bộ xã")
        assert await zalo_oa.post_event(rec.url, event) == 200
        got = rec.requests[0]
        raw = got["raw"]
        assert raw == json.dumps(event).encode()
        assert got["json"] == event
        header = got["headers"]["X-ZEvent-Signature"]
        assert header.startswith("mac=")
        expected = hashlib.sha256(
            (zalo_oa.app_id + raw.decode() + event["timestamp"] + zalo_oa.oa_secret_key).encode()
        ).hexdigest()
        assert header == f"mac={expected}"
        assert expected == zalo_event_signature(
            zalo_oa.app_id, raw, event["timestamp"], zalo_oa.oa_secret_key
        )
        # Not HMAC, and not keyed with the app secret.
        assert expected != hashlib.sha256(
            (zalo_oa.app_id + raw.decode() + event["timestamp"] + zalo_oa.app_secret).encode()
        ).hexdigest()

        # Wrong key, explicit mac, overridden timestamp, odd header forms, compact body.
        assert await zalo_oa.post_event(rec.url, event, secret_key="other") == 200
        wrong = rec.requests[1]["headers"]["X-ZEvent-Signature"]
        assert wrong == "mac=" + zalo_event_signature(
            zalo_oa.app_id, raw, event["timestamp"], "other"
        )
        await zalo_oa.post_event(rec.url, event, mac="deadbeef")
        assert rec.requests[2]["headers"]["X-ZEvent-Signature"] == "mac=deadbeef"
        await zalo_oa.post_event(rec.url, event, timestamp=1_000)
        stale = rec.requests[3]
        assert stale["json"]["timestamp"] == "1000"
        assert stale["headers"]["X-ZEvent-Signature"] == "mac=" + zalo_event_signature(
            zalo_oa.app_id, stale["raw"], "1000", zalo_oa.oa_secret_key
        )
        await zalo_oa.post_event(rec.url, event, signature_header=expected)
        assert rec.requests[4]["headers"]["X-ZEvent-Signature"] == expected
        await zalo_oa.post_event(rec.url, event, unsigned=True)
        assert "X-ZEvent-Signature" not in rec.requests[5]["headers"]
        await zalo_oa.post_event(rec.url, event, compact=True)
        compact = rec.requests[6]
        assert "Xin chào".encode() in compact["raw"] and b" " not in compact["raw"].split(
            b'"text":'
        )[0]
        assert compact["headers"]["X-ZEvent-Signature"] == "mac=" + zalo_event_signature(
            zalo_oa.app_id, compact["raw"], event["timestamp"], zalo_oa.oa_secret_key
        )

        # app_id and timestamp are filled in when missing.
        await zalo_oa.post_event(rec.url, {"event_name": "user_send_text"})
        filled = rec.requests[7]["json"]
        assert filled["app_id"] == zalo_oa.app_id and filled["timestamp"].isdigit()

        rec.status = 401
        assert await zalo_oa.post_event(rec.url, event) == 401
    assert [s for _, s in zalo_oa.event_deliveries] == [200] * 8 + [401]
    assert await zalo_oa.post_event(rec.url, event) == 0  # receiver is gone
