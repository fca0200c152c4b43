"""The province's communes: the real list loads, and a name is found however it is typed."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from bot.knowledge.base import KnowledgeError
from bot.knowledge.communes import Commune, find_communes, load_communes

REPO = Path(__file__).resolve().parent.parent
COMMUNES = load_communes(REPO / "knowledge" / "province" / "communes.yaml")
BAT_XAT = Commune("xa-bat-xat", "Xã Bát Xát", "xa")
LAO_CAI = Commune("phuong-lao-cai", "Phường Lào Cai", "phuong")


def by_id(commune_id: str) -> Commune:
    return next(c for c in COMMUNES if c.id == commune_id)


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "communes.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_communes(path)
    return [str(p) for p in info.value.problems]


# -- loading ------------------------------------------------------------------


def test_the_real_file_lists_99_communes_with_unique_ids() -> None:
    assert (len(COMMUNES), len({c.id for c in COMMUNES})) == (99, 99)


def test_the_real_file_has_89_xa_and_10_phuong() -> None:
    kinds = [c.kind for c in COMMUNES]
    assert (kinds.count("xa"), kinds.count("phuong")) == (89, 10)


def test_communes_keep_their_file_order_and_marked_names() -> None:
    assert COMMUNES[:2] == (LAO_CAI, Commune("phuong-cam-duong", "Phường Cam Đường", "phuong"))


def test_a_broken_file_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    text = """\
version: 1
communes:
  - id: xa-bat-xat
    name: Xã Bát Xát
    kind: xa
  - id: xa-y-ty
    kind: xa
  - name: Xã Không Id
    kind: xa
  - id: xa-bat-xat
    name: Xã Bát Xát Mới
    kind: xa
  - id: thon-a
    name: Thôn A
    kind: thon
"""
    path = tmp_path / "communes.yaml"
    assert problems(tmp_path, text) == [
        f"{path}:6: [xa-y-ty] error: 'name' is missing or empty",
        f"{path}:8: error: 'id' is missing",
        f"{path}:10: [xa-bat-xat] error: duplicate id, first used at {path}:3",
        (f"{path}:13: [thon-a] error: kind must be one of xa, phuong, thi-tran, dac-khu, "
         "got 'thon'"),
    ]


def test_two_communes_of_one_kind_with_the_same_folded_name_are_refused(tmp_path: Path) -> None:
    text = """\
version: 1
communes:
  - {id: xa-bat-xat, name: Xã Bát Xát, kind: xa}
  - {id: xa-bat-xat-2, name: Xã Bat Xat, kind: xa}
