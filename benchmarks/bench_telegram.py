"""Updates per second through the fake Telegram server: our bot beside a bare PTB echo bot.

    python benchmarks/bench_telegram.py                          # 1000 updates, 100 for latency
    python benchmarks/bench_telegram.py --updates 3000 --latency-updates 200 --rounds 3

Both bots are real python-telegram-bot Applications that long-poll ``tests/fake_telegram.py``
(an aiohttp fake Bot API on 127.0.0.1, in this process and on this event loop). They get
the same updates, from the same users, in the same run, each against a fresh fake server:

* **echo**: the bare PTB echo bot, a ``MessageHandler`` that does
  ``await update.message.reply_text(update.message.text)``, polling with
  ``start_polling(poll_interval=0, timeout=1)``. PTB's defaults otherwise, so updates are
  handled one at a time (``concurrent_updates=1``).
* **ours**: the whole bot as ``python -m bot run`` starts it (``bot.app.build_services`` and
  ``bot.runner.start``): PTB, then the conversation engine and the matcher, one SQLite
  transaction per update (in a temporary folder), then the outbox worker's sendMessage.

Per bot: a short warm-up (one update at a time), then **throughput**: all N updates are
queued at once and the clock runs from the first one queued to the arrival of the N-th
sendMessage at the fake; then **latency**: updates sent one at a time, each timed from being
queued to its reply's arrival at the fake.

The updates: questions and variants from ``knowledge/faq/*.yaml``, some folded to plain
ASCII as officials often type them, plus greetings and out-of-scope sentences, spread over
many users (default 200) so that each chat gets only a few of them.

Our Telegram adapter paces sends (1 s per private chat, 3 s per group, 30 messages/s in
all) to stay inside Telegram's limits. That pacing is switched off here, or the benchmark
would measure Telegram's 30 messages/s rather than the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import itertools
import logging
import os
import platform
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp
import httpx
import telegram
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.app import Services, build_services, system_clock
from bot.channels import telegram as tgmod
from bot.config import PeopleConfig, TelegramConfig, WebConfig
from bot.knowledge.base import load_knowledge
from bot.language.text import fold
from bot.runner import Running
from bot.runner import start as start_bot
from bot.runner import stop as stop_bot
from tests.fake_telegram import FakeTelegram, ptb_offline_env
from tests.harness import make_config

FIRST_USER = 10_001  # users FIRST_USER .. FIRST_USER + users - 1 ask the questions
ADMIN, TECH = 1000, 1001  # configured, so the bot sets its command menus as in production
WARMUP = 20
PAUSE = 0.5  # a gap this long between two consecutive replies is reported as a pause

GREETINGS = (
    "Xin chào", "chào em", "Chào bot ạ", "alo", "Cảm ơn bot nhiều", "ok cảm ơn ạ", "hello",
    "chao ban",
)
OUT_OF_SCOPE = (
    "Thời tiết Sa Pa cuối tuần này thế nào",
    "Cho hỏi giá vé xe khách từ Lào Cai đi Hà Nội",
    "Tối nay đội tuyển Việt Nam đá mấy giờ",
    "Cách nấu thắng cố cho ngon",
    "Con tôi bị sốt thì nên uống thuốc gì",
    "Mua phân bón NPK ở đâu rẻ",
    "Quán cà phê nào gần ủy ban xã mở cửa sớm",
    "xin hoi lich nghi tet am lich nam nay",
)
# kind -> share of the mix; "faq" keeps the FAQ's own wording, "faq-folded" drops diacritics
MIX = (("faq", 0.60), ("faq-folded", 0.20), ("greeting", 0.10), ("out-of-scope", 0.10))


# --------------------------------------------------------------------------------------------
# The updates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    user: int
    text: str
    kind: str


def query_mix(n: int, users: int, seed: int) -> list[Message]:
    """`n` messages in the MIX proportions, round-robin over `users` users."""
    kb = load_knowledge(REPO / "knowledge")
    phrasings = [p for entry in kb.entries for p in entry.phrasings]
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    out: list[Message] = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        if kind == "faq":
            text = rng.choice(phrasings)
        elif kind == "faq-folded":
            text = fold(rng.choice(phrasings))
        elif kind == "greeting":
            text = rng.choice(GREETINGS)
        else:
            text = rng.choice(OUT_OF_SCOPE)
        out.append(Message(FIRST_USER + i % users, text, kind))
    return out


# --------------------------------------------------------------------------------------------
# The fake server, with a clock on sendMessage
# --------------------------------------------------------------------------------------------


class TimedFakeTelegram(FakeTelegram):
    """FakeTelegram that notes when each sendMessage arrives, and wakes a waiter at once.

    ``wait_sent`` polls every 10 ms, too coarse for latencies of a few milliseconds.
    """

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []  # perf_counter() when each sendMessage arrived
        self.handler_seconds = 0.0  # time spent inside the fake's sendMessage (HTML check etc.)
        self._want = 0
        self._reached: asyncio.Event | None = None

    def _m_sendMessage(self, params: dict) -> dict:
        arrived = time.perf_counter()
        try:
            return super()._m_sendMessage(params)
        finally:
            self.handler_seconds += time.perf_counter() - arrived
            self.arrivals.append(arrived)
            if self._reached is not None and len(self.arrivals) >= self._want:
                self._reached.set()

    async def arrival(self, count: int, timeout: float) -> float:
        """Wait until `count` sendMessage calls have arrived; return when the last one did."""
        if len(self.arrivals) < count:
            self._want, self._reached = count, asyncio.Event()
            try:
                await asyncio.wait_for(self._reached.wait(), timeout)
            except TimeoutError:
                raise RuntimeError(
                    f"only {len(self.arrivals)} of {count} replies arrived within {timeout:.0f} s\n"
                    + self.dump()
                ) from None
            finally:
                self._reached = None
        return self.arrivals[count - 1]


# --------------------------------------------------------------------------------------------
# The two bots
# --------------------------------------------------------------------------------------------


class BenchBot(Protocol):
    label: str

    async def start(self, tg: FakeTelegram) -> None: ...

    async def stop(self) -> None: ...


class EchoBot:
    """The bare PTB echo bot."""

    label = "bare PTB echo bot"

    def __init__(self) -> None:
        self.app: Application | None = None

    async def start(self, tg: FakeTelegram) -> None:
        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message is not None and update.message.text is not None
            await update.message.reply_text(update.message.text)

        self.app = tg.builder().build()
        self.app.add_handler(MessageHandler(filters.TEXT, echo))
        await self.app.initialize()
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0, timeout=1)

    async def stop(self) -> None:
        if self.app is None:
            return
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        self.app = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OurBot:
    """The whole bot, started the way `python -m bot run` starts it, on a temporary database."""

    label = "our bot (full stack)"

    def __init__(self) -> None:
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.services: Services | None = None
        self.running: Running | None = None
        self.decisions: Counter[str] = Counter()

    async def start(self, tg: FakeTelegram) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bench_telegram_")
        config = make_config(Path(self.tmp.name))  # the repo's config.yaml, database in tmp
        config = dataclasses.replace(
            config,
            people=PeopleConfig(admins=(f"telegram:{ADMIN}",), technicians=(f"telegram:{TECH}",)),
            telegram=TelegramConfig(api_base_url="http://unused.invalid", poll_timeout=1),
            web=WebConfig(host="127.0.0.1", port=free_port()),
        )
        self.services = build_services(config, system_clock)
        env = {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.url}
        self.running = await start_bot(self.services, env)

    async def stop(self) -> None:
        if self.running is not None:
            await stop_bot(self.running)
            self.running = None
        if self.services is not None:
            db = self.services.db
            self.decisions = Counter(
                {row[0]: row[1] for row in db.execute(
                    "select decision, count(*) from query_log group by decision").fetchall()})
            unsent = db.execute("select count(*) from outbox where status != 'sent'").fetchone()[0]
            db.close()
            self.services = None
            if unsent:
                raise RuntimeError(f"{unsent} outbox rows were not sent")
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    throughputs: list[float] = field(default_factory=list)  # updates/s, one per round
    latencies: list[float] = field(default_factory=list)  # seconds, every round's samples
    fake_ms_per_reply: list[float] = field(default_factory=list)
    cpu_ms_per_update: list[float] = field(default_factory=list)  # whole process, all threads
    pauses: list[float] = field(default_factory=list)  # throughput gaps of >= PAUSE seconds
    decisions: Counter[str] = field(default_factory=Counter)


@contextlib.contextmanager
def pacing_disabled() -> Iterator[None]:
    """No per-chat or overall send pacing in the Telegram adapter (see the module docstring)."""
    saved = (tgmod.PRIVATE_INTERVAL, tgmod.GROUP_INTERVAL, tgmod.OVERALL_PER_SECOND)
    tgmod.PRIVATE_INTERVAL, tgmod.GROUP_INTERVAL, tgmod.OVERALL_PER_SECOND = 0.0, 0.0, 10**9
    try:
        yield
    finally:
        tgmod.PRIVATE_INTERVAL, tgmod.GROUP_INTERVAL, tgmod.OVERALL_PER_SECOND = saved


async def measure(bot: BenchBot, warmup: Sequence[Message], batch: Sequence[Message],
                  one_by_one: Sequence[Message], result: Result) -> None:
    """One round for one bot, against a fresh fake server."""
    async with TimedFakeTelegram() as tg:
        await bot.start(tg)
        try:
            sent = 0
            for m in warmup:
                tg.user_text(m.user, m.text)
                sent += 1
                await tg.arrival(sent, timeout=30)

            start = time.perf_counter()
            cpu_before = time.process_time()
            fake_before = tg.handler_seconds
            for m in batch:
                tg.user_text(m.user, m.text)
            last = await tg.arrival(sent + len(batch), timeout=60 + len(batch) / 10)
            result.throughputs.append(len(batch) / (last - start))
            result.cpu_ms_per_update.append((time.process_time() - cpu_before) / len(batch) * 1000)
            replies = [start, *tg.arrivals[sent:sent + len(batch)]]
            result.pauses += [b - a for a, b in itertools.pairwise(replies) if b - a >= PAUSE]
            sent += len(batch)
            result.fake_ms_per_reply.append((tg.handler_seconds - fake_before) / len(batch) * 1000)

            for m in one_by_one:
                queued = time.perf_counter()
                tg.user_text(m.user, m.text)
                sent += 1
                result.latencies.append(await tg.arrival(sent, timeout=30) - queued)
        finally:
            errors = list(tg.errors)
            await bot.stop()
        # On stop PTB confirms the last offset with one more getUpdates, which ends the long
        # poll it abandoned; the fake answers that abandoned request 409, and no one reads it.
        errors += [e for e in tg.errors[len(errors):] if e[:2] != ("getUpdates", 409)]
        if isinstance(bot, OurBot):
            result.decisions += bot.decisions
        # exactly one reply per update, no errors, nothing left unread
        if len(tg.arrivals) != sent:
            raise RuntimeError(f"{bot.label}: {len(tg.arrivals)} replies to {sent} updates")
        if errors:
            raise RuntimeError(f"{bot.label}: the fake answered with errors: {errors[:5]}")
        if tg.pending_updates:
            raise RuntimeError(f"{bot.label}: {len(tg.pending_updates)} updates never fetched")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_info() -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        (f"- machine: {platform.platform()}, {cpu_model()}, "
         f"{os.cpu_count()} CPUs ({usable} usable)"),
        (f"- python {platform.python_version()} ({platform.python_implementation()}), "
         f"python-telegram-bot {telegram.__version__}, httpx {httpx.__version__} (the echo bot's "
         f"HTTP, PTB's default), aiohttp {aiohttp.__version__} (ours: bot/channels/telegram_http.py; "
         f"and the fake), SQLite {sqlite3.sqlite_version}"),
        f"- temporary database folder: {tempfile.gettempdir()}",
    ]


def report(echo: Result, ours: Result, args: argparse.Namespace, mix: Counter[str],
           elapsed: float) -> str:
    def row(r: Result) -> str:
        tp = statistics.median(r.throughputs)
        spread = (f" ({min(r.throughputs):.0f}–{max(r.throughputs):.0f})"
                  if len(r.throughputs) > 1 else "")
        ms = [v * 1000 for v in r.latencies]
        return (f"| {r.label} | {tp:.0f}{spread} | {statistics.fmean(ms):.2f} | "
                f"{percentile(ms, 0.5):.2f} | {percentile(ms, 0.95):.2f} | {max(ms):.2f} | "
                f"{statistics.fmean(r.fake_ms_per_reply):.2f} | {statistics.median(r.cpu_ms_per_update):.2f} |")

    ratio = statistics.median(ours.throughputs) / statistics.median(echo.throughputs)
    cpu_ratio = statistics.median(ours.cpu_ms_per_update) / statistics.median(echo.cpu_ms_per_update)
    added_mean = (statistics.fmean(ours.latencies) - statistics.fmean(echo.latencies)) * 1000
    added_p50 = (percentile(ours.latencies, 0.5) - percentile(echo.latencies, 0.5)) * 1000
    rounds = f"median (min–max) of {args.rounds} rounds" if args.rounds > 1 else "1 round"
    total = sum(mix.values())
    shares = ", ".join(f"{k} {mix[k] / total:.0%}" for k, _ in MIX)
    decided = sum(ours.decisions.values())
    decisions = ", ".join(f"{k} {v / decided:.0%}" for k, v in ours.decisions.most_common())
    lines = [
        "## Telegram: our bot beside a bare PTB echo bot, through tests/fake_telegram.py",
        "",
        *machine_info(),
        (f"- per bot and round, on a fresh fake server: {WARMUP} warm-up updates, then "
         f"{args.updates} queued at once for throughput, then {args.latency_updates} sent one "
         f"at a time for latency; {args.rounds} round(s), {args.users} users, seed {args.seed}"),
        f"- updates: {shares} (FAQ questions and variants from knowledge/faq/)",
        (f"- how ours handled the non-greetings: {decisions or 'n/a'} "
         "(greetings are answered before the matcher)"),
        ("- **send pacing disabled** in bot.channels.telegram (PRIVATE_INTERVAL = GROUP_INTERVAL "
         "= 0, OVERALL_PER_SECOND = 10^9): with it on, this would measure Telegram's own limit "
         "of 30 messages/s (and 1/s per chat), not the bot"),
        "",
        (f"| bot | updates/s, {rounds} | latency mean ms | p50 ms | p95 ms | max ms | "
         "fake sendMessage ms/reply | CPU ms/update |"),
        "|---|---|---|---|---|---|---|---|",
        row(echo),
        row(ours),
        "",
        f"- **throughput ratio ours/echo: {ratio:.2f}**",
        (f"- CPU per update, ours/echo: {cpu_ratio:.2f} (process CPU time during the throughput phase, "
         "all threads, the fake's share included; unlike updates/s it hardly moves when other "
         "programs load the machine, so echo/ours CPU estimates the throughput ratio on an idle one)"),
        (f"- **added latency per update (ours − echo): {added_mean:+.2f} ms mean, "
         f"{added_p50:+.2f} ms p50**"),
    ]
    for r in (echo, ours):
        if r.pauses:
            lines.append(
                f"- **{r.label}: {len(r.pauses)} pauses of {PAUSE} s or more between consecutive "
                f"replies while the batch was being answered** ({sum(r.pauses):.1f} s in all, "
                f"{min(r.pauses):.2f}–{max(r.pauses):.2f} s each, over {args.rounds} round(s))")
    if ours.pauses and 0.9 <= statistics.median(ours.pauses) <= 1.2:
        lines.append(
            "  - pauses of about 1 s after every 50 replies come from the outbox worker "
            "(bot/store/outbox.py): run_once() delivers at most 50 rows (due(limit=50)), then run() "
            "clears `wakeup` (dropping wake-ups that came in the meantime) and idles for "
            "idle_seconds=1.0 although more rows are due")
    lines += [
        ("- throughput = N / (time from queuing the first update to the N-th sendMessage "
         "arriving at the fake); latency = from queuing one update to its reply arriving"),
        ("- the fake server runs in the same process and event loop; its sendMessage handler's "
         "cost per reply is the "
         "last column (ours sends longer HTML with keyboards). It slows both rows, so the ratio "
         "is pulled towards 1, while the added latency is not affected by a cost both share"),
        ("- the echo bot awaits its sendMessage inside the handler, and PTB handles one update "
         "at a time; ours returns once the update's SQLite transaction has committed, and the "
         "outbox worker sends the replies, to different chats concurrently"),
        f"- whole run: {elapsed:.1f} s",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


class CountWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The knowledge base's own warnings at start (a contact not filled in, a stale
        # fit) are about the shipped files, not about this run.
        if record.name != "bot.knowledge.live":
            self.records.append(record)


async def run(args: argparse.Namespace) -> tuple[Result, Result, Counter[str]]:
    everything = query_mix(WARMUP + args.updates + args.latency_updates, args.users, args.seed)
    warmup = everything[:WARMUP]
    batch = everything[WARMUP:WARMUP + args.updates]
    one_by_one = everything[WARMUP + args.updates:]
    mix = Counter(m.kind for m in batch + one_by_one)
    echo, ours = Result(EchoBot.label), Result(OurBot.label)
    for n in range(args.rounds):
        # alternate which bot goes first, so neither always gets the warmer process
        pairs = [(EchoBot, echo), (OurBot, ours)]
        for factory, result in pairs if n % 2 == 0 else reversed(pairs):
            print(f"round {n + 1}/{args.rounds}: {result.label} ...", file=sys.stderr, flush=True)
            await measure(factory(), warmup, batch, one_by_one, result)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if leftover:
        raise RuntimeError(f"tasks still running after shutdown: {leftover}")
    return echo, ours, mix


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=1000,
                        help="updates queued at once for throughput (default 1000)")
    parser.add_argument("--latency-updates", type=int, default=100,
                        help="updates sent one at a time for latency (default 100)")
    parser.add_argument("--users", type=int, default=200,
                        help="distinct users the updates come from (default 200)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds per bot, alternating which goes first (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.updates, args.latency_updates, args.users, args.rounds) < 1:
        parser.error("--updates, --latency-updates, --users and --rounds must be at least 1")

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    counter = CountWarnings()
    logging.getLogger().addHandler(counter)
    began = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, ptb_offline_env(), pacing_disabled():
        warnings.simplefilter("always")
        echo, ours, mix = asyncio.run(run(args))
        gc.collect()  # unclosed sockets and the like warn when collected
    elapsed = time.perf_counter() - began
    print(report(echo, ours, args, mix, elapsed))
    problems = [f"warning: {w.category.__name__}: {w.message}" for w in caught]
    problems += [f"log {r.levelname}: {r.name}: {r.getMessage()}" for r in counter.records]
    print(f"- clean shutdown: {'yes' if not problems else 'NO'} "
          f"({len(caught)} warnings, {len(counter.records)} log warnings/errors, "
          "no tasks left running)")
    for problem in problems:
        print(f"  - {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
