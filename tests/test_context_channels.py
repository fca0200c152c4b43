"""Issue 10's cases where channels differ, driven as a new user on each: Telegram (fake Bot
API), Zalo Bot (fake), and the terminal (`python -m bot chat` / `tickets` as subprocesses)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import messages as msg
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture
from tests.fake_zalo import FakeZaloBot, FakeZaloOA, zalo_bot_fixture, zalo_oa_fixture  # noqa: F401 - fixtures
from tests.harness import config_file
from tests.test_cli import run
from tests.test_console import Console, make_console
from tests.test_telegram import GROUP, OFFICIAL, TECH, TelegramBot, no_pacing, open_ticket  # noqa: F401
from tests.test_zalo import TECH as ZTECH
from tests.test_zalo import USER, ZaloBot


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[TelegramBot]:  # noqa: F811
    bot = TelegramBot(tg, tmp_path)
    await bot.start()
    yield bot
    await bot.stop()


@pytest.fixture
async def zbot(tmp_path: Path, zalo_bot: FakeZaloBot, zalo_oa: FakeZaloOA,  # noqa: F811
               tg: FakeTelegram) -> AsyncIterator[ZaloBot]:  # noqa: F811
    bot = ZaloBot(tmp_path, zalo_bot, zalo_oa, tg)
    await bot.start()
    yield bot
    await bot.stop()

ANSWER = "ma ho so 000.00.23.H41-251129-0001, em dung chrome"
TOKEN_QUESTION = "máy tính không nhận usb token, báo không tìm thấy chứng thư số"


async def test_telegram_official_answers_the_technician_without_pressing_reply(bot: TelegramBot) -> None:
    card = await open_ticket(bot)
    await bot.press(TECH, card, "claim:1", chat=GROUP)
    before = len(bot.tg.sent(OFFICIAL))
    bot.tg.user_text(TECH, "/cho 1 Anh gửi mã hồ sơ và trình duyệt", chat_id=GROUP, chat_type="supergroup")
    await bot.said(OFFICIAL, before + 1)
    (routed,) = await bot.say(OFFICIAL, ANSWER)
    assert routed["text"] == msg.ADDED_TO_TICKET.format(code="#1")
    assert [b["text"] for row in routed["reply_markup"]["inline_keyboard"] for b in row] == [msg.BTN_NEW_QUESTION]
    await bot.tg.wait_for(lambda t: any(ANSWER in m["text"] for m in t.sent(GROUP) + t.sent(TECH)))
    assert bot.services is not None
    assert [e["text"] for e in bot.services.tickets.events(1, include_internal=False) if e["kind"] == "message"] == [ANSWER]
    # The way out: one press, and the message is answered as a question instead.
    (question,) = await bot.say(OFFICIAL, TOKEN_QUESTION)
    (answer,) = await bot.press(OFFICIAL, question, question["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    assert answer["text"].endswith(msg.ANSWER_FOOTER)
    log = [m["text"] for m in bot.services.db["messages"].rows_where("direction = 'in'")]
    assert f"Chọn: {msg.BTN_NEW_QUESTION}" in log  # stored as what was chosen, not as a code


async def test_telegram_withdrawing_asks_first(bot: TelegramBot) -> None:
    await open_ticket(bot)
    (mine,) = await bot.say(OFFICIAL, "yeu cau cua toi")  # the menu words, without slash or marks
    assert "withdraw:1" in [b["callback_data"] for row in mine["reply_markup"]["inline_keyboard"] for b in row]
    (ask,) = await bot.press(OFFICIAL, mine, "withdraw:1")
    assert ask["text"].startswith("Rút yêu cầu #1")
    assert bot.ticket(1).status == "new"
    (done,) = await bot.press(OFFICIAL, ask, "wd:1")
    assert (done["text"], bot.ticket(1).status) == (msg.WITHDRAWN.format(code="#1"), "closed")


async def test_zalo_new_user_registers_by_a_former_ward_name_and_rates_by_typing_five(zbot: ZaloBot) -> None:
    assert (await zbot.zsay("dang ky"))[0] == msg.REG_ASK_COMMUNE
    (confirm,) = await zbot.zsay("coc leu")
    assert confirm.startswith(msg.REG_CONFIRM_FORMER.format(former="Phường Cốc Lếu", commune="Phường Lào Cai"))
    assert confirm.endswith(f"Gõ 1: {msg.BTN_YES}\nGõ 2: {msg.BTN_NO_RETYPE}")
    assert await zbot.zsay("1") == [msg.REG_ASK_NAME.format(commune="Phường Lào Cai")]
    await zbot.zsay("Lò Văn Minh")
    (phone,) = await zbot.zsay("Công chức Văn phòng")
    assert phone == msg.REG_ASK_PHONE and "bấm" not in phone  # Zalo Bot has no share-phone button
    await zbot.zsay("0912345678")
    await zbot.zsay("/baoloi")
    await zbot.zsay("2")  # one-door system
    (photos,) = await zbot.zsay("Không đăng nhập được một cửa")
    assert photos.startswith(msg.ESC_ASK_PHOTOS.format(pick=msg.PICK["numbered"].format(label="Xong")))
    assert "bấm" not in photos
    await zbot.zsay("1")
    await zbot.zsay("1")
    (opened,) = await zbot.zsay("1")
    assert opened.startswith("Đã gửi yêu cầu #1")
    card = (await zbot.tg.wait_sent(1, GROUP))[-1]
    zbot.tg.user_press(ZTECH, card, "claim:1", chat_id=GROUP)
    zbot.tg.user_text(ZTECH, "/cho 1 Anh gửi mã hồ sơ", chat_id=GROUP, chat_type="supergroup")
    await zbot.zb.wait_for(lambda z: any("gửi mã hồ sơ" in m["text"] for m in z.sent(USER)))
    (routed,) = await zbot.zsay(ANSWER)
    assert routed.startswith(msg.ADDED_TO_TICKET.format(code="#1"))
    await zbot.tg.wait_for(lambda t: any(ANSWER in m["text"] for m in t.sent(GROUP) + t.sent(ZTECH)))
    zbot.tg.user_text(ZTECH, "/xong 1 Đã mở khóa tài khoản", chat_id=GROUP, chat_type="supergroup")
    await zbot.zb.wait_for(lambda z: any("Đã mở khóa tài khoản" in m["text"] for m in z.sent(USER)))
    (rating,) = await zbot.zsay("1")  # "Đã khắc phục"
    assert rating.endswith(f"Gõ 5: {msg.RATING_LABELS[5]}")  # the number typed is the stars given
    assert await zbot.zsay("5") == [msg.THANKS_FOR_RATING.format(code="#1")]
    assert zbot.services is not None
    assert zbot.services.tickets.get(1).rating == 5
    # Closed and rated: the next question is a question, not "#1 cannot be changed".
    (next_question,) = await zbot.zsay(TOKEN_QUESTION)
    assert next_question.startswith(zbot.services.faq.kb.entry(
        zbot.services.db["query_log"].get(1)["entry_id"]).answer.rstrip())


async def test_zalo_labels_are_whole_and_set_apart_from_numbered_steps(zbot: ZaloBot) -> None:
    (clarify,) = await zbot.zsay("quên mật khẩu")
    assert zbot.services is not None
    ids = json.loads(zbot.services.db["query_log"].get(1)["candidates"])
    questions = [zbot.services.faq.kb.entry(i).question for i in ids]
    assert clarify.split("\n")[-len(questions) - 1:] == [f"Gõ {n}: {q}" for n, q in enumerate(questions, 1)] + [
        f"Gõ {len(questions) + 1}: {msg.CLARIFY_NONE_OF_THESE}"]
    (answer,) = await zbot.zsay("1")
    steps, choices = answer.split("\n\n" + msg.CHOICES_NUMBERED + "\n")
    assert steps.endswith(msg.ANSWER_FOOTER) and choices.startswith("Gõ 1: ")


def test_terminal_answers_go_into_the_waiting_ticket_and_five_is_five_stars(tmp_path: Path) -> None:
    config = str(config_file(tmp_path))
    script = "\n".join([
        "/baoloi", "Bát Xát", "Nguyễn Văn An", "Văn phòng", "0912345678",
        "2", "Không đăng nhập được một cửa", "1", "1", "1",
    ]) + "\n"
    assert "Đã gửi yêu cầu #1" in run("chat", "--config", config, stdin=script).stdout
    assert run("tickets", "--config", config, "claim", "1").returncode == 0
    assert run("tickets", "--config", config, "wait", "1", "Anh", "gửi", "mã", "hồ", "sơ").returncode == 0
    answered = run("chat", "--config", config, stdin=ANSWER + "\n")
    assert "Anh gửi mã hồ sơ" in answered.stdout
    assert f"{msg.ADDED_TO_TICKET.format(code='#1')}\n{msg.CHOICES_NUMBERED}\n  1. {msg.BTN_NEW_QUESTION}" in answered.stdout
    shown = run("tickets", "--config", config, "show", "1").stdout
    assert ANSWER in shown and "Chờ cán bộ bổ sung" not in shown.split("\n")[0]
    assert run("tickets", "--config", config, "resolve", "1", "Đã", "mở", "khóa").returncode == 0
    run("chat", "--config", config, stdin="")  # the resolution notice is shown, with its numbered choices
    rated = run("chat", "--config", config, stdin="1\n5\n")
    assert msg.THANKS_FOR_RATING.format(code="#1") in rated.stdout
    assert "chấm điểm: 5" in run("tickets", "--config", config, "show", "1").stdout


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Console]:
    async for console in make_console(tmp_path, local=True):
        yield console


async def test_web_chat_says_press_has_no_share_phone_and_the_console_transcript_tells_who_spoke(
        web: Console) -> None:
    for text in ("dang ky", "Bát Xát", "Nguyễn Văn An"):
        await web.say(text)
    phone = (await web.say("Văn phòng"))[-1]
    assert phone["text"] == msg.REG_ASK_PHONE  # the web chat has no share-phone button
    await web.say("0912345678")
    await web.say("báo sự cố")
    csrf = await web.csrf()
    await web.client.post("/chat/api/send", data={"csrf": csrf, "action": "sys:motcua",
                                                  "label": "Hệ thống một cửa điện tử"})
    photos = (await web.say("Không đăng nhập được"))[-1]
    assert photos["text"] == msg.ESC_ASK_PHOTOS.format(pick=msg.PICK["buttons"].format(label="Xong"))
    for action in ("step:photos", "urg:normal", "step:send"):
        await web.client.post("/chat/api/send", data={"csrf": await web.csrf(), "action": action})
    await web.worker.run_once()
    await web.sign_in(role="technician")
    page = await (await web.client.get("/console/ticket/1")).text()
    said, bot = (f'<div class="who">{msg.TRANSCRIPT_WHO[d]}</div><div class="text">' for d in ("in", "out"))
    assert said + "Chọn: " in page and bot in page
    assert "[sys:" not in page and "[step:" not in page
