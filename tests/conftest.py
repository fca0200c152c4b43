"""Shared fixtures: the real synonym table, a small test FAQ and a matcher over it."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture
def chromium() -> Iterator[object]:
    """A fresh headless Chromium with its own profile (so no cookie survives from another test).

    Skipped without Chromium, chromedriver or Selenium, except on CI (tests.browser.require_tools).
    """
    from tests.browser import chromium_driver

    with chromium_driver() as driver:
        yield driver
