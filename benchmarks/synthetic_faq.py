"""Synthetic Vietnamese FAQs of any size, and realistic queries against them, for benchmarks.

Entries are built by recombining the vocabulary of the real FAQ phrasings (the
shared dev FAQ and ``knowledge/faq/*.yaml``): an action ("đổi", "in lại", "tra
cứu") applied to an object ("mật khẩu tài khoản cán bộ", "phiếu hẹn trả kết
quả"), with a circumstance ("sau khi sáp nhập xã", "cho người dân") and the system
where it happens ("trên phần mềm một cửa"); or a problem: a subject ("máy in",
"token ký số") with a symptom ("không nhận", "báo lỗi") in a context ("khi họp
trực tuyến"). The base lexicon below was written from the dev FAQ and the domain
notes; the real FAQ files add their own actions, objects and qualifiers on top, so
the output depends on (seed, N, the source files). Everything is seeded: the same
inputs give the same FAQ and the same queries.

Library use::

    entries = generate_entries(1000, seed=0)
    kb = synthetic_kb(entries)                      # with the real synonym table
    queries = generate_queries(entries, 600, seed=1, synonyms=kb.synonyms)

Command line (from the repo root)::

    python benchmarks/synthetic_faq.py --n 1000 --out /tmp/faq1000.yaml --queries /tmp/q1000.tsv

The YAML is in the project schema: it loads with no schema error, though
``python -m bot faq check`` reports some near-duplicate entries as confusable
(about 40 per 1,000). The TSV has the dev set's columns (expected, kind, query).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import yaml

from bot.knowledge.base import (
    Entry,
    KnowledgeBase,
    KnowledgeError,
    Problem,
    Synonyms,
    layer_dirs,
    load_knowledge,
    load_synonyms,
    parse_faq_file,
)
from bot.language.text import fold

DEFAULT_EVAL_DIR = REPO.parent / "shared" / "eval"
DEFAULT_KNOWLEDGE = REPO / "knowledge"

# ---------------------------------------------------------------------------
# Base lexicon (from the dev FAQ's phrasings and the domain notes)
# ---------------------------------------------------------------------------

# System id (as in knowledge/systems.yaml) -> how officials name it after "trên".
SYSTEMS: dict[str, tuple[str, ...]] = {
    "motcua": ("phần mềm một cửa", "hệ thống một cửa điện tử", "một cửa liên thông"),
    "dvc": ("cổng dịch vụ công", "dịch vụ công trực tuyến", "cổng dịch vụ công quốc gia",
            "nền tảng thanh toán trực tuyến"),
    "cks": ("công cụ ký số", "phần mềm ký số của Ban Cơ yếu"),
    "eoffice": ("phần mềm quản lý văn bản", "hệ thống quản lý văn bản và điều hành", "iOffice"),
    "email": ("thư công vụ", "hộp thư công vụ của tỉnh"),
    "hop": ("phần mềm họp trực tuyến", "hệ thống hội nghị truyền hình"),
    "vneid": ("ứng dụng VNeID", "VNeID", "cơ sở dữ liệu dân cư"),
    "hotich": ("phần mềm hộ tịch điện tử", "hệ thống hộ tịch dùng chung"),
    "mang": ("mạng nội bộ", "mạng truyền số liệu chuyên dùng"),
    "may": ("máy tính cơ quan", "máy tính văn phòng"),
    "baocao": ("phần mềm báo cáo", "hệ thống thông tin báo cáo"),
    "attt": ("máy tính cơ quan", "hệ thống an toàn thông tin"),
}

# Object categories: the systems they live in, and the objects (noun phrases).
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "taikhoan": (("motcua", "dvc", "eoffice", "email", "vneid", "hotich", "baocao"), (
        "mật khẩu", "mật khẩu tài khoản cán bộ", "tài khoản đăng nhập", "tài khoản cán bộ",
        "mã OTP", "số điện thoại nhận OTP", "quyền truy cập", "tài khoản bị khóa",
        "thông tin cá nhân", "chức danh cán bộ", "đơn vị công tác", "tài khoản văn thư",
        "tài khoản lãnh đạo", "email khôi phục",
    )),
    "hoso": (("motcua", "dvc"), (
        "hồ sơ", "hồ sơ trực tuyến", "hồ sơ trực tiếp", "hồ sơ quá hạn", "hồ sơ trễ hạn",
        "hồ sơ liên thông", "hồ sơ bị treo", "thành phần hồ sơ", "phiếu hẹn trả kết quả",
        "giấy tiếp nhận hồ sơ", "phiếu biên nhận", "phiếu xin lỗi và hẹn lại", "phiếu kiểm soát",
        "kết quả giải quyết", "kết quả điện tử", "mã hồ sơ", "nhật ký xử lý hồ sơ",
        "quy trình thủ tục hành chính", "thủ tục hành chính của xã", "phí lệ phí",
        "biên lai điện tử", "hồ sơ chuyển nhầm người", "hồ sơ bổ sung",
    )),
    "vanban": (("eoffice",), (
        "văn bản đến", "văn bản đi", "công văn", "dự thảo văn bản", "sổ văn bản đi",
        "số ký hiệu văn bản", "văn bản điều hành", "văn bản từ trục liên thông quốc gia",
        "văn bản chuyển nhầm", "hồ sơ công việc", "phiếu trình", "văn bản đã ký số",
        "ý kiến chỉ đạo", "lịch công tác tuần",
    )),
    "kyso": (("cks", "eoffice", "motcua"), (
        "chữ ký số", "chứng thư số", "token ký số", "mã PIN token", "tiện ích ký số",
        "chữ ký số cá nhân", "chữ ký số tổ chức", "ký số từ xa", "chứng thư số hết hạn",
        "driver token", "chứng thư gốc", "chữ ký số trên điện thoại", "chữ ký trên file PDF",
    )),
    "hotich": (("hotich",), (
        "khai sinh", "khai tử", "đăng ký kết hôn", "trích lục khai sinh", "trích lục khai tử",
        "bản sao trích lục hộ tịch", "sổ hộ tịch", "giấy xác nhận tình trạng hôn nhân",
        "dữ liệu hộ tịch cũ", "số định danh cá nhân cho trẻ", "thay đổi cải chính hộ tịch",
        "sổ hộ tịch giấy",
    )),
    "dinhdanh": (("vneid", "dvc"), (
        "tài khoản định danh điện tử", "định danh mức 2", "giấy phép lái xe",
        "thẻ bảo hiểm y tế", "căn cước công dân", "thông tin cư trú", "ví giấy tờ VNeID",
        "số định danh cá nhân", "thông tin công dân", "dữ liệu dân cư sai lệch",
    )),
    "thanhtoan": (("dvc",), (
        "phí hồ sơ trực tuyến", "lệ phí hộ tịch", "giao dịch thanh toán", "biên lai thu phí",
        "mã giao dịch", "khoản phí đã nộp",
    )),
    "email": (("email",), (
        "thư công vụ", "hộp thư công vụ", "tệp đính kèm dung lượng lớn", "thư rác",
        "thư giả mạo", "chữ ký cuối thư", "danh bạ thư", "thư đã xóa", "hộp thư đầy",
    )),
    "hop": (("hop",), (
        "cuộc họp trực tuyến", "lịch họp trực tuyến", "điểm cầu", "tài liệu họp",
        "màn hình trình chiếu", "đường truyền hội nghị truyền hình", "micro điểm cầu",
        "camera điểm cầu", "phòng họp trực tuyến", "biên bản họp",
    )),
    "thietbi": (("may", "attt"), (
        "máy in", "máy quét", "máy tính", "bộ lưu điện", "ổ cứng", "bàn phím", "chuột",
        "loa", "màn hình", "máy photocopy", "đầu đọc thẻ", "USB",
    )),
    "phanmem": (("may", "attt"), (
        "phần mềm diệt virus", "bộ gõ Unikey", "font chữ tiếng Việt", "trình duyệt Chrome",
        "bản vá Windows", "Microsoft Office", "phần mềm đọc PDF", "UltraViewer",
        "phần mềm phòng chống mã độc", "Windows",
    )),
    "mang": (("mang",), (
        "địa chỉ IP", "mạng wifi", "mạng LAN", "đường truyền số liệu chuyên dùng",
        "kết nối mạng", "máy chủ DNS", "modem", "cổng mạng",
    )),
    "baocao": (("baocao", "motcua"), (
        "báo cáo thống kê", "số liệu hồ sơ đúng hạn",
        "báo cáo tình hình giải quyết thủ tục hành chính",
        "biểu mẫu báo cáo", "chỉ số phục vụ người dân", "báo cáo số hóa", "báo cáo tháng",
    )),
}

# Actions: (canonical, alternates) and the categories they apply to.
ACTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("đổi", ("thay đổi", "thay"), ("taikhoan", "kyso", "email")),
    ("lấy lại", ("khôi phục", "cấp lại"), ("taikhoan", "kyso", "email", "vanban", "hoso")),
    ("cài đặt", ("cài",), ("kyso", "phanmem", "email", "hop")),
    ("cập nhật", ("sửa",), ("taikhoan", "dinhdanh", "phanmem", "hotich", "hoso")),
    ("tìm", ("tra cứu", "tìm kiếm", "tìm lại"),
     ("hoso", "vanban", "hotich", "dinhdanh", "thanhtoan", "email")),
    ("in", ("in lại",), ("hoso", "hotich", "vanban", "baocao", "thanhtoan")),
    ("tiếp nhận", ("nhận",), ("hoso", "vanban")),
    ("chuyển", ("gửi",), ("hoso", "vanban", "email", "baocao")),
    ("thu hồi", ("rút lại",), ("hoso", "vanban")),
    ("từ chối", ("trả lại",), ("hoso",)),
    ("yêu cầu bổ sung", ("đề nghị bổ sung",), ("hoso",)),
    ("ký số", ("ký",), ("hoso", "vanban", "hotich", "baocao")),
    ("gia hạn", ("làm lại",), ("kyso",)),
    ("đề nghị cấp mới", ("xin cấp",), ("kyso", "taikhoan")),
    ("kiểm tra", ("xác minh",), ("kyso", "thanhtoan", "dinhdanh", "mang", "thietbi")),
    ("xuất", ("kết xuất",), ("baocao", "hoso")),
    ("xem", ("theo dõi",), ("baocao", "hoso", "vanban", "hop")),
    ("số hóa", ("scan",), ("hoso", "hotich")),
    ("đính kèm", ("tải lên",), ("hoso", "vanban", "email")),
    ("tải về", ("tải xuống",), ("hoso", "vanban", "email", "baocao", "phanmem")),
    ("xóa", ("hủy",), ("hoso", "vanban", "email", "taikhoan")),
    ("phân quyền", ("cấp quyền",), ("taikhoan", "vanban")),
    ("kích hoạt", ("mở khóa",), ("taikhoan", "dinhdanh", "kyso")),
    ("tích hợp", ("thêm",), ("dinhdanh",)),
    ("đồng bộ", ("liên thông",), ("hoso", "hotich", "dinhdanh")),
    ("đăng ký", ("làm thủ tục",), ("hotich", "dinhdanh")),
    ("cấu hình", ("thiết lập",), ("mang", "email", "hop", "thietbi")),
    ("kết nối", ("nối",), ("mang", "thietbi", "hop")),
    ("chia sẻ", ("trình chiếu",), ("hop",)),
    ("tạo", ("lập",), ("hop", "vanban", "baocao", "email")),
    ("thanh toán", ("nộp",), ("thanhtoan",)),
    ("đối soát", ("đối chiếu",), ("thanhtoan",)),
    ("sao lưu", ("lưu dự phòng",), ("email", "vanban", "phanmem")),
    ("gỡ", ("gỡ bỏ",), ("phanmem",)),
)

# Circumstances (who for, when, how), appended after the object.
CIRCUMSTANCES: tuple[str, ...] = (
    "cho người dân", "cho công dân", "cho cán bộ mới", "cho lãnh đạo xã", "cho văn thư",
    "của xã", "của cán bộ đã nghỉ việc", "sau khi sáp nhập xã", "khi hồ sơ sắp quá hạn",
    "khi quên mật khẩu", "trên điện thoại", "trên máy tính", "bằng điện thoại di động",
    "lần đầu", "theo mẫu mới", "trong năm nay", "của tháng trước", "theo mã hồ sơ",
    "theo tên người nộp", "khi chuyển đơn vị công tác", "ngoài giờ hành chính",
    "khi mất mạng", "cho xã mới", "của người dân ở xã khác", "qua thư công vụ",
    "không cần bản giấy", "khi đổi điện thoại",
)

# Problem entries: subjects (with their system), symptoms and contexts.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("máy in", "may"), ("máy quét", "may"), ("máy tính", "may"), ("camera", "hop"),
    ("micro", "hop"), ("loa", "hop"), ("token ký số", "cks"), ("tiện ích ký số", "cks"),
    ("phần mềm một cửa", "motcua"), ("cổng dịch vụ công", "dvc"), ("ứng dụng VNeID", "vneid"),
    ("phần mềm hộ tịch", "hotich"), ("thư công vụ", "email"), ("mạng wifi", "mang"),
    ("mạng nội bộ", "mang"), ("trang web của tỉnh", "mang"), ("bộ gõ tiếng Việt", "may"),
    ("phần mềm quản lý văn bản", "eoffice"), ("trình duyệt", "may"), ("bộ lưu điện", "may"),
    ("màn hình", "may"), ("điểm cầu", "hop"), ("đường truyền", "mang"), ("mã OTP", "vneid"),
)
SYMPTOMS: tuple[str, ...] = (
    "không hoạt động", "báo lỗi", "không nhận", "bị treo", "chạy rất chậm", "không kết nối được",
    "bị mất tín hiệu", "không lên hình", "không có tiếng", "không vào được", "bị đen màn hình",
    "báo hết hạn", "không đăng nhập được", "bị khóa", "không đồng bộ", "báo sai mật khẩu",
    "tự khởi động lại", "không in được", "bị lỗi font", "không tải được tệp",
)
CONTEXTS: tuple[str, ...] = (
    "khi họp trực tuyến", "khi ký số kết quả", "khi in phiếu hẹn", "khi tiếp nhận hồ sơ",
    "khi gửi văn bản", "sau khi cập nhật Windows", "sau khi đổi mật khẩu", "vào buổi sáng",
    "khi mở file PDF", "khi đăng nhập", "khi tải hồ sơ lên", "sau khi mất điện",
    "khi người dân nộp hồ sơ", "khi xuất báo cáo", "khi kết nối với máy tính", "ở bộ phận một cửa",
    "sau khi sáp nhập xã", "khi dùng điện thoại",
)

# Answer steps used when no real FAQ answers are available to borrow steps from.
BASE_STEPS = (
    "Đăng nhập hệ thống bằng tài khoản được cấp cho xã.",
    "Vào mục Nghiệp vụ, chọn đúng thủ tục hoặc loại hồ sơ cần xử lý.",
    "Nhập đủ các trường bắt buộc, kiểm tra lại thông tin rồi bấm \"Lưu\".",
    "Đính kèm tệp PDF dưới 10MB, ký số nếu có yêu cầu, rồi bấm \"Gửi\".",
    "Kiểm tra dây cáp, nguồn điện và kết nối mạng; khởi động lại thiết bị.",
    "Xóa bộ nhớ đệm trình duyệt hoặc thử trình duyệt khác.",
    "Chọn người xử lý tiếp theo và ghi ý kiến trước khi chuyển.",
    "Xem trạng thái \"đã gửi\" để chắc chắn thao tác đã hoàn tất.",
    "Không thấy chức năng này thì hỏi quản trị hệ thống của tỉnh để được phân quyền.",
)
BASE_CLOSINGS = (
    ("Nếu vẫn không được: bấm \"Gặp kỹ thuật viên\" để tạo yêu cầu hỗ trợ, "
    "gửi kèm ảnh chụp màn hình."),
)

_HOWTO_FORMS = (
    "Làm thế nào để {a} {o}", "Cách {a} {o}", "Hướng dẫn {a} {o}", "{A} {o} như thế nào",
    "Muốn {a} {o} thì làm sao", "{A} {o} ở đâu", "Không biết {a} {o}",
)
_PROBLEM_FORMS = (
    "{S} bị {y}", "Lỗi {s} {y}", "{S} {y} phải làm sao", "Sửa lỗi {s} {y}", "{S} cứ {y}",
)

# Out-of-scope questions: fixed sentences plus recombined ones.
OOS_SENTENCES: tuple[str, ...] = (
    "thời tiết ngày mai thế nào", "giá vàng hôm nay bao nhiêu", "lịch nghỉ lễ quốc khánh",
    "cách nấu phở bò", "tỷ số trận bóng tối qua", "xin chào bot", "cảm ơn nhiều nhé", "ok",
    "alo", "???", "thủ tục chuyển nhượng quyền sử dụng đất", "mức lương cơ sở năm nay",
    "chế độ phụ cấp cho cán bộ không chuyên trách", "lịch tiêm phòng cho trẻ",
    "đường lên bản bị sạt lở", "cách chăm sóc cây chè", "giá phân bón tăng",
    "xe công bị hỏng phanh", "mua máy tính mới hãng nào tốt", "học bổng cho con em",
    "bao giờ có lương tháng này", "điều hòa phòng họp không mát", "nước sinh hoạt bị đục",
    "tiêu chuẩn thi đua khen thưởng cuối năm", "tổ chức đại hội chi bộ", "asdfgh",
    "cho hỏi số điện thoại của trạm y tế", "quy định về trang phục công sở",
    "kế hoạch trồng rừng năm sau", "phòng chống dịch tả lợn châu Phi",
)
_OOS_TOPICS = ("giá lúa", "giá xăng", "giá heo hơi", "thời tiết", "lịch trực", "kết quả xổ số",
               "lịch cắt điện", "tình hình mưa lũ", "lịch tiếp công dân", "điểm thi")
_OOS_TIMES = ("hôm nay", "ngày mai", "tuần này", "tháng này", "cuối tuần", "năm nay")
_OOS_PLACES = ("", " ở huyện", " ở thị trấn", " ở thôn", " trong xã", " ở tỉnh")

# Chat wrappers for long questions.
_LONG_FORMS = (
    "em chào anh chị, {q} thì làm thế nào ạ",
    "cho em hỏi {q} với ạ, em làm mãi không được",
    "anh ơi hôm nay em cần {q} gấp mà không biết làm sao",
    "xin hỏi bộ phận kỹ thuật, {q} như thế nào, em cảm ơn",
    "chị ơi em mới làm ở xã, muốn {q} thì vào đâu ạ",
    "sáng nay có người dân đến, em phải {q} nhưng chưa biết cách, nhờ mọi người giúp",
)
_SHORT_PREFIXES = ("", "", "", "cho hỏi ", "hỏi ", "ai biết ")
_SHORT_SUFFIXES = ("", "", "", " ạ", " với", " ntn", "?")

# Abbreviations typed by officials, used when no synonym table is given.
FALLBACK_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "mật khẩu": ("mk", "pass"), "tài khoản": ("tk",), "hồ sơ": ("hs",), "văn bản": ("vb",),
    "chữ ký số": ("cks",), "phần mềm": ("pm",), "một cửa": ("mc",), "không": ("k", "ko"),
    "được": ("đc", "dc"), "như thế nào": ("ntn",), "điện thoại": ("đt",), "cán bộ": ("cb",),
    "dịch vụ công": ("dvc",), "kết quả": ("kq",), "căn cước công dân": ("cccd",),
}

_PREPOSITIONS = ("trên", "cho", "khi", "vào", "qua", "từ", "theo", "sang", "của", "bằng",
                 "trong", "sau", "tại", "ở", "với")
_PROBLEM_MARKERS = ("không", "bị")
_CONTEXT_STARTS = ("khi", "sau", "trên", "trong", "lúc", "ở", "tại", "qua", "bằng", "từ")
# Words a well-formed harvested fragment does not start or end with.
_FUNCTION_WORDS = frozenset((
    "và", "hoặc", "để", "thì", "là", "mà", "vẫn", "đã", "nhưng", "được", "mãi", "mỗi", "lại",
    "nào", "không", "bị", "rồi", "các", "những", "của", "cho", "khi", "với", "thế", "gì", "đâu",
    "nghi", "ra", "phép", "ta", "tôi", "mình", "biết", "rõ", "báo", "chuẩn",
))


# ---------------------------------------------------------------------------
# Harvesting the real FAQ phrasings
# ---------------------------------------------------------------------------


@dataclass
class Lexicon:
    """The vocabulary entries are built from: the base lists plus what the real FAQs add."""

    pairs: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]]  # action, alts, object, systems
    circumstances: list[str]
    subjects: list[tuple[str, str]]
    symptoms: list[str]
    contexts: list[str]
    steps: list[str]  # answer steps, harvested from the real answers
    closings: list[str]  # the "still not working: ..." lines answers end with
    sources: list[str]

    def fingerprint(self) -> str:
        text = repr((self.pairs, self.circumstances, self.subjects, self.symptoms, self.contexts,
                     self.steps, self.closings))
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def default_sources(eval_dir: Path = DEFAULT_EVAL_DIR,
                    knowledge_dir: Path = DEFAULT_KNOWLEDGE) -> list[Path]:
    """The dev FAQ and the knowledge base's FAQ files, those that exist."""
    files = [eval_dir / "dev_faq.yaml",
             *(f for layer in layer_dirs(knowledge_dir) for f in sorted((layer / "faq").glob("*.yaml")))]
    return [f for f in files if f.is_file()]


