"""Chaos: the bot as a process against a fault-injecting fake Bot API, with kill -9 and a full disk.

    python benchmarks/chaos.py                     # three scenarios, about 4 minutes in all
    python benchmarks/chaos.py --seconds 60 --seed 7 --kills 10

Everything runs on 127.0.0.1. ``tests/fake_telegram.py`` (in this process) plays Telegram;
the bot, started as ``python -m bot run`` with a config of its own, reaches it through a
**fault proxy** (in this process too) that, while faults are on, answers a share of the
Bot API calls with

* HTTP 500, HTTP 429 with ``retry_after: 1``, an HTML 502 page, malformed JSON (all before the
  call reaches the fake, so it had no effect),
* a 10 s answer (after the call reached the fake: the message went out, the answer is late,
  beyond PTB's 5 s read timeout),

and now and then closes its port for 3 s (connection refused). Among the users' messages
come **unparseable updates** (the shapes PTB 22 cannot read). Scenario by scenario:

* ``baseline``: no faults, no kills: the reference for the other two;
* ``faults``: all of the above, plus a **full disk**: the database lives on its own small
  tmpfs (``mount -t tmpfs``, which needs root; without it the full disk is skipped and the
  report says so), filled to the last byte for 6 s while messages keep coming;
* ``faults+kills``: the same plus ``kill -9`` of the bot at random moments (``--kills``, 6 by
  default, 6-12 s apart; the load lasts as long as they need), each followed by a restart.

Load: a dozen officials each ask an FAQ question, wait for the answer (up to 30 s), think
for a moment and ask again. After the load, faults stop and the bot gets up to 60 s to
catch up; then it is stopped with SIGTERM and its database is read.

Counted per scenario, from the fake's record of what reached users and the bot's database:

* **lost**: an official's message the bot never processed (not in ``processed_updates``);
* **unanswered**: a question the bot processed (a ``query_log`` row) whose answer never
  reached the official; an answer is recognised by its buttons, which carry the question's id;
* **duplicated**: extra copies of an answer that reached the official more than once; for each,
  where its first copy was at the kill before it: **on the wire** (it had reached the fake,
  whose answer had not come back to the bot: nobody can know whether it arrived, so it is
  sent again, the at-least-once promise) or **answered** (the bot had its answer but had not
  yet recorded it: a window of the outbox's bookkeeping, which should stay empty);
* the poisoned updates sent and those quarantined.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from tests.fake_telegram import FakeTelegram, ptb_offline_env  # noqa: E402
from tests.harness import config_file  # noqa: E402

QUESTIONS = [
    "máy tính không nhận usb token, báo không tìm thấy chứng thư số",
    "quen mat khau dang nhap he thong mot cua",
    "may tinh bi nhiem virus thi lam gi",
    "không đăng nhập được VNeID",
]
FIRST_USER = 5000
QID = re.compile(r"^(?:fb:[a-z]+:|esc:|pick:)(\d+)")
FAULTS_ON_GET = {"500": 0.04, "429": 0.02, "html502": 0.03, "malformed": 0.04, "slow": 0.02}
FAULTS_ON_SEND = {"500": 0.04, "429": 0.02, "html502": 0.02, "malformed": 0.03, "slow": 0.03}


def poisoned(now: int, user: int) -> list[dict]:
    """Updates python-telegram-bot 22 cannot parse, or that break when read."""
    sender = {"id": user, "is_bot": False, "first_name": "An"}
    chat = {"id": user, "type": "private", "first_name": "An"}
    return [
        {"message": {"message_id": 1, "date": now, "from": sender, "text": "hi"}},  # no chat
        {"message": {"message_id": 2, "from": sender, "chat": chat, "text": "hi"}},  # no date
        {"message": "hello"},
        {"message": {"message_id": 3, "date": now, "from": sender, "chat": "42", "text": "hi"}},
        {"callback_query": {"id": "9", "chat_instance": "x", "data": "pick:1:0"}},  # no sender
        {"message": {"message_id": 4, "date": "yesterday", "from": sender, "chat": chat, "text": "hi"}},
        {"message": {"message_id": 5, "date": now, "from": sender, "chat": chat,
                     "poll": {"id": "p", "question": "q"}}},  # a poll missing fields
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultProxy:
    """Forwards Bot API calls to the fake, answering some of them badly while `enabled`."""

    def __init__(self, target: str, rng: random.Random) -> None:
        self.target = target
        self.rng = rng
        self.enabled = False
        self.injected: Counter[str] = Counter()
        self.sends: list[Send] = []  # every call but getUpdates, with when it reached the fake and was answered
        self.port = free_port()
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None
        self.session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        await self._listen()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))

    async def _listen(self) -> None:
        assert self.runner is not None
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await self.site.start()

    async def refuse(self, seconds: float) -> None:
        """Close the port for a while: connections are refused."""
        assert self.site is not None
        await self.site.stop()
        self.injected["refused"] += 1
        await asyncio.sleep(seconds)
        await self._listen()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def _pick(self, method: str) -> str | None:
        if not self.enabled:
            return None
        rates = FAULTS_ON_GET if method == "getupdates" else FAULTS_ON_SEND
        roll = self.rng.random()
        for fault, rate in rates.items():
            if roll < rate:
                return fault
            roll -= rate
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.read()
        except ConnectionError:  # the bot was killed while it sent the request
            return web.Response(status=499, text="client gone")
        method = request.path.rsplit("/", 1)[-1].lower()
        fault = self._pick(method)
        if fault is not None:
            self.injected[f"{fault} {'getUpdates' if method == 'getupdates' else 'other'}"] += 1
        if fault == "500":
            return web.json_response({"ok": False, "error_code": 500, "description": "Internal Server Error"},
                                     status=500)
        if fault == "429":
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry "
                                      "after 1", "parameters": {"retry_after": 1}}, status=429)
        if fault == "html502":
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", status=502,
                                content_type="text/html")
        if fault == "malformed":
            return web.Response(body=b'{"ok": true, "result": [{"update_id": 1,', status=200,
                                content_type="application/json")
        assert self.session is not None
        headers = {"Content-Type": request.headers.get("Content-Type", "application/octet-stream")}
        try:
            async with self.session.request(request.method, self.target + request.path_qs, data=body,
                                            headers=headers) as answer:
                payload, status = await answer.read(), answer.status
        except (aiohttp.ClientError, TimeoutError):  # the fake ended a long poll we no longer wait for
            return web.Response(status=502, text="upstream gone")
        send = None
        if method != "getupdates":
            send = Send(method, time.monotonic(), fault, question_of(payload))
            self.sends.append(send)
        if fault == "slow":  # the call did its work; the answer comes 10 s late
            await asyncio.sleep(10)
        response = web.Response(body=payload, status=status, content_type="application/json")
        try:
            await response.prepare(request)
            await response.write_eof()
        except (ConnectionError, aiohttp.ClientError):  # the bot was killed while it waited
            return response
        if send is not None:
            send.answered = time.monotonic()  # the answer is on its way back to the bot
        return response


@dataclass
class Send:
    """A Bot API call that reached the fake (so its effect is done), and when its answer left the proxy."""

    method: str
    reached: float
    fault: str | None
    question: int | None  # the query_log id an answer's buttons carry
    answered: float | None = None  # None: the bot never got the answer (killed while waiting)


def question_of(payload: bytes) -> int | None:
    """The question id carried by a sent answer's buttons, from the fake's reply."""
    try:
        result = json.loads(payload).get("result")
        rows = (result.get("reply_markup") or {}).get("inline_keyboard") or []
    except (ValueError, AttributeError):
        return None
    for row in rows:
        match = QID.match(row[0].get("callback_data", "")) if row else None
        if match:
            return int(match.group(1))
    return None


@dataclass
class Scenario:
    name: str
    faults: bool
    kills: bool


@dataclass
class Outcome:
    scenario: str
    sent: int = 0
    processed: int = 0
    lost: int = 0
    questions: int = 0
    unanswered: int = 0
    duplicated: int = 0
    kills: int = 0
    restarts: int = 0  # by the supervisor, after the bot exited by itself (it cannot start on a full disk)
    poison_sent: int = 0
    quarantined: int = 0
    disk_full: str = "-"
    injected: Counter[str] = field(default_factory=Counter)
    log_bytes: int = 0
    tracebacks: int = 0
    seconds: float = 0.0
    resent: int = 0  # sends again of outbox rows that were being sent at a kill
    on_wire: list[int] = field(default_factory=list)  # per kill: sends that had reached the fake, unanswered
    answered_unrecorded: int = 0  # duplicates whose first copy had been answered before its kill
    answered_late: int = 0  # deliveries answered in the last RECORDING_WINDOW before a kill
    in_flight: list[str] = field(default_factory=list)  # why each duplicate was in flight at its kill


class BotProcess:
    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.config, self.env, self.log = config, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(self.config)],
                                     env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        out.close()

    def kill9(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int):
    """A tmpfs of its own for the database (root only); yields whether it is mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
        capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write zeros into `folder` until the disk is full; returns the filler file."""
    filler = folder / "filler"
    chunk = b"\0" * (1 << 20)
    with filler.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)
    return filler


def read_db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


async def run_scenario(scenario: Scenario, seconds: float, users: int, seed: int, work: Path,
                       kill_count: int = 6) -> Outcome:
    rng = random.Random(f"{seed}:{scenario.name}")
    outcome = Outcome(scenario.name)
    # Drawn first, so the load lasts long enough for all of them (and the rest of the draws keep their order).
    # Each kill: the pause before it, and the bot's downtime after it.
    pauses = [(rng.uniform(6, 12), rng.uniform(0.5, 2)) for _ in range(kill_count)] if scenario.kills else []
    if pauses:
        seconds = max(seconds, sum(a + b for a, b in pauses) + 5)
    folder = work / scenario.name
    folder.mkdir(parents=True)
    config = config_file(folder, port=free_port(), poll_timeout=2)
    database = folder / "data" / "bot.sqlite"
    log = folder / "bot.log"
    async with FakeTelegram() as tg:
        proxy = FaultProxy(tg.url, rng)
        await proxy.start()
        env = {**os.environ, "PYTHONPATH": str(REPO), "TELEGRAM_BOT_TOKEN": tg.token,
               "TELEGRAM_API_BASE_URL": proxy.url}
        with small_disk(database.parent, 48) as mounted:
            bot = BotProcess(config, env, log)
            bot.start()
            started = time.monotonic()
            await tg.wait_for(lambda t: bool(t.calls_to("getUpdates")), timeout=60)
            sent: list[int] = []
            poison: list[int] = []
            stop_at = time.monotonic() + seconds
            proxy.enabled = scenario.faults

            def answers(user: int) -> int:
                return len(tg.sent(user))

            async def official(user: int) -> None:
                while time.monotonic() < stop_at:
                    before = answers(user)
                    sent.append(tg.user_text(user, rng.choice(QUESTIONS))["update_id"])
                    deadline = time.monotonic() + 30
                    while answers(user) <= before and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(rng.uniform(0.2, 1.0))

            async def poisoner() -> None:
                shapes = poisoned(int(time.time()), FIRST_USER + users + 1)
                n = 0
                while time.monotonic() < stop_at:
                    await asyncio.sleep(rng.uniform(2, 4))
                    poison.append(tg.queue_update(dict(shapes[n % len(shapes)]))["update_id"])
                    n += 1

            async def refusals() -> None:
                while time.monotonic() < stop_at - 5:
                    await asyncio.sleep(rng.uniform(8, 14))
                    if time.monotonic() < stop_at - 5:
                        await proxy.refuse(3)

            async def disk() -> None:
                if not mounted:
                    outcome.disk_full = "skipped (no root: tmpfs not mounted)"
                    return
                await asyncio.sleep(seconds * 0.4)
                filler = await asyncio.to_thread(fill, database.parent)
                outcome.disk_full = "6 s"
                await asyncio.sleep(6)
                filler.unlink()

            async def killer() -> None:
                for pause, downtime in pauses:
                    await asyncio.sleep(pause)
                    async with killing:
                        kills.append(time.monotonic())
                        await asyncio.to_thread(bot.kill9)
                        outcome.kills += 1
                        await asyncio.sleep(downtime)
                        bot.start()

            killing = asyncio.Lock()
            kills: list[float] = []

            async def supervisor() -> None:
                """As systemd's Restart=on-failure would: a bot that exited is started again."""
                while time.monotonic() < stop_at + 60:
                    await asyncio.sleep(1)
                    async with killing:
                        if bot.exited() and not stopping:
                            outcome.restarts += 1
                            bot.start()

            stopping = False
            tasks = [official(FIRST_USER + n) for n in range(users)]
            if scenario.faults:
                tasks += [poisoner(), refusals(), disk()]
            if scenario.kills:
                tasks.append(killer())
            watch = asyncio.create_task(supervisor())
            await asyncio.gather(*tasks)
            proxy.enabled = False

            # Catch up: every message processed and every answer delivered, or 60 s.
            def settled() -> bool:
                try:
                    with contextlib.closing(read_db(database)) as db:
                        done = {int(r[0]) for r in db.execute(
                            "select update_id from processed_updates where channel = 'telegram'")}
                        pending = db.execute("select count(*) from outbox where status = 'pending'").fetchone()[0]
                except sqlite3.Error:
                    return False
                return set(sent) <= done and pending == 0

            deadline = time.monotonic() + 60
            while not settled() and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            await asyncio.sleep(2)  # a send in flight lands
            stopping = True
            watch.cancel()
            code = await asyncio.to_thread(bot.stop)
            outcome.seconds = time.monotonic() - started
            with contextlib.closing(read_db(database)) as db:
                done = {int(r[0]) for r in db.execute(
                    "select update_id from processed_updates where channel = 'telegram'")}
                questions = [r[0] for r in db.execute("select id from query_log where channel = 'telegram'")]
                quarantined = {int(r[0]) for r in db.execute("select update_ref from quarantine "
                                                              "where channel = 'telegram' and update_ref is not null")}
                outcome.resent = db.execute("select coalesce(sum(in_doubt), 0) from outbox "
                                            "where status != 'unknown'").fetchone()[0]
        await proxy.stop()
        copies: Counter[int] = Counter()
        for user in range(FIRST_USER, FIRST_USER + users):
            for message in tg.sent(user):
                for row in (message.get("reply_markup") or {}).get("inline_keyboard") or []:
                    match = QID.match(row[0].get("callback_data", ""))
                    if match:
                        copies[int(match.group(1))] += 1
                        break
    outcome.sent = len(sent)
    outcome.processed = len(set(sent) & done)
    outcome.lost = len(set(sent) - done)
    outcome.questions = len(questions)
    outcome.unanswered = sum(1 for q in questions if copies[q] == 0)
    outcome.duplicated = sum(n - 1 for n in copies.values() if n > 1)
    outcome.on_wire = on_the_wire(proxy.sends, kills)
    outcome.answered_late = answered_just_before(proxy.sends, kills)
    for question, n in sorted(copies.items()):
        if n > 1:
            why, answered = why_in_flight(proxy.sends, question, kills)
            outcome.in_flight.append(why)
            outcome.answered_unrecorded += answered
    outcome.poison_sent = len(poison)
    outcome.quarantined = len(set(poison) & quarantined)
    outcome.injected = proxy.injected
    text = log.read_text(encoding="utf-8", errors="replace")
    outcome.log_bytes = len(text.encode())
    outcome.tracebacks = text.count("Traceback (most recent call last)")
    if code not in (0, None):
        print(f"  ({scenario.name}: the bot exited with {code} at the end; log {log})", file=sys.stderr)
    return outcome


