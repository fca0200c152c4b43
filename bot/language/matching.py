"""The FAQ matcher: from a question as typed to answer / clarify / none.

How a score is made (docs/matcher.md has the longer story):

1. Every FAQ phrasing (question and variants) and the query go through the
   same analysis (bot.language.analysis): tokens folded to ASCII with the marks kept
   aside, abbreviations and synonyms rewritten, stopwords flagged.
2. Words are weighted by how rare they are in the FAQ (BM25's idf), syllable
   pairs ("mật khẩu", "khai sinh") count as words of their own, and a query
   word the FAQ does not know is corrected to the nearest FAQ word with
   rapidfuzz when it is a likely typo.
3. A phrasing's score is the geometric blend of two coverages: how much of the
   phrasing the query contains, and how much of the query the phrasing
   explains. Marks the user typed that disagree with the FAQ's (mất/mật) lower
   a word's credit.
4. The decision compares the best entry's score, and its lead over the
   runner-up, with thresholds from config: a confident lead answers, a
   plausible one asks "did you mean", and nothing plausible says none.
"""

from __future__ import annotations

import heapq
import math
import sys
from array import array
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Literal

from rapidfuzz import fuzz, process

from bot.config import MatcherConfig
from bot.knowledge.base import Entry, KnowledgeBase
from bot.language.analysis import Analyzer, Term
from bot.language.calibration import FEATURES, Decider

Decision = Literal["answer", "clarify", "none"]

STOP_FACTOR = 0.1  # a stopword counts this much of a content word
PAIR_FACTOR = 0.6  # a syllable pair counts this much of its rarer syllable's weight
UNKNOWN_FACTOR = 0.5  # an unknown query word weighs this much of the rarest FAQ word
MARK_MISMATCH = 0.6  # credit when the user's marks disagree with the FAQ's
PLAIN_VS_MARKED = 0.85  # credit for a word typed bare among marked ones ("in phieu hẹn")
TYPO_MIN_SIMILARITY = 80  # rapidfuzz ratio (0-100) for correcting an unknown word
TYPO_MIN_LENGTH = 4
DOC_COVERAGE_EXPONENT = 0.6
UNKNOWN_PAIR_FACTOR = 1.0  # weight of a syllable pair the FAQ never uses, against its weaker syllable
ELSEWHERE_FACTOR = 3.0  # weight of a query word another entry uses, relative to its idf
ANSWER_CREDIT = 0.3
SHORT_QUESTION_WORDS = 6  # a question this short with a word the FAQ never uses ...
FOREIGN_MAX_COVERAGE = 0.5  # ... and its best phrasing covered less than this: offer, don't answer
CANDIDATE_VISITS = 6000  # postings read to find candidates (rarest features first)
CANDIDATE_LIMIT = 300  # phrasings scored fully
MIN_CONTENT_OVERLAP = 0.2  # share of the query's content an entry must hold to be offered
MAX_ALTERNATIVES = 2  # "Hoặc có phải: …" choices under a not-quite-certain answer
ANALYSIS_CACHE = 1024  # queries whose analysis is kept
SYSTEM_WORD_PURITY = 0.9  # a word names a system when this share of its entries are that system's
# Scoring reads a word's postings rather than asking each phrasing found about it while the
# postings are at most this many times as many as the phrasings found (same sums either way).
WORD_SCAN_RATIO = 2
PAIR_SCAN_RATIO = 8  # the same for finding which phrasings hold one of the query's pairs


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    score: float


@dataclass(frozen=True)
class MatchResult:
    """What the matcher decided for one query."""

    query: str
    decision: Decision
    entry_id: str | None
    score: float
    candidates: tuple[Candidate, ...]
    probability: float | None = None  # estimated chance the best entry is right (decision model)
    alternatives: tuple[Candidate, ...] = ()  # offered under an answer that is not certain

    def as_json(self) -> dict[str, object]:
        """The `python -m bot match` line for this result."""
        out: dict[str, object] = {
            "query": self.query,
            "decision": self.decision,
            "id": self.entry_id,
            "score": round(self.score, 4),
            "candidates": [{"id": c.entry_id, "score": round(c.score, 4)} for c in self.candidates],
        }
        if self.probability is not None:
            out["probability"] = round(self.probability, 4)
        if self.alternatives:
            out["alternatives"] = [c.entry_id for c in self.alternatives]
        return out