def read_real_entries(files: Sequence[Path]) -> list[Entry]:
    """Entries of the real FAQ files, skipping whatever does not parse (files may be mid-edit)."""
    entries: list[Entry] = []
    for path in files:
        try:
            entries += parse_faq_file(path, [])
        except Exception as exc:  # noqa: BLE001 - a half-written file must not break a benchmark
            print(f"synthetic_faq: skipping {path}: {exc}", file=sys.stderr)
    return [e for e in entries if e.question]


def _split_qualifier(words: list[str]) -> tuple[str, str]:
    for i, w in enumerate(words):
        if i > 0 and w in _PREPOSITIONS:
            return " ".join(words[:i]), " ".join(words[i:])
    return " ".join(words), ""


def _clean_fragment(text: str, max_words: int, commas: bool = True,
                    keep_first: bool = False) -> str:
    """A harvested fragment, or "" when it is too long or ends or starts mid-phrase."""
    words = text.split()
    if not words or len(words) > max_words or (not commas and "," in text):
        return ""
    if words[-1].lower() in _FUNCTION_WORDS:
        return ""
    if not keep_first and words[0].lower() in _FUNCTION_WORDS - set(_PREPOSITIONS):
        return ""
    return " ".join(words)


def build_lexicon(source_files: Sequence[Path] | None = None) -> Lexicon:
    """The base lexicon, extended with the actions, objects and qualifiers of the real FAQs."""
    pairs: dict[tuple[str, str], tuple[str, tuple[str, ...], str, tuple[str, ...]]] = {}
    for action, alts, cats in ACTIONS:
        for cat in cats:
            systems, objects = CATEGORIES[cat]
            for obj in objects:
                pairs.setdefault((action, obj), (action, alts, obj, systems))
    circumstances = list(CIRCUMSTANCES)
    subjects = list(SUBJECTS)
    symptoms = list(SYMPTOMS)
    contexts = list(CONTEXTS)
    steps: list[str] = []
    closings: list[str] = []

    files = list(source_files) if source_files is not None else default_sources()
    known_actions = sorted(
        {(a, alts) for a, alts, _ in ACTIONS}
        | {(alt, (a,)) for a, alts, _ in ACTIONS for alt in alts},
        key=lambda x: (-len(x[0].split()), x[0], x[1]),
    )
    for entry in read_real_entries(files):
        system = entry.system or "khac"
        for line in entry.answer.splitlines():
            line = re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line).strip()
            if line.lower().startswith("nếu vẫn không"):
                if line not in closings:
                    closings.append(line)
            elif 3 <= len(line.split()) <= 40 and line not in steps:
                steps.append(line)
        for phrasing in entry.phrasings:
            text = phrasing.rstrip(" ?.!")
            words = (text[:1].lower() + text[1:]).split()
            matched = next(
                ((a, alts) for a, alts in known_actions
                 if [w.lower() for w in words[: len(a.split())]] == a.split()), None)
            if matched is not None:
                action, alts = matched
                obj, qual = _split_qualifier(words[len(action.split()):])
                obj = _clean_fragment(obj, max_words=7)
                if obj:
                    pairs.setdefault((action, obj), (action, alts, obj, (system,)))
                qual = _clean_fragment(qual, max_words=7, commas=False)
                if qual and qual not in circumstances and qual.split()[0] != "trên":
                    circumstances.append(qual)
                continue
            marker = next((i for i, w in enumerate(words) if 0 < i <= 4 and w in _PROBLEM_MARKERS),
                          None)
            if marker is None:
                continue
            subject = _clean_fragment(" ".join(words[:marker]), max_words=4, commas=False)
            symptom, context = _split_qualifier(words[marker:])
            symptom = _clean_fragment(symptom, max_words=5, commas=False, keep_first=True)
            context = _clean_fragment(context, max_words=7, commas=False)
            if not subject or not symptom or len(symptom.split()) < 2:
                continue  # a fragment like "thông báo" or "máy tính vẫn" is no subject
            if (subject, system) not in subjects:
                subjects.append((subject, system))
            if symptom not in symptoms:
                symptoms.append(symptom)
            if context and context not in contexts and context.split()[0] in _CONTEXT_STARTS:
                contexts.append(context)
    return Lexicon(sorted(pairs.values(), key=lambda p: (p[0], p[2])), circumstances, subjects,
                   symptoms, contexts, steps or list(BASE_STEPS), closings or list(BASE_CLOSINGS),
                   [str(f) for f in files])


