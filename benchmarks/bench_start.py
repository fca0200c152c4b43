"""How long `python -m bot run` takes to serve with a big FAQ, beside the shipped one, in the same run.

    python benchmarks/bench_start.py                       # 10,000 synthetic entries
    python benchmarks/bench_start.py --entries 1000,10000 --rounds 3

For each FAQ size, a knowledge folder is made in a temporary directory: the
repo's knowledge/ (systems, synonyms, communes) with its FAQ replaced by
`synthetic_faq.py`'s entries. `python -m bot run` is started on it as a
subprocess (no messenger token: the web console only), and the clock runs from
the spawn to the first 200 from `/healthz`; then SIGINT stops it. The
**baseline** is the same start with the shipped FAQ, in the same run.

Then, in this process, the parts of a start on the largest FAQ: loading the
YAML, building the matcher, and the confusable-entry check, whose candidate
phrasings (from its index) are the only ones put to the matcher; beside it,
the **former check** (the matcher asked about every phrasing), timed on a
sample and extrapolated. Since the checks that can only warn run on their own
thread once the bot serves, the start itself is loading and building.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (REPO, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from synthetic_faq import generate_entries, to_yaml  # noqa: E402

from bot.config import load_config  # noqa: E402
from bot.knowledge.base import load_knowledge  # noqa: E402
from bot.knowledge.check import CANDIDATE_SHARE, CHECK_SECONDS, candidate_phrasings, confusable_entries  # noqa: E402
from bot.language.matching import Matcher  # noqa: E402

LIMIT_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def knowledge_with(folder: Path, entries: int | None) -> Path:
    """A copy of the repo's knowledge/, its FAQ replaced by `entries` synthetic ones (None: the shipped FAQ)."""
    target = folder / "knowledge"
    shutil.copytree(REPO / "knowledge", target)
    if entries is not None:
        for faq in target.rglob("faq/*.yaml"):
            faq.unlink()
        faq_dir = next(target.rglob("faq"))
        (faq_dir / "synthetic.yaml").write_text(to_yaml(generate_entries(entries, seed=0)), encoding="utf-8")
    return target


def start_seconds(knowledge: Path, folder: Path) -> float:
    """From spawning `python -m bot run` to its first healthy /healthz."""
    port = free_port()
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("knowledge_dir: knowledge", f"knowledge_dir: {knowledge}")
    text = text.replace("database: data/bot.sqlite", f"database: {folder / 'data' / 'bot.sqlite'}")
    text = text.replace("port: 8080", f"port: {port}")
    config = folder / "config.yaml"
    config.write_text(text, encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "ZALO_OA_SECRET_KEY")}
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=folder,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"bot run exited with {proc.returncode}:\n{proc.stderr.read()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - began
            except OSError:
                pass
            if time.perf_counter() - began > 300:
                raise SystemExit("bot run did not serve /healthz within 300 s")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def parts(knowledge: Path, sample: int) -> dict[str, float]:
    config = load_config(REPO / "config.yaml").matcher
    began = time.perf_counter()
    kb = load_knowledge(knowledge)
    loaded = time.perf_counter()
    matcher = Matcher(kb, config)
    built = time.perf_counter()
    candidates = list(candidate_phrasings(kb, CANDIDATE_SHARE))
    indexed = time.perf_counter()
    problems = confusable_entries(kb, matcher, "warning", budget=CHECK_SECONDS, share=CANDIDATE_SHARE)
    checked = time.perf_counter()
    phrasings = [(e, t) for e in kb.entries for t in e.phrasings]
    picked = random.Random(0).sample(phrasings, min(sample, len(phrasings)))
    began_sample = time.perf_counter()
    for _, text in picked:
        matcher.rank(text, limit=3)
    per_phrasing = (time.perf_counter() - began_sample) / max(len(picked), 1)
    return {"entries": len(kb.entries), "phrasings": len(phrasings), "load": loaded - began,
            "build": built - loaded, "candidates": len(candidates), "index": indexed - built,
            "check": checked - indexed, "confusable": len(problems),
            "former_check": per_phrasing * len(phrasings)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", default="10000", help="synthetic FAQ sizes, e.g. 1000,10000")
    parser.add_argument("--rounds", type=int, default=3, help="starts per FAQ (the median is reported)")
    parser.add_argument("--sample", type=int, default=500, help="phrasings timed for the former check")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.entries.split(",") if x.strip()]
    folder = Path(tempfile.mkdtemp(prefix="bench-start-"))
    try:
        rows = []
        for entries in [None, *sizes]:
            work = folder / f"faq-{entries or 'shipped'}"
            work.mkdir()
            knowledge = knowledge_with(work, entries)
            times = [start_seconds(knowledge, work) for _ in range(args.rounds)]
            rows.append((entries, statistics.median(times), knowledge))
        shipped = rows[0][1]
        print(f"Python {sys.version.split()[0]}; start = spawn to first healthy /healthz, median of {args.rounds}\n")
        print("| FAQ | start s | × shipped FAQ (baseline) | within 10 s |\n|---|---:|---:|---|")
        for entries, seconds, _ in rows:
            name = "shipped (baseline)" if entries is None else f"{entries:,} synthetic entries"
            print(f"| {name} | {seconds:.2f} | {seconds / shipped:.1f} | {'yes' if seconds <= LIMIT_S else 'NO'} |")
        p = parts(rows[-1][2], args.sample)
        print(f"\nParts of a start on {p['entries']:,} entries ({p['phrasings']:,} phrasings), in this process:\n")
        print("| part | s |\n|---|---:|")
        print(f"| load the YAML | {p['load']:.2f} |\n| build the matcher | {p['build']:.2f} |")
        print(f"| confusable check: candidates from the index ({p['candidates']:,} phrasings) | {p['index']:.2f} |")
        print(f"| confusable check after start, on its own thread (index and matcher, {CHECK_SECONDS:g} s budget) "
              f"| {p['check']:.2f} |")
        print(f"| former check: every phrasing put to the matcher (extrapolated from {args.sample}) "
              f"| {p['former_check']:.1f} |")
        print(f"\n{p['confusable']:,} problems reported by that check (warnings logged once the bot serves).")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
