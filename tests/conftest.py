"""Shared fixtures: the real synonym table, a small test FAQ and a matcher over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, load_knowledge
from bot.language.matching import Matcher

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def small_kb() -> KnowledgeBase:
    """The small test FAQ with the project's real synonym table and systems."""
    return load_knowledge(REPO / "knowledge", [DATA / "small_faq.yaml"])


@pytest.fixture(scope="session")
def matcher(small_kb: KnowledgeBase) -> Matcher:
    return Matcher(small_kb, MatcherConfig())
