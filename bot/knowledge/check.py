"""`faq check`: everything wrong with a knowledge base, in words an admin can act on.

Loading catches what one file or one pair of phrasings gets wrong; this adds
the matcher's view: two entries whose phrasings it cannot tell apart would
make the bot hesitate between them for ever, so that is an error too.

Asking the matcher about every phrasing costs a few milliseconds each: two
minutes for a 10,000-entry FAQ. `faq check` still does all of it; start-up
and reloads take candidate pairs from an index first:
only a phrasing that shares most of its weight with a phrasing of another
entry is put to the matcher (prefix filtering: a pair that shares at least a
share t of a phrasing's weight must share one of that phrasing's rarest
words, those carrying the first 1 - t of it). And the matcher's part can be
given a time budget; what it leaves unchecked is reported as a warning.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from bot.config import MatcherConfig
from bot.knowledge.base import MAX_TITLE_CHARS, Entry, KnowledgeBase, KnowledgeError, Problem, load_knowledge
from bot.knowledge.contacts import placeholder_problems
from bot.language.calibration import FIT_FILE, faq_fingerprint, load_decider, load_fit
from bot.language.matching import Matcher
from bot.language.text import Token, fold, tokenize

# A phrasing asked verbatim must beat every other entry by at least this much.
MIN_SELF_LEAD = 0.05
REVIEW_MAX_DAYS = 365  # an answer not checked for longer is listed on /admin

# What an answer must not state without a `source`: a legal document's number,
# a phone number, a date a rule starts or ends, a count of tries before a lock.
_CITATIONS = (
    ("a legal document", re.compile(
        r"\b\d+/\d{4}/[A-ZĐ]{2,}|\b\d+/[A-ZĐ]{2,}-[A-ZĐ]{2,}"
        r"|\b(?:Nghị định|Thông tư|Quyết định|Công văn|Nghị quyết|Chỉ thị|Công điện|Luật)\s+(?:số\s+)?\d",
        re.IGNORECASE)),
    ("a phone number", re.compile(r"(?<![\d/])(?:1[89]00|0\d{2,3})[ .]?\d{3,4}(?:[ .]?\d{2,4})?(?![\d/])")),
    ("a date", re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b")),
    ("a count of attempts", re.compile(r"\b\d+\s+lần\b", re.IGNORECASE)),
)
# A phrasing goes to the matcher when another entry's phrasing has at least this share of
# its weight in common with it. Two entries the matcher confuses share far more (a score
# within MIN_SELF_LEAD of a verbatim match needs ~85 % of the other phrasing covered);
# the margin covers the matcher's synonyms and weights, which this index does not apply.
CANDIDATE_SHARE = 0.6
# How long start-up and reloads spend on it (`faq check` takes all it needs).
CHECK_SECONDS = 3.0

Level = Literal["error", "warning"]


def _features(text: str) -> set[str]:
    words = fold(text).split()
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


class OutOfTime(Exception):
    """The check's budget ran out."""


def _in_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime


def candidate_phrasings(kb: KnowledgeBase, share: float = CANDIDATE_SHARE,
                        deadline: float | None = None) -> Iterator[tuple[Entry, str]]:
    """Phrasings that share at least `share` of another entry's phrasing's weight (idf over entries).

    Each phrasing indexes only its rarest features, up to where the rest
    weighs less than `share` of it; a phrasing meets its candidates through
    its own features in that index, so common words never make long lists.
    Found one at a time, so a caller with a deadline can stop at any point.
    """
    docs: list[tuple[int, str, set[str]]] = []
    for i, entry in enumerate(kb.entries):
        if i % 256 == 0:
            _in_time(deadline)
        docs += [(i, text, _features(text)) for text in entry.phrasings]
    df: dict[str, int] = defaultdict(int)
    entry_features: dict[int, set[str]] = defaultdict(set)
    for i, _, feats in docs:
        entry_features[i] |= feats
    for feats in entry_features.values():
        for feature in feats:
            df[feature] += 1
    n = max(len(kb.entries), 1)
    weight = {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}
    mass = [sum(weight[f] for f in feats) for _, _, feats in docs]
    prefix: dict[str, list[int]] = defaultdict(list)
    for k, (_, _, feats) in enumerate(docs):
        if k % 1024 == 0:
            _in_time(deadline)
        rest = mass[k]
        for feature in sorted(feats, key=lambda f: (-weight[f], f)):
            if rest < share * mass[k]:
                break
            prefix[feature].append(k)
            rest -= weight[feature]
    for k, (entry_index, text, feats) in enumerate(docs):
        if k % 64 == 0:
            _in_time(deadline)
        if _meets_another(entry_index, feats, docs, prefix, weight, mass, share):
            yield kb.entries[entry_index], text


def _meets_another(entry_index: int, feats: set[str], docs: list[tuple[int, str, set[str]]],
                   prefix: dict[str, list[int]], weight: dict[str, float], mass: list[float],
                   share: float) -> bool:
    seen: set[int] = set()
    for feature in feats:
        for k in prefix.get(feature, ()):
            if k in seen or docs[k][0] == entry_index:
                continue
            seen.add(k)
            if sum(weight[f] for f in feats & docs[k][2]) >= share * mass[k]:
                return True
    return False


