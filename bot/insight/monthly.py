"""The training-needs report, sent to the admins at the start of each month.

The report of last month goes out once, the first time the bot runs in the
new month after it ended (a bot that was down on the 1st sends it when it is
back), and only when that month had any activity. It is built in a worker
thread, off the event loop, written next to the database, and queued in the
outbox for every admin: as a document on Telegram, as a link elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from pathlib import Path

from bot import messages as msg
from bot.app import Services
from bot.insight.figures import month_bounds, previous_month
from bot.insight.report import build
from bot.models import Reply
from bot.store.outbox import enqueue, iso

log = logging.getLogger(__name__)
CHECK_SECONDS = 600.0


def console_url(services: Services) -> str:
    web = services.config.web
    return (web.public_url or f"http://{web.host}:{web.port}").rstrip("/")


def report_link(services: Services, month: str) -> str:
    return f"{console_url(services)}/admin/report?month={month}"


def due_month(services: Services) -> str | None:
    """Last month, if its report is due: not sent yet, and something happened in it."""
    if not services.config.insight.monthly_report:
        return None
    month = previous_month(services.clock().astimezone(services.calendar.zone).strftime("%Y-%m"))
    if services.db["monthly_reports"].count_where("month = ?", [month]):
        return None
    start, end = (iso(t.astimezone(UTC)) for t in month_bounds(month, services.calendar))
    activity = services.db.execute(
        "select (select count(*) from query_log where at >= ? and at < ?) "
        "+ (select count(*) from tickets where created_at >= ? and created_at < ?)",
        [start, end, start, end]).fetchone()[0]
    return month if activity else None


def build_month(services: Services, month: str) -> Path:
    """Build the report and write it beside the database (blocking: call it in a thread)."""
    report = build(services.config.database, month, services.faq.kb,
                   {c.id: c.name for c in services.communes}, services.calendar,
                   services.config.tickets.sla, services.clock())
    folder = services.config.database.parent / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bao-cao-tap-huan-{month}.html"
    path.write_text(report.html, encoding="utf-8")
    return path


def queue_for_admins(services: Services, month: str, path: Path) -> int:
    """Record the month as sent and queue one message per admin; returns how many (on the writer thread)."""
    label = "{1}/{0}".format(*month.split("-")).lstrip("0")
    sent = 0
    db, tickets = services.engine.db, services.engine.tickets  # the writer's connection
    with db.atomic():
        if db["monthly_reports"].count_where("month = ?", [month]):
            return 0  # another worker got there first
        db["monthly_reports"].insert({"month": month, "sent_at": iso(services.clock()), "path": str(path)})
        for channel, chat in tickets.admin_targets():
            if channel == "telegram":
                reply = Reply(msg.MONTHLY_REPORT_DOCUMENT.format(month=label), document=str(path))
            else:
                reply = Reply(msg.MONTHLY_REPORT_LINK.format(month=label, link=report_link(services, month)))
            enqueue(db, services.clock(), channel, chat, reply)
            sent += 1
    if services.engine.on_outbox is not None:
        services.engine.on_outbox()
    return sent


async def send_if_due(services: Services) -> str | None:
    """Send last month's report if it is due; returns the month sent."""
    month = due_month(services)
    if month is None:
        return None
    path = await asyncio.to_thread(build_month, services, month)
    await services.writer.run(queue_for_admins, services, month, path)
    log.info("monthly report %s queued for the admins", month)
    return month


async def monthly_loop(services: Services, stop: asyncio.Event, every: float = CHECK_SECONDS) -> None:
    """Check every few minutes whether a month has ended and its report is due."""
    while not stop.is_set():
        try:
            await send_if_due(services)
        except Exception:  # a broken report must not stop the bot; try again next round
            log.exception("monthly report failed; trying again in %s s", every)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass
