"""The web chat under many officials: this bot beside a bare aiohttp + SQLite server, in one run.

    python benchmarks/bench_webchat.py                      # 50 officials, 10 questions each
    python benchmarks/bench_webchat.py --officials 50 --questions 20 --rounds 2

Each simulated official is an HTTP client of its own (its own cookie, so its
own chat) that asks a question, waits until the reply is visible to its page,
and asks the next; all officials at once. Measured:

* **this bot, event stream**: the whole bot as ``python -m bot run`` starts it
  with only the web console (``bot.app.build_services`` + ``bot.runner.start``,
  a fresh database in a temporary folder, the shipped FAQ). The page's
  ``/chat/api/events`` stream is open; a question is timed from the start of
  its ``POST /chat/api/send`` to the arrival of the reply's event on that
  stream: what the page can show.
* **this bot, plain fetch**: the same server, the reply read with
  ``GET /chat/api/messages`` right after the send returns (the page's
  fallback when no stream can be held).
* **this bot, polling every second**: as the chat page did before the stream
  (reference for the latency the stream replaced).
* **bare aiohttp + SQLite (baseline)**: the same two endpoints and nothing
  else — the send stores the message and an echo reply in one SQLite
  transaction (WAL, as ours), the fetch selects a chat's rows after an id and
  returns them as JSON.

Two phases per row. **Throughput**: every official asks again as soon as
its reply is visible (the server saturated), questions answered per second
over the run. **Latency**: the same officials at a person's pace (a question
every `--think` seconds on average each, so 50 officials offer about 50
questions a second, below what either server can take), the time until the
reply is visible, p50 and p95. Clients and
servers share this process and its event loop (as in bench_telegram.py),
so both rows pay the clients' cost alike.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import platform
import re
import secrets
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.app import build_services
from bot.config import WebConfig, load_config
from bot.runner import start, stop

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMEOUT = 30.0


@dataclass
class Result:
    name: str
    questions: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float = 0.0  # the whole process (clients, server, its threads) during the run

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_seconds / self.questions

    @property
    def rate(self) -> float:
        return self.questions / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[str]:
    """What officials ask: the shipped FAQ's questions and variants, some typed without marks."""
    import yaml

    found = []
    for path in sorted((REPO / "knowledge").rglob("faq/*.yaml")):
        for entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("entries", []):
            found += [entry["question"], *entry.get("variants", [])[:2]]
    return found


# -- the simulated officials ------------------------------------------------------------------


class Official:
    def __init__(self, base: str, mode: str) -> None:
        self.base, self.mode = base, mode
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=None, sock_read=TIMEOUT))
        self.csrf = ""
        self.last = 0
        self.replies: asyncio.Queue[int] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self._stream: aiohttp.ClientResponse | None = None

    async def open(self) -> None:
        page = await (await self.http.get(self.base + "/chat")).text()
        match = CSRF.search(page)
        self.csrf = match.group(1) if match else ""
        if self.mode == "stream":
            self._stream = await self.http.get(self.base + "/chat/api/events")
            assert self._stream.status == 200, self._stream.status
            self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._stream is not None
        async for block in _events(self._stream):
            if block.get("event") == "message":
                data = json.loads(block["data"])
                if data["from"] == "bot":
                    self.replies.put_nowait(data["id"])

    async def _fetch(self) -> bool:
        response = await self.http.get(f"{self.base}/chat/api/messages?after={self.last}")
        messages = (await response.json())["messages"]
        if messages:
            self.last = max(m["id"] for m in messages)
        return any(m["from"] == "bot" for m in messages)

    async def ask(self, text: str) -> float:
        while not self.replies.empty():  # a second reply to the previous question
            self.replies.get_nowait()
        started = time.perf_counter()
        response = await self.http.post(self.base + "/chat/api/send", data={"csrf": self.csrf, "text": text})
        assert response.status == 200, (response.status, await response.text())
        await response.read()
        if self.mode == "stream":
            await asyncio.wait_for(self.replies.get(), TIMEOUT)
        elif self.mode == "fetch":
            while not await self._fetch():
                await asyncio.sleep(0.005)
        else:  # the old page: a poll every second, whenever it falls
            await asyncio.sleep(_phase())
            while not await self._fetch():
                await asyncio.sleep(1.0)
        return time.perf_counter() - started

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._stream is not None:
            self._stream.close()
        await self.http.close()


def _phase() -> float:
    """Where in its one-second cycle the old page's poll timer stood when the question was sent."""
    return secrets.randbelow(1000) / 1000


async def _events(response: aiohttp.ClientResponse):
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n")
                          if ": " in line and not line.startswith(":"))
            if fields:
                yield fields


async def arrive(base: str, mode: str, officials: int) -> list[Official]:
    """The officials open the page (and its stream) and say hello: each chat exists, its welcome read."""
    people = [Official(base, mode) for _ in range(officials)]
    await asyncio.gather(*(p.open() for p in people))
    await asyncio.gather(*(p.ask("xin chào") for p in people))
    await asyncio.sleep(0.2)
    return people


async def drive(name: str, people: list[Official], per_official: int, asked: list[str],
                think: float = 0.0) -> Result:
    """All officials at once; each waits `think` seconds (on average, 0.5–1.5×) before each question."""
    latencies: list[float] = []

    async def one(n: int, person: Official) -> None:
        for k in range(per_official):
            if think:
                await asyncio.sleep(think * (0.5 + secrets.randbelow(1000) / 1000))
            latencies.append(await person.ask(asked[(n * per_official + k) % len(asked)]))

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(n, p) for n, p in enumerate(people)))
    seconds = time.perf_counter() - started
    return Result(name, len(people) * per_official, seconds, latencies, time.process_time() - cpu)


# -- the servers ---------------------------------------------------------------------------------


