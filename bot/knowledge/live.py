"""The FAQ as the running bot sees it: the matcher, swapped whole on reload."""

from __future__ import annotations

from pathlib import Path

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, KnowledgeError, Problem
from bot.knowledge.check import build_checked


class Faq:
    """Holds the current matcher; a reload that fails keeps the old one serving."""

    def __init__(self, directory: Path, config: MatcherConfig) -> None:
        self.directory = directory
        self.config = config
        matcher, problems = build_checked(directory, None, config)
        if matcher is None:
            raise KnowledgeError([p for p in problems if p.level == "error"])
        self.matcher = matcher

    @property
    def kb(self) -> KnowledgeBase:
        return self.matcher.kb

    def reload(self) -> tuple[bool, list[Problem]]:
        """Validate the files as `faq check` does; swap in the new FAQ only if it has no error."""
        matcher, problems = build_checked(self.directory, None, self.config)
        if matcher is None:
            return False, problems
        self.matcher = matcher
        return True, problems
