"""Loading the knowledge base: every mistake is reported with file, line and entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.knowledge.base import (
    MAX_ANSWER_CHARS,
    MAX_TITLE_CHARS,
    KnowledgeError,
    Problem,
    layer_dirs,
    load_knowledge,
    province_file,
)
from bot.knowledge.check import button_labels, check

REPO = Path(__file__).resolve().parent.parent

SYSTEMS = """\
version: 1
systems:
  - id: cks
    name: Chữ ký số chuyên dùng
    owner: Sở KH&CN
    queue: so-khcn
"""


def make_kb(tmp_path: Path, faq: str, systems: str = SYSTEMS, synonyms: str | None = None) -> Path:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "test.yaml").write_text(faq, encoding="utf-8")
    (tmp_path / "systems.yaml").write_text(systems, encoding="utf-8")
    if synonyms is not None:
        (tmp_path / "synonyms.yaml").write_text(synonyms, encoding="utf-8")
    return tmp_path


def problems(tmp_path: Path, faq: str, **kwargs: str) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(make_kb(tmp_path, faq, **kwargs))
    return [str(p) for p in info.value.problems]


GOOD = """\
version: 1
entries:
  - id: cks-token-khong-nhan
    system: cks
    question: Máy tính không nhận USB token
    variants: [Cắm token không thấy chứng thư]
    answer: Cắm sang cổng USB khác.
    tags: [token]
"""


def test_a_valid_file_loads_into_entries(tmp_path: Path) -> None:
    kb = load_knowledge(make_kb(tmp_path, GOOD))
    (entry,) = kb.entries
    assert (entry.id, entry.system, entry.question, entry.variants, entry.answer, entry.tags, entry.line) == (
        "cks-token-khong-nhan", "cks", "Máy tính không nhận USB token",
        ("Cắm token không thấy chứng thư",), "Cắm sang cổng USB khác.", ("token",), 3,
    )
    assert kb.systems["cks"].queue == "so-khcn"
    assert kb.warnings == ()


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    broken = GOOD.replace("    answer: Cắm sang cổng USB khác.", "    answer: [Cắm sang")
    assert problems(tmp_path, broken) == [
        f"{tmp_path / 'faq' / 'test.yaml'}:8: error: YAML syntax error: expected ',' or ']', but got ':'"
    ]


def test_missing_and_empty_fields_are_named_with_the_entry(tmp_path: Path) -> None:
    faq = """\
version: 1
entries:
  - id: a-1
    question: ""
    answer: Một câu trả lời.
  - id: a-2
    question: Câu hỏi hai
"""
    path = tmp_path / "faq" / "test.yaml"
    assert problems(tmp_path, faq) == [
        f"{path}:3: [a-1] error: 'question' is missing or empty",
        f"{path}:6: [a-2] error: 'answer' is missing or empty",
    ]


def test_missing_id_is_reported_at_its_line(tmp_path: Path) -> None:
    faq = "version: 1\nentries:\n  - question: Câu hỏi\n    answer: Trả lời\n"
    assert problems(tmp_path, faq) == [f"{tmp_path / 'faq' / 'test.yaml'}:3: error: 'id' is missing"]


def test_duplicate_ids_point_at_the_first_use(tmp_path: Path) -> None:
    faq = GOOD + """\
  - id: cks-token-khong-nhan
    question: Token bị khóa
    answer: Liên hệ đầu mối.
"""
    path = tmp_path / "faq" / "test.yaml"
    assert problems(tmp_path, faq) == [
        f"{path}:9: [cks-token-khong-nhan] error: duplicate id, first used at {path}:3"
    ]


def test_overlong_answer_is_refused(tmp_path: Path) -> None:
    faq = GOOD.replace("Cắm sang cổng USB khác.", "x" * (MAX_ANSWER_CHARS + 1))
    assert problems(tmp_path, faq) == [
        f"{tmp_path / 'faq' / 'test.yaml'}:3: [cks-token-khong-nhan] error: answer is 2001 "
        "characters; at most 2000 fit one message"
    ]


def test_variant_shared_by_two_entries_is_refused(tmp_path: Path) -> None:
    faq = GOOD + """\
  - id: cks-token-khoa
    question: Token bị khóa do sai PIN
    variants: [cắm token KHÔNG thấy chứng thư]
    answer: Liên hệ đầu mối.
"""
    path = tmp_path / "faq" / "test.yaml"
    assert problems(tmp_path, faq) == [
        f"{path}:9: [cks-token-khoa] error: phrasing 'cắm token KHÔNG thấy chứng thư' is also "
        f"in entry cks-token-khong-nhan ({path}:3)"
    ]


def test_bad_id_and_unknown_field_are_errors(tmp_path: Path) -> None:
    faq = GOOD.replace("id: cks-token-khong-nhan", "id: CKS_Token").replace("tags:", "tag:")
    path = tmp_path / "faq" / "test.yaml"
    assert problems(tmp_path, faq) == [
        f"{path}:3: [CKS_Token] error: id must be lower-case a-z, 0-9 and '-'",
        f"{path}:3: [CKS_Token] error: unknown field 'tag'",
    ]


def test_unknown_system_is_only_a_warning(tmp_path: Path) -> None:
    kb = load_knowledge(make_kb(tmp_path, GOOD.replace("system: cks", "system: khong-co")))
    assert kb.warnings == (
        Problem(str(tmp_path / "faq" / "test.yaml"), 3,
                "unknown system 'khong-co' (not in systems.yaml)", "cks-token-khong-nhan", "warning"),
    )


def test_wrong_version_and_shape_are_reported(tmp_path: Path) -> None:
    assert problems(tmp_path, "version: 2\nentries: {}\n") == [
        f"{tmp_path / 'faq' / 'test.yaml'}:1: error: 'entries' must be a list",
        f"{tmp_path / 'faq' / 'test.yaml'}:1: error: 'version: 1' is required",
    ]


def test_empty_faq_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(tmp_path)
    assert [p.message for p in info.value.problems] == ["no FAQ files (*.yaml) found"]


def test_synonym_table_reads_abbreviations_groups_and_stopwords(tmp_path: Path) -> None:
    synonyms = """\
