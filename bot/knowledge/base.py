"""The knowledge base: FAQ entries, systems and the synonym table, read from YAML.

Admins edit these files by hand, so loading never stops at the first mistake:
it collects every problem with the file, line and entry it concerns, and the
caller decides what an error means (refuse to start, refuse a reload, print a
`faq check` report). Warnings, such as an unknown system id, never block.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from bot.language.text import fold, nfc

if TYPE_CHECKING:
    from bot.knowledge.contacts import Contact

MAX_ANSWER_CHARS = 2000  # Zalo's message limit, the strictest of our channels
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LINE = "__line__"
_UNREADABLE = object()  # a file whose problem is already reported
_REVIEWED = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+\S")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the knowledge base, located for the person fixing it."""

    file: str
    line: int
    message: str
    entry: str | None = None
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        who = f" [{self.entry}]" if self.entry else ""
        return f"{where}:{who} {self.level}: {self.message}"


class KnowledgeError(Exception):
    """The knowledge base has errors; `problems` lists all of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Entry:
    """One FAQ entry: a question, its other phrasings and the answer to send."""

    id: str
    question: str
    answer: str
    variants: tuple[str, ...] = ()
    system: str | None = None
    tags: tuple[str, ...] = ()
    title: str = ""  # optional short label for buttons; the question is shown in full elsewhere
    file: str = ""
    line: int = 0
    source: tuple[str, ...] = ()  # document number and date, or a public address
    reviewed: str = ""  # "YYYY-MM-DD who": when and by whom the answer was last checked

    @property
    def reviewed_on(self) -> date | None:
        """The date of the last review, or None if the entry was never reviewed."""
        match = _REVIEWED.match(self.reviewed)
        return date.fromisoformat(match.group(1)) if match else None

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question first, then its variants: every text a user may echo."""
        return (self.question, *self.variants)


@dataclass(frozen=True)
class System:
    """An e-government system and who fixes it when it breaks."""

    id: str
    name: str
    owner: str = ""
    queue: str = ""
    hotline: str = ""
    description: str = ""


@dataclass(frozen=True)
class Synonyms:
    """Rewrites from what officials type to the words the FAQ uses.

    ``abbreviations`` expand shorthand to full words, possibly to several
    readings (cv is công văn or công vụ); ``synonyms`` then map other words
    for the same thing to one canonical phrase. Keys are lower-cased phrases.
    """

    abbreviations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stopwords: frozenset[str] = frozenset()
    # (word, another word in the same message, what the word then means): "treo" next to
    # "hồ sơ" is a stuck dossier ("kẹt"), not a frozen computer.
    senses: tuple[tuple[str, str, str], ...] = ()


RENDERED_KEPT = 2000  # rendered answers a knowledge base keeps (see KnowledgeBase.render)


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the matcher and the conversation need from `knowledge/`."""

    entries: tuple[Entry, ...]
    systems: dict[str, System]
    synonyms: Synonyms
    warnings: tuple[Problem, ...] = ()
    contacts: dict[str, Contact] = field(default_factory=dict)
    overridden: tuple[str, ...] = ()  # ids a later layer (the province) took over from an earlier one

    def entry(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    @functools.cached_property
    def _by_id(self) -> dict[str, Entry]:
        """The entries by id, the first of a repeated id winning (as a scan would find it): an
        answer looks up several entries, and a scan of a 10,000-entry FAQ took half a millisecond."""
        by_id: dict[str, Entry] = {}
        for e in self.entries:
            by_id.setdefault(e.id, e)
        return by_id

    def render(self, answer: str) -> str:
        """An answer as the official reads it: contact placeholders filled in from contacts.yaml.

        Remembered per answer (a knowledge base never changes; a reload makes a new one), up to
        `RENDERED_KEPT` of them: every answer given renders its entry's text again."""
        rendered = self._rendered.get(answer)
        if rendered is None:
            from bot.knowledge.contacts import (
                render,  # contacts reads its YAML with this module's helpers
            )

            if len(self._rendered) >= RENDERED_KEPT:
                self._rendered.clear()
            rendered = self._rendered[answer] = render(answer, self.contacts)
        return rendered

    @functools.cached_property
    def _rendered(self) -> dict[str, str]:
        return {}


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers the line of every mapping, for error messages."""


class _FastLineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same loader on libyaml's parser when PyYAML has it: a 10,000-entry FAQ
    parses in about 2 s instead of 40 s. Same constructors, so the same values."""


