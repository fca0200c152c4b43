"""The matcher's decisions: answer what is clear, ask when unsure, refuse what is not ours."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import MatcherConfig
from bot.knowledge.base import Entry, KnowledgeBase
from bot.language.matching import Candidate, Matcher, MatchResult


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Quên mật khẩu đăng nhập phần mềm một cửa điện tử", "motcua-quen-mat-khau"),
        ("quen mat khau phan mem mot cua", "motcua-quen-mat-khau"),
        ("quên mk tk một cửa ntn", "motcua-quen-mat-khau"),
        ("em chào anh, em quên mật khẩu vào phần mềm một cửa rồi, giúp em với ạ", "motcua-quen-mat-khau"),
        ("dân quên mật khẩu vneid", "vneid-quen-mat-khau"),
        ("may tinh ko nhan usb token", "cks-token-khong-nhan"),
        ("máy tính không nhận token chữ kí số", "cks-token-khong-nhan"),
        ("nhap sai pin token bi khoa", "cks-token-bi-khoa"),
        ("họp online mất tiếng", "hop-mat-tieng"),
        ("hop truc tuyen mat tieng", "hop-mat-tieng"),
        ("máy in k in đc", "may-in-khong-in"),
        ("may in khong in dc", "may-in-khong-in"),
        ("quên pass mail công vụ", "email-quen-mat-khau"),
    ],
)
def test_clear_questions_are_answered(matcher: Matcher, query: str, expected: str) -> None:
    result = matcher.match(query)
    assert (result.decision, result.entry_id) == ("answer", expected)


def test_decomposed_unicode_question_is_answered_like_precomposed(matcher: Matcher) -> None:
    import unicodedata

    query = "máy tính không nhận usb token chữ ký số"
    assert matcher.match(unicodedata.normalize("NFD", query)).entry_id == matcher.match(query).entry_id
    assert matcher.match(query).entry_id == "cks-token-khong-nhan"


def test_a_question_several_entries_answer_gets_did_you_mean(matcher: Matcher) -> None:
    result = matcher.match("quên mật khẩu")
    assert result.decision == "clarify"
    assert result.entry_id is None
    assert {c.entry_id for c in result.candidates} == {
        "motcua-quen-mat-khau", "vneid-quen-mat-khau", "email-quen-mat-khau",
    }


@pytest.mark.parametrize(
    "query",
    [
        "xin chào", "cảm ơn em nhiều ạ", "hihi", "giá lúa hôm nay", "công thức làm bánh chưng",
        "mua điện thoại nào tốt", "qwerty", "...", "😀", "", "   ", "12345",
    ],
)
def test_chit_chat_and_nonsense_get_no_answer(matcher: Matcher, query: str) -> None:
    assert matcher.match(query).decision != "answer"


def test_a_different_compound_is_not_answered_as_a_near_neighbour(matcher: Matcher) -> None:
    # "khai sinh" shares "đăng ký khai" with the khai tử entry, but is another procedure.
    assert matcher.match("đăng ký khai sinh cần giấy tờ gì").decision != "answer"


def test_every_candidate_clears_the_clarify_threshold(matcher: Matcher) -> None:
    result = matcher.match("token")
    assert all(c.score >= matcher.config.clarify_threshold for c in result.candidates)
    assert len(result.candidates) <= matcher.config.max_candidates


def test_result_serialises_to_the_match_contract() -> None:
    result = MatchResult("q", "clarify", None, 0.51234, (Candidate("a", 0.51234), Candidate("b", 0.4)))
    assert result.as_json() == {
        "query": "q", "decision": "clarify", "id": None, "score": 0.5123,
        "candidates": [{"id": "a", "score": 0.5123}, {"id": "b", "score": 0.4}],
    }


def test_a_huge_message_is_handled_quickly(matcher: Matcher) -> None:
    query = "máy in không in được " + "rất là lâu rồi " * 2000
    result = matcher.match(query)
    assert result.decision in {"answer", "clarify", "none"}


def test_typed_marks_separate_words_that_fold_alike(small_kb: KnowledgeBase) -> None:
    entries = (
        Entry("so-ho-tich", "Tra cứu sổ hộ tịch", "Vào mục Sổ hộ tịch."),
        Entry("so-dinh-danh", "Tra cứu số định danh", "Vào mục Tra cứu."),
        Entry("mat-token", "Báo mất USB token", "Báo ngay cho đầu mối."),
        Entry("mat-khau-token", "Đổi mã PIN token", "Dùng phần mềm quản lý token."),
    )
    kb = dataclasses.replace(small_kb, entries=entries)
    matcher = Matcher(kb, MatcherConfig())
    assert matcher.rank("tra cứu sổ")[0].entry_id == "so-ho-tich"
    assert matcher.rank("tra cứu số")[0].entry_id == "so-dinh-danh"


def test_the_thresholds_come_from_config(small_kb: KnowledgeBase) -> None:
    strict = Matcher(small_kb, MatcherConfig(answer_threshold=1.0))
    assert strict.match("nhap sai pin token bi khoa").decision == "clarify"
    lenient = Matcher(small_kb, MatcherConfig(answer_threshold=0.2, answer_margin=0.0, clarify_threshold=0.1))
    assert lenient.match("token").decision == "answer"


def test_a_short_question_about_something_the_faq_never_names_is_offered_not_answered(
        small_kb: KnowledgeBase) -> None:
    entries = tuple(e for e in small_kb.entries if e.id in ("vneid-quen-mat-khau", "may-in-khong-in"))
    matcher = Matcher(dataclasses.replace(small_kb, entries=entries), MatcherConfig())
    assert matcher.match("quên mật khẩu facebook").decision == "clarify"
    assert matcher.match("quên mật khẩu vneid").entry_id == "vneid-quen-mat-khau"


def test_words_that_say_who_asks_are_context_not_topic(matcher: Matcher) -> None:
    plain = matcher.rank("máy in không in được")
    chatty = matcher.rank("anh ơi bên em ở ubnd xã máy in không in được")
    assert [c.entry_id for c in chatty][:1] == [c.entry_id for c in plain][:1] == ["may-in-khong-in"]
    assert matcher.match("ủy ban nhân dân xã").decision == "none"


def test_a_word_takes_the_sense_of_the_word_beside_it(small_kb: KnowledgeBase) -> None:
    entries = (
        Entry("ho-so-ket", "Hồ sơ bị kẹt ở một bước trên hệ thống một cửa", "Thu hồi hồ sơ."),
        Entry("may-treo", "Máy tính chạy chậm, hay bị treo", "Khởi động lại máy."),
    )
    matcher = Matcher(dataclasses.replace(small_kb, entries=entries), MatcherConfig())
    assert matcher.rank("hồ sơ của dân bị treo mấy hôm nay")[0].entry_id == "ho-so-ket"
    assert matcher.rank("hs bị đơ không chuyển được")[0].entry_id == "ho-so-ket"
    assert matcher.rank("máy bị treo suốt")[0].entry_id == "may-treo"


def test_an_unaccented_word_that_is_also_a_stopword_is_content_only_beside_its_faq_neighbour(
        small_kb: KnowledgeBase) -> None:
    # "cua" is của (of) or cửa (một cửa), "xa" xã or xa (từ xa), "nhe" nhé or nhẹ.
    entries = (
        Entry("motcua-quen", "Quên mật khẩu phần mềm một cửa", "Bấm Quên mật khẩu."),
        Entry("cks-tu-xa", "Chủ tịch ký số từ xa trên điện thoại", "Cài ứng dụng ký số."),
        Entry("pdf-nhe", "Làm file PDF nhẹ hơn để tải lên", "Nén file."),
    )
    matcher = Matcher(dataclasses.replace(small_kb, entries=entries), MatcherConfig())
    stops = [[(t.folded, t.stop) for t in matcher.analyzer.readings(q)[0]]
             for q in ("quen mat khau mot cua", "dt cua chu tich xa", "ky so tu xa", "cam on nhe")]
    assert stops == [
        [("quen", False), ("mat", False), ("khau", False), ("mot", False), ("cua", False)],
        [("dien", False), ("thoai", False), ("cua", True), ("chu", False), ("tich", False), ("xa", True)],
        [("chu", False), ("ki", False), ("so", False), ("tu", False), ("xa", False)],  # ký số: chữ ký số
        [("cam", True), ("on", True), ("nhe", True)],
    ]
    assert matcher.match("cam on nhe").decision == "none"


def test_the_heaviest_word_an_entry_lacks_is_a_feature_of_the_match(small_kb: KnowledgeBase) -> None:
    entries = (
        Entry("so-dien-thoai-so", "Số điện thoại của Sở là bao nhiêu", "Xem danh bạ."),
        Entry("gia-danh", "Tin nhắn giả danh chủ tịch nhờ chuyển tiền", "Không chuyển."),
    )
    matcher = Matcher(dataclasses.replace(small_kb, entries=entries), MatcherConfig())
    in_words = matcher.features("số điện thoại của sở")
    other_person = matcher.features("số điện thoại của chủ tịch xã")
    assert (in_words["heaviest_missing"], round(other_person["heaviest_missing"], 2)) == (0.0, 0.35)
    # The runner-up (the impersonation entry, which names "chủ tịch") scores 0.44 of the best.
    assert (round(other_person["score_ratio"], 2), round(other_person["coverage_lead"], 2)) == (0.44, 0.31)
