"""The outbox: every message the bot sends is first a row, written in the same
transaction as the state change that caused it, then delivered by a worker.

A crash or a messenger outage therefore delays messages but loses none, and a
row marked sent is never sent again. Channels plug in a `Sender`; its errors
say whether to retry (and when) or to give up on that chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from sqlite_utils import Database

from bot.models import Delivery, Reply

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=30)
FIRST_BACKOFF = timedelta(seconds=5)
MAX_ATTEMPTS = 50  # about a day of retries at the longest backoff
BATCH = 50  # rows read per delivery round


class DeliveryError(Exception):
    """A send failed. `permanent` means retrying cannot help (the user blocked the bot)."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 hold: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.hold = hold  # cannot be sent now, but can when the user writes again (Zalo's window)


class Sender(Protocol):
    """What a channel gives the outbox: a way to send one reply to one chat."""

    async def send(self, delivery: Delivery) -> None: ...


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def enqueue(db: Database, at: datetime, channel: str, chat_ref: str, reply: Reply,
            user_id: int | None = None, ticket_id: int | None = None) -> int:
    """Add a message to the outbox (call inside the caller's transaction)."""
    table = db["outbox"]
    table.insert({
        "created_at": iso(at), "channel": channel, "chat_ref": chat_ref, "user_id": user_id,
        "ticket_id": ticket_id, "payload": reply.to_json(), "status": "pending",
        "attempts": 0, "next_attempt_at": iso(at),
    })
    return int(table.last_pk)  # type: ignore[arg-type]


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


class OutboxWorker:
    """Delivers due outbox rows through the channels' senders, with retry and backoff."""

    def __init__(self, db: Database, senders: Mapping[str, Sender],
                 clock: Callable[[], datetime],
                 on_hold: Callable[[Delivery], None] | None = None) -> None:
        self.db = db
        self.senders = senders
        self.clock = clock
        self.on_hold = on_hold
        self.wakeup = asyncio.Event()
        self._batch_was_full = False

    def due(self, limit: int = BATCH) -> list[Delivery]:
        channels = list(self.senders)
        if not channels:
            return []
        marks = ",".join("?" for _ in channels)
        now = iso(self.clock())
        # Messages to one chat keep their order: nothing overtakes an earlier one
        # that is waiting for its retry.
        rows = self.db.query(
            f"select * from outbox where status = 'pending' and next_attempt_at <= ? "
            f"and channel in ({marks}) and not exists (select 1 from outbox o2 where "
            f"o2.status = 'pending' and o2.channel = outbox.channel and "
            f"o2.chat_ref = outbox.chat_ref and o2.id < outbox.id and o2.next_attempt_at > ?) "
            f"order by id limit ?",
            [now, *channels, now, limit],
        )
        items = [
            Delivery(r["id"], r["channel"], r["chat_ref"], Reply.from_json(r["payload"]), r["attempts"],
                     r["user_id"], r["ticket_id"])
            for r in rows
        ]
        # A sender may serve only some chats of its channel (a terminal serves its own).
        return [i for i in items if getattr(self.senders[i.channel], "accepts", lambda _: True)(i.chat_ref)]

    async def deliver(self, item: Delivery) -> bool:
        """Send one item and record the outcome; True when it was sent."""
        sender = self.senders[item.channel]
        try:
            await sender.send(item)
        except DeliveryError as exc:
            self._failed(item, exc)
            return False
        except Exception as exc:  # a bug or an unexpected library error: keep the row, retry later
            log.exception("outbox item %s: unexpected error while sending", item.id)
            self._failed(item, DeliveryError(f"{type(exc).__name__}: {exc}"))
            return False
        with self.db.atomic():
            self.db["outbox"].update(item.id, {"status": "sent", "sent_at": iso(self.clock()),
                                               "attempts": item.attempts + 1})
        return True

    def _failed(self, item: Delivery, exc: DeliveryError) -> None:
        attempts = item.attempts + 1
        if exc.hold:
            log.info("outbox item %s to %s:%s held: %s", item.id, item.channel, item.chat_ref, exc)
            with self.db.atomic():
                self.db["outbox"].update(item.id, {"status": "held", "last_error": str(exc)[:500]})
                if self.on_hold is not None:
                    self.on_hold(item)
            return
        if exc.permanent or attempts >= MAX_ATTEMPTS:
            status = "failed"
            log.warning("outbox item %s to %s:%s given up: %s", item.id, item.channel, item.chat_ref, exc)
        else:
            status = "pending"
            log.info("outbox item %s to %s:%s will be retried: %s", item.id, item.channel,
                     item.chat_ref, exc)
        delay = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else _backoff(attempts)
        with self.db.atomic():
            self.db["outbox"].update(item.id, {
                "status": status, "attempts": attempts, "last_error": str(exc)[:500],
                "next_attempt_at": iso(self.clock() + delay),
            })
            if exc.permanent and item.user_id is not None:
                # Blocked the bot, or deleted the account: say so on the user, stop trying.
                self.db["users"].update(item.user_id, {"unreachable": 1})

    async def run_once(self) -> int:
        """Deliver everything due now; returns how many were sent.

        Chats are served concurrently (a slow or rate-limited chat does not hold
        up the others) and each chat's messages in order, stopping at the first
        failure so nothing overtakes it.
        """
        by_chat: dict[tuple[str, str], list[Delivery]] = {}
        due = self.due()
        self._batch_was_full = len(due) >= BATCH
        for item in due:
            by_chat.setdefault((item.channel, item.chat_ref), []).append(item)

        async def one_chat(items: list[Delivery]) -> int:
            sent = 0
            for item in items:
                if not await self.deliver(item):
                    break
                sent += 1
            return sent

        return sum(await asyncio.gather(*(one_chat(items) for items in by_chat.values())))

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set; `wakeup` makes new rows go out at once."""
        # Starting up is a good moment to retry whatever waited through the downtime.
        with self.db.atomic():
            self.db.execute("update outbox set next_attempt_at = ? where status = 'pending'",
                            [iso(self.clock())])
        while not stop.is_set():
            self.wakeup.clear()  # before the round, so a wake-up during it is not lost
            await self.run_once()
            if self._batch_was_full or self.wakeup.is_set():
                continue  # more is due already: no pause
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self.wakeup.wait())]
            _, pending = await asyncio.wait(waiters, timeout=idle_seconds,
                                            return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
