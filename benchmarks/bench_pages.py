"""Console and admin pages, and the ticket timer, on a realistic database, beside baselines from the same run.

    python benchmarks/bench_pages.py --db /tmp/desk.sqlite         # a database from make_db.py
    python benchmarks/bench_pages.py --tickets 1000,10000           # generates them first (make_db.py)

For each database, one process builds the bot as ``python -m bot run`` does
(``bot.app.build_services`` on a copy of the file, the console's routes in
``bot.web.server.create_web_app``), serves it on 127.0.0.1, signs in as an admin
through the login form, and fetches each page ``--repeat`` times with aiohttp,
timing each request from sending to the last byte read. The clock is the
database's "now" (make_db's ``--now``).

Baselines, measured on the same file in the same run:

* **bare page**: a plain aiohttp handler on the same loop that runs
  ``select … from tickets where status = 'closed' order by id desc limit 50`` and
  escapes the rows into an HTML table: about the least a page of 50 tickets
  can cost. Each page's median is printed beside it, with the ratio.
* **former tick**: what ``tickets.tick()`` did before the stored deadlines:
  read every new and assigned ticket and walk the working calendar day by day
  from its creation to now (the reference walk the tests keep). Read-only here.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import html
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from benchmarks.make_db import DEFAULT_NOW  # noqa: E402
from benchmarks.make_db import main as make_db  # noqa: E402
from bot.app import build_services  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.desk.accounts import Accounts  # noqa: E402
from bot.web.console import console_routes  # noqa: E402
from bot.web.server import create_web_app  # noqa: E402
from tests.test_workhours import walk_between  # noqa: E402 - the former day walk, the tests' reference

PASSWORD = "mat-khau-cho-do-dac"
BUDGET_MS, BUDGET_KB = 50.0, 300.0


async def sign_in(session: aiohttp.ClientSession, username: str = "bench", password: str = PASSWORD) -> None:
    """Sign `session` in to the console as the benchmark's admin (the login form's CSRF token first)."""
    login = await (await session.get("/login")).text()
    csrf = login.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    async with session.post("/login", data={"csrf": csrf, "username": username, "password": password},
                            allow_redirects=False) as response:
        assert response.status == 302, await response.text()


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def former_tick(services, now: datetime) -> int:  # noqa: ANN001
    """The reading and calendar work of the former tick(): every open ticket, its whole age walked."""
    rows = list(services.db.query("select * from tickets where status in ('new', 'assigned') order by id"))
    for row in rows:
        walk_between(services.calendar, datetime.fromisoformat(row["created_at"]), now)
    return len(rows)


def bare_routes(db) -> list[web.RouteDef]:  # noqa: ANN001
    async def page(request: web.Request) -> web.Response:
        rows = db.execute("select id, status, urgency, system_id, commune_id, description from tickets "
                          "where status = 'closed' order by id desc limit 50").fetchall()
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        return web.Response(text=f"<!doctype html><table>{body}</table>", content_type="text/html")
    return [web.get("/bare", page)]


async def timed(session: aiohttp.ClientSession, url: str, repeat: int) -> tuple[list[float], int]:
    async with session.get(url) as response:  # warm-up, and the size
        assert response.status == 200, (url, response.status, (await response.text())[:300])
        size = len(await response.read())
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
        times.append((time.perf_counter() - began) * 1000)
    return times, size


async def measure(path: Path, repeat: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    try:
        copy = folder / "desk.sqlite"
        shutil.copyfile(path, copy)
        config = dataclasses.replace(load_config(REPO / "config.yaml"), database=copy)
        clock = FixedClock(DEFAULT_NOW)
        began = time.perf_counter()
        services = build_services(config, clock)
        build_s = time.perf_counter() - began
        Accounts(services.db, services.people, clock).add("bench", PASSWORD, "admin")
        routes, _, _ = console_routes(services, open_chat=False)
        app = create_web_app(dict, [])
        app.add_routes(routes)
        app.add_routes(bare_routes(services.db))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        n_tickets = services.db.execute("select count(*) from tickets").fetchone()[0]
        closed = [r[0] for r in services.db.execute("select id from tickets where status = 'closed' order by id")]
        busiest = services.db.execute(
            "select ticket_id from ticket_events group by ticket_id order by count(*) desc limit 1").fetchone()[0]
        results: dict = {"tickets": n_tickets, "build_s": build_s, "pages": {}}
        try:
            async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                await sign_in(session)
                pages = {
                    "bare page of 50 closed tickets (baseline)": "/bare",
                    "/console (open queue)": "/console",
                    "/console?sla=late": "/console?sla=late",
                    "/console?status=closed": "/console?status=closed",
                    "/console?status=closed, page 2": None,
                    "/console?status=closed, last pages": f"/console?status=closed&after=i::{closed[min(60, len(closed) - 1)]}",
                    "/console?status=closed&commune=bat xat": "/console?status=closed&commune=bat+xat",
                    "/console?q=mat khau (search)": "/console?q=mat+khau",
                    "/console/ticket/N (busiest)": f"/console/ticket/{busiest}",
                    "/admin": "/admin",
                }
                first = await (await session.get("/console?status=closed")).text()
                link = first.split('id="next-page" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
                pages["/console?status=closed, page 2"] = link
                for name, url in pages.items():
                    times, size = await timed(session, url, repeat)
                    results["pages"][name] = (statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))],
                                              size / 1000)
        finally:
            await runner.cleanup()
        now = clock()
        began = time.perf_counter()
        services.tickets.tick()
        results["first_tick_ms"] = (time.perf_counter() - began) * 1000
        ticks = []
        for _ in range(repeat):
            began = time.perf_counter()
            services.tickets.tick()
            ticks.append((time.perf_counter() - began) * 1000)
        results["tick_ms"] = statistics.median(ticks)
        former = []
        for _ in range(max(3, repeat // 4)):
            began = time.perf_counter()
            results["former_tick_tickets"] = former_tick(services, now)
            former.append((time.perf_counter() - began) * 1000)
        results["former_tick_ms"] = statistics.median(former)
        services.db.close()
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(results: dict) -> None:
    pages = results["pages"]
    bare = pages["bare page of 50 closed tickets (baseline)"][0]
    print(f"\n### {results['tickets']:,} tickets (bot built in {results['build_s']:.1f} s)\n")
    print("| page | median ms | p95 ms | KB | × bare page | within 50 ms / 300 KB |")
    print("|---|---:|---:|---:|---:|---|")
    for name, (median, p95, kb) in pages.items():
        ok = "yes" if median <= BUDGET_MS and kb <= BUDGET_KB else "NO"
        print(f"| {name} | {median:.1f} | {p95:.1f} | {kb:.0f} | {median / bare:.1f} | {ok} |")
    print("\n| timer | ms | former tick ms (same file) | ratio |\n|---|---:|---:|---:|")
    print(f"| tickets.tick(), steady | {results['tick_ms']:.2f} | {results['former_tick_ms']:.1f} "
          f"({results['former_tick_tickets']} open tickets walked) | {results['tick_ms'] / results['former_tick_ms']:.3f} |")
    print(f"| tickets.tick(), first after start | {results['first_tick_ms']:.2f} | | |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, action="append", default=[], help="a database from make_db.py")
    parser.add_argument("--tickets", default="", help="generate databases of these sizes first, e.g. 1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}, {platform.machine()}, {platform.processor() or '?'}; "
          f"aiohttp {aiohttp.__version__}")
    paths = list(args.db)
    folder = Path(tempfile.mkdtemp(prefix="bench-db-"))
    try:
        for n in [int(x) for x in args.tickets.split(",") if x.strip()]:
            path = folder / f"desk-{n}.sqlite"
            make_db(["--out", str(path), "--tickets", str(n), "--officials", str(max(n // 10, 50)),
                     "--messages", str(n * 10), "--queries", str(n * 4)])
            paths.append(path)
        if not paths:
            parser.error("give --db or --tickets")
        for path in paths:
            report(asyncio.run(measure(path, args.repeat)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
