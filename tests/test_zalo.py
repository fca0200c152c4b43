"""End to end on Zalo: the Zalo Bot API and the OA, on fakes at 127.0.0.1, with technicians on Telegram."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import messages as msg
from bot.app import Services, build_services
from bot.channels import common
from bot.channels import telegram as tgmod
from bot.channels.quarantine import listing
from bot.config import PeopleConfig, TelegramConfig, WebConfig, ZaloBotConfig, ZaloOAConfig
from bot.runner import Running, start, stop
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - fixture
from tests.fake_zalo import FakeZaloBot, FakeZaloOA, zalo_bot_fixture, zalo_oa_fixture  # noqa: F401
from tests.harness import Clock, make_config
from tests.test_telegram import free_port

TECH = 1001
GROUP = -100500
USER = "6ede9afa66b88fe6d6a9"
# A 1x1 PNG.
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                          "0000000d49444154789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082")
TOKEN_QUESTION = "máy tính không nhận usb token, báo không tìm thấy chứng thư số"


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(common, "BACKOFF_CAP", 0.2)
    monkeypatch.setattr(tgmod, "PRIVATE_INTERVAL", 0.0)
    monkeypatch.setattr(tgmod, "GROUP_INTERVAL", 0.0)


class ZaloBot:
    """The whole bot with Zalo Bot, Zalo OA and Telegram (for technicians) all on fakes."""

    def __init__(self, tmp_path: Path, zb: FakeZaloBot, oa: FakeZaloOA, tg: FakeTelegram,  # noqa: F811
                 zalo_webhook: bool = False) -> None:
        self.zb, self.oa, self.tg = zb, oa, tg
        self.clock = Clock(datetime.now(UTC))
        port = free_port()
        config = make_config(tmp_path)
        self.config = dataclasses.replace(
            config,
            people=PeopleConfig(admins=("telegram:1000",), technicians=(f"telegram:{TECH}",)),
            queues={q: (f"telegram:{GROUP}",) for q in ("so-khcn", "so-khcn-cks", "cong-an-xa", "so-tu-phap",
                                                       "vnpt-mang")},
            telegram=TelegramConfig(poll_timeout=1),
            zalo_bot=ZaloBotConfig(poll_timeout=1,
                                   webhook_url=f"http://127.0.0.1:{port}/zalo/bot/webhook" if zalo_webhook else ""),
            zalo_oa=ZaloOAConfig(app_id=oa.app_id),
            web=WebConfig(port=port),
        )
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url,
            "ZALO_BOT_TOKEN": zb.token, "ZALO_BOT_API_BASE_URL": zb.url, "ZALO_BOT_WEBHOOK_SECRET": "zalo-secret-123",
            "ZALO_OA_API_BASE_URL": oa.url, "ZALO_OA_OAUTH_BASE_URL": oa.url,
            "ZALO_OA_SECRET_KEY": oa.oa_secret_key, "ZALO_APP_SECRET": oa.app_secret,
            "ZALO_OA_ACCESS_TOKEN": oa.current_access_token, "ZALO_OA_REFRESH_TOKEN": oa.current_refresh_token,
        }
        self.services: Services | None = None
        self.running: Running | None = None

    async def start(self) -> None:
        self.services = build_services(self.config, self.clock)
        self.running = await start(self.services, self.env)

    async def stop(self) -> None:
        assert self.running is not None and self.services is not None
        await stop(self.running)
        self.services.db.close()

    # -- the Zalo Bot side -----------------------------------------------------

    async def zsay(self, text: str, expect: int = 1, user: str = USER) -> list[str]:
        before = len(self.zb.sent(user))
        self.zb.user_text(user, text)
        return [m["text"] for m in (await self.zb.wait_sent(before + expect, user))[before:]]

    # -- the OA side -------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)

    async def oa_say(self, text: str, expect: int = 1, user: str = USER) -> list[dict]:
        before = len(self.oa.sent(user))
        event = self.oa.user_send_text(user, text, timestamp=str(self.now_ms()))
        assert await self.oa.post_event(f"{self.url}/zalo/oa/webhook", event) == 200
        return (await self.oa.wait_sent(before + expect, user))[before:]


@pytest.fixture
async def bot(tmp_path: Path, zalo_bot: FakeZaloBot, zalo_oa: FakeZaloOA,  # noqa: F811
              tg: FakeTelegram) -> AsyncIterator[ZaloBot]:  # noqa: F811
    bot = ZaloBot(tmp_path, zalo_bot, zalo_oa, tg)
    await bot.start()
    yield bot
    await bot.stop()


async def test_a_question_on_zalo_is_answered_with_numbered_choices(bot: ZaloBot) -> None:
    (answer,) = await bot.zsay(TOKEN_QUESTION)
    assert answer.endswith(f"Gõ 1: {msg.CHOICE_SOLVED}\nGõ 2: {msg.CHOICE_NOT_RIGHT}\nGõ 3: {msg.CHOICE_TECHNICIAN}")
    assert await bot.zsay("1") == [msg.GLAD_IT_HELPED]


async def test_numbered_clarify_on_zalo_by_number_or_by_words(bot: ZaloBot) -> None:
    (clarify,) = await bot.zsay("quên mật khẩu")
    assert clarify.startswith(msg.CLARIFY_INTRO) and "Gõ 1:" in clarify
    (answer,) = await bot.zsay("1")
    assert answer.endswith(f"Gõ 3: {msg.CHOICE_TECHNICIAN}")
    assert await bot.zsay("9") == [msg.NO_SUCH_CHOICE.format(n=3)]
    by_words = await bot.zsay("gap ky thuat vien", expect=2)  # the third option's words, without marks
    assert by_words == [msg.NEED_REGISTRATION_FIRST, msg.REG_ASK_COMMUNE]


async def test_a_long_answer_is_split_under_2000_characters(bot: ZaloBot) -> None:
    assert bot.services is not None
    entry = bot.services.faq.kb.entries[0]
    long = dataclasses.replace(entry, answer="Bước 1: làm như sau.\n" * 120)
    bot.services.faq.matcher.kb = dataclasses.replace(bot.services.faq.kb, entries=(long, *bot.services.faq.kb.entries[1:]))
    pieces = await bot.zsay(entry.question, expect=2)
    assert all(len(p) <= 2000 for p in pieces) and len(pieces) >= 2


async def test_stickers_are_answered_politely(bot: ZaloBot) -> None:
    before = len(bot.zb.sent(USER))
    bot.zb.user_sticker(USER)
    (reply,) = (await bot.zb.wait_sent(before + 1, USER))[before:]
    assert reply["text"] == msg.UNSUPPORTED.format(what="sticker")


async def test_escalation_from_zalo_is_handled_by_a_technician_on_telegram(bot: ZaloBot) -> None:
    for text in ("/dangky", "Bát Xát", "Lò Văn Minh", "Công chức Tư pháp - Hộ tịch"):
        await bot.zsay(text)
    assert (await bot.zsay("0912345678"))[0] == msg.REGISTERED.format(name="Lò Văn Minh", commune="Xã Bát Xát")
    (systems,) = await bot.zsay("/baoloi")
    assert "Gõ 4:" in systems
    await bot.zsay("4")  # hộ tịch
    await bot.zsay("Không ký số được trích lục")
    before = len(bot.zb.sent(USER))
    url = bot.zb.host_image(PNG_BYTES, "loi.png")
    bot.zb.user_image(USER, url)
    await bot.zb.wait_sent(before + 1, USER)
    bot.zb.expire_image(url)  # Zalo's image URLs do not last
    await bot.zsay("1")  # done with photos
    await bot.zsay("2")  # urgent
    (opened,) = await bot.zsay("1")  # send
    assert opened.startswith("Đã gửi yêu cầu #1")
    assert bot.services is not None
    (ref,) = [a["file_ref"] for a in bot.services.tickets.attachments(1)]  # downloaded when it came
    assert ref.startswith("/files/")
    assert (bot.config.database.parent / "uploads" / ref.removeprefix("/files/")).read_bytes()[:4] == b"\x89PNG"

    photo, card = await bot.tg.wait_sent(2, GROUP)  # the photo (uploaded from our copy), then the card
    assert "photo" in photo
    assert card["text"].startswith("🎫 #1")
    bot.tg.user_press(TECH, card, "claim:1", chat_id=GROUP)
    bot.tg.user_text(TECH, "Anh cài lại VGCA Sign Service rồi ký lại nhé", chat_id=GROUP, chat_type="supergroup",
                     reply_to_message_id=card["message_id"])
    expected = msg.TECHNICIAN_SAYS.format(code="#1", text="Anh cài lại VGCA Sign Service rồi ký lại nhé")
    await bot.zb.wait_for(lambda z: any(expected in m["text"] for m in z.sent(USER)))
    (written,) = await bot.zsay("1")  # "Trả lời (#1)"
    assert written.startswith(msg.WRITE_INTO_TICKET.format(code="#1", pick=msg.PICK["numbered"].format(label="Xong")))
    await bot.zsay("Đã ký được rồi, cảm ơn anh")
    await bot.tg.wait_for(lambda t: any("Đã ký được rồi" in m["text"] for m in t.sent(TECH)))


async def test_zalo_bot_webhook_checks_the_secret_and_takes_both_shapes(
        tmp_path: Path, zalo_bot: FakeZaloBot, zalo_oa: FakeZaloOA, tg: FakeTelegram) -> None:  # noqa: F811
    bot = ZaloBot(tmp_path, zalo_bot, zalo_oa, tg, zalo_webhook=True)
    await bot.start()
    try:
        assert zalo_bot.calls_to("setWebhook")[0]["secret_token"] == "zalo-secret-123"
        event = zalo_bot.user_text(USER, "xin chào")  # delivered by the fake, wrapped, with the secret
        await zalo_bot.wait_sent(1, USER)
        forged = dict(event, message=dict(event["message"], message_id="forged-1"))
        assert await zalo_bot.post_webhook(forged, "wrong-secret") == 403
        assert await zalo_bot.post_webhook(forged, None) == 403
        bare = dict(event, message=dict(event["message"], message_id="bare-1", text="cảm ơn"))
        assert await zalo_bot.post_webhook(bare, "zalo-secret-123", wrapped=False) == 200
        texts = [m["text"].split("\n")[0] for m in await zalo_bot.wait_sent(2, USER)]
        assert texts == [msg.SMALLTALK_HELLO, msg.SMALLTALK_THANKS]
    finally:
        await bot.stop()


async def test_oa_refuses_a_forged_signature_and_ignores_a_duplicate_delivery(bot: ZaloBot) -> None:
    url = f"{bot.url}/zalo/oa/webhook"
    event = bot.oa.user_send_text(USER, "xin chào", timestamp=str(bot.now_ms()))
    assert await bot.oa.post_event(url, event, mac="0" * 64) == 403
    assert await bot.oa.post_event(url, event, secret_key="not-the-key") == 403
    assert await bot.oa.post_event(url, event, unsigned=True) == 403
    old = bot.oa.user_send_text(USER, "xin chào", timestamp=str(bot.now_ms() - 3 * 3600 * 1000))
    assert await bot.oa.post_event(url, old) == 403  # a replay of an old event
    for field in ("timestamp", "app_id"):  # a lone surrogate is refused like any forgery, never a 500
        assert await bot.oa.post_event(url, dict(event, **{field: "\ud800"}), mac="0" * 64) == 403
    assert bot.oa.sent(USER) == []
    assert await bot.oa.post_event(url, event) == 200
    assert await bot.oa.post_event(url, event) == 200  # Zalo retried: acknowledged, not handled twice
    (hello,) = await bot.oa.wait_sent(1, USER)
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert hello["quoted_message_id"] == event["message"]["msg_id"]  # counted as a reply
    await asyncio.sleep(0.5)  # time for a second (wrong) reply to arrive
    assert len(bot.oa.sent(USER)) == 1


async def test_oa_choices_become_buttons_that_answer_with_their_number(bot: ZaloBot) -> None:
    (answer,) = await bot.oa_say(TOKEN_QUESTION)
    assert [b["payload"] for b in answer["buttons"]] == ["1", "2", "3"]
    (thanks,) = await bot.oa_say("1")
    assert thanks["text"] == msg.GLAD_IT_HELPED


async def test_oa_expired_token_is_refreshed_once_and_the_message_sent(bot: ZaloBot) -> None:
    bot.oa.expire_access_token()
    old_refresh = bot.oa.current_refresh_token
    (hello,) = await bot.oa_say("xin chào")
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert bot.oa.refresh_count == 1
    assert bot.services is not None
    stored = bot.services.db["oa_tokens"].get(1)
    assert stored["refresh_token"] == bot.oa.current_refresh_token != old_refresh
    await bot.oa_say("cảm ơn")
    assert bot.oa.refresh_count == 1


async def test_oa_reply_outside_the_window_is_held_and_delivered_on_the_next_message(bot: ZaloBot) -> None:
    for text in ("/dangky", "Sa Pa", "Giàng Thị Mai", "Văn phòng", "0987654321"):
        await bot.oa_say(text)
    await bot.oa_say("/baoloi")
    await bot.oa_say("2")
    await bot.oa_say("Không đăng nhập được một cửa")
    await bot.oa_say("1")
    await bot.oa_say("1")
    (opened,) = await bot.oa_say("1")
    assert opened["text"].startswith("Đã gửi yêu cầu #1")

    bot.clock.advance(hours=49)  # the official has been silent for two days
    bot.tg.user_text(TECH, "/traloi 1 Anh đã mở khóa tài khoản", chat_id=TECH)
    await bot.tg.wait_for(lambda t: any(m["text"] == msg.REPLY_HELD.format(code="#1") for m in t.sent(GROUP)))
    assert bot.services is not None
    held = [r for r in bot.services.db["outbox"].rows if r["status"] == "held"]
    assert len(held) == 1
    before = len(bot.oa.sent(USER))
    replies = await bot.oa_say("xin chào", expect=3)
    # A technician wrote on #1, so what the official writes next goes into #1 (with a way out).
    assert [r["text"] for r in replies] == [
        msg.REPLIES_WAITING.format(n=1),
        msg.TECHNICIAN_SAYS.format(code="#1", text="Anh đã mở khóa tài khoản"),
        msg.ADDED_TO_TICKET.format(code="#1"),
    ]
    assert [r["kind"] for r in replies] == ["reply", "reply", "reply"]
    assert len(bot.oa.sent(USER)) == before + 3


# -- poison-proof intake -------------------------------------------------------------------------


async def test_zalo_bot_events_that_break_are_quarantined_and_the_next_is_answered(bot: ZaloBot) -> None:
    bot.zb.queue_event({"event_name": ["message.text.received"],
                         "message": {"message_id": "m1", "from": {"id": USER}, "text": "x"}})
    bot.zb.queue_event({"event_name": "message.text.received", "message": {"from": "me", "text": "hi"}})
    assert (await bot.zsay("xin chào"))[0].split("\n")[0] == msg.SMALLTALK_HELLO
    assert bot.services is not None
    rows = listing(bot.services.db)
    assert [(r["channel"], r["update_ref"]) for r in rows] == [("zalo", "m1")]
    assert rows[0]["error"] == "TypeError: unhashable type: 'list'"


async def test_zalo_bot_get_updates_refusals_are_backed_off(bot: ZaloBot) -> None:
    bot.zb.fail_next("getUpdates", 429, "Quota exceeded", times=100)
    await bot.zb.wait_for(lambda z: any(e[1] == 429 for e in z.errors), timeout=5)
    await asyncio.sleep(1.0)
    # Pauses of 0.05, 0.1, then 0.2 s: about 6 calls in a second, not 477 in 2 s.
    assert 3 <= len([e for e in bot.zb.errors if e[1] == 429]) <= 8
    bot.zb._failures.clear()
    assert (await bot.zsay("xin chào"))[0].split("\n")[0] == msg.SMALLTALK_HELLO


async def test_oa_event_with_an_absurd_timestamp_is_refused_not_a_server_error(bot: ZaloBot) -> None:
    url = f"{bot.url}/zalo/oa/webhook"
    for stamp in ("99999999999999999999", "-99999999999999999999", "1e9", "soon"):
        event = bot.oa.user_send_text(USER, "xin chào", timestamp=str(bot.now_ms()))
        assert await bot.oa.post_event(url, event, timestamp=stamp) == 403, stamp


async def test_oa_event_that_breaks_is_quarantined_and_the_next_is_answered(bot: ZaloBot) -> None:
    url = f"{bot.url}/zalo/oa/webhook"
    broken = bot.oa.user_send_text(USER, "xin chào", timestamp=str(bot.now_ms()))
    del broken["sender"]
    assert await bot.oa.post_event(url, broken) == 200
    (hello,) = await bot.oa_say("xin chào")
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert bot.services is not None
    assert [(r["channel"], r["update_ref"]) for r in listing(bot.services.db)] == [
        ("zalo_oa", broken["message"]["msg_id"])]
    statuses = {r["event_id"]: r["status"] for r in bot.services.db["inbox"].rows}
    assert statuses[broken["message"]["msg_id"]] == "quarantined"


async def test_an_oa_image_is_downloaded_when_it_arrives(bot: ZaloBot) -> None:
    url = bot.oa.host_image(PNG_BYTES, "man-hinh.png")
    event = bot.oa.user_send_image(USER, url, timestamp=str(bot.now_ms()))
    assert await bot.oa.post_event(f"{bot.url}/zalo/oa/webhook", event) == 200
    await bot.oa.wait_sent(1, USER)  # the screenshot starts a report
    bot.oa.expire_image(url)
    assert bot.services is not None
    (row,) = bot.services.db["conversations"].rows_where("channel = 'zalo_oa' and user_ref = ?", [USER])
    refs = re.findall(r'"(/files/[0-9a-f]+\.png)"', row["data"])
    assert len(refs) == 1 and url not in row["data"]
    assert bot.services.attachments.path(refs[0].removeprefix("/files/")) is not None
