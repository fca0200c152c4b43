"""The fake Telegram server against a real python-telegram-bot 22.x Application, over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import time

import pytest
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from tests.fake_telegram import FakeTelegram, ptb_offline_env, tg_fixture  # noqa: F401

USER = 42


@contextlib.asynccontextmanager
async def polling(app: Application):
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def echo_app(tg: FakeTelegram) -> Application:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("Xin chào! Gõ câu hỏi của bạn.")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Đúng", callback_data="ok:1"),
              InlineKeyboardButton("Sai", callback_data="no:1")]]
        )
        await update.effective_message.reply_text(
            f"Bạn hỏi: {update.effective_message.text}", reply_markup=keyboard
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("Đã ghi nhận")
        await query.edit_message_text(f"Cảm ơn! ({query.data})")

    app = tg.builder().build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


async def test_echo_bot_polling_keyboard_and_callback(tg: FakeTelegram) -> None:
    async with polling(echo_app(tg)):
        tg.user_text(USER, "/start")
        (greeting,) = await tg.wait_sent(1, chat_id=USER)
        assert greeting["text"].startswith("Xin chào")
        assert greeting["chat"] == {"id": USER, "type": "private", "first_name": "An"}
        assert greeting["reply_markup"] is None

        tg.user_text(USER, "Cách nộp hồ sơ?")
        reply = (await tg.wait_sent(2, chat_id=USER))[-1]
        assert reply["text"] == "Bạn hỏi: Cách nộp hồ sơ?"
        assert reply["message_id"] > greeting["message_id"]
        buttons = reply["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"] for b in buttons] == ["ok:1", "no:1"]

        tg.user_press(USER, reply, "ok:1")
        await tg.wait_for(lambda t: len(t.edits(USER)) == 1)

    assert tg.answers[0]["text"] == "Đã ghi nhận"
    edit = tg.edits(USER)[0]
    assert edit["method"] == "editMessageText"
    assert edit["message_id"] == reply["message_id"]
    assert edit["text"] == "Cảm ơn! (ok:1)"
    # edit_message_text without reply_markup removes the keyboard, as on Telegram.
    assert edit["reply_markup"] is None
    assert "reply_markup" not in tg.message(USER, reply["message_id"])

    methods = [m for m, _ in tg.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    # Each update was confirmed through offset, and none is left pending.
    assert tg.pending_updates == []
    offsets = [p.get("offset") for p in tg.calls_to("getUpdates")]
    assert max(o for o in offsets if o) == 4  # three updates, ids 1..3
    # Params are decoded: ints are ints, reply_markup is a dict.
    send = tg.calls_to("sendMessage")[1]
    assert send["chat_id"] == USER
    assert isinstance(send["reply_markup"], dict)
    # Message.reply_text() does not quote in private chats by default (do_quote=None).
    assert "reply_parameters" not in send


async def test_user_press_checks_buttons(tg: FakeTelegram) -> None:
    async with tg.builder().build() as app:
        msg = await app.bot.send_message(
            USER, "Chọn", reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("A", callback_data="a")
            )
        )
    sent = tg.sent(USER)[0]
    assert sent["message_id"] == msg.message_id
    with pytest.raises(AssertionError, match="no button"):
        tg.user_press(USER, sent, "b")
    update = tg.user_press(USER, sent, "forged", check_button=False)
    assert update["callback_query"]["data"] == "forged"


async def test_retry_after_and_forbidden(tg: FakeTelegram) -> None:
    async with tg.builder().build() as app:
        tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        with pytest.raises(RetryAfter) as err:
            await app.bot.send_message(USER, "a")
        # The tg fixture sets PTB_TIMEDELTA=true, so retry_after is a timedelta.
        assert err.value.retry_after == dtm.timedelta(seconds=1)
        await app.bot.send_message(USER, "b")  # only the next call failed

        tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        with pytest.raises(Forbidden, match="blocked by the user"):
            await app.bot.send_message(USER, "c")

        tg.block(7)
        with pytest.raises(Forbidden):
            await app.bot.send_message(7, "d")

        tg.fail_next("sendMessage", 500, "Internal Server Error", times=2)
        tg.fail_next("getChat", 502, "Bad Gateway")
        for _ in range(2):
            with pytest.raises(NetworkError):
                await app.bot.send_message(USER, "e")
        with pytest.raises(NetworkError):
            await app.bot.get_chat(USER)

    assert [m["text"] for m in tg.sent(USER)] == ["b"]
    assert [s for _, s, _ in tg.errors] == [429, 403, 403, 500, 500, 502]


async def test_retry_after_without_ptb_timedelta_emits_deprecation(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PTB 22.x warns while *constructing* RetryAfter unless PTB_TIMEDELTA is set.

    Under ``filterwarnings = error`` that warning would replace the RetryAfter exception.
    """
    monkeypatch.delenv("PTB_TIMEDELTA")
    async with tg.builder().build() as app:
        tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
        with pytest.warns(PTBDeprecationWarning, match="retry_after"), pytest.raises(RetryAfter):
            await app.bot.send_message(USER, "x")