def _mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)
_FastLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        try:
            return yaml.load(text, Loader=_FastLineLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError:
            # libyaml words its errors differently; the pure-Python parser gives the
            # messages admins (and the tests) know, at its speed only for a broken file.
            return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problems.append(Problem(str(path), line, f"YAML syntax error: {exc.problem or exc}"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(Problem(str(path), 0, f"cannot read: {exc}"))
    return _UNREADABLE


def _text(raw: dict[str, Any], key: str, where: tuple[str, int, str | None],
          problems: list[Problem], required: bool = True) -> str:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(where[0], where[1], f"'{key}' is missing or empty", where[2]))
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        problems.append(Problem(where[0], where[1], f"'{key}' must be text", where[2]))
        return ""
    return nfc(str(value)).strip()


def _texts(raw: dict[str, Any], key: str, where: tuple[str, int, str | None],
           problems: list[Problem]) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        problems.append(Problem(where[0], where[1], f"'{key}' must be a list of texts", where[2]))
        return ()
    out = tuple(nfc(str(v)).strip() for v in value)
    if any(not v for v in out):
        problems.append(Problem(where[0], where[1], f"'{key}' has an empty item", where[2]))
    return tuple(v for v in out if v)


def _top_level(raw: Any, path: Path, key: str, problems: list[Problem]) -> list[Any]:
    if raw is _UNREADABLE:
        return []
    if raw is None:
        problems.append(Problem(str(path), 0, "file is empty"))
        return []
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), 1, "expected a mapping with 'version' and '" + key + "'"))
        return []
    if raw.get("version") != 1:
        problems.append(Problem(str(path), raw.get(_LINE, 1), "'version: 1' is required"))
    items = raw.get(key)
    if not isinstance(items, list):
        problems.append(Problem(str(path), raw.get(_LINE, 1), f"'{key}' must be a list"))
        return []
    return items


_ENTRY_KEYS = {"id", "system", "question", "title", "variants", "answer", "tags", "source", "reviewed", _LINE}
MAX_TITLE_CHARS = 40  # a button label that fits a phone screen


def _reviewed(raw: dict[str, Any], where: tuple[str, int, str | None], problems: list[Problem]) -> str:
    """The `reviewed` field: a date (YYYY-MM-DD) then who reviewed, e.g. "2026-11-29 TT CNTT (Lan)"."""
    value = raw.get("reviewed")
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    match = _REVIEWED.match(text)
    valid = False
    if match:
        try:
            date.fromisoformat(match.group(1))
            valid = True
        except ValueError:
            pass
    if not valid:
        problems.append(Problem(where[0], where[1],
                                "'reviewed' must be a date YYYY-MM-DD then who reviewed, "
                                f"e.g. \"2026-11-29 Trung tâm CNTT\"; got {text!r}", where[2]))
        return ""
    return nfc(text)


def parse_faq_file(path: Path, problems: list[Problem]) -> list[Entry]:
    """Read one FAQ file, appending every problem found to `problems`."""
    entries: list[Entry] = []
    for index, raw in enumerate(_top_level(_read_yaml(path, problems), path, "entries", problems)):
        if not isinstance(raw, dict):
            problems.append(Problem(str(path), 0, f"entries[{index}] must be a mapping"))
            continue
        line = raw.get(_LINE, 0)
        entry_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        where = (str(path), line, entry_id)
        for key in sorted(set(raw) - _ENTRY_KEYS):
            problems.append(Problem(str(path), line, f"unknown field '{key}'", entry_id))
        if entry_id is None:
            problems.append(Problem(str(path), line, "'id' is missing"))
            continue
        if not _ID.match(entry_id):
            problems.append(Problem(str(path), line, "id must be lower-case a-z, 0-9 and '-'", entry_id))
        answer = _text(raw, "answer", where, problems)
        if len(answer) > MAX_ANSWER_CHARS:
            problems.append(Problem(
                str(path), line,
                f"answer is {len(answer)} characters; at most {MAX_ANSWER_CHARS} fit one message",
                entry_id,
            ))
        title = _text(raw, "title", where, problems, required=False)
        if len(title) > MAX_TITLE_CHARS:
            problems.append(Problem(str(path), line,
                                    f"title is {len(title)} characters; at most {MAX_TITLE_CHARS}", entry_id))
        entries.append(Entry(
            id=entry_id,
            question=_text(raw, "question", where, problems),
            answer=answer,
            variants=_texts(raw, "variants", where, problems),
            system=_text(raw, "system", where, problems, required=False) or None,
            tags=_texts(raw, "tags", where, problems),
            title=title,
            file=str(path),
            line=line,
            source=_texts(raw, "source", where, problems),
            reviewed=_reviewed(raw, where, problems),
        ))
    return entries