def confusable_entries(kb: KnowledgeBase, matcher: Matcher, level: Level = "error",
                       budget: float | None = None, share: float | None = None) -> list[Problem]:
    """Entries whose own phrasing scores as high on another entry (too alike to tell apart).

    Every phrasing is put to the matcher (`faq check`), or with `share` only
    the candidates from the index; with a `budget` (seconds) the work stops
    there and a warning says how far it got.
    """
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()
    phrasings = sum(len(e.phrasings) for e in kb.entries)
    deadline = None if budget is None else time.monotonic() + budget
    candidates: Iterable[tuple[Entry, str]] = (
        ((e, t) for e in kb.entries for t in e.phrasings) if share is None
        else candidate_phrasings(kb, share, deadline))
    done = 0
    try:
        for entry, text in candidates:
            _in_time(deadline)
            done += 1
            _check_one(matcher, entry, text, level, reported, problems)
    except OutOfTime:
        problems.append(Problem(
            "faq", 0, f"the check for entries too alike to tell apart stopped after {budget:g} s, "
            f"having put {done} of {phrasings} phrasings to the matcher; "
            "run 'python -m bot faq check' for all of them", level="warning"))
    return problems


def unsourced_citations(kb: KnowledgeBase) -> list[Problem]:
    """Warnings for answers that cite a decree, phone number, date or limit without a `source`.

    Officials act on these: a wrong decree number or hotline in an answer does
    more harm than a vague answer, so every such fact needs a checkable origin.
    Contact placeholders are not counted (their values live in contacts.yaml).
    """
    problems: list[Problem] = []
    for entry in kb.entries:
        if entry.source:
            continue
        found = [what for what, pattern in _CITATIONS if pattern.search(entry.answer)]
        if found:
            problems.append(Problem(
                entry.file, entry.line,
                f"the answer cites {', '.join(found)} but the entry has no 'source'",
                entry.id, "warning",
            ))
    return problems


def button_labels(kb: KnowledgeBase) -> list[Problem]:
    """Warnings for "did you mean" buttons an official could not read or tell apart.

    A button shows an entry's `title`, or its question when that fits; a longer
    question without a title is cut at MAX_TITLE_CHARS and reads like "Các tệp
    trong máy bị đổi đuôi lạ, không…". Two entries of one system are the ones
    most often offered together, so the same label on both leaves the official
    guessing which button is theirs.
    """
    problems: list[Problem] = []
    first: dict[tuple[str | None, str], Entry] = {}
    for entry in kb.entries:
        if not entry.title and len(entry.question) > MAX_TITLE_CHARS:
            problems.append(Problem(
                entry.file, entry.line,
                f"the question is {len(entry.question)} characters, longer than a button shows "
                f"({MAX_TITLE_CHARS}); add a short 'title' for the button", entry.id, "warning"))
            continue
        label = entry.title or entry.question
        key = (entry.system, " ".join(label.casefold().split()))
        other = first.setdefault(key, entry)
        if other is not entry:
            problems.append(Problem(
                entry.file, entry.line,
                f"the button label '{label}' is also entry {other.id}'s, in the same system; give one "
                "a different 'title' so officials can tell the two buttons apart", entry.id, "warning"))
    return problems


def contact_warnings(kb: KnowledgeBase) -> list[Problem]:
    """Contact values answers need but nobody has filled in, and contacts naming unknown systems."""
    problems = [p for p in placeholder_problems(((e.answer, e.file, e.line, e.id) for e in kb.entries),
                                                kb.contacts) if p.level == "warning"]
    problems += [Problem(c.file, c.line, f"unknown system '{s}' in 'systems'", c.id, "warning")
                 for c in kb.contacts.values() for s in c.systems if kb.systems and s not in kb.systems]
    return problems


@dataclass(frozen=True)
class ReviewDue:
    """An entry whose answer nobody has checked, or not for over a year."""

    entry_id: str
    question: str
    file: str
    reviewed: str  # "" when never reviewed
    days: int | None  # days since the review; None when never reviewed


def reviews_due(kb: KnowledgeBase, today: date, max_days: int = REVIEW_MAX_DAYS) -> list[ReviewDue]:
    """Entries never reviewed, then those reviewed longest ago, for the admin to check."""
    due: list[ReviewDue] = []
    for entry in kb.entries:
        when = entry.reviewed_on
        if when is None:
            due.append(ReviewDue(entry.id, entry.question, entry.file, "", None))
        elif (today - when).days > max_days:
            due.append(ReviewDue(entry.id, entry.question, entry.file, entry.reviewed, (today - when).days))
    return sorted(due, key=lambda d: (d.days is not None, -(d.days or 0), d.entry_id))

