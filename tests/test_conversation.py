"""Scenarios through the core's public API, on a real SQLite file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot import messages as msg
from tests.harness import ADMIN, TECH, TECH2, Bot, make_config


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    return Bot(make_config(tmp_path))


def test_full_journey_from_question_to_rated_closure(bot: Bot) -> None:
    # An answer that is not right leads to a ticket, through registration.
    answer = bot.send("an", "máy tính không nhận usb token, báo không tìm thấy chứng thư số")[0]
    assert [c.label for c in answer.choices] == [msg.CHOICE_SOLVED, msg.CHOICE_NOT_RIGHT, msg.CHOICE_TECHNICIAN]
    escalate = answer.choices[2].action
    assert bot.press("an", escalate) == [msg.NEED_REGISTRATION_FIRST, msg.REG_ASK_COMMUNE]
    assert bot.say("an", "bat xat") == [msg.REG_ASK_NAME.format(commune="Xã Bát Xát")]
    assert bot.say("an", "Nguyễn Văn An") == [msg.REG_ASK_TITLE]
    assert bot.say("an", "Công chức Văn phòng") == [msg.REG_ASK_PHONE]
    replies = bot.send("an", "", contact_phone="+84912345678")
    assert replies[0].text == msg.REGISTERED.format(name="Nguyễn Văn An", commune="Xã Bát Xát")
    # The system is preselected from the answer that was shown.
    assert replies[1].choices[0].action == "sys:cks"
    description = bot.send("an", action="sys:cks")[0]
    assert "không tìm thấy chứng thư số" in description.text
    assert bot.press("an", "step:keep") == [msg.ESC_ASK_PHOTOS.format(pick=msg.PICK["both"].format(label="Xong"))]
    assert bot.say("an", "", photos=("photo-1",)) == [msg.ESC_PHOTO_RECEIVED.format(n=1)]
    assert bot.press("an", "step:photos") == [msg.ESC_ASK_URGENCY]
    bot.press("an", "urg:urgent")
    opened = bot.press("an", "step:send")[0]
    assert opened.startswith(msg.TICKET_OPENED.format(code="#1", system=bot.services.tickets.system_name("cks")))

    ticket = bot.ticket(1)
    assert (ticket.status, ticket.urgency, ticket.system_id, ticket.commune_id) == ("new", "urgent", "cks", "xa-bat-xat")
    assert [a["file_ref"] for a in bot.services.tickets.attachments(1)] == ["photo-1"]
    assert "máy tính không nhận usb token" in str(bot.services.tickets.transcript(1))
    # The queue (no chat configured: the admin) got the card with a claim button.
    card = bot.inbox(ADMIN)[-1]
    assert card.key == "ticket:1" and card.choices[0].action == "claim:1" and card.photos == ("photo-1",)

    # A technician claims and replies; the official reads the reply where they wrote.
    assert bot.press(TECH, "claim:1") == [msg.YOU_CLAIMED.format(code="#1")]
    assert bot.say(TECH, "/traloi 1 Anh cắm token sang cổng USB phía sau máy") == [msg.REPLY_RELAYED.format(code="#1")]
    relayed = bot.inbox("an")[-1]
    assert relayed.text == msg.TECHNICIAN_SAYS.format(code="#1", text="Anh cắm token sang cổng USB phía sau máy")
    # The official answers into the ticket, and is told where it went.
    assert bot.press("an", relayed.choices[0].action) == [
        msg.WRITE_INTO_TICKET.format(code="#1", pick=msg.PICK["both"].format(label="Xong"))]
    assert bot.say("an", "Đã thử, vẫn không nhận") == [msg.ADDED_TO_TICKET.format(code="#1")]
    assert bot.inbox(TECH)[-1].text == msg.FROM_OFFICIAL.format(code="#1", text="Đã thử, vẫn không nhận")
    bot.press("an", "done:1")

    # Resolved, confirmed, rated: closed with the rating.
    bot.say(TECH, "/xong 1 Cài lại driver token")
    resolved = bot.inbox("an")[-1]
    assert [c.action for c in resolved.choices] == ["fixed:1", "broken:1"]
    rating = bot.send("an", action="fixed:1")[0]
    assert [c.action for c in rating.choices] == ["rate:1:1", "rate:1:2", "rate:1:3", "rate:1:4", "rate:1:5"]
    assert bot.press("an", "rate:1:5") == [msg.THANKS_FOR_RATING.format(code="#1")]
    ticket = bot.ticket(1)
    assert (ticket.status, ticket.rating) == ("closed", 5)
    assert ticket.first_response_at is not None and ticket.resolved_at is not None
    kinds = [e["kind"] for e in bot.services.tickets.events(1, include_internal=True)]
    assert kinds == ["created", "assign", "reply", "message", "status", "status", "rating"]


def test_clarify_offers_choices_and_a_pick_gives_the_answer(bot: Bot) -> None:
    reply = bot.send("an", "quên mật khẩu")[0]
    assert reply.text == msg.CLARIFY_INTRO
    assert reply.choices[-1].label == msg.CLARIFY_NONE_OF_THESE
    assert 3 <= len(reply.choices) <= 4
    answer = bot.send("an", "1")[0]  # typing the number picks like the button
    first = bot.services.faq.kb.entry(answer_entry := bot.services.db["query_log"].get(1)["feedback"].split(":")[1])
    assert answer_entry and answer.text.startswith(bot.services.faq.kb.render(first.answer).rstrip())


def test_a_likely_answer_carries_alternatives_and_one_can_be_picked(bot: Bot) -> None:
    matcher = bot.services.faq.matcher
    assert matcher.decider is not None  # the shipped knowledge base has a fitted decision
    # Every answer is "likely but not certain" with these thresholds.
    matcher.decider = dataclasses.replace(matcher.decider, answer_at=0.0, certain_at=1.0)
    kb = bot.services.faq.kb
    reply = bot.send("an", "quên mật khẩu phần mềm một cửa")[0]
    answer = kb.render(kb.entry("motcua-quen-mat-khau").answer).rstrip()
    assert reply.text == answer + "\n\n" + msg.ANSWER_FOOTER + "\n\n" + msg.ANSWER_ALTERNATIVES
    result = matcher.match("quên mật khẩu phần mềm một cửa")
    others = [kb.entry(c.entry_id) for c in result.alternatives]
    assert 1 <= len(others) <= 2 and "motcua-quen-mat-khau" not in [e.id for e in others]
    assert [c.label for c in reply.choices] == [e.question for e in others] + [  # whole: no button width
        msg.CHOICE_SOLVED, msg.CHOICE_NOT_RIGHT, msg.CHOICE_TECHNICIAN]
    picked = bot.send("an", action=reply.choices[0].action)[0]
    assert picked.text.startswith(kb.render(others[0].answer).rstrip())
    assert bot.services.db["query_log"].get(1)["feedback"] == f"picked:{others[0].id}"


def test_none_of_these_offers_a_ticket(bot: Bot) -> None:
    reply = bot.send("an", "quên mật khẩu")[0]
    sorry = bot.send("an", action=reply.choices[-1].action)[0]
    assert sorry.text == msg.SORRY_NOT_RIGHT
    assert sorry.choices[0].action.startswith("esc:")
    assert bot.services.db["query_log"].get(1)["feedback"] == "none_of_these"


def test_nothing_found_says_so_and_offers_a_ticket(bot: Bot) -> None:
    reply = bot.send("an", "giá lúa hôm nay bao nhiêu")[0]
    assert reply.text == msg.NO_MATCH
    assert [c.label for c in reply.choices] == [msg.BTN_REPORT, msg.BTN_ASK_AGAIN]


def test_a_question_from_a_registered_official_costs_one_statement_per_thing_stored_or_read(bot: Bot) -> None:
    bot.register("an")
    bot.clock.advance(minutes=1)
    statements: list[str] = []
    bot.engine.db.conn.set_trace_callback(statements.append)
    assert bot.say("an", "Quên mật khẩu VNeID thì làm thế nào?")[0].startswith("1. Trên ứng dụng VNeID")
    bot.engine.db.conn.set_trace_callback(None)
    assert [" ".join(s.split()[:4]) for s in statements] == [
        "BEGIN IMMEDIATE",
        "insert or ignore into",  # processed_updates: each update once
        "select users.*, identities.last_seen_at as",  # who wrote, in one read
        "update identities set last_seen_at",
        "select state, data from",  # conversations
        'insert into "messages" ("user_id",',  # the question
        "select * from tickets",  # open tickets it may answer
        'insert into "query_log" ("at",', 'insert into "query_log" ("at",', 'insert into "query_log" ("at",',  # + 2 triggers
        "select * from incidents",  # an outage on the system the answer is about
        'insert into "conversations" ("channel",',
        "insert into outbox (created_at,",
        'insert into "messages" ("user_id",',  # the answer
        "COMMIT",
    ]


def test_identifying_someone_again_keeps_where_and_when_they_were_last_seen_up_to_date(bot: Bot) -> None:
    people, db = bot.services.people, bot.services.db
    seen = "select chat_ref, last_seen_at from identities where channel = 'test' and user_ref = 'an'"
    with db.atomic():
        first = people.identify("test", "an", "chat-1")
        assert people.identify("test", "an", "chat-1") == first  # the same second, the same chat
        assert db.execute(seen).fetchone() == ("chat-1", "2026-11-24T01:00:00+00:00")
        people.identify("test", "an", "chat-2")  # the same second, another private chat
        assert db.execute(seen).fetchone() == ("chat-2", "2026-11-24T01:00:00+00:00")
    bot.clock.advance(seconds=1)
    with db.atomic():
        assert people.identify("test", "an", "group-9", private=False) == first  # a group is not where to reach them
    assert db.execute(seen).fetchone() == ("chat-2", "2026-11-24T01:00:01+00:00")


@pytest.mark.parametrize("text", ["xin chào", "Chào em!", "cảm ơn nhé", "ok", "hihi"])
def test_greetings_and_thanks_get_a_short_reply_not_an_faq_entry(bot: Bot, text: str) -> None:
    assert bot.say("an", text)[0] in (msg.SMALLTALK_HELLO, msg.SMALLTALK_THANKS, msg.SMALLTALK_OK)
    assert bot.services.db["query_log"].count == 0


def test_cancel_works_at_every_step_of_reporting(bot: Bot) -> None:
    bot.register("an")
    for steps in ([], ["sys:motcua"], ["sys:motcua", "step:keep"]):
        bot.say("an", "/baoloi")
        for action in steps:
            bot.press("an", action)
        assert bot.say("an", "/huy") == [msg.CANCELLED]
    assert bot.say("an", "hủy") == [msg.NOTHING_TO_CANCEL]
    assert bot.services.db["tickets"].count == 0


def test_a_stale_button_or_number_gets_a_notice(bot: Bot) -> None:
    assert bot.press("an", "urg:urgent") == [msg.STALE_BUTTON]
    assert bot.press("an", "sys:cks") == [msg.STALE_BUTTON]
    assert bot.press("an", "nonsense") == [msg.STALE_BUTTON]
    bot.say("an", "quên mật khẩu")
    assert bot.say("an", "9") == [msg.NO_SUCH_CHOICE.format(n=4)]


def test_a_forged_commune_button_is_a_stale_button(bot: Bot) -> None:
    bot.say("an", "/dangky")
    assert bot.press("an", "com:khong-co-xa-nay") == [msg.STALE_BUTTON]
    assert bot.say("an", "Bát Xát") == [msg.REG_ASK_NAME.format(commune="Xã Bát Xát")]


def test_someone_elses_feedback_button_is_refused(bot: Bot) -> None:
    bot.say("an", "máy in không in được")
    assert bot.press("binh", "fb:ok:1") == [msg.STALE_BUTTON]
    assert bot.services.db["query_log"].get(1)["feedback"] is None


@pytest.mark.parametrize(("fields", "expected"), [
    ({"unsupported": "sticker"}, msg.UNSUPPORTED.format(what="sticker")),
    ({}, msg.EMPTY_MESSAGE),
])
def test_stickers_and_empty_messages_get_a_clear_answer(bot: Bot, fields: dict, expected: str) -> None:
    assert bot.say("an", "", **fields) == [expected]


def test_unknown_command_is_answered_with_help(bot: Bot) -> None:
    replies = bot.say("an", "/khongco")
    assert replies[0] == msg.UNKNOWN_COMMAND.format(command="khongco")
    assert replies[1].startswith(msg.HELP_STAFF)


def test_a_huge_message_is_answered_and_kept_whole(bot: Bot) -> None:
    text = "máy in không in được " + "x" * 20000
    assert len(bot.say("an", text)) == 1
    assert bot.services.db["messages"].get(1)["text"] == text


def test_duplicate_update_is_ignored(bot: Bot) -> None:
    from bot.models import Incoming

    incoming = Incoming("test", "an", "an", text="máy in không in được", update_id="42")
    first = bot.engine.handle(incoming)
    second = bot.engine.handle(incoming)
    assert (len(first.replies), second.duplicate, second.replies) == (1, True, [])
    assert (bot.services.db["query_log"].count, len(bot.outbox_rows())) == (1, 1)


def test_album_is_one_ticket_with_every_photo_and_one_acknowledgement(bot: Bot) -> None:
    bot.register("an")
    replies = [bot.say("an", "", photos=(f"p{i}",), album_id="album-1") for i in range(3)]
    assert replies[1:] == [[], []]
    assert bot.press("an", "sys:may") == [msg.ESC_ASK_DESCRIPTION]
    bot.say("an", "Máy in báo lỗi")
    bot.press("an", "step:photos")
    bot.press("an", "urg:normal")
    bot.press("an", "step:send")
    assert bot.services.db["tickets"].count == 1
    assert [a["file_ref"] for a in bot.services.tickets.attachments(1)] == ["p0", "p1", "p2"]


def test_photo_with_one_open_ticket_goes_into_it_and_says_so(bot: Bot) -> None:
    bot.register("an")
    bot.open_ticket("an")
    assert bot.say("an", "đây là ảnh lỗi", photos=("shot",)) == [msg.ADDED_TO_TICKET.format(code="#1")]
    assert [a["file_ref"] for a in bot.services.tickets.attachments(1)] == ["shot"]


def test_edited_message_is_recorded_as_an_edit(bot: Bot) -> None:
    bot.register("an")
    bot.open_ticket("an")
    bot.press("an", "add:1")
    bot.say("an", "lỗi 500", edited=True)
    assert bot.services.tickets.events(1, include_internal=False)[-1]["kind"] == "edit"
    assert bot.inbox(ADMIN)[-1].text == msg.FROM_OFFICIAL_EDITED.format(code="#1", text="lỗi 500")


def test_my_tickets_lists_statuses(bot: Bot) -> None:
    bot.register("an")
    bot.open_ticket("an", "Lỗi đồng bộ hồ sơ")
    text = bot.say("an", "/yeucau")[0]
    assert text.splitlines() == [msg.MY_TICKETS, "#1 · Mới · " + bot.services.tickets.system_name("motcua")
                                 + ": Lỗi đồng bộ hồ sơ"]


def test_unregistered_user_gets_answers_but_registers_before_a_ticket(bot: Bot) -> None:
    assert bot.say("an", "/baoloi") == [msg.NEED_REGISTRATION_FIRST, msg.REG_ASK_COMMUNE]
    assert bot.say("an", "xã không có thật") == [msg.REG_COMMUNE_UNKNOWN.format(text="xã không có thật")]
    assert bot.services.db["tickets"].count == 0


def test_registration_can_require_admin_approval(tmp_path: Path) -> None:
    from bot.config import PeopleConfig

    config = make_config(tmp_path)
    import dataclasses

    config = dataclasses.replace(config, people=dataclasses.replace(config.people, require_approval=True))
    bot = Bot(config)
    bot.register("an")
    assert bot.person("an").status == "pending"
    assert bot.say("an", "/baoloi") == [msg.REGISTRATION_PENDING]
    request = bot.inbox(ADMIN)[-1]
    assert request.choices[0].action == f"approve:{bot.person('an').id}"
    assert bot.press("an", request.choices[0].action) == [msg.NOT_AN_ADMIN]
    bot.press(ADMIN, request.choices[0].action)
    assert bot.person("an").status == "active"
    assert bot.inbox("an")[-1].text == msg.YOU_ARE_APPROVED
    assert isinstance(PeopleConfig(), PeopleConfig)


def test_outside_working_hours_the_official_is_told_when_it_will_be_seen(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tests.harness import Clock

    bot = Bot(make_config(tmp_path), Clock(datetime(2026, 11, 27, 12, 0, tzinfo=UTC)))  # Friday 19:00
    bot.register("an")
    bot.say("an", "/baoloi")
    bot.press("an", "sys:motcua")
    bot.say("an", "Lỗi")
    bot.press("an", "step:photos")
    bot.press("an", "urg:normal")
    text = bot.press("an", "step:send")[0]
    assert text.endswith(msg.OUTSIDE_HOURS.format(when="07:30 30/11/2026"))


def test_the_terminal_user_numbering_matches_what_was_shown(bot: Bot) -> None:
    from bot.models import Choice

    bot.engine.remember_choices("test", "an", [Choice("Yêu cầu của tôi", "menu:tickets")])
    assert bot.say("an", "1") == [msg.NO_TICKETS]


def test_a_choice_can_be_picked_by_its_words_and_a_stale_number_is_refused(bot: Bot) -> None:
    bot.send("an", "giá lúa hôm nay")  # offers "report" and "ask again"
    assert bot.say("an", "hoi cach khac") == [msg.ASK_PROMPT]  # the label, typed without marks
    assert bot.say("an", "2") == [msg.NO_CHOICES_PENDING]


def test_technician_asking_a_question_still_gets_the_faq(bot: Bot) -> None:
    reply = bot.send(TECH, "máy tính không nhận usb token, báo không tìm thấy chứng thư số")[0]
    assert reply.choices[0].label == msg.CHOICE_SOLVED
    assert bot.person(TECH2).is_technician


def test_a_bug_while_handling_keeps_the_message_and_says_so(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.engine, "_ask_faq", broken)
    assert bot.say("an", "máy in không in được") == [msg.INTERNAL_ERROR]
    assert [m["text"] for m in bot.services.db["messages"].rows] == ["máy in không in được", msg.INTERNAL_ERROR]
