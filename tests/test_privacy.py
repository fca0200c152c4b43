"""Personal data: export, forget and retention remove exactly what they should, and keep the counts."""

from __future__ import annotations

import json
from pathlib import Path

from bot.ops.privacy import HANDLED, apply_retention, export_person, find_user, forget_person
from tests.harness import TECH, Bot, make_config


def _official_with_a_closed_ticket(tmp_path: Path, user: str = "official") -> tuple[Bot, int]:
    bot = Bot(make_config(tmp_path))
    bot.register(user, name="Lò Văn Minh")
    bot.say(user, "quen mat khau mot cua")
    ticket = bot.open_ticket(user, "Không đăng nhập được một cửa, SĐT em 0912 345 678")
    uploads = bot.config.uploads_dir
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / f"shot-{user}.jpg").write_bytes(b"jpeg")
    bot.services.db["attachments"].insert({"ticket_id": ticket, "channel": "web",
                                           "file_ref": f"/files/shot-{user}.jpg", "kind": "photo",
                                           "created_at": "2026-01-05T01:00:00+00:00"})
    bot.say(TECH, f"/nhan {ticket}")
    bot.say(TECH, f"/xong {ticket} Đã cấp lại mật khẩu")
    bot.services.db.execute("update tickets set status = 'closed', closed_at = ? where id = ?",
                            ["2026-01-06T01:00:00+00:00", ticket])
    return bot, ticket


def _counts(bot: Bot) -> dict[str, object]:
    db = bot.services.db
    return {
        "tickets": db.execute("select count(*), group_concat(system_id), group_concat(commune_id) "
                              "from tickets").fetchone(),
        "questions": db.execute("select count(*), group_concat(decision) from query_log").fetchone(),
        "users": db["users"].count,
    }


def test_export_holds_the_profile_messages_tickets_and_questions(tmp_path: Path) -> None:
    bot, ticket = _official_with_a_closed_ticket(tmp_path)
    user_id = find_user(bot.services.db, "test:official")

    data = json.loads(json.dumps(export_person(bot.services.db, user_id), default=str))

    assert data["user"]["full_name"] == "Lò Văn Minh"
    assert [i["user_ref"] for i in data["identities"]] == ["official"]
    assert [t["id"] for t in data["tickets"]] == [ticket]
    assert [a["file_ref"] for a in data["attachments"]] == ["/files/shot-official.jpg"]
    assert [q["query"] for q in data["questions"]] == ["quen mat khau mot cua"]
    assert "quen mat khau mot cua" in [m["text"] for m in data["messages"]]


def test_forget_removes_a_persons_texts_screenshots_and_identifiers_and_keeps_the_counts(tmp_path: Path) -> None:
    bot, ticket = _official_with_a_closed_ticket(tmp_path)
    bot.register("other", name="Vàng Thị Mai")
    bot.say("other", "quen mat khau mot cua")
    db = bot.services.db
    user_id = find_user(db, "test:official")
    counts_before = _counts(bot)
    other_messages = db.execute("select count(*) from messages where user_id != ?", [user_id]).fetchone()[0]

    removed = forget_person(db, user_id, bot.config.uploads_dir)

    assert _counts(bot) == counts_before
    assert db.execute("select full_name, job_title, phone, status from users where id = ?",
                      [user_id]).fetchone() == ("", "", "", "forgotten")
    assert db.execute("select count(*) from identities where user_id = ?", [user_id]).fetchone()[0] == 0
    assert db.execute("select count(*) from messages where user_id = ?", [user_id]).fetchone()[0] == 0
    assert db.execute("select description, transcript from tickets where id = ?",
                      [ticket]).fetchone() == ("", "[]")
    assert db.execute("select count(*) from ticket_events where ticket_id = ? and text != ''",
                      [ticket]).fetchone()[0] == 0
    assert db["attachments"].count == 0
    assert not (bot.config.uploads_dir / "shot-official.jpg").exists()
    assert db.execute("select query from query_log where user_id is null").fetchall() == [("",)]
    assert db.execute("select count(*) from messages where user_id != ?", [user_id]).fetchone()[0] \
        == other_messages  # nobody else's data is touched
    assert find_user(db, "test:official") is None
    assert db.execute("select count(*) from tickets_fts where tickets_fts match '0912'").fetchone()[0] == 0
    assert removed.counts["screenshot files"] == 1


def test_retention_removes_exactly_what_is_past_its_time(tmp_path: Path) -> None:
    bot, old_ticket = _official_with_a_closed_ticket(tmp_path)
    db = bot.services.db
    recent = bot.open_ticket("official", "Máy in không in được")
    db.execute("update messages set at = '2026-01-05T01:00:00+00:00' where ticket_id is null")
    db.execute("update query_log set at = '2026-01-05T01:00:00+00:00'")
    db["messages"].insert({"user_id": 1, "at": "2026-11-20T01:00:00+00:00", "direction": "in",
                           "channel": "test", "text": "tin nhắn mới"})
    counts_before = _counts(bot)
    from datetime import UTC, datetime

    removed = apply_retention(db, bot.config.uploads_dir, datetime(2026, 11, 29, tzinfo=UTC), months=6)

    assert _counts(bot) == counts_before
    assert db.execute("select id, description != '' from tickets order by id").fetchall() == [
        (old_ticket, 0), (recent, 1)]
    assert db.execute("select text from messages where at < '2026-06-01'").fetchall() == []
    assert ("tin nhắn mới",) in db.execute("select text from messages").fetchall()
    assert db.execute("select query from query_log").fetchall() == [("",)]
    assert db["attachments"].count == 0
    assert removed.counts["attachments"] == 1
    again = apply_retention(db, bot.config.uploads_dir, datetime(2026, 11, 29, tzinfo=UTC), months=6)
    assert again.counts == {}  # nothing is past its time twice


def test_every_table_that_names_a_person_is_handled_by_export_and_forget(tmp_path: Path) -> None:
    bot = Bot(make_config(tmp_path))
    db = bot.services.db
    with_user = {t for t in db.table_names() if "user_id" in db[t].columns_dict or t == "users"}

    assert with_user - HANDLED == set(), "add the new table to bot/ops/privacy.py and docs/privacy.md"


def test_phone_numbers_are_masked_in_log_lines_and_ticket_codes_are_not() -> None:
    import logging

    from bot.runner import RedactSecrets

    record = logging.LogRecord("bot", logging.INFO, __file__, 1,
                               "official %s called from %s about %s", ("0912 345 678", "+84 912.345.678",
                                                                      "000.00.23.H41-251129-0001"), None)
    RedactSecrets(["123:SECRET"]).filter(record)

    assert record.getMessage() == "official 09*****678 called from 84******678 about 000.00.23.H41-251129-0001"
