"""Vietnamese text normalisation for matching.

Officials type the same word many ways: precomposed or decomposed Unicode
(macOS/iOS copy-paste and Unikey's "Unicode tổ hợp" give NFD), old or new tone
placement (hoà/hòa, uỷ/ủy), with or without diacritics, upper or lower case.
Every token is therefore reduced to two keys:

* ``folded`` – lower case ASCII-like form with every mark removed and đ→d.
  Matching happens here, so "mat khau" finds "mật khẩu".
* ``marked`` – the letters with their vowel-quality marks (â ă ê ô ơ ư đ) kept
  and the tone moved to a trailing digit, so the tone's *position* no longer
  matters ("hoà" and "hòa" are both ``hoa2``). It is ``None`` when the user
  typed no marks at all, and is used as extra evidence: folding merges
  different words (mật/mất, sổ/số) and the marks tell them apart.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Combining tone marks, numbered the way Vietnamese input methods do.
_TONES = {
    "\u0301": "1",  # sắc
    "\u0300": "2",  # huyền
    "\u0309": "3",  # hỏi
    "\u0303": "4",  # ngã
    "\u0323": "5",  # nặng
}
# Marks that change the vowel itself; they stay on the letter in ``marked``.
_QUALITY = {"\u0302", "\u0306", "\u031b"}  # circumflex, breve, horn
# Letters that look like Đ but are not (Icelandic eth, African D).
_LOOKALIKES = str.maketrans({"Ð": "Đ", "ð": "đ", "Ɖ": "Đ", "ɖ": "đ"})
_LOOKALIKE = re.compile("[ÐðƉɖ]")
_FINAL_Y = re.compile(r"(?:[bcdđghklmnprstvx]+|qu)y")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Token:
    """One syllable or word of a text, in the two forms the matcher compares."""

    folded: str
    marked: str | None


def nfc(text: str) -> str:
    """Return NFC text with look-alike letters replaced, for display and storage."""
    text = unicodedata.normalize("NFC", text)
    # translate() looks every character up; most texts have no look-alike at all.
    return text.translate(_LOOKALIKES) if _LOOKALIKE.search(text) else text


@lru_cache(maxsize=100_000)
def _split_word(word: str) -> Token:
    tone = ""
    base: list[str] = []
    has_marks = False
    for ch in unicodedata.normalize("NFD", word):
        if ch in _TONES:
            tone = _TONES[ch]
            has_marks = True
        elif ch in _QUALITY:
            base.append(ch)
            has_marks = True
        elif unicodedata.category(ch) == "Mn":
            continue  # a stray mark from another script: ignore it
        else:
            base.append(ch)
    letters = unicodedata.normalize("NFC", "".join(base))
    # kí/ký, lí/lý, mĩ/mỹ, quí/quý are spelling variants of one syllable.
    if _FINAL_Y.fullmatch(letters):
        letters = letters[:-1] + "i"
    if "đ" in letters:
        has_marks = True
    folded = "".join(
        c for c in unicodedata.normalize("NFD", letters) if unicodedata.category(c) != "Mn"
    ).replace("đ", "d")
    return Token(folded=folded, marked=(letters + tone) if has_marks else None)


def tokenize(text: str) -> list[Token]:
    """Split text into normalised tokens; punctuation and emoji are dropped."""
    lowered = nfc(text).lower()
    return [_split_word(w) for w in _WORD.findall(lowered)]


def fold(text: str) -> str:
    """Return the accent-free, lower-case, space-separated form of a text."""
    return " ".join(t.folded for t in tokenize(text))


def has_diacritics(text: str) -> bool:
    """Tell whether the writer used Vietnamese marks anywhere in the text."""
    return any(t.marked is not None for t in tokenize(text))