def _check_one(matcher: Matcher, entry: Entry, text: str, level: Level,
               reported: set[frozenset[str]], problems: list[Problem]) -> None:
    """Ask the matcher about one phrasing; a problem when another entry scores about as high."""
    ranked = matcher.rank(text, limit=3)
    own = next((c.score for c in ranked if c.entry_id == entry.id), 0.0)
    for other in ranked:
        pair = frozenset((entry.id, other.entry_id))
        if other.entry_id == entry.id or pair in reported:
            continue
        if other.score >= own - MIN_SELF_LEAD:
            reported.add(pair)
            problems.append(Problem(
                entry.file, entry.line,
                f"'{text}' matches entry {other.entry_id} as well as its own "
                f"({other.score:.2f} vs {own:.2f}); reword one of them or merge them",
                entry.id, level=level,
            ))


def stale_fit(directory: Path, kb: KnowledgeBase) -> list[Problem]:
    """A warning when the matcher's decision model was fitted on another version of the FAQ.

    A stale fit still decides (its features do not depend on one FAQ), but
    refitting measures the new entries too.
    """
    try:
        fit = load_fit(directory)
    except ValueError:
        return []
    if fit is None:
        return []
    now = faq_fingerprint((e.id, text) for e in kb.entries for text in e.phrasings)
    if fit.get("faq_fingerprint") == now:
        return []
    return [Problem(str(directory / FIT_FILE), 0,
                    "the matcher's decision model was fitted on another version of the FAQ; "
                    "run `python -m bot matcher fit`", level="warning")]


def not_questions(kb: KnowledgeBase) -> list[Problem]:
    """Phrasings with no word the matcher could use ("🙏", "ok ạ"): a click in the unanswered
    list must not teach the bot to answer thanks with an FAQ entry."""
    stop = {token for w in kb.synonyms.stopwords for token in tokenize(w)}
    stop_folded = {token.folded for token in stop}

    def usable(token: Token) -> bool:
        # A word written with marks is itself: "chữ" and "đơ" are words even though
        # "chu" and "do" fold like the stopwords "chú" and "đó". Without marks it may be either.
        if not any(c.isalpha() for c in token.folded):
            return False
        return token.folded not in stop_folded if token.marked is None else token not in stop

    problems = []
    for entry in kb.entries:
        for text in entry.phrasings:
            if not any(usable(token) for token in tokenize(text)):
                problems.append(Problem(entry.file, entry.line, f"variant '{text}' is not a question: "
                                        "it has no word the matcher can use", entry.id))
    return problems


def build_checked(directory: Path, faq_files: Sequence[Path] | None, config: MatcherConfig,
                  confusable: Level = "error", budget: float | None = None,
                  share: float | None = None, warnings_later: bool = False) -> tuple[Matcher | None, list[Problem]]:
    """A matcher over the knowledge base and every problem found; no matcher if any is an error.

    `confusable` says what entries too alike to tell apart are: an error
    (`faq check`, reloads, edits refuse them) or a warning (start-up: the bot
    serves, hesitating between them, rather than not at all). `budget` and
    `share`: see `confusable_entries` (start-up and reloads use both; `faq
    check` neither, so it stays exhaustive). `warnings_later` (start-up, with
    confusable entries as warnings): leave out the checks that can only warn,
    for `warning_checks` to run once the bot serves.
    """
    try:
        kb = load_knowledge(directory, faq_files)
    except KnowledgeError as exc:
        return None, list(exc.problems)
    try:
        decider = load_decider(directory, config.target_error_rate)
    except (ValueError, KeyError, TypeError) as exc:
        decider = None
        kb = dataclasses.replace(kb, warnings=(*kb.warnings, Problem(
            str(directory / FIT_FILE), 0, f"unreadable ({exc}); run `python -m bot matcher fit`",
            level="warning")))
    matcher = Matcher(kb, config, decider)
    if warnings_later and confusable == "warning":
        problems = sorted(not_questions(kb)) + list(kb.warnings)
    else:
        problems = sorted(confusable_entries(kb, matcher, confusable, budget, share) + not_questions(kb)) + list(
            kb.warnings) + _warnings_only(directory, faq_files, kb)
    return (None if any(p.level == "error" for p in problems) else matcher), problems


def _warnings_only(directory: Path, faq_files: Sequence[Path] | None, kb: KnowledgeBase) -> list[Problem]:
    return (stale_fit(directory, kb) if faq_files is None else []) + unsourced_citations(kb) + (
        button_labels(kb) + contact_warnings(kb))


def warning_checks(directory: Path, matcher: Matcher, budget: float | None = None,
                   share: float | None = None) -> list[Problem]:
    """What `build_checked(..., warnings_later=True)` left out: entries too alike (as warnings),
    a stale fit, answers citing facts without a source, button labels, contacts not filled in."""
    kb = matcher.kb
    return sorted(confusable_entries(kb, matcher, "warning", budget, share)) + _warnings_only(directory, None, kb)


def check(directory: Path, faq_files: Sequence[Path] | None, config: MatcherConfig) -> list[Problem]:
    """Every error and warning in the knowledge base, sorted by file and line."""
    return build_checked(directory, faq_files, config)[1]
