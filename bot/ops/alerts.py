"""Tell the admins when delivery is in trouble: the outbox backs up, or a channel keeps failing.

Checked once a minute by the bot's upkeep, in a worker thread on its own
connection. Each kind of alert (per channel) goes out at most once per
`REPEAT_AFTER`, recorded in `ops_alerts`, so a long outage is one message,
not one a minute. An alert about a channel is never sent through that channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot import messages as msg
from bot.models import Reply
from bot.store.outbox import enqueue, iso

BACKLOG_MINUTES = 10      # a message waiting longer than this means delivery is stuck
FAILING_ATTEMPTS = 3      # a message retried this often means the channel is failing
FAILING_MESSAGES = 3      # ...and this many such messages mean it is not one bad chat
REPEAT_AFTER = timedelta(hours=6)


def _problems(db: Database, now: datetime, channels: Iterable[str]) -> list[tuple[str, str, str]]:
    """(kind, channel, text) for every running channel in trouble now."""
    found = []
    cutoff = iso(now - timedelta(minutes=BACKLOG_MINUTES))
    for channel in channels:
        n, oldest = db.execute("select count(*), min(created_at) from outbox where status = 'pending' "
                               "and channel = ? and created_at < ?", [channel, cutoff]).fetchone()
        if n:
            minutes = int((now - datetime.fromisoformat(oldest)).total_seconds() // 60)
            found.append(("backlog", channel,
                          msg.ALERT_OUTBOX_BACKLOG.format(n=n, channel=channel, minutes=minutes)))
        failing = db.execute("select count(*), max(last_error) from outbox where status = 'pending' "
                             "and channel = ? and attempts >= ?", [channel, FAILING_ATTEMPTS]).fetchone()
        if failing[0] >= FAILING_MESSAGES:
            found.append(("failing", channel, msg.ALERT_CHANNEL_FAILING.format(
                channel=channel, n=failing[0], error=(failing[1] or "?")[:200])))
    return found


def check_delivery(db: Database, now: datetime, channels: Iterable[str]) -> list[str]:
    """Queue alerts to the admins for new problems; returns the texts queued. One transaction."""
    running = sorted(channels)
    sent: list[str] = []
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        admins = db.execute(
            "select u.id, i.channel, i.chat_ref from users u join identities i on i.user_id = u.id "
            "where u.role = 'admin' order by u.id, i.channel").fetchall()
        for kind, channel, text in _problems(db, now, running):
            key = f"{kind}:{channel}"
            last = db.execute("select last_at from ops_alerts where kind = ?", [key]).fetchone()
            if last and datetime.fromisoformat(last[0]) > now - REPEAT_AFTER:
                continue
            for user_id, admin_channel, chat_ref in admins:
                if admin_channel != channel and admin_channel in running:
                    enqueue(db, now, admin_channel, chat_ref, Reply(text), user_id=user_id)
            db.execute("insert or replace into ops_alerts (kind, last_at, text) values (?, ?, ?)",
                       [key, iso(now), text])
            sent.append(text)
    return sent
