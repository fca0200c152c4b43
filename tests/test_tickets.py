"""The ticket store: roles, lifecycle, SLA, reloads, and nothing lost across a crash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot import messages as msg
from tests.harness import ADMIN, TECH, TECH2, Bot, make_config


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    bot = Bot(make_config(tmp_path))
    bot.register("an")
    bot.register("binh", commune="Sa Pa", name="Trần Thị Bình")
    return bot


@pytest.mark.parametrize("command", ["/nhan 1", "/traloi 1 xin chào", "/ghichu 1 x", "/xong 1 ok",
                                     "/cho 1", "/mo 1", "/chuyen 1 so-khcn", "/ds", "/xem 1"])
def test_staff_cannot_act_as_a_technician(bot: Bot, command: str) -> None:
    bot.open_ticket("an")
    assert bot.say("binh", command) == [msg.NOT_A_TECHNICIAN]
    ticket = bot.ticket(1)
    assert (ticket.status, ticket.assignee_id) == ("new", None)
    assert [e["kind"] for e in bot.services.tickets.events(1, include_internal=True)] == ["created"]


@pytest.mark.parametrize("action", ["claim:1", "resolve:1", "show:1"])
def test_staff_pressing_a_technician_button_is_refused(bot: Bot, action: str) -> None:
    bot.open_ticket("an")
    assert bot.press("binh", action) == [msg.NOT_A_TECHNICIAN]
    assert bot.ticket(1).assignee_id is None


def test_staff_cannot_read_or_write_into_someone_elses_ticket(bot: Bot) -> None:
    bot.open_ticket("an")
    assert bot.press("binh", "add:1") == [msg.TICKET_NOT_FOUND.format(code="#1")]
    assert bot.press("binh", "withdraw:1") == [msg.TICKET_NOT_FOUND.format(code="#1")]
    assert bot.press("binh", "rate:1:1") == [msg.TICKET_NOT_FOUND.format(code="#1")]


@pytest.mark.parametrize("command", ["/taifaq", "/chuatraloi", "/thongke", "/capquyen test:binh technician"])
def test_admin_commands_need_an_admin(bot: Bot, command: str) -> None:
    assert bot.say(TECH, command) == [msg.NOT_AN_ADMIN]
    assert bot.say("binh", command) == [msg.NOT_A_TECHNICIAN]


def test_a_ticket_claimed_by_one_technician_cannot_be_claimed_by_another(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.press(TECH, "claim:1")
    assert bot.press(TECH2, "claim:1") == [msg.ALREADY_CLAIMED.format(code="#1", name="#1")]
    assert bot.ticket(1).assignee_id == bot.person(TECH).id


def test_internal_note_never_reaches_the_official(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.say(TECH, "/ghichu 1 Lỗi do máy chủ tỉnh, đừng báo cán bộ")
    texts = [r.text for r in bot.inbox("an")]
    assert not any("máy chủ tỉnh" in t for t in texts)
    shown_to_official = bot.engine.desk.show(1, bot.person("an")).text
    assert "máy chủ tỉnh" not in shown_to_official
    assert "máy chủ tỉnh" in bot.engine.desk.show(1, bot.person(TECH)).text


def test_technician_reply_by_reply_to_card_is_relayed(bot: Bot) -> None:
    bot.open_ticket("an")
    assert bot.say(TECH, "Anh gửi giúp ảnh lỗi", about_ticket=1, in_group=True) == [
        msg.REPLY_RELAYED.format(code="#1")]
    assert bot.inbox("an")[-1].text == msg.TECHNICIAN_SAYS.format(code="#1", text="Anh gửi giúp ảnh lỗi")
    assert bot.say(TECH, "trao đổi nội bộ trong nhóm", in_group=True) == []


def test_official_still_broken_reopens_and_notifies_the_assignee(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.press(TECH, "claim:1")
    bot.say(TECH, "/xong 1 Đã cấp lại mật khẩu")
    assert bot.press("an", "broken:1") == [msg.REOPENED_BY_YOU.format(code="#1")]
    assert bot.ticket(1).status == "assigned"
    assert bot.inbox(TECH)[-1].text == msg.REOPENED_NOTICE.format(code="#1", text=msg.STILL_BROKEN_EVENT)
    assert bot.say("an", "Vẫn báo sai mật khẩu") == [msg.ADDED_TO_TICKET.format(code="#1")]


def test_technician_can_reopen_a_closed_ticket(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.say(TECH, "/xong 1 Xong")
    bot.press("an", "fixed:1")
    assert bot.ticket(1).status == "closed"
    assert bot.say(TECH, "/mo 1 Còn lỗi đồng bộ") == [msg.YOU_REOPENED.format(code="#1")]
    assert bot.ticket(1).status == "assigned"
    assert bot.inbox("an")[-1].text == msg.REOPENED_FOR_YOU.format(code="#1")


def test_waiting_for_user_returns_to_assigned_when_the_official_writes(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.press(TECH, "claim:1")
    bot.say(TECH, "/cho 1 Gửi ảnh màn hình lỗi")
    assert bot.ticket(1).status == "waiting_user"
    bot.press("an", "add:1")
    bot.say("an", "", photos=("screen",))
    assert bot.ticket(1).status == "assigned"


def test_transfer_moves_the_ticket_to_another_queue_unassigned(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.press(TECH, "claim:1")
    assert bot.say(TECH, "/chuyen 1 so-tu-phap") == [msg.TRANSFERRED.format(code="#1", queue="so-tu-phap")]
    ticket = bot.ticket(1)
    assert (ticket.queue_id, ticket.assignee_id, ticket.status) == ("so-tu-phap", None, "new")
    assert bot.say(TECH, "/chuyen 1 khong-co")[0].startswith(msg.UNKNOWN_QUEUE.split("\"")[0])


def test_bad_command_arguments_get_the_usage(bot: Bot) -> None:
    assert bot.say(TECH, "/traloi") == [msg.COMMAND_USAGE["reply"]]
    assert bot.say(TECH, "/nhan abc") == [msg.COMMAND_USAGE["claim"]]
    assert bot.say(TECH, "/nhan 99") == [msg.TICKET_NOT_FOUND.format(code="#99")]


def test_sla_reminds_the_queue_once_then_escalates_to_admins(bot: Bot) -> None:
    bot.open_ticket("an")  # Monday 08:00, normal: first response within 4 working hours
    bot.clock.advance(hours=3)  # 11:00
    assert bot.services.tickets.tick() == 0
    bot.clock.advance(hours=3, minutes=1)  # 14:01 = 4h01 of working time (lunch excluded)
    assert bot.services.tickets.tick() == 1
    assert bot.services.tickets.tick() == 0
    cards = [r.text for r in bot.inbox(ADMIN) if r.key == "ticket:1"]
    assert cards[0].endswith(msg.SLA_DUE.format(what=msg.SLA_DUE_RESPONSE, when="14:00 24/11"))
    assert cards[-1].endswith(msg.SLA_LATE.format(what=msg.SLA_DUE_RESPONSE, when="14:00 24/11"))
    reminders = [r.text for r in bot.inbox(ADMIN) if r.text.startswith("⏰ #")]
    assert reminders == [msg.SLA_REMINDER.format(code="#1", hours=4.0, what=msg.SLA_WHAT["response"], target=4.0)]
    bot.clock.advance(days=1)  # Tuesday 14:01: 11.5h of working time, past twice the target
    assert bot.services.tickets.tick() == 1
    assert [r.text for r in bot.inbox(ADMIN) if r.text.startswith("🚨")] == [
        msg.SLA_ESCALATION.format(code="#1", hours=11.5, what=msg.SLA_WHAT["response"], target=4.0)]
    assert bot.services.tickets.tick() == 0


def test_sla_counts_working_hours_only(bot: Bot) -> None:
    bot.clock.advance(hours=9)  # Monday 17:00, closed
    bot.open_ticket("an")
    bot.clock.advance(hours=14)  # Tuesday 07:00: still no working time elapsed
    assert bot.services.tickets.tick() == 0


def test_resolved_tickets_close_by_themselves(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.say(TECH, "/xong 1 Đã xử lý")
    bot.clock.advance(hours=71)
    bot.services.tickets.tick()
    assert bot.ticket(1).status == "resolved"
    bot.clock.advance(hours=2)
    bot.services.tickets.tick()
    assert bot.ticket(1).status == "closed"
    assert bot.inbox("an")[-1].text == msg.AUTO_CLOSED.format(code="#1")


def test_a_crash_before_delivery_delivers_exactly_once_after_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = Bot(config)
    first.register("an")
    first.open_ticket("an")
    first.say(TECH, "/traloi 1 Anh thử lại nhé")
    pending = [r for r in first.outbox_rows() if r["status"] == "pending"]
    assert pending  # nothing was delivered: the process "crashes" here
    first.services.db.close()

    second = Bot(config, first.clock)
    assert second.deliver() == len(pending)
    assert second.deliver() == 0
    relayed = [r.text for r in second.sender.sent["an"] if r.text.startswith("💬")]
    assert relayed == [msg.TECHNICIAN_SAYS.format(code="#1", text="Anh thử lại nhé")]


def test_a_failed_send_is_retried_with_backoff_and_keeps_order(bot: Bot) -> None:
    from bot.store.outbox import DeliveryError

    bot.deliver()
    bot.sender.failures = [DeliveryError("network down")]
    bot.say("an", "xin chào")
    bot.say("an", "cảm ơn")
    assert bot.deliver() == 0  # first failed; the second must not overtake it
    assert bot.sender.sent["an"][-1].text != msg.SMALLTALK_THANKS
    bot.clock.advance(seconds=6)
    assert bot.deliver() == 2
    assert [r.text for r in bot.sender.sent["an"][-2:]] == [msg.SMALLTALK_HELLO, msg.SMALLTALK_THANKS]


def test_a_permanent_failure_is_not_retried(bot: Bot) -> None:
    from bot.store.outbox import DeliveryError

    bot.deliver()
    bot.sender.failures = [DeliveryError("blocked by user", permanent=True)]
    bot.say("an", "xin chào")
    assert bot.deliver() == 0
    bot.clock.advance(hours=2)
    assert bot.deliver() == 0
    assert bot.outbox_rows()[-1]["status"] == "failed"
    assert bot.person("an").unreachable is True
    bot.say("an", "xin chào")  # writing again makes them reachable again
    assert bot.person("an").unreachable is False


def test_reload_with_a_broken_faq_keeps_the_old_one(tmp_path: Path) -> None:
    import dataclasses

    from tests.harness import REPO

    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    bot = Bot(dataclasses.replace(make_config(tmp_path), knowledge_dir=knowledge))
    question = "máy tính không nhận usb token, báo không tìm thấy chứng thư số"
    before = bot.send("an", question)[0].text
    faq = knowledge / "national" / "faq" / "cks.yaml"
    good = faq.read_text(encoding="utf-8")
    faq.write_text(good.replace("    answer: |", "    answer: [", 1), encoding="utf-8")
    refused = bot.say(ADMIN, "/taifaq")[0]
    assert refused.startswith(msg.RELOAD_REFUSED.split("\n")[0])
    assert f"{faq}:" in refused and "YAML syntax error" in refused
    assert bot.send("an", question)[0].text == before
    faq.write_text(good.replace("báo không tìm thấy chứng thư số", "báo không tìm thấy chứng thư số (mới)"),
                   encoding="utf-8")
    entries = len(bot.services.faq.kb.entries)
    assert bot.say(ADMIN, "/taifaq")[0].startswith(msg.RELOADED.format(entries=entries))


def test_unanswered_questions_are_listed_for_the_admin(bot: Bot) -> None:
    bot.say("an", "giá lúa hôm nay")
    bot.say("binh", "giá lúa hôm nay")
    reply = bot.send("an", "máy tính không nhận usb token, báo không tìm thấy chứng thư số")[0]
    bot.send("an", action=reply.choices[1].action)  # "not right"
    lines = bot.say(ADMIN, "/chuatraloi")[0].splitlines()
    assert lines[0] == msg.UNANSWERED_TITLE
    assert lines[1] == msg.UNANSWERED_LINE.format(n=2, query="giá lúa hôm nay", why=msg.FEEDBACK_LABELS["none"])
    assert "not" not in lines[2] and msg.FEEDBACK_LABELS["not_right"] in lines[2]


def test_admin_grants_and_revokes_the_technician_role(bot: Bot) -> None:
    assert bot.say(ADMIN, "/capquyen test:binh technician") == [
        msg.ROLE_SET.format(ref="test:binh", role=msg.ROLE_LABELS["technician"])]
    bot.open_ticket("an")
    assert bot.press("binh", "claim:1") == [msg.YOU_CLAIMED.format(code="#1")]
    bot.say(ADMIN, "/thuhoi test:binh")
    assert bot.say("binh", "/nhan 1") == [msg.NOT_A_TECHNICIAN]
    assert bot.say(ADMIN, "/thuhoi test:admin1") == [msg.CANNOT_REVOKE_SELF]


def test_stats_count_tickets_and_questions(bot: Bot) -> None:
    bot.open_ticket("an")
    bot.say("an", "giá lúa hôm nay")
    text = bot.say(ADMIN, "/thongke")[0]
    assert "• Yêu cầu: 1 (Mới 1)" in text
    assert "• Câu hỏi: 1; 30 ngày qua trả lời được 0/1 (0%), cách tính như trang Quản trị" in text


def stored(bot: Bot, ticket_id: int) -> tuple[str | None, str | None]:
    row = bot.services.db.execute("select sla_due_at, deadline_at from tickets where id = ?", [ticket_id]).fetchone()
    return row[0], row[1]


def test_each_ticket_keeps_its_next_reminder_and_its_deadline_as_instants(bot: Bot) -> None:
    bot.open_ticket("an")  # Monday 24 Nov 08:00 (01:00 UTC): reply due 14:00, reminder then
    assert stored(bot, 1) == ("2026-11-24T07:00:00+00:00", "2026-11-24T07:00:00+00:00")
    bot.clock.advance(hours=6, minutes=1)
    assert bot.services.tickets.tick() == 1  # reminded: next comes the escalation at 2 x 4 h
    assert stored(bot, 1) == ("2026-11-25T01:30:00+00:00", "2026-11-24T07:00:00+00:00")
    bot.say(TECH, "/nhan 1")  # first response: now the 16 h resolution target runs
    assert stored(bot, 1) == ("2026-11-26T02:00:00+00:00", "2026-11-26T02:00:00+00:00")
    bot.say(TECH, "/cho 1 cần ảnh chụp màn hình")
    assert stored(bot, 1) == (None, None)  # waiting for the official stops the clock


def test_the_timer_reads_only_the_tickets_that_are_due(bot: Bot) -> None:
    for _ in range(3):
        bot.open_ticket("an")
    bot.clock.advance(hours=6, minutes=1)
    bot.services.tickets.tick()
    read: list[str] = []
    bot.services.db.conn.set_trace_callback(read.append)
    try:
        assert bot.services.tickets.tick() == 0
    finally:
        bot.services.db.conn.set_trace_callback(None)
    plan = bot.services.db.execute(
        "explain query plan select * from tickets where status in ('new', 'assigned') and sla_due_at <= ?",
        ["2026-11-24T08:00:00+00:00"]).fetchall()
    selects = [sql for sql in read if sql.startswith("select")]
    assert selects == [  # no ticket read one by one, none walked day by day
        "select * from tickets indexed by tickets_status_resolved where status = 'resolved' "
        "and resolved_at <= '2026-11-21T07:01:00+00:00'",
        "select * from tickets indexed by tickets_status_sla_due where status in ('new','assigned') "
        "and sla_due_at <= '2026-11-24T07:01:00+00:00' order by id"]
    assert "USING INDEX tickets_status_sla_due" in str(plan)
