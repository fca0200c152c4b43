"""The FAQ as the running bot sees it: the matcher, swapped whole on reload."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, KnowledgeError, Problem
from bot.knowledge.check import CANDIDATE_SHARE, CHECK_SECONDS, build_checked

log = logging.getLogger(__name__)


class Faq:
    """Holds the current matcher; a reload that fails keeps the old one serving."""

    def __init__(self, directory: Path, config: MatcherConfig) -> None:
        self.directory = directory
        self.config = config
        # At start there is no older FAQ to keep serving: entries too alike are
        # reported, not fatal (reloads and edits still refuse them).
        matcher, problems = build_checked(directory, None, config, confusable="warning", budget=CHECK_SECONDS,
                                          share=CANDIDATE_SHARE)
        if matcher is None:
            raise KnowledgeError([p for p in problems if p.level == "error"])
        warnings = [p for p in problems if p.level == "warning"]
        for problem in warnings[:10]:
            log.warning("knowledge: %s", problem)
        if len(warnings) > 10:
            log.warning("knowledge: %d more warnings; 'python -m bot faq check' lists them all", len(warnings) - 10)
        self.matcher = matcher

    @property
    def kb(self) -> KnowledgeBase:
        return self.matcher.kb

    def reload(self) -> tuple[bool, list[Problem]]:
        """Validate the files as `faq check` does; swap in the new FAQ only if it has no error."""
        matcher, problems = build_checked(self.directory, None, self.config, budget=CHECK_SECONDS,
                                          share=CANDIDATE_SHARE)
        if matcher is None:
            return False, problems
        self.matcher = matcher
        return True, problems
