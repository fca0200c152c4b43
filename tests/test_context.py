"""The official's conversation as a new user lives it: context kept, no traps, nothing lost.

Each test is one of the cases reported in issue 10, driven through the real
engine on a real SQLite file, asserting what the official reads and what the
ticket holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import messages as msg
from bot.models import Incoming
from tests.harness import TECH, Bot, make_config

PICK_DONE = msg.PICK["both"].format(label="Xong")
ANSWER = "ma ho so 000.00.23.H41-251129-0001, em dung chrome"
ANSWERED = "máy tính không nhận usb token, báo không tìm thấy chứng thư số"  # the FAQ answers this outright


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    return Bot(make_config(tmp_path))


def official_messages(bot: Bot, ticket_id: int) -> list[str]:
    return [e["text"] for e in bot.services.tickets.events(ticket_id, include_internal=True)
            if e["kind"] in ("message", "edit")]


def registered_with_ticket(bot: Bot, user: str = "an", system: str = "motcua") -> int:
    bot.register(user)
    ticket = bot.open_ticket(user, system=system)
    bot.press(TECH, f"claim:{ticket}")
    return ticket


# -- 1. open tickets are the context ---------------------------------------------------------------

def test_an_answer_to_a_waiting_technician_goes_into_the_ticket_without_pressing_reply(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.say(TECH, f"/cho {ticket} Anh gửi mã hồ sơ và trình duyệt đang dùng")
    (reply,) = bot.send("an", ANSWER)
    assert reply.text == msg.ADDED_TO_TICKET.format(code="#1")
    assert [c.label for c in reply.choices] == [msg.BTN_NEW_QUESTION]
    assert official_messages(bot, ticket) == [ANSWER]
    assert bot.ticket(ticket).status == "assigned"  # no longer waiting for the official
    assert bot.inbox(TECH)[-1].text == msg.FROM_OFFICIAL.format(code="#1", text=ANSWER)
    assert bot.services.db["query_log"].count == 0  # nothing went to the FAQ


def test_a_technician_reply_makes_the_ticket_the_context_for_24_working_hours(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.say(TECH, f"/traloi {ticket} Anh thử xóa cache trình duyệt")
    assert bot.say("an", "em xoa roi van loi") == [msg.ADDED_TO_TICKET.format(code="#1")]
    bot.clock.advance(days=2)  # Wednesday 08:00: 16 working hours later, still inside the window
    assert bot.say("an", "van loi a") == [msg.ADDED_TO_TICKET.format(code="#1")]
    bot.say(TECH, f"/traloi {ticket} Anh chờ em kiểm tra")  # the window starts again from this reply
    bot.clock.advance(days=7)  # more than 24 working hours with no word from a technician
    assert bot.say("an", "may in ko in dc")[0] != msg.ADDED_TO_TICKET.format(code="#1")
    assert official_messages(bot, ticket) == ["em xoa roi van loi", "van loi a"]


def test_this_is_a_new_question_takes_the_message_out_and_answers_it(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.say(TECH, f"/cho {ticket}")
    (routed,) = bot.send("an", ANSWERED)
    (answer,) = bot.send("an", action=routed.choices[0].action)
    assert answer.choices[0].label == msg.CHOICE_SOLVED  # answered from the FAQ
    kinds = [e["kind"] for e in bot.services.tickets.events(ticket, include_internal=True)]
    assert kinds[-2:] == ["message", "moved"]
    assert bot.inbox(TECH)[-1].text == f"#1: {msg.MOVED_OUT_EVENT}"
    # Until a technician writes again, the next message is a question too.
    assert bot.say("an", "quên mật khẩu một cửa")[0] != msg.ADDED_TO_TICKET.format(code="#1")


def test_the_way_out_is_one_typed_number_on_numbered_channels(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.say(TECH, f"/cho {ticket}")
    bot.say("an", ANSWERED)
    assert bot.send("an", "1")[0].choices[0].label == msg.CHOICE_SOLVED


def test_with_two_tickets_in_context_the_official_is_asked_which(bot: Bot) -> None:
    bot.register("an")
    first = bot.open_ticket("an", system="motcua")
    second = bot.open_ticket("an", system="cks")
    bot.say(TECH, f"/traloi {first} Anh gửi mã hồ sơ")
    bot.say(TECH, f"/cho {second} Anh chụp màn hình lỗi token")
    (ask,) = bot.send("an", ANSWER)
    assert ask.text == msg.WHICH_TICKET
    assert [c.action for c in ask.choices] == [f"into:{second}", f"into:{first}", "new:route"]
    assert bot.press("an", f"into:{first}") == [msg.ADDED_TO_TICKET.format(code="#1")]
    assert (official_messages(bot, first), official_messages(bot, second)) == ([ANSWER], [])


def test_a_report_on_a_system_with_an_open_ticket_asks_add_or_new(bot: Bot) -> None:
    ticket = registered_with_ticket(bot, system="motcua")
    bot.say("an", "/baoloi")
    (ask,) = bot.send("an", action="sys:motcua")
    assert ask.text == msg.ALREADY_OPEN_ON_SYSTEM.format(
        code="#1", system=bot.services.tickets.system_name("motcua"), status="Đang xử lý")
    assert [c.action for c in ask.choices] == [f"join:{ticket}", "step:new", "cancel"]
    assert bot.press("an", f"join:{ticket}") == [msg.WRITE_INTO_TICKET.format(code="#1", pick=PICK_DONE)]
    assert bot.say("an", "lỗi vẫn còn sau khi đăng nhập lại") == [msg.ADDED_TO_TICKET.format(code="#1")]
    assert bot.services.db["tickets"].count == 1
    # "New" goes on to an ordinary second report.
    bot.say("an", "/baoloi")
    bot.press("an", "sys:motcua")
    assert bot.press("an", "step:new") == [msg.ESC_ASK_DESCRIPTION]


# -- 2. nothing swallowed ------------------------------------------------------------------------------

def test_after_resolution_confirmation_and_rating_the_next_question_is_answered(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.press("an", f"add:{ticket}")  # writing mode, never left with "Xong"
    bot.say(TECH, f"/xong {ticket} Đã cấp lại mật khẩu")
    bot.press("an", f"fixed:{ticket}")
    bot.press("an", f"rate:{ticket}:5")
    reply = bot.send("an", "may scan ko nhan")[0]
    assert "không thay đổi được" not in reply.text
    assert bot.services.db["query_log"].get(1)["query"] == "may scan ko nhan"


def test_a_message_into_a_ticket_closed_meanwhile_is_handled_as_a_question(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.press("an", f"add:{ticket}")
    bot.press("an", f"withdraw:{ticket}")
    bot.press("an", f"wd:{ticket}")
    bot.say("an", "máy in không in được")
    assert bot.services.db["query_log"].get(1)["query"] == "máy in không in được"


def test_registration_started_by_a_report_can_be_left_and_says_how(bot: Bot) -> None:
    assert bot.press("an", "menu:report") == [msg.NEED_REGISTRATION_FIRST, msg.REG_ASK_COMMUNE]
    assert bot.say("an", "2") == [msg.REG_COMMUNE_UNKNOWN.format(text="2")]  # not "no choices pending"
    (unknown,) = bot.send("an", "quen mk")
    assert unknown.text == msg.REG_COMMUNE_UNKNOWN.format(text="quen mk") and "hủy" in unknown.text
    assert [c.label for c in unknown.choices] == [msg.BTN_IT_IS_A_QUESTION]
    assert bot.say("an", "2") == [msg.REG_COMMUNE_UNKNOWN.format(text="2")]  # not "only choices 1 to 1"
    assert bot.say("an", "thoát") == [msg.CANCELLED]
    assert bot.say("an", "quen mk mot cua")[0] != msg.REG_COMMUNE_UNKNOWN.format(text="quen mk mot cua")


def test_a_question_typed_as_a_commune_is_answered_with_one_press(bot: Bot) -> None:
    bot.say("an", "/baoloi")
    (unknown,) = bot.send("an", ANSWERED)
    (answer,) = bot.send("an", action=unknown.choices[0].action)
    assert answer.choices[0].label == msg.CHOICE_SOLVED
    assert bot.engine._load_state_for("test", "an").name == "idle"


@pytest.mark.parametrize("word", ["/huy", "hủy", "huỷ", "thoát", "huy", "Hủy!"])
def test_every_word_for_leaving_works_at_every_step(bot: Bot, word: str) -> None:
    bot.register("binh")
    steps = {
        "registration": ("an", ["/dangky"]),
        "registration, name": ("an", ["/dangky", "Bát Xát"]),
        "report, system": ("binh", ["/baoloi"]),
        "report, description": ("binh", ["/baoloi", "sys:motcua"]),
        "report, photos": ("binh", ["/baoloi", "sys:motcua", "lỗi"]),
        "profile edit": ("binh", ["/hoso", "prof:name"]),
    }
    for user, inputs in steps.values():
        bot.say(user, "/huy")
        for item in inputs:
            bot.press(user, item) if ":" in item else bot.say(user, item)
        assert bot.say(user, word) == [msg.CANCELLED]
    assert bot.services.db["tickets"].count == 0


def test_every_step_prompt_says_how_to_leave(bot: Bot) -> None:
    prompts = [msg.REG_ASK_COMMUNE, msg.REG_ASK_NAME, msg.REG_ASK_TITLE, msg.REG_ASK_PHONE,
               msg.REG_ASK_PHONE_CONTACT, msg.REG_BAD_PHONE, msg.REG_COMMUNE_UNKNOWN, msg.REG_COMMUNE_PICK,
               msg.REG_CONFIRM_COMMUNE, msg.REG_CONFIRM_FORMER, msg.ESC_ASK_SYSTEM, msg.ESC_ASK_DESCRIPTION,
               msg.ESC_DESCRIPTION_PREFILLED, msg.ESC_ASK_PHOTOS, msg.ESC_TEXT_ADDED, msg.ESC_ASK_URGENCY,
               msg.ESC_CONFIRM, msg.WRITE_INTO_TICKET, msg.WHICH_TICKET, msg.ALREADY_OPEN_ON_SYSTEM,
               msg.PROFILE_ASK_NAME, msg.PROFILE_ASK_TITLE, *msg.ESC_USE_CHOICES.values()]
    assert [p for p in prompts if msg.LEAVE not in p] == []


@pytest.mark.parametrize(("typed", "expected"), [
    ("dang ky", msg.REG_ASK_COMMUNE), ("Đăng ký", msg.REG_ASK_COMMUNE),
    ("yeu cau cua toi", msg.NO_TICKETS), ("Yêu cầu của tôi", msg.NO_TICKETS),
    ("tro giup", msg.HELP_STAFF), ("ho so", msg.REG_ASK_COMMUNE),
])
def test_menu_words_work_without_slash_or_marks(bot: Bot, typed: str, expected: str) -> None:
    assert bot.say("an", typed)[-1].startswith(expected)
    assert bot.services.db["query_log"].count == 0  # never a "did you mean" about VNeID


def test_bao_su_co_without_slash_starts_a_report(bot: Bot) -> None:
    bot.register("an")
    assert bot.say("an", "bao su co")[0].startswith(msg.ESC_ASK_SYSTEM)


# -- 3. registration that can be trusted -------------------------------------------------------------

def test_a_former_ward_is_confirmed_as_the_unit_it_became(bot: Bot) -> None:
    bot.say("an", "/dangky")
    (confirm,) = bot.send("an", "coc leu")
    assert confirm.text == msg.REG_CONFIRM_FORMER.format(former="Phường Cốc Lếu", commune="Phường Lào Cai")
    assert [c.label for c in confirm.choices] == [msg.BTN_YES, msg.BTN_NO_RETYPE]
    assert bot.say("an", "1") == [msg.REG_ASK_NAME.format(commune="Phường Lào Cai")]


def test_a_loose_match_is_confirmed_and_can_be_retyped(bot: Bot) -> None:
    bot.say("an", "/dangky")
    assert bot.say("an", "bat sat") == [msg.REG_CONFIRM_COMMUNE.format(commune="Xã Bát Xát")]
    assert bot.press("an", "com:retype") == [msg.REG_RETYPE_COMMUNE]
    assert bot.say("an", "Bát Xát") == [msg.REG_ASK_NAME.format(commune="Xã Bát Xát")]  # exact: kept


def test_the_profile_shows_and_changes_commune_name_title_and_phone(bot: Bot) -> None:
    bot.register("an")
    (profile,) = bot.send("an", "/dangky")  # registered: the profile, not "already registered"
    assert profile.text == msg.PROFILE.format(commune="Xã Bát Xát", name="Nguyễn Văn An",
                                              title="Công chức Văn phòng - Thống kê", phone="0912345678")
    assert [c.action for c in profile.choices] == ["prof:commune", "prof:name", "prof:title", "prof:phone"]
    bot.press("an", "prof:commune")
    bot.say("an", "coc leu")
    bot.say("an", "đúng")  # the confirm button's words
    bot.press("an", "prof:name")
    bot.say("an", "Nguyễn Văn Bình")
    bot.press("an", "prof:title")
    bot.say("an", "Chủ tịch UBND")
    bot.press("an", "prof:phone")
    assert bot.say("an", "0987 654 321")[0] == msg.PROFILE_SAVED
    person = bot.person("an")
    assert (person.commune_id, person.full_name, person.job_title, person.phone) == (
        "phuong-lao-cai", "Nguyễn Văn Bình", "Chủ tịch UBND", "0987654321")


# -- 5. ratings mean what they say -------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "expected"), [("5", 5), ("1", 1), ("5 sao", 5), ("năm sao", 5),
                                                  ("4*", 4), ("⭐⭐⭐", 3), ("hai sao", 2)])
def test_a_typed_rating_is_the_stars_said(bot: Bot, typed: str, expected: int) -> None:
    ticket = registered_with_ticket(bot)
    bot.say(TECH, f"/xong {ticket} Đã xử lý")
    (ask,) = bot.send("an", action=f"fixed:{ticket}")
    assert [c.label for c in ask.choices] == [msg.RATING_LABELS[n] for n in range(1, 6)]
    assert bot.say("an", typed) == [msg.THANKS_FOR_RATING.format(code="#1")]
    assert bot.ticket(ticket).rating == expected


def test_a_question_instead_of_a_rating_is_answered(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    bot.say(TECH, f"/xong {ticket} Đã xử lý")
    bot.press("an", f"fixed:{ticket}")
    bot.say("an", "máy in không in được")
    assert (bot.ticket(ticket).rating, bot.services.db["query_log"].count) == (None, 1)


# -- 6. small talk and noise --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("👍", msg.SMALLTALK_OK), ("🙏", msg.SMALLTALK_OK), ("cảm ơn", msg.SMALLTALK_THANKS),
    ("cam on ad nhieu", msg.SMALLTALK_THANKS), ("ok", msg.SMALLTALK_OK), ("alo", msg.SMALLTALK_HELLO),
    ("chào em", msg.SMALLTALK_HELLO), ("dạ vâng ạ", msg.SMALLTALK_OK),
])
def test_small_talk_gets_a_short_friendly_reply_never_a_ticket_offer(bot: Bot, text: str, expected: str) -> None:
    (reply,) = bot.send("an", text)
    assert reply.text == expected
    assert msg.BTN_REPORT not in [c.label for c in reply.choices]
    assert bot.services.db["query_log"].count == 0


def test_a_greeting_with_a_question_is_still_a_question(bot: Bot) -> None:
    bot.say("an", "alo, em quên mật khẩu một cửa")
    assert bot.services.db["query_log"].count == 1


# -- 7. confirm what cannot be undone -----------------------------------------------------------------

def test_withdrawing_a_ticket_is_confirmed_first(bot: Bot) -> None:
    ticket = registered_with_ticket(bot)
    (ask,) = bot.send("an", action=f"withdraw:{ticket}")
    assert ask.text == msg.CONFIRM_WITHDRAW.format(code="#1", system=bot.services.tickets.system_name("motcua"))
    assert bot.ticket(ticket).status == "assigned"
    assert bot.press("an", f"keep:{ticket}") == [msg.KEPT_TICKET.format(code="#1")]
    assert bot.ticket(ticket).status == "assigned"
    bot.press("an", f"withdraw:{ticket}")
    assert bot.press("an", f"wd:{ticket}") == [msg.WITHDRAWN.format(code="#1")]
    assert bot.ticket(ticket).status == "closed"


# -- 8. a transcript a technician can read -------------------------------------------------------------

def test_the_transcript_shows_choices_as_chosen_and_starts_at_the_question(bot: Bot) -> None:
    question = "quên mật khẩu"
    (clarify,) = bot.send("an", question)
    bot.press("an", clarify.choices[-1].action)  # "Không phải các câu trên"
    assert bot.say("an", "1") == [msg.NEED_REGISTRATION_FIRST, msg.REG_ASK_COMMUNE]  # typed "1": send a request
    for _ in range(15):  # registration chatter, and more, fills far more than 20 messages
        bot.say("an", "xã không có thật")
    bot.say("an", "Bát Xát")
    bot.say("an", "Nguyễn Văn An")
    bot.say("an", "Văn phòng")
    bot.say("an", "0912345678")
    bot.press("an", "sys:motcua")
    bot.press("an", "step:keep")
    bot.press("an", "step:photos")
    bot.press("an", "urg:normal")
    bot.press("an", "step:send")
    transcript = bot.services.tickets.transcript(1)
    assert transcript[0] == {"at": transcript[0]["at"], "direction": "in", "text": question}
    texts = [m["text"] for m in transcript]
    assert f"Chọn: {msg.CLARIFY_NONE_OF_THESE}" in texts
    logged = [m["text"] for m in bot.services.db["messages"].rows_where("direction = 'in'")]
    assert f"1 (Chọn: {msg.BTN_REPORT})" in logged  # a typed number is logged with what it chose
    assert texts[-1] == f"Chọn: {msg.BTN_SEND}"
    assert [m["direction"] for m in transcript].count("gap") == 1
    assert len(transcript) == bot.config.tickets.transcript_messages + 1
    assert not [t for t in texts if t.startswith("[") and ":" in t]  # no raw codes like [fb:none:8]
    shown = bot.engine.desk.show(1, bot.person(TECH)).text
    assert f"{msg.TRANSCRIPT_WHO['in']}: {question}" in shown
    assert f"{msg.TRANSCRIPT_WHO['out']}: {msg.CLARIFY_INTRO}" in shown


# -- 4. wording true to the channel ---------------------------------------------------------------------

def say_on(bot: Bot, channel: str, text: str = "", action: str | None = None) -> list:
    return bot.engine.handle(Incoming(channel, "u-" + channel, "u-" + channel, text=text, action=action)).replies


@pytest.mark.parametrize(("channel", "pick", "contact"), [
    ("telegram", "buttons", True), ("web", "buttons", False), ("zalo", "numbered", False),
    ("terminal", "numbered", False), ("zalo_oa", "both", False),
])
def test_prompts_say_how_to_choose_on_each_channel(bot: Bot, channel: str, pick: str, contact: bool) -> None:
    for text in ("/dangky", "Bát Xát", "Nguyễn Văn An"):
        say_on(bot, channel, text)
    (phone,) = say_on(bot, channel, "Văn phòng")
    assert (phone.text, phone.request_contact) == (
        msg.REG_ASK_PHONE_CONTACT if contact else msg.REG_ASK_PHONE, contact)
    say_on(bot, channel, "0912345678")
    say_on(bot, channel, "/baoloi")
    say_on(bot, channel, action="sys:motcua")
    (photos,) = say_on(bot, channel, "Lỗi 500")
    assert photos.text == msg.ESC_ASK_PHOTOS.format(pick=msg.PICK[pick].format(label="Xong"))
    assert ("bấm" in photos.text) == (pick == "buttons")


def test_labels_are_whole_on_text_channels_and_short_on_button_channels(bot: Bot) -> None:
    (numbered,) = say_on(bot, "zalo", "quên mật khẩu")
    entries = [bot.services.faq.kb.entry(e) for e in json.loads(bot.services.db["query_log"].get(1)["candidates"])]
    questions = [e.question for e in entries]
    assert [c.label for c in numbered.choices[:-1]] == questions  # never cut
    (buttons,) = say_on(bot, "telegram", "quên mật khẩu")
    assert buttons.text.split("\n")[1:] == [f"{n}. {q}" for n, q in enumerate(questions, 1)]
    # Every long question has a title written for the button; a short one is its own label.
    shown = [e.title or e.question for e in entries]
    assert [c.label for c in buttons.choices[:-1]] == [
        msg.CLARIFY_BUTTON.format(n=n, title=t) for n, t in enumerate(shown, 1)]
    assert max(len(t) for t in shown) <= 40


def test_a_long_question_without_a_title_is_cut_between_words_on_buttons(tmp_path: Path) -> None:
    import dataclasses
    import shutil

    from tests.harness import REPO

    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    path = knowledge / "national" / "faq" / "vneid.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    title: Dân quên mật khẩu VNeID\n", "", 1), encoding="utf-8")
    bot = Bot(dataclasses.replace(make_config(tmp_path), knowledge_dir=knowledge))
    (reply,) = say_on(bot, "telegram", "quên mật khẩu")
    n = json.loads(bot.services.db["query_log"].get(1)["candidates"]).index("vneid-dan-quen-mat-khau") + 1
    assert reply.choices[n - 1].label == msg.CLARIFY_BUTTON.format(
        n=n, title="Công dân không nhớ mật khẩu VNeID thì…")  # 40 at most, never mid-word


def test_an_faq_title_is_the_button_label(tmp_path: Path) -> None:
    import dataclasses
    import shutil

    from tests.harness import REPO

    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    path = knowledge / "national" / "faq" / "email.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - id: email-quen-mat-khau\n",
                                 "  - id: email-quen-mat-khau\n    title: Quên mật khẩu thư công vụ\n", 1),
                    encoding="utf-8")
    bot = Bot(dataclasses.replace(make_config(tmp_path), knowledge_dir=knowledge))
    (reply,) = say_on(bot, "telegram", "quên mật khẩu")
    candidates = json.loads(bot.services.db["query_log"].get(1)["candidates"])
    n = candidates.index("email-quen-mat-khau") + 1
    assert reply.choices[n - 1].label == msg.CLARIFY_BUTTON.format(n=n, title="Quên mật khẩu thư công vụ")
    (whole,) = say_on(bot, "zalo", "quên mật khẩu")
    assert whole.choices[n - 1].label == "Quên mật khẩu hộp thư công vụ"  # text channels: the question
