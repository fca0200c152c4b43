"""The FAQ as the running bot sees it: the matcher, swapped whole on reload."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, KnowledgeError, Problem
from bot.knowledge.check import CANDIDATE_SHARE, CHECK_SECONDS, build_checked, warning_checks

log = logging.getLogger(__name__)


def _log_warnings(problems: list[Problem]) -> None:
    warnings = [p for p in problems if p.level == "warning"]
    for problem in warnings[:10]:
        log.warning("knowledge: %s", problem)
    if len(warnings) > 10:
        log.warning("knowledge: %d more warnings; 'python -m bot faq check' lists them all", len(warnings) - 10)


class Faq:
    """Holds the current matcher; a reload that fails keeps the old one serving."""

    def __init__(self, directory: Path, config: MatcherConfig) -> None:
        self.directory = directory
        self.config = config
        # At start there is no older FAQ to keep serving: entries too alike are
        # reported, not fatal (reloads and edits still refuse them). Checks that can
        # only warn wait for `check_in_background`, once the bot serves: on a
        # 10,000-entry FAQ they take seconds.
        matcher, problems = build_checked(directory, None, config, confusable="warning", budget=CHECK_SECONDS,
                                          share=CANDIDATE_SHARE, warnings_later=True)
        if matcher is None:
            raise KnowledgeError([p for p in problems if p.level == "error"])
        _log_warnings(problems)
        self.matcher = matcher

    def check_in_background(self) -> threading.Thread:
        """Entries too alike, answers citing facts without a source, button labels, unfilled
        contacts and a stale fit, checked on a thread of their own (within CHECK_SECONDS for
        the first): warnings in the log a few seconds after the bot started serving."""
        matcher = self.matcher

        def check() -> None:
            try:
                _log_warnings(warning_checks(self.directory, matcher, CHECK_SECONDS, CANDIDATE_SHARE))
            except Exception:  # a bug in a check must not go unnoticed, nor stop the bot
                log.exception("knowledge: the checks after start failed")

        thread = threading.Thread(target=check, name="faq-checks", daemon=True)
        thread.start()
        return thread

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