async def test_bad_requests(tg: FakeTelegram) -> None:
    async with tg.builder().build() as app:
        bot = app.bot
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(USER, "x" * 4097)
        await bot.send_message(USER, "x" * 4096)
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(USER, "")
        with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                USER, "x", reply_markup=InlineKeyboardMarkup.from_button(
                    InlineKeyboardButton("x", callback_data="đ" * 33)  # 66 bytes
                )
            )
        msg = await bot.send_message(USER, "một")
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text("một", USER, msg.message_id)
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("hai", USER, 9999)
        edited = await bot.edit_message_text("hai", USER, msg.message_id)
        assert edited.text == "hai" and edited.edit_date is not None

        # parse_mode markup is checked the way Telegram does.
        with pytest.raises(BadRequest, match='(?i)Unsupported start tag "x@y.vn"'):
            await bot.send_message(USER, "Mail <x@y.vn>", parse_mode="HTML")
        await bot.send_message(USER, "<b>Đậm</b> &lt;ok&gt;", parse_mode="HTML")
        with pytest.raises(BadRequest, match="(?i)Character '.' is reserved"):
            await bot.send_message(USER, "*Bước 1.* Mở trang", parse_mode="MarkdownV2")
        await bot.send_message(USER, r"*Bước 1\.* Mở trang", parse_mode="MarkdownV2")

        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_callback_query("nope")
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await bot.delete_message(USER, 9999)
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("fooBar")
    assert ("fooBar", 404, "Not Found: method not found") in tg.errors
    assert tg.edits(USER)[0]["text"] == "hai"
    assert tg.sent(USER)[-1]["parse_mode"] == "MarkdownV2"


async def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    app = (
        Application.builder().token("1:wrong").base_url(f"{tg.url}/bot")
        .base_file_url(f"{tg.url}/file/bot").build()
    )
    try:
        with pytest.raises(InvalidToken, match="rejected by the server"):
            await app.initialize()
    finally:
        # app.shutdown() does nothing after a failed initialize() and leaves the httpx
        # connection open (ResourceWarning). bot.shutdown() closes it.
        await app.bot.shutdown()
    assert tg.errors == [("getMe", 401, "Unauthorized")]


