"""The composition root: config in, every long-lived service out.

Only this module (and the command line that calls it) knows how the pieces
fit; everything else receives what it needs as arguments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from bot import messages as msg
from bot.config import Config
from bot.desk.conversation import Engine
from bot.desk.incidents import Incidents
from bot.desk.people import People
from bot.desk.tickets import TicketStore
from bot.desk.workhours import WorkingHours
from bot.knowledge.base import MAX_TITLE_CHARS, province_file
from bot.knowledge.communes import Commune, load_communes
from bot.knowledge.live import Faq
from bot.models import ChannelTraits, Choice, Incoming, Outcome, Reply
from bot.store.attachments import AttachmentStore
from bot.store.database import BUSY_TIMEOUT, Reader, Store, Writer, connect
from bot.store.outbox import enqueue
from bot.store.schema import open_database

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)
TICK_SECONDS = 60.0
# What each channel can show, so the core words prompts truthfully ("bấm" only where there are
# buttons, "gõ số" where choices are numbered, the share-phone button only on Telegram) and
# shortens labels only where a button must fit a phone screen (an FAQ entry's `title` fits, and
# `faq check` warns of a longer question that has none).
CHANNEL_TRAITS: dict[str, ChannelTraits] = {
    "telegram": ChannelTraits(buttons=True, numbered=False, share_contact=True, label_limit=MAX_TITLE_CHARS),
    "web": ChannelTraits(buttons=True, numbered=False),
    "zalo_oa": ChannelTraits(buttons=True, numbered=True),  # ≤ 5 buttons, else numbered lines: never cut
    "zalo": ChannelTraits(buttons=False, numbered=True),
    "terminal": ChannelTraits(buttons=False, numbered=True),
}


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The core, wired. Two connections to one database, on purpose:

    - `db`, `people`, `tickets`: for the event loop — pages and checks that
      read (and a few small writes that have not moved yet);
    - `writer` (its own connection and thread) and `engine` built on it: every
      update's handling, the timers and the outbox's bookkeeping, so that a
      slow disk or a lock held by another process never stalls the loop;
    - `reader` (its own read-only connection and thread) and `reads` built on
      it: the technicians' pages, so that a big list never stalls the loop.
    """

    config: Config
    db: Database
    faq: Faq
    people: People
    tickets: TicketStore
    engine: Engine
    calendar: WorkingHours
    communes: tuple[Commune, ...]
    clock: Clock
    writer: Writer
    attachments: AttachmentStore  # images, sanitised, beside the database: every channel stores photos here
    reader: Reader
    reads: TicketStore  # on the reader's connection: call it only inside `reader.run`

    def close(self) -> None:
        """Stop the writer and the reader threads and close every connection."""
        self.writer.close()
        self.reader.close()
        self.db.close()

    def handle(self, incoming: Incoming) -> Awaitable[Outcome]:
        """Handle one update on the writer thread; the result is ready once it is committed.

        Queued at the call, not at the first await: updates handed over one
        after the other are handled in that order even when awaited together.
        Raises `StorageUnavailable` when the database cannot be written: the
        caller must then not acknowledge the update, so that it comes again.
        """
        return asyncio.wrap_future(self.writer.submit(self.engine.handle, incoming))

    def remember_choices(self, channel: str, user_ref: str, choices: Sequence[Choice]) -> None:
        """For numbered-choice channels while sending: queued on the writer, not awaited."""
        future = self.writer.submit(self.engine.remember_choices, channel, user_ref, choices)
        future.add_done_callback(_log_failure)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("remembering offered choices failed: %s", future.exception())


def build_services(config: Config, clock: Clock = system_clock,
                   on_outbox: Callable[[], None] | None = None, busy_timeout: float = BUSY_TIMEOUT) -> Services:
    """Open the database, load the knowledge base and wire the core together.

    `busy_timeout`: how long the writer waits for another process's lock before
    a write counts as failed (and the update is not acknowledged).
    """
    wh = config.working_hours
    calendar = WorkingHours.from_config(list(wh.days), list(wh.periods), list(wh.holidays),
                                        list(wh.extra_workdays), wh.timezone, "working_hours")
    faq = Faq(config.knowledge_dir, config.matcher)
    communes = load_communes(province_file(config.knowledge_dir, "communes.yaml"))
    commune_names = {c.id: c.name for c in communes}
    db = open_database(config.database)
    people = People(db, clock)
    people.apply_config(config.people)
    tickets = TicketStore(db, people, config, faq.kb.systems, calendar, clock, commune_names)
    writer_db: Store = connect(config.database, busy_timeout)
    writer = Writer(writer_db)
    writer_people = People(writer_db, clock)
    writer_tickets = TicketStore(writer_db, writer_people, config, faq.kb.systems, calendar, clock, commune_names)
    incidents = Incidents(writer_db, faq, writer_tickets, config, clock)
    engine = Engine(writer_db, config, faq, writer_people, writer_tickets, communes, calendar, clock, on_outbox,
                    incidents=incidents, traits=CHANNEL_TRAITS)
    writer.call(writer_tickets.refresh_deadlines)  # the SLA or the calendar may have changed since the last run
    writer.on_recovered.append(lambda reason, since: tell_admins_storage_back(writer_tickets, clock, since))
    attachments = AttachmentStore(config.uploads_dir)
    reader = Reader(connect(config.database, busy_timeout))
    reads = TicketStore(reader.db, People(reader.db, clock), config, faq.kb.systems, calendar, clock, commune_names)
    return Services(config, db, faq, people, tickets, engine, calendar, communes, clock, writer, attachments,
                    reader, reads)


def tell_admins_storage_back(tickets: TicketStore, clock: Clock, since: datetime) -> None:
    """Once the database can be written again: a message to every admin (runs in that transaction)."""
    text = msg.STORAGE_RECOVERED.format(since=since.astimezone(tickets.calendar.zone).strftime("%H:%M %d/%m/%Y"))
    for channel, chat_ref in tickets.admin_targets():
        enqueue(tickets.db, clock(), channel, chat_ref, Reply(text))


async def run_timers(services: Services, stop: asyncio.Event, every: float = TICK_SECONDS) -> None:
    """SLA reminders, escalations and auto-closing, once a minute until `stop` is set.

    The work runs on the writer thread, so a large tick never stalls the loop.
    """
    while not stop.is_set():
        try:
            await services.writer.run(services.engine.tickets.tick)
        except Exception:  # a bad row must not stop the reminders for every other ticket
            log.exception("ticket timers failed; trying again in %s s", every)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
