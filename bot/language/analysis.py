"""Turning a question into the words the matcher compares: tokens, rewrites, stopwords.

The same analysis runs on FAQ phrasings and on what users type, so an
abbreviation in either ("mk", "tk", "cks") meets the full words in the other.
Shorthand is ambiguous, so a text can have several *readings*; the matcher
scores each and keeps the best.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.knowledge.base import Synonyms
from bot.language.text import Token, tokenize

MAX_READINGS = 8


@dataclass(frozen=True, slots=True)
class Term:
    """A token after rewriting, marked as a stopword when it carries no meaning."""

    folded: str
    marked: str | None
    stop: bool


@dataclass(frozen=True)
class _Rule:
    source: tuple[Token, ...]
    readings: tuple[tuple[Token, ...], ...]


def _token_fits(typed: Token, source: Token, multiword: bool) -> bool:
    """Whether a typed token can be this token of a rule's source phrase.

    Unaccented typing (``marked`` None) fits any marks. When the writer did use
    marks, they are evidence: a one-word rule only fires on the same marks
    ("cảm" and "thu" are not the keys "cam" and "thư"), while multi-word
    phrases tolerate mistyped marks.
    """
    if typed.folded != source.folded:
        return False
    return typed.marked is None or multiword or typed.marked == (source.marked or source.folded)


def _literal(text: str) -> tuple[Token, ...]:
    """Tokens of a text written with care (the FAQ's words): a bare word has no marks."""
    return tuple(Token(t.folded, t.marked or t.folded) for t in tokenize(text))


def _find(tokens: list[Token], phrase: tuple[Token, ...], start: int = 0) -> list[int]:
    """The first position at or after `start` where a phrase occurs (as a one-item list), or []."""
    n = len(phrase)
    first = phrase[0].folded
    for i in range(start, len(tokens) - n + 1):
        if tokens[i].folded == first and all(
            _token_fits(a, b, n > 1) for a, b in zip(tokens[i : i + n], phrase, strict=True)
        ):
            return [i]
    return []


class _RuleSet:
    """One pass of phrase rewriting: longest phrase first, canonical phrases kept whole."""

    def __init__(self, rewrites: dict[str, tuple[str, ...]]) -> None:
        self._rules: dict[str, list[_Rule]] = {}
        self._canonical: dict[str, list[tuple[str, ...]]] = {}
        for key, readings in rewrites.items():
            source = tuple(tokenize(key))
            if not source:
                continue
            rule = _Rule(source, tuple(_literal(r) for r in readings))
            self._rules.setdefault(source[0].folded, []).append(rule)
            for reading in rule.readings:
                folded = tuple(t.folded for t in reading)
                self._canonical.setdefault(folded[0], []).append(folded)
        for rules in self._rules.values():
            rules.sort(key=lambda r: -len(r.source))
        for phrases in self._canonical.values():
            phrases.sort(key=len, reverse=True)
        # Where a rule or a canonical phrase may start: at a word that is a whole
        # phrase, or at two words that begin one. Anywhere else `_at` gives the token
        # alone, so `apply` copies such runs through without asking it (a
        # 10,000-entry FAQ's answers are mostly such tokens). Longer phrases are
        # also looked up by their first two words, in the order `_at` tries them.
        self._by_pair: dict[tuple[str, str], list[_Rule]] = {}
        self._single_rules: dict[str, list[_Rule]] = {}
        for first, rules in self._rules.items():
            for rule in rules:
                if len(rule.source) > 1:
                    self._by_pair.setdefault((first, rule.source[1].folded), []).append(rule)
                else:
                    self._single_rules.setdefault(first, []).append(rule)
        self._canonical_by_pair: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        self._single_canonical: set[str] = set()
        for first, phrases in self._canonical.items():
            for phrase in phrases:
                if len(phrase) > 1:
                    self._canonical_by_pair.setdefault(phrase[:2], []).append(phrase)
                else:
                    self._single_canonical.add(first)
        self._single = frozenset(self._single_rules) | frozenset(self._single_canonical)
        self._pair = frozenset(self._by_pair) | frozenset(self._canonical_by_pair)
        self._pair_first = frozenset(p[0] for p in self._pair)

    def _starts(self, folded: list[str]) -> list[int]:
        """Positions where a phrase could begin (elsewhere the token stands alone)."""
        single, pair, pair_first = self._single, self._pair, self._pair_first
        return [
            i for i, (first, second) in enumerate(zip(folded, [*folded[1:], ""], strict=False))
            if first in single or (first in pair_first and (first, second) in pair)
        ]

    def _at(self, tokens: list[Token], folded: list[str], i: int) -> tuple[int, tuple[tuple[Token, ...], ...]]:
        """Length consumed at position i and the readings produced there.

        A canonical phrase already in the text stays whole, so "chữ ký số" is not
        read as "chữ" + the rule "ký số" → "chữ chữ ký số". Phrases are tried
        longest first; those of two words or more must share the next word.
        """
        first = folded[i]
        key = (first, folded[i + 1]) if i + 1 < len(folded) else None
        ahead = tuple(folded[i : i + 8])
        canonical = next((len(p) for p in self._canonical_by_pair.get(key, ()) if ahead[: len(p)] == p), 0)
        if not canonical and first in self._single_canonical:
            canonical = 1
        for rule in (*self._by_pair.get(key, ()), *self._single_rules.get(first, ())):
            n = len(rule.source)
            if n <= canonical:
                break
            window = tokens[i : i + n]
            if len(window) == n and all(
                _token_fits(t, s, n > 1) for t, s in zip(window, rule.source, strict=True)
            ):
                return n, rule.readings
        used = max(canonical, 1)
        return used, (tuple(tokens[i : i + used]),)

    def apply(self, tokens: list[Token]) -> list[list[Token]]:
        """Every reading of the tokens after this pass, at most MAX_READINGS."""
        outs: list[list[Token]] = [[]]
        folded = [t.folded for t in tokens]
        i = 0
        for start in self._starts(folded):
            if start < i:
                continue  # inside a phrase already consumed
            if start > i:  # tokens no phrase starts at: what `_at` would give, one by one
                for out in outs:
                    out.extend(tokens[i:start])
            i = start
            used, options = self._at(tokens, folded, i)
            if len(options) == 1:
                for out in outs:
                    out.extend(options[0])
            else:
                outs = [out + list(opt) for out in outs for opt in options][:MAX_READINGS]
            i += used
        if i < len(tokens):
            for out in outs:
                out.extend(tokens[i:])
        return outs


class Analyzer:
    """Expands abbreviations, then unifies synonyms, then flags stopwords.

    Two passes, so a synonym phrase can be written in full words and still
    catch shorthand ("lấy lại mk" → "lấy lại mật khẩu" → "quên mật khẩu").
    """

    def __init__(self, synonyms: Synonyms) -> None:
        self._passes = (_RuleSet(synonyms.abbreviations), _RuleSet(synonyms.synonyms))
        words = [w for w in synonyms.stopwords if len(tokenize(w)) == 1]
        stop_tokens = [t for word in words for t in tokenize(word)]
        self._stop_marked = {t.marked or t.folded for t in stop_tokens}
        self._stop_folded = {t.folded for t in stop_tokens}
        # Several words together that carry no topic ("ủy ban nhân dân", "bên em"): context.
        self._stop_phrases: dict[str, list[tuple[Token, ...]]] = {}
        for phrase in synonyms.stopwords:
            tokens = _literal(phrase)
            if len(tokens) > 1:
                self._stop_phrases.setdefault(tokens[0].folded, []).append(tokens)
        self._senses = [(_literal(w), _literal(near), _literal(means)) for w, near, means in synonyms.senses]
        self._content_folded: set[str] = set()
        self._content_pairs: set[str] = set()

    def learn_content_words(self, words: Iterable[str], pairs: Iterable[str] = ()) -> None:
        """Tell the analyzer which unaccented forms are real FAQ words, and which adjacent
        pairs of them the FAQ uses ("mot cua", "ma ho"), so 'ma' stays 'mã' beside 'ho so'."""
        self._content_folded = set(words)
        self._content_pairs = set(pairs)

    def _is_stop(self, token: Token, before: Token | None = None, after: Token | None = None) -> bool:
        """Whether a token carries no topic.

        A word typed without marks that is both a stopword and an FAQ word
        ("cua": của / cửa, "xa": xã / xa, "nhe": nhé / nhẹ) is the FAQ word only
        beside a neighbour the FAQ pairs it with ("mot cua", "tu xa"); alone,
        in a chatty message, it is the stopword.
        """
        if token.marked is not None:
            return token.marked in self._stop_marked
        if token.folded not in self._stop_folded:
            return False
        if token.folded not in self._content_folded:
            return True
        if not self._content_pairs:
            return False
        return not (
            (before is not None and f"{before.folded} {token.folded}" in self._content_pairs)
            or (after is not None and f"{token.folded} {after.folded}" in self._content_pairs)
        )

    def readings(self, text: str) -> list[list[Term]]:
        """All readings of a text after rewriting, at most MAX_READINGS of them."""
        tokens = tokenize(text)
        # A writer who uses marks anywhere means an unmarked word literally has none
        # ("thu nhập" is not "thư"); a writer who never does leaves every word open.
        if any(t.marked is not None for t in tokens):
            tokens = [t if t.marked is not None else Token(t.folded, t.folded) for t in tokens]
        outs = self._passes[0].apply(tokens)
        if self._senses:
            outs = [self._apply_senses(out) for out in outs]
        outs = [r for out in outs for r in self._passes[1].apply(out)][:MAX_READINGS]
        return [self._terms(out) for out in outs]

    def _terms(self, tokens: list[Token]) -> list[Term]:
        marked_stop, folded_stop, content = self._stop_marked, self._stop_folded, self._content_folded
        last = len(tokens) - 1
        stop = [  # `_is_stop`, inlined but for the rare ambiguous word: this runs for every word of every answer
            t.marked in marked_stop if t.marked is not None
            else t.folded in folded_stop and (
                t.folded not in content
                or self._is_stop(t, tokens[i - 1] if i else None, tokens[i + 1] if i < last else None))
            for i, t in enumerate(tokens)
        ]
        if self._stop_phrases:
            phrases_at = self._stop_phrases
            for i, t in enumerate(tokens):
                if t.folded not in phrases_at:
                    continue
                for phrase in phrases_at[t.folded]:
                    window = tokens[i : i + len(phrase)]
                    if len(window) == len(phrase) and all(
                        _token_fits(a, b, True) for a, b in zip(window, phrase, strict=True)
                    ):
                        stop[i : i + len(phrase)] = [True] * len(phrase)
        return [Term(t.folded, t.marked, s) for t, s in zip(tokens, stop, strict=True)]

    def _apply_senses(self, tokens: list[Token]) -> list[Token]:
        """A word that means something else when another word is in the same message."""
        for word, near, means in self._senses:
            present = {t.folded for t in tokens}
            # _find needs every folded word of both phrases: most texts lack one, cheaply seen.
            if not all(t.folded in present for t in (*near, *word)) or not _find(tokens, near):
                continue
            at = _find(tokens, word)
            while at:
                i = at[0]
                tokens = tokens[:i] + list(means) + tokens[i + len(word) :]
                at = _find(tokens, word, i + len(means))
        return tokens