def is_delivery(method: str) -> bool:
    """A call the outbox makes for a message (not getMe, setMyCommands or answerCallbackQuery)."""
    return method.startswith(("send", "edit")) and method != "sendchataction"


RECORDING_WINDOW = 0.1  # s: a delivery answered this shortly before a kill may not have been recorded yet


def answered_just_before(sends: list[Send], kills: list[float]) -> int:
    """Deliveries whose answer left the proxy within RECORDING_WINDOW before a kill: the ones the
    outbox's bookkeeping could have lost track of (each a duplicate if its 'sent' was not committed)."""
    return sum(1 for kill in kills for s in sends if is_delivery(s.method) and s.answered is not None
               and kill - RECORDING_WINDOW < s.answered <= kill)


def on_the_wire(sends: list[Send], kills: list[float]) -> list[int]:
    """Per kill: the deliveries that had reached the fake since the kill before and whose answer
    had not come back to the bot (the messages nobody can know arrived)."""
    counts = []
    for n, kill in enumerate(kills):
        since = kills[n - 1] if n else float("-inf")
        counts.append(sum(1 for s in sends if is_delivery(s.method) and since < s.reached <= kill
                          and (s.answered is None or s.answered > kill)))
    return counts


def why_in_flight(sends: list[Send], question: int, kills: list[float]) -> tuple[str, bool]:
    """Where the first copy of a duplicated answer was when the bot was killed: its answer still on
    the wire (a slow fault, or a send under way), or answered but its outcome not yet committed
    (then True)."""
    copies = sorted((s for s in sends if s.question == question), key=lambda s: s.reached)
    if not copies:
        return f"question {question}: no copy seen by the proxy", False
    first = copies[0]
    kill = next((k for k in kills if k >= first.reached), None)
    if kill is None:
        return f"question {question}: sent again without a kill after it", False
    fault = f" ({first.fault} fault)" if first.fault else ""
    if first.answered is None or first.answered > kill:
        return (f"question {question}: on the wire: reached the fake {1000 * (kill - first.reached):.0f} ms "
                f"before the kill, its answer not yet back{fault}"), False
    return (f"question {question}: answered {1000 * (kill - first.answered):.0f} ms before the kill "
            f"(reached the fake {1000 * (kill - first.reached):.0f} ms before it){fault}, "
            "outcome not yet committed"), True


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    print(f"\nChaos on 127.0.0.1: {args.users} officials asking for {args.seconds:.0f} s per scenario (the kill "
          f"scenario as long as its {args.kills} kills need), seed {args.seed}")
    print()
    print("| scenario | sent | lost | questions | unanswered | duplicated | kills | dup/kill "
          "| restarts after exit | poison sent/quarantined | full disk | log KB | tracebacks | s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|")
    for o in outcomes:
        per_kill = f"{o.duplicated / o.kills:.2f}" if o.kills else "-"
        print(f"| {o.scenario} | {o.sent} | {o.lost} | {o.questions} | {o.unanswered} | {o.duplicated} | "
              f"{o.kills} | {per_kill} | {o.restarts} | {o.poison_sent}/{o.quarantined} | {o.disk_full} | "
              f"{o.log_bytes / 1024:.0f} | {o.tracebacks} | {o.seconds:.0f} |")
    print()
    for o in outcomes:
        if o.kills:
            print(f"{o.scenario}: at the {o.kills} kills, deliveries on the wire (reached the fake, answer not "
                  f"back): {sum(o.on_wire)} ({', '.join(map(str, o.on_wire))}); rows sent again after a kill: "
                  f"{o.resent}; answered in the {RECORDING_WINDOW * 1000:.0f} ms before a kill: {o.answered_late}; "
                  f"duplicated answers: {o.duplicated}, of them answered before the kill but not yet recorded: "
                  f"{o.answered_unrecorded}")
            for line in o.in_flight:
                print(f"  {line}")
    for o in outcomes:
        if o.injected:
            print(f"{o.scenario}: faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(o.injected.items())))
    print()
    targets = [(o.scenario, o.lost == 0 and o.unanswered == 0
                and (o.duplicated <= o.kills if o.kills else o.duplicated == 0)) for o in outcomes]
    for name, met in targets:
        print(f"target (0 lost, 0 unanswered, duplicates <= 1 per kill, 0 without kills) "
              f"{'met' if met else 'NOT met'}: {name}")
    for o in outcomes:
        if o.kills:
            kept = o.answered_unrecorded == 0 and o.duplicated <= sum(o.on_wire)
            print(f"promise (a copy again only of a message on the wire at a kill, none of one already "
                  f"answered) {'kept' if kept else 'NOT kept'}: {o.scenario}")


async def main_async(args: argparse.Namespace) -> list[Outcome]:
    scenarios = [Scenario("baseline", faults=False, kills=False), Scenario("faults", faults=True, kills=False),
                 Scenario("faults+kills", faults=True, kills=True)]
    wanted = [s for s in scenarios if s.name in args.scenarios]
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="chaos-") as work:
        for scenario in wanted:
            print(f"running {scenario.name} …", file=sys.stderr, flush=True)
            outcomes.append(await run_scenario(scenario, args.seconds, args.users, args.seed, Path(work),
                                               args.kills))
            if args.keep:
                keep = Path(args.keep) / scenario.name
                keep.mkdir(parents=True, exist_ok=True)
                (keep / "bot.log").write_bytes((Path(work) / scenario.name / "bot.log").read_bytes())
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=45, help="load per scenario (then up to 60 s to settle)")
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--kills", type=int, default=6,
                        help="kill -9s in the faults+kills scenario, 6-12 s apart (its load lasts long enough)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenarios", nargs="+", default=["baseline", "faults", "faults+kills"])
    parser.add_argument("--keep", help="copy each scenario's bot log into this folder")
    args = parser.parse_args(argv)
    with ptb_offline_env():
        outcomes = asyncio.run(main_async(args))
    report(outcomes, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