async def test_get_updates_long_poll_offset_and_timeout(tg: FakeTelegram) -> None:
    async with tg.builder().build() as app:
        bot = app.bot
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert 0.9 <= time.monotonic() - started < 2

        async def later() -> None:
            await asyncio.sleep(0.2)
            tg.user_text(USER, "muộn")

        task = asyncio.create_task(later())
        started = time.monotonic()
        (update,) = await bot.get_updates(timeout=5)
        assert time.monotonic() - started < 1
        await task
        assert update.message.text == "muộn"

        tg.user_contact(USER, "+84901234567")
        tg.user_sticker(USER)
        tg.user_edit(USER, update.message.message_id, "sửa lại")
        tg.user_text(USER, "/help@helpdesk_test_bot", -1001, first_name="Bình")
        tg.user_photo(USER, "ph1", caption="ảnh", media_group_id="g1")
        updates = await bot.get_updates(offset=update.update_id + 1, timeout=0)
        assert [u.update_id for u in updates] == list(range(2, 7))
        contact, sticker, edit, group, photo = updates
        assert contact.message.contact.phone_number == "+84901234567"
        assert contact.message.contact.user_id == USER
        assert sticker.message.sticker.file_id == "stk"
        assert edit.edited_message.text == "sửa lại"
        assert edit.edited_message.message_id == update.message.message_id
        assert group.message.chat.type == "supergroup" and group.message.chat.id == -1001
        assert group.message.from_user.first_name == "Bình"
        assert group.message.entities[0].type == "bot_command"
        assert photo.message.photo[-1].file_id == "ph1"
        assert photo.message.media_group_id == "g1" and photo.message.caption == "ảnh"
        # Without a new offset the same updates come back; the offset drops them for good.
        assert len(await bot.get_updates(timeout=0)) == 5
        assert await bot.get_updates(offset=7, timeout=0) == ()
        assert tg.pending_updates == []


async def test_webhook_delivery_with_secret(tg: FakeTelegram) -> None:
    secret = "s3cret-Token_1"
    app = tg.builder().updater(None).build()
    seen: list[str | None] = []

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("qua webhook")

    app.add_handler(MessageHandler(filters.TEXT, reply))

    async def webhook(request: web.Request) -> web.Response:
        header = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        seen.append(header)
        if header != secret:
            return web.Response(status=403)
        await app.update_queue.put(Update.de_json(await request.json(), app.bot))
        return web.Response()

    web_app = web.Application()
    web_app.router.add_post("/tg", webhook)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/tg"
    try:
        async with app:
            await app.start()
            assert await app.bot.set_webhook(url, secret_token=secret)
            info = await app.bot.get_webhook_info()
            assert info.url == url and info.pending_update_count == 0
            with pytest.raises(Conflict, match="webhook is active"):
                await app.bot.get_updates(timeout=0)

            tg.user_text(USER, "chào")
            await tg.wait_sent(1, chat_id=USER)
            assert tg.sent(USER)[0]["text"] == "qua webhook"
            assert tg.webhook_deliveries[0][1] == 200

            assert await tg.post_webhook({"message": {}}, "wrong") == 403
            assert await tg.post_webhook({"message": {}}, None) == 403
            forged = tg.user_text(USER, "x")  # queued and delivered by the fake
            await tg.wait_for(lambda t: len(t.webhook_deliveries) == 2)
            assert await tg.post_webhook(forged, secret) == 200
            await tg.wait_sent(3, chat_id=USER)

            assert await app.bot.delete_webhook()
            assert (await app.bot.get_webhook_info()).url == ""
            await app.stop()
    finally:
        await runner.cleanup()
    assert seen == [secret, "wrong", None, secret, secret]


async def test_files_photos_and_media_groups(tg: FakeTelegram) -> None:
    tg.add_file("doc1", b"%PDF-1.4 mau don")
    got: list[bytes] = []

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        file = await context.bot.get_file(update.message.photo[-1].file_id)
        got.append(bytes(await file.download_as_bytearray()))

    app = tg.builder().build()
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    async with polling(app):
        file = await app.bot.get_file("doc1")
        assert file.file_size == len(b"%PDF-1.4 mau don")
        assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 mau don"
        with pytest.raises(BadRequest, match="(?i)invalid file_id"):
            await app.bot.get_file("missing")

        tg.user_photo(USER, "ph-42")
        await tg.wait_for(lambda t: got)
        assert got[0].startswith(b"\xff\xd8\xff")

        photo_msg = await app.bot.send_photo(USER, b"\x89PNG upload", caption="Ảnh mẫu")
        uploaded = photo_msg.photo[-1].file_id
        assert bytes(await (await app.bot.get_file(uploaded)).download_as_bytearray()) == (
            b"\x89PNG upload"
        )
        await app.bot.send_photo(USER, "ph-42")
        album = await app.bot.send_media_group(
            USER, [InputMediaPhoto("ph-42", caption="1"), InputMediaPhoto(b"raw", caption="2")]
        )
        assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
        edited = await app.bot.edit_message_caption(USER, album[0].message_id, caption="một")
        assert edited.caption == "một"

    sent = tg.sent(USER)
    assert [m["method"] for m in sent] == ["sendPhoto", "sendPhoto", "sendMediaGroup",
                                           "sendMediaGroup"]
    assert sent[0]["caption"] == "Ảnh mẫu"
    assert sent[1]["photo"][-1]["file_id"] == "ph-42"
    upload = tg.calls_to("sendPhoto")[0]["photo"]
    assert upload["_file"] and upload["content"] == b"\x89PNG upload"
    assert tg.edits(USER)[0]["caption"] == "một"


