"""Accuracy of the matcher on the labelled dev set, beside a BM25 reference, in one run.

    python benchmarks/bench_accuracy.py                       # eval set in ../shared/eval
    python benchmarks/bench_accuracy.py --eval-dir /path/to/eval --keep /tmp/acc

Ours is run exactly through the contract: ``python -m bot match --faq
<eval>/dev_faq.yaml`` as a subprocess with the queries on stdin, and its
JSON lines are scored by the eval's own ``score.py`` (loaded with importlib
from the eval folder, not copied).

The reference is BM25 (bm25s, one document per entry, accent-folded tokens)
with its answer threshold picked *after the fact* on these same queries: the
threshold with the best answer@1 whose wrong_rate is at most --max-wrong
(0.01). Decision: answer when the top score reaches the threshold, else none;
candidates are the top 3. Because score.py only counts candidates offered
with "answer" or "clarify", a third row shows BM25 offering its top 3 as
"clarify" below the threshold, which makes its found@3 comparable.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for path in (str(REPO), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from bench_matcher import BM25Reference

from bot.knowledge.base import Problem, parse_faq_file

METRICS = ("answer@1", "found@3", "wrong_rate", "oos_answered")


def _default_eval_dir() -> Path:
    """../shared/eval from the checkout (or from the checkout's parent, for a worktree)."""
    for base in (REPO.parent, REPO.parent.parent):
        if (base / "shared" / "eval").is_dir():
            return base / "shared" / "eval"
    return REPO.parent / "shared" / "eval"


def load_score_module(eval_dir: Path) -> ModuleType:
    """The eval's score.py, imported from its own folder."""
    path = eval_dir / "score.py"
    spec = importlib.util.spec_from_file_location("eval_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_rows(queries_tsv: Path) -> list[list[str]]:
    """The labelled rows (expected, kind, query), read the way score.py reads them."""
    with open(queries_tsv, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f][1:]


def official_score(score_mod: ModuleType, queries_tsv: Path, output: Path) -> dict[str, Any]:
    """Run score.py's own main() on an output file and return its JSON."""
    buffer = io.StringIO()
    argv = sys.argv
    sys.argv = ["score.py", str(queries_tsv), str(output), "--json"]
    try:
        with contextlib.redirect_stdout(buffer):
            score_mod.main()
    except SystemExit as exc:  # score.py exits with a message on a malformed output
        raise SystemExit(f"score.py rejected {output}: {exc}") from exc
    finally:
        sys.argv = argv
    return json.loads(buffer.getvalue())


def metrics_from(score_mod: ModuleType, rows: list[list[str]],
                 outs: list[dict[str, Any]]) -> dict[str, float]:
    """The four headline numbers from score.py's score(), as its main() computes them."""
    _, tot = score_mod.score(rows, outs)
    return {
        "answer@1": round(tot["ok"] / max(tot["in"], 1), 3),
        "found@3": round(tot["found"] / max(tot["in"], 1), 3),
        "wrong_rate": round(tot["wrong"] / max(tot["n"], 1), 3),
        "oos_answered": round(tot["oos_answered"] / max(tot["oos"], 1), 3),
    }


def run_ours(faq: Path, config: Path | None, queries: Sequence[str], out: Path,
             extra: Sequence[str] = ()) -> float:
    """`python -m bot match --faq FAQ < queries > out`; returns the wall time."""
    import subprocess

    cmd = [sys.executable, "-m", "bot", "match", "--faq", str(faq), *extra]
    if config is not None:
        cmd += ["--config", str(config)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=REPO, input="".join(q + "\n" for q in queries),
                          capture_output=True, text=True, encoding="utf-8", timeout=600)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out.write_text(proc.stdout, encoding="utf-8")
    return elapsed


def bm25_outputs(ranked: list[list[tuple[str, float]]], queries: Sequence[str], threshold: float,
                 below: str = "none") -> list[dict[str, Any]]:
    outs = []
    for q, top3 in zip(queries, ranked, strict=True):
        top = top3[0][1] if top3 else 0.0
        answered = bool(top3) and top >= threshold
        decision = "answer" if answered else (below if top3 and top > 0 else "none")
        outs.append({
            "query": q, "decision": decision, "id": top3[0][0] if answered else None,
            "score": round(top, 4),
            "candidates": [{"id": i, "score": round(s, 4)} for i, s in top3],
        })
    return outs


def pick_threshold(score_mod: ModuleType, rows: list[list[str]], queries: Sequence[str],
                   ranked: list[list[tuple[str, float]]],
                   max_wrong: float) -> tuple[float, dict[str, float]]:
    """The threshold with the best answer@1 at wrong_rate ≤ max_wrong (ties: the higher one)."""
    never = float("inf")
    chosen = (never, metrics_from(score_mod, rows, bm25_outputs(ranked, queries, never)))
    for t in sorted({top3[0][1] for top3 in ranked if top3}, reverse=True):
        m = metrics_from(score_mod, rows, bm25_outputs(ranked, queries, t))
        if m["wrong_rate"] <= max_wrong and m["answer@1"] > chosen[1]["answer@1"]:
            chosen = (t, m)
    return chosen


def write_jsonl(path: Path, outs: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outs)
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", type=Path, default=_default_eval_dir(),
                        help="folder with dev_faq.yaml, dev_queries.tsv, score.py "
                             "(default ../shared/eval from the repo root)")
    parser.add_argument("--faq", type=Path, help="FAQ file (default EVAL_DIR/dev_faq.yaml)")
    parser.add_argument("--queries", type=Path,
                        help="labelled queries (default EVAL_DIR/dev_queries.tsv)")
    parser.add_argument("--config", type=Path, default=None,
                        help="config for `python -m bot match` (default: its own, config.yaml)")
    parser.add_argument("--max-wrong", type=float, default=0.01,
                        help="wrong_rate allowed when picking the BM25 threshold (default 0.01)")
    parser.add_argument("--keep", type=Path, help="write the JSON-lines outputs into this folder")
    args = parser.parse_args(argv)

    eval_dir = args.eval_dir.resolve()
    faq = (args.faq or eval_dir / "dev_faq.yaml").resolve()
    queries_tsv = (args.queries or eval_dir / "dev_queries.tsv").resolve()
    score_mod = load_score_module(eval_dir)
    rows = read_rows(queries_tsv)
    queries = [r[2] for r in rows]

    with tempfile.TemporaryDirectory() as tmp:
        outdir = args.keep or Path(tmp)
        outdir.mkdir(parents=True, exist_ok=True)

        ours_path = outdir / "ours.jsonl"
        ours_wall = run_ours(faq, args.config, queries, ours_path)
        ours = official_score(score_mod, queries_tsv, ours_path)
        before_path = outdir / "ours_thresholds.jsonl"
        run_ours(faq, args.config, queries, before_path, ["--thresholds-only"])
        before = official_score(score_mod, queries_tsv, before_path)

        problems: list[Problem] = []
        entries = parse_faq_file(faq, problems)
        t0 = time.perf_counter()
        ref = BM25Reference(entries)
        ranked = [ref.rank(q, 3) for q in queries]
        bm25_time = time.perf_counter() - t0
        threshold, _ = pick_threshold(score_mod, rows, queries, ranked, args.max_wrong)
        bm25_path = outdir / "bm25.jsonl"
        write_jsonl(bm25_path, bm25_outputs(ranked, queries, threshold))
        bm25 = official_score(score_mod, queries_tsv, bm25_path)
        clarify_path = outdir / "bm25_clarify.jsonl"
        write_jsonl(clarify_path, bm25_outputs(ranked, queries, threshold, below="clarify"))
        bm25_clarify = official_score(score_mod, queries_tsv, clarify_path)

    n_in = sum(r[0] != "-" for r in rows)
    print(f"# Dev-set accuracy: {len(rows)} queries ({n_in} answerable, "
          f"{len(rows) - n_in} out of scope), {len(entries)} entries\n")
    print(f"- FAQ {faq}\n- queries {queries_tsv}\n- scored by {eval_dir / 'score.py'}\n")
    t_label = f"{threshold:.3f}" if threshold != float("inf") else "none fits"
    systems = [
        ("ours: `python -m bot match` (decision model)", ours),
        ("ours, `--thresholds-only` (score/margin rule, before)", before),
        (f"BM25 (bm25s, folded), threshold {t_label} picked after the fact", bm25),
        ("BM25, same threshold, top 3 as clarify below it", bm25_clarify),
    ]
    print("| system | " + " | ".join(METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for name, res in systems:
        print(f"| {name} | " + " | ".join(f"{res[m]:.3f}" for m in METRICS) + " |")

    kinds = sorted(ours["by_kind"])
    print("\nBy kind (answer@1 / found@3; wrong = confident wrong answers):\n")
    print("| kind | n | ours | ours wrong | BM25 | BM25 wrong | BM25+clarify found@3 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind in kinds:
        o = ours["by_kind"][kind]
        b, c = bm25["by_kind"].get(kind, {}), bm25_clarify["by_kind"].get(kind, {})
        if kind == "oos":  # nothing to find: only the answered (wrong) count means anything
            print(f"| {kind} | {o['n']} | - | {o['wrong']} | - | {b.get('wrong', 0)} | - |")
            continue
        print(f"| {kind} | {o['n']} | {o['answer@1']:.2f} / {o['found@3']:.2f} | {o['wrong']} | "
              f"{b.get('answer@1', 0):.2f} / {b.get('found@3', 0):.2f} | {b.get('wrong', 0)} | "
              f"{c.get('found@3', 0):.2f} |")
    print(f"\nours: {ours_wall:.2f}s wall for the whole subprocess (start-up, index, "
          f"{len(rows)} queries); BM25: {bm25_time:.3f}s index + queries in-process.")
    print("The eval README quotes BM25 answer@1 0.85 at wrong_rate ≤ 0.01 for its own set-up; "
          "the BM25 row here is this script's set-up (one document per entry, no stopwords, "
          "k1=1.5, b=0.75).")
    if args.keep:
        print(f"outputs kept in {args.keep}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
