"""Normalisation: every way of typing a Vietnamese word reaches the same key."""

import unicodedata

import pytest

from bot.language.text import Token, fold, has_diacritics, nfc, tokenize


def test_decomposed_input_equals_precomposed() -> None:
    text = "Việt Nam một cửa điện tử"
    assert tokenize(unicodedata.normalize("NFD", text)) == tokenize(text)


@pytest.mark.parametrize(("old", "new"), [("hoà", "hòa"), ("thuý", "thúy"), ("khoẻ", "khỏe"), ("uỷ", "ủy"), ("hoạ", "họa")])
def test_old_and_new_tone_placement_are_the_same_word(old: str, new: str) -> None:
    assert tokenize(old) == tokenize(new)


def test_tone_becomes_a_trailing_digit_and_vowel_marks_stay() -> None:
    assert tokenize("Đổi mật khẩu") == [
        Token("doi", "đôi3"),
        Token("mat", "mât5"),
        Token("khau", "khâu3"),
    ]


def test_text_without_diacritics_has_no_marked_form() -> None:
    assert tokenize("doi mat khau") == [Token("doi", None), Token("mat", None), Token("khau", None)]


def test_d_with_stroke_folds_to_d_and_counts_as_a_mark() -> None:
    assert tokenize("đăng ký đc") == [Token("dang", "đăng"), Token("ki", "ki1"), Token("dc", "đc")]


def test_lookalike_capital_eth_is_read_as_d_with_stroke() -> None:
    assert fold("Ðảm bảo") == "dam bao"
    assert nfc("Ðảm") == "Đảm"


def test_folding_keeps_different_words_apart_in_marked_form() -> None:
    mat, mat2 = tokenize("mật mất")
    assert (mat.folded, mat2.folded) == ("mat", "mat")
    assert mat.marked != mat2.marked


@pytest.mark.parametrize(("a", "b"), [("kí", "ký"), ("lí do", "lý do"), ("quí", "quý")])
def test_i_and_y_spellings_are_one_syllable(a: str, b: str) -> None:
    assert tokenize(a) == tokenize(b)


def test_punctuation_emoji_and_case_are_dropped() -> None:
    assert fold("Em chào anh!!! 😀 Máy-in HỎNG?") == "em chao anh may in hong"


def test_has_diacritics_tells_whether_the_writer_used_marks() -> None:
    assert has_diacritics("quên mk") is True
    assert has_diacritics("quen mk") is False
