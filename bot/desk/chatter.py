"""What an official types that is not a question: menu words, leaving, small talk, stars.

These are read before the FAQ matcher sees anything, because a matcher
asked about "dang ky" or "👍" can only guess, and a guess about VNeID or a
ticket offer in answer to "cảm ơn" is worse than a short friendly word.
Everything is compared on the accent-folded text, so "Đăng ký", "dang ky"
and "DANG KY!" are the same.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from bot.language.text import fold

Chatter = Literal["thanks", "hello", "ok"]
FOLD_REMEMBERED = 512  # folded texts kept: one message (and the labels offered) is folded several times
FOLD_REMEMBERED_CHARS = 300  # longer texts are folded afresh, so what is kept stays small


@functools.lru_cache(maxsize=FOLD_REMEMBERED)
def _folded(text: str) -> str:
    return fold(text)


def folded(text: str) -> str:
    """`fold(text)`, remembered for short texts: one update reads the same message as a choice,
    a menu word, a cancel word and small talk, and offers the same labels again and again."""
    return _folded(text) if len(text) <= FOLD_REMEMBERED_CHARS else fold(text)


def _keys(*phrases: str) -> set[str]:
    return {fold(p) for p in phrases}


# Whole messages that mean a menu command, with or without slash and marks.
MENU_WORDS: dict[str, str] = {
    **dict.fromkeys(_keys("đăng ký", "đăng kí", "dangky", "đăng ký tài khoản bot"), "register"),
    **dict.fromkeys(_keys("báo sự cố", "báo lỗi", "baoloi", "gửi yêu cầu hỗ trợ"), "report"),
    **dict.fromkeys(_keys("yêu cầu của tôi", "yêu cầu của em", "các yêu cầu", "yeucau",
                          "xem yêu cầu"), "tickets"),
    **dict.fromkeys(_keys("trợ giúp", "trogiup", "giúp đỡ", "help", "menu"), "help"),
    **dict.fromkeys(_keys("hồ sơ", "hoso", "hồ sơ của tôi", "thông tin của tôi", "sửa hồ sơ"), "profile"),
    **dict.fromkeys(_keys("bắt đầu", "batdau"), "start"),
}
# Whole messages that leave whatever flow is in progress.
CANCEL_WORDS = _keys("hủy", "huỷ", "huy", "hủy bỏ", "thoát", "thoat", "thôi", "dừng lại", "cancel", "exit")

_THANKS = _keys("cảm ơn", "cám ơn", "camon", "thanks", "thank", "tks", "thank you", "cảm ơn nhiều")
_HELLO = _keys("xin chào", "chào", "chaoo", "hello", "hi", "alo", "alô", "chào buổi sáng",
               "chào buổi chiều")
_FILLER = {
    "a", "e", "em", "anh", "chi", "ban", "bot", "oi", "ad", "admin", "nhe", "nha", "nhieu", "ak", "ah",
    "u", "uh", "um", "da", "vang", "roi", "ca", "buoi", "sang", "chieu", "toi", "ma", "minh",
    "hihi", "haha", "hehe", "ok", "oke", "okie", "okay", "duoc", "dc", "on", "cam", "xin", "chao", "hello",
    "hi", "alo", "thanks", "thank", "you", "tks", "camon", "chaoo", "ha", "vay", "the",
}
_HELLO_WORDS = {fold(h) for h in _HELLO}
_HELLO_PHRASES = tuple(h for h in _HELLO if " " in h)
_NUMBER_WORDS = {fold(w): n for n, w in enumerate(("một", "hai", "ba", "bốn", "năm"), 1)}
_STARS = re.compile(r"^\s*([1-5])\s*(?:sao|\*|/\s*5|điểm|diem|d)?\s*$")


def menu_word(text: str) -> str | None:
    """The command a whole message names ("đăng ký" -> "register"), if it is one."""
    return MENU_WORDS.get(folded(text.lstrip("/")))


def is_cancel(text: str) -> bool:
    return folded(text.lstrip("/")) in CANCEL_WORDS


def chatter(text: str) -> Chatter | None:
    """Thanks, greetings, "ok" and emoji-only messages: not questions, and never a ticket.

    A message counts when it is short and made only of such words (and
    emoji), so "alo, em quên mật khẩu" is still a question.
    """
    said = folded(text)
    if not said:
        return "ok" if text.strip() else None  # emoji or punctuation only: 👍 🙏 ...
    words = said.split()
    if len(words) > 6 or not all(w in _FILLER for w in words):
        return None
    if any(t in said for t in _THANKS):
        return "thanks"
    if any(w in _HELLO_WORDS for w in words) or any(h in said for h in _HELLO_PHRASES):
        return "hello"
    return "ok"


def stars(text: str) -> int | None:
    """A rating from 1 to 5 as typed: "5", "5 sao", "năm sao", "5/5", "⭐⭐⭐⭐⭐"."""
    raw = text.strip()
    if raw and set(raw.replace(" ", "")) <= {"⭐", "★", "\ufe0f"}:
        count = raw.count("⭐") + raw.count("★")
        return count if 1 <= count <= 5 else None
    match = _STARS.match(raw.lower())
    if match:
        return int(match.group(1))
    words = fold(raw).split()
    if words and words[-1] == "sao":
        words = words[:-1]
    if len(words) == 1 and words[0] in _NUMBER_WORDS:
        return _NUMBER_WORDS[words[0]]
    return None
