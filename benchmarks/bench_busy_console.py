"""Telegram reply latency while technicians page through 50,000 closed tickets, beside the same replies with the console idle, in one run.

    python benchmarks/bench_busy_console.py --db /tmp/desk.sqlite     # a database from make_db.py
    python benchmarks/bench_busy_console.py                           # builds a full-size one first (make_db.py)
    python benchmarks/bench_busy_console.py --db /tmp/desk.sqlite --clients 8 --replies 200

One process runs the whole bot as ``python -m bot run`` does (``build_services``
on a copy of the file and ``bot.runner.start``: Telegram polling, the outbox
worker, the web console) against the fake Bot API of the tests
(``tests/fake_telegram.py``) on 127.0.0.1. An official's question is queued at
the fake and timed until its reply's sendMessage reaches the fake; questions
go one at a time, each after the previous reply.

1. **idle** (the baseline): the questions alone.
2. **busy**: the same number of questions while a separate process (so that
   its own HTTP client does not share our loop) keeps ``--clients`` signed-in
   technicians fetching, as fast as the pages come, the closed-ticket list
   (first page, then following its "next" links), pages near the end, the
   list filtered by commune, and full-text searches of the closed tickets.

The table gives each phase's reply latency (mean, p50, p95, max) and, for the
busy phase, how many console pages were served meanwhile and how long they
took. Send pacing is off, as in ``bench_telegram.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (REPO, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import aiohttp  # noqa: E402

from bench_telegram import TimedFakeTelegram, free_port, pacing_disabled, query_mix  # noqa: E402
from benchmarks.bench_pages import PASSWORD, sign_in  # noqa: E402
from benchmarks.make_db import main as make_db  # noqa: E402
from bot.app import build_services, system_clock  # noqa: E402
from bot.config import TelegramConfig, WebConfig, load_config  # noqa: E402
from bot.desk.accounts import Accounts  # noqa: E402
from bot.runner import start as start_bot  # noqa: E402
from bot.runner import stop as stop_bot  # noqa: E402
from tests.fake_telegram import ptb_offline_env  # noqa: E402

SEARCHES = ("mat khau", "chữ ký số", "máy in", "token", "một cửa", "hộ tịch", "vneid", "không đăng nhập được")
COMMUNES = ("bat+xat", "sa+pa", "bac+ha", "muong+khuong")


# --------------------------------------------------------------------------------------------
# The console load, in its own process
# --------------------------------------------------------------------------------------------


async def technician(base: str, stop: asyncio.Event, times: list[float], seed: int, think: float) -> None:
    """One signed-in technician fetching closed-ticket pages and searches until `stop`,
    reading each for about `think` seconds (0: the next at once)."""
    rng = random.Random(seed)
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await sign_in(session)
        url = "/console?status=closed"
        while not stop.is_set():
            began = time.perf_counter()
            async with session.get(url) as response:
                body = await response.text()
                assert response.status == 200, (url, response.status)
            times.append(time.perf_counter() - began)
            if think:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), think * rng.uniform(0.5, 1.5))
            following = body.split('id="next-page" href="', 1)
            pick = rng.random()
            if len(following) > 1 and pick < 0.5:
                url = following[1].split('"', 1)[0].replace("&amp;", "&")  # the next page
            elif pick < 0.75:
                url = f"/console?q={rng.choice(SEARCHES).replace(' ', '+')}"
            elif pick < 0.9:
                url = f"/console?status=closed&commune={rng.choice(COMMUNES)}"
            else:
                url = "/console?status=closed"


async def console_load(base: str, clients: int, think: float) -> None:
    """`--load-child`: load the console until stdin closes, then print the page times as JSON."""
    stop = asyncio.Event()
    times: list[float] = []
    tasks = [asyncio.create_task(technician(base, stop, times, n, think)) for n in range(clients)]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    began_stop = time.perf_counter()
    stop.set()
    await asyncio.gather(*tasks)
    print(json.dumps({"pages": len(times), "times": times, "stopping_s": time.perf_counter() - began_stop}))


# --------------------------------------------------------------------------------------------
# The bot and the replies
# --------------------------------------------------------------------------------------------


class ChatTimedFake(TimedFakeTelegram):
    """The fake Bot API, noting when each chat's messages arrive: on a real database the
    timers also message technicians, so the replies are counted per chat."""

    def __init__(self) -> None:
        super().__init__()
        self.chat_arrivals: dict[str, list[float]] = {}
        self.changed = asyncio.Event()

    def _m_sendMessage(self, params: dict) -> dict:
        try:
            return super()._m_sendMessage(params)
        finally:
            self.chat_arrivals.setdefault(str(params.get("chat_id")), []).append(self.arrivals[-1])
            self.changed.set()

    async def reply_to(self, user: int, count: int, timeout: float = 60) -> float:
        """When the `count`-th message to `user`'s chat arrived (waiting for it)."""
        deadline = time.perf_counter() + timeout
        while len(self.chat_arrivals.get(str(user), ())) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(deadline - time.perf_counter(), 0.001))
        return self.chat_arrivals[str(user)][count - 1]


