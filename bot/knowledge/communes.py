"""The province's communes and wards, found from however an official types the name.

Officials write their commune's name with or without marks, with or without
the kind in front ("xã", "x.", "phường", "p."), run together ("batxat") or
with a slip of the finger ("bat sat"). `find_communes` compares the
accent-folded name without its kind prefix, first exactly, then fuzzily
with rapidfuzz, and uses the typed kind only to break ties.

Since the 2025 arrangement many officials still say the name of the unit
they worked in before it was merged ("Cốc Lếu"); each commune lists those
former names as `aliases`. `match_commune` also says whether the match was
exact on the current name: anything looser (a former name, a slip of the
finger) is to be confirmed with the official before it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rapidfuzz import fuzz

from bot.knowledge.base import _ID, _LINE, KnowledgeError, Problem, _read_yaml, _text, _top_level
from bot.language.text import fold

KINDS = ("xa", "phuong", "thi-tran", "dac-khu")
_FIELDS = {"id", "name", "kind", "aliases", _LINE}
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
    # Former units merged into this one, as the resolution names them; descriptive, not identity.
    aliases: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CommuneMatch:
    """The communes an official may have meant, and whether the best one is certain."""

    candidates: tuple[Commune, ...]
    exact: bool  # one commune, by its current name: no need to ask
    former: str | None = None  # the former unit's name that matched, when it was an alias


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
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            problems.append(Problem(where_file, line, "aliases must be a list of names", commune_id))
            aliases = []
        communes.append(Commune(commune_id, name, kind, tuple(a.strip() for a in aliases)))
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


def _alias_keys(alias: str) -> tuple[str, str]:
    """An alias's folded name and compact form, without the resolution's "(huyện …)" note."""
    key = _keys(re.sub(r"\s*\(.*?\)", "", alias))
    words = key[0].split()
    if words[:2] == ["thi", "tran"]:
        words = words[2:]
    return " ".join(words), "".join(words)


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



def match_commune(communes: Sequence[Commune], typed: str, limit: int = 5) -> CommuneMatch:
    """What `typed` most likely names, with whether it can be kept without asking.

    Exact current names are certain. A former unit's name (an alias) gives
    the unit it was merged into, or several when two former units shared a
    name; a fuzzy match is only a guess. Both are to be confirmed.
    """
    key, compact, _ = _keys(typed)
    if not compact:
        return CommuneMatch((), False)
    current = find_communes(communes, typed, limit)
    exact_now = [c for c in current if _keys(c.name)[1] == compact]
    by_alias: list[tuple[Commune, str]] = []
    for commune in communes:
        for alias in commune.aliases:
            name, name_compact = _alias_keys(alias)
            if name == key or name_compact == compact:
                by_alias.append((commune, alias))
                break
    if len(current) == 1 and exact_now and not by_alias:
        return CommuneMatch(tuple(current), True)
    if exact_now:  # a current name that was also a merged unit's name elsewhere: ask which
        merged = exact_now + [c for c, _ in by_alias if c not in exact_now]
        return CommuneMatch(tuple(merged[:limit]), False)
    if by_alias:
        return CommuneMatch(tuple(c for c, _ in by_alias[:limit]),
                            False, by_alias[0][1] if len(by_alias) == 1 else None)
    return CommuneMatch(tuple(current), False)