# ---------------------------------------------------------------------------
# Generating entries
# ---------------------------------------------------------------------------


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slug(text: str, words: int = 5) -> str:
    return re.sub(r"[^a-z0-9]+", "-", " ".join(fold(text).split()[:words])).strip("-") or "x"


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def _answer(rng: random.Random, lex: Lexicon, first: str) -> str:
    """A numbered answer like the real ones: its own step, 2-4 borrowed steps, a closing."""
    steps = [first, *rng.sample(lex.steps, min(len(lex.steps), rng.randint(2, 4)))]
    text = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
    if lex.closings and rng.random() < 0.7:
        text += "\n" + rng.choice(lex.closings)
    return text


def generate_entries(n: int, seed: int = 0, lexicon: Lexicon | None = None,
                     problem_share: float = 0.25) -> list[Entry]:
    """N entries with unique ids and phrasings that are unique across the FAQ (after folding).

    Action-object pairs are drawn with Zipf-like weights (a few tasks, like
    "đổi mật khẩu", get many entries for different systems and situations, as
    in a real FAQ), so common words have long postings lists.
    """
    lex = lexicon or build_lexicon()
    rng = random.Random(seed)
    pairs = list(lex.pairs)
    rng.shuffle(pairs)
    pair_w = _zipf_weights(len(pairs), 0.4)
    subjects = list(lex.subjects)
    rng.shuffle(subjects)
    subj_w = _zipf_weights(len(subjects), 0.5)

    seen_phrasings: set[str] = set()
    seen_ids: set[str] = set()
    entries: list[Entry] = []

    def unique_id(base: str) -> str:
        candidate, k = base, 2
        while candidate in seen_ids:
            candidate, k = f"{base}-{k}", k + 1
        seen_ids.add(candidate)
        return candidate

    def add_phrasing(out: list[str], text: str) -> bool:
        key = fold(text)
        if not key or key in seen_phrasings:
            return False
        seen_phrasings.add(key)
        out.append(" ".join(text.split()))
        return True

    attempts = 0
    while len(entries) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise ValueError(f"the lexicon cannot give {n} distinct entries (got {len(entries)})")
        phrasings: list[str] = []
        if rng.random() >= problem_share:
            action, alts, obj, systems = rng.choices(pairs, pair_w)[0]
            system = rng.choice(systems)
            names = SYSTEMS.get(system, ())
            circ = rng.choice(lex.circumstances) if rng.random() < 0.6 else ""
            where = f"trên {rng.choice(names)}" if names and rng.random() < 0.45 else ""
            question = _cap(" ".join(p for p in (action, obj, circ, where) if p))
            if not add_phrasing(phrasings, question):
                continue
            n_var = rng.choices((1, 2, 3), (0.3, 0.4, 0.3))[0]
            options = []
            alt = rng.choice(alts) if alts else action
            other_where = f"trên {rng.choice(names)}" if names else ""
            options.append(_cap(" ".join(p for p in (alt, obj, other_where) if p)))
            # Generic forms keep a distinguishing detail, as a careful FAQ author would.
            detail = circ or other_where
            form = rng.choice(_HOWTO_FORMS)
            options.append(f"{form.format(a=action, A=_cap(action), o=obj)} {detail}".strip())
            short_circ = rng.choice(lex.circumstances)
            options.append(_cap(" ".join(p for p in (alt, obj, short_circ) if p)))
            if where:
                options.append(_cap(f"{obj} {action} {where}"))
            rng.shuffle(options)
            variants: list[str] = []
            for option in options:
                if len(variants) >= n_var:
                    break
                add_phrasing(variants, option)
            answer = _answer(rng, lex, f'Chọn chức năng "{_cap(action)} {obj}".')
            base_id = f"{system}-{_slug(action, 3)}-{_slug(obj, 4)}"
            tags = (obj.split()[0] if len(obj.split()) == 1 else " ".join(obj.split()[:2]),)
        else:
            subject, system = rng.choices(subjects, subj_w)[0]
            symptom = rng.choice(lex.symptoms)
            context = rng.choice(lex.contexts) if rng.random() < 0.75 else ""
            question = _cap(" ".join(p for p in (subject, symptom, context) if p))
            if not add_phrasing(phrasings, question):
                continue
            n_var = rng.choices((1, 2, 3), (0.3, 0.4, 0.3))[0]
            forms = [f for f in _PROBLEM_FORMS
                     if not ("bị {y}" in f and symptom.split()[0] in ("bị", "không", "báo"))]
            options = [f"{rng.choice(forms).format(s=subject, S=_cap(subject), y=symptom)} "
                       f"{context if rng.random() < 0.5 else ''}".strip() for _ in range(3)]
            options.append(_cap(f"{subject} {symptom} {rng.choice(lex.contexts)}"))
            variants = []
            for option in options:
                if len(variants) >= n_var:
                    break
                add_phrasing(variants, option)
            answer = _answer(rng, lex, f"Ghi lại lúc {subject} {symptom} và thông báo lỗi nếu có.")
            base_id = f"{system}-{_slug(subject, 3)}-{_slug(symptom, 4)}"
            tags = (subject,)
        entries.append(Entry(
            id=unique_id(base_id), question=phrasings[0], answer=answer,
            variants=tuple(variants), system=system, tags=tags,
        ))
    return entries