"""
    path = tmp_path / "communes.yaml"
    assert problems(tmp_path, text) == [
        f"{path}:4: [xa-bat-xat-2] error: same name as xa-bat-xat ({path}:3): 'Xã Bat Xat'"
    ]


def test_a_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = "version: 1\ncommunes:\n  - id: xa-bat-xat\n    name: [Xã Bát Xát\n    kind: xa\n"
    path = tmp_path / "communes.yaml"
    assert problems(tmp_path, text) == [
        f"{path}:5: error: YAML syntax error: expected ',' or ']', but got ':'"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\ncommunes: []\n", ":1: error: 'version: 1' is required"),
        ("version: 1\ncommunes: {}\n", ":1: error: 'communes' must be a list"),
        ("version: 1\ncommunes: []\n", ": error: no communes listed"),
    ],
    ids=["version", "shape", "empty"],
)
def test_a_wrong_top_level_is_reported(tmp_path: Path, text: str, message: str) -> None:
    assert problems(tmp_path, text) == [f"{tmp_path / 'communes.yaml'}{message}"]


# -- finding --------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["bat xat", "Bát Xát", "xã bát xát", "x. Bát Xát", "Bat Xat", "batxat", "bát xat", "BÁT XÁT",
     "Xã Bát Xát", "X.Bát Xát", "xabatxat"],
)
def test_every_way_of_typing_an_exact_name_finds_just_that_commune(typed: str) -> None:
    assert find_communes(COMMUNES, typed) == [BAT_XAT]


@pytest.mark.parametrize(
    "typed", ["phuong lao cai", "p lao cai", "P. Lào Cai", "phường Lào Cai", "lao cai"]
)
def test_a_ward_is_found_with_or_without_its_prefix(typed: str) -> None:
    assert find_communes(COMMUNES, typed) == [LAO_CAI]


def test_decomposed_unicode_finds_the_same_commune() -> None:
    assert find_communes(COMMUNES, unicodedata.normalize("NFD", "Xã Bát Xát")) == [BAT_XAT]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("bat sat", "xa-bat-xat"),
        ("bat xta", "xa-bat-xat"),
        ("batsat", "xa-bat-xat"),
        ("xa bat xa", "xa-bat-xat"),
        ("mu cang chia", "xa-mu-cang-chai"),
        ("muong khuon", "xa-muong-khuong"),
        ("yen bay", "phuong-yen-bai"),
        ("cam duog", "phuong-cam-duong"),
    ],
)
def test_a_typo_still_puts_the_meant_commune_first(typed: str, expected: str) -> None:
    assert find_communes(COMMUNES, typed)[0] == by_id(expected)


def test_the_beginning_of_a_name_finds_it() -> None:
    assert find_communes(COMMUNES, "mu cang") == [by_id("xa-mu-cang-chai")]


def test_an_ambiguous_text_gives_candidates_best_first() -> None:
    assert [c.id for c in find_communes(COMMUNES, "lao cay")] == ["phuong-lao-cai", "xa-lao-chai"]


def test_whole_word_beginnings_rank_before_partial_ones() -> None:
    assert [c.id for c in find_communes(COMMUNES, "tan")][:2] == ["xa-tan-linh", "xa-tan-hop"]


def test_the_typed_kind_breaks_a_tie() -> None:
    found = [c.id for c in find_communes(COMMUNES, "xa lao")]
    assert found[:2] == ["xa-lao-chai", "phuong-lao-cai"]


def test_the_typed_kind_picks_between_exact_names_of_different_kinds() -> None:
    communes = (
        Commune("xa-sa-pa", "Xã Sa Pa", "xa"),
        Commune("phuong-sa-pa", "Phường Sa Pa", "phuong"),
    )
    assert (find_communes(communes, "p sa pa"), find_communes(communes, "sa pa")) == (
        [communes[1]], list(communes)
    )


def test_limit_caps_the_candidates() -> None:
    found = [c.id for c in find_communes(COMMUNES, "bao", limit=2)]
    assert found == ["xa-bao-nhai", "xa-bao-thang"]


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "xã", "?!", "qwerty", "ok", "máy in hỏng", "quên mật khẩu", "xin chào",
     "chữ ký số"],
)
def test_nonsense_finds_nothing(typed: str) -> None:
    assert find_communes(COMMUNES, typed) == []


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        find_communes(COMMUNES, "bat xat", limit=0)


def test_every_former_unit_of_the_resolution_is_an_alias_of_the_unit_it_became() -> None:
    lao_cai = next(c for c in COMMUNES if c.id == "phuong-lao-cai")
    assert lao_cai.aliases == ("phường Duyên Hải", "phường Cốc Lếu", "phường Kim Tân", "xã Vạn Hòa", "xã Bản Phiệt")
    assert sum(1 for c in COMMUNES if c.aliases) == 91  # the 91 arranged units; the 8 unchanged have none


@pytest.mark.parametrize(("typed", "names", "exact", "former"), [
    ("bat xat", ["Xã Bát Xát"], True, None),
    ("coc leu", ["Phường Lào Cai"], False, "phường Cốc Lếu"),  # a former ward, not Xã Cốc Lầu
    ("Yên Thế", ["Xã Lục Yên"], False, "thị trấn Yên Thế"),
    ("bat sat", ["Xã Bát Xát"], False, None),  # a slip of the finger is only a guess
    ("thanh binh", ["Xã Mường Khương", "Xã Bản Hồ"], False, None),  # two former xã Thanh Bình
    ("nam cuong", ["Phường Nam Cường", "Phường Cam Đường"], False, None),  # a current name and a former one
    ("quen mk", [], False, None),
])
def test_match_commune_says_when_a_match_must_be_confirmed(typed: str, names: list[str], exact: bool,
                                                          former: str | None) -> None:
    from bot.knowledge.communes import match_commune

    match = match_commune(COMMUNES, typed)
    assert ([c.name for c in match.candidates], match.exact, match.former) == (names, exact, former)