def _duplicate_ids(entries: Sequence[Entry]) -> list[Problem]:
    """Two entries of one layer with the same id (across layers an id is an override)."""
    problems: list[Problem] = []
    first_by_id: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in first_by_id:
            other = first_by_id[entry.id]
            problems.append(Problem(entry.file, entry.line,
                                    f"duplicate id, first used at {other.file}:{other.line}", entry.id))
        else:
            first_by_id[entry.id] = entry
    return problems


def _shared_phrasings(entries: Sequence[Entry]) -> list[Problem]:
    """Phrasings that two entries share (the matcher could not choose) or one entry repeats."""
    problems: list[Problem] = []
    owner_of: dict[str, Entry] = {}
    for entry in entries:
        seen_here: set[str] = set()
        for text in entry.phrasings:
            key = fold(text)
            if key in seen_here:
                problems.append(Problem(entry.file, entry.line,
                                        f"phrasing repeated within the entry: '{text}'", entry.id))
                continue
            seen_here.add(key)
            other = owner_of.get(key)
            if other is not None and other.id != entry.id:
                problems.append(Problem(
                    entry.file, entry.line,
                    f"phrasing '{text}' is also in entry {other.id} ({other.file}:{other.line})",
                    entry.id,
                ))
            else:
                owner_of[key] = entry
    return problems


def overlay(layers: Sequence[Sequence[Entry]]) -> list[Entry]:
    """The entries of every layer, a later layer's entry replacing an earlier one with its id.

    This is how a province changes a national answer: it writes an entry with
    the national id in its own folder, and the national one is no longer served.
    The replacement takes the place of the entry it replaces, so order is kept.
    """
    merged: dict[str, Entry] = {}
    for entries in layers:
        seen_in_layer: set[str] = set()
        for entry in entries:
            if entry.id in seen_in_layer:
                continue  # a duplicate within the layer: reported by _duplicate_ids
            seen_in_layer.add(entry.id)
            merged[entry.id] = entry  # a dict keeps the first position of a key
    return list(merged.values())


def load_systems(path: Path, problems: list[Problem]) -> dict[str, System]:
    """Read `systems.yaml`; a missing file just means no systems are known."""
    if not path.exists():
        return {}
    systems: dict[str, System] = {}
    for raw in _top_level(_read_yaml(path, problems), path, "systems", problems):
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            problems.append(Problem(str(path), 0, "each system needs an 'id'"))
            continue
        where = (str(path), raw.get(_LINE, 0), raw["id"])
        if raw["id"] in systems:
            problems.append(Problem(where[0], where[1], "duplicate system id", raw["id"]))
        systems[raw["id"]] = System(
            id=raw["id"],
            name=_text(raw, "name", where, problems, required=False),
            owner=_text(raw, "owner", where, problems, required=False),
            queue=_text(raw, "queue", where, problems, required=False),
            hotline=_text(raw, "hotline", where, problems, required=False),
            description=_text(raw, "description", where, problems, required=False),
        )
    return systems


