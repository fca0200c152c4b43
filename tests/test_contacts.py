"""Contacts are data: answers name them by placeholder, and a missing value says whom to ask."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from bot import messages as msg
from bot.knowledge.base import KnowledgeError, load_knowledge
from bot.knowledge.check import contact_warnings, reviews_due, unsourced_citations
from bot.knowledge.contacts import FIELDS, filled, placeholders, render, unfilled
from tests.harness import Bot, make_config

REPO = Path(__file__).resolve().parent.parent
SHIPPED = load_knowledge(REPO / "knowledge")


def sample_value(contact_id: str, name: str) -> str:
    return f"<{contact_id}.{name}>"


def test_every_placeholder_in_the_shipped_faq_renders_filled_and_unfilled() -> None:
    used = {(e.id, pair) for e in SHIPPED.entries for pair in placeholders(e.answer)}
    assert len({pair for _, pair in used}) >= 10  # the FAQ really uses the contacts file
    full = filled(SHIPPED.contacts, lambda c, f: sample_value(c.id, f))
    empty = unfilled(SHIPPED.contacts)
    for entry_id, (contact_id, name) in sorted(used):
        answer = SHIPPED.entry(entry_id).answer
        contact = SHIPPED.contacts[contact_id]
        with_values, without = render(answer, full), render(answer, empty)
        assert "{contact:" not in with_values and "{contact:" not in without, entry_id
        if name == "name":
            assert contact.name in with_values and contact.name in without
        else:
            assert sample_value(contact_id, name) in with_values, entry_id
            assert msg.CONTACT_UNFILLED.format(
                what=FIELDS[name], ask=contact.ask or msg.CONTACT_ASK_DEFAULT) in without, entry_id


@pytest.mark.parametrize("name", [*FIELDS, "name"])
def test_every_contact_renders_every_field_filled_and_unfilled(name: str) -> None:
    full = filled(SHIPPED.contacts, lambda c, f: sample_value(c.id, f))
    empty = unfilled(SHIPPED.contacts)
    for contact_id, contact in SHIPPED.contacts.items():
        text = f"Gọi {{contact:{contact_id}.{name}}}."
        if name == "name":
            assert render(text, full) == render(text, empty) == f"Gọi {contact.name}."
        else:
            assert render(text, full) == f"Gọi {sample_value(contact_id, name)}."
            assert render(text, empty) == "Gọi " + msg.CONTACT_UNFILLED.format(
                what=FIELDS[name], ask=contact.ask or msg.CONTACT_ASK_DEFAULT) + "."


def test_a_placeholder_alone_in_brackets_keeps_one_pair_of_brackets() -> None:
    text = "Gọi Sở ({contact:so-khcn.phone})."
    full = filled(SHIPPED.contacts, lambda c, f: "0214 000")
    assert render(text, full) == "Gọi Sở (0214 000)."
    ask = SHIPPED.contacts["so-khcn"].ask
    assert render(text, unfilled(SHIPPED.contacts)) == (
        "Gọi Sở " + msg.CONTACT_UNFILLED.format(what=FIELDS["phone"], ask=ask) + ".")
    assert render(text, unfilled(SHIPPED.contacts)).count("((") == 0


def test_a_filled_value_is_used_as_written() -> None:
    assert render("Tổng đài {contact:dvcqg.hotline}.", SHIPPED.contacts) == "Tổng đài 18001096."


def layered(tmp_path: Path, answer: str, contacts: str) -> Path:
    faq = tmp_path / "national" / "faq" / "a.yaml"
    faq.parent.mkdir(parents=True)
    faq.write_text(
        "version: 1\nentries:\n  - id: lien-he\n    question: Số điện thoại của Sở\n"
        f"    answer: {answer}\n", encoding="utf-8")
    (tmp_path / "province").mkdir()
    (tmp_path / "province" / "contacts.yaml").write_text(contacts, encoding="utf-8")
    return tmp_path


CONTACTS = """\
version: 1
contacts:
  - id: so-khcn
    name: Sở KH&CN
    phone: ""
    ask: Văn phòng xã
