"""A big FAQ starts: the confusable-entry check takes candidates from an index and keeps to a budget."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import load_config
from bot.knowledge.base import load_knowledge
from bot.knowledge.check import CANDIDATE_SHARE, candidate_phrasings, confusable_entries
from bot.knowledge.live import Faq
from bot.language.matching import Matcher
from tests.harness import REPO

ALIKE = """\
version: 1
entries:
  - id: in-1
    question: Máy in không in được
    answer: Kiểm tra giấy.
  - id: in-2
    question: Máy in không in được nữa
    answer: Kiểm tra mực.
  - id: vneid
    question: Quên mật khẩu VNeID thì làm thế nào
    answer: Đặt lại mật khẩu trong ứng dụng.
"""


def knowledge(tmp_path: Path, faq: str = ALIKE) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "faq").mkdir()
    (folder / "faq" / "may.yaml").write_text(faq, encoding="utf-8")
    for name in ("synonyms.yaml", "systems.yaml", "communes.yaml"):
        # the national layer names the systems; communes live only in the province layer
        layers = (REPO / "knowledge" / "national", REPO / "knowledge" / "province")
        source = next(layer / name for layer in layers if (layer / name).exists())
        (folder / name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_only_phrasings_sharing_most_of_another_entrys_weight_are_candidates(tmp_path: Path) -> None:
    kb = load_knowledge(knowledge(tmp_path))
    assert [(e.id, text) for e, text in candidate_phrasings(kb, CANDIDATE_SHARE)] == [
        ("in-1", "Máy in không in được"), ("in-2", "Máy in không in được nữa")]


def test_the_candidates_give_the_same_problems_as_asking_about_every_phrasing(tmp_path: Path) -> None:
    kb = load_knowledge(knowledge(tmp_path))
    matcher = Matcher(kb, load_config(REPO / "config.yaml").matcher)
    every = confusable_entries(kb, matcher)
    assert (confusable_entries(kb, matcher, share=CANDIDATE_SHARE), len(every)) == (every, 1)


def test_a_check_out_of_time_says_how_far_it_got(tmp_path: Path) -> None:
    kb = load_knowledge(knowledge(tmp_path))
    matcher = Matcher(kb, load_config(REPO / "config.yaml").matcher)
    (problem,) = confusable_entries(kb, matcher, budget=-1.0)
    assert (problem.level, problem.message) == ("warning", (
        "the check for entries too alike to tell apart stopped after -1 s, having put 0 of 3 phrasings "
        "to the matcher; run 'python -m bot faq check' for all of them"))


def test_entries_too_alike_do_not_stop_the_bot_starting_but_a_reload_refuses_them(tmp_path: Path) -> None:
    folder = knowledge(tmp_path, ALIKE.replace("Máy in không in được nữa", "Máy in bị kẹt giấy"))
    faq = Faq(folder, load_config(REPO / "config.yaml").matcher)
    (folder / "faq" / "may.yaml").write_text(ALIKE, encoding="utf-8")
    ok, problems = faq.reload()
    assert (ok, [p.entry for p in problems if p.level == "error"]) == (False, ["in-1"])
    started = Faq(folder, load_config(REPO / "config.yaml").matcher)
    assert sorted(e.id for e in started.kb.entries) == ["in-1", "in-2", "vneid"]


def test_checks_that_only_warn_run_after_start_on_their_own_thread(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.knowledge.live"):
        faq = Faq(knowledge(tmp_path), load_config(REPO / "config.yaml").matcher)
        at_start = [r.getMessage() for r in caplog.records]
        faq.check_in_background().join(timeout=30)
    later = [r.getMessage() for r in caplog.records][len(at_start):]
    assert (at_start, later) == ([], [
        f"knowledge: {tmp_path / 'knowledge' / 'faq' / 'may.yaml'}:3: [in-1] warning: 'Máy in không in được' "
        "matches entry in-2 as well as its own (0.98 vs 1.00); reword one of them or merge them"])
