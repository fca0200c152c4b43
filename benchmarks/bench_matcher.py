"""Speed and memory of the FAQ matcher against a BM25 reference, on synthetic FAQs.

    python benchmarks/bench_matcher.py                      # N = 100, 1000, 10000
    python benchmarks/bench_matcher.py --sizes 100,1000 --queries 500
    python benchmarks/bench_matcher.py --sizes 10000 --profile   # + cProfile of the queries
    python benchmarks/bench_matcher.py --sizes shipped,10000     # + the shipped FAQ (knowledge/)

`shipped` as a size stands for the shipped FAQ (knowledge/), asked the
questions of benchmarks/data/realistic_chat.tsv (and as many more, made from
them as the synthetic queries are, when --queries asks for more).

For each N, in one process: generate an FAQ of N entries and a realistic query
mix (benchmarks/synthetic_faq.py), then for our `Matcher` and for bm25s over
accent-folded tokens (one document per entry, top 3 retrieved one query at a
time, as a bot would):

* build time of the index (time.perf_counter, best of a few builds for small N);
* per-query time, mean / p95 / max over the queries, single process;
* memory: tracemalloc peak during a build and the size the index keeps
  afterwards (a separate, traced build: tracemalloc slows Python down), and the
  RSS growth over the first untraced build (/proc/self/statm; noisy, since the
  allocator reuses memory freed by earlier sizes);
* found@3 on the synthetic queries: share of in-scope queries whose entry is
  among the 3 offered (ours: the answer or the "did you mean" candidates;
  bm25s: the raw top 3). Synthetic FAQs have near-duplicate entries, so this is
  only a sanity check; bench_accuracy.py measures accuracy.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (str(REPO), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import bm25s
from synthetic_faq import (
    Query,
    build_lexicon,
    generate_entries,
    generate_queries,
    real_synonyms,
    synthetic_kb,
)

from bot.config import MatcherConfig, load_config
from bot.knowledge.base import Entry, KnowledgeBase, load_knowledge
from bot.language.calibration import Decider, load_decider
from bot.language.matching import Matcher
from bot.language.text import fold

MB = 1024 * 1024
SHIPPED = "shipped"  # a --sizes item: the shipped FAQ instead of a synthetic one


# ---------------------------------------------------------------------------
# The BM25 reference (also used by bench_accuracy.py)
# ---------------------------------------------------------------------------


def bm25_tokens(text: str) -> list[str]:
    """Accent-folded, lower-case word tokens (the same folding our matcher starts from)."""
    return fold(text).split()


class BM25Reference:
    """bm25s over folded tokens; one document per entry (its question and variants)."""

    def __init__(self, entries: Sequence[Entry], k1: float = 1.5, b: float = 0.75) -> None:
        self.ids = [e.id for e in entries]
        corpus = [bm25_tokens(" ".join(e.phrasings)) for e in entries]
        self.retriever = bm25s.BM25(k1=k1, b=b)
        self.retriever.index(corpus, show_progress=False)

    def rank(self, query: str, k: int = 3) -> list[tuple[str, float]]:
        """The k best entries for one query, best first, with their BM25 scores."""
        k = min(k, len(self.ids))
        docs, scores = self.retriever.retrieve([bm25_tokens(query)], k=k, show_progress=False)
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True)]


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


def current_rss() -> int | None:
    """Resident set size now, in bytes (Linux), or None."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def max_rss() -> int:
    """Peak RSS in bytes: ru_maxrss (resource.getrusage)."""
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_rss_since_reset() -> int:
    """Peak RSS in bytes since reset_peak_rss(): VmHWM on Linux, else ru_maxrss.

    ru_maxrss of a child started from a big parent keeps the parent's peak
    (the kernel carries it over at exec, and clear_refs does not reset it);
    VmHWM belongs to the child's own memory map and is reset.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max_rss()


def reset_peak_rss() -> None:
    """Reset the peak RSS that ru_maxrss reports (Linux ≥ 4.0; elsewhere a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


@dataclass
class EngineResult:
    engine: str
    n: int
    build_s: float
    query_s: list[float]
    found3: float
    rss_peak_mb: float = float("nan")  # fresh child process: peak RSS over the build
    rss_retained_mb: float = float("nan")  # ... and RSS the built index keeps
    traced_peak_mb: float = float("nan")  # tracemalloc, in this process
    traced_retained_mb: float = float("nan")
    slowest: list[tuple[float, Query]] = field(default_factory=list)

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.query_s) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.query_s)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000

    @property
    def max_ms(self) -> float:
        return max(self.query_s) * 1000


