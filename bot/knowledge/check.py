"""`faq check`: everything wrong with a knowledge base, in words an admin can act on.

Loading catches what one file or one pair of phrasings gets wrong; this adds
the matcher's view: two entries whose phrasings it cannot tell apart would
make the bot hesitate between them for ever, so that is an error too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, KnowledgeError, Problem, load_knowledge
from bot.language.calibration import FIT_FILE, faq_fingerprint, load_decider, load_fit
from bot.language.matching import Matcher
from bot.language.text import fold

# A phrasing asked verbatim must beat every other entry by at least this much.
MIN_SELF_LEAD = 0.05


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
        stale_fit(directory, kb) if faq_files is None else [])
    return (None if any(p.level == "error" for p in problems) else matcher), problems


def check(directory: Path, faq_files: Sequence[Path] | None, config: MatcherConfig) -> list[Problem]:
    """Every error and warning in the knowledge base, sorted by file and line."""
    return build_checked(directory, faq_files, config)[1]