version: 1
abbreviations:
  mk: mật khẩu
  cv: [công văn, công vụ]
synonyms:
  - [tra cứu, tìm lại]
stopwords: [ạ, nhé]
"""
    kb = load_knowledge(make_kb(tmp_path, GOOD, synonyms=synonyms))
    assert kb.synonyms.abbreviations == {"mk": ("mật khẩu",), "cv": ("công văn", "công vụ")}
    assert kb.synonyms.synonyms == {"tìm lại": ("tra cứu",)}
    assert kb.synonyms.stopwords == frozenset({"ạ", "nhé"})


def test_the_shipped_knowledge_base_loads_without_errors() -> None:
    kb = load_knowledge(Path(__file__).resolve().parent.parent / "knowledge")
    assert len(kb.entries) >= 80
    assert len({e.system for e in kb.entries}) >= 10
    assert all(e.system in kb.systems for e in kb.entries)


def test_the_shipped_entries_all_have_a_button_label_that_fits_and_is_their_own() -> None:
    kb = load_knowledge(Path(__file__).resolve().parent.parent / "knowledge")
    assert button_labels(kb) == []


LABELS = """\
version: 1
entries:
  - id: cks-token-khong-nhan
    system: cks
    question: Cắm USB token vào máy tính nhưng không nhận, báo không tìm thấy chứng thư số
    answer: Cắm sang cổng USB khác.
  - id: cks-token-bi-khoa
    system: cks
    question: Nhập sai mã PIN nhiều lần, token chữ ký số bị khóa
    title: Token ký số có vấn đề
    answer: Dừng ngay, không thử thêm.
  - id: cks-het-han
    system: cks
    question: Chứng thư số trên token đã hết hạn hoặc sắp hết hạn
    title: token  KÝ SỐ có vấn đề
    answer: Xem hạn chứng thư.
  - id: may-token
    question: Máy tính mới chưa nhận token chữ ký số của Ban Cơ yếu
    title: Token ký số có vấn đề
    answer: Cài driver token.
  - id: cks-doi-pin
    system: cks
    question: Đổi mã PIN của token chữ ký số
    answer: Mở phần mềm quản lý token.
"""


def test_a_long_question_without_a_title_and_a_label_shared_within_a_system_are_warned(tmp_path: Path) -> None:
    folder = make_kb(tmp_path, LABELS)
    faq = folder / "faq" / "test.yaml"
    warned = button_labels(load_knowledge(folder))
    assert [p for p in check(folder, None, load_config(REPO / "config.yaml").matcher) if "button" in p.message] == (
        warned)  # `faq check`, reloads and the FAQ editor all report them
    assert [str(p) for p in warned] == [
        f"{faq}:3: [cks-token-khong-nhan] warning: the question is 76 characters, longer than a button shows "
        f"({MAX_TITLE_CHARS}); add a short 'title' for the button",
        f"{faq}:12: [cks-het-han] warning: the button label 'token  KÝ SỐ có vấn đề' is also entry "
        "cks-token-bi-khoa's, in the same system; give one a different 'title' so officials can tell "
        "the two buttons apart",
    ]  # the same title in another system, and a short question without one, are fine


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_province_entry_replaces_the_national_entry_with_its_id(tmp_path: Path) -> None:
    write(tmp_path / "national" / "faq" / "cks.yaml", GOOD)
    write(tmp_path / "national" / "systems.yaml", SYSTEMS)
    province = GOOD.replace("Cắm sang cổng USB khác.", "Gọi đầu mối chứng thư số của tỉnh.")
    province_faq = write(tmp_path / "province" / "faq" / "cks.yaml", province)
    write(tmp_path / "province" / "systems.yaml",
          "version: 1\nsystems:\n  - id: cks\n    name: Chữ ký số\n    queue: tinh-cks\n")
    kb = load_knowledge(tmp_path)
    (entry,) = kb.entries
    assert (entry.answer, entry.file) == ("Gọi đầu mối chứng thư số của tỉnh.", str(province_faq))
    assert kb.overridden == ("cks-token-khong-nhan",)
    assert (kb.systems["cks"].name, kb.systems["cks"].owner, kb.systems["cks"].queue) == (
        "Chữ ký số", "Sở KH&CN", "tinh-cks")


def test_an_id_used_twice_within_one_layer_is_still_an_error(tmp_path: Path) -> None:
    write(tmp_path / "national" / "faq" / "a.yaml", GOOD)
    second = write(tmp_path / "national" / "faq" / "b.yaml", GOOD.replace("Máy tính không nhận USB token", "Khác"))
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{second}:3: [cks-token-khong-nhan] error: duplicate id, first used at "
        f"{tmp_path / 'national' / 'faq' / 'a.yaml'}:3",
    ]


def test_the_shipped_province_layer_holds_the_communes() -> None:
    knowledge = Path(__file__).resolve().parent.parent / "knowledge"
    assert province_file(knowledge, "communes.yaml") == knowledge / "province" / "communes.yaml"
    assert layer_dirs(knowledge) == (knowledge / "national", knowledge / "province")
    kb = load_knowledge(knowledge)
    assert kb.overridden == ("dvc-nop-ho-so-truc-tuyen",)  # Lào Cai: people of former Yên Bái communes
    assert "Yên Bái" in kb.entry("dvc-nop-ho-so-truc-tuyen").answer