@dataclass
class Engine:
    name: str
    build: Callable[[], Any]
    ask: Callable[[Any, str], list[str]]  # index, query -> offered entry ids (best first)


def time_builds(build: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    """Build `repeats` times: the last index and the best time."""
    best = float("inf")
    index: Any = None
    for _ in range(repeats):
        index = None
        gc.collect()
        t0 = time.perf_counter()
        index = build()
        best = min(best, time.perf_counter() - t0)
    return index, best


def traced_build(build: Callable[[], Any]) -> tuple[float, float]:
    """tracemalloc peak during a build and the memory the built index keeps, in MB."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    index = build()
    gc.collect()
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    gc.collect()
    return peak / MB, retained / MB


def time_queries(index: Any, ask: Callable[[Any, str], list[str]],
                 queries: Sequence[Query]) -> tuple[list[float], float, list[tuple[float, Query]]]:
    ask(index, "đổi mật khẩu")  # warm-up: first-call imports and caches
    times: list[float] = []
    found = in_scope = 0
    for q in queries:
        t0 = time.perf_counter()
        offered = ask(index, q.text)
        times.append(time.perf_counter() - t0)
        if q.expected != "-":
            in_scope += 1
            found += q.expected in offered
    slowest = sorted(zip(times, queries, strict=True), key=lambda tq: -tq[0])[:5]
    return times, found / max(in_scope, 1), slowest


def rss_in_child(key: str, n: int | str, seed: int) -> tuple[float, float]:
    """Peak RSS growth during one build, and RSS kept after it, in a fresh process (MB).

    The child generates the same FAQ, resets the kernel's peak-RSS mark, notes
    its RSS, builds the index once and reports the peak RSS (VmHWM, or
    ru_maxrss off Linux) and the RSS it ends with. A fresh process keeps the numbers clear of what
    earlier sizes left in the allocator.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", f"{key}:{n}:{seed}"]
    proc = subprocess.run(cmd, check=False, cwd=REPO, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        print(f"memory child failed: {proc.stderr[-2000:]}", file=sys.stderr)
        return float("nan"), float("nan")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return data["peak_mb"], data["retained_mb"]


def memory_child(spec: str) -> int:
    """`--memory-child KEY:N:SEED`: build one index and print its RSS numbers as JSON."""
    key, n, seed = spec.split(":")
    config = _matcher_config()[0]
    if n == SHIPPED:
        kb = load_knowledge(REPO / "knowledge")
    else:
        kb = synthetic_kb(generate_entries(int(n), int(seed), build_lexicon()), real_synonyms())
    engine = engines(kb, config)[key]
    gc.collect()
    reset_peak_rss()
    before = current_rss() or 0
    index = engine.build()
    peak = peak_rss_since_reset() - before
    gc.collect()
    after = current_rss() or 0
    print(json.dumps({"peak_mb": peak / MB, "retained_mb": (after - before) / MB,
                      "check": type(index).__name__}))
    return 0


def shipped_queries(n: int, seed: int, synonyms: Any) -> list[Query]:
    """The realistic chat's questions, then (to reach n) the shipped FAQ's own generated queries."""
    lines = (HERE / "data" / "realistic_chat.tsv").read_text(encoding="utf-8").splitlines()[1:]
    asked = [Query(*line.split("\t")[:3]) for line in lines if line.count("\t") >= 2]
    if len(asked) < n:
        asked += generate_queries(load_knowledge(REPO / "knowledge").entries, n - len(asked), seed, synonyms)
    return asked[:n]


def run_engine(key: str, engine: Engine, n: int, seed: int, queries: Sequence[Query],
               repeats: int, rss: bool, traced: bool, size: int | str | None = None) -> EngineResult:
    """Time, check and weigh one engine over one FAQ of n entries (`size`: how the memory
    child makes that FAQ again, n or SHIPPED)."""
    index, build_s = time_builds(engine.build, repeats)
    times, found3, slowest = time_queries(index, engine.ask, queries)
    del index
    result = EngineResult(engine.name, n, build_s, times, found3, slowest=slowest)
    if traced:
        result.traced_peak_mb, result.traced_retained_mb = traced_build(engine.build)
    if rss:
        result.rss_peak_mb, result.rss_retained_mb = rss_in_child(key, n if size is None else size, seed)
    return result


def engines(kb: KnowledgeBase, config: MatcherConfig) -> dict[str, Engine]:
    def ours_ask(m: Matcher, q: str) -> list[str]:
        r = m.match(q)
        return ([r.entry_id] if r.entry_id else []) + [c.entry_id for c in r.candidates]

    def bm25_ask(ref: BM25Reference, q: str) -> list[str]:
        return [i for i, _ in ref.rank(q, 3)]

    return {
        "ours": Engine("ours (Matcher)", lambda: Matcher(kb, config, _decider(config)), ours_ask),
        "bm25": Engine("bm25s (folded)", lambda: BM25Reference(kb.entries), bm25_ask),
    }


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def _git_state() -> str:
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], check=False, cwd=REPO, capture_output=True,
                                  text=True, timeout=5).stdout.strip()

        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "bot")
        return f"{head or '?'}{' + uncommitted changes in bot/' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info() -> list[str]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy
    import rapidfuzz

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    versions = (f"rapidfuzz {rapidfuzz.__version__}, bm25s {bm25s.__version__}, "
                f"numpy {numpy.__version__}")
    machine = (f"{platform.platform()}; {cpu or 'cpu ?'}; "
               f"cpu count {os.cpu_count()} (usable {usable})")
    return [
        f"- machine: {machine}",
        f"- python {platform.python_version()} ({platform.python_implementation()}); {versions}",
        f"- bot at git {_git_state()}",
    ]


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def table(results: Sequence[EngineResult], phrasings: dict[int, int]) -> str:
    head = ("| N entries (phrasings) | engine | build s | query mean ms | p95 ms | max ms "
            "| RSS peak Δ MB | RSS kept MB | traced peak MB | traced kept MB | found@3 |")
    lines = [head, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r.n:,} ({phrasings[r.n]:,}) | {r.engine} | {_fmt(r.build_s, 3)} | "
            f"{_fmt(r.mean_ms, 3)} | {_fmt(r.p95_ms, 3)} | {_fmt(r.max_ms, 1)} | "
            f"{_fmt(r.rss_peak_mb, 1)} | {_fmt(r.rss_retained_mb, 1)} | "
            f"{_fmt(r.traced_peak_mb)} | {_fmt(r.traced_retained_mb)} | {_fmt(r.found3, 3)} |"
        )
    return "\n".join(lines)