def load_synonyms(path: Path, problems: list[Problem]) -> Synonyms:
    """Read `synonyms.yaml` into rewrite rules keyed by the accent-folded phrase."""
    if not path.exists():
        return Synonyms()
    raw = _read_yaml(path, problems)
    if raw is None or raw is _UNREADABLE:
        return Synonyms()
    if not isinstance(raw, dict):
        problems.append(Problem(str(path), 1, "expected a mapping"))
        return Synonyms()
    abbreviations: dict[str, tuple[str, ...]] = {}
    synonyms: dict[str, tuple[str, ...]] = {}

    def add(table: dict[str, tuple[str, ...]], source: Any, readings: Iterable[Any], line: int) -> None:
        if not isinstance(source, str | int) or not str(source).strip():
            problems.append(Problem(str(path), line, f"bad phrase {source!r}"))
            return
        texts = tuple(nfc(str(r)).strip() for r in readings if str(r).strip())
        key = nfc(str(source)).strip().lower()
        if not texts:
            problems.append(Problem(str(path), line, f"'{source}' has no reading"))
        elif key in table and table[key] != texts:
            problems.append(Problem(str(path), line, f"'{source}' is defined twice"))
        else:
            table[key] = texts

    section = raw.get("abbreviations") or {}
    if not isinstance(section, dict):
        problems.append(Problem(str(path), raw.get(_LINE, 1), "'abbreviations' must be a mapping"))
        section = {}
    line = section.get(_LINE, 0)
    for source, readings in section.items():
        if source != _LINE:
            add(abbreviations, source, readings if isinstance(readings, list) else [readings], line)
    groups = raw.get("synonyms") or []
    if not isinstance(groups, list):
        problems.append(Problem(str(path), raw.get(_LINE, 1), "'synonyms' must be a list of lists"))
        groups = []
    for group in groups:
        if not isinstance(group, list) or len(group) < 2:
            problems.append(Problem(str(path), 0, f"synonym group {group!r} needs two or more phrases"))
            continue
        for other in group[1:]:
            add(synonyms, other, [group[0]], 0)
    stop = raw.get("stopwords") or []
    if not isinstance(stop, list):
        problems.append(Problem(str(path), raw.get(_LINE, 1), "'stopwords' must be a list"))
        stop = []
    senses: list[tuple[str, str, str]] = []
    for rule in raw.get("senses") or []:
        parts = (rule.get("word"), rule.get("with"), rule.get("means")) if isinstance(rule, dict) else ()
        if len(parts) != 3 or not all(isinstance(x, str) and x.strip() for x in parts):
            line = rule.get(_LINE, 0) if isinstance(rule, dict) else 0
            problems.append(Problem(str(path), line, f"sense {rule!r} needs word, with and means"))
            continue
        senses.append(tuple(nfc(x).strip().lower() for x in parts))  # type: ignore[arg-type]
    return Synonyms(abbreviations, synonyms, frozenset(nfc(str(s)).lower() for s in stop), tuple(senses))


def _rendered_too_long(entries: Sequence[Entry], contacts: dict[str, Contact]) -> list[Problem]:
    """Answers that would pass the message limit once every contact placeholder is rendered.

    Measured with every value unfilled, the longest form: the sentence telling
    the official whom to ask is longer than any phone number.
    """
    from bot.knowledge.contacts import render, unfilled

    problems: list[Problem] = []
    for entry in entries:
        if "{contact:" not in entry.answer:
            continue
        longest = len(render(entry.answer, unfilled(contacts)))
        if longest > MAX_ANSWER_CHARS:
            problems.append(Problem(
                entry.file, entry.line,
                f"answer is {longest} characters once its contacts are rendered as 'whom to ask' "
                f"sentences; at most {MAX_ANSWER_CHARS} fit one message",
                entry.id,
            ))
    return problems


NATIONAL = "national"
PROVINCE = "province"


def layer_dirs(directory: Path) -> tuple[Path, ...]:
    """The folders a knowledge base is read from, national first, then the province.

    `knowledge/national/` holds what is the same in every province (procedures,
    national systems, the language); `knowledge/province/` holds this
    province's communes, owners, contacts and local entries, so another
    province adopts the bot by replacing that one folder. A folder with
    neither sub-folder is a knowledge base of one layer (a test fixture, or a
    single folder being checked).
    """
    found = tuple(d for d in (directory / NATIONAL, directory / PROVINCE) if d.is_dir())
    return found or (directory,)


def province_file(directory: Path, name: str) -> Path:
    """A province-only file (communes, contacts): in `province/`, or in a one-layer folder."""
    province = directory / PROVINCE
    return province / name if province.is_dir() or (directory / NATIONAL).is_dir() else directory / name