@dataclass(frozen=True, slots=True)
class _Hit:
    """How one entry scored for a query: on which reading, with which coverages."""

    score: float
    doc_cov: float
    query_cov: float
    reading: int
    foreign: bool


@dataclass(frozen=True, slots=True)
class _Doc:
    """One phrasing of one entry, reduced to weighted features."""

    entry: int
    marks: dict[str, str | None]  # unigram (folded) -> marked form in the FAQ
    pairs: tuple[str, ...]  # a tuple holds them in a fifth of a set's memory
    mass: float


@dataclass(frozen=True, slots=True)
class _Profile:
    """All an entry knows, for judging how much of a query it explains."""

    marks: dict[str, tuple[str | None, float]]  # word -> marked form, credit (tuples shared)
    pairs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Reading:
    """One reading of the query with what every scoring step reads, worked out once.

    `_rank` scores each reading, then the decision features look at the best
    entries through the same reading several times; the words after typo
    correction, their pairs and the pairs' weights are the same every time.
    """

    terms: list[Term]
    words: dict[str, tuple[str | None, float, float]]  # folded -> marks, weight, similarity
    pairs: set[str]
    pair_weights: dict[str, float]  # every pair's weight, in the iteration order of `pairs`
    typos: int  # words corrected as typos
    stop: frozenset[str]  # folded forms of the reading's stopwords
    evidence: dict[int, tuple[float, int, int, dict[str, float]]]  # entry -> `_evidence_words`, once asked


def _pairs(terms: Sequence[Term]) -> list[str]:
    content = [t.folded for t in terms if not t.stop]
    return [f"{a} {b}" for a, b in zip(content, content[1:], strict=False)]


def _mark_credit(typed: str | None, folded: str, faq: str | None) -> float:
    """How much a folded match counts, given the marks on both sides."""
    if typed is None or faq is None or typed == faq:
        return 1.0
    if typed == folded:  # typed bare, in a text that has marks elsewhere
        return PLAIN_VS_MARKED
    return MARK_MISMATCH


def _holding_any(features: set[str], postings: dict[str, array[int]], among: list[int],
                 chosen: dict[int, float]) -> Sequence[int]:
    """Those of `among` (the keys of `chosen`) whose postings hold one of the features, or all
    of `among` when reading the features' postings would cost more than asking each (a set
    intersection and a sum cost about as much as reading PAIR_SCAN_RATIO postings)."""
    lists = [found for f in features if (found := postings.get(f)) is not None]
    if sum(len(found) for found in lists) > PAIR_SCAN_RATIO * len(among):
        return among
    return {i for found in lists for i in found if i in chosen}


