"""The province's communes and wards, found from however an official types the name.

Officials write their commune's name with or without marks, with or without
the kind in front ("xã", "x.", "phường", "p."), run together ("batxat") or
with a slip of the finger ("bat sat"). `find_communes` compares the
accent-folded name without its kind prefix, first exactly, then fuzzily
with rapidfuzz, and uses the typed kind only to break ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz

from bot.knowledge.base import _ID, _LINE, KnowledgeError, Problem, _read_yaml, _text, _top_level
from bot.language.text import fold

KINDS = ("xa", "phuong", "thi-tran", "dac-khu")
_FIELDS = {"id", "name", "kind", _LINE}
# Folded kind prefixes (punctuation is gone after folding: "x." is "x"), longest first.
_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("thi", "tran"), "thi-tran"),
    (("dac", "khu"), "dac-khu"),
    (("phuong",), "phuong"),
    (("xa",), "xa"),
    (("p",), "phuong"),
    (("x",), "xa"),
)
_COMPACT_PREFIXES = tuple(
    ("".join(words), kind) for words, kind in _PREFIXES if len("".join(words)) > 1
)
MIN_SCORE = 75.0  # rapidfuzz 0-100; below this a commune is not offered
_MIN_PREFIX_LEN = 3  # "mu cang" may stand for "Mù Cang Chải", "mu" may not


@dataclass(frozen=True)
class Commune:
    """One commune-level unit (xã, phường, ...) of the province."""

    id: str
    name: str
    kind: str


def load_communes(path: Path) -> tuple[Commune, ...]:
    """Read `communes.yaml`; raise KnowledgeError listing every problem with file and line."""
    problems: list[Problem] = []
    communes: list[Commune] = []
    first_line: dict[str, int] = {}
    first_name: dict[tuple[str, str], tuple[str, int]] = {}
    where_file = str(path)
    items = _top_level(_read_yaml(path, problems), path, "communes", problems)
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            problems.append(Problem(where_file, 0, f"communes[{index}] must be a mapping"))
            continue
        line = raw.get(_LINE, 0)
        commune_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        for key in sorted(set(raw) - _FIELDS, key=str):
            problems.append(Problem(where_file, line, f"unknown field '{key}'", commune_id))
        if commune_id is None:
            problems.append(Problem(where_file, line, "'id' is missing"))
            continue
        where = (where_file, line, commune_id)
        if not _ID.match(commune_id):
            problems.append(Problem(
                where_file, line, "id must be lower-case a-z, 0-9 and '-'", commune_id
            ))
        name = _text(raw, "name", where, problems)
        kind = _text(raw, "kind", where, problems)
        if kind and kind not in KINDS:
            problems.append(Problem(
                where_file, line, f"kind must be one of {', '.join(KINDS)}, got '{kind}'",
                commune_id,
            ))
        if commune_id in first_line:
            problems.append(Problem(
                where_file, line,
                f"duplicate id, first used at {where_file}:{first_line[commune_id]}", commune_id,
            ))
        else:
            first_line[commune_id] = line
        if name:
            same = (kind, _keys(name)[0])
            if same in first_name:
                other_id, other_line = first_name[same]
                problems.append(Problem(
                    where_file, line,
                    f"same name as {other_id} ({where_file}:{other_line}): '{name}'", commune_id,
                ))
            else:
                first_name[same] = (commune_id, line)
        communes.append(Commune(commune_id, name, kind))
    if not items and not problems:
        problems.append(Problem(where_file, 0, "no communes listed"))
    if problems:
        raise KnowledgeError(sorted(problems))
    return tuple(communes)


def _strip_kind(words: list[str]) -> tuple[list[str], str | None]:
    """Remove a leading kind word ("xa", "p", "thi tran", ...) if a name follows it."""
    for prefix, kind in _PREFIXES:
        if len(words) > len(prefix) and tuple(words[: len(prefix)]) == prefix:
            return words[len(prefix):], kind
    return words, None


@lru_cache(maxsize=4096)
def _keys(text: str) -> tuple[str, str, str | None]:
    """The folded name without its kind, the same without spaces, and the kind typed."""
    words, kind = _strip_kind(fold(text).split())
    return " ".join(words), "".join(words), kind


def _score(typed: str, compact: str, name: str, name_compact: str) -> float:
    # Words typed apart are compared as words (so "may in hong" stays far from
    # "minh luong"); a single word may be a name run together ("batxat").
    score = fuzz.ratio(typed, name) if " " in typed else fuzz.ratio(compact, name_compact)
    # The beginning of a name, typed without a slip, is a good candidate ("mu cang"),
    # better when it ends at a word boundary ("tan" for "Tân Lĩnh" before "Tằng Loỏng").
    if len(compact) >= _MIN_PREFIX_LEN:
        if name.startswith(typed + " "):
            score = max(score, 95.0)
        elif name_compact.startswith(compact):
            score = max(score, 90.0)
    return score


def find_communes(communes: Sequence[Commune], typed: str, limit: int = 5) -> list[Commune]:
    """Return the communes an official most likely meant by `typed`, best first.

    A unique exact match (ignoring marks, case, spaces and the kind prefix)
    is returned alone; otherwise up to `limit` fuzzy candidates. Text that
    resembles no commune gives [].
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    key, compact, typed_kind = _keys(typed)
    if not compact:
        return []
    candidates = [(c, *_keys(c.name)[:2]) for c in communes]

    exact = [c for c, name, name_compact in candidates if name == key or name_compact == compact]
    if not exact and typed_kind is None:
        # "xabatxat": the kind run together with the name.
        for prefix, kind in _COMPACT_PREFIXES:
            if compact.startswith(prefix) and len(compact) > len(prefix):
                rest = compact[len(prefix):]
                exact = [c for c, _, name_compact in candidates if name_compact == rest]
                if exact:
                    typed_kind = kind
                    break
    if len(exact) > 1 and typed_kind is not None:
        exact = [c for c in exact if c.kind == typed_kind] or exact
    if len(exact) == 1:
        return exact

    scored = [
        (_score(key, compact, name, name_compact), c.kind == typed_kind, -index, c)
        for index, (c, name, name_compact) in enumerate(candidates)
    ]
    scored = [row for row in scored if row[0] >= MIN_SCORE]
    scored.sort(key=lambda row: row[:3], reverse=True)
    return [row[3] for row in scored[:limit]]