def _merge_systems(layers: Sequence[dict[str, System]]) -> dict[str, System]:
    """Systems of every layer; a later layer's non-empty fields replace an earlier one's."""
    merged: dict[str, System] = {}
    for systems in layers:
        for system_id, system in systems.items():
            base = merged.get(system_id)
            if base is None:
                merged[system_id] = system
                continue
            changes = {f.name: getattr(system, f.name) for f in dataclasses.fields(System)
                       if getattr(system, f.name)}
            merged[system_id] = dataclasses.replace(base, **changes)
    return merged


def _merge_synonyms(layers: Sequence[Synonyms]) -> Synonyms:
    """Synonym tables of every layer; a later layer's phrase replaces an earlier one's."""
    abbreviations: dict[str, tuple[str, ...]] = {}
    synonyms: dict[str, tuple[str, ...]] = {}
    stopwords: set[str] = set()
    senses: list[tuple[str, str, str]] = []
    for table in layers:
        abbreviations.update(table.abbreviations)
        synonyms.update(table.synonyms)
        stopwords |= table.stopwords
        senses += [s for s in table.senses if s not in senses]
    return Synonyms(abbreviations, synonyms, frozenset(stopwords), tuple(senses))


def load_knowledge(directory: Path, faq_files: Sequence[Path] | None = None,
                   strict: bool = True) -> KnowledgeBase:
    """Load the knowledge base; raise KnowledgeError listing every error found.

    Every layer (see `layer_dirs`) contributes its `faq/*.yaml`,
    `systems.yaml` and `synonyms.yaml`; a province entry with a national
    entry's id replaces it. `faq_files`, when given, replaces every layer's
    FAQ folder (the systems and synonym tables still come from the layers).
    With `strict=False` errors become warnings and whatever can be matched is
    kept (for `match`, which needs questions but not valid answers).
    """
    problems: list[Problem] = []
    layers = layer_dirs(directory)
    systems = _merge_systems([load_systems(d / "systems.yaml", problems) for d in layers])
    problems += [Problem(str(directory), 0, "no layer gives this system a 'name'", s.id)
                 for s in systems.values() if not s.name]
    synonyms = _merge_synonyms([load_synonyms(d / "synonyms.yaml", problems) for d in layers])
    if faq_files is not None:
        files_by_layer = [list(faq_files)]
    else:
        files_by_layer = [sorted((d / "faq").glob("*.yaml")) for d in layers]
    if not any(files_by_layer):
        where = layers[0] / "faq" if len(layers) == 1 else directory
        problems.append(Problem(str(where), 0, "no FAQ files (*.yaml) found"))
    entries_by_layer: list[list[Entry]] = []
    for files in files_by_layer:
        layer_entries = [entry for path in files for entry in parse_faq_file(path, problems)]
        problems += _duplicate_ids(layer_entries)
        entries_by_layer.append(layer_entries)
    entries = overlay(entries_by_layer)
    layer_ids = [{e.id for e in layer} for layer in entries_by_layer]
    overridden = tuple(sorted({i for n, ids in enumerate(layer_ids) for i in ids
                               if any(i in earlier for earlier in layer_ids[:n])}))
    problems += _shared_phrasings(entries)
    from bot.knowledge.contacts import load_contacts, placeholder_problems

    contacts = load_contacts(province_file(directory, "contacts.yaml"), problems)
    problems += [p for p in placeholder_problems(((e.answer, e.file, e.line, e.id) for e in entries), contacts)
                 if p.level == "error"]  # unfilled values are faq check's warnings (contact_warnings)
    problems += _rendered_too_long(entries, contacts)
    warnings = [
        Problem(e.file, e.line, f"unknown system '{e.system}' (not in systems.yaml)", e.id, "warning")
        for e in entries
        if e.system and systems and e.system not in systems
    ]
    warnings += [p for p in problems if p.level == "warning"]
    errors = [p for p in problems if p.level == "error"]
    if errors and strict:
        raise KnowledgeError(sorted(errors) + warnings)
    if errors:
        warnings = [dataclasses.replace(p, level="warning") for p in sorted(errors)] + warnings
        entries = [e for e in entries if any(text.strip() for text in e.phrasings)]
    return KnowledgeBase(tuple(entries), systems, synonyms, tuple(warnings), contacts, overridden)
