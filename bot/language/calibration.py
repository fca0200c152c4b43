"""The decision model: how likely the best entry is right, from features of the match.

A score and a lead over the runner-up are two numbers among many that tell a
right answer from a wrong one; the others are how much of the query the entry
explains, whether the query's rarer words agree with it, whether the system the
query names is the entry's, whether typed marks disagree, how long the query
is. Two small logistic regressions over these features, fitted by
`python -m bot matcher fit` on questions the knowledge base generates about
itself (bot.language.fitting), give

* ``right``: the probability that the best entry is the right one, and
* ``offered``: the probability that the right entry is among those offered.

The fit is stored in `knowledge/matcher-fit.json`: feature means and scales,
the two weight vectors, the error curve of ``right`` on the fitting data (so
the answer threshold follows `matcher.target_error_rate` without refitting),
and the clarify threshold. Nothing here is specific to one FAQ: the features
are relative (coverages, shares, counts), so an edited or another FAQ is
decided by the same fit. Plain Python: twelve-odd features and a few thousand
examples need neither numpy nor scikit-learn.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIT_FILE = "matcher-fit.json"

FEATURES: tuple[str, ...] = (
    "score",  # the best entry's score
    "margin",  # its lead over the runner-up
    "runner_up",  # the runner-up's score
    "phrasing_coverage",  # how much of the best entry's closest phrasing the query contains
    "query_coverage",  # how much of the query the best entry explains
    "runner_up_coverage",  # the runner-up's phrasing coverage
    "rare_agreement",  # share of the query's content weight found in the entry's phrasings and tags
    "runner_up_agreement",  # the same share for the runner-up
    "only_top_agrees",  # share of the query's content weight the best entry holds and the runner-up not
    "only_runner_up_agrees",  # ... and the other way round
    "overlapping_entries",  # how many of the best three hold real content of the query
    "words_elsewhere",  # content words the FAQ knows but the best entry does not
    "unknown_words",  # content words the FAQ never uses
    "marks_disagree",  # words whose typed marks differ from the entry's (mất / mật)
    "system_agrees",  # +1 the query's system words name the entry's system, -1 another, 0 none
    "runner_up_same_system",  # the runner-up is about the same system (a near-tie within a system)
    "content_words",  # log(1 + number of content words)
    "typos",  # words corrected as typos
    "foreign",  # short question naming something the FAQ never mentions
    "score_ratio",  # the runner-up's score as a share of the best one's (a lead relative to the scale)
    "coverage_lead",  # the best entry's phrasing coverage minus the next two's best
    "heaviest_missing",  # share of the query's content weight in its heaviest word the best entry lacks
)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over standardised features."""

    weights: tuple[float, ...]  # one per feature
    bias: float

    def probability(self, x: Sequence[float]) -> float:
        return _sigmoid(self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True)))


@dataclass(frozen=True)
class Decider:
    """The fitted decision: probabilities and the thresholds the matcher compares them with."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    right: Logistic
    offered: Logistic
    answer_at: float  # answer when P(right) reaches this (meets the target error rate)
    certain_at: float  # at or above this, answer without alternatives
    clarify_at: float  # offer "did you mean" when P(offered) reaches this

    def standardise(self, features: dict[str, float]) -> list[float]:
        return [(features[n] - m) / s for n, m, s in zip(FEATURES, self.means, self.scales, strict=True)]

    def probabilities(self, features: dict[str, float]) -> tuple[float, float]:
        """P(the best entry is right), P(the right entry is among those offered)."""
        x = self.standardise(features)
        return self.right.probability(x), self.offered.probability(x)


def threshold_for(curve: Sequence[dict[str, float]], target: float) -> float:
    """The lowest P(right) at which, on the fitting data, wrong answers were at most `target` of questions."""
    fitting = [point["threshold"] for point in curve if point["error"] <= target + 1e-12]
    return min(fitting) if fitting else 1.0


def decider_from(fit: dict[str, Any], target_error_rate: float) -> Decider:
    """Build the decision from a fit file's content and the configured target error rate."""
    names = tuple(fit["features"])
    if names != FEATURES:
        raise ValueError(f"the fit uses features {names}, this code reads {FEATURES}: refit")
    curve = fit["error_curve"]
    return Decider(
        means=tuple(fit["means"]),
        scales=tuple(fit["scales"]),
        right=Logistic(tuple(fit["right"]["weights"]), fit["right"]["bias"]),
        offered=Logistic(tuple(fit["offered"]["weights"]), fit["offered"]["bias"]),
        answer_at=threshold_for(curve, target_error_rate),
        certain_at=threshold_for(curve, target_error_rate / 5),
        clarify_at=float(fit["clarify_at"]),
    )


