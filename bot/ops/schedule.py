"""The bot's own upkeep while it runs: scheduled backups and the daily retention pass.

Both run in a worker thread (`asyncio.to_thread`): a backup of a large
database or a retention pass over years of tickets must never hold up the
event loop that answers officials.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.config import Config
from bot.ops.alerts import check_delivery
from bot.ops.backup import backups_in, rotate, take_backup
from bot.ops.privacy import apply_retention
from bot.store.schema import open_database

log = logging.getLogger(__name__)
RETENTION_EVERY_HOURS = 24.0
ALERTS_EVERY_HOURS = 1 / 60


def backup_once(config: Config, now: datetime) -> None:
    path = take_backup(config.database, config.uploads_dir, config.knowledge_dir, config.backup.dir, now)
    removed = rotate(config.backup.dir, config.backup.keep_daily, config.backup.keep_monthly)
    log.info("backup written to %s (%d old backup(s) rotated out)", path, len(removed))


def retention_once(config: Config, now: datetime) -> None:
    db = open_database(config.database)  # its own connection: this runs in a worker thread
    try:
        removed = apply_retention(db, config.uploads_dir, now, config.privacy.keep_texts_months)
    finally:
        db.conn.close()
    if removed.counts:
        log.info("retention removed %s", removed.counts)


def hours_until_backup_due(config: Config, now: datetime) -> float:
    """A restart does not take a backup of its own: the next one is due a period after the last."""
    found = backups_in(config.backup.dir) if config.backup.dir.exists() else []
    if not found:
        return 0.0
    age = (now.replace(tzinfo=None) - found[0][0]).total_seconds() / 3600
    return max(0.0, config.backup.every_hours - age)


async def _every(hours: float, job: Callable[[], None], name: str, stop: asyncio.Event,
                 first_in_hours: float = 0.0) -> None:
    if first_in_hours > 0:
        try:
            await asyncio.wait_for(stop.wait(), timeout=first_in_hours * 3600)
            return
        except TimeoutError:
            pass
    while not stop.is_set():
        try:
            await asyncio.to_thread(job)
        except Exception:  # a failed backup must not stop the next one (nor the bot)
            log.exception("%s failed; trying again in %.0f h", name, hours)
        try:
            await asyncio.wait_for(stop.wait(), timeout=hours * 3600)
        except TimeoutError:
            pass


def alerts_once(config: Config, now: datetime, channels: list[str]) -> None:
    db = open_database(config.database)
    try:
        for text in check_delivery(db, now, channels):
            log.warning("alert sent to admins: %s", text)
    finally:
        db.conn.close()


async def run_upkeep(config: Config, clock: Callable[[], datetime], stop: asyncio.Event,
                     channels: list[str] | None = None) -> None:
    """Backups every `backup.every_hours` (if not 0), retention once a day and delivery alerts
    every minute for the running `channels`, until `stop`."""
    jobs = []
    if channels:
        jobs.append(_every(ALERTS_EVERY_HOURS, lambda: alerts_once(config, clock(), channels),
                           "delivery alerts", stop, ALERTS_EVERY_HOURS))
    if config.backup.every_hours > 0:
        jobs.append(_every(config.backup.every_hours, lambda: backup_once(config, clock()),
                           "scheduled backup", stop, hours_until_backup_due(config, clock())))
    if config.privacy.keep_texts_months > 0:
        jobs.append(_every(RETENTION_EVERY_HOURS, lambda: retention_once(config, clock()),
                           "retention", stop))
    await asyncio.gather(*jobs)
