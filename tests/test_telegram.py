"""End to end on Telegram: a real PTB Application against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot import messages as msg
from bot.app import Services, build_services, system_clock
from bot.channels import telegram as tgmod
from bot.config import PeopleConfig, TelegramConfig, WebConfig
from bot.runner import Running, start, stop
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture
from tests.harness import make_config

OFFICIAL = 42
TECH = 1001
ADMIN = 1000
STRANGER = 77
GROUP = -100500

TOKEN_QUESTION = "máy tính không nhận usb token, báo không tìm thấy chứng thư số"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tgmod, "PRIVATE_INTERVAL", 0.0)
    monkeypatch.setattr(tgmod, "GROUP_INTERVAL", 0.0)


class TelegramBot:
    def __init__(self, tg: FakeTelegram, tmp_path: Path, webhook: bool = False) -> None:  # noqa: F811
        self.tg = tg
        self.port = free_port()
        config = make_config(tmp_path)
        self.config = dataclasses.replace(
            config,
            people=PeopleConfig(admins=(f"telegram:{ADMIN}",), technicians=(f"telegram:{TECH}",)),
            queues={queue: (f"telegram:{GROUP}",) for queue in ("so-khcn", "so-khcn-cks", "cong-an-xa",
                                                               "so-tu-phap", "vnpt-mang")},
            telegram=TelegramConfig(api_base_url="http://unused.invalid", poll_timeout=1,
                                    webhook_url=f"http://127.0.0.1:{self.port}/telegram/webhook" if webhook else ""),
            web=WebConfig(host="127.0.0.1", port=self.port),
        )
        self.env = {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url,
                    "TELEGRAM_WEBHOOK_SECRET": "s3cret-for-tests"}
        self.services: Services | None = None
        self.running: Running | None = None

    async def start(self) -> None:
        self.services = build_services(self.config, system_clock)
        self.running = await start(self.services, self.env)

    async def stop(self) -> None:
        assert self.running is not None and self.services is not None
        await stop(self.running)
        self.services.db.close()

    async def said(self, chat: int, n: int) -> list[dict]:
        """Wait until the bot has sent `n` messages to `chat`; return them all."""
        await self.tg.wait_sent(n, chat)
        return self.tg.sent(chat)

    async def say(self, user: int, text: str, expect: int = 1) -> list[dict]:
        before = len(self.tg.sent(user))
        self.tg.user_text(user, text)
        return (await self.said(user, before + expect))[before:]

    async def press(self, user: int, message: dict, data: str, expect: int = 1, chat: int | None = None) -> list[dict]:
        chat = chat if chat is not None else user
        before = len(self.tg.sent(chat))
        self.tg.user_press(user, message, data, chat_id=chat)
        return (await self.said(chat, before + expect))[before:]

    async def register(self, user: int = OFFICIAL) -> None:
        await self.say(user, "/dangky")
        await self.say(user, "Bát Xát")
        await self.say(user, "Nguyễn Văn An")
        asked = await self.say(user, "Văn phòng - Thống kê")
        assert asked[0]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
        before = len(self.tg.sent(user))
        self.tg.user_contact(user, "+84912345678")
        done = (await self.said(user, before + 1))[before:]
        assert done[0]["text"] == msg.REGISTERED.format(name="Nguyễn Văn An", commune="Xã Bát Xát")

    def ticket(self, ticket_id: int):  # noqa: ANN201
        assert self.services is not None
        return self.services.tickets.get(ticket_id)


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[TelegramBot]:  # noqa: F811
    bot = TelegramBot(tg, tmp_path)
    await bot.start()
    yield bot
    await bot.stop()


def buttons(message: dict) -> list[str]:
    return [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_a_staff_question_is_answered_with_feedback_buttons(bot: TelegramBot) -> None:
    (answer,) = await bot.say(OFFICIAL, TOKEN_QUESTION)
    assert answer["text"].endswith(msg.ANSWER_FOOTER)
    assert [b.split(":")[:2] for b in buttons(answer)] == [["fb", "ok"], ["fb", "bad"], ["esc", "1"]]


async def test_commands_are_registered_in_vietnamese_per_scope(bot: TelegramBot) -> None:
    staff = bot.tg.my_commands({"type": "all_private_chats"})
    assert [c["command"] for c in staff] == [c for c, _ in tgmod.STAFF_COMMANDS]
    assert staff[1]["description"] == "Báo sự cố cho kỹ thuật viên"
    group = bot.tg.my_commands({"type": "chat", "chat_id": GROUP})
    assert "nhan" in [c["command"] for c in group]


async def test_clarify_by_button_gives_the_chosen_answer(bot: TelegramBot) -> None:
    (clarify,) = await bot.say(OFFICIAL, "quên mật khẩu")
    # Buttons are short on Telegram, so the questions are written out whole, numbered, above them.
    intro, *questions = clarify["text"].split("\n")
    assert intro == msg.CLARIFY_INTRO and [q[:3] for q in questions] == ["1. ", "2. ", "3. "]
    assert [b["text"][:6] for b in clarify["reply_markup"]["inline_keyboard"][0]] == ["Câu 1:"]
    (answer,) = await bot.press(OFFICIAL, clarify, buttons(clarify)[0])
    assert answer["text"].endswith(msg.ANSWER_FOOTER)
    assert bot.tg.answers  # the spinner was stopped


async def test_user_text_is_escaped_for_html(bot: TelegramBot) -> None:
    reply, _help = await bot.say(OFFICIAL, "/x<b>", expect=2)
    assert reply["parse_mode"] == "HTML"
    # escaped on the wire, so Telegram shows it as typed instead of reading it as markup
    assert reply["text"] == msg.UNKNOWN_COMMAND.format(command="x&lt;b&gt;")
    assert tgmod._escaped_pieces("<b>lỗi</b> & <script>") == ["&lt;b&gt;lỗi&lt;/b&gt; &amp; &lt;script&gt;"]


async def test_escalation_with_an_album_makes_one_ticket_and_a_card_in_the_group(bot: TelegramBot) -> None:
    await bot.register()
    (systems,) = await bot.say(OFFICIAL, "/baoloi")
    (describe,) = await bot.press(OFFICIAL, systems, "sys:cks")
    await bot.say(OFFICIAL, "Cắm token không nhận")
    before = len(bot.tg.sent(OFFICIAL))
    for n in range(3):
        bot.tg.user_photo(OFFICIAL, f"photo-{n}", media_group_id="album-7")
    await bot.said(OFFICIAL, before + 1)
    await asyncio.sleep(0.3)
    acks = bot.tg.sent(OFFICIAL)[before:]
    assert [m["text"] for m in acks] == [msg.ESC_PHOTO_RECEIVED.format(n=1)]
    (urgency,) = await bot.press(OFFICIAL, acks[0], "step:photos")
    (confirm,) = await bot.press(OFFICIAL, urgency, "urg:urgent")
    assert "• Ảnh: 3" in confirm["text"]
    (opened,) = await bot.press(OFFICIAL, confirm, "step:send")
    assert opened["text"].startswith("Đã gửi yêu cầu #1")
    assert bot.services is not None
    assert [a["file_ref"] for a in bot.services.tickets.attachments(1)] == ["photo-0", "photo-1", "photo-2"]
    group = await bot.said(GROUP, 4)  # three photos as an album, then the card
    assert [m["method"] for m in group] == ["sendMediaGroup"] * 3 + ["sendMessage"]
    assert group[-1]["text"].startswith("🎫 #1") and buttons(group[-1]) == ["claim:1", "show:1"]


async def open_ticket(bot: TelegramBot) -> dict:
    """A registered official reports a problem; returns the card posted in the group."""
    await bot.register()
    (systems,) = await bot.say(OFFICIAL, "/baoloi")
    await bot.press(OFFICIAL, systems, "sys:motcua")
    (photos,) = await bot.say(OFFICIAL, "Không đăng nhập được một cửa")
    (urgency,) = await bot.press(OFFICIAL, photos, "step:photos")
    (confirm,) = await bot.press(OFFICIAL, urgency, "urg:normal")
    await bot.press(OFFICIAL, confirm, "step:send")
    return (await bot.said(GROUP, 1))[-1]


async def test_technician_claims_replies_by_reply_to_and_resolves_then_the_official_rates(bot: TelegramBot) -> None:
    card = await open_ticket(bot)
    (claimed,) = await bot.press(TECH, card, "claim:1", chat=GROUP, expect=1)
    assert claimed["text"] == msg.YOU_CLAIMED.format(code="#1")
    await bot.tg.wait_for(lambda t: any("Đang xử lý" in e["text"] for e in t.edits(GROUP)))

    # A reply to the card in the group goes to the official.
    before = len(bot.tg.sent(OFFICIAL))
    bot.tg.user_text(TECH, "Anh xóa cache trình duyệt rồi thử lại", chat_id=GROUP, chat_type="supergroup",
                     reply_to_message_id=card["message_id"])
    expected = msg.TECHNICIAN_SAYS.format(code="#1", text="Anh xóa cache trình duyệt rồi thử lại")
    await bot.tg.wait_for(lambda t: any(m["text"] == expected for m in t.sent(OFFICIAL)[before:]))

    before = len(bot.tg.sent(OFFICIAL))
    bot.tg.user_text(TECH, "/xong 1 Đã xóa cache", chat_id=GROUP, chat_type="supergroup")
    (resolved,) = (await bot.said(OFFICIAL, before + 1))[before:]
    (rating,) = await bot.press(OFFICIAL, resolved, "fixed:1")
    (thanks,) = await bot.press(OFFICIAL, rating, "rate:1:5")
    assert thanks["text"] == msg.THANKS_FOR_RATING.format(code="#1")
    ticket = bot.ticket(1)
    assert (ticket.status, ticket.rating) == ("closed", 5)


async def test_a_non_technician_cannot_claim_from_the_group(bot: TelegramBot) -> None:
    card = await open_ticket(bot)
    (refused,) = await bot.press(STRANGER, card, "claim:1", chat=GROUP)
    assert refused["text"] == msg.NOT_A_TECHNICIAN
    assert bot.ticket(1).assignee_id is None


async def test_an_old_button_gets_a_short_notice(bot: TelegramBot) -> None:
    (answer,) = await bot.say(OFFICIAL, TOKEN_QUESTION)
    before = len(bot.tg.sent(OFFICIAL))
    bot.tg.user_press(OFFICIAL, answer, "step:send", check_button=False)  # from a flow long gone
    (notice,) = (await bot.said(OFFICIAL, before + 1))[before:]
    assert notice["text"] == msg.STALE_BUTTON


async def test_a_429_is_retried_after_the_time_telegram_asks(bot: TelegramBot) -> None:
    bot.tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    bot.tg.user_text(OFFICIAL, "xin chào")
    (hello,) = await bot.said(OFFICIAL, 1)
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert bot.services is not None
    # The outcome is committed just after the fake has the message.
    # (generous timeout: on a loaded machine the writer thread's commit can lag the send)
    await bot.tg.wait_for(lambda t: bot.services.db.execute(
        "select status from outbox where chat_ref = ?", [str(OFFICIAL)]).fetchone()[0] not in ("sending", "pending"),
        timeout=30)
    (row,) = [r for r in bot.services.db["outbox"].rows if r["chat_ref"] == str(OFFICIAL)]
    assert (row["status"], row["attempts"]) == ("sent", 2)


async def test_a_reply_that_went_out_is_not_sent_again_when_recording_it_fails(bot: TelegramBot) -> None:
    """Which ticket a sent message belongs to is recorded after the send; a failure there
    (a full disk, here a trigger that refuses) must not make the outbox send it again."""
    await open_ticket(bot)
    assert bot.services is not None
    bot.services.db.execute("create trigger refuse before insert on channel_messages "
                            "begin select raise(abort, 'database or disk is full'); end")
    before = len(bot.tg.sent(OFFICIAL))
    bot.tg.user_text(TECH, "/traloi 1 Anh thử lại nhé")
    (relayed,) = (await bot.said(OFFICIAL, before + 1))[before:]
    await bot.tg.wait_for(lambda t: bot.services.db.execute(
        "select count(*) from outbox where chat_ref = ? and status in ('sending', 'pending')",
        [str(OFFICIAL)]).fetchone()[0] == 0, timeout=30)
    row = bot.services.db.execute("select status, attempts from outbox where chat_ref = ? order by id desc limit 1",
                                  [str(OFFICIAL)]).fetchone()
    assert (relayed["text"], tuple(row)) == (msg.TECHNICIAN_SAYS.format(code="#1", text="Anh thử lại nhé"),
                                            ("sent", 1))


async def test_a_user_who_blocked_the_bot_is_marked_unreachable_not_retried(bot: TelegramBot) -> None:
    await open_ticket(bot)
    bot.tg.block(OFFICIAL)
    bot.tg.user_text(TECH, "/traloi 1 Anh thử lại nhé")
    await bot.said(TECH, 1)
    assert bot.services is not None
    await bot.tg.wait_for(lambda t: bot.services.people.get(bot.ticket(1).user_id).unreachable)
    failed = [r for r in bot.services.db["outbox"].rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["attempts"] == 1 and "blocked" in failed[0]["last_error"]


async def test_webhook_refuses_a_wrong_secret_and_serves_the_right_one(tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    bot = TelegramBot(tg, tmp_path, webhook=True)
    await bot.start()
    try:
        assert tg.webhook_secret == "s3cret-for-tests"
        update = {"update_id": 999, "message": {"message_id": 5, "date": 1750000000,
                  "chat": {"id": OFFICIAL, "type": "private"},
                  "from": {"id": OFFICIAL, "is_bot": False, "first_name": "An"}, "text": "xin chào"}}
        assert await tg.post_webhook(update, "wrong-secret") == 403
        assert await tg.post_webhook(update, None) == 403
        assert tg.sent(OFFICIAL) == []
        assert await tg.post_webhook(update, "s3cret-for-tests") == 200
        (hello,) = await bot.said(OFFICIAL, 1)
        assert hello["text"] == msg.SMALLTALK_HELLO
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{bot.port}/healthz") as resp:
            assert (resp.status, (await resp.json())["channels"]) == (200, ["telegram", "web"])
    finally:
        await bot.stop()


async def test_killed_mid_flow_and_restarted_loses_nothing_and_sends_nothing_twice(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    bot = TelegramBot(tg, tmp_path)
    await bot.start()
    await bot.register()
    (systems,) = await bot.say(OFFICIAL, "/baoloi")
    # Telegram is down while the next step is answered: the reply waits in the outbox.
    bot.tg.fail_next("sendMessage", 502, "Bad Gateway", times=50)
    update = bot.tg.user_press(OFFICIAL, systems, "sys:motcua")
    assert bot.services is not None
    await bot.tg.wait_for(lambda t: bot.services.db.execute(
        "select count(*) from outbox where status = 'pending'").fetchone()[0] == 1)
    await bot.stop()  # the process goes away with a message undelivered

    bot.tg.fail_next("sendMessage", 502, "Bad Gateway", times=0)
    bot.tg._failures.clear()
    restarted = TelegramBot(tg, tmp_path)
    restarted.port = bot.port
    await restarted.start()
    try:
        before = len(tg.sent(OFFICIAL))
        # The outbox row is retried after its backoff; the same update redelivered does nothing.
        tg.queue_update(update)
        await restarted.said(OFFICIAL, before + 1)
        await asyncio.sleep(0.5)
        after = tg.sent(OFFICIAL)[before:]
        assert [m["text"] for m in after] == [msg.ESC_ASK_DESCRIPTION]
        # The flow goes on where it was.
        (photos,) = await restarted.say(OFFICIAL, "Lỗi đăng nhập")
        assert photos["text"] == msg.ESC_ASK_PHOTOS.format(pick=msg.PICK["buttons"].format(label="Xong"))
    finally:
        await restarted.stop()


def test_long_text_is_split_at_line_breaks_under_the_limit() -> None:
    text = "\n".join(f"Dòng {n}: " + "x" * 90 for n in range(200))
    pieces = tgmod.split_text(text, 4096)
    assert all(len(p) <= 4096 for p in pieces) and "\n".join(pieces) == text
    assert all(p.startswith("Dòng") for p in pieces)


async def test_run_serves_telegram_until_sigterm_without_logging_the_token(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    import os
    import signal
    import sys

    from tests.harness import REPO, config_file

    config = config_file(tmp_path, port=free_port(), poll_timeout=1)
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url,
           "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        await tg.wait_for(lambda t: bool(t.calls_to("getUpdates")), timeout=20)
        tg.user_text(OFFICIAL, "xin chào")
        await tg.wait_sent(1, OFFICIAL, timeout=10)
        assert tg.sent(OFFICIAL)[0]["text"] == msg.SMALLTALK_HELLO
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=20)
    log = output.decode()
    assert proc.returncode == 0, log
    assert "telegram: started (long polling)" in log and "stopping: finishing in-flight work" in log
    assert tg.token not in log and tg.token.split(":")[1] not in log


def test_secrets_are_blanked_in_log_records() -> None:
    import logging

    from bot.runner import RedactSecrets

    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST https://x/bot%s/getMe",
                               ("123:SECRET",), None)
    RedactSecrets(["123:SECRET", ""]).filter(record)
    assert record.getMessage() == "POST https://x/bot***/getMe"


async def test_start_shows_the_main_menu_as_a_persistent_keyboard(bot: TelegramBot) -> None:
    (welcome,) = await bot.say(OFFICIAL, "/start")
    assert welcome["reply_markup"]["keyboard"] == [
        [{"text": msg.MENU_ASK}, {"text": msg.MENU_REPORT}], [{"text": msg.MENU_TICKETS}]]
    (tickets,) = await bot.say(OFFICIAL, msg.MENU_TICKETS)  # pressing it is the menu action
    assert tickets["text"] == msg.NO_TICKETS


async def test_an_edited_message_is_recorded_on_the_ticket_as_an_edit(bot: TelegramBot) -> None:
    await open_ticket(bot)
    opened = bot.tg.sent(OFFICIAL)[-1]
    await bot.press(OFFICIAL, opened, "add:1")
    before = len(bot.tg.sent(OFFICIAL))
    update = bot.tg.user_text(OFFICIAL, "Lỗi 500 khi đăng nhập")
    (added,) = (await bot.said(OFFICIAL, before + 1))[before:]
    assert added["text"] == msg.ADDED_TO_TICKET.format(code="#1")
    before = len(bot.tg.sent(OFFICIAL))
    bot.tg.user_edit(OFFICIAL, update["message"]["message_id"], "Lỗi 502 khi đăng nhập")
    await bot.said(OFFICIAL, before + 1)
    assert bot.services is not None
    events = bot.services.tickets.events(1, include_internal=False)
    assert (events[-1]["kind"], events[-1]["text"]) == ("edit", "Lỗi 502 khi đăng nhập")


async def test_messages_to_one_chat_are_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tgmod, "PRIVATE_INTERVAL", 1.0)
    monkeypatch.setattr(tgmod, "GROUP_INTERVAL", 3.0)
    slept: list[float] = []
    clock = [100.0]

    async def sleep(seconds: float) -> None:  # time passes only when the pacer waits
        slept.append(round(seconds, 3))
        clock[0] += seconds

    pacer = tgmod._Pacer(now=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        await pacer.wait("42")
    await pacer.wait("43")  # another chat is not held up
    await pacer.wait("-100500")
    await pacer.wait("-100500")  # a group: 20 a minute
    assert slept == [1.0, 1.0, 3.0]


async def test_sends_overall_are_capped_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tgmod, "OVERALL_PER_SECOND", 3)
    slept: list[float] = []
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock[0] += seconds

    pacer = tgmod._Pacer(now=lambda: clock[0], sleep=sleep)
    for chat in ("1", "2", "3", "4"):
        await pacer.wait(chat)
    assert slept == [1.0]
