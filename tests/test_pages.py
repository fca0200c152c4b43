"""Lists that stay fast after years of tickets: keyset pages, SQL filters, search, figures from aggregates.

The database is a small one from benchmarks/make_db.py (the generator the
benchmarks use at full size), so these tests also show that it builds.
"""

from __future__ import annotations

import dataclasses
import re
import statistics
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from benchmarks.make_db import DEFAULT_NOW
from benchmarks.make_db import main as make_db
from bot.app import Services, build_services
from bot.desk.accounts import Accounts
from bot.desk.figures import recent_figures
from bot.desk.tickets import QueueFilter, Ticket
from bot.language.text import fold
from bot.models import OPEN_STATUSES
from bot.web.console import console_routes
from bot.web.server import create_web_app
from tests.harness import Clock, make_config

PASSWORD = "mat-khau-dai-du"
SMALL = ["--tickets", "600", "--officials", "120", "--messages", "4000", "--queries", "1500", "--days", "120"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "desk.sqlite"
    make_db(["--out", str(path), *SMALL])
    return path


def services_on(generated: Path, folder: Path) -> Services:
    copy = folder / "desk.sqlite"
    copy.write_bytes(generated.read_bytes())
    services = build_services(dataclasses.replace(make_config(folder), database=copy), Clock(DEFAULT_NOW))
    Accounts(services.db, services.people, services.clock).add("quantri", PASSWORD, "admin")
    return services


@pytest.fixture(scope="module")
def services(generated: Path, tmp_path_factory: pytest.TempPathFactory) -> Services:
    """One bot over the generated database for the tests that only read."""
    services = services_on(generated, tmp_path_factory.mktemp("read"))
    yield services
    services.db.close()


@pytest.fixture
def writable(generated: Path, tmp_path: Path) -> Services:
    """A bot over a fresh copy, for a test that changes tickets or questions."""
    services = services_on(generated, tmp_path)
    yield services
    services.db.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[TestClient]:
    routes, _, _ = console_routes(services, open_chat=False)
    app = create_web_app(dict, [])
    app.add_routes(routes)
    client = TestClient(TestServer(app))
    await client.start_server()
    login = await (await client.get("/login")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
    response = await client.post("/login", data={"csrf": csrf, "username": "quantri", "password": PASSWORD},
                                 allow_redirects=False)
    assert response.status == 302, await response.text()
    yield client
    await client.close()


def admin(services: Services):  # noqa: ANN201 - test helper
    return next(p for p in services.people.with_role("admin") if p.full_name)  # one of the generated admins


def all_pages(services: Services, wanted: QueueFilter, limit: int) -> list[Ticket]:
    seen: list[Ticket] = []
    cursor = None
    while True:
        page = services.tickets.page(admin(services), wanted, after=cursor, limit=limit)
        assert len(page.tickets) <= limit
        seen += page.tickets
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def every_ticket(services: Services) -> list[Ticket]:
    return [services.tickets.get(r["id"]) for r in services.db.query("select id from tickets order by id")]


def test_the_generator_builds_the_sizes_asked_through_the_projects_schema(services: Services) -> None:
    counts = {t: services.db[t].count for t in ("tickets", "messages", "query_log")}
    open_without_deadline = services.db.execute(
        "select count(*) from tickets where status in ('new', 'assigned') and deadline_at is null").fetchone()[0]
    assert (counts, open_without_deadline) == ({"tickets": 600, "messages": 4000, "query_log": 1500}, 0)


def test_closed_tickets_come_newest_first_page_after_page_without_gaps_or_repeats(services: Services) -> None:
    pages = all_pages(services, QueueFilter(statuses=("closed",)), limit=37)
    expected = [r["id"] for r in services.db.query("select id from tickets where status = 'closed' order by id desc")]
    counted = services.tickets.page(admin(services), QueueFilter(statuses=("closed",)), limit=37).total
    assert ([t.id for t in pages], counted) == (expected, len(expected))


def test_a_count_stops_at_its_bound(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.desk.tickets.COUNT_LIMIT", 100)
    assert services.tickets.page(admin(services), QueueFilter(statuses=("closed",))).total == 101


def test_the_open_queue_is_paged_by_deadline_ties_and_tickets_without_one_included(writable: Services) -> None:
    db = writable.db
    open_ids = [r["id"] for r in db.query("select id from tickets where status in ('new', 'assigned') order by id")]
    with db.atomic():  # three tickets due at the same moment: the number breaks the tie
        db.execute(f"update tickets set deadline_at = '2026-11-20T01:00:00+00:00' where id in ({','.join(map(str, open_ids[:3]))})")
    everyone = [t for t in every_ticket(writable) if t.status in OPEN_STATUSES]
    expected = sorted(everyone, key=lambda t: (t.deadline_at is None, t.deadline_at or "", t.id))
    assert [t.id for t in all_pages(writable, QueueFilter(), limit=4)] == [t.id for t in expected]


def test_filters_are_applied_in_sql_and_agree_with_reading_every_ticket(services: Services) -> None:
    tickets = every_ticket(services)
    system = Counter(t.system_id for t in tickets).most_common(1)[0][0]
    communes = tuple(sorted({t.commune_id for t in tickets if t.commune_id})[:20])
    now = services.clock()
    wanted = QueueFilter(statuses=("closed", "resolved"), system_id=system, commune_ids=communes)
    late = QueueFilter(late_at=now)
    assert ([t.id for t in all_pages(services, wanted, limit=9)],
            [t.id for t in all_pages(services, late, limit=9)]) == (
        sorted((t.id for t in tickets if t.status in ("closed", "resolved") and t.system_id == system
                and t.commune_id in communes), reverse=True),
        [t.id for t in sorted((t for t in tickets if t.status in OPEN_STATUSES and t.deadline_at
                               and datetime.fromisoformat(t.deadline_at) <= now),
                              key=lambda t: (t.deadline_at, t.id))])


def test_a_search_finds_every_ticket_whose_problem_or_solution_has_the_words_typed_without_marks(
        services: Services) -> None:
    def has(t: Ticket, words: str) -> bool:
        text = fold(f"{t.description} {t.resolution_note or ''}")
        return all(re.search(rf"\b{w}\b", text) for w in words.split())

    everything = QueueFilter(statuses=tuple(("new", "assigned", "waiting_user", "resolved", "closed")),
                             search="mat khau")
    found = all_pages(services, everything, limit=11)
    expected = {t.id for t in every_ticket(services) if has(t, "mat khau")}
    driver = {t.id for t in all_pages(services, dataclasses.replace(everything, search="dang nhap"), limit=50)}
    assert (sorted(t.id for t in found), len(found) == len(expected) > 0) == (sorted(expected), True)
    assert driver == {t.id for t in every_ticket(services) if has(t, "dang nhap")} != set()


def test_how_a_ticket_was_solved_is_found_as_soon_as_it_is_resolved(writable: Services) -> None:
    ticket = next(t for t in every_ticket(writable) if t.status == "assigned")
    wanted = QueueFilter(statuses=("resolved",), search="khoi dong lai bo dinh tuyen")
    before = all_pages(writable, wanted, limit=5)
    with writable.db.atomic():
        writable.tickets.resolve(ticket.id, admin(writable), "Khởi động lại bộ định tuyến của xã")
    assert ([t.id for t in before], [t.id for t in all_pages(writable, wanted, limit=5)]) == ([], [ticket.id])


def test_the_admin_figures_equal_counting_every_row(services: Services) -> None:
    now = services.clock()
    tickets = list(services.db.query("select * from tickets"))
    questions = list(services.db.query("select decision, feedback from query_log"))
    since = now - timedelta(weeks=8)
    recent = [t for t in tickets if datetime.fromisoformat(t["created_at"]) >= since]

    def minutes(a: str, b: str) -> float:
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60

    figures = recent_figures(services.db, now)
    assert (figures.by_week, figures.by_system, figures.by_commune, figures.questions, figures.helped,
            round(figures.median_first_response or 0, 3), round(figures.median_resolution or 0, 3)) == (
        sorted(Counter(datetime.fromisoformat(t["created_at"]).strftime("%G-W%V") for t in recent).items()),
        Counter(t["system_id"] or "" for t in recent),
        Counter(t["commune_id"] or "" for t in recent),
        len(questions),
        sum(1 for q in questions if q["decision"] in ("answer", "clarify") and q["feedback"] != "escalated"),
        round(statistics.median(minutes(t["created_at"], t["first_response_at"]) for t in tickets
                                if t["first_response_at"]), 3),
        round(statistics.median(minutes(t["created_at"], t["resolved_at"]) for t in tickets if t["resolved_at"]), 3),
    )


def test_question_counts_follow_feedback_and_deletions(writable: Services) -> None:
    db = writable.db
    with db.atomic():
        db.execute("update query_log set feedback = 'escalated' where id in (select id from query_log limit 40)")
        db.execute("delete from query_log where id in (select id from query_log order by id desc limit 25)")
        db.execute("insert into query_log (at, query, decision) values ('2026-11-24T03:00:00+00:00', 'x', 'none')")
    kept = dict(((d, f), n) for d, f, n in db.execute("select decision, feedback, n from query_stats where n > 0"))
    direct = dict(((d, f), n) for d, f, n in db.execute(
        "select decision, coalesce(feedback, ''), count(*) from query_log group by 1, 2"))
    assert kept == direct


async def test_the_console_pages_through_closed_tickets_by_its_links(services: Services, client: TestClient) -> None:
    seen: list[int] = []
    url = "/console?status=closed"
    sizes = []
    while url:
        page = await (await client.get(url)).text()
        sizes.append(len(page.encode()))
        seen += [int(i) for i in re.findall(r'<tr class="ticket" data-id="(\d+)"', page)]
        link = re.search(r'id="next-page" href="([^"]+)"', page)
        url = link.group(1).replace("&amp;", "&") if link else ""
    expected = [r["id"] for r in services.db.query("select id from tickets where status = 'closed' order by id desc")]
    assert (seen, max(sizes) < 100_000) == (expected, True)


async def test_the_console_search_shows_how_each_problem_was_solved(services: Services, client: TestClient) -> None:
    page = await (await client.get("/console?q=driver+token")).text()
    shown = re.findall(r'<tr class="ticket" data-id="(\d+)"', page)
    notes = {services.tickets.get(int(i)).resolution_note for i in shown}
    assert (len(shown) > 0, notes <= {"Đã cài lại driver token, ký thử thành công."} | {None},
            "→ Đã cài lại driver token, ký thử thành công." in page) == (True, True, True)


async def test_a_cursor_that_is_not_ours_starts_from_the_top(services: Services, client: TestClient) -> None:
    first = await (await client.get("/console?status=closed")).text()
    forged = await (await client.get("/console?status=closed&after=x:'; drop table tickets;--")).text()
    ids = re.compile(r'<tr class="ticket" data-id="(\d+)"')
    assert (ids.findall(forged), services.db["tickets"].count) == (ids.findall(first), 600)


async def test_the_admin_page_stays_small(services: Services, client: TestClient) -> None:
    page = await (await client.get("/admin")).text()
    assert (len(page.encode()) < 300_000, page.count('class="add-variant"') > 0) == (True, True)

