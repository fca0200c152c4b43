"""Editing the FAQ from the console: create, change, retire an entry; every edit recorded and revertable.

The YAML files are the source of truth that admins and reviewers also read
and diff, so an edit must leave them as a person would: comments, key order,
block style and blank lines kept. ruamel.yaml's round-trip mode does that
(PyYAML throws comments away), so an edit touches only the keys it changes.

Every save follows one path:
1. the file's new text is built in memory and written;
2. the live FAQ reloads through `faq check` (`Faq.reload`); on any error the
   file is put back byte for byte, the old FAQ keeps serving, and the errors
   come back sorted by the form field they concern;
3. on success the edit is recorded in `faq_edits` (who, when, the file's
   text before and after, a unified diff), which is what "revert" replays.

A revert writes the recorded "before" text back only if the file is still
exactly as that edit left it; otherwise it refuses rather than undo someone
else's later change.
"""

from __future__ import annotations

import difflib
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString
from sqlite_utils import Database

from bot import messages as msg
from bot.knowledge.base import Entry, Problem, layer_dirs
from bot.knowledge.live import Faq

FIELDS = ("id", "system", "question", "title", "variants", "answer", "tags", "source", "reviewed")
ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,60}$")
_write_lock = threading.Lock()  # one edit of the files at a time, whichever thread runs it


@dataclass(frozen=True)
class EntryForm:
    """What the editor's form holds; lists are one item per line in the form."""

    id: str
    question: str
    answer: str
    system: str = ""
    title: str = ""  # the button label when the question is too long for one
    variants: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""
    reviewed: str = ""

    @classmethod
    def of(cls, entry: Entry) -> EntryForm:
        return cls(id=entry.id, question=entry.question, answer=entry.answer,
                   system=entry.system or "", title=entry.title, variants=entry.variants, tags=entry.tags,
                   source="\n".join(entry.source),  # a list of sources, one per line
                   reviewed=str(getattr(entry, "reviewed", "") or ""))

    @classmethod
    def from_fields(cls, data: dict[str, str]) -> EntryForm:
        def lines(key: str) -> tuple[str, ...]:
            return tuple(s.strip() for s in data.get(key, "").splitlines() if s.strip())
        return cls(id=data.get("id", "").strip(), question=data.get("question", "").strip(),
                   answer=data.get("answer", "").strip().replace("\r\n", "\n"),
                   system=data.get("system", "").strip(), title=data.get("title", "").strip(),
                   variants=lines("variants"),
                   tags=tuple(t.strip() for t in data.get("tags", "").replace("\n", ",").split(",")
                              if t.strip()),
                   source=data.get("source", "").strip(), reviewed=data.get("reviewed", "").strip())


@dataclass
class EditResult:
    ok: bool
    edit_id: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)  # form field -> messages
    warnings: list[str] = field(default_factory=list)


def field_of(problem: Problem) -> str:
    """Which form field a `faq check` problem is about (the message names it), else the whole form."""
    text = problem.message.lower()
    for name in ("variants", "variant", "phrasing", "answer", "title", "question", "system", "source",
                 "reviewed", "tags", "id"):
        if re.search(rf"\b{name}\b", text):
            return {"variant": "variants", "phrasing": "variants"}.get(name, name)
    return "form"


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments, order and layout survive
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long Vietnamese line
    yaml.preserve_quotes = True
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


NEW_FILE = "# Câu hỏi riêng của tỉnh, thêm từ trang quản trị (/admin/faq).\nversion: 1\nentries:\n"


def _entries(data: Any) -> CommentedSeq:
    if isinstance(data, CommentedMap) and data.get("entries") is None:
        data["entries"] = CommentedSeq()
    if isinstance(data, CommentedMap) and isinstance(data.get("entries"), CommentedSeq):
        return data["entries"]
    raise ValueError("the file has no 'entries' list")