def profile_queries(kb: KnowledgeBase, config: MatcherConfig, queries: Sequence[Query],
                    top: int) -> str:
    matcher = Matcher(kb, config, _decider(config))
    matcher.match("đổi mật khẩu")
    profiler = cProfile.Profile()
    profiler.enable()
    for q in queries:
        matcher.match(q.text)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _decider(config: MatcherConfig) -> Decider | None:
    """The shipped decision model (knowledge/matcher-fit.json), as the bot decides."""
    return load_decider(REPO / "knowledge", config.target_error_rate)


def _matcher_config() -> tuple[MatcherConfig, str]:
    try:
        return load_config(REPO / "config.yaml").matcher, "config.yaml"
    except Exception:  # noqa: BLE001 - any config problem: fall back to the defaults
        return MatcherConfig(), "MatcherConfig() defaults"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="comma-separated FAQ sizes (default 100,1000,10000)")
    parser.add_argument("--queries", type=int, default=500, help="queries per size (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the memory builds (child process and tracemalloc)")
    parser.add_argument("--trace-max", type=int, default=1000,
                        help="tracemalloc builds only up to this N (default 1000: a traced "
                             "10k build takes over a minute)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile our matcher's queries on the largest size")
    parser.add_argument("--profile-top", type=int, default=20)
    args = parser.parse_args(argv)
    if args.memory_child:
        return memory_child(args.memory_child)
    sizes = [s.strip() if s.strip() == SHIPPED else int(s.replace("_", "")) for s in args.sizes.split(",")
             if s.strip()]

    started = time.perf_counter()
    config, config_note = _matcher_config()
    synonyms = real_synonyms()
    lexicon = build_lexicon()
    print("# FAQ matcher benchmark: ours vs bm25s\n")
    print("\n".join(machine_info()))
    print(f"- matcher thresholds from {config_note}; synonyms from knowledge/synonyms.yaml")
    print(f"- synthetic FAQ: seed {args.seed}, lexicon {lexicon.fingerprint()} "
          f"({len(lexicon.pairs)} action-object pairs) "
          f"from {len(lexicon.sources)} real FAQ file(s)")
    print(f"- {args.queries} queries per size "
          f"(mix: acc/noacc/typo/abbr/long 85%, out-of-scope 15%)"
          + ("; shipped FAQ: benchmarks/data/realistic_chat.tsv first" if SHIPPED in sizes else "")
          + "\n", flush=True)

    results: list[EngineResult] = []
    phrasings: dict[int, int] = {}
    last: tuple[KnowledgeBase, list[Query]] | None = None
    for size in sizes:
        if size == SHIPPED:
            kb = load_knowledge(REPO / "knowledge")
            entries = list(kb.entries)
            queries = shipped_queries(args.queries, args.seed + 1, synonyms)
        else:
            entries = generate_entries(size, args.seed, lexicon)
            kb = synthetic_kb(entries, synonyms)
            queries = generate_queries(entries, args.queries, args.seed + 1, synonyms)
        n = len(entries)
        phrasings[n] = sum(len(e.phrasings) for e in entries)
        repeats = 3 if n <= 1000 else 1
        for key, engine in engines(kb, config).items():
            r = run_engine(key, engine, n, args.seed, queries, repeats, rss=not args.no_memory,
                           traced=not args.no_memory and n <= args.trace_max, size=size)
            results.append(r)
            print(f"  N={n:,} {engine.name}: build {r.build_s:.3f}s, "
                  f"query mean {r.mean_ms:.3f} ms, p95 {r.p95_ms:.3f} ms "
                  f"({time.perf_counter() - started:.0f}s elapsed)",
                  file=sys.stderr, flush=True)
        last = (kb, queries)

    print(table(results, phrasings))
    print(f"\nbuild: best of 3 builds for N ≤ 1000, one build above; query: one `match()` "
          f"(ours) or fold + `retrieve(k=3)` (bm25s) per query, {args.queries} queries.")
    print("RSS peak Δ / kept: one build in a fresh child process (VmHWM and RSS, "
          "less the RSS before the build); traced: tracemalloc over another build in this "
          f"process, for N ≤ {args.trace_max} ('-' above).")
    print(f"process max RSS {max_rss() / MB:.0f} MB; "
          f"total time {time.perf_counter() - started:.0f}s")

    print("\n## Slowest queries (ours, largest N)\n")
    ours_last = [r for r in results if r.n == n and r.engine.startswith("ours")]
    for seconds, q in ours_last[0].slowest if ours_last else []:
        words = len(q.text.split())
        print(f"- {seconds * 1000:.1f} ms [{q.kind}, {words} words] {q.text}")

    if args.profile and last is not None:
        kb, queries = last
        print(f"\n## cProfile of our matcher, N={n:,}, {len(queries)} queries\n")
        print("```")
        print(profile_queries(kb, config, queries, args.profile_top).rstrip())
        print("```")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