class Matcher:
    """An index over one knowledge base; build once, then call `match` per query."""

    def __init__(self, kb: KnowledgeBase, config: MatcherConfig, decider: Decider | None = None) -> None:
        self.kb = kb
        self.config = config
        self.decider = decider
        self.analyzer = Analyzer(kb.synonyms)
        self._entries: tuple[Entry, ...] = kb.entries
        # Every phrasing's words are kept until the index is built: one Term object per
        # distinct word (a few thousand), not one per word of each phrasing (~300,000 at
        # 10,000 entries), so the build's peak memory stays near what the index keeps.
        same: dict[Term, Term] = {}
        analysed = [
            [(i, [same.setdefault(t, t) for t in self.analyzer.readings(text)[0]]) for text in entry.phrasings]
            for i, entry in enumerate(kb.entries)
        ]
        self.analyzer.learn_content_words(
            (t.folded for per_entry in analysed for _, terms in per_entry for t in terms if not t.stop),
            (f"{a.folded} {b.folded}" for per_entry in analysed for _, terms in per_entry
             for a, b in zip(terms, terms[1:], strict=False) if not (a.stop or b.stop)),
        )
        # A phrasing written without any marks reads its stopwords by the words just
        # learnt ('ma' stays 'mã'): analyse those few again.
        analysed = [
            [
                (i, [same.setdefault(t, t) for t in self.analyzer.readings(text)[0]]
                 if all(t.marked is None for t in terms) else terms)
                for (i, terms), text in zip(per_entry, entry.phrasings, strict=True)
            ]
            for per_entry, entry in zip(analysed, kb.entries, strict=True)
        ]
        self._idf = self._document_frequencies(analysed)
        self._stop: set[str] = set()
        self._docs: list[_Doc] = []
        # Which phrasings hold a feature, as 4-byte integers from the start (a list of ints
        # takes 8 per item, and what it frees stays in the process).
        postings: defaultdict[str, array[int]] = defaultdict(lambda: array("i"))
        for per_entry in analysed:
            for entry_index, terms in per_entry:
                self._add_doc(entry_index, terms, postings)
        self._postings: dict[str, array[int]] = dict(postings)
        del postings
        # The phrasings' fields as plain lists, for scoring's inner loops (a list item is
        # read faster than an attribute of an item).
        self._doc_entry = [doc.entry for doc in self._docs]
        self._doc_mass = [doc.mass for doc in self._docs]
        self._doc_marks = [doc.marks for doc in self._docs]
        tag_terms: dict[str, list[Term]] = {}  # a few tags recur over thousands of entries
        shared: dict[tuple[str | None, float], tuple[str | None, float]] = {}  # (marks, credit): few distinct
        self._profiles = [self._profile(i, per_entry, tag_terms, shared) for i, per_entry in enumerate(analysed)]
        del tag_terms, shared, analysed, same
        # Every word some entry knows (phrasings, tags, answers): a word outside points nowhere.
        self._known_words = frozenset(w for profile in self._profiles for w in profile.marks)
        self._vocabulary = sorted({w for w in self._postings if w not in self._stop and " " not in w})
        self._max_idf = max(self._idf.values(), default=1.0)
        self._word_system = self._system_words()
        self._correct = lru_cache(maxsize=50_000)(self._correct_uncached)
        # The same questions come again ("xin chào", a common problem): their analysis is
        # kept. It depends on this index only, so a reloaded FAQ (a new Matcher) starts afresh.
        self._analyse = lru_cache(maxsize=ANALYSIS_CACHE)(self._analyse_uncached)

    # -- building -------------------------------------------------------------

    def _document_frequencies(self, analysed: list[list[tuple[int, list[Term]]]]) -> dict[str, float]:
        df: dict[str, int] = defaultdict(int)
        for per_entry in analysed:
            features: set[str] = set()
            for _, terms in per_entry:
                features.update(t.folded for t in terms)
                features.update(_pairs(terms))
            for f in features:
                df[f] += 1
        n = max(len(analysed), 1)
        return {f: math.log(1 + (n - d + 0.5) / (d + 0.5)) for f, d in df.items()}

    def _add_doc(self, entry_index: int, terms: list[Term], postings: dict[str, array[int]]) -> None:
        marks: dict[str, str | None] = {}
        mass = 0.0
        for t in terms:
            if t.folded in marks:
                continue
            marks[t.folded] = t.marked
            if t.stop:
                self._stop.add(t.folded)
            mass += self._weight(t.folded, t.stop)
        pairs = frozenset(_pairs(terms))
        mass += sum(self._pair_weight(p) for p in pairs)
        doc_index = len(self._docs)
        # Pair strings are made anew for every phrasing: interned, each is stored once.
        self._docs.append(_Doc(entry_index, marks, tuple(sys.intern(p) for p in pairs), mass))
        for feature in (*marks, *pairs):
            postings[feature].append(doc_index)

    def _profile(self, entry_index: int, per_entry: list[tuple[int, list[Term]]],
                 tag_terms: dict[str, list[Term]],
                 shared: dict[tuple[str | None, float], tuple[str | None, float]]) -> _Profile:
        """Every word an entry knows: all phrasings, tags and (at a discount) its answer."""
        entry = self._entries[entry_index]
        marks: dict[str, tuple[str | None, float]] = {}
        pairs: set[str] = set()
        for tag in entry.tags:
            if tag not in tag_terms:
                tag_terms[tag] = self.analyzer.readings(tag)[0]
        extra = [tag_terms[tag] for tag in entry.tags]
        for terms, credit in [(t, 1.0) for _, t in per_entry] + [(t, 1.0) for t in extra] + [
            (self.analyzer.readings(entry.answer)[0], ANSWER_CREDIT)
        ]:
            if credit <= 0:
                continue
            for t in terms:
                if t.folded not in marks or marks[t.folded][1] < credit:
                    value = (t.marked, credit)
                    marks[t.folded] = shared.setdefault(value, value)
            if credit == 1.0:
                pairs.update(_pairs(terms))
        return _Profile(marks, tuple(sys.intern(p) for p in frozenset(pairs)))

    def _system_words(self) -> dict[str, str]:
        """Words that name a system: used by two or more entries, nearly all of that system."""
        systems: dict[str, list[str]] = defaultdict(list)
        for entry, profile in zip(self._entries, self._profiles, strict=True):
            for word, (_, credit) in profile.marks.items():
                if credit >= 1.0 and word not in self._stop:
                    systems[word].append(entry.system)
        out = {}
        for word, owners in systems.items():
            if len(owners) < 2:
                continue
            system, count = max(((s, owners.count(s)) for s in set(owners)), key=lambda x: (x[1], x[0] or ""))
            if system and count / len(owners) >= SYSTEM_WORD_PURITY:
                out[word] = system
        return out

    def _weight(self, folded: str, stop: bool) -> float:
        idf = self._idf.get(folded)
        if idf is None:
            idf = self._max_idf * UNKNOWN_FACTOR
        return idf * (STOP_FACTOR if stop else 1.0)

    def _pair_weight(self, pair: str) -> float:
        idf = self._idf.get(pair)
        if idf is None:
            # A compound the FAQ never uses ("khai sinh" beside "khai tử") is evidence
            # of another topic, as strong as its weaker syllable.
            a, b = pair.split(" ")
            idf = min(self._weight(a, False), self._weight(b, False)) * UNKNOWN_PAIR_FACTOR
        return idf * PAIR_FACTOR

    def _correct_uncached(self, folded: str) -> tuple[str, float]:
        """The FAQ word a likely typo stands for, with the similarity (1.0 = as typed)."""
        if folded in self._postings or len(folded) < TYPO_MIN_LENGTH or folded.isdigit():
            return folded, 1.0
        best = process.extractOne(
            folded, self._vocabulary, scorer=fuzz.ratio, score_cutoff=TYPO_MIN_SIMILARITY
        )
        if best is None:
            return folded, 1.0
        return best[0], best[1] / 100.0

    # -- scoring --------------------------------------------------------------

    def _query_words(self, terms: list[Term]) -> tuple[dict[str, tuple[str | None, float, float]], set[str], int]:
        """The query's words after typo correction (folded -> marks, weight, credit), its pairs,
        and how many words were corrected."""
        words: dict[str, tuple[str | None, float, float]] = {}  # folded -> marks, weight, credit
        corrected: list[Term] = []
        typos = 0
        for t in terms:
            # Only words typed without marks are corrected: marks show a deliberate word.
            typed_plain = t.marked is None or t.marked == t.folded
            folded, similarity = (
                self._correct(t.folded) if typed_plain and not t.stop else (t.folded, 1.0)
            )
            corrected.append(Term(folded, t.marked if folded == t.folded else None, t.stop))
            if folded not in words:
                typos += folded != t.folded
                words[folded] = (corrected[-1].marked, self._weight(folded, t.stop), similarity)
        return words, set(_pairs(corrected)), typos

    def _reading(self, terms: list[Term]) -> _Reading:
        """One reading of the query, prepared for scoring and for the decision features."""
        words, pairs, typos = self._query_words(terms)
        pair_weight = self._pair_weight
        return _Reading(terms, words, pairs, {p: pair_weight(p) for p in pairs}, typos,
                        frozenset(t.folded for t in terms if t.stop), {})

    def _analyse_uncached(self, query: str) -> tuple[_Reading, ...]:
        """Every reading of a query, prepared (`_analyse` remembers the last few queries)."""
        return tuple(self._reading(terms) for terms in self.analyzer.readings(query))

    def _score_reading(self, reading: _Reading, limit: int) -> dict[int, tuple[float, float, float]]:
        """Per entry that may be among the `limit` best: its score for one reading of the
        query, its best phrasing coverage and its query coverage.

        A phrasing's overlap is the weight of the query's pairs it holds, then
        of the query's words it holds (in the query's order). The sums are
        gathered word by word over the postings (a word's phrasings) or over
        the candidates, whichever is shorter, instead of asking every
        candidate about every word: the same additions in the same order, so
        the same numbers to the last bit.
        """
        words, pairs, pair_weights = reading.words, reading.pairs, reading.pair_weights
        query_mass = sum(w for _, w, _ in words.values()) + sum(pair_weights.values())
        if query_mass <= 0:
            return {}
        known_words = self._known_words
        known_mass = sum(w for f, (_, w, _) in words.items() if f in known_words)
        docs, postings_of = self._docs, self._postings
        doc_marks = self._doc_marks
        candidates = self._candidates(words, pair_weights)
        overlap: dict[int, float] = dict.fromkeys(candidates, 0.0)
        pair_weight = pair_weights.__getitem__
        if pairs:
            for doc_index in _holding_any(pairs, postings_of, candidates, overlap):
                common = pairs.intersection(docs[doc_index].pairs)
                if common:
                    overlap[doc_index] = sum(map(pair_weight, common))
        count = len(candidates)
        for folded, (marked, weight, similarity) in words.items():
            postings = postings_of.get(folded)
            if postings is None:
                continue
            held = (
                [d for d in postings if d in overlap] if len(postings) <= WORD_SCAN_RATIO * count
                else [d for d in candidates if folded in doc_marks[d]]
            )
            credit = weight * similarity  # times a mark credit of 1.0
            if marked is None:
                for doc_index in held:
                    overlap[doc_index] += credit
                continue
            other = credit * (PLAIN_VS_MARKED if marked == folded else MARK_MISMATCH)
            for doc_index in held:
                faq = doc_marks[doc_index][folded]
                overlap[doc_index] += credit if faq is None or faq == marked else other
        doc_cov: dict[int, float] = {}
        doc_entry, doc_mass = self._doc_entry, self._doc_mass
        for doc_index, doc_overlap in overlap.items():
            cov = doc_overlap / doc_mass[doc_index]
            if cov > 1.0:  # min(cov, 1.0)
                cov = 1.0
            entry_index = doc_entry[doc_index]
            if cov > doc_cov.get(entry_index, 0.0):
                doc_cov[entry_index] = cov
        # How much of the query each entry found explains, over all it knows (phrasings,
        # tags, answer), best phrasing coverage first. Only the `limit` best entries are
        # kept by `_rank`, and a score is at most its coverage part (the query coverage is
        # at most 1): once `limit` entries score more than an entry's coverage part could,
        # that entry cannot be among them, in this reading or overall, and is skipped.
        profiles = self._profiles
        query = [
            (folded, marked, weight, weight * similarity,
             PLAIN_VS_MARKED if marked == folded else MARK_MISMATCH)
            for folded, (marked, weight, similarity) in words.items()
        ]
        elsewhere, doc_exponent, query_exponent = ELSEWHERE_FACTOR - 1, DOC_COVERAGE_EXPONENT, 1 - DOC_COVERAGE_EXPONENT
        limit = max(limit, 1)
        kept: list[float] = []  # the `limit` best scores so far (a heap: the lowest first)
        best: dict[int, tuple[float, float, float]] = {}
        for entry_index, cov in sorted(doc_cov.items(), key=itemgetter(1), reverse=True):
            doc_part = cov**doc_exponent
            if len(kept) >= limit and doc_part < kept[0]:
                continue
            profile = profiles[entry_index]
            marks = profile.marks
            entry_overlap = sum(map(pair_weight, pairs.intersection(profile.pairs))) if pairs else 0
            known_here = 0.0
            for folded, marked, weight, typed, mismatch in query:
                if folded in marks:
                    faq_marked, credit = marks[folded]
                    if marked is None or faq_marked is None or faq_marked == marked:
                        entry_overlap += typed * credit  # times a mark credit of 1.0
                    else:
                        entry_overlap += typed * credit * mismatch
                    known_here += weight
            # A word the FAQ uses elsewhere but this entry never does points at another
            # entry, so it counts against this one more than an unknown word.
            missing = (known_mass - known_here) * elsewhere
            query_cov = entry_overlap / (query_mass + missing)
            if query_cov > 1.0:  # min(query_cov, 1.0)
                query_cov = 1.0
            score = doc_part * query_cov**query_exponent
            best[entry_index] = (score, cov, query_cov)
            if len(kept) < limit:
                heapq.heappush(kept, score)
            elif score > kept[0]:
                heapq.heapreplace(kept, score)
        return best

    def _candidates(self, words: dict[str, tuple[str | None, float, float]],
                    pair_weights: dict[str, float]) -> list[int]:
        """Phrasings worth scoring fully: those sharing the most weight of the query's rarer words.

        A cheap pass adds each feature's weight to the phrasings in its
        postings, rarest feature first, until CANDIDATE_VISITS postings have
        been read; the CANDIDATE_LIMIT best then get the full score. Common
        syllables ("hồ", "sơ", "không") and stopwords come last, so on a large
        FAQ they only add credit to phrasings already found; on a small FAQ
        every phrasing sharing a word is scored.
        """
        postings_of = self._postings
        features = [
            (weight, postings)
            for f, weight in [*((w, v[1]) for w, v in words.items()), *pair_weights.items()]
            if (postings := postings_of.get(f))
        ]
        features.sort(key=lambda item: len(item[1]))
        visited = read = 0
        for _, postings in features:
            if visited and visited + len(postings) > CANDIDATE_VISITS:
                break
            visited += len(postings)
            read += 1
        # Which phrasings, when they are few enough to score them all: the weights they
        # share are needed only to choose among more (the order of the list matters not).
        # The postings are sorted shortest first: when the last one read is longer than
        # the limit, there are more (always so on a large FAQ).
        if read and len(features[read - 1][1]) <= CANDIDATE_LIMIT:
            found: set[int] = set()
            for _, postings in features[:read]:
                found.update(postings)
            if len(found) <= CANDIDATE_LIMIT:
                return list(found)
        shared: dict[int, float] = defaultdict(float)
        for weight, postings in features[:read]:
            for doc_index in postings:
                shared[doc_index] += weight
        # heapq.nlargest(CANDIDATE_LIMIT, shared, key=shared.__getitem__), as documented, in
        # C: a stable sort keeps the earlier of equal phrasings first, as nlargest does.
        return sorted(shared, key=shared.__getitem__, reverse=True)[:CANDIDATE_LIMIT]

    def rank(self, query: str, limit: int = 10) -> list[Candidate]:
        """Entries ordered by score, best first (every reading of the query considered)."""
        return [Candidate(self._entries[i].id, h.score) for i, h in self._rank(query, limit)[0]]

    def _rank(self, query: str, limit: int) -> tuple[list[tuple[int, _Hit]], tuple[_Reading, ...]]:
        """The best entries with how each was reached, and the readings of the query.

        A short question with a word the FAQ has never seen ("quên mật khẩu
        facebook"), whose best phrasing is mostly absent from it (the entry is
        about VNeID), is probably about something the FAQ does not cover: the
        hit is flagged `foreign`.
        """
        best: dict[int, tuple[float, float, float, int, bool]] = {}  # a _Hit's fields
        readings = self._analyse(query)
        for r, reading in enumerate(readings):
            content = [t for t in reading.terms if not t.stop]
            if not content:
                continue  # only greetings and filler: nothing to match
            foreign = len(content) <= SHORT_QUESTION_WORDS and any(
                self._correct(t.folded)[0] not in self._known_words and not t.folded.isdigit()
                for t in content
            )
            for entry_index, (score, doc_cov, query_cov) in self._score_reading(reading, limit).items():
                if entry_index not in best or score > best[entry_index][0]:
                    best[entry_index] = (score, doc_cov, query_cov, r, foreign and doc_cov < FOREIGN_MAX_COVERAGE)
        ranked = heapq.nsmallest(limit, best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(i, _Hit(*hit)) for i, hit in ranked], readings

    def features(self, query: str) -> dict[str, float]:
        """The match features the decision model reads (see bot.language.calibration)."""
        ranked, readings = self._rank(query, limit=max(self.config.max_candidates, 3))
        return self._features(ranked, readings)

    def _evidence(self, entry_index: int, reading: _Reading) -> tuple[float, int, int]:
        """How the query's content words stand with one entry.

        Returns the share of the query's content weight the entry's phrasings
        and tags contain, how many content words the FAQ knows but this entry
        does not (they point elsewhere), and how many typed marks disagree.
        """
        agree, elsewhere, mismatched, _ = self._evidence_words(entry_index, reading)
        return agree, elsewhere, mismatched

    def _evidence_words(self, entry_index: int, reading: _Reading) -> tuple[float, int, int, dict[str, float]]:
        """`_evidence`, with the share of the query's content weight each agreeing word carries
        (asked several times per match about the same entries: worked out once)."""
        known = reading.evidence.get(entry_index)
        if known is None:
            known = reading.evidence[entry_index] = self._evidence_words_uncached(entry_index, reading)
        return known

    def _evidence_words_uncached(self, entry_index: int,
                                 reading: _Reading) -> tuple[float, int, int, dict[str, float]]:
        profile = self._profiles[entry_index]
        total = agree = 0.0
        elsewhere = mismatched = 0
        agreeing: dict[str, float] = {}
        stop = reading.stop
        for folded, (marked, weight, similarity) in reading.words.items():
            if folded in stop:
                continue
            total += weight
            known = profile.marks.get(folded)
            if known is None:
                elsewhere += folded in self._known_words
                continue
            faq_marked, credit = known
            if credit >= 1.0:
                agree += weight * similarity
                agreeing[folded] = weight * similarity
            if _mark_credit(marked, folded, faq_marked) == MARK_MISMATCH:
                mismatched += 1
        if not total:
            return 0.0, elsewhere, mismatched, {}
        return agree / total, elsewhere, mismatched, {w: v / total for w, v in agreeing.items()}

    def _query_system(self, terms: list[Term]) -> str | None:
        """The system the query's words point to, when words used by one system only say so."""
        votes: dict[str, float] = defaultdict(float)
        for t in terms:
            if t.stop:
                continue
            folded = self._correct(t.folded)[0]
            system = self._word_system.get(folded)
            if system is not None:
                votes[system] += self._idf.get(folded, 0.0)
        if not votes:
            return None
        return max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0]

    def _features(self, ranked: list[tuple[int, _Hit]], readings: Sequence[_Reading]) -> dict[str, float]:
        if not ranked:
            return dict.fromkeys(FEATURES, 0.0)
        top_index, top = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else _Hit(0.0, 0.0, 0.0, 0, False)
        reading = readings[top.reading]
        terms = reading.terms
        agree, elsewhere, mismatched, mine = self._evidence_words(top_index, reading)
        theirs: dict[str, float] = {}
        if len(ranked) > 1:
            theirs = self._evidence_words(ranked[1][0], reading)[3]
        overlapping = sum(
            1 for i, h in ranked[:3] if self._evidence(i, readings[h.reading])[0] >= MIN_CONTENT_OVERLAP
        )
        typos = reading.typos
        content = {t.folded for t in terms if not t.stop}
        unknown = sum(
            1 for f in content if self._correct(f)[0] not in self._known_words and not f.isdigit()
        )
        system = self._query_system(terms)
        top_system = self._entries[top_index].system
        others = [h.doc_cov for _, h in ranked[1:3]]
        same_system = len(ranked) > 1 and self._entries[ranked[1][0]].system == top_system
        return {
            "score": top.score,
            "margin": top.score - second.score,
            "runner_up": second.score,
            "phrasing_coverage": top.doc_cov,
            "query_coverage": top.query_cov,
            "runner_up_coverage": second.doc_cov,
            "rare_agreement": agree,
            "runner_up_agreement": sum(theirs.values()),
            "only_top_agrees": sum(v for w, v in mine.items() if w not in theirs),
            "only_runner_up_agrees": sum(v for w, v in theirs.items() if w not in mine),
            "overlapping_entries": float(overlapping),
            "words_elsewhere": float(min(elsewhere, 5)),
            "unknown_words": float(min(unknown, 5)),
            "marks_disagree": float(min(mismatched, 3)),
            "system_agrees": 0.0 if system is None else (1.0 if system == top_system else -1.0),
            "runner_up_same_system": float(same_system),
            "content_words": math.log1p(len(content)),
            "typos": float(min(typos, 3)),
            "foreign": float(top.foreign),
            "score_ratio": second.score / top.score if top.score > 0 else 1.0,
            "coverage_lead": top.doc_cov - max(others, default=0.0),
            "heaviest_missing": self._heaviest_missing(top_index, reading),
        }

    def _heaviest_missing(self, entry_index: int, reading: _Reading) -> float:
        """The share of the query's content weight carried by its heaviest word the entry lacks.

        One strong word the entry never uses ("chủ tịch" in "số điện thoại chủ
        tịch xã", "xổ số", "atm" in "quên mã pin thẻ atm") says the question is
        about something else, however well the rest agrees. A two-syllable word
        counts as one: its missing syllables and the pair together.
        """
        words, pairs, pair_weights, stop = reading.words, reading.pairs, reading.pair_weights, reading.stop
        profile = self._profiles[entry_index]

        def missing(folded: str) -> float:
            known = profile.marks.get(folded)
            return words[folded][1] if known is None or known[1] < 1.0 else 0.0

        content = [f for f in words if f not in stop]
        total = sum(words[f][1] for f in content) + sum(pair_weights.values())
        heaviest = max((missing(f) for f in content), default=0.0)
        for pair in pairs:
            a, b = pair.split(" ")
            lost = missing(a) + missing(b) if a in words and b in words else 0.0
            if lost and pair not in profile.pairs:
                heaviest = max(heaviest, lost + pair_weights[pair])
        return heaviest / total if total else 0.0

    def _overlapping(self, ranked: list[tuple[int, _Hit]], readings: Sequence[_Reading]) -> list[Candidate]:
        """Candidates with real content in common with the query, worth offering as a choice."""
        out = []
        for entry_index, hit in ranked[: self.config.max_candidates]:
            if hit.score < self.config.clarify_threshold:
                continue
            agree, _, _ = self._evidence(entry_index, readings[hit.reading])
            if agree >= MIN_CONTENT_OVERLAP:
                out.append(Candidate(self._entries[entry_index].id, hit.score))
        return out

    def match(self, query: str) -> MatchResult:
        """Decide how the bot should respond to one question."""
        cfg = self.config
        ranked, readings = self._rank(query, limit=max(cfg.max_candidates, 3))
        top = ranked[0][1].score if ranked else 0.0
        if self.decider is None:
            return self._match_by_thresholds(query, ranked)
        features = self._features(ranked, readings)
        right, offered_right = self.decider.probabilities(features)
        overlapping = self._overlapping(ranked, readings)
        if ranked and right >= self.decider.answer_at:
            best = Candidate(self._entries[ranked[0][0]].id, top)
            others = tuple(c for c in overlapping if c.entry_id != best.entry_id)
            alternatives = others[:MAX_ALTERNATIVES] if right < self.decider.certain_at else ()
            return MatchResult(query, "answer", best.entry_id, top, (best, *others), right, alternatives)
        if overlapping and offered_right >= self.decider.clarify_at:
            return MatchResult(query, "clarify", None, top, tuple(overlapping), right)
        return MatchResult(query, "none", None, top, (), right)

    def _match_by_thresholds(self, query: str, ranked: list[tuple[int, _Hit]]) -> MatchResult:
        """The rule used before a decision model is fitted: a score and a lead over the runner-up."""
        cfg = self.config
        top = ranked[0][1].score if ranked else 0.0
        runner_up = ranked[1][1].score if len(ranked) > 1 else 0.0
        offered = tuple(
            Candidate(self._entries[i].id, h.score)
            for i, h in ranked[: cfg.max_candidates]
            if h.score >= cfg.clarify_threshold
        )
        other_object = bool(ranked) and ranked[0][1].foreign
        if top >= cfg.answer_threshold and top - runner_up >= cfg.answer_margin and not other_object:
            return MatchResult(query, "answer", self._entries[ranked[0][0]].id, top, offered)
        if offered:
            return MatchResult(query, "clarify", None, top, offered)
        return MatchResult(query, "none", None, top, ())
