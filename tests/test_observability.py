"""Seeing that it is healthy: /metrics behind a token, alerts to admins, JSON log lines."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.ops.metrics import metrics_handler
from tests.harness import TECH, Bot, make_config


def _sample(text: str, prefix: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith(prefix))


async def test_metrics_count_updates_decisions_outbox_and_tickets_and_need_the_token(tmp_path: Path) -> None:
    bot = Bot(make_config(tmp_path))
    bot.register("official")
    bot.say("official", "quen mat khau mot cua")
    ticket = bot.open_ticket("official")
    bot.say(TECH, f"/nhan {ticket}")
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(bot.config.database, "s3cret", bot.clock))

    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        response = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        text = await response.text()

    assert (refused.status, wrong.status, response.status) == (401, 401, 200)
    db = bot.services.db
    updates = db.execute("select count(*) from processed_updates").fetchone()[0]
    pending = db.execute("select count(*) from outbox where status = 'pending'").fetchone()[0]
    assert _sample(text, "helpdesk_updates_total") == [f'helpdesk_updates_total{{channel="test"}} {updates:.1f}']
    decision = db.execute("select decision from query_log").fetchone()[0]
    assert _sample(text, "helpdesk_questions_total") == [f'helpdesk_questions_total{{decision="{decision}"}} 1.0']
    assert _sample(text, "helpdesk_outbox_messages") == [
        f'helpdesk_outbox_messages{{channel="test",status="pending"}} {pending:.1f}']
    assert _sample(text, "helpdesk_tickets{") == ['helpdesk_tickets{status="assigned"} 1.0']
    assert _sample(text, "helpdesk_tickets_late ") == ["helpdesk_tickets_late 0.0"]
    assert _sample(text, "helpdesk_outbox_oldest_pending_seconds ") == [
        "helpdesk_outbox_oldest_pending_seconds 0.0"]  # the test clock has not moved since


def test_admins_are_told_once_when_a_channel_keeps_failing_and_not_through_that_channel(tmp_path: Path) -> None:

    from bot.models import Reply
    from bot.ops.alerts import check_delivery
    from bot.store.outbox import enqueue

    bot = Bot(make_config(tmp_path))
    db = bot.services.db
    admin = db.execute("select u.id from users u where role = 'admin'").fetchone()[0]
    db["identities"].insert({"channel": "zalo_bot", "user_ref": "z-admin", "user_id": admin,
                             "chat_ref": "z-admin"})
    with db.conn:
        for n in range(3):
            row = enqueue(db, bot.clock(), "telegram", f"chat{n}", Reply("xin chào"))
            db.execute("update outbox set attempts = 4, last_error = 'telegram: NetworkError' where id = ?", [row])
    bot.clock.advance(minutes=11)

    running = ["telegram", "test"]  # zalo_bot is configured for the admin but not running
    first = check_delivery(db, bot.clock(), running)
    bot.clock.advance(minutes=1)
    again = check_delivery(db, bot.clock(), running)
    bot.deliver()
    bot.clock.advance(hours=7)
    later = check_delivery(db, bot.clock(), running)

    assert first == [
        "⚠️ 3 tin nhắn trên kênh telegram đang chờ gửi, tin cũ nhất đã 11 phút. "
        "Kiểm tra kết nối của máy chủ (python -m bot doctor).",
        "⚠️ Kênh telegram gửi lỗi liên tiếp: 3 tin đang thử lại. Lỗi gần nhất: telegram: NetworkError. "
        "Tin nhắn vẫn được giữ và sẽ gửi khi kênh hoạt động lại."]
    assert again == []
    assert len(later) == 2
    alerts = db.execute("select channel, chat_ref from outbox where payload like '%⚠️%' "
                        "order by id").fetchall()
    assert alerts == [("test", "admin1")] * 4  # two alerts, twice; never on telegram or a stopped channel


def test_json_log_lines_carry_the_redacted_message() -> None:
    import json
    import logging

    from bot.ops.logs import JsonFormatter
    from bot.runner import RedactSecrets

    record = logging.LogRecord("bot.telegram", logging.WARNING, __file__, 1, "token %s, phone %s",
                               ("123:SECRET", "0912345678"), None)
    RedactSecrets(["123:SECRET"]).filter(record)
    line = json.loads(JsonFormatter().format(record))

    assert {k: line[k] for k in ("level", "logger", "message")} == {
        "level": "warning", "logger": "bot.telegram", "message": "token ***, phone 09*****678"}