def _apply(node: CommentedMap, form: EntryForm) -> None:
    """Set the form's values on an entry's mapping, keeping its key order and untouched keys."""
    values: dict[str, Any] = {
        "id": form.id, "system": form.system or None, "question": form.question,
        "title": form.title or None, "variants": list(form.variants) or None,
        "answer": LiteralScalarString(form.answer.rstrip("\n") + "\n"),
        "tags": list(form.tags) or None, "source": form.source or None,
        "reviewed": form.reviewed or None,
    }
    for key in FIELDS:
        value = values[key]
        if value is None:
            node.pop(key, None)
        elif isinstance(value, list):
            old = node.get(key)
            if isinstance(old, CommentedSeq) and list(old) == value:
                continue  # unchanged: keep its style (flow [a, b] or block) as written
            seq = CommentedSeq(value)
            if key == "tags" or (isinstance(old, CommentedSeq) and old.fa.flow_style()):
                seq.fa.set_flow_style()
            node[key] = seq
        elif key == "title" and key not in node and "question" in node:
            node.insert(list(node).index("question") + 1, key, value)  # beside the question it shortens
        elif node.get(key) != value:
            node[key] = value


def faq_files(directory: Path) -> list[Path]:
    return sorted(p for layer in layer_dirs(directory) for p in (layer / "faq").glob("*.yaml"))


def file_for_new_entry(directory: Path, system: str) -> Path:
    """A new entry is this province's own: `<last layer>/faq/<system>.yaml` (created if needed).

    The national layer is shared by every province and changes only through
    review; what an admin adds here stays in the province's folder.
    """
    return layer_dirs(directory)[-1] / "faq" / f"{system or 'khac'}.yaml"


