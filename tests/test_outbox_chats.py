"""The outbox serves chats independently: one chat's slow send holds up only that chat's later replies.

Real SQLite files; a channel whose sends to one chat wait until the test lets them answer (as
Telegram sometimes answers after 10-30 s), and the real Telegram channel beside a fake Bot API.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
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


@dataclasses.dataclass
class Running:
    """A worker delivering in the background (`run`) through a GatedSender, on a real SQLite file."""

    db: Store
    clock: Clock
    sender: GatedSender
    worker: OutboxWorker
    stop_event: asyncio.Event
    task: asyncio.Task

    def queue(self, chat: str, *texts: str) -> None:
        queue(self.db, self.clock, chat, *texts)

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 3)


@contextlib.asynccontextmanager
async def running_worker(tmp_path: Path, slow: tuple[str, ...] = ()) -> AsyncIterator[Running]:
    """The worker running; `slow`: messages queued to SLOW first, the first of them in flight on entry."""
    db, clock, sender = open_database(tmp_path / "bot.sqlite"), Clock(), GatedSender()
    worker = OutboxWorker(db, {"test": sender}, clock)
    queue(db, clock, SLOW, *slow)
    stop_event = asyncio.Event()
    rig = Running(db, clock, sender, worker, stop_event,
                  asyncio.create_task(worker.run(stop_event, idle_seconds=IDLE)))
    if slow:
        await asyncio.wait_for(sender.waiting.wait(), 3)
    try:
        yield rig
    finally:
        sender.answer.set()
        if not rig.task.done():
            await rig.stop()


async def test_a_reply_to_another_chat_goes_out_while_one_chat_waits_for_its_answer(tmp_path: Path) -> None:
    async with running_worker(tmp_path, slow=("Một",)) as rig:
        rig.queue(SLOW, "Hai", "Ba")  # behind the message in flight: they wait for it
        rig.queue(QUICK, "Chào anh")  # another official: not held up by it
        rig.worker.wakeup.set()  # as the writer does after each commit
        assert await eventually(lambda: rig.sender.sent[QUICK] == ["Chào anh"]), "the quick chat waited"
        assert (rig.sender.sent[SLOW], statuses(rig.db, SLOW)) == ([], ["sending", "pending", "pending"])

        rig.sender.answer.set()  # the slow chat's answer comes: its rest goes out, in order, without a poll
        assert await eventually(lambda: rig.sender.sent[SLOW] == ["Một", "Hai", "Ba"]), rig.sender.sent
        assert statuses(rig.db, SLOW) == ["sent"] * 3
    assert other_tasks() == set()


async def test_a_long_queue_for_a_chat_still_sending_is_not_read_again_by_every_round(tmp_path: Path) -> None:
    # After a night offline a technicians' group may have hundreds of reminders queued; while
    # they go out one by one, each round (one per commit) reads only the other chats' rows.
    async with running_worker(tmp_path, slow=tuple(f"Nhắc việc {n}" for n in range(300))) as rig:
        rows_read: list[int] = []
        rig.db.conn.set_trace_callback(
            lambda sql: rows_read.append(sql.count("json_each")) if "from outbox" in sql else None)
        rig.queue(QUICK, "Chào anh")
        rig.worker.wakeup.set()
        assert await eventually(lambda: rig.sender.sent[QUICK] == ["Chào anh"])
        rig.db.conn.set_trace_callback(None)
        rig.sender.answer.set()
        assert await eventually(lambda: len(rig.sender.sent[SLOW]) == 300, timeout=10)
    # a query per round (the one woken, and the one after the quick chat is done), each leaving the
    # sending chat out in SQL; none reading page after page past its rows
    assert (set(rows_read), len(rows_read) <= 2, rig.sender.sent[SLOW][:2], other_tasks()) == (
        {1}, True, ["Nhắc việc 0", "Nhắc việc 1"], set())


async def test_messages_queued_for_a_chat_while_it_sends_go_out_after_it_in_order(tmp_path: Path) -> None:
    # Many chats keep the worker busy while the slow chat's later messages wait their turn; each
    # of them arrives once, after the one in flight, and nothing waits for the idle poll.
    async with running_worker(tmp_path, slow=("1",)) as rig:
        for n in range(2, 6):
            rig.queue(SLOW, str(n))
            rig.queue(f"{QUICK}{n}", f"Trả lời {n}")
            rig.worker.wakeup.set()
            assert await eventually(lambda n=n: rig.sender.sent[f"{QUICK}{n}"] == [f"Trả lời {n}"])
        assert rig.sender.sent[SLOW] == []
        rig.sender.answer.set()
        assert await eventually(lambda: len(rig.sender.sent[SLOW]) == 5)
        assert rig.sender.sent[SLOW] == ["1", "2", "3", "4", "5"]
    assert other_tasks() == set()


async def test_run_once_returns_only_when_everything_due_was_sent_including_a_chat_already_sending(
        tmp_path: Path) -> None:
    async with running_worker(tmp_path, slow=("Một",)) as rig:
        rig.queue(SLOW, "Hai")
        rig.queue(QUICK, "Chào anh")

        once = asyncio.create_task(rig.worker.run_once())  # as the terminal does after each line
        assert await eventually(lambda: rig.sender.sent[QUICK] == ["Chào anh"])
        await asyncio.sleep(0.1)
        assert not once.done()  # the slow chat's messages are due too
        rig.sender.answer.set()
        await asyncio.wait_for(once, 3)
        assert (rig.sender.sent[SLOW], statuses(rig.db, SLOW), statuses(rig.db, QUICK)) == (
            ["Một", "Hai"], ["sent"] * 2, ["sent"])
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
    async with running_worker(tmp_path, slow=("Một",)) as rig:
        rig.stop_event.set()
        await asyncio.sleep(0.2)
        assert (rig.task.done(), statuses(rig.db, SLOW)) == (False, ["sending"])  # not abandoned mid-send
        rig.sender.answer.set()
        await asyncio.wait_for(rig.task, 3)
        assert (rig.sender.sent[SLOW], statuses(rig.db, SLOW), other_tasks()) == (["Một"], ["sent"], set())


async def test_recovery_waits_while_a_send_is_in_flight(tmp_path: Path) -> None:
    # A row 'sending' while its send is still out is not one left over from a stop: recovering it
    # then would count it in doubt and send it again.
    async with running_worker(tmp_path) as rig:
        assert await eventually(lambda: rig.worker.recovered)
        rig.queue(SLOW, "Một")
        rig.worker.wakeup.set()
        await asyncio.wait_for(rig.sender.waiting.wait(), 3)

        recovering = asyncio.create_task(rig.worker.recover())
        await asyncio.sleep(0.2)
        assert recovering.done() is False
        rig.sender.answer.set()
        assert await asyncio.wait_for(recovering, 3) == 0
        row = rig.db.execute("select status, in_doubt, attempts from outbox where chat_ref = ?", [SLOW]).fetchone()
        assert (row, rig.sender.sent[SLOW]) == (("sent", 0, 1), ["Một"])


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