async def bare_server(folder: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    """The baseline: the same two endpoints over one SQLite file, nothing else."""
    conn = sqlite3.connect(folder / "bare.sqlite", isolation_level=None)
    conn.execute("pragma journal_mode = wal")
    conn.execute("create table messages (id integer primary key, chat_ref text, from_bot int, payload text, at text)")
    conn.execute("create index messages_chat on messages (chat_ref, id)")

    async def page(request: web.Request) -> web.Response:
        sid = request.cookies.get("sid") or secrets.token_hex(8)
        response = web.Response(text=f'<form><input type="hidden" name="csrf" value="{sid}"></form>',
                                content_type="text/html")
        response.set_cookie("sid", sid)
        return response

    async def send(request: web.Request) -> web.Response:
        form = await request.post()
        sid, text, at = request.cookies["sid"], str(form.get("text", "")), time.strftime("%Y-%m-%dT%H:%M:%S")
        conn.execute("begin immediate")
        conn.execute("insert into messages (chat_ref, from_bot, payload, at) values (?, 0, ?, ?)",
                     [sid, json.dumps({"text": text}), at])
        conn.execute("insert into messages (chat_ref, from_bot, payload, at) values (?, 1, ?, ?)",
                     [sid, json.dumps({"text": "Trả lời: " + text}), at])
        conn.execute("commit")
        return web.json_response({"ok": True})

    async def messages(request: web.Request) -> web.Response:
        after = request.query.get("after", "0")
        rows = conn.execute("select id, from_bot, payload from messages where chat_ref = ? and id > ? "
                            "order by id limit 100", [request.cookies["sid"], int(after)]).fetchall()
        return web.json_response({"messages": [{"id": i, "from": "bot" if b else "me", **json.loads(p)}
                                               for i, b, p in rows]})

    app = web.Application()
    app.add_routes([web.get("/chat", page), web.post("/chat/api/send", send),
                    web.get("/chat/api/messages", messages)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    async def close() -> None:
        await runner.cleanup()
        conn.close()

    return f"http://127.0.0.1:{port}", close


async def our_server(folder: Path) -> tuple[str, Callable[[], Awaitable[None]]]:
    port = free_port()
    config = dataclasses.replace(load_config(REPO / "config.yaml"), database=folder / "bot.sqlite",
                                 web=WebConfig(host="127.0.0.1", port=port))
    services = build_services(config)
    running = await start(services, {})

    async def close() -> None:
        await stop(running)
        services.db.close()

    return f"http://127.0.0.1:{port}", close


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    asked = questions()
    rows: list[Result] = []
    modes = [("this bot, event stream", our_server, "stream"), ("this bot, plain fetch", our_server, "fetch"),
             ("bare aiohttp + SQLite (baseline)", bare_server, "fetch")]
    if not args.no_poll:
        modes.append(("this bot, page polling every second (before)", our_server, "poll"))
    paced: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        for name, server, mode in modes:
            with tempfile.TemporaryDirectory() as tmp:
                base, close = await server(Path(tmp))
                people = await arrive(base, mode, args.officials)
                try:
                    per = args.questions if mode != "poll" else max(2, args.questions // 4)
                    result = await drive(name, people, per, asked)
                    calm = await drive(name, people, args.paced, asked, think=args.think)
                finally:
                    await asyncio.gather(*(p.close() for p in people))
                    await close()
            paced.setdefault(name, []).extend(calm.latencies)
            print(f"round {round_ + 1}: {name}: saturated {result.rate:.1f} questions/s, "
                  f"{result.cpu_ms:.2f} CPU ms each; at a person's pace p50 {calm.pct(0.5):.0f} ms, "
                  f"p95 {calm.pct(0.95):.0f} ms", flush=True)
            rows.append(result)
    print(f"\n{args.officials} officials; throughput: {args.questions} questions each, no pause; latency: "
          f"{args.paced} questions each, one every {args.think:g} s on average; {args.rounds} round(s); "
          f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("| server and page | questions/s (saturated) | reply visible p50 ms | p95 ms | saturated p95 ms "
          "| CPU ms/question (saturated) |")
    print("|---|---:|---:|---:|---:|---:|")
    medians, cpu = {}, {}
    for name in dict.fromkeys(r.name for r in rows):
        results = [r for r in rows if r.name == name]
        medians[name] = statistics.median(r.rate for r in results)
        cpu[name] = statistics.median(r.cpu_ms for r in results)
        calm = Result(name, 0, 1, paced[name])
        busy = Result(name, 0, 1, [x for r in results for x in r.latencies])
        print(f"| {name} | {medians[name]:.1f} | {calm.pct(0.5):.0f} | {calm.pct(0.95):.0f} | {busy.pct(0.95):.0f} "
              f"| {cpu[name]:.2f} |")
    base = medians["bare aiohttp + SQLite (baseline)"]
    print(f"\nthroughput ratio, event stream / baseline: {medians['this bot, event stream'] / base:.2f}; "
          f"plain fetch / baseline: {medians['this bot, plain fetch'] / base:.2f}")
    bare_cpu = cpu["bare aiohttp + SQLite (baseline)"]
    print(f"CPU per question, baseline / event stream: {bare_cpu / cpu['this bot, event stream']:.2f}; "
          f"baseline / plain fetch: {bare_cpu / cpu['this bot, plain fetch']:.2f} (process CPU time of the "
          "saturated phase, clients included; unlike questions/s it hardly moves when other programs load "
          "the machine, so it estimates the throughput ratio on an idle one)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--officials", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10, help="per official")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--paced", type=int, default=5, help="questions per official at a person's pace")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between an official's questions")
    parser.add_argument("--no-poll", action="store_true", help="skip the one-second polling reference")
    asyncio.run(main(parser.parse_args()))
