"""The composition root: config in, every long-lived service out.

Only this module (and the command line that calls it) knows how the pieces
fit; everything else receives what it needs as arguments.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from bot.config import Config
from bot.desk.conversation import Engine
from bot.desk.people import People
from bot.desk.tickets import TicketStore
from bot.desk.workhours import WorkingHours
from bot.knowledge.base import province_file
from bot.knowledge.communes import Commune, load_communes
from bot.knowledge.live import Faq
from bot.models import ChannelTraits
from bot.store.attachments import AttachmentStore
from bot.store.schema import open_database

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)
TICK_SECONDS = 60.0
# What each channel can show, so the core words prompts truthfully ("bấm" only where there are
# buttons, "gõ số" where choices are numbered, the share-phone button only on Telegram) and
# shortens labels only where a button must fit a phone screen.
CHANNEL_TRAITS: dict[str, ChannelTraits] = {
    "telegram": ChannelTraits(buttons=True, numbered=False, share_contact=True, label_limit=40),
    "web": ChannelTraits(buttons=True, numbered=False),
    "zalo_oa": ChannelTraits(buttons=True, numbered=True),  # ≤ 5 buttons, else numbered lines: never cut
    "zalo": ChannelTraits(buttons=False, numbered=True),
    "terminal": ChannelTraits(buttons=False, numbered=True),
}


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: Config
    db: Database
    faq: Faq
    people: People
    tickets: TicketStore
    engine: Engine
    calendar: WorkingHours
    communes: tuple[Commune, ...]
    clock: Clock
    attachments: AttachmentStore  # images, sanitised, beside the database: every channel stores photos here


def build_services(config: Config, clock: Clock = system_clock,
                   on_outbox: Callable[[], None] | None = None) -> Services:
    """Open the database, load the knowledge base and wire the core together."""
    wh = config.working_hours
    calendar = WorkingHours.from_config(list(wh.days), list(wh.periods), list(wh.holidays),
                                        list(wh.extra_workdays), wh.timezone, "working_hours")
    faq = Faq(config.knowledge_dir, config.matcher)
    communes = load_communes(province_file(config.knowledge_dir, "communes.yaml"))
    db = open_database(config.database)
    people = People(db, clock)
    people.apply_config(config.people)
    tickets = TicketStore(db, people, config, faq.kb.systems, calendar, clock,
                          {c.id: c.name for c in communes})
    engine = Engine(db, config, faq, people, tickets, communes, calendar, clock, on_outbox, CHANNEL_TRAITS)
    attachments = AttachmentStore(config.uploads_dir)
    return Services(config, db, faq, people, tickets, engine, calendar, communes, clock, attachments)


async def run_timers(services: Services, stop: asyncio.Event, every: float = TICK_SECONDS) -> None:
    """SLA reminders, escalations and auto-closing, once a minute until `stop` is set."""
    while not stop.is_set():
        try:
            services.tickets.tick()
        except Exception:  # a bad row must not stop the reminders for every other ticket
            log.exception("ticket timers failed; trying again in %s s", every)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
