"""Announcements: who gets them, the preview, what became of each message; from the console and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import messages as msg
from bot.desk.announcements import AnnouncementError
from bot.insight.commands import announcements_of
from bot.store.outbox import DeliveryError
from tests.harness import ADMIN, TECH, Bot, config_file, make_config

NOTICE = "Hạn cuối nộp báo cáo số hóa hồ sơ là 15/12."


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    bot = Bot(make_config(tmp_path))
    bot.register("an", commune="Bát Xát", name="Nguyễn Văn An")
    bot.register("binh", commune="Y Tý", name="Giàng A Bình")
    bot.register("chi", commune="Sa Pa", name="Lò Thị Chi")
    bot.say("stranger", "xin chào")  # never registered: not an official yet
    bot.say("binh", "máy tính không nhận usb token, báo không tìm thấy chứng thư số")  # asks about cks
    bot.deliver()
    return bot


def received(bot: Bot, user: str) -> list[str]:
    return [r.text for r in bot.inbox(user) if r.text.startswith("📢")]


def test_everyone_chosen_communes_or_those_who_asked_about_a_system(bot: Bot) -> None:
    board = announcements_of(bot.services)
    admin = bot.person(ADMIN)
    text = msg.ANNOUNCEMENT.format(text=NOTICE)
    first = board.send(NOTICE, board.audience("all"), admin)
    board.send(NOTICE, board.audience("communes", ["xa-y-ty", "phuong-sa-pa"]), admin)
    board.send(NOTICE, board.audience("system", system="cks"), admin)
    assert received(bot, "an") == [text]
    assert received(bot, "binh") == [text, text, text]
    assert received(bot, "chi") == [text, text]
    assert received(bot, "stranger") == received(bot, TECH) == []  # not registered; not an official
    t = board.tally(first)
    assert (t.sent, t.waiting, t.held, t.delivered_after_hold, t.failed) == (3, 0, 0, 0, 0)


def test_the_preview_says_what_and_to_whom_and_bad_requests_are_refused(bot: Bot) -> None:
    board = announcements_of(bot.services)
    preview = board.preview(NOTICE, board.audience("communes", ["xa-bat-xat"]))
    assert (preview.text, [r.commune_id for r in preview.recipients], preview.by_channel) == (
        msg.ANNOUNCEMENT.format(text=NOTICE), ["xa-bat-xat"], {"test": 1})
    for bad in (lambda: board.preview("   ", board.audience("all")),
                lambda: board.preview("x" * 1501, board.audience("all")),
                lambda: board.audience("communes", ["xa-khong-co"]),
                lambda: board.audience("system", system="khong-co"),
                lambda: board.send(NOTICE, board.audience("all"), bot.person(TECH))):
        with pytest.raises(AnnouncementError):
            bad()
    assert bot.services.db["announcements"].count == 0


def test_a_failed_delivery_is_counted_as_failed(bot: Bot) -> None:
    board = announcements_of(bot.services)
    bot.sender.failures.append(DeliveryError("blocked", permanent=True))
    announcement = board.send(NOTICE, board.audience("all"), bot.person(ADMIN))
    bot.deliver()
    t = board.tally(announcement)
    assert (t.sent, t.failed) == (2, 1)


async def test_the_console_previews_then_sends_and_lists_the_counts(tmp_path: Path) -> None:
    from bot.insight.commands import announcements_of as board_of
    from tests.test_console import make_console

    async for console in make_console(tmp_path, local=True):
        s = console.services
        with s.db.atomic():
            official = s.people.identify("test", "an", "an")
            s.people.update(official.id, status="active", commune_id="xa-bat-xat")
        await console.sign_in()
        csrf = await console.csrf("/admin/announcements")
        form = {"csrf": csrf, "text": "Bảo trì <b>một cửa</b>", "kind": "communes", "communes": "xa-bat-xat"}
        preview = await (await console.client.post("/admin/announcements", data=form)).text()
        assert "Sẽ gửi cho <b>1</b> cán bộ: 1 trên test." in preview
        assert "Bảo trì &lt;b&gt;một cửa&lt;/b&gt;" in preview and s.db["announcements"].count == 0
        sent = await console.client.post("/admin/announcements", data={**form, "confirm": "1"}, allow_redirects=False)
        assert sent.status == 302
        page = await (await console.client.get(sent.headers["Location"])).text()
        assert msg.ANNOUNCE_SENT.format(id=1, n=1) in page
        assert '<tr id="announcement-1">' in page and "Xã Bát Xát" in page
        assert board_of(s, writer=False).tally(1).waiting == 1  # queued in the outbox
        bad = await console.client.post("/admin/announcements", data={**form, "communes": "xa-khong-co"})
        assert msg.ANNOUNCE_UNKNOWN_COMMUNES.format(communes="xa-khong-co") in await bad.text()


def test_the_command_line_previews_asks_and_lists(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    run = lambda *args, input=None: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "bot", *args, "--config", str(config)], capture_output=True, text=True,
        input=input, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    nobody = run("announce", NOTICE, "--all", "--yes")
    assert nobody.returncode == 1 and msg.ANNOUNCE_NOBODY in nobody.stderr
    both = run("announce", NOTICE, "--all", "--system", "cks")
    assert both.returncode == 1 and "exactly one of" in both.stderr
    assert run("announce", "--list").stdout == ""
    incidents = run("incidents", "declare", "motcua", "Máy chủ một cửa mất kết nối")
    assert incidents.stdout.strip() == msg.INCIDENT_DECLARED.format(code="S1", n=0)
    assert run("incidents", "list").stdout.startswith("🚨 Sự cố chung S1")
    resolved = run("incidents", "resolve", "1", "Đã chạy lại")
    assert resolved.stdout.strip() == msg.INCIDENT_YOU_RESOLVED.format(code="S1", n=0)