class FaqEditor:
    """Create, change, retire and revert FAQ entries, through `faq check` and the live reload."""

    def __init__(self, faq: Faq, connect: Callable[[], Database], clock: Callable[[], datetime]) -> None:
        """`connect` opens a database connection: an edit checks and reloads the whole FAQ, which
        takes long enough that callers run it in a worker thread, where it needs its own connection."""
        self.faq = faq
        self.connect = connect
        self.clock = clock

    def _query(self, sql: str, params: list[Any]) -> list[tuple]:
        db = self.connect()
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.conn.close()

    # -- writing --------------------------------------------------------------------

    def save(self, form: EntryForm, who: str, original_id: str | None = None) -> EditResult:
        """Create (original_id None) or change an entry. Runs `faq check`; refuses with field errors."""
        errors = self._form_errors(form, original_id)
        if errors:
            return EditResult(False, errors=errors)
        existing = self.faq.kb.entry(original_id) if original_id else None
        if original_id and existing is None:
            return EditResult(False, errors={"form": [msg.FAQ_ENTRY_GONE.format(id=original_id)]})
        path = Path(existing.file) if existing else file_for_new_entry(self.faq.directory, form.system)
        action = "edit" if existing else "create"

        def change(entries: CommentedSeq) -> None:
            if existing is None:
                node = CommentedMap()
                _apply(node, form)
                entries.append(node)
                return
            _apply(self._find(entries, existing.id), form)
        return self._write(path, change, who, form.id, action)

    def retire(self, entry_id: str, who: str) -> EditResult:
        """Remove an entry from its file (the edit keeps its text, so a revert brings it back)."""
        entry = self.faq.kb.entry(entry_id)
        if entry is None:
            return EditResult(False, errors={"form": [msg.FAQ_ENTRY_GONE.format(id=entry_id)]})

        def change(entries: CommentedSeq) -> None:
            entries.remove(self._find(entries, entry_id))
        return self._write(Path(entry.file), change, who, entry_id, "retire")

    def add_variant(self, entry_id: str, text: str, who: str) -> EditResult:
        entry = self.faq.kb.entry(entry_id)
        if entry is None:
            return EditResult(False, errors={"form": [msg.FAQ_ENTRY_GONE.format(id=entry_id)]})
        form = EntryForm.of(entry)
        return self.save(EntryForm(**{**form.__dict__, "variants": (*form.variants, text.strip())}),
                         who, entry_id)

    def revert(self, edit_id: int, who: str) -> EditResult:
        rows = self._query("select file, entry_id, before, after from faq_edits where id = ?", [edit_id])
        row = rows[0] if rows else None
        if row is None:
            return EditResult(False, errors={"form": [msg.FAQ_EDIT_GONE.format(edit=edit_id)]})
        file, entry_id, before, after = row
        path = Path(file)
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != after:
            return EditResult(False, errors={"form": [
                msg.FAQ_CHANGED_SINCE.format(file=path.name, edit=edit_id)]})
        return self._commit(path, current, before, who, entry_id, f"revert #{edit_id}")

    # -- reading ----------------------------------------------------------------------

    def history(self, limit: int = 50, before_id: int | None = None,
                entry_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded edits, newest first, a page at a time (keyset on id)."""
        where, params = [], []
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        if entry_id:
            where.append("entry_id = ?")
            params.append(entry_id)
        sql = ("select id, at, who, entry_id, action, file, diff from faq_edits"
               + (" where " + " and ".join(where) if where else "") + " order by id desc limit ?")
        names = ["id", "at", "who", "entry_id", "action", "file", "diff"]
        return [dict(zip(names, r, strict=True)) for r in self._query(sql, [*params, limit])]

    # -- plumbing ---------------------------------------------------------------------

    def _form_errors(self, form: EntryForm, original_id: str | None) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not ID.match(form.id):
            errors["id"] = [msg.FAQ_ID_INVALID]
        elif form.id != original_id and self.faq.kb.entry(form.id) is not None:
            errors["id"] = [msg.FAQ_ID_TAKEN.format(id=form.id)]
        if form.system and form.system not in self.faq.kb.systems:
            errors["system"] = [msg.FAQ_SYSTEM_UNKNOWN.format(system=form.system)]
        for name in ("question", "answer"):
            if not getattr(form, name):
                errors[name] = [msg.FAQ_FIELD_EMPTY]
        return errors

    @staticmethod
    def _find(entries: CommentedSeq, entry_id: str) -> CommentedMap:
        for node in entries:
            if isinstance(node, CommentedMap) and node.get("id") == entry_id:
                return node
        raise KeyError(entry_id)

    def _write(self, path: Path, change: Callable[[CommentedSeq], None], who: str,
               entry_id: str, action: str) -> EditResult:
        yaml = _yaml()
        before = path.read_text(encoding="utf-8") if path.exists() else NEW_FILE
        data = yaml.load(before)
        change(_entries(data))
        return self._commit(path, before if path.exists() else "", _dump(yaml, data), who, entry_id, action)

    def _commit(self, path: Path, before: str, after: str, who: str, entry_id: str,
                action: str) -> EditResult:
        with _write_lock:
            existed = path.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            if after:
                path.write_text(after, encoding="utf-8")
            else:  # reverting the edit that created the file
                path.unlink()
            ok, problems = self.faq.reload()
            if not ok:
                if existed:
                    path.write_text(before, encoding="utf-8")
                elif path.exists():
                    path.unlink()
                errors: dict[str, list[str]] = {}
                for p in problems:
                    if p.level == "error" and (p.entry in (None, entry_id) or p.file == str(path)):
                        errors.setdefault(field_of(p), []).append(p.message)
                return EditResult(False, errors=errors or {"form": [str(p) for p in problems
                                                                   if p.level == "error"]})
            diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                f"a/{path.name}", f"b/{path.name}"))
            db = self.connect()
            try:
                with db.conn:
                    db.execute("BEGIN IMMEDIATE")
                    cursor = db.execute(
                        "insert into faq_edits (at, who, entry_id, action, file, before, after, diff) "
                        "values (?, ?, ?, ?, ?, ?, ?, ?)",
                        [self.clock().isoformat(), who, entry_id, action, str(path), before, after, diff])
            finally:
                db.conn.close()
            warnings = [p.message for p in problems if p.level == "warning" and p.entry == entry_id]
            return EditResult(True, edit_id=cursor.lastrowid, warnings=warnings)
