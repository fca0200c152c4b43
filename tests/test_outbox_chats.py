"""The outbox serves chats independently: one chat's slow send holds up only that chat's later replies.

Real SQLite files; a channel whose sends to one chat wait until the test lets them answer (as
Telegram sometimes answers after 10-30 s), and the real Telegram channel beside a fake Bot API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bot import messages as msg
from bot.app import build_services
from bot.config import TelegramConfig, WebConfig
from bot.models import Delivery, Reply
from bot.runner import start, stop
from bot.store.database import Store
from bot.store.outbox import OutboxWorker, enqueue
from bot.store.schema import open_database
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture
from tests.harness import Clock, make_config

SLOW = "slow"  # the chat whose messenger answers late
QUICK = "quick"
IDLE = 60.0  # the worker's idle poll: longer than any test, so only wake-ups make it deliver


class GatedSender:
    """A channel whose sends to SLOW wait until `answer` is set; others go through at once."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.waiting = asyncio.Event()  # a send to SLOW is in flight
        self.sent: dict[str, list[str]] = defaultdict(list)

    async def send(self, delivery: Delivery) -> None:
        if delivery.chat_ref == SLOW:
            self.waiting.set()
            await self.answer.wait()
        self.sent[delivery.chat_ref].append(delivery.reply.text)


def queue(db: Store, clock: Clock, chat: str, *texts: str) -> None:
    with db.atomic():
        for text in texts:
            enqueue(db, clock(), "test", chat, Reply(text))


async def eventually(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def statuses(db: Store, chat: str) -> list[str]:
    return [r[0] for r in db.execute("select status from outbox where chat_ref = ? order by id", [chat])]


def other_tasks() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]


async def test_a_reply_to_another_chat_goes_out_while_one_chat_waits_for_its_answer(tmp_path: Path) -> None:
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    stop_event = asyncio.Event()
    queue(db, clock, SLOW, "Một")
    running = asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE))
    await asyncio.wait_for(sender.waiting.wait(), 3)

    queue(db, clock, SLOW, "Hai", "Ba")  # behind the message in flight: they wait for it
    queue(db, clock, QUICK, "Chào anh")  # another official: not held up by it
    worker.wakeup.set()  # as the writer does after each commit
    assert await eventually(lambda: sender.sent[QUICK] == ["Chào anh"]), "the quick chat waited for the slow one"
    assert (sender.sent[SLOW], statuses(db, SLOW)) == ([], ["sending", "pending", "pending"])

    sender.answer.set()  # the slow chat's answer comes: its rest goes out, in order, without a poll
    assert await eventually(lambda: sender.sent[SLOW] == ["Một", "Hai", "Ba"]), sender.sent
    assert statuses(db, SLOW) == ["sent"] * 3
    stop_event.set()
    await asyncio.wait_for(running, 3)
    assert other_tasks() == set()


async def test_a_long_queue_for_a_chat_still_sending_is_not_read_again_by_every_round(tmp_path: Path) -> None:
    # After a night offline a technicians' group may have hundreds of reminders queued; while
    # they go out one by one, each round (one per commit) reads only the other chats' rows.
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    stop_event = asyncio.Event()
    queue(db, clock, SLOW, *(f"Nhắc việc {n}" for n in range(300)))
    running = asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE))
    await asyncio.wait_for(sender.waiting.wait(), 3)
    rows_read: list[int] = []
    db.conn.set_trace_callback(lambda sql: rows_read.append(sql.count("json_each")) if "from outbox" in sql else None)
    queue(db, clock, QUICK, "Chào anh")
    worker.wakeup.set()
    assert await eventually(lambda: sender.sent[QUICK] == ["Chào anh"])
    db.conn.set_trace_callback(None)
    sender.answer.set()
    assert await eventually(lambda: len(sender.sent[SLOW]) == 300, timeout=10)
    stop_event.set()
    await asyncio.wait_for(running, 3)
    # a query per round (the one woken, and the one after the quick chat is done), each leaving the
    # sending chat out in SQL; none reading page after page past its rows
    assert (set(rows_read), len(rows_read) <= 2, sender.sent[SLOW][:2], other_tasks()) == (
        {1}, True, ["Nhắc việc 0", "Nhắc việc 1"], set())


async def test_messages_queued_for_a_chat_while_it_sends_go_out_after_it_in_order(tmp_path: Path) -> None:
    # Many chats keep the worker busy while the slow chat's later messages wait their turn; each
    # of them arrives once, after the one in flight, and nothing waits for the idle poll.
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    stop_event = asyncio.Event()
    queue(db, clock, SLOW, "1")
    running = asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE))
    await asyncio.wait_for(sender.waiting.wait(), 3)
    for n in range(2, 6):
        queue(db, clock, SLOW, str(n))
        queue(db, clock, f"{QUICK}{n}", f"Trả lời {n}")
        worker.wakeup.set()
        assert await eventually(lambda n=n: sender.sent[f"{QUICK}{n}"] == [f"Trả lời {n}"])
    assert sender.sent[SLOW] == []
    sender.answer.set()
    assert await eventually(lambda: len(sender.sent[SLOW]) == 5)
    assert sender.sent[SLOW] == ["1", "2", "3", "4", "5"]
    stop_event.set()
    await asyncio.wait_for(running, 3)
    assert other_tasks() == set()