# ---------------------------------------------------------------------------
# Knowledge base and YAML
# ---------------------------------------------------------------------------


def real_synonyms(knowledge_dir: Path = DEFAULT_KNOWLEDGE,
                  eval_dir: Path = DEFAULT_EVAL_DIR) -> Synonyms:
    """The project's synonym table, even while knowledge/faq/ is half-written."""
    for faq in (None, [eval_dir / "dev_faq.yaml"]):
        try:
            return load_knowledge(knowledge_dir, faq).synonyms
        except (KnowledgeError, OSError):
            continue
    problems: list[Problem] = []
    return load_synonyms(layer_dirs(knowledge_dir)[0] / "synonyms.yaml", problems)


def synthetic_kb(entries: Sequence[Entry], synonyms: Synonyms | None = None) -> KnowledgeBase:
    """A KnowledgeBase over generated entries with the real synonym table."""
    return KnowledgeBase(tuple(entries), {}, synonyms if synonyms is not None else real_synonyms())


def to_yaml(entries: Sequence[Entry]) -> str:
    """The entries as a FAQ file in the project schema."""
    doc = {"version": 1, "entries": [
        {"id": e.id, "system": e.system, "question": e.question, "variants": list(e.variants),
         "answer": e.answer, "tags": list(e.tags)}
        for e in entries
    ]}
    header = "# Synthetic FAQ for benchmarks (benchmarks/synthetic_faq.py); not real answers.\n"
    return header + yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line answers as `|` blocks, the way the real FAQ files do."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    expected: str  # entry id, or "-" when out of scope
    kind: str  # acc, noacc, typo, abbr, long, oos
    text: str


