"""Poison-proof intake: updates nobody can parse are quarantined and skipped, errors are backed off."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import messages as msg
from bot.app import build_services, system_clock
from bot.channels import common
from bot.channels.common import Backoff, clean_text
from bot.channels.quarantine import listing
from bot.logs import RepeatFilter
from bot.runner import start
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture
from tests.harness import Bot, make_config
from tests.test_storage import write_lock_held
from tests.test_telegram import OFFICIAL, TelegramBot

USER = {"id": OFFICIAL, "is_bot": False, "first_name": "An"}
CHAT = {"id": OFFICIAL, "type": "private", "first_name": "An"}


def poisoned_updates(now: int) -> dict[str, dict]:
    """Shapes python-telegram-bot 22 cannot parse, or that break on reading, by name."""
    return {
        "no chat": {"message": {"message_id": 1, "date": now, "from": USER, "text": "hi"}},
        "no date": {"message": {"message_id": 2, "from": USER, "chat": CHAT, "text": "hi"}},
        "a string for the message": {"message": "hello"},
        "a string for the chat": {"message": {"message_id": 3, "date": now, "from": USER, "chat": "42",
                                              "text": "hi"}},
        "a callback without sender": {"callback_query": {"id": "9", "chat_instance": "x", "data": "pick:1:0"}},
        "a date as a string": {"message": {"message_id": 4, "date": "yesterday", "from": USER, "chat": CHAT,
                                           "text": "hi"}},
        "a poll missing fields": {"message": {"message_id": 5, "date": now, "from": USER, "chat": CHAT,
                                              "poll": {"id": "p", "question": "q"}}},
    }


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "BACKOFF_FIRST", 0.05)
    monkeypatch.setattr(common, "BACKOFF_CAP", 0.2)


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[TelegramBot]:  # noqa: F811
    bot = TelegramBot(tg, tmp_path)
    await bot.start()
    yield bot
    await bot.stop()


async def test_unparseable_updates_are_quarantined_and_the_next_message_is_answered(
        bot: TelegramBot, caplog: pytest.LogCaptureFixture) -> None:
    poisoned = {name: bot.tg.queue_update(update)["update_id"]
                for name, update in poisoned_updates(int(time.time())).items()}
    with caplog.at_level(logging.ERROR, logger="bot.channels.quarantine"):
        (hello,) = await bot.say(OFFICIAL, "xin chào")
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert bot.services is not None
    rows = listing(bot.services.db)
    assert sorted(int(r["update_ref"]) for r in rows) == sorted(poisoned.values())
    assert {r["channel"] for r in rows} == {"telegram"}
    assert len([r for r in caplog.records if "quarantined" in r.getMessage()]) == len(poisoned)
    # Acknowledged: the next getUpdates asks for what comes after them; nothing is fetched again.
    polls_then = len(bot.tg.calls_to("getUpdates"))
    await asyncio.sleep(0.3)
    assert len(bot.tg.calls_to("getUpdates")) - polls_then <= 2
    assert bot.tg.pending_updates == []


async def test_while_the_database_cannot_be_written_nothing_is_acknowledged(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    bot = TelegramBot(tg, tmp_path)
    bot.services = build_services(bot.config, system_clock, busy_timeout=0.3)
    bot.running = await start(bot.services, bot.env)
    try:
        with write_lock_held(bot.config.database):  # every write now fails, as on a full disk
            update = tg.user_text(OFFICIAL, "xin chào")
            polls = len(tg.calls_to("getUpdates"))
            await tg.wait_for(lambda t: len(t.calls_to("getUpdates")) >= polls + 2, timeout=15)
            assert [u["update_id"] for u in tg.pending_updates] == [update["update_id"]]  # Telegram keeps it
            assert tg.sent(OFFICIAL) == []
        (hello,) = await bot.said(OFFICIAL, 1)  # the lock is gone: the update comes again and is answered
        assert hello["text"] == msg.SMALLTALK_HELLO
        assert listing(bot.services.db) == []
    finally:
        await bot.stop()


async def test_a_message_without_a_sender_is_skipped_not_quarantined(bot: TelegramBot) -> None:
    bot.tg.queue_update({"message": {"message_id": 7, "date": int(time.time()), "chat": CHAT, "text": "hi"}})
    (hello,) = await bot.say(OFFICIAL, "xin chào")
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert bot.services is not None and listing(bot.services.db) == []


async def test_get_updates_errors_are_backed_off_and_polling_recovers(bot: TelegramBot) -> None:
    bot.tg.fail_next("getUpdates", 500, "Internal Server Error", times=3)
    bot.tg.fail_raw_next("getUpdates", b"<html>502 Bad Gateway</html>", status=502)
    bot.tg.fail_raw_next("getUpdates", b'{"ok": true, "result": [', status=200)
    bot.tg.fail_raw_next("getUpdates", b'{"ok": true, "result": "nothing"}', status=200)
    started = time.monotonic()
    await bot.tg.wait_for(lambda t: len([e for e in t.errors if e[0].lower() == "getupdates"]) == 6, timeout=10)
    # Between the six failures in a row, five pauses of at least 0.05, 0.1, 0.2, 0.2, 0.2 s.
    assert time.monotonic() - started >= 0.75
    assert [status for method, status, _ in bot.tg.errors if method.lower() == "getupdates"] == [502, 200, 200, 500, 500, 500]
    (hello,) = await bot.say(OFFICIAL, "xin chào")
    assert hello["text"] == msg.SMALLTALK_HELLO


async def test_a_429_on_get_updates_waits_as_long_as_telegram_asks(bot: TelegramBot) -> None:
    bot.tg.fail_next("getUpdates", 429, "Too Many Requests: retry after 1", retry_after=1)
    await bot.tg.wait_for(lambda t: any(e[0].lower() == "getupdates" for e in t.errors), timeout=5)
    refused = time.monotonic()
    polls = len(bot.tg.calls_to("getUpdates"))
    await bot.tg.wait_for(lambda t: len(t.calls_to("getUpdates")) > polls, timeout=5)
    assert time.monotonic() - refused >= 0.95
    (hello,) = await bot.say(OFFICIAL, "xin chào")
    assert hello["text"] == msg.SMALLTALK_HELLO


async def test_a_lone_surrogate_is_replaced_not_dropped(bot: TelegramBot) -> None:
    bot.tg.queue_update({"message": {"message_id": 8, "date": int(time.time()), "from": USER, "chat": CHAT,
                                     "text": "xin chào \ud83d"}})
    (hello,) = await bot.said(OFFICIAL, 1)
    assert hello["text"] == msg.SMALLTALK_HELLO
    assert bot.services is not None and listing(bot.services.db) == []


def test_clean_text_replaces_each_invalid_code_point() -> None:
    assert clean_text("a\ud800b\udfffc😀") == "a\ufffdb\ufffdc😀"
    assert clean_text(None) == ""
    assert clean_text(12) == "12"


def test_backoff_doubles_up_to_the_cap_and_honours_retry_after() -> None:
    backoff = Backoff(first=1, cap=8, jitter=0)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    assert backoff.next_delay(retry_after=30) == 30
    backoff.reset()
    assert backoff.next_delay() == 1


def test_a_repeated_log_line_is_written_a_few_times_then_counted() -> None:
    now = [0.0]
    repeats = RepeatFilter(window=10, burst=2, clock=lambda: now[0])

    def log(text: str, *args: object) -> str | None:
        record = logging.LogRecord("bot", logging.WARNING, __file__, 1, text, args, None)
        return record.getMessage() if repeats.filter(record) else None

    written = [log("getUpdates failed; polling again in %.1f s", n / 10) for n in range(232)]
    assert [w for w in written if w is not None] == [
        "getUpdates failed; polling again in 0.0 s", "getUpdates failed; polling again in 0.1 s"]
    assert log("another line") == "another line"
    now[0] = 10.0
    assert log("getUpdates failed; polling again in %.1f s", 60.0) == (
        "getUpdates failed; polling again in 60.0 s (repeated 230 times)")
    assert log("getUpdates failed; polling again in %.1f s", 60.0) == "getUpdates failed; polling again in 60.0 s"


@pytest.mark.parametrize("action", ["pick:999999:0", "fb:ok:999999", "esc:999999", "done:abc", "pick:abc"])
def test_a_forged_button_is_an_old_button_without_a_traceback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, action: str) -> None:
    bot = Bot(make_config(tmp_path))
    with caplog.at_level(logging.INFO):
        assert bot.press("an", action) == [msg.STALE_BUTTON]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_the_core_never_sees_a_lone_surrogate(tmp_path: Path) -> None:
    bot = Bot(make_config(tmp_path))
    assert bot.say("an\udc00", "xin chào \ud800") == [msg.SMALLTALK_HELLO]
    rows = list(bot.services.db["messages"].rows_where("direction = 'in'"))
    assert [r["text"] for r in rows] == ["xin chào \ufffd"]


def test_admins_see_the_latest_quarantined_updates_in_the_chat(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.channels.quarantine import quarantine
    from tests.harness import ADMIN, TECH

    bot = Bot(make_config(tmp_path))
    assert bot.say(ADMIN, "/cachly") == [msg.NOTHING_QUARANTINED]
    at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    quarantine(bot.services.db, at, "telegram", "101", {"update_id": 101, "message": "hello"},
               AttributeError("'str' object has no attribute 'copy'"))
    quarantine(bot.services.db, at, "zalo_oa", None, "{not json", ValueError("not an event"))
    assert bot.say(ADMIN, "/cachly") == ["\n".join([
        msg.QUARANTINE_TITLE.format(n=2),
        "#2 2026-11-24 01:00 · zalo_oa · update ?: ValueError: not an event",
        "#1 2026-11-24 01:00 · telegram · update 101: AttributeError: 'str' object has no attribute 'copy'",
    ])]
    assert bot.say(TECH, "/cachly") == [msg.NOT_AN_ADMIN]


async def test_a_batch_shares_its_commits_and_a_poisoned_update_in_it_loses_no_other(bot: TelegramBot) -> None:
    assert bot.services is not None
    writer = bot.services.writer
    stored: list[int] = []  # processed updates after each commit (read on the writer thread)
    writer.on_commit.append(
        lambda: stored.append(writer.db.execute("select count(*) from processed_updates").fetchone()[0]))
    officials = [OFFICIAL + n for n in range(1, 21)]
    for n, official in enumerate(officials):  # all waiting in one getUpdates batch
        if n == 10:
            poisoned = bot.tg.queue_update(poisoned_updates(int(time.time()))["no chat"])["update_id"]
        bot.tg.user_text(official, "xin chào")
    for official in officials:
        (hello,) = await bot.said(official, 1)
        assert hello["text"] == msg.SMALLTALK_HELLO
    assert [int(r["update_ref"]) for r in listing(bot.services.db)] == [poisoned]
    await bot.tg.wait_for(lambda t: t.pending_updates == [], timeout=5)  # all acknowledged
    commits_storing_updates = len(set(stored)) - 1  # each new count came with a commit
    assert commits_storing_updates < len(officials) // 2  # awaited one by one, it was one commit each
