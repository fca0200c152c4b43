"""Storage under contention and faults: real SQLite files, another connection or process holding the lock."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import socket
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import messages as msg
from bot.app import build_services
from bot.channels import telegram as tgmod
from bot.config import PeopleConfig, TelegramConfig, WebConfig, load_config
from bot.models import Delivery, Reply
from bot.runner import start, stop
from bot.store.database import Reader, StorageUnavailable, Writer, connect
from bot.store.outbox import IN_FLIGHT_AT_STOP, OutboxWorker, enqueue
from bot.store.schema import open_database
from bot.web.console import console_routes
from tests.fake_telegram import FakeTelegram, tg  # noqa: F401 - the fixture
from tests.harness import REPO, Bot, Clock, RecordingSender, config_file, make_config

ADMIN = 1000
OFFICIAL = 42


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock (as a stuck process would)."""
    other = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


# -- the connection and the writer ------------------------------------------------------------


def test_a_write_transaction_takes_the_write_lock_when_it_begins(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.sqlite")
    other = sqlite3.connect(str(tmp_path / "bot.sqlite"), isolation_level=None, timeout=0)
    with db.atomic():  # nothing written yet: a deferred BEGIN would not hold the lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # released at commit
    other.execute("ROLLBACK")


def test_jobs_waiting_for_the_writer_share_one_commit_and_a_failing_job_is_undone_alone(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.sqlite")
    db.execute("create table t (n integer)")
    writer = Writer(connect(tmp_path / "bot.sqlite"))
    entered, gate = threading.Event(), threading.Event()

    def hold() -> bool:
        entered.set()
        return gate.wait(5)

    first = writer.submit(hold)  # holds the writer while the others queue up
    assert entered.wait(5)

    def insert(n: int) -> int:
        writer.db.execute("insert into t values (?)", [n])
        if n == 2:
            raise ValueError("a bug in this job")
        return n

    others = [writer.submit(insert, n) for n in (1, 2, 3)]
    gate.set()
    assert first.result(5) is True
    assert [others[0].result(5), others[2].result(5)] == [1, 3]
    with pytest.raises(ValueError, match="a bug in this job"):
        others[1].result(5)
    assert [r[0] for r in db.execute("select n from t order by n")] == [1, 3]
    assert writer.commits == 2
    writer.close()


def test_a_job_alone_in_its_transaction_that_fails_leaves_nothing_and_the_next_job_writes(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.sqlite")
    db.execute("create table t (n integer)")
    writer = Writer(connect(tmp_path / "bot.sqlite"))
    statements: list[str] = []
    writer.db.conn.set_trace_callback(statements.append)

    def insert(n: int) -> int:
        writer.db.execute("insert into t values (?)", [n])
        if n == 1:
            raise ValueError("a bug in this job")
        return n

    with pytest.raises(ValueError, match="a bug in this job"):
        writer.call(insert, 1)
    assert writer.call(insert, 2) == 2
    assert [r[0] for r in db.execute("select n from t")] == [2]
    assert statements == ["BEGIN IMMEDIATE", "insert into t values (1)", "ROLLBACK",
                          "BEGIN IMMEDIATE", "insert into t values (2)", "COMMIT"]
    assert (writer.commits, writer.fault) == (2, None)
    writer.close()


def test_a_select_reads_without_a_savepoint_and_nested_blocks_undo_only_their_own_writes(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.sqlite")
    db.execute("create table t (n integer, m integer)")
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    with db.atomic():
        db.execute("insert into t values (1, 10)")
        with pytest.raises(ValueError), db.atomic():
            db.execute("insert into t values (2, 20)")
            raise ValueError("undo the inner block")
        with db.atomic():
            db.execute("insert into t values (3, 30)")
    assert list(db.query("select n, m as n from t order by n")) == [{"n": 1, "n_2": 10}, {"n": 3, "n_2": 30}]
    assert statements == ["BEGIN IMMEDIATE", "insert into t values (1, 10)",
                          "SAVEPOINT atomic0", "insert into t values (2, 20)", "ROLLBACK TO atomic0", "RELEASE atomic0",
                          "SAVEPOINT atomic0", "insert into t values (3, 30)", "RELEASE atomic0", "COMMIT",
                          "select n, m as n from t order by n"]


def test_a_lock_held_too_long_fails_the_write_as_storage_unavailable_until_it_is_released(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    open_database(path)
    writer = Writer(connect(path, busy_timeout=0.2))
    recovered: list[str] = []
    writer.on_recovered.append(lambda reason, since: recovered.append(reason))
    with write_lock_held(path):
        with pytest.raises(StorageUnavailable, match="locked"):
            writer.call(lambda: None)
        assert re.match(r"StorageUnavailable: .*locked", writer.probe() or "")
        assert recovered == []
    assert writer.probe() is None
    assert (writer.fault, len(recovered)) == (None, 1)
    writer.close()


async def test_the_pages_reader_reads_on_its_own_thread_while_the_writer_holds_the_lock_and_cannot_write(
        tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    open_database(path)
    reader = Reader(connect(path))
    try:
        with write_lock_held(path):  # WAL: a big page's read never waits for a write, nor a write for it
            seen = await reader.run(lambda: (threading.current_thread().name.split("_")[0],
                                             reader.db.execute("select count(*) from tickets").fetchone()[0]))
        assert seen == ("reader", 0)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reader.run(reader.db.execute, "insert into canned_replies (title, text) values ('a', 'b')")
    finally:
        reader.close()


# -- nothing acknowledged while the database cannot be written ---------------------------------


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tgmod, "PRIVATE_INTERVAL", 0.0)
    monkeypatch.setattr(tgmod, "GROUP_INTERVAL", 0.0)


async def test_telegram_webhook_is_refused_while_the_database_is_locked_then_the_redelivery_is_answered_once(
        tg: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    port = free_port()
    config = dataclasses.replace(
        make_config(tmp_path), people=PeopleConfig(admins=(f"telegram:{ADMIN}",)),
        telegram=TelegramConfig(api_base_url="http://unused.invalid", poll_timeout=1,
                                webhook_url=f"http://127.0.0.1:{port}/telegram/webhook"),
        web=WebConfig(host="127.0.0.1", port=port))
    services = build_services(config, busy_timeout=0.3)
    running = await start(services, {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url,
                                     "TELEGRAM_WEBHOOK_SECRET": "s3cret"})
    update = {"update_id": 7, "message": {"message_id": 5, "date": 1750000000,
              "chat": {"id": OFFICIAL, "type": "private"},
              "from": {"id": OFFICIAL, "is_bot": False, "first_name": "An"}, "text": "xin chào"}}
    health = f"http://127.0.0.1:{port}/healthz"
    try:
        async with aiohttp.ClientSession() as http:
            with write_lock_held(config.database):
                assert await tg.post_webhook(update, "s3cret") == 503
                async with http.get(health) as resp:
                    body = await resp.json()
                    assert (resp.status, body["ok"], body["storage"]) == (503, False, "cannot write")
            assert tg.sent(OFFICIAL) == []
            assert services.db["processed_updates"].count == 0
            assert await tg.post_webhook(update, "s3cret") == 200  # Telegram delivers it again
            assert await tg.post_webhook(update, "s3cret") == 200  # and once more: nothing twice
            await tg.wait_sent(1, OFFICIAL)
            (hello,) = tg.sent(OFFICIAL)
            assert hello["text"] == msg.SMALLTALK_HELLO
            await tg.wait_sent(1, ADMIN)
            (notice,) = tg.sent(ADMIN)
            assert notice["text"].startswith("⚠️ Cơ sở dữ liệu của bot bị lỗi ghi từ ")
            async with http.get(health) as resp:
                assert (resp.status, (await resp.json())["storage"]) == (200, "ok")
            await asyncio.sleep(0.2)
            assert len(tg.sent(OFFICIAL)) == 1
    finally:
        await stop(running)
        services.db.close()


@pytest.fixture
async def web_chat(tmp_path: Path) -> AsyncIterator[tuple[TestClient, object, Path]]:
    config = make_config(tmp_path)
    services = build_services(config, Clock(), busy_timeout=0.3)
    routes, sender, _ = console_routes(services, True)
    app = web.Application()
    app.add_routes(routes)
    client = TestClient(TestServer(app))
    await client.start_server()
    worker = OutboxWorker(services.db, {"web": sender}, services.clock, writer=services.writer)
    try:
        yield client, worker, config.database
    finally:
        await client.close()
        services.writer.close()
        services.db.close()


async def test_the_web_chat_says_try_again_while_the_database_is_locked_and_stores_nothing(
        web_chat: tuple[TestClient, OutboxWorker, Path]) -> None:
    client, worker, path = web_chat
    page = await (await client.get("/chat")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    with write_lock_held(path):
        response = await client.post("/chat/api/send", data={"csrf": csrf, "text": "xin chào", "nonce": "n1"})
        assert (response.status, await response.json()) == (503, {"error": msg.WEB_TRY_AGAIN})
    assert (await (await client.get("/chat/api/messages?after=0")).json())["messages"] == []
    response = await client.post("/chat/api/send", data={"csrf": csrf, "text": "xin chào", "nonce": "n1"})
    assert response.status == 200
    await worker.run_once()
    messages = (await (await client.get("/chat/api/messages?after=0")).json())["messages"]
    assert [(m["from"], m["text"]) for m in messages] == [("me", "xin chào"), ("bot", msg.SMALLTALK_HELLO)]


def test_the_chat_page_keeps_the_typed_text_when_the_server_says_try_again() -> None:
    script = (Path(__file__).parent.parent / "bot" / "web" / "static" / "chat.js").read_text()
    assert 'if (!d.error) { text.value = ""; photo.value = ""; }' in script


# -- the outbox knows what was in flight ---------------------------------------------------------


class StuckSender:
    """A channel whose first send never returns: the process dies while it is in flight."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, delivery: Delivery) -> None:
        if not self.started.is_set():
            self.started.set()
            await asyncio.Event().wait()
        self.sent.append(delivery.reply.text)


async def test_a_send_in_flight_when_the_bot_stops_is_known_and_sent_again_once(tmp_path: Path) -> None:
    bot = Bot(make_config(tmp_path))
    db = bot.services.db
    with db.atomic():
        row_id = enqueue(db, bot.clock(), "test", "an", Reply("Anh thử lại nhé"))
    sender = StuckSender()
    worker = OutboxWorker(db, {"test": sender}, bot.clock)
    round_ = asyncio.create_task(worker.run_once())
    await sender.started.wait()
    row = db["outbox"].get(row_id)
    assert (row["status"], row["attempts"], row["attempt_started_at"]) == ("sending", 1, bot.clock().isoformat())
    round_.cancel()  # the process goes away mid-send

    restarted = OutboxWorker(db, {"test": sender}, bot.clock)
    assert await restarted.recover() == 1
    row = db["outbox"].get(row_id)
    assert (row["status"], row["in_doubt"], row["last_error"]) == ("pending", 1, IN_FLIGHT_AT_STOP)
    assert await restarted.run_once() == 1
    assert await restarted.run_once() == 0
    assert (sender.sent, db["outbox"].get(row_id)["status"]) == (["Anh thử lại nhé"], "sent")


async def test_delivery_rounds_started_together_send_each_message_once(tmp_path: Path) -> None:
    # The terminal delivers after each line while the worker also delivers in the background,
    # and a starting worker recovers what was in flight: none of them may send a row twice.
    bot = Bot(make_config(tmp_path))
    db = bot.services.db
    with db.atomic():
        enqueue(db, bot.clock(), "test", "an", Reply("Chào anh"))
    sender = RecordingSender()
    worker = OutboxWorker(db, {"test": sender}, bot.clock, writer=bot.services.writer)
    counts = await asyncio.gather(worker.recover(), worker.run_once(), worker.run_once())
    assert (counts, [reply.text for reply in sender.sent["an"]]) == ([0, 1, 0], ["Chào anh"])
    bot.services.writer.close()


class CommittedRowsSender:
    """A channel that, as each send starts, reads the chat's outbox rows from another connection:
    what a process killed at that instant would find committed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[list[tuple[int, str]]] = []

    async def send(self, delivery: Delivery) -> None:
        other = sqlite3.connect(str(self.path))
        try:
            self.seen.append(other.execute("select id, status from outbox where chat_ref = ? order by id",
                                           [delivery.chat_ref]).fetchall())
        finally:
            other.close()


async def test_each_send_is_committed_as_started_and_its_outcome_before_the_chats_next_send(
        tmp_path: Path) -> None:
    # A kill sends again only the message whose send had started and not been recorded: never one
    # whose answer had come back (its 'sent' waiting for the chat's later messages or the round's end).
    bot = Bot(make_config(tmp_path))
    db = bot.services.db
    with db.atomic():
        a, b, c = (enqueue(db, bot.clock(), "test", "an", Reply(text)) for text in ("Một", "Hai", "Ba"))
    sender = CommittedRowsSender(tmp_path / "bot.sqlite")
    worker = OutboxWorker(db, {"test": sender}, bot.clock, writer=bot.services.writer)
    assert await worker.run_once() == 3
    assert sender.seen == [
        [(a, "sending"), (b, "pending"), (c, "pending")],
        [(a, "sent"), (b, "sending"), (c, "pending")],
        [(a, "sent"), (b, "sent"), (c, "sending")],
    ]
    assert [r[0] for r in db.execute("select status from outbox order by id")] == ["sent"] * 3
    bot.services.writer.close()


# -- a second writer beside a busy server --------------------------------------------------------


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args[:1], "--config", str(config), *args[1:]]


async def test_a_second_process_writes_while_the_server_is_under_load_with_no_failures(tmp_path: Path) -> None:
    port = free_port()
    config = config_file(tmp_path, port=port)
    setup = Bot(load_config(config))  # a ticket for the technician to work on
    setup.register("an")
    ticket = setup.open_ticket("an")
    setup.services.db.close()

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = await asyncio.create_subprocess_exec(*_cli(config, "run"), cwd=tmp_path, env=env,
                                                  stdout=asyncio.subprocess.DEVNULL,
                                                  stderr=asyncio.subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    statuses: list[int] = []
    try:
        async with aiohttp.ClientSession() as probe:
            for _ in range(200):
                try:
                    async with probe.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the server did not start")
        stop_load = asyncio.Event()

        async def official(n: int) -> None:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                page = await (await http.get(f"{base}/chat")).text()
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                k = 0
                while not stop_load.is_set():
                    k += 1
                    async with http.post(f"{base}/chat/api/send",
                                         data={"csrf": csrf, "text": f"quên mật khẩu một cửa {n}.{k}"}) as resp:
                        statuses.append(resp.status)

        load = [asyncio.create_task(official(n)) for n in range(8)]
        results = []
        for k in range(4):
            cli = await asyncio.create_subprocess_exec(
                *_cli(config, "tickets", "note", str(ticket), f"ghi chú {k}"), cwd=tmp_path, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await cli.communicate()
            results.append((cli.returncode, err.decode()[-300:]))
        stop_load.set()
        await asyncio.gather(*load)
    finally:
        server.terminate()
        _, server_err = await server.communicate()
    # (stderr may carry the knowledge base's warnings; it must carry no error)
    assert [(code, "Error" in err or "locked" in err) for code, err in results] == [(0, False)] * 4, results
    assert len(statuses) >= 20 and set(statuses) == {200}, server_err.decode()[-2000:]
    db = open_database(config_file(tmp_path).parent / "data" / "bot.sqlite")
    notes = [r[0] for r in db.execute("select text from ticket_events where ticket_id = ? and kind = 'note' "
                                      "order by id", [ticket])]
    assert notes == [f"ghi chú {k}" for k in range(4)]


async def test_a_send_answered_after_the_client_gave_up_is_recorded_in_doubt_and_not_sent_again(
        tg: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(tgmod, "SEND_READ_TIMEOUT", 0.3)
    config = dataclasses.replace(make_config(tmp_path), web=WebConfig(host="127.0.0.1", port=free_port()),
                                 telegram=TelegramConfig(api_base_url="http://unused.invalid", poll_timeout=1))
    services = build_services(config)
    running = await start(services, {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url})
    try:
        tg.slow_next("sendMessage", 1.0)  # Telegram takes the message but answers late
        tg.user_text(OFFICIAL, "xin chào")
        await tg.wait_sent(1, OFFICIAL)
        await tg.wait_for(lambda t: services.db.execute(
            "select status from outbox where chat_ref = ?", [str(OFFICIAL)]).fetchone()[0] == "unknown")
        row = services.db.execute("select attempts, in_doubt, last_error from outbox where chat_ref = ?",
                                  [str(OFFICIAL)]).fetchone()
        assert row == (1, 1, "no answer from Telegram within 0.3 s; the message may have arrived")
        await asyncio.sleep(1.5)
        assert [m["text"] for m in tg.sent(OFFICIAL)] == [msg.SMALLTALK_HELLO]
    finally:
        await stop(running)
        services.db.close()