"""


def test_an_unknown_contact_or_field_is_an_error(tmp_path: Path) -> None:
    knowledge = layered(tmp_path, "Gọi {contact:so-kh.phone} hoặc {contact:so-khcn.fax}", CONTACTS)
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(knowledge)
    faq = tmp_path / "national" / "faq" / "a.yaml"
    assert [str(p) for p in info.value.problems] == [
        f"{faq}:3: [lien-he] error: unknown contact 'so-kh' in {{contact:so-kh.phone}}",
        f"{faq}:3: [lien-he] error: unknown contact field 'fax' in {{contact:so-khcn.fax}} "
        "(one of name, phone, hotline, email, web, address, hours)",
    ]


def test_an_unfilled_value_is_a_warning_at_the_contact_and_the_reply_says_whom_to_ask(tmp_path: Path) -> None:
    kb = load_knowledge(layered(tmp_path, "Gọi {contact:so-khcn.phone}", CONTACTS))
    contacts_file = tmp_path / "province" / "contacts.yaml"
    assert kb.warnings == ()  # loading (and so `match`) stays quiet; `faq check` warns
    assert [str(p) for p in contact_warnings(kb)] == [
        f"{contacts_file}:3: [so-khcn] warning: 'phone' is not filled in; 1 answer(s) tell the "
        "official to ask Văn phòng xã instead: lien-he",
    ]
    assert kb.render(kb.entries[0].answer) == "Gọi (số điện thoại chưa được cập nhật vào trợ lý; anh/chị hỏi Văn phòng xã)"
    filled_in = load_knowledge(layered(tmp_path / "b", "Gọi {contact:so-khcn.phone}",
                                       CONTACTS.replace('phone: ""', "phone: 0214 3 820 000")))
    assert contact_warnings(filled_in) == []
    assert filled_in.render(filled_in.entries[0].answer) == "Gọi 0214 3 820 000"


def test_a_knowledge_base_renders_an_answer_once_and_a_new_one_with_other_contacts_renders_afresh(
        tmp_path: Path) -> None:
    kb = load_knowledge(layered(tmp_path, "Gọi {contact:so-khcn.phone}", CONTACTS))
    answer = kb.entries[0].answer
    first = kb.render(answer)
    assert kb.render(answer) is first  # remembered, not rendered again
    assert kb.entry("lien-he") is kb.entries[0] and kb.entry("no-such-entry") is None
    filled_in = dataclasses.replace(kb, contacts=load_knowledge(layered(
        tmp_path / "b", "x", CONTACTS.replace('phone: ""', "phone: 0214 3 820 000"))).contacts)
    assert (kb.render(answer), filled_in.render(answer)) == (first, "Gọi 0214 3 820 000")


def test_the_bot_answers_who_to_call_from_the_contacts_file(tmp_path: Path) -> None:
    bot = Bot(make_config(tmp_path))
    reply = bot.send("an", "số điện thoại của Sở Tư pháp để hỏi phần mềm hộ tịch")[0]
    tu_phap = bot.services.faq.kb.contacts["so-tu-phap"]
    assert "{contact:" not in reply.text
    assert tu_phap.name in reply.text
    assert msg.CONTACT_UNFILLED.format(what=FIELDS["phone"], ask=tu_phap.ask) in reply.text


def test_answers_citing_a_decree_phone_or_date_need_a_source(tmp_path: Path) -> None:
    faq = tmp_path / "faq" / "a.yaml"
    faq.parent.mkdir()
    faq.write_text("""\
version: 1
entries:
  - id: co-nguon
    question: Hỏi một
    answer: Theo Nghị định 69/2024/NĐ-CP, gọi 1900.0368.
    source: Nghị định 69/2024/NĐ-CP ngày 25/6/2024
  - id: khong-nguon
    question: Hỏi hai
    answer: Từ 1/7/2025 theo Công văn 3160/BTP-CNTT, sai 3 lần thì khóa; gọi 18001096.
  - id: khong-so
    question: Hỏi ba
    answer: Khởi động lại máy.
""", encoding="utf-8")
    kb = load_knowledge(tmp_path)
    assert [str(p) for p in unsourced_citations(kb)] == [
        f"{faq}:7: [khong-nguon] warning: the answer cites a legal document, a phone number, a date, "
        "a count of attempts but the entry has no 'source'",
    ]


def test_reviews_due_lists_never_reviewed_then_oldest_reviewed(tmp_path: Path) -> None:
    faq = tmp_path / "faq" / "a.yaml"
    faq.parent.mkdir()
    faq.write_text("""\
version: 1
entries:
  - id: moi-xem
    question: Hỏi một
    answer: Một.
    reviewed: 2026-06-01 Trung tâm CNTT (Lan)
  - id: chua-xem
    question: Hỏi hai
    answer: Hai.
  - id: cu
    question: Hỏi ba
    answer: Ba.
    reviewed: 2025-01-10 Sở Tư pháp
""", encoding="utf-8")
    kb = load_knowledge(tmp_path)
    assert kb.entry("moi-xem").reviewed_on == date(2026, 6, 1)
    due = reviews_due(kb, today=date(2026, 11, 29))
    assert [(d.entry_id, d.reviewed, d.days) for d in due] == [
        ("chua-xem", "", None),
        ("cu", "2025-01-10 Sở Tư pháp", 688),
    ]


def test_reviewed_needs_a_date_and_who(tmp_path: Path) -> None:
    faq = tmp_path / "faq" / "a.yaml"
    faq.parent.mkdir()
    faq.write_text("version: 1\nentries:\n  - id: a\n    question: Hỏi\n    answer: Đáp.\n"
                   "    reviewed: 2026-11-29\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(tmp_path)
    assert [p.message for p in info.value.problems] == [
        "'reviewed' must be a date YYYY-MM-DD then who reviewed, e.g. \"2026-11-29 Trung tâm CNTT\"; "
        "got '2026-11-29'",
    ]
