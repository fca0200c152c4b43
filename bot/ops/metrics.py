"""`/metrics` in Prometheus' text format, read from the database at scrape time.

Everything worth watching is already a row: updates handled (`processed_updates`),
the matcher's decisions (`query_log`), the outbox's depth, age and failures,
open and late tickets, quarantined updates. So the numbers come from SQL when
Prometheus asks, on a read-only connection in a worker thread, instead of
counters threaded through every hot path; they survive restarts and agree
with the console by construction.

The page is off unless `METRICS_TOKEN` is set in the environment, and then
needs `Authorization: Bearer <token>`: no page is open because of the address
it is bound to.
"""

from __future__ import annotations

import asyncio
import hmac
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class StoreCollector(Collector):
    """One scrape = a handful of indexed aggregate queries on a fresh read-only connection."""

    def __init__(self, database: Path, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
        try:
            yield from self._collect(conn)
        finally:
            conn.close()

    @staticmethod
    def _tables(conn: sqlite3.Connection) -> set[str]:
        return {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}

    def _collect(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        tables = self._tables(conn)
        updates = CounterMetricFamily("helpdesk_updates", "Updates handled, per channel.",
                                      labels=["channel"])
        for channel, n in conn.execute("select channel, count(*) from processed_updates group by channel"):
            updates.add_metric([channel], n)
        yield updates

        questions = CounterMetricFamily("helpdesk_questions", "FAQ questions by the matcher's decision.",
                                        labels=["decision"])
        for decision, n in conn.execute("select decision, count(*) from query_log group by decision"):
            questions.add_metric([decision or "none"], n)
        yield questions

        outbox = GaugeMetricFamily("helpdesk_outbox_messages", "Outbox rows by status and channel.",
                                   labels=["status", "channel"])
        for status, channel, n in conn.execute(
                "select status, channel, count(*) from outbox group by status, channel"):
            outbox.add_metric([status, channel], n)
        yield outbox

        oldest = conn.execute("select min(created_at) from outbox where status = 'pending'").fetchone()[0]
        age = GaugeMetricFamily("helpdesk_outbox_oldest_pending_seconds",
                                "Age of the oldest message waiting to be delivered (0 when none).")
        age.add_metric([], max(0.0, (self.clock() - datetime.fromisoformat(oldest)).total_seconds())
                       if oldest else 0.0)
        yield age

        tickets = GaugeMetricFamily("helpdesk_tickets", "Tickets by status.", labels=["status"])
        for status, n in conn.execute("select status, count(*) from tickets group by status"):
            tickets.add_metric([status], n)
        yield tickets
        late = GaugeMetricFamily("helpdesk_tickets_late", "Open tickets past an SLA target.")
        late.add_metric([], conn.execute(
            "select count(*) from tickets where status in ('new', 'assigned', 'waiting_user') "
            "and sla_stage > 0").fetchone()[0])
        yield late

        quarantined = GaugeMetricFamily("helpdesk_quarantined_updates",
                                        "Updates that could not be parsed or handled, kept for admins.")
        quarantined.add_metric([], sum(conn.execute(f'select count(*) from "{t}"').fetchone()[0]
                                       for t in sorted(tables) if "quarantine" in t))
        yield quarantined


def render(database: Path, clock: Callable[[], datetime]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(database, clock))
    return generate_latest(registry)


def metrics_handler(database: Path, token: str, clock: Callable[[], datetime]
                    ) -> Callable[[web.Request], object]:
    """The `/metrics` handler; the caller adds it only when a token is configured."""
    expected = f"Bearer {token}".encode()

    async def metrics(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(text="metrics: a bearer token is required\n",
                                       headers={"WWW-Authenticate": "Bearer"})
        body = await asyncio.to_thread(render, database, clock)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return metrics