async def test_run_once_returns_only_when_everything_due_was_sent_including_a_chat_already_sending(
        tmp_path: Path) -> None:
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    stop_event = asyncio.Event()
    queue(db, clock, SLOW, "Một")
    running = asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE))
    await asyncio.wait_for(sender.waiting.wait(), 3)
    queue(db, clock, SLOW, "Hai")
    queue(db, clock, QUICK, "Chào anh")

    once = asyncio.create_task(worker.run_once())  # as the terminal does after each line
    assert await eventually(lambda: sender.sent[QUICK] == ["Chào anh"])
    await asyncio.sleep(0.1)
    assert not once.done()  # the slow chat's messages are due too
    sender.answer.set()
    await asyncio.wait_for(once, 3)
    assert (sender.sent[SLOW], statuses(db, SLOW), statuses(db, QUICK)) == (["Một", "Hai"], ["sent"] * 2, ["sent"])
    stop_event.set()
    await asyncio.wait_for(running, 3)
    assert other_tasks() == set()


async def test_run_once_alone_waits_for_every_chat_and_counts_what_it_sent(tmp_path: Path) -> None:
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    queue(db, clock, SLOW, "Một", "Hai")
    queue(db, clock, QUICK, "Chào anh")
    asyncio.get_running_loop().call_later(0.2, sender.answer.set)
    assert await worker.run_once() == 3
    assert (sender.sent[SLOW], sender.sent[QUICK]) == (["Một", "Hai"], ["Chào anh"])
    assert await worker.run_once() == 0
    assert other_tasks() == set()


async def test_stopping_during_a_send_waits_for_its_answer_and_leaves_no_task(tmp_path: Path) -> None:
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    stop_event = asyncio.Event()
    queue(db, clock, SLOW, "Một")
    running = asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE))
    await asyncio.wait_for(sender.waiting.wait(), 3)
    stop_event.set()
    await asyncio.sleep(0.2)
    assert (running.done(), statuses(db, SLOW)) == (False, ["sending"])  # not abandoned mid-send
    sender.answer.set()
    await asyncio.wait_for(running, 3)
    assert (sender.sent[SLOW], statuses(db, SLOW), other_tasks()) == (["Một"], ["sent"], set())


async def test_recovery_waits_while_a_send_is_in_flight(tmp_path: Path) -> None:
    # A row 'sending' while its send is still out is not one left over from a stop: recovering it
    # then would count it in doubt and send it again.
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    stop_event = asyncio.Event()
    running = asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE))
    assert await eventually(lambda: worker.recovered)
    queue(db, clock, SLOW, "Một")
    worker.wakeup.set()
    await asyncio.wait_for(sender.waiting.wait(), 3)

    recovering = asyncio.create_task(worker.recover())
    await asyncio.sleep(0.2)
    assert recovering.done() is False
    sender.answer.set()
    assert await asyncio.wait_for(recovering, 3) == 0
    row = db.execute("select status, in_doubt, attempts from outbox where chat_ref = ?", [SLOW]).fetchone()
    assert (row, sender.sent[SLOW]) == (("sent", 0, 1), ["Một"])
    stop_event.set()
    await asyncio.wait_for(running, 3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_over_telegram_a_late_answer_to_one_official_does_not_hold_up_another(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    config = dataclasses.replace(make_config(tmp_path), web=WebConfig(host="127.0.0.1", port=free_port()),
                                 telegram=TelegramConfig(api_base_url="http://unused.invalid", poll_timeout=1))
    services = build_services(config)
    running = await start(services, {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url})
    first, second = 42, 43
    try:
        tg.slow_next("sendMessage", 2.5)  # the fake takes the first reply and answers it late
        tg.user_text(first, "xin chào")
        await tg.wait_sent(1, first)
        tg.user_text(second, "xin chào")
        await tg.wait_sent(1, second, timeout=2.0)
        in_flight = services.db.execute("select status from outbox where chat_ref = ?", [str(first)]).fetchone()
        assert in_flight == ("sending",)  # the first official's answer had not come back yet
        assert [m["text"] for m in tg.sent(second)] == [msg.SMALLTALK_HELLO]
        await stop(running)  # waits for the late answer
        assert services.db.execute("select chat_ref, status from outbox order by id").fetchall() == [
            (str(first), "sent"), (str(second), "sent")]
    finally:
        if not running.stop_event.is_set():
            await stop(running)
        services.db.close()
