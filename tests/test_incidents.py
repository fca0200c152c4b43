"""Shared outages: reports that should and should not be grouped, and an incident's whole life."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import messages as msg
from tests.harness import ADMIN, TECH, Bot, make_config

OFFICIALS = {"an": "Bát Xát", "binh": "Y Tý", "chi": "Sa Pa", "dung": "Mường Hum", "em": "Bắc Hà"}
OUTAGE = ["Không vào được một cửa, báo lỗi 502 Bad Gateway", "mot cua bao loi 502 ko dang nhap dc",
          "Hệ thống một cửa không truy cập được, lỗi 502", "vao mot cua bi loi 502 bad gateway"]


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    bot = Bot(make_config(tmp_path))
    for user, commune in OFFICIALS.items():
        bot.register(user, commune=commune, name=f"Cán bộ {user}")
    bot.deliver()
    return bot


def report(bot: Bot, user: str, description: str, system: str = "motcua") -> int:
    """/baoloi through to sending; past the outage notice ("Báo vấn đề khác") if one is shown."""
    bot.say(user, "/baoloi")
    if bot.press(user, f"sys:{system}")[0].startswith("⚠️"):
        bot.press(user, f"sys:{system}")
    bot.say(user, description)
    bot.press(user, "step:photos")
    bot.press(user, "urg:normal")
    bot.press(user, "step:send")
    return max(t.id for t in bot.services.tickets.of_user(bot.person(user).id))


def motcua_question(bot: Bot) -> str:
    """A question the FAQ answers with a one-door entry."""
    return bot.services.faq.kb.entry("motcua-quen-mat-khau").question


def cards(bot: Bot) -> list[str]:
    """Keys of the cards the technicians' chat received (the admins' here: no queue chat is set)."""
    return [r.key for r in bot.inbox(ADMIN) if r.key]


@pytest.mark.parametrize(("a", "b"), [
    ("Không vào được một cửa, báo lỗi 502 Bad Gateway", "mot cua bao loi 502 ko dang nhap dc"),
    ("Hệ thống một cửa không truy cập được, lỗi 502", "vao mot cua bi loi 502 bad gateway"),
    ("một cửa không đăng nhập được", "ko dang nhap dc mot cua"),
])
def test_reports_worded_differently_about_one_failure_are_alike(bot: Bot, a: str, b: str) -> None:
    assert bot.services.engine.incidents.similar(a, b, "motcua")


@pytest.mark.parametrize(("a", "b"), [
    ("Không vào được một cửa, báo lỗi 502 Bad Gateway", "Máy in phiếu hẹn ở bộ phận một cửa in bị lệch lề"),
    ("mot cua bao loi 502", "Không đồng bộ hồ sơ một cửa lên Cổng dịch vụ công"),
    ("một cửa", "một cửa lỗi 502"),  # naming only the system says nothing about the problem
])
def test_different_problems_on_one_system_are_not_alike(bot: Bot, a: str, b: str) -> None:
    assert not bot.services.engine.incidents.similar(a, b, "motcua")


def test_three_communes_reporting_alike_within_the_hour_open_one_incident(bot: Bot) -> None:
    first = bot.open_ticket("an", OUTAGE[0], system="motcua")
    bot.clock.advance(minutes=20)
    second = bot.open_ticket("binh", OUTAGE[1], system="motcua")
    bot.clock.advance(minutes=20)
    third = bot.open_ticket("chi", OUTAGE[2], system="motcua")
    incidents = bot.services.engine.incidents
    incident = incidents.of_ticket(third)
    assert incident is not None and incident.code == "S1"
    assert [t.id for t in incidents.linked(1)] == [first, second, third]
    # Two ticket cards came before anyone knew; then one incident card, not a third ticket card.
    assert cards(bot) == [f"ticket:{first}", f"ticket:{second}", "incident:1"]
    card = [r.text for r in bot.inbox(ADMIN) if r.key == "incident:1"][-1]
    assert "3 xã/phường: Xã Bát Xát, Xã Y Tý, Phường Sa Pa" in card
    # Each reporter is told it is a known problem being handled.
    linked = msg.INCIDENT_LINKED.format(code=f"#{first}", system=bot.services.tickets.system_name("motcua"),
                                        since="08:40", communes=3)
    assert linked in [r.text for r in bot.inbox("an")]
    assert any(f"Yêu cầu #{second} của anh/chị thuộc sự cố chung" in r.text for r in bot.inbox("binh"))
    assert any(f"Yêu cầu #{third} của anh/chị thuộc sự cố chung" in r.text for r in bot.inbox("chi"))
    # A fourth commune's report joins: the same card grows, no new card.
    fourth = report(bot, "dung", OUTAGE[3])
    assert incidents.of_ticket(fourth) == incident
    assert cards(bot) == [f"ticket:{first}", f"ticket:{second}", "incident:1", "incident:1"]
    assert "4 xã/phường" in [r.text for r in bot.inbox(ADMIN) if r.key == "incident:1"][-1]


def test_reports_that_must_not_be_grouped(bot: Bot) -> None:
    incidents = bot.services.engine.incidents
    # The same commune three times is one commune.
    for _ in range(3):
        bot.open_ticket("an", OUTAGE[0], system="motcua")
    # Different problems on the same system.
    bot.open_ticket("binh", "Máy in phiếu hẹn ở bộ phận một cửa in bị lệch lề", system="motcua")
    # The same words about another system.
    bot.open_ticket("chi", "Không vào được, báo lỗi 502 Bad Gateway", system="dvc")
    # Alike, but more than an hour apart.
    bot.clock.advance(minutes=61)
    bot.open_ticket("dung", OUTAGE[1], system="motcua")
    assert incidents.recent() == []
    assert all(k.startswith("ticket:") for k in cards(bot))


def test_while_it_lasts_questions_and_reports_about_the_system_get_the_notice_first(bot: Bot) -> None:
    for user, words in zip(("an", "binh", "chi"), OUTAGE, strict=False):
        bot.open_ticket(user, words, system="motcua")
    notice = msg.INCIDENT_NOTICE.format(system=bot.services.tickets.system_name("motcua"), since="08:00", n=3)
    # A question about the system: the notice, then the answer as usual.
    replies = bot.send("dung", motcua_question(bot))
    assert replies[0].text == notice
    assert [c.action for c in replies[0].choices] == ["inc:join:1", "menu:report"]
    assert replies[1].text.endswith(msg.ANSWER_FOOTER)
    # A question about another system: no notice.
    assert bot.send("dung", "máy tính không nhận usb token")[0].text != notice
    # A report on the system: the notice first; "something different" goes on with the report.
    bot.say("dung", "/baoloi")
    first = bot.send("dung", action="sys:motcua")
    assert first[0].text == notice
    assert [c.action for c in first[0].choices] == ["inc:join:1", "sys:motcua"]
    assert bot.press("dung", "sys:motcua") == [msg.ESC_ASK_DESCRIPTION]
    bot.say("dung", "/huy")
    # "Xã tôi cũng bị": one press, a ticket linked to the outage, no card of its own.
    before = cards(bot)
    joined = bot.press("em", "inc:join:1")
    ticket = max(t.id for t in bot.services.tickets.of_user(bot.person("em").id))
    assert joined == [msg.INCIDENT_JOINED.format(code=f"#{ticket}", incident="S1")]
    assert bot.services.engine.incidents.of_ticket(ticket).id == 1
    assert cards(bot) == before + ["incident:1"]


def test_resolving_the_incident_resolves_every_ticket_and_each_official_may_still_say_broken(bot: Bot) -> None:
    tickets = [bot.open_ticket(u, w, system="motcua") for u, w in zip(("an", "binh", "chi"), OUTAGE, strict=False)]
    other = report(bot, "dung", "Máy in phiếu hẹn ở bộ phận một cửa in bị lệch lề")
    done = bot.say(TECH, "/xongsuco 1 Máy chủ một cửa đã hoạt động lại")
    assert done == [msg.INCIDENT_YOU_RESOLVED.format(code="S1", n=3)]
    assert [bot.ticket(t).status for t in tickets] == ["resolved"] * 3
    assert bot.ticket(other).status == "new"  # not part of it
    for user, t in zip(("an", "binh", "chi"), tickets, strict=True):
        resolved = [r for r in bot.inbox(user) if r.text.startswith(msg.RESOLVED_NOTICE.split("{")[0])]
        assert len(resolved) == 1
        assert [c.action for c in resolved[0].choices] == [f"fixed:{t}", f"broken:{t}"]
    bot.press("binh", f"broken:{tickets[1]}")
    assert [bot.ticket(t).status for t in tickets] == ["resolved", "assigned", "resolved"]
    assert "✅ Đã khắc phục: Máy chủ một cửa đã hoạt động lại" in [
        r.text for r in bot.inbox(ADMIN) if r.key == "incident:1"][-1]
    # Over: questions about the system are answered without the notice again.
    assert bot.send("dung", motcua_question(bot))[0].text.endswith(msg.ANSWER_FOOTER)
    assert bot.say(TECH, "/xongsuco 1 lại") == [msg.INCIDENT_NOT_OPEN.format(code="S1")]


def test_a_technician_declares_an_incident_and_open_reports_on_the_system_join_it(bot: Bot) -> None:
    early = bot.open_ticket("an", "Không vào được một cửa", system="motcua")
    unrelated = bot.open_ticket("binh", "Quên mật khẩu VNeID", system="vneid")
    declared = bot.say(TECH, "/sucochung motcua Máy chủ một cửa mất kết nối")
    assert declared == [msg.INCIDENT_DECLARED.format(code="S1", n=1)]
    incidents = bot.services.engine.incidents
    assert incidents.of_ticket(early).id == 1 and incidents.of_ticket(unrelated) is None
    assert any(f"Yêu cầu #{early} của anh/chị thuộc sự cố chung" in r.text for r in bot.inbox("an"))
    assert bot.say(TECH, "/sucochung motcua lại") == [msg.INCIDENT_ALREADY_OPEN.format(code="S1")]
    assert bot.say(TECH, "/sucochung") == [msg.INCIDENT_DECLARE_USAGE]
    assert bot.say("an", "/sucochung motcua x") == [msg.NOT_A_TECHNICIAN]


async def test_the_console_declares_lists_and_resolves_an_incident(tmp_path: Path) -> None:
    from tests.test_console import make_console

    async for console in make_console(tmp_path, local=True):
        client = console.client
        await console.sign_in(role="technician")
        csrf = await console.csrf("/console/incidents")
        declared = await client.post("/console/incidents/declare",
                                     data={"csrf": csrf, "system": "dvc", "text": "Cổng DVC <b>bảo trì</b>"},
                                     allow_redirects=False)
        assert declared.status == 302
        page = await (await client.get(declared.headers["Location"])).text()
        assert msg.INCIDENT_DECLARED.format(code="S1", n=0) in page
        assert "Cổng DVC &lt;b&gt;bảo trì&lt;/b&gt;" in page and "<b>bảo trì" not in page
        assert 'id="incident-1"' in page and 'action="/console/incidents/1/resolve"' in page
        forged = await client.post("/console/incidents/1/resolve", data={"csrf": "x", "note": "xong"})
        assert forged.status == 403
        resolved = await client.post("/console/incidents/1/resolve", data={"csrf": csrf, "note": "Đã xong"},
                                     allow_redirects=False)
        page = await (await client.get(resolved.headers["Location"])).text()
        assert msg.INCIDENT_YOU_RESOLVED.format(code="S1", n=0) in page
        assert "✅ Đã khắc phục: Đã xong" in page and 'action="/console/incidents/1/resolve"' not in page


async def test_the_incidents_page_needs_a_technician_and_the_report_an_admin(tmp_path: Path) -> None:
    from tests.test_console import make_console

    async for console in make_console(tmp_path, local=False):
        response = await console.client.get("/console/incidents", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"].startswith("/login")
        report = await console.client.get("/admin/report?month=2026-11", allow_redirects=False)
        assert report.status == 302 and report.headers["Location"].startswith("/login")
        await console.sign_in(username="ktv1", role="technician")
        assert (await console.client.get("/console/incidents")).status == 200
        assert (await console.client.get("/admin/report?month=2026-11")).status == 403
