"""The FAQ editor: edits go through `faq check`, keep the YAML as written, and can be reverted."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import messages as msg
from bot.config import MatcherConfig
from bot.knowledge.edits import EntryForm, FaqEditor
from bot.knowledge.live import Faq
from bot.store.schema import open_database
from tests.harness import REPO

NEW = EntryForm(
    id="mang-wifi-ubnd-yeu", system="mang",
    question="Wifi ở hội trường yếu, họp trực tuyến bị giật",
    variants=("sóng wifi phòng họp yếu quá",),
    answer="1. Đặt máy gần bộ phát wifi hoặc cắm dây mạng.\n2. Tắt các máy không dùng mạng.",
    tags=("wifi",))


@pytest.fixture()
def editor(tmp_path: Path) -> FaqEditor:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(REPO / "knowledge", knowledge)
    faq = Faq(knowledge, MatcherConfig())
    return FaqEditor(faq, lambda: open_database(tmp_path / "bot.sqlite"),
                     lambda: datetime(2026, 11, 29, 9, tzinfo=UTC))


def _file_texts(editor: FaqEditor) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in editor.faq.directory.rglob("*.yaml")}


def test_a_new_entry_is_checked_saved_in_the_province_layer_and_answered_at_once(editor: FaqEditor) -> None:
    result = editor.save(NEW, who="admin:lan")

    assert (result.ok, result.errors) == (True, {})
    saved = editor.faq.kb.entry(NEW.id)
    assert saved is not None and Path(saved.file).parts[-3:] == ("province", "faq", "mang.yaml")
    assert editor.faq.matcher.match("song wifi phong hop yeu qua").entry_id == NEW.id
    [edit] = editor.history()
    assert (edit["who"], edit["entry_id"], edit["action"]) == ("admin:lan", NEW.id, "create")
    assert "+  - id: mang-wifi-ubnd-yeu\n" in edit["diff"]


def test_changing_an_entry_touches_only_its_lines_and_keeps_comments_and_order(editor: FaqEditor) -> None:
    entry = editor.faq.kb.entry("mang-mat-internet")
    assert entry is not None
    path = Path(entry.file)
    before = path.read_text(encoding="utf-8")
    form = EntryForm.of(entry)

    result = editor.save(EntryForm(**{**form.__dict__, "variants": (*form.variants, "ca xa mat mang")}),
                         who="admin:lan", original_id=entry.id)

    after = path.read_text(encoding="utf-8")
    assert result.ok
    added = [l for l in after.splitlines() if l not in before.splitlines()]
    removed = [l for l in before.splitlines() if l not in after.splitlines()]
    assert (added, removed) == (["      - ca xa mat mang"], [])
    assert after.splitlines()[:2] == before.splitlines()[:2]  # the file's header comments


def test_a_title_is_written_beside_the_question_kept_on_edits_and_warned_of_when_missing(
        editor: FaqEditor) -> None:
    entry = editor.faq.kb.entry("mang-mat-internet")
    assert entry is not None
    path = Path(entry.file)
    before = path.read_text(encoding="utf-8")
    titled = editor.save(EntryForm(**{**EntryForm.of(entry).__dict__, "title": "Cả xã mất internet"}),
                         who="admin:lan", original_id=entry.id)
    after = path.read_text(encoding="utf-8")
    assert titled.ok and after == before.replace(
        "    question: Cả trụ sở xã mất mạng internet\n",
        "    question: Cả trụ sở xã mất mạng internet\n    title: Cả xã mất internet\n")
    kept = editor.faq.kb.entry("mang-cham-wifi-yeu")
    assert kept is not None and EntryForm.of(kept).title == "Mạng chậm, wifi chập chờn"  # the form carries it

    too_long = editor.save(EntryForm(**{**NEW.__dict__, "title": "x" * 41}), who="admin:lan")
    untitled = editor.save(NEW, who="admin:lan")
    assert (untitled.ok, untitled.warnings) == (True, [
        "the question is 45 characters, longer than a button shows (40); add a short 'title' for the button"])
    assert too_long.errors == {"title": ["title is 41 characters; at most 40"]}


def test_an_edit_with_an_error_is_refused_at_its_field_and_nothing_changes(editor: FaqEditor) -> None:
    files = _file_texts(editor)
    taken = editor.faq.kb.entry("mang-mat-internet").question  # type: ignore[union-attr]

    shared = editor.save(EntryForm(**{**NEW.__dict__, "variants": (taken,)}), who="admin:lan")
    empty = editor.save(EntryForm(**{**NEW.__dict__, "answer": ""}), who="admin:lan")
    clash = editor.save(EntryForm(**{**NEW.__dict__, "id": "mang-mat-internet"}), who="admin:lan")

    assert not shared.ok and list(shared.errors) == ["variants"]
    assert empty.errors == {"answer": [msg.FAQ_FIELD_EMPTY]}
    assert clash.errors == {"id": [msg.FAQ_ID_TAKEN.format(id="mang-mat-internet")]}
    assert _file_texts(editor) == files
    assert editor.faq.kb.entry(NEW.id) is None and editor.history() == []


def test_revert_puts_the_file_back_exactly_and_is_itself_recorded(editor: FaqEditor) -> None:
    files = _file_texts(editor)
    created = editor.save(NEW, who="admin:lan")

    reverted = editor.revert(created.edit_id, who="admin:minh")  # type: ignore[arg-type]

    assert reverted.ok
    assert _file_texts(editor) == files
    assert editor.faq.kb.entry(NEW.id) is None
    assert [(e["action"], e["who"]) for e in editor.history()] == [
        (f"revert #{created.edit_id}", "admin:minh"), ("create", "admin:lan")]


def test_a_revert_is_refused_when_a_later_edit_changed_the_same_file(editor: FaqEditor) -> None:
    first = editor.save(NEW, who="admin:lan")
    editor.add_variant(NEW.id, "wifi hoi truong yeu", who="admin:lan")

    refused = editor.revert(first.edit_id, who="admin:lan")  # type: ignore[arg-type]

    assert refused.errors == {"form": [msg.FAQ_CHANGED_SINCE.format(file="mang.yaml", edit=first.edit_id)]}
    assert editor.faq.kb.entry(NEW.id) is not None


def test_retiring_an_entry_removes_it_and_a_revert_brings_it_back(editor: FaqEditor) -> None:
    retired = editor.retire("mang-mat-internet", who="admin:lan")
    assert retired.ok and editor.faq.kb.entry("mang-mat-internet") is None

    assert editor.revert(retired.edit_id, who="admin:lan").ok  # type: ignore[arg-type]
    assert editor.faq.kb.entry("mang-mat-internet") is not None


def test_a_variant_that_is_not_a_question_is_refused_by_faq_check(editor: FaqEditor) -> None:
    for noise in ("🙏", "ạ ơi !!"):
        result = editor.add_variant("mang-mat-internet", noise, who="admin:lan")
        assert result.errors == {"variants": [f"variant '{noise}' is not a question: "
                                              "it has no word the matcher can use"]}


def test_a_variant_of_marked_words_that_fold_like_stopwords_is_a_question(editor: FaqEditor) -> None:
    """"chữ" and "đơ" fold to "chu" and "do", like the stopwords "chú" and "đó"; written
    with marks they are words, while the same letters typed bare may be either."""
    refused = editor.add_variant("mang-mat-internet", "chu bi do", who="admin:lan")
    accepted = editor.add_variant("mang-mat-internet", "Chữ bị đơ", who="admin:lan")
    assert (accepted.errors, refused.errors) == (
        {}, {"variants": ["variant 'chu bi do' is not a question: it has no word the matcher can use"]})