def load_fit(directory: Path) -> dict[str, Any] | None:
    """The fit file in a knowledge folder, or None when there is none."""
    path = directory / FIT_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_decider(directory: Path, target_error_rate: float) -> Decider | None:
    """The decision model of a knowledge folder; None (thresholds from config) when unfitted."""
    fit = load_fit(directory)
    return None if fit is None else decider_from(fit, target_error_rate)


def faq_fingerprint(phrasings: Iterable[tuple[str, str]]) -> str:
    """A hash of (entry id, phrasing) pairs: tells whether the fit saw this FAQ."""
    digest = hashlib.sha256()
    for entry_id, text in sorted(phrasings):
        digest.update(f"{entry_id}\t{text}\n".encode())
    return digest.hexdigest()[:16]


# -- fitting ------------------------------------------------------------------------------


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a small symmetric positive-definite system by Gaussian elimination."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        p = m[col][col]
        for r in range(col + 1, n):
            f = m[r][col] / p
            if f:
                for c in range(col, n + 1):
                    m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def fit_logistic(xs: Sequence[Sequence[float]], ys: Sequence[int], sample_weights: Sequence[float],
                 l2: float = 1.0, iterations: int = 30) -> Logistic:
    """Weighted L2-regularised logistic regression by Newton's method (IRLS).

    The bias is not regularised. Features are expected standardised.
    """
    k = len(xs[0]) + 1
    beta = [0.0] * k
    rows = [[1.0, *x] for x in xs]
    for _ in range(iterations):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for row, y, sw in zip(rows, ys, sample_weights, strict=True):
            p = _sigmoid(sum(b * v for b, v in zip(beta, row, strict=True)))
            g = sw * (p - y)
            h = sw * p * (1 - p)
            for i in range(k):
                grad[i] += g * row[i]
                hi = h * row[i]
                hrow = hess[i]
                for j in range(i, k):
                    hrow[j] += hi * row[j]
        for i in range(k):
            for j in range(i):
                hess[i][j] = hess[j][i]
        for i in range(1, k):
            grad[i] += l2 * beta[i]
            hess[i][i] += l2
        step = _solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-7:
            break
    return Logistic(tuple(beta[1:]), beta[0])


def standardisation(xs: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Per-feature means and standard deviations (1 where a feature never varies)."""
    n = len(xs)
    means = [sum(col) / n for col in zip(*xs, strict=True)]
    scales = []
    for col, m in zip(zip(*xs, strict=True), means, strict=True):
        var = sum((v - m) ** 2 for v in col) / n
        scales.append(math.sqrt(var) if var > 1e-12 else 1.0)
    return means, scales


def error_curve(probabilities: Sequence[float], right: Sequence[bool], sample_weights: Sequence[float],
                levels: Iterable[float]) -> list[dict[str, float]]:
    """For each error level, the lowest threshold whose wrong answers stay within it.

    The error is the project's wrong rate: wrong direct answers as a share of
    all questions asked (answerable or not), weighted. It only grows as the
    threshold falls, so the lowest threshold within a level is well defined.
    """
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])
    total = sum(sample_weights)
    answered = wrong = 0.0
    points: list[tuple[float, float, float]] = []  # threshold, error, answered share
    i = 0
    while i < len(order):
        p = probabilities[order[i]]
        while i < len(order) and probabilities[order[i]] == p:
            j = order[i]
            answered += sample_weights[j]
            wrong += 0.0 if right[j] else sample_weights[j]
            i += 1
        points.append((p, wrong / total, answered / total))
    out = []
    for level in levels:
        within = [point for point in points if point[1] <= level + 1e-12]
        if within:
            threshold, error, share = within[-1]
            out.append({"error": level, "threshold": round(threshold, 6),
                        "measured_error": round(error, 5), "answered": round(share, 4)})
    return out