async def test_commands_chat_actions_copy_delete_get_chat(tg: FakeTelegram) -> None:
    async with tg.builder().build() as app:
        bot = app.bot
        default = [BotCommand("start", "Bắt đầu"), BotCommand("help", "Trợ giúp")]
        admin = [BotCommand("tickets", "Danh sách yêu cầu")]
        assert await bot.set_my_commands(default)
        assert await bot.set_my_commands(
            admin, scope=BotCommandScopeChat(chat_id=USER), language_code="vi"
        )
        with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        mine = await bot.get_my_commands(scope=BotCommandScopeChat(USER), language_code="vi")
        assert [c.command for c in mine] == ["tickets"]
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()

        assert await bot.send_chat_action(USER, "typing")

        request = tg.user_text(USER, "Tôi cần hỗ trợ")["message"]
        copied = await bot.copy_message(-100777, USER, request["message_id"])
        assert tg.sent(-100777)[0]["text"] == "Tôi cần hỗ trợ"
        assert tg.sent(-100777)[0]["message_id"] == copied.message_id
        assert await bot.delete_message(-100777, copied.message_id)

        chat = await bot.get_chat(USER)
        assert chat.type == "private" and chat.first_name == "An"

        keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton("Gửi số điện thoại", request_contact=True)]]
        )
        msg = await bot.send_message(USER, "Cho xin số điện thoại", reply_markup=keyboard)
        assert msg.reply_markup is None  # Telegram echoes only inline keyboards

    assert tg.my_commands() is None
    scope = {"type": "chat", "chat_id": USER}
    assert tg.my_commands(scope, "vi") == [
        {"command": "tickets", "description": "Danh sách yêu cầu"}
    ]
    assert tg.calls_to("setMyCommands")[1]["scope"] == scope
    assert tg.actions == [{"chat_id": USER, "action": "typing"}]
    assert tg.deleted == [(-100777, copied.message_id)]
    assert tg.sent(USER)[-1]["reply_markup"]["keyboard"][0][0]["request_contact"] is True


async def test_no_proxy_is_used(tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy that refuses connections: any request sent through it would fail.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    async with tg.builder().build() as app:
        assert (await app.bot.get_me()).username == "helpdesk_test_bot"


async def test_wait_for_timeout_dumps_calls(tg: FakeTelegram) -> None:
    async with tg.builder().build() as app:
        await app.bot.send_message(USER, "một tin")
    with pytest.raises(AssertionError, match=r"(?s)not met within 0.05s.*sendMessage"):
        await tg.wait_for(lambda t: len(t.sent()) > 1, timeout=0.05)


async def test_second_poller_conflicts(tg: FakeTelegram) -> None:
    # Two bot instances: the newer getUpdates terminates the older long poll with 409.
    async with tg.builder().build() as one, tg.builder().build() as two:
        first = asyncio.create_task(one.bot.get_updates(timeout=3))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(two.bot.get_updates(timeout=0))
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
        assert await second == ()


def test_ptb_offline_env_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    with ptb_offline_env():
        assert "127.0.0.1" in os.environ["NO_PROXY"]
        assert os.environ["PTB_TIMEDELTA"] == "true"
    assert "NO_PROXY" not in os.environ and "PTB_TIMEDELTA" not in os.environ
