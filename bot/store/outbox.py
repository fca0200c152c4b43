"""The outbox: every message the bot sends is first a row, written in the same
transaction as the state change that caused it, then delivered by a worker.

A crash or a messenger outage therefore delays messages but loses none, and a
row marked sent is never sent again. Channels plug in a `Sender`; its errors
say whether to retry (and when) or to give up on that chat.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlite_utils import Database

from bot.models import Delivery, Reply
from bot.store.database import Writer, is_unavailable

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=30)
FIRST_BACKOFF = timedelta(seconds=5)
MAX_ATTEMPTS = 50  # about a day of retries at the longest backoff
BATCH = 50  # rows read per delivery round
SCAN_PAGES = 10  # pages a round reads past rows of chats no sender here serves (the terminal's), at most

ChatKey = tuple[str, str]  # (channel, chat_ref)


def _chat_text(key: ChatKey) -> str:
    """A chat as one string for SQL (channel and chat joined by a unit separator)."""
    return f"{key[0]}\x1f{key[1]}"


class DeliveryError(Exception):
    """A send failed. `permanent` means retrying cannot help (the user blocked the bot);
    `in_doubt` means the request went out but no answer came back, so the message may
    have arrived: it is not sent again (at most one copy), and it is recorded as such."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 hold: bool = False, in_doubt: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.hold = hold  # cannot be sent now, but can when the user writes again (Zalo's window)
        self.in_doubt = in_doubt


class Sender(Protocol):
    """What a channel gives the outbox: a way to send one reply to one chat."""

    async def send(self, delivery: Delivery) -> None: ...


Write = Callable[..., Awaitable[Any]]  # runs fn(*args) in a committed transaction


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def enqueue(db: Database, at: datetime, channel: str, chat_ref: str, reply: Reply,
            user_id: int | None = None, ticket_id: int | None = None) -> int:
    """Add a message to the outbox (call inside the caller's transaction).

    Plain SQL: this runs for every reply, and sqlite-utils' insert would read
    the table's schema each time.
    """
    stamp = iso(at)
    cursor = db.execute(
        "insert into outbox (created_at, channel, chat_ref, user_id, ticket_id, payload, status, attempts, "
        "next_attempt_at) values (?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
        [stamp, channel, chat_ref, user_id, ticket_id, reply.to_json(), stamp])
    return int(cursor.lastrowid)  # type: ignore[arg-type]


def release_held(db: Database, at: datetime, channel: str, chat_ref: str, notice: Reply | None = None) -> int:
    """Queue a chat's held messages again, after an optional notice; returns how many.

    The held rows are copied behind the notice (and marked 'released'), so the
    official reads "replies were waiting" first, then the replies in order.
    Call inside the caller's transaction.
    """
    held = list(db["outbox"].rows_where("status = 'held' and channel = ? and chat_ref = ?",
                                        [channel, chat_ref], order_by="id"))
    if not held:
        return 0
    if notice is not None:
        enqueue(db, at, channel, chat_ref, notice, user_id=held[0]["user_id"])
    for row in held:
        enqueue(db, at, channel, chat_ref, Reply.from_json(row["payload"]), row["user_id"], row["ticket_id"])
        db["outbox"].update(row["id"], {"status": "released"})
    return len(held)


def _backoff(attempts: int) -> timedelta:
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


IN_FLIGHT_AT_STOP = "in flight when the bot stopped: it may have arrived; sent again"