QUERY_MIX: dict[str, float] = {
    "acc": 0.2, "noacc": 0.2, "typo": 0.15, "abbr": 0.15, "long": 0.15, "oos": 0.15,
}
_TONE_MARKS = {"\u0301", "\u0300", "\u0309", "\u0303", "\u0323"}
_NEIGHBOURS = {
    "a": "sq", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "g": "fh", "h": "gj", "i": "uo",
    "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "q": "w", "r": "et",
    "s": "ad", "t": "ry", "u": "yi", "v": "cb", "x": "zc", "y": "tu",
}


def _strip_marks(text: str) -> str:
    """Text as typed without diacritics (the way `fold` sees it, but keeping case/punctuation)."""
    out = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", out.replace("đ", "d").replace("Đ", "D"))


def _typo_word(word: str, rng: random.Random) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    ops = ["delete", "swap", "double", "neighbour"]
    if any(c in _TONE_MARKS for c in decomposed):
        ops += ["tone", "tone"]
    op = rng.choice(ops)
    if op == "tone":  # a missed or wrong tone key: mật -> mât / mất
        marks = [i for i, c in enumerate(decomposed) if c in _TONE_MARKS]
        i = rng.choice(marks)
        repl = rng.choice(["", *sorted(_TONE_MARKS - {decomposed[i]})])
        return unicodedata.normalize("NFC", decomposed[:i] + repl + decomposed[i + 1:])
    letters = list(word)
    i = rng.randrange(len(letters))
    if op == "delete" and len(letters) > 3:
        del letters[i]
    elif op == "swap" and len(letters) > 3:
        j = min(i, len(letters) - 2)
        letters[j], letters[j + 1] = letters[j + 1], letters[j]
    elif op == "double":
        letters.insert(i, letters[i])
    else:
        base = _strip_marks(letters[i]).lower()
        if base in _NEIGHBOURS:
            letters[i] = rng.choice(_NEIGHBOURS[base])
        else:
            letters.insert(i, letters[i])
    return "".join(letters)


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 3 and w.isalpha()]
    if not candidates:
        return text + "j"
    i = rng.choice(candidates)
    words[i] = _typo_word(words[i], rng)
    return " ".join(words)