async def replies(tg: ChatTimedFake, questions: list) -> list[float]:
    latencies = []
    for m in questions:
        before = len(tg.chat_arrivals.get(str(m.user), ()))
        queued = time.perf_counter()
        tg.user_text(m.user, m.text)
        latencies.append(await tg.reply_to(m.user, before + 1) - queued)
    return latencies


async def measure(db_path: Path, n: int, clients: int, think: float, seed: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-busy-"))
    try:
        copy = folder / "desk.sqlite"
        shutil.copyfile(db_path, copy)
        port = free_port()
        config = dataclasses.replace(
            load_config(REPO / "config.yaml"), database=copy,
            telegram=TelegramConfig(api_base_url="http://unused.invalid", poll_timeout=1),
            web=WebConfig(host="127.0.0.1", port=port))
        mix = query_mix(20 + 2 * n, 200, seed)
        async with ChatTimedFake() as tg:
            services = build_services(config, system_clock)
            Accounts(services.db, services.people, system_clock).add("bench", PASSWORD, "admin")
            tickets = services.db.execute("select count(*) from tickets where status = 'closed'").fetchone()[0]
            running = await start_bot(services, {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url})
            try:
                for thread in threading.enumerate():  # the FAQ checks after start: not part of either phase
                    if thread.name == "faq-checks":
                        await asyncio.to_thread(thread.join)
                await replies(tg, mix[:20])  # warm-up
                idle = await replies(tg, mix[20:20 + n])
                child = await asyncio.create_subprocess_exec(
                    sys.executable, str(Path(__file__).resolve()), "--load-child", f"http://127.0.0.1:{port}",
                    "--clients", str(clients), "--think", str(think), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                assert child.stdout is not None and child.stdin is not None
                assert (await child.stdout.readline()).strip() == b"ready"
                await asyncio.sleep(1.0)  # the technicians are signed in and paging
                began = time.perf_counter()
                busy = await replies(tg, mix[20 + n:])
                busy_s = time.perf_counter() - began
                child.stdin.close()
                load = json.loads((await child.stdout.read()).decode().strip().splitlines()[-1])
                if await child.wait() != 0:
                    raise RuntimeError("the console load process failed")
            finally:
                await stop_bot(running)
                services.db.close()
        return {"closed_tickets": tickets, "idle": idle, "busy": busy, "busy_s": busy_s, "load": load,
                "clients": clients, "think": think}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def row(name: str, values: list[float], baseline: list[float] | None) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    ratio = ""
    if baseline is not None:
        base = sorted(v * 1000 for v in baseline)
        ratio = f"{statistics.median(ms) / statistics.median(base):.2f} / {p95 / base[int(0.95 * (len(base) - 1))]:.2f}"
    return (f"| {name} | {len(ms)} | {statistics.fmean(ms):.1f} | {statistics.median(ms):.1f} | {p95:.1f} | "
            f"{ms[-1]:.1f} | {ratio or '1 (baseline)'} |")


def report(r: dict) -> None:
    pages = sorted(t * 1000 for t in r["load"]["times"])
    pace = "each page right after the last" if not r["think"] else f"reading each page ~{r['think']:g} s"
    print(f"\n{r['closed_tickets']:,} closed tickets; {len(r['idle'])} questions per phase, one at a time; "
          f"{r['clients']} technicians paging in another process during the busy phase, {pace}\n")
    print("| phase | replies | mean ms | p50 ms | p95 ms | max ms | × idle (p50 / p95) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(row("console idle (baseline)", r["idle"], None))
    print(row("console busy", r["busy"], r["idle"]))
    per_s = r["load"]["pages"] / max(r["busy_s"], 1e-9)
    print(f"\nConsole during the busy phase: {r['load']['pages']:,} pages in {r['busy_s']:.1f} s "
          f"({per_s:.0f} pages/s), median {statistics.median(pages):.1f} ms, "
          f"p95 {pages[int(0.95 * (len(pages) - 1))]:.1f} ms (closed-ticket list pages, next pages, "
          "commune filter, full-text search).")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, help="a database from make_db.py (default: build a full-size one)")
    parser.add_argument("--replies", type=int, default=100, help="questions per phase (default 100)")
    parser.add_argument("--clients", type=int, default=4, help="technicians paging at once (default 4)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="seconds a technician reads a page before the next (default 0: at once)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_child:
        asyncio.run(console_load(args.load_child, args.clients, args.think))
        return
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; "
          f"aiohttp {aiohttp.__version__}")
    folder = Path(tempfile.mkdtemp(prefix="bench-db-"))
    try:
        db = args.db
        if db is None:
            db = folder / "desk.sqlite"
            make_db(["--out", str(db)])
        with ptb_offline_env(), pacing_disabled():
            report(asyncio.run(measure(db, args.replies, args.clients, args.think, args.seed)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
