"""Proof that a change to the matcher's speed left its behaviour alone.

    # record what one checkout of the code decides, then another, then compare
    python benchmarks/check_same_decisions.py record /tmp/old.json --code /work/main
    python benchmarks/check_same_decisions.py record /tmp/new.json
    python benchmarks/check_same_decisions.py compare /tmp/old.json /tmp/new.json

`record` builds the matcher of the code in `--code` (default: this checkout)
over the shipped FAQ (knowledge/) and asks it every FAQ question and variant,
the same folded to ASCII, benchmarks/data/realistic_chat.tsv,
benchmarks/data/small_faq_questions.tsv and knowledge/out-of-scope.txt. For
each it keeps the whole MatchResult (decision, entry, score, probability,
candidates and alternatives with their scores), the ten best entries of
`rank` with their scores, and every feature the decision model reads; once
with the shipped decision model and once with the thresholds of config.yaml
alone. With `--synthetic N` it does the same for a sample of generated queries
(benchmarks/synthetic_faq.py) against an N-entry synthetic FAQ.

`compare` reports every query whose decision, entry ids or order differ, or
whose scores, probabilities or features differ by more than 1e-9, and exits
non-zero when there is any. It also counts the queries recorded bit for bit
the same: `record` runs with PYTHONHASHSEED=0 unless another fixed seed is
set (it restarts itself so; record both sides with one seed) because
the matcher sums the weights of a set of word pairs, whose order, and so the
last bits of a score, follow the process's string hashing: the same code
under two hash seeds agrees only to about 1e-15.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOLERANCE = 1e-9


def _queries(kb: Any, fold: Any) -> list[str]:
    texts: list[str] = []
    for entry in kb.entries:
        for phrasing in entry.phrasings:
            texts += [phrasing, fold(phrasing)]
    for name in ("realistic_chat.tsv", "small_faq_questions.tsv"):
        lines = (HERE / "data" / name).read_text(encoding="utf-8").splitlines()[1:]
        texts += [line.split("\t")[2] for line in lines if line.count("\t") >= 2]
    for line in (REPO / "knowledge" / "out-of-scope.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            texts += [line.strip(), fold(line.strip())]
    seen: set[str] = set()
    return [t for t in texts if not (t in seen or seen.add(t))]


def _record_one(matcher: Any, query: str) -> dict[str, Any]:
    r = matcher.match(query)
    return {
        "decision": r.decision,
        "id": r.entry_id,
        "score": r.score,
        "probability": r.probability,
        "candidates": [[c.entry_id, c.score] for c in r.candidates],
        "alternatives": [[c.entry_id, c.score] for c in r.alternatives],
        "rank": [[c.entry_id, c.score] for c in matcher.rank(query, 10)],
        "features": matcher.features(query),
    }


def record(out: Path, code: Path, synthetic: int, sample: int) -> int:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(code))
    from bot.config import load_config
    from bot.knowledge.base import load_knowledge
    from bot.language import matching
    from bot.language.calibration import load_decider
    from bot.language.matching import Matcher
    from bot.language.text import fold

    print(f"code: {Path(matching.__file__).resolve()}", file=sys.stderr)
    config = load_config(REPO / "config.yaml").matcher
    decider = load_decider(REPO / "knowledge", config.target_error_rate)
    kb = load_knowledge(REPO / "knowledge")
    queries = _queries(kb, fold)
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for label, model in (("fitted", decider), ("thresholds", None)):
        matcher = Matcher(kb, config, model)
        results[label] = {q: _record_one(matcher, q) for q in queries}
    print(f"shipped FAQ: {len(kb.entries)} entries, {len(queries)} queries x 2 "
          f"({time.perf_counter() - started:.1f}s)", file=sys.stderr)
    if synthetic:
        from synthetic_faq import build_lexicon, generate_entries, generate_queries, real_synonyms

        synonyms = real_synonyms()
        entries = generate_entries(synthetic, 0, build_lexicon())
        big = Matcher(kb.__class__(tuple(entries), {}, synonyms), config, decider)
        asked = [q.text for q in generate_queries(entries, sample, 1, synonyms)]
        step = max(1, len(entries) // sample)
        asked += [fold(e.question) for e in entries[::step]] + [e.variants[0] for e in entries[::step] if e.variants]
        results[f"synthetic-{synthetic}"] = {q: _record_one(big, q) for q in dict.fromkeys(asked)}
        print(f"synthetic FAQ: {synthetic} entries, {len(results[f'synthetic-{synthetic}'])} queries "
              f"({time.perf_counter() - started:.1f}s)", file=sys.stderr)
    out.write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
    return 0


def _differences(a: Any, b: Any, where: str) -> list[str]:
    """Every place two recorded values differ (numbers beyond TOLERANCE)."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=0.0, abs_tol=TOLERANCE):
            return [f"{where}: {a!r} != {b!r}"]
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a.keys() ^ b.keys())} differ"]
        return [d for k in a for d in _differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)}: {a!r} / {b!r}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def compare(old: Path, new: Path) -> int:
    before = json.loads(old.read_text(encoding="utf-8"))
    after = json.loads(new.read_text(encoding="utf-8"))
    total = 0
    for label in sorted(before.keys() | after.keys()):
        if label not in before or label not in after:
            print(f"{label}: recorded only in {'old' if label in before else 'new'}")
            total += 1
            continue
        diffs = [d for q in before[label] for d in _differences(before[label][q], after[label].get(q), q)]
        missing = len(before[label].keys() ^ after[label].keys())
        exact = sum(before[label][q] == after[label].get(q) for q in before[label])
        print(f"{label}: {len(before[label])} queries, {len(diffs) + missing} differences "
              f"({exact} recorded bit for bit the same)")
        for d in diffs[:20]:
            print(f"  {d}")
        total += len(diffs) + missing
    print(f"total differences: {total}")
    return 1 if total else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the matcher's decisions to a JSON file")
    rec.add_argument("out", type=Path)
    rec.add_argument("--code", type=Path, default=REPO, help="checkout whose bot/ is measured")
    rec.add_argument("--synthetic", type=int, default=0, help="also a synthetic FAQ of this many entries")
    rec.add_argument("--sample", type=int, default=300, help="synthetic queries (default 300)")
    cmp_ = sub.add_parser("compare", help="compare two recordings")
    cmp_.add_argument("old", type=Path)
    cmp_.add_argument("new", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        if os.environ.get("PYTHONHASHSEED", "random") == "random":
            env = {**os.environ, "PYTHONHASHSEED": "0"}
            os.execve(sys.executable, [sys.executable, *sys.argv], env)
        return record(args.out, args.code.resolve(), args.synthetic, args.sample)
    return compare(args.old, args.new)


if __name__ == "__main__":
    raise SystemExit(main())
