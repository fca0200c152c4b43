"""The matcher's fast scoring gives what its plain definition gives, to the last bit.

`Matcher._score_reading` gathers overlaps word by word over postings, skips
entries that cannot reach the best few, and `_rank` reuses a query's analysis.
The reference below is the scoring as the module docstring defines it (and as
the code did before it was made fast): every candidate phrasing asked about
every query word, every entry found scored. Both must rank the same entries
with the same hits, for many real questions, at every list length.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path

import pytest

from bot.config import MatcherConfig
from bot.knowledge.base import KnowledgeBase, load_knowledge
from bot.language import matching
from bot.language.matching import Matcher, _Hit, _mark_credit
from bot.language.text import fold

REPO = Path(__file__).resolve().parent.parent


def reference_candidates(m: Matcher, words: dict[str, tuple[str | None, float, float]], pairs: set[str]) -> list[int]:
    features = [
        (weight, postings)
        for f, weight in [*((w, v[1]) for w, v in words.items()), *((p, m._pair_weight(p)) for p in pairs)]
        if (postings := m._postings.get(f))
    ]
    features.sort(key=lambda item: len(item[1]))
    shared: dict[int, float] = defaultdict(float)
    visited = 0
    for weight, postings in features:
        if visited and visited + len(postings) > matching.CANDIDATE_VISITS:
            break
        for doc_index in postings:
            shared[doc_index] += weight
        visited += len(postings)
    if len(shared) <= matching.CANDIDATE_LIMIT:
        return list(shared)
    return heapq.nlargest(matching.CANDIDATE_LIMIT, shared, key=shared.__getitem__)


def reference_scores(m: Matcher, terms: list) -> dict[int, tuple[float, float, float]]:
    words, pairs, _ = m._query_words(terms)
    query_mass = sum(w for _, w, _ in words.values()) + sum(m._pair_weight(p) for p in pairs)
    if query_mass <= 0:
        return {}
    known_mass = sum(w for f, (_, w, _) in words.items() if f in m._known_words)
    best: dict[int, tuple[float, float, float]] = {}
    doc_cov: dict[int, float] = {}
    for doc_index in reference_candidates(m, words, pairs):
        doc = m._docs[doc_index]
        overlap = sum(m._pair_weight(p) for p in pairs.intersection(doc.pairs))
        for folded, (marked, weight, similarity) in words.items():
            if folded in doc.marks:
                overlap += weight * similarity * _mark_credit(marked, folded, doc.marks[folded])
        cov = min(overlap / doc.mass, 1.0)
        if cov > doc_cov.get(doc.entry, 0.0):
            doc_cov[doc.entry] = cov
    for entry_index, cov in doc_cov.items():
        profile = m._profiles[entry_index]
        overlap = sum(m._pair_weight(p) for p in pairs.intersection(profile.pairs))
        known_here = 0.0
        for folded, (marked, weight, similarity) in words.items():
            if folded in profile.marks:
                faq_marked, credit = profile.marks[folded]
                overlap += weight * similarity * credit * _mark_credit(marked, folded, faq_marked)
                known_here += weight
        missing = (known_mass - known_here) * (matching.ELSEWHERE_FACTOR - 1)
        query_cov = min(overlap / (query_mass + missing), 1.0)
        exponent = matching.DOC_COVERAGE_EXPONENT
        best[entry_index] = (cov**exponent * query_cov ** (1 - exponent), cov, query_cov)
    return best


def reference_rank(m: Matcher, query: str, limit: int) -> list[tuple[int, _Hit]]:
    best: dict[int, _Hit] = {}
    for r, reading in enumerate(m.analyzer.readings(query)):
        content = [t for t in reading if not t.stop]
        if not content:
            continue
        foreign = len(content) <= matching.SHORT_QUESTION_WORDS and any(
            m._correct(t.folded)[0] not in m._known_words and not t.folded.isdigit() for t in content
        )
        for entry_index, (score, doc_cov, query_cov) in reference_scores(m, reading).items():
            if entry_index not in best or score > best[entry_index].score:
                best[entry_index] = _Hit(score, doc_cov, query_cov, r,
                                         foreign and doc_cov < matching.FOREIGN_MAX_COVERAGE)
    return heapq.nsmallest(limit, best.items(), key=lambda kv: (-kv[1].score, kv[0]))


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load_knowledge(REPO / "knowledge")


def questions(kb: KnowledgeBase) -> list[str]:
    """The FAQ's own phrasings, typed with and without marks, and what officials really wrote."""
    chat = (REPO / "benchmarks" / "data" / "realistic_chat.tsv").read_text(encoding="utf-8").splitlines()[1:]
    asked = [line.split("\t")[2] for line in chat]
    for entry in kb.entries:
        asked += [entry.question, fold(entry.question), *entry.variants[:1]]
    return asked


def test_the_fast_ranking_is_the_plain_definitions_ranking(shipped: KnowledgeBase) -> None:
    m = Matcher(shipped, MatcherConfig())
    differing = []
    for query in questions(shipped):
        expected = reference_rank(m, query, 10)
        differing += [(query, limit) for limit in (1, 3, 10) if m._rank(query, limit)[0] != expected[:limit]]
    assert differing == []


def test_a_question_asked_again_is_decided_the_same(shipped: KnowledgeBase) -> None:
    first = Matcher(shipped, MatcherConfig())
    again = Matcher(shipped, MatcherConfig())
    asked = questions(shipped)[:120]
    for query in asked:
        first.match(query)  # the analysis is now remembered
    assert [first.match(q) for q in asked] == [again.match(q) for q in asked]


def test_a_changed_faq_is_not_answered_from_the_old_faqs_analysis(small_kb: KnowledgeBase) -> None:
    before = Matcher(small_kb, MatcherConfig())
    query = "quên mật khẩu vneid"
    assert before.match(query).entry_id == "vneid-quen-mat-khau"
    kept = tuple(e for e in small_kb.entries if e.id != "vneid-quen-mat-khau")
    after = Matcher(KnowledgeBase(kept, small_kb.systems, small_kb.synonyms), MatcherConfig())
    assert "vneid-quen-mat-khau" not in [c.entry_id for c in after.rank(query, limit=10)]