def abbreviation_table(synonyms: Synonyms | None) -> dict[str, tuple[str, ...]]:
    """Phrase -> short forms officials type for it, from the synonym table's abbreviations."""
    # The table is `abbreviations` in the current Synonyms, `rewrites` in older ones.
    rules = getattr(synonyms, "abbreviations", None) or getattr(synonyms, "rewrites", None)
    if not rules:
        return FALLBACK_ABBREVIATIONS
    table: dict[str, list[str]] = {}
    for source, readings in rules.items():
        if " " in source or len(source) > 4:
            continue  # a synonym or an English word rather than shorthand
        # Ambiguous shorthand counts for each meaning: officials type "cv" for công văn
        # and for công vụ alike, and the matcher has to try both readings.
        for reading in (r.lower() for r in readings):
            if len(reading) > len(source) and fold(reading) != fold(source):
                table.setdefault(reading, []).append(source)
    return {k: tuple(sorted(v)) for k, v in sorted(table.items())}


def _abbreviate(text: str, table: dict[str, tuple[str, ...]], rng: random.Random) -> str | None:
    lowered = text.lower()
    hits = [p for p in sorted(table, key=len, reverse=True)
            if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", lowered)]
    if not hits:
        return None
    rng.shuffle(hits)
    for phrase in hits[: rng.randint(1, 2)]:
        lowered = re.sub(rf"(?<!\w){re.escape(phrase)}(?!\w)", rng.choice(table[phrase]), lowered)
    return lowered


def _shorten(text: str, rng: random.Random) -> str:
    """Users often drop the system or situation: cut at a preposition now and then."""
    words = text.split()
    cuts = [i for i, w in enumerate(words) if i >= 2 and w.lower() in _PREPOSITIONS]
    if cuts and rng.random() < 0.35:
        return " ".join(words[: rng.choice(cuts)])
    return text


def _oos(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(OOS_SENTENCES)
    return f"{rng.choice(_OOS_TOPICS)} {rng.choice(_OOS_TIMES)}{rng.choice(_OOS_PLACES)}"


def generate_queries(entries: Sequence[Entry], n: int, seed: int = 0,
                     synonyms: Synonyms | None = None,
                     mix: dict[str, float] | None = None) -> list[Query]:
    """N queries against a generated FAQ, in the proportions of `mix` (QUERY_MIX by default).

    In-scope queries start from an entry's question or variant, sometimes cut
    short, then: lower-cased with chat filler (acc), diacritics removed
    (noacc), one typo (typo), abbreviations from the synonym table (abbr), or
    wrapped in a chatty sentence (long). Out-of-scope ones come from a fixed
    list and recombined topics. Queries are distinct unless the pool runs dry.
    """
    rng = random.Random(seed)
    mix = mix or QUERY_MIX
    kinds, weights = zip(*mix.items(), strict=True)
    table = abbreviation_table(synonyms)
    out: list[Query] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        kind = rng.choices(kinds, weights)[0]
        if kind == "oos":
            query = Query("-", "oos", _oos(rng))
        else:
            entry = rng.choice(entries)
            base = _shorten(rng.choice(entry.phrasings), rng)
            lowered = base[:1].lower() + base[1:]
            if kind == "acc":
                text = rng.choice(_SHORT_PREFIXES) + lowered + rng.choice(_SHORT_SUFFIXES)
            elif kind == "noacc":
                text = _strip_marks(lowered).lower()
            elif kind == "typo":
                text = _typo(lowered, rng)
                if rng.random() < 0.3:
                    text = _strip_marks(text)
            elif kind == "abbr":
                ending = rng.choice(("", " ntn", " như thế nào"))
                abbreviated = _abbreviate(lowered + ending, table, rng)
                if abbreviated is None:
                    continue
                text = abbreviated
            else:
                text = rng.choice(_LONG_FORMS).format(q=lowered)
            query = Query(entry.id, kind, text)
        if query.text in seen and tries < 50 * n:
            continue
        seen.add(query.text)
        out.append(query)
    return out


def queries_tsv(queries: Sequence[Query]) -> str:
    rows = "".join(f"{q.expected}\t{q.kind}\t{q.text}\n" for q in queries)
    return "expected\tkind\tquery\n" + rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of entries (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the FAQ YAML here ('-' for stdout)")
    parser.add_argument("--queries", type=Path, help="also write a query TSV here")
    parser.add_argument("--n-queries", type=int, default=600)
    parser.add_argument("--source", type=Path, action="append",
                        help="real FAQ file to take vocabulary from (repeatable; default: "
                             "../shared/eval/dev_faq.yaml and knowledge/faq/*.yaml)")
    args = parser.parse_args(argv)
    lexicon = build_lexicon(args.source)
    entries = generate_entries(args.n, args.seed, lexicon)
    print(f"{len(entries)} entries from {len(lexicon.pairs)} action-object pairs, "
          f"lexicon {lexicon.fingerprint()} (sources: {', '.join(lexicon.sources) or 'none'})",
          file=sys.stderr)
    if args.out is None and args.queries is None:
        for e in entries[:10]:
            print(f"{e.id}: {e.question} | {' | '.join(e.variants)}")
        print("... (use --out FILE to write the YAML)")
        return 0
    if args.out is not None:
        text = to_yaml(entries)
        if str(args.out) == "-":
            sys.stdout.write(text)
        else:
            args.out.write_text(text, encoding="utf-8")
            print(f"wrote {args.out}", file=sys.stderr)
    if args.queries is not None:
        queries = generate_queries(entries, args.n_queries, args.seed + 1, real_synonyms())
        args.queries.write_text(queries_tsv(queries), encoding="utf-8")
        print(f"wrote {args.queries} ({len(queries)} queries)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
