"""CPU per web-chat question: this bot beside the bare aiohttp + SQLite server, in one run.

    python benchmarks/bench_webchat_cpu.py                 # 50 officials, 10 questions each, 3 rounds
    python benchmarks/bench_webchat_cpu.py --rounds 5

bench_webchat.py measures questions per second, which on a shared machine
follows whatever else runs (its bare-server baseline moved from 224 to 938
questions/s between two runs of one afternoon). The CPU time a question costs
moves much less. This script drives the same officials against the same
servers as bench_webchat.py (its functions, imported), all asking at once,
and reads the process's CPU time (every thread: the event loop, the bot's
writer thread, the clients) around each saturated phase. The clients' share
is alike for both servers, so the ratio bare / ours of CPU per question
estimates the throughput ratio on an idle machine, as bench_telegram.py's
CPU figures do.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_webchat as web  # noqa: E402  (it puts this checkout's bot on sys.path)


async def cpu_per_question(server, mode: str, officials: int, per: int, asked: list[str]) -> tuple[float, float]:
    """CPU ms and wall ms per question over one saturated phase against a fresh server."""
    with tempfile.TemporaryDirectory() as tmp:
        base, close = await server(Path(tmp))
        people = await web.arrive(base, mode, officials)
        try:
            await web.drive("warm-up", people, 1, asked)
            cpu = time.process_time()
            result = await web.drive("measured", people, per, asked)
            cpu = time.process_time() - cpu
        finally:
            await asyncio.gather(*(p.close() for p in people))
            await close()
    return 1000 * cpu / result.questions, 1000 * result.seconds / result.questions


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    asked = web.questions()
    modes = [("this bot, event stream", web.our_server, "stream"),
             ("this bot, plain fetch", web.our_server, "fetch"),
             ("bare aiohttp + SQLite (baseline)", web.bare_server, "fetch")]
    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        for name, server, mode in modes:
            c, w = await cpu_per_question(server, mode, args.officials, args.questions, asked)
            cpu.setdefault(name, []).append(c)
            wall.setdefault(name, []).append(w)
            print(f"round {round_ + 1}: {name}: {c:.2f} ms CPU, {w:.2f} ms wall per question", flush=True)
    print(f"\n{args.officials} officials, {args.questions} questions each, all at once; {args.rounds} round(s), "
          f"medians; Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; bot from {web.REPO}")
    print("| server and page | CPU ms per question | wall ms per question | questions/s |")
    print("|---|---:|---:|---:|")
    for name in cpu:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"| {name} | {c:.2f} | {w:.2f} | {1000 / w:.1f} |")
    base = statistics.median(cpu["bare aiohttp + SQLite (baseline)"])
    print(f"\nCPU per question, baseline / ours: event stream {base / statistics.median(cpu['this bot, event stream']):.2f}; "
          f"plain fetch {base / statistics.median(cpu['this bot, plain fetch']):.2f} "
          "(the throughput ratio to expect on an idle machine)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--officials", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10, help="per official")
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