class OutboxWorker:
    """Delivers due outbox rows through the channels' senders, with retry and backoff.

    Each send is recorded before it starts (`sending`, `attempt_started_at`)
    and its outcome right after, in the same write that marks the chat's next
    message as started: one commit per message, and commits of concurrent
    chats are shared when `write` is the server's writer thread. A row still
    `sending` at start-up was in flight when the bot stopped: whether it
    arrived is unknown; it is sent again and counted in `in_doubt`.

    Each chat is served by its own task, one message at a time, and a round
    only starts tasks for chats with none running; it does not wait for them.
    So a slow answer from a messenger (Telegram can take its 30 s) holds up
    only that chat's later replies, never other officials'.
    """

    def __init__(self, db: Database, senders: Mapping[str, Sender],
                 clock: Callable[[], datetime],
                 on_hold: Callable[[Delivery], None] | None = None,
                 writer: Writer | None = None) -> None:
        self.db = db  # for reading what is due
        self.senders = senders
        self.clock = clock
        self.on_hold = on_hold  # called inside the write that holds the row
        # The bookkeeping runs on the server's writer thread and connection when there is one.
        self.wdb: Database = writer.db if writer is not None else db
        self.write: Write = writer.run if writer is not None else self._write_here
        self.wakeup = asyncio.Event()
        # One delivery round at a time: a round started while another runs (the terminal delivers
        # after each line while `run` delivers in the background) would read the same due rows
        # before either marked them as being sent, and send each twice.
        self._round = asyncio.Lock()
        self._batch_was_full = False
        self._unrecorded: list[tuple[Delivery, DeliveryError | None]] = []
        self.recovered = False
        # The chats being sent to, each by its task. A round's query passes over their rows (in
        # SQL: a chat with hundreds of reminders queued must not be read again by every round),
        # and a chat's task ending wakes the loop to send what came for it meanwhile.
        self._chats: dict[ChatKey, asyncio.Task[int]] = {}

    async def _write_here(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self.wdb.atomic():
            return fn(*args)

    def due(self, limit: int = BATCH) -> list[Delivery]:
        items = [self._delivery(r) for r in self._due_rows(limit)]
        # A sender may serve only some chats of its channel (a terminal serves its own).
        return [i for i in items if self._accepts(i.channel, i.chat_ref)]

    def _due_rows(self, limit: int, passed: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Due rows in order; `passed`: chats (`_chat_text`) whose rows are left out."""
        channels = list(self.senders)
        if not channels:
            return []
        marks = ",".join("?" for _ in channels)
        now = iso(self.clock())
        leave_out = "and channel || char(31) || chat_ref not in (select value from json_each(?)) " if passed else ""
        # Messages to one chat keep their order: nothing overtakes an earlier one
        # that is waiting for its retry.
        return list(self.db.query(
            f"select * from outbox where status = 'pending' and next_attempt_at <= ? {leave_out}"
            f"and channel in ({marks}) and not exists (select 1 from outbox o2 where "
            f"o2.status = 'pending' and o2.channel = outbox.channel and "
            f"o2.chat_ref = outbox.chat_ref and o2.id < outbox.id and o2.next_attempt_at > ?) "
            f"order by id limit ?",
            [now, *([json.dumps(list(passed))] if passed else []), *channels, now, limit],
        ))

    @staticmethod
    def _delivery(r: Mapping[str, Any]) -> Delivery:
        return Delivery(r["id"], r["channel"], r["chat_ref"], Reply.from_json(r["payload"]), r["attempts"],
                        r["user_id"], r["ticket_id"])

    def _accepts(self, channel: str, chat_ref: str) -> bool:
        accepts = getattr(self.senders[channel], "accepts", None)
        return accepts is None or accepts(chat_ref)

    def _due_by_chat(self) -> tuple[dict[ChatKey, list[Delivery]], bool]:
        """What is due, by chat, for chats with no send in flight (in order within each chat), and
        whether any chat was still sending (its rows were left out; it may have more due).

        Usually one query. Only when a full page held rows of chats no sender here
        serves (a terminal serves its own chat) is another page read, leaving out
        every chat already seen, so that those rows cannot hide the others'. Sets
        `_batch_was_full` when a round could not take everything that is due.
        """
        sending = bool(self._chats)
        passed = [_chat_text(key) for key in self._chats]
        by_chat: dict[ChatKey, list[Delivery]] = {}
        for _ in range(SCAN_PAGES):
            rows = self._due_rows(BATCH, passed)
            keys = {(r["channel"], r["chat_ref"]) for r in rows}
            refused = {key for key in keys if not self._accepts(*key)}
            for r in rows:
                if (r["channel"], r["chat_ref"]) not in refused:
                    by_chat.setdefault((r["channel"], r["chat_ref"]), []).append(self._delivery(r))
            full = len(rows) >= BATCH
            if not full or not refused:
                self._batch_was_full = full
                return by_chat, sending
            passed += [_chat_text(key) for key in keys]
        self._batch_was_full = bool(by_chat)
        return by_chat, sending

    # -- bookkeeping (runs inside `write`) ---------------------------------------------------

    def _recover(self) -> int:
        """At start: rows left `sending` were in flight at a stop; everything pending is due now."""
        channels = list(self.senders)
        if not channels:
            return 0
        marks = ",".join("?" for _ in channels)
        now = iso(self.clock())
        in_flight = self.wdb.execute(
            f"update outbox set status = 'pending', in_doubt = in_doubt + 1, last_error = ?, "
            f"next_attempt_at = ? where status = 'sending' and channel in ({marks})",
            [IN_FLIGHT_AT_STOP, now, *channels]).rowcount
        self.wdb.execute(f"update outbox set next_attempt_at = ? where status = 'pending' and channel in ({marks})",
                        [now, *channels])
        return in_flight

    def _start(self, items: list[Delivery]) -> None:
        now = iso(self.clock())
        self.wdb.conn.executemany(
            "update outbox set status = 'sending', attempts = attempts + 1, attempt_started_at = ? where id = ?",
            [(now, item.id) for item in items])

    def _record(self, outcomes: list[tuple[Delivery, DeliveryError | None]], following: Delivery | None) -> None:
        for item, error in outcomes:
            if error is None:
                self.wdb.execute("update outbox set status = 'sent', sent_at = ? where id = ?",
                                [iso(self.clock()), item.id])
            else:
                self._failed(item, error)
        if following is not None:
            self._start([following])

    def _failed(self, item: Delivery, exc: DeliveryError) -> None:
        attempts = item.attempts + 1
        error = str(exc)[:500]
        if exc.hold:
            log.info("outbox item %s to %s:%s held: %s", item.id, item.channel, item.chat_ref, exc)
            self.wdb.execute("update outbox set status = 'held', last_error = ? where id = ?", [error, item.id])
            if self.on_hold is not None:
                self.on_hold(item)
            return
        if exc.in_doubt:
            log.warning("outbox item %s to %s:%s may or may not have arrived (%s); not sent again",
                        item.id, item.channel, item.chat_ref, exc)
            self.wdb.execute("update outbox set status = 'unknown', in_doubt = in_doubt + 1, last_error = ? "
                            "where id = ?", [error, item.id])
            return
        if exc.permanent or attempts >= MAX_ATTEMPTS:
            status = "failed"
            log.warning("outbox item %s to %s:%s given up: %s", item.id, item.channel, item.chat_ref, exc)
        else:
            status = "pending"
            log.info("outbox item %s to %s:%s will be retried: %s", item.id, item.channel,
                     item.chat_ref, exc)
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else _backoff(attempts)
        self.wdb.execute("update outbox set status = ?, last_error = ?, next_attempt_at = ? where id = ?",
                        [status, error, iso(self.clock() + delay), item.id])
        if exc.permanent and item.user_id is not None:
            # Blocked the bot, or deleted the account: say so on the user, stop trying.
            self.wdb.execute("update users set unreachable = 1 where id = ?", [item.user_id])

    # -- sending ---------------------------------------------------------------------------------

    async def _attempt(self, item: Delivery) -> DeliveryError | None:
        """Send one item; None when it was sent, else why not."""
        try:
            await self.senders[item.channel].send(item)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug or an unexpected library error: keep the row, retry later
            log.exception("outbox item %s: unexpected error while sending", item.id)
            return DeliveryError(f"{type(exc).__name__}: {exc}")
        return None

    async def deliver(self, item: Delivery) -> bool:
        """Send one item and record the outcome; True when it was sent."""
        await self.write(self._start, [item])
        error = await self._attempt(item)
        await self.write(self._record, [(item, error)], None)
        return error is None

    async def _one_chat(self, items: list[Delivery]) -> int:
        """Send one chat's due messages in order, the first already recorded as started."""
        sent = 0
        for n, item in enumerate(items):
            error = await self._attempt(item)
            following = items[n + 1] if error is None and n + 1 < len(items) else None
            try:
                await self.write(self._record, [(item, error)], following)
            except Exception as exc:  # the database is down: keep the outcome, record it later
                log.warning("outbox: could not record the outcome of item %s (%s); will retry", item.id, exc)
                self._unrecorded.append((item, error))
                return sent
            if error is not None:
                return sent
            sent += 1
        return sent

    def _chat_done(self, key: ChatKey, task: asyncio.Task[int]) -> None:
        if self._chats.get(key) is task:
            del self._chats[key]
        if not task.cancelled() and task.exception() is not None:  # a bug: said here, as nobody awaits the task
            log.error("outbox: sending to %s:%s failed", *key, exc_info=task.exception())
        self.wakeup.set()  # what came for this chat while it was sending goes out now

    async def _start_round(self) -> tuple[list[asyncio.Task[int]], bool]:
        """Start sending to each chat with something due and no send in flight; does not wait
        for the sends. Returns the tasks started and whether chats already sending were left out.
        Call under `_round`.
        """
        if self._unrecorded:  # nothing is sent while an earlier outcome is not recorded
            outcomes = list(self._unrecorded)
            try:
                await self.write(self._record, outcomes, None)
            except Exception:
                self._batch_was_full = False
                return [], False
            del self._unrecorded[:len(outcomes)]  # (a chat may have added one meanwhile)
            if self._unrecorded:
                self._batch_was_full = False
                return [], False
        by_chat, sending = self._due_by_chat()
        if not by_chat:
            return [], sending
        try:
            await self.write(self._start, [items[0] for items in by_chat.values()])
        except Exception as exc:
            log.warning("outbox: cannot record sends before making them (%s); waiting", exc)
            self._batch_was_full = False
            return [], sending
        tasks = []
        for key, items in by_chat.items():
            task = asyncio.create_task(self._one_chat(items))
            self._chats[key] = task
            task.add_done_callback(lambda done, key=key: self._chat_done(key, done))
            tasks.append(task)
        return tasks, sending

    async def _wait_for(self, tasks: list[asyncio.Task[int]]) -> None:
        """Wait for chat tasks; cancelled meanwhile (the process is going away), cancel them too."""
        if not tasks:
            return
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise

    async def _drain(self) -> None:
        """Wait until no chat is being sent to (each send has its own timeout)."""
        while self._chats:
            await self._wait_for(list(self._chats.values()))
            await asyncio.sleep(0)  # let the tasks' done callbacks run

    async def run_once(self) -> int:
        """Deliver everything due now and wait until it is sent; returns how many this call sent.

        Chats are served concurrently (a slow or rate-limited chat does not hold
        up the others) and each chat's messages in order, stopping at the first
        failure so nothing overtakes it. Nothing is sent while an earlier
        outcome could not be recorded (the database is down). A chat already
        being sent to (by `run`) is waited for, then its rest sent.
        """
        sent = 0
        while True:
            async with self._round:
                started, sending = await self._start_round()
            await self._wait_for(started)
            sent += sum(task.result() for task in started if not task.cancelled() and task.exception() is None)
            if not sending:
                return sent
            await self._drain()

    async def recover(self) -> int:
        """Once, before the first round: see `_recover`."""
        async with self._round:  # no new sends meanwhile; and none in flight: their rows `sending` are not
            await self._drain()  # left over from a stop
            in_flight = await self.write(self._recover)
        self.recovered = True
        if in_flight:
            log.warning("outbox: %d message(s) were being sent when the bot stopped; whether they arrived "
                        "is unknown, so they are sent again (at most one extra copy each)", in_flight)
        return in_flight

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set, then wait for the sends in flight; `wakeup` makes new rows
        go out at once. A round starts the chats that are due and does not wait for them."""
        try:
            while not stop.is_set():
                self.wakeup.clear()  # before the round, so a wake-up during it is not lost
                try:
                    if not self.recovered:  # starting up: retry whatever waited through the downtime
                        await self.recover()
                    async with self._round:
                        await self._start_round()
                except Exception as exc:  # the database is down, or a bug: never stop delivering for good
                    if is_unavailable(exc):
                        log.warning("outbox: the database cannot be written (%s); trying again", exc)
                    else:
                        log.exception("outbox: a delivery round failed; trying again")
                    self._batch_was_full = False
                if self._batch_was_full or self.wakeup.is_set():
                    continue  # more is due already: no pause
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self.wakeup.wait())]
                _, pending = await asyncio.wait(waiters, timeout=idle_seconds,
                                                return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
            await self._drain()  # no send is abandoned half-way, nor left running
        except asyncio.CancelledError:
            for task in list(self._chats.values()):
                task.cancel()
            raise
