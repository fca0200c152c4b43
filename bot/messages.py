"""Every user-facing sentence, in Vietnamese, in one place.

Officials read these on a phone, often between citizens at the counter: keep
them short, polite ("anh/chị") and say what to do next.
"""

from __future__ import annotations

ANSWER_FOOTER = "Nếu hướng dẫn chưa giải quyết được, anh/chị có thể gặp kỹ thuật viên."
CLARIFY_INTRO = "Có phải anh/chị muốn hỏi một trong các câu sau?"
CLARIFY_NONE_OF_THESE = "Không phải các câu trên"
NO_MATCH = (
    "Xin lỗi, tôi chưa tìm thấy hướng dẫn phù hợp với câu hỏi này. "
    "Anh/chị có thể hỏi lại bằng từ khác, hoặc gửi yêu cầu hỗ trợ cho kỹ thuật viên."
)
CHOICE_SOLVED = "Đã giải quyết"
CHOICE_NOT_RIGHT = "Chưa đúng ý"
CHOICE_TECHNICIAN = "Gặp kỹ thuật viên"
TERMINAL_WELCOME = (
    "Trợ lý hỏi đáp cho cán bộ xã ({entries} câu hỏi thường gặp). "
    "Gõ câu hỏi rồi Enter; Ctrl+D để thoát.\n"
    "(Chưa cấu hình Telegram/Zalo: bot đang chạy trong cửa sổ dòng lệnh.)"
)
