"""`faq check`: everything wrong with a knowledge base, in words an admin can act on.

Loading catches what one file or one pair of phrasings gets wrong; this adds
the matcher's view: two entries whose phrasings it cannot tell apart would
make the bot hesitate between them for ever, so that is an error too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, KnowledgeError, Problem, load_knowledge
from bot.knowledge.contacts import placeholder_problems
from bot.language.calibration import FIT_FILE, faq_fingerprint, load_decider, load_fit
from bot.language.matching import Matcher
from bot.language.text import fold

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


def confusable_entries(kb: KnowledgeBase, matcher: Matcher) -> list[Problem]:
    """Entries whose own phrasing scores as high on another entry (too alike to tell apart)."""
    problems: list[Problem] = []
    reported: set[frozenset[str]] = set()
    for entry in kb.entries:
        for text in entry.phrasings:
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
                        entry.id,
                    ))
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
    stop = {fold(w) for w in kb.synonyms.stopwords}
    problems = []
    for entry in kb.entries:
        for text in entry.phrasings:
            words = [w for w in fold(text).split() if any(c.isalpha() for c in w)]
            if not [w for w in words if w not in stop]:
                problems.append(Problem(entry.file, entry.line, f"variant '{text}' is not a question: "
                                        "it has no word the matcher can use", entry.id))
    return problems


def build_checked(directory: Path, faq_files: Sequence[Path] | None,
                  config: MatcherConfig) -> tuple[Matcher | None, list[Problem]]:
    """A matcher over the knowledge base and every problem found; no matcher if any is an error."""
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
    problems = sorted(confusable_entries(kb, matcher) + not_questions(kb)) + list(kb.warnings) + (
        stale_fit(directory, kb) if faq_files is None else []) + unsourced_citations(kb) + contact_warnings(kb)
    return (None if any(p.level == "error" for p in problems) else matcher), problems


def check(directory: Path, faq_files: Sequence[Path] | None, config: MatcherConfig) -> list[Problem]:
    """Every error and warning in the knowledge base, sorted by file and line."""
    return build_checked(directory, faq_files, config)[1]
