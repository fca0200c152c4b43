"""Shared outages and announcements across real channel adapters: officials on Telegram, Zalo Bot and
Zalo OA (fakes on 127.0.0.1), technicians on Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import messages as msg
from bot.insight.commands import announcements_of
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - fixture
from tests.fake_zalo import FakeZaloBot, FakeZaloOA, zalo_bot_fixture, zalo_oa_fixture  # noqa: F401
from tests.test_zalo import GROUP, TECH, ZaloBot, no_pacing  # noqa: F401 - the autouse fixture

TG_OFFICIAL = 42
ZB_OFFICIAL = "zb0fficial000000001"
OA_OFFICIAL = "0a0fficial000000002"
ADMIN_TG = 1000


@pytest.fixture
async def bot(tmp_path: Path, zalo_bot: FakeZaloBot, zalo_oa: FakeZaloOA,  # noqa: F811
              tg: FakeTelegram) -> AsyncIterator[ZaloBot]:  # noqa: F811
    bot = ZaloBot(tmp_path, zalo_bot, zalo_oa, tg)
    await bot.start()
    yield bot
    await bot.stop()


async def tg_say(bot: ZaloBot, text: str, user: int = TG_OFFICIAL) -> dict:
    before = len(bot.tg.sent(user))
    bot.tg.user_text(user, text)
    return (await bot.tg.wait_sent(before + 1, user))[before]


async def tg_press(bot: ZaloBot, message: dict, data: str, user: int = TG_OFFICIAL) -> dict:
    before = len(bot.tg.sent(user))
    bot.tg.user_press(user, message, data)
    return (await bot.tg.wait_sent(before + 1, user))[before]


async def register_everyone(bot: ZaloBot) -> None:
    for text in ("/dangky", "Bát Xát", "Nguyễn Văn An", "Văn phòng", "0912345678"):
        await tg_say(bot, text)
    for text in ("/dangky", "Y Tý", "Lò Văn Minh", "Tư pháp", "0912345679"):
        await bot.zsay(text, user=ZB_OFFICIAL)
    for text in ("/dangky", "Sa Pa", "Giàng Thị Mai", "Văn phòng", "0987654321"):
        await bot.oa_say(text, user=OA_OFFICIAL)


async def report_on_telegram(bot: ZaloBot, description: str) -> dict:
    menu = await tg_say(bot, "/baoloi")
    asked = await tg_press(bot, menu, "sys:motcua")
    assert asked["text"] == msg.ESC_ASK_DESCRIPTION
    photos = await tg_say(bot, description)
    urgency = await tg_press(bot, photos, "step:photos")
    confirm = await tg_press(bot, urgency, "urg:normal")
    return await tg_press(bot, confirm, "step:send")


async def report_on_zalo(bot: ZaloBot, description: str, oa: bool) -> str:
    say = (lambda t: bot.oa_say(t, user=OA_OFFICIAL)) if oa else (lambda t: bot.zsay(t, user=ZB_OFFICIAL))
    await say("/baoloi")
    await say("2")  # Một cửa
    await say(description)
    await say("1")  # no screenshot
    await say("1")  # normal
    (opened,) = await say("1")  # send
    return opened["text"] if oa else opened


def texts_to(bot: ZaloBot, who: object) -> list[str]:
    if who == TG_OFFICIAL or who == GROUP or who == ADMIN_TG:
        return [m.get("text") or "" for m in bot.tg.sent(who)]  # type: ignore[arg-type]
    if who == ZB_OFFICIAL:
        return [m["text"] for m in bot.zb.sent(ZB_OFFICIAL)]
    return [m["text"] for m in bot.oa.sent(OA_OFFICIAL)]


async def test_an_outage_reported_on_three_channels_is_one_incident_resolved_once(bot: ZaloBot) -> None:
    await register_everyone(bot)
    await report_on_telegram(bot, "Không vào được một cửa, báo lỗi 502 Bad Gateway")
    await report_on_zalo(bot, "mot cua bao loi 502 ko dang nhap dc", oa=False)
    opened = await report_on_zalo(bot, "Hệ thống một cửa không truy cập được, lỗi 502", oa=True)
    assert opened.startswith("Đã gửi yêu cầu #3")
    assert "Yêu cầu #3 của anh/chị thuộc sự cố chung" in opened

    # The technicians' group: two ticket cards, then one incident card naming the three communes.
    await bot.tg.wait_for(lambda t: any(m["text"].startswith("🚨 Sự cố chung S1") for m in t.sent(GROUP)))
    card = next(m for m in bot.tg.sent(GROUP) if m["text"].startswith("🚨 Sự cố chung S1"))
    assert "3 xã/phường: Xã Bát Xát, Xã Y Tý, Phường Sa Pa" in card["text"]
    assert sum(m["text"].startswith("🎫") for m in bot.tg.sent(GROUP)) == 2
    # The two earlier reporters are told, each on their own channel.
    await bot.tg.wait_for(lambda t: any("Yêu cầu #1 của anh/chị thuộc sự cố chung" in x for x in texts_to(bot, TG_OFFICIAL)))
    await bot.zb.wait_for(lambda z: any("Yêu cầu #2 của anh/chị thuộc sự cố chung" in x
                                        for x in texts_to(bot, ZB_OFFICIAL)))

    # One resolution from the technician reaches all three, one message each.
    bot.tg.user_text(TECH, "/xongsuco 1 Máy chủ một cửa đã chạy lại", chat_id=TECH)
    resolved = msg.RESOLVED_NOTICE.format(code="#{}", note="Máy chủ một cửa đã chạy lại")
    await bot.tg.wait_for(lambda t: resolved.format(1) in texts_to(bot, TG_OFFICIAL))
    await bot.zb.wait_for(lambda z: any(x.startswith(resolved.format(2)) for x in texts_to(bot, ZB_OFFICIAL)))
    await bot.oa.wait_for(lambda o: any(x.startswith(resolved.format(3)) for x in texts_to(bot, OA_OFFICIAL)))
    assert bot.services is not None
    assert [bot.services.tickets.get(i).status for i in (1, 2, 3)] == ["resolved"] * 3
    await bot.tg.wait_for(lambda t: any(m["text"].startswith("🚨 Sự cố chung S1") and "✅ Đã khắc phục" in m["text"]
                                        for m in t.sent(GROUP)) or any("✅ Đã khắc phục" in (e.get("text") or "")
                                                                       for e in t.calls_to("editMessageText")))

    # Each official answers for their own ticket: Zalo OA says still broken, Telegram says fixed.
    (reopened,) = await bot.oa_say("2", user=OA_OFFICIAL)
    assert reopened["text"] == msg.REOPENED_BY_YOU.format(code="#3")
    notice = next(m for m in bot.tg.sent(TG_OFFICIAL) if m["text"] == resolved.format(1))
    rating = await tg_press(bot, notice, "fixed:1")
    assert rating["text"] == msg.ASK_RATING.format(code="#1")
    assert [bot.services.tickets.get(i).status for i in (1, 2, 3)] == ["closed", "resolved", "assigned"]


async def test_an_announcement_reaches_each_channel_and_zalo_oa_holds_it_until_the_official_writes(
        bot: ZaloBot) -> None:
    await register_everyone(bot)
    assert bot.services is not None
    bot.clock.advance(hours=49)  # everyone silent for two days: outside Zalo OA's reply window
    board = announcements_of(bot.services)
    admin = bot.services.people.find("telegram", str(ADMIN_TG))
    assert admin is not None
    audience = board.audience("all")
    preview = board.preview("Thứ Bảy 06/12 bảo trì hệ thống một cửa từ 8h đến 11h.", audience)
    assert (len(preview.recipients), preview.by_channel) == (3, {"telegram": 1, "zalo": 1, "zalo_oa": 1})
    announcement = await bot.services.writer.run(
        board.send, "Thứ Bảy 06/12 bảo trì hệ thống một cửa từ 8h đến 11h.", audience, admin)
    text = msg.ANNOUNCEMENT.format(text="Thứ Bảy 06/12 bảo trì hệ thống một cửa từ 8h đến 11h.")
    await bot.tg.wait_for(lambda t: text in texts_to(bot, TG_OFFICIAL))
    await bot.zb.wait_for(lambda z: text in texts_to(bot, ZB_OFFICIAL))

    async def tallied(expected: tuple) -> None:
        import asyncio

        for _ in range(100):
            t = board.tally(announcement)
            if (t.sent, t.waiting, t.held, t.delivered_after_hold, t.failed) == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"tally {board.tally(announcement)} never became {expected}")

    await tallied((2, 0, 1, 0, 0))  # Zalo OA: held, not failed
    assert text not in texts_to(bot, OA_OFFICIAL)
    replies = await bot.oa_say("xin chào", expect=3, user=OA_OFFICIAL)
    assert [r["text"] for r in replies] == [msg.REPLIES_WAITING.format(n=1), text, msg.SMALLTALK_HELLO]
    await tallied((2, 0, 0, 1, 0))
