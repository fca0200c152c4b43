"""The decision model: fitted by hand-written logistic regression, read back from its file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bot.knowledge.base import Entry, KnowledgeBase, load_knowledge
from bot.knowledge.check import stale_fit
from bot.language.calibration import (
    FEATURES,
    FIT_FILE,
    decider_from,
    error_curve,
    fit_logistic,
    threshold_for,
)
from bot.language.fitting import fit, kb_fingerprint, leave_one_out, observe, styles

REPO = Path(__file__).resolve().parent.parent


def test_logistic_regression_recovers_the_direction_of_a_noisy_rule() -> None:
    rng = random.Random(0)
    xs = [[rng.gauss(0, 1), rng.gauss(0, 1)] for _ in range(2000)]
    ys = [int(2 * a - b + rng.gauss(0, 1) > 0) for a, b in xs]
    model = fit_logistic(xs, ys, [1.0] * len(xs), l2=0.1)
    assert model.weights[0] > 1.0 and model.weights[1] < -0.5
    assert model.probability([2.0, -1.0]) > 0.95 > 0.05 > model.probability([-2.0, 1.0])


def test_error_curve_gives_the_lowest_threshold_whose_wrong_answers_stay_within_the_error() -> None:
    # Ten questions, best first: the sixth is the first wrong one.
    probabilities = [0.99, 0.98, 0.97, 0.96, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5]
    right = [True] * 5 + [False] + [True] * 4
    curve = error_curve(probabilities, right, [1.0] * 10, [0.0, 0.1])
    assert curve == [
        {"error": 0.0, "threshold": 0.95, "measured_error": 0.0, "answered": 0.5},
        {"error": 0.1, "threshold": 0.5, "measured_error": 0.1, "answered": 1.0},
    ]
    assert threshold_for(curve, 0.01) == 0.95
    assert threshold_for(curve, 0.5) == 0.5


def test_officials_ways_of_typing_a_phrasing() -> None:
    kb = load_knowledge(REPO / "knowledge")
    typed = dict(styles("Quên mật khẩu tài khoản một cửa", kb.synonyms, random.Random(1)))
    assert typed["acc"] == "Quên mật khẩu tài khoản một cửa"
    assert typed["noacc"] == "quen mat khau tai khoan mot cua"
    assert set(typed) == {"acc", "noacc", "abbr", "typo", "chat", "long"}
    assert typed["typo"] != typed["noacc"]
    assert typed["long"].endswith(typed["long"].rstrip()[-3:])


def test_a_fit_on_a_small_faq_reads_back_into_a_decision(small_kb: KnowledgeBase) -> None:
    from bot.config import MatcherConfig
    from bot.language.matching import Matcher

    config = MatcherConfig()
    observations = []
    for reduced, examples in leave_one_out(small_kb, random.Random(0)):
        observations += observe(Matcher(reduced, config), examples)
    content = fit(observations, kb_fingerprint(small_kb))
    assert content["features"] == list(FEATURES)
    decider = decider_from(json.loads(json.dumps(content)), 0.05)
    matcher = Matcher(small_kb, config, decider)
    clear = matcher.match("may tinh ko nhan usb token chữ ký số")
    assert (clear.decision, clear.entry_id) == ("answer", "cks-token-khong-nhan")
    assert 0.0 <= clear.probability <= 1.0
    assert matcher.match("giá lúa hôm nay").decision == "none"


def test_a_fit_file_from_other_features_is_refused() -> None:
    content = {"features": ["score"], "error_curve": []}
    with pytest.raises(ValueError, match="refit"):
        decider_from(content, 0.01)


def test_faq_check_warns_when_the_fit_saw_another_faq(tmp_path: Path, small_kb: KnowledgeBase) -> None:
    (tmp_path / FIT_FILE).write_text(json.dumps({"faq_fingerprint": kb_fingerprint(small_kb)}), "utf-8")
    assert stale_fit(tmp_path, small_kb) == []
    changed = KnowledgeBase((*small_kb.entries, Entry("new-entry", "Câu hỏi mới", "Trả lời")),
                            small_kb.systems, small_kb.synonyms)
    [warning] = stale_fit(tmp_path, changed)
    assert (warning.level, warning.file) == ("warning", str(tmp_path / FIT_FILE))
    assert "python -m bot matcher fit" in warning.message


def test_the_shipped_fit_was_fitted_on_the_shipped_faq() -> None:
    assert stale_fit(REPO / "knowledge", load_knowledge(REPO / "knowledge")) == []


def test_fitting_also_asks_small_faqs_of_two_phrasings_an_entry() -> None:
    from bot.language.fitting import THIN_PHRASINGS, _thinned

    entry = Entry("e", "Câu hỏi", "Trả lời", variants=("cách hỏi một", "cách hỏi hai", "cách hỏi ba"))
    assert THIN_PHRASINGS == 2
    assert _thinned(entry).phrasings == ("Câu hỏi", "cách hỏi một")


def test_the_shipped_decision_answers_a_lost_phone_with_vneid_asked_casually() -> None:
    from bot.config import load_config
    from bot.language.calibration import load_decider
    from bot.language.matching import Matcher

    config = load_config(REPO / "config.yaml")
    kb = load_knowledge(REPO / "knowledge")
    matcher = Matcher(kb, config.matcher, load_decider(REPO / "knowledge", config.matcher.target_error_rate))
    result = matcher.match("chủ tịch xã mất đt, vneid giờ làm sao")
    assert (result.decision, result.entry_id) == ("answer", "vneid-doi-dien-thoai")
