"""Every user-facing sentence, in Vietnamese, in one place.

Officials read these on a phone, often between citizens at the counter: keep
them short, polite ("anh/chị"), and always say what to do next and where a
message went (to the FAQ, or into ticket #N).
"""

from __future__ import annotations

# -- menu and general -----------------------------------------------------------------

MENU_ASK = "❓ Hỏi đáp"
MENU_REPORT = "🛠 Báo sự cố"
MENU_TICKETS = "📋 Yêu cầu của tôi"
WELCOME = (
    "Chào anh/chị! Tôi là trợ lý hỗ trợ kỹ thuật cho cán bộ xã, phường.\n"
    "• Gõ câu hỏi (có dấu hay không dấu đều được), ví dụ: \"quên mật khẩu một cửa\".\n"
    "• Không tự xử lý được: {pick} để gửi yêu cầu cho kỹ thuật viên của tỉnh."
)
# How to pick a choice, said the way the channel shows choices (buttons, numbered lines, or both).
PICK = {"buttons": "bấm \"{label}\"", "numbered": "gõ số của mục \"{label}\"", "both": "chọn \"{label}\""}
LEAVE = "Gõ \"hủy\" để thoát."
CHOICES_NUMBERED = "— Gõ số để chọn —"
WELCOME_REGISTER_HINT = "Để gửi yêu cầu cho kỹ thuật viên, anh/chị cần đăng ký một lần (/dangky)."
HELP_STAFF = (
    "Các lệnh:\n"
    "/hoi – hỏi đáp (hoặc cứ gõ câu hỏi)\n"
    "/baoloi – báo sự cố cho kỹ thuật viên\n"
    "/yeucau – xem các yêu cầu của tôi\n"
    "/dangky – đăng ký thông tin cán bộ\n"
    "/hoso – xem, sửa hồ sơ (xã/phường, họ tên, chức vụ, SĐT)\n"
    "/huy – hủy thao tác đang làm\n"
    "Gõ chữ cũng được: đăng ký, báo sự cố, yêu cầu của tôi, hồ sơ, trợ giúp, hủy."
)
HELP_TECHNICIAN = (
    "Kỹ thuật viên:\n"
    "/ds – hàng đợi · /xem N – xem yêu cầu N · /nhan N – nhận xử lý\n"
    "/traloi N nội dung – trả lời cán bộ · /ghichu N nội dung – ghi chú nội bộ\n"
    "/cho N [nội dung] – chờ cán bộ bổ sung · /xong N ghi chú – đã xử lý\n"
    "/chuyen N hàng-đợi · /giao N kênh:id · /mo N – mở lại\n"
    "/sucochung hệ-thống mô tả – báo sự cố chung · /xongsuco N ghi chú · /suco – sự cố đang mở"
)
HELP_ADMIN = (
    "Quản trị:\n"
    "/taifaq – nạp lại FAQ · /chuatraloi – câu hỏi chưa trả lời được · /thongke – thống kê\n"
    "/cachly – tin nhắn bị cách ly (không đọc được)\n"
    "/capquyen kênh:id technician|admin · /thuhoi kênh:id · /duyet ID · /tuchoi ID"
)
ASK_PROMPT = "Anh/chị gõ câu hỏi, tôi sẽ tìm hướng dẫn phù hợp."
UNKNOWN_COMMAND = "Tôi không biết lệnh /{command}."
STALE_BUTTON = "Nút này đã cũ hoặc không còn dùng được. Anh/chị gõ lại câu hỏi hoặc chọn trong menu."
NO_CHOICES_PENDING = "Hiện không có lựa chọn nào đang chờ, nên số này không dùng được. Anh/chị gõ câu hỏi giúp tôi."
NO_SUCH_CHOICE = "Chỉ có các lựa chọn từ 1 đến {n}. Anh/chị gõ lại số, hoặc gõ \"hủy\" để thoát."
CANCELLED = "Đã hủy. Anh/chị có thể gõ câu hỏi khác."
NOTHING_TO_CANCEL = "Không có thao tác nào đang làm. Anh/chị cứ gõ câu hỏi."
UNSUPPORTED = "Tôi chưa đọc được loại tin này ({what}). Anh/chị gửi chữ hoặc ảnh chụp màn hình giúp tôi."
INTERNAL_ERROR = (
    "Xin lỗi, tôi gặp lỗi khi xử lý tin nhắn này. Tin nhắn đã được lưu lại; "
    "anh/chị thử lại sau ít phút, hoặc /baoloi để gửi yêu cầu cho kỹ thuật viên."
)
STORAGE_RECOVERED = (
    "⚠️ Cơ sở dữ liệu của bot bị lỗi ghi từ {since} (đầy đĩa, chỉ đọc hoặc bị khóa quá lâu) "
    "và nay đã ghi được trở lại. Tin nhắn đến trong lúc lỗi không bị xác nhận, nên được gửi lại "
    "và đang được xử lý. Kiểm tra dung lượng đĩa và quyền ghi của thư mục dữ liệu."
)
EMPTY_MESSAGE = "Tin nhắn trống. Anh/chị gõ câu hỏi giúp tôi."
SMALLTALK_HELLO = "Chào anh/chị! Anh/chị cần hỗ trợ việc gì? Cứ gõ câu hỏi, ví dụ \"không nhận token\"."
SMALLTALK_THANKS = "Không có gì ạ. Cần gì anh/chị cứ nhắn tiếp nhé."
SMALLTALK_OK = "Vâng ạ. Cần hỗ trợ gì anh/chị cứ gõ câu hỏi nhé."

# -- FAQ ----------------------------------------------------------------------------------

ANSWER_FOOTER = "Hướng dẫn này có giải quyết được không ạ?"
CLARIFY_INTRO = "Có phải anh/chị muốn hỏi một trong các câu sau?"
ANSWER_ALTERNATIVES = "Hoặc có phải anh/chị hỏi:"  # under an answer that is likely but not certain
CLARIFY_NONE_OF_THESE = "Không phải các câu trên"
CLARIFY_LINE = "{n}. {question}"
CLARIFY_BUTTON = "Câu {n}: {title}"
NO_MATCH = (
    "Xin lỗi, tôi chưa tìm thấy hướng dẫn phù hợp với câu hỏi này. "
    "Anh/chị có thể hỏi lại bằng từ khác, hoặc gửi yêu cầu hỗ trợ cho kỹ thuật viên."
)
CHOICE_SOLVED = "✅ Đã giải quyết"
CHOICE_NOT_RIGHT = "❌ Chưa đúng ý"
CHOICE_TECHNICIAN = "🛠 Gặp kỹ thuật viên"
BTN_REPORT = "🛠 Gửi yêu cầu hỗ trợ"
BTN_ASK_AGAIN = "❓ Hỏi cách khác"
GLAD_IT_HELPED = "Rất vui vì đã giúp được anh/chị!"
SORRY_NOT_RIGHT = "Xin lỗi anh/chị. Tôi đã ghi lại để bổ sung hướng dẫn. Anh/chị muốn gửi yêu cầu cho kỹ thuật viên không?"
ENTRY_GONE = "Hướng dẫn này vừa được cập nhật. Anh/chị gõ lại câu hỏi giúp tôi."
# Contact placeholders in answers ({contact:id.field}), rendered from the province's contacts.yaml.
CONTACT_FIELD_PHONE = "số điện thoại"
CONTACT_FIELD_HOTLINE = "số tổng đài"
CONTACT_FIELD_EMAIL = "địa chỉ thư"
CONTACT_FIELD_WEB = "địa chỉ trang web"
CONTACT_FIELD_ADDRESS = "địa chỉ"
CONTACT_FIELD_HOURS = "giờ làm việc"
CONTACT_UNFILLED = "({what} chưa được cập nhật vào trợ lý; anh/chị hỏi {ask})"
CONTACT_ASK_DEFAULT = "Văn phòng HĐND-UBND xã, hoặc bấm \"Gặp kỹ thuật viên\""
CONTACT_UNKNOWN = "(thông tin liên hệ này chưa có trong trợ lý; anh/chị bấm \"Gặp kỹ thuật viên\" để được chỉ đúng nơi)"
TERMINAL_WELCOME = (
    "Trợ lý hỏi đáp cho cán bộ xã ({entries} câu hỏi thường gặp). "
    "Gõ câu hỏi rồi Enter; Ctrl+D để thoát.\n"
    "(Chưa cấu hình Telegram/Zalo: bot đang chạy trong cửa sổ dòng lệnh.)"
)

# -- registration -------------------------------------------------------------------------

NEED_REGISTRATION = "Anh/chị cần đăng ký thông tin trước khi gửi yêu cầu (/dangky)."
NEED_REGISTRATION_FIRST = "Để kỹ thuật viên liên hệ được, anh/chị đăng ký thông tin một lần (4 câu hỏi ngắn)."
# Shown once, before the first registration question (Luật BVDLCN 91/2025/QH15; docs/privacy.md).
PRIVACY_NOTICE = (
    "🔒 Bot lưu họ tên, chức danh, số điện thoại, xã/phường và nội dung trao đổi của anh/chị "
    "để kỹ thuật viên hỗ trợ và liên hệ lại; chỉ cán bộ hỗ trợ của tỉnh xem được. Nội dung các yêu cầu "
    "đã đóng được xoá sau một thời gian. Muốn xem hoặc xoá thông tin của mình, anh/chị nhắn quản trị viên."
)
PROFILE_ASK_COMMUNE = "Anh/chị làm việc ở xã/phường nào? (ví dụ: Bát Xát) " + LEAVE
REG_ASK_COMMUNE = PRIVACY_NOTICE + "\n\n" + PROFILE_ASK_COMMUNE
REG_COMMUNE_UNKNOWN = (
    "Tôi không tìm thấy xã/phường \"{text}\" trong tỉnh. Anh/chị gõ lại tên xã/phường "
    "(tên hiện nay hoặc tên trước khi sáp nhập). " + LEAVE
)
BTN_IT_IS_A_QUESTION = "❓ Đây là câu hỏi, không phải tên xã"
REG_COMMUNE_PICK = "Anh/chị chọn đúng xã/phường: " + LEAVE
REG_CONFIRM_COMMUNE = "{commune} — đúng không ạ? " + LEAVE
REG_CONFIRM_FORMER = "{former} (cũ) nay thuộc {commune} — đúng không ạ? " + LEAVE
BTN_YES = "✅ Đúng"
BTN_NO_RETYPE = "✏️ Không, gõ lại"
REG_RETYPE_COMMUNE = "Anh/chị gõ lại tên xã/phường. " + LEAVE
REG_ASK_NAME = "{commune}. Anh/chị cho biết họ và tên: " + LEAVE
REG_ASK_TITLE = "Chức vụ/công việc của anh/chị? (ví dụ: công chức Văn phòng – Thống kê) " + LEAVE
REG_ASK_PHONE = "Số điện thoại để kỹ thuật viên gọi lại khi cần (gõ số): " + LEAVE
REG_ASK_PHONE_CONTACT = "Số điện thoại để kỹ thuật viên gọi lại khi cần (gõ số, hoặc bấm nút chia sẻ số): " + LEAVE
BTN_SHARE_PHONE = "📱 Chia sẻ số điện thoại"
REG_BAD_PHONE = "Số điện thoại chưa đúng. Anh/chị gõ lại, ví dụ 0912345678. " + LEAVE
REG_NEED_TEXT = "Anh/chị trả lời bằng chữ giúp tôi. " + LEAVE
PROFILE = (
    "Hồ sơ của anh/chị:\n• Xã/phường: {commune}\n• Họ tên: {name}\n• Chức vụ: {title}\n• SĐT: {phone}\n"
    "Muốn sửa mục nào, anh/chị chọn bên dưới."
)
BTN_EDIT = {"commune": "✏️ Sửa xã/phường", "name": "✏️ Sửa họ tên", "title": "✏️ Sửa chức vụ", "phone": "✏️ Sửa SĐT"}
PROFILE_ASK_NAME = "Họ và tên mới: " + LEAVE
PROFILE_ASK_TITLE = "Chức vụ/công việc mới: " + LEAVE
PROFILE_SAVED = "Đã cập nhật hồ sơ."
REGISTERED = "Đã đăng ký: {name}, {commune}. Cảm ơn anh/chị!"
REGISTRATION_WAITING = "Đã nhận thông tin đăng ký. Quản trị viên sẽ duyệt sớm; tôi sẽ báo anh/chị khi xong."
REGISTRATION_PENDING = "Đăng ký của anh/chị đang chờ quản trị viên duyệt. Trong lúc chờ, anh/chị vẫn hỏi đáp được."
ALREADY_REGISTERED = "Anh/chị đã đăng ký rồi ({name})."
APPROVAL_REQUEST = "Đăng ký mới #{id}: {name}, {title}, {commune}, SĐT {phone}."
BTN_APPROVE = "✅ Duyệt"
BTN_REJECT = "❌ Từ chối"
APPROVED = "Đã duyệt đăng ký #{id} ({name})."
REJECTED = "Đã từ chối đăng ký #{id} ({name})."
NOT_PENDING = "Đăng ký #{id} không ở trạng thái chờ duyệt."
YOU_ARE_APPROVED = "Đăng ký của anh/chị đã được duyệt. Giờ anh/chị có thể gửi yêu cầu hỗ trợ."
YOU_ARE_REJECTED = "Đăng ký của anh/chị chưa được duyệt. Anh/chị liên hệ quản trị viên của tỉnh để biết thêm."

# -- reporting a problem ------------------------------------------------------------------

ESC_ASK_SYSTEM = "Sự cố thuộc hệ thống nào? " + LEAVE
ESC_SYSTEM_GUESS = "(Tôi đoán là: {name})"
ESC_ASK_DESCRIPTION = "Anh/chị mô tả ngắn sự cố: lỗi gì, ở bước nào, thông báo lỗi ghi gì. " + LEAVE
ESC_DESCRIPTION_PREFILLED = "Mô tả: «{text}»\nAnh/chị gõ thêm chi tiết (lỗi gì, ở bước nào), hoặc {pick}. " + LEAVE
ESC_ASK_PHOTOS = "Gửi ảnh chụp màn hình lỗi (nếu có), rồi {pick}. " + LEAVE
ESC_PHOTO_RECEIVED = "Đã nhận ảnh (tổng {n} ảnh)."
ESC_TEXT_ADDED = "Đã thêm vào mô tả. Gửi thêm ảnh hoặc {pick}. " + LEAVE
ESC_ASK_URGENCY = "Mức độ khẩn? " + LEAVE
ESC_USE_CHOICES = {
    "buttons": "Anh/chị bấm một nút ở trên. " + LEAVE,
    "numbered": "Anh/chị gõ số của một mục ở trên. " + LEAVE,
    "both": "Anh/chị chọn một mục ở trên (bấm nút hoặc gõ số). " + LEAVE,
}
ESC_CONFIRM = (
    "Kiểm tra lại yêu cầu:\n• Hệ thống: {system}\n• Mô tả: {description}\n"
    "• Ảnh: {photos}\n• Mức độ: {urgency}\nGửi cho kỹ thuật viên? " + LEAVE
)
ALREADY_OPEN_ON_SYSTEM = (
    "Anh/chị đang có yêu cầu {code} về {system} ({status}). "
    "Bổ sung vào {code}, hay gửi một yêu cầu mới? " + LEAVE
)
BTN_JOIN = "➕ Bổ sung vào {code}"
BTN_NEW_TICKET = "🆕 Gửi yêu cầu mới"
URGENCY_LABELS = {"normal": "Bình thường", "urgent": "Khẩn – người dân đang chờ"}
URGENCY_SHORT = {"normal": "", "urgent": "⚠️ "}
BTN_KEEP = "Giữ nguyên"
BTN_PHOTOS_DONE = "Xong"
BTN_SEND = "📨 Gửi"
BTN_CANCEL = "Hủy"
NO_DESCRIPTION = "(không có mô tả)"
PHOTO_STARTS_REPORT = "Tôi nhận được ảnh. Tôi giúp anh/chị gửi yêu cầu hỗ trợ kèm ảnh này."
TICKET_OPENED = "Đã gửi yêu cầu {code} ({system}) cho kỹ thuật viên. Khi có trả lời tôi sẽ nhắn anh/chị tại đây."
OUTSIDE_HOURS = "Hiện ngoài giờ làm việc: kỹ thuật viên sẽ xem từ {when}."
BTN_ADD_INFO = "➕ Bổ sung {code}"
BTN_MY_TICKETS = "📋 Yêu cầu của tôi"
BTN_WITHDRAW = "🗑 Rút {code}"

# -- tickets, official's side -----------------------------------------------------------------

NO_TICKETS = "Anh/chị chưa gửi yêu cầu nào."
MY_TICKETS = "Các yêu cầu gần đây:"
MY_TICKET_LINE = "{code} · {status} · {system}: {description}"
WRITE_INTO_TICKET = "Tin nhắn và ảnh anh/chị gửi tiếp theo sẽ vào yêu cầu {code}; {pick} khi đã gửi đủ. " + LEAVE
ADDED_TO_TICKET = "Đã chuyển vào yêu cầu {code}."
BTN_NEW_QUESTION = "Đây là câu hỏi mới"
WHICH_TICKET = "Tin nhắn này bổ sung cho yêu cầu nào? " + LEAVE
TICKET_PICK = "{code} · {system}"
MOVED_OUT_EVENT = "Cán bộ cho biết tin nhắn trước là câu hỏi mới, không thuộc yêu cầu này."
CONFIRM_WITHDRAW = "Rút yêu cầu {code} ({system})? Kỹ thuật viên sẽ ngừng xử lý yêu cầu này."
BTN_CONFIRM_WITHDRAW = "🗑 Rút {code}"
BTN_KEEP_TICKET = "Không rút"
KEPT_TICKET = "Yêu cầu {code} vẫn giữ nguyên."
BTN_DONE_WRITING = "Xong"
LEFT_TICKET = "Đã xong bổ sung {code}. Tin nhắn tiếp theo sẽ là câu hỏi cho phần hỏi đáp."
BACK_TO_FAQ = "Tin nhắn tiếp theo sẽ là câu hỏi cho phần hỏi đáp."
WITHDRAWN = "Đã rút yêu cầu {code}."
TECHNICIAN_SAYS = "💬 Kỹ thuật viên trả lời yêu cầu {code}:\n{text}"
BTN_ANSWER_TECHNICIAN = "↩️ Trả lời ({code})"
WAITING_FOR_YOU = "Yêu cầu {code}: kỹ thuật viên cần anh/chị bổ sung: {text}"
WAITING_DEFAULT = "thêm thông tin hoặc ảnh chụp màn hình"
CLAIMED_NOTICE = "Yêu cầu {code} đã có kỹ thuật viên nhận xử lý ({name})."
RESOLVED_NOTICE = "✅ Yêu cầu {code} đã được xử lý: {note}\nSự cố đã khắc phục chưa ạ?"
NO_NOTE = "(không ghi chú)"
BTN_FIXED = "✅ Đã khắc phục"
BTN_BROKEN = "❌ Vẫn còn lỗi"
ASK_RATING = "Cảm ơn anh/chị! Anh/chị chấm điểm hỗ trợ cho yêu cầu {code}: từ 1 sao (kém) đến 5 sao (rất tốt)."
RATING_LABELS = {1: "⭐ 1 sao – kém", 2: "⭐⭐ 2 sao", 3: "⭐⭐⭐ 3 sao", 4: "⭐⭐⭐⭐ 4 sao", 5: "⭐⭐⭐⭐⭐ 5 sao – rất tốt"}
THANKS_FOR_RATING = "Cảm ơn anh/chị đã đánh giá yêu cầu {code}."
REOPENED_BY_YOU = "Đã mở lại yêu cầu {code}. Anh/chị mô tả lỗi còn gặp (chữ hoặc ảnh); tin nhắn sẽ vào {code}."
REOPENED_FOR_YOU = "Yêu cầu {code} đã được mở lại; kỹ thuật viên đang xử lý tiếp."
AUTO_CLOSED = "Yêu cầu {code} đã tự đóng vì không có phản hồi. Nếu còn lỗi, anh/chị gửi yêu cầu mới."
CANNOT_RATE = "Yêu cầu {code} chưa xử lý xong nên chưa chấm điểm được."
ALREADY_RATED = "Yêu cầu {code} đã được chấm điểm rồi. Cảm ơn anh/chị!"
TICKET_NOT_FOUND = "Không tìm thấy yêu cầu {code}."
TICKET_NOT_OPEN = "Yêu cầu {code} đang ở trạng thái \"{status}\", không thay đổi được."
TICKET_NOT_RESOLVED = "Yêu cầu {code} chưa ở trạng thái đã xử lý."
STILL_BROKEN_EVENT = "Cán bộ báo vẫn còn lỗi"
STATUS_LABELS = {
    "new": "Mới", "assigned": "Đang xử lý", "waiting_user": "Chờ cán bộ bổ sung",
    "resolved": "Đã xử lý", "closed": "Đã đóng",
}

# -- tickets, technician's side ---------------------------------------------------------------

TICKET_CARD = (
    "🎫 {code} · {status} · {urgency}\n"
    "Hệ thống: {system}\n"
    "Xã/phường: {commune}\n"
    "Người báo: {name} ({title}), SĐT {phone}\n"
    "Người xử lý: {assignee}\n"
    "Mô tả: {description}"
)
NOBODY = "chưa có"
SLA_DUE = "⏳ Hạn {what}: {when}"
SLA_LATE = "⏰ Quá hạn {what} ({when})"
SLA_DUE_RESPONSE = "phản hồi"
SLA_DUE_RESOLUTION = "xử lý"
A_TECHNICIAN = "kỹ thuật viên"
SYSTEM_OTHER = "Khác"
SYSTEM_ACTOR = "hệ thống"
BTN_CLAIM = "🙋 Nhận xử lý"
BTN_SHOW = "🔎 Xem"
BTN_RESOLVE = "✅ Đã xử lý"
FROM_OFFICIAL = "📩 Cán bộ bổ sung cho {code}:\n{text}"
FROM_OFFICIAL_EDITED = "✏️ Cán bộ sửa tin nhắn trong {code} (đã sửa):\n{text}"
PHOTOS_ONLY = "[{n} ảnh]"
REPLY_HELD = (
    "⏸ Tin gửi cán bộ về {code} đang chờ: cán bộ đã quá khung 48 giờ nhắn Zalo. "
    "Tin sẽ được gửi ngay khi cán bộ nhắn lại; nếu gấp, hãy gọi điện."
)
REPLIES_WAITING = "📬 Có {n} tin nhắn đang chờ gửi cho anh/chị:"
WITHDRAWN_NOTICE = "Cán bộ đã rút yêu cầu {code}."
REOPENED_NOTICE = "🔁 Yêu cầu {code} được mở lại: {text}"
RATED_NOTICE = "Yêu cầu {code} được chấm {stars}/5."
ASSIGNED_TO_YOU = "Anh/chị được giao yêu cầu {code}."
NOT_A_TECHNICIAN = "Chỉ kỹ thuật viên mới làm được thao tác này."
NOT_AN_ADMIN = "Chỉ quản trị viên mới làm được thao tác này."
ALREADY_CLAIMED = "Yêu cầu {code} đã có {name} nhận xử lý."
ALREADY_YOURS = "Anh/chị đã nhận yêu cầu {code} rồi."
ASSIGNEE_NOT_TECHNICIAN = "Người được giao phải là kỹ thuật viên."
UNKNOWN_QUEUE = "Không có hàng đợi \"{queue}\". Các hàng đợi: {known}."
UNKNOWN_PERSON = "Không tìm thấy người dùng {ref}."
EMPTY_REPLY = "Nội dung trống."
YOU_CLAIMED = "Anh/chị đã nhận xử lý {code}."
ASSIGNED = "Đã giao {code} cho {name}."
TRANSFERRED = "Đã chuyển {code} sang hàng đợi {queue}."
REPLY_RELAYED = "Đã chuyển trả lời tới cán bộ ({code})."
NOTE_SAVED = "Đã lưu ghi chú nội bộ cho {code} (cán bộ không thấy)."
NOW_WAITING = "{code}: đang chờ cán bộ bổ sung."
ASK_RESOLUTION_NOTE = "Gõ ghi chú cách xử lý {code} (cán bộ sẽ đọc được), hoặc /huy."
YOU_RESOLVED = "Đã đánh dấu {code} là đã xử lý; cán bộ sẽ được hỏi xác nhận."
YOU_REOPENED = "Đã mở lại {code}."
QUEUE_EMPTY = "Không có yêu cầu nào đang mở."
NOTHING_FOUND = "Không có yêu cầu nào khớp."
TICKETS_FOUND = "{n} yêu cầu."
TICKETS_FOUND_MANY = "Hơn {n} yêu cầu."
NEXT_PAGE = "Trang sau →"
FIRST_PAGE = "← Trang đầu"
SEARCH_PLACEHOLDER = "Tìm trong mô tả và cách xử lý"
ANY_OPEN_OR_ALL = "Đang mở (tìm kiếm: tất cả)"
QUEUE_TITLE = "Yêu cầu đang mở ({n}):"
QUEUE_LINE = "{urgency}{code} · {status} · {system} · {commune}: {description}"
HISTORY = "Diễn biến:"
TRANSCRIPT = "Hội thoại trước khi gửi:"
TRANSCRIPT_WHO = {"in": "👤 Cán bộ", "out": "🤖 Bot"}
TRANSCRIPT_GAP = "… ({n} tin nhắn ở giữa) …"
CHOSE = "Chọn: {label}"
# What a pressed button meant, when the label shown is no longer known (buttons on notifications).
ACTION_LABELS = {
    "fb:ok": "Đã giải quyết", "fb:bad": "Chưa đúng ý", "fb:none": "Không phải các câu trên",
    "esc": "Gặp kỹ thuật viên", "menu:ask": "Hỏi đáp", "menu:report": "Báo sự cố",
    "menu:tickets": "Yêu cầu của tôi", "step:keep": "Giữ nguyên", "step:photos": "Xong", "step:send": "Gửi",
    "step:new": "Gửi yêu cầu mới", "cancel": "Hủy", "add": "Trả lời/bổ sung {arg}", "done": "Xong",
    "fixed": "Đã khắc phục", "broken": "Vẫn còn lỗi", "rate": "{arg}", "withdraw": "Rút yêu cầu",
    "urg:normal": "Bình thường", "urg:urgent": "Khẩn – người dân đang chờ", "new": "Đây là câu hỏi mới",
}
EVENT_LABELS = {
    "created": "tạo yêu cầu", "message": "bổ sung", "edit": "sửa tin", "reply": "trả lời",
    "note": "ghi chú nội bộ", "status": "đổi trạng thái", "assign": "giao/nhận", "transfer": "chuyển",
    "rating": "chấm điểm", "sla": "nhắc hạn", "moved": "tách tin nhắn",
}
COMMAND_USAGE = {
    "queue": "Cú pháp: /ds", "show": "Cú pháp: /xem N", "claim": "Cú pháp: /nhan N",
    "assign": "Cú pháp: /giao N kênh:id", "transfer": "Cú pháp: /chuyen N hàng-đợi",
    "reply": "Cú pháp: /traloi N nội dung", "note": "Cú pháp: /ghichu N nội dung",
    "wait": "Cú pháp: /cho N [nội dung]", "resolve": "Cú pháp: /xong N ghi chú",
    "reopen": "Cú pháp: /mo N [lý do]", "reload": "Cú pháp: /taifaq",
    "unanswered": "Cú pháp: /chuatraloi", "stats": "Cú pháp: /thongke", "quarantine": "Cú pháp: /cachly",
    "grant": "Cú pháp: /capquyen kênh:id technician|admin", "revoke": "Cú pháp: /thuhoi kênh:id",
    "approve": "Cú pháp: /duyet ID", "reject": "Cú pháp: /tuchoi ID",
}
SLA_WHAT = {"response": "chưa có kỹ thuật viên nhận", "resolution": "chưa xử lý xong"}
SLA_REMINDER = "⏰ {code} {what} sau {hours} giờ làm việc (mục tiêu {target} giờ)."
SLA_ESCALATION = "🚨 {code} {what} sau {hours} giờ làm việc, quá gấp đôi mục tiêu {target} giờ."

# -- admin ------------------------------------------------------------------------------------

RELOADED = "Đã nạp lại FAQ: {entries} câu hỏi."
RELOAD_REFUSED = "FAQ có lỗi nên chưa nạp lại (FAQ cũ vẫn đang dùng):\n{problems}"
OTHER_ENTRY_ID = "hoặc mã câu hỏi khác"
NOTHING_UNANSWERED = "Chưa có câu hỏi nào mà FAQ không trả lời được."
UNANSWERED_TITLE = "Câu hỏi FAQ chưa trả lời được (số lần · câu hỏi · lý do):"
UNANSWERED_LINE = "{n}× {query} ({why})"
NOTHING_QUARANTINED = "Không có tin nhắn nào bị cách ly."
QUARANTINE_TITLE = ("Tin nhắn bị cách ly (hệ thống không đọc hoặc không xử lý được), {n} tin; "
                    "mới nhất trước. Xem đầy đủ: python -m bot quarantine list")
QUARANTINE_LINE = "#{id} {at} · {channel} · update {update}: {error}"
FEEDBACK_LABELS = {
    "none": "không tìm thấy", "not_right": "trả lời chưa đúng", "none_of_these": "không câu nào đúng",
    "escalated": "chuyển kỹ thuật viên",
}
ROLE_LABELS = {"staff": "cán bộ", "technician": "kỹ thuật viên", "admin": "quản trị viên"}
ROLE_SET = "Đã đặt {ref} là {role}."
CANNOT_REVOKE_SELF = "Không tự thu hồi quyền của chính mình được."
STATS = (
    "Thống kê:\n"
    "• Yêu cầu: {total} ({statuses})\n"
    "• Theo hệ thống: {systems}\n"
    "• Câu hỏi: {questions}; 30 ngày qua trả lời được {answered}/{recent} ({share}), cách tính như trang Quản trị\n"
    "• Trung vị thời gian phản hồi đầu: {first_response} phút\n"
    "• Điểm đánh giá trung bình: {rating}"
)

# -- web console ------------------------------------------------------------------------------

WEB_LINK_NEEDED = (
    "Để dùng hỏi đáp trên web, anh/chị nhắn /web cho bot trên Telegram hoặc Zalo "
    "để nhận mã 8 ký tự (ví dụ K7QM-4XPA), rồi nhập mã vào đây."
)
WEB_LINK_BAD = "Mã không đúng hoặc đã hết hạn. Anh/chị nhắn /web cho bot để lấy mã mới."
WEB_LINK_CODE = "Mã vào trang hỏi đáp trên web: {code} (dùng một lần, trong 10 phút)."
WEB_BAD_UPLOAD = "Chỉ nhận ảnh PNG, JPEG, GIF hoặc WebP đọc được, tối đa 5 MB và 24 triệu điểm ảnh."
WEB_TOO_MANY_ATTEMPTS = (
    "Nhập sai quá nhiều lần nên tạm thời chưa thử tiếp được. "
    "Anh/chị vui lòng đợi {minutes} phút rồi thử lại."
)
LOGIN_TITLE = "Đăng nhập"
LOGIN_FAILED = "Sai tên đăng nhập hoặc mật khẩu."
LOGIN_NO_ADMIN_YET = (
    "Chưa có tài khoản quản trị nào. Mở liên kết dùng một lần mà bot in ra khi khởi động "
    "để tạo tài khoản đầu tiên, hoặc chạy lệnh: python -m bot users add TÊN --role admin"
)
SETUP_TITLE = "Tạo tài khoản quản trị đầu tiên"
SETUP_INTRO = "Tài khoản này đăng nhập được /console và /admin. Mật khẩu ít nhất 8 ký tự."
SETUP_LINK_USED = (
    "Liên kết cài đặt này đã được dùng hoặc không đúng. Khởi động lại bot để nhận liên kết mới, "
    "hoặc tạo tài khoản bằng lệnh: python -m bot users add TÊN --role admin"
)
SETUP_DONE_ALREADY = "Đã có tài khoản quản trị. Anh/chị đăng nhập để tiếp tục."
SETUP_BAD_NAME = "Tên đăng nhập gồm 2–40 chữ cái không dấu, chữ số hoặc . _ @ -"
SETUP_SHORT_PASSWORD = "Mật khẩu cần ít nhất 8 ký tự."
SETUP_PASSWORDS_DIFFER = "Hai lần nhập mật khẩu không khớp."
FILE_NOT_ALLOWED = "Chỉ kỹ thuật viên và người gửi ảnh mới xem được ảnh này."
WEB_TRY_AGAIN = (
    "Hệ thống đang tạm thời không lưu được tin nhắn, nên tin này CHƯA được gửi. "
    "Nội dung anh/chị gõ vẫn còn trong ô; anh/chị bấm Gửi lại sau ít phút."
)
VARIANT_ADDED = "Đã thêm \"{text}\" làm cách hỏi khác của {entry} và nạp lại FAQ."
VARIANT_REFUSED = "Chưa thêm được (FAQ cũ vẫn dùng): {problems}"
# Personal data in a logged question, as the unanswered list shows it (bot/insight/unanswered.py).
ANNOUNCE_ZALO_HELD = (
    "Trên Zalo OA, cán bộ không nhắn trong 48 giờ qua sẽ nhận khi nhắn lại (tính là \"giữ lại\")."
)
MASKED_EMAIL = "[e-mail]"
MASKED_PHONE = "[số điện thoại]"
MASKED_ID_NUMBER = "[số giấy tờ]"
UNANSWERED_DISMISSED = "Đã bỏ qua \"{text}\": không hiện trong danh sách nữa."
UNANSWERED_SNOOZED = "Đã tạm ẩn \"{text}\" trong {days} ngày."
UNANSWERED_INTRO = (
    "Câu hỏi {days} ngày qua mà FAQ chưa trả lời được, gom theo cách hỏi giống nhau. Không tính lời chào, "
    "cảm ơn, biểu tượng cảm xúc, câu đã chuyển kỹ thuật viên và tin nhắn lúc cán bộ đang có yêu cầu mở; "
    "e-mail, số điện thoại, số giấy tờ được che."
)
# The honest "answered" (bot/insight/answered.py, docs/insight.md): the figure and how it is counted.
ANSWERED_FIGURE = "Trả lời được: {percent} trong {questions} câu hỏi {days} ngày qua."
ANSWERED_HOW = (
    "Tính là trả lời được khi cán bộ bấm “Đã giải quyết”, hoặc bot trả lời (hay cán bộ chọn một câu trong "
    "danh sách gợi ý) rồi trong {minutes} phút cán bộ không hỏi lại cùng chủ đề và không gửi yêu cầu hỗ trợ. "
    "Danh sách gợi ý không ai chọn không tính."
)

# -- the web chat, live (bot/web/chat_pages.py, templates/chat*.html) -----------------------------

CHAT_TITLE = "Hỏi đáp kỹ thuật"
CHAT_WELCOME_TITLE = "Bắt đầu từ đây"
CHAT_WELCOME_STEPS = (
    "Gõ câu hỏi vào ô dưới cùng rồi bấm Gửi. Có dấu hay không dấu đều được, ví dụ: \"quên mật khẩu một cửa\".",
    "Hướng dẫn chưa giải quyết được: bấm \"Báo sự cố\" để gửi yêu cầu cho kỹ thuật viên của tỉnh, "
    "kèm ảnh chụp màn hình lỗi nếu có.",
    "Kỹ thuật viên trả lời ngay trên trang này, không cần tải lại trang.",
)
CHAT_REGISTER_FIRST = (
    "Lần đầu dùng: bấm \"Đăng ký\" (một lần, khoảng 1 phút) để kỹ thuật viên biết anh/chị ở xã, phường nào "
    "và gọi lại được khi cần."
)
CHAT_QUICK_REGISTER = "📝 Đăng ký"
CHAT_TEXT_LABEL = "Câu hỏi hoặc tin nhắn"
CHAT_TEXT_PLACEHOLDER = "Gõ câu hỏi, ví dụ: quên mật khẩu một cửa"
CHAT_ATTACH_LABEL = "📎 Đính kèm ảnh chụp màn hình"
CHAT_SEND = "Gửi"
CHAT_LINK_TITLE = "Vào trang hỏi đáp"
CHAT_LINK_CODE_LABEL = "Mã 8 ký tự bot gửi cho anh/chị"
CHAT_LINK_ENTER = "Vào"
CHAT_RETRY = "Thử lại"
CHAT_OFFLINE = "Mất kết nối, đang thử kết nối lại… Tin nhắn mới vẫn được tải mỗi vài giây."

# -- the technicians' console, live (bot/web/desk_pages.py, templates/desk_*.html) -------------------

DESK_QUEUE_TITLE = "Hàng đợi yêu cầu"
DESK_LIVE_ON = "Tự cập nhật khi có thay đổi"
DESK_LIVE_OFF = "Chưa có cập nhật tự động, đang thử kết nối lại…"
DESK_SOUND = "🔔 Báo tiếng khi có yêu cầu mới"
DESK_NEW_TICKETS = "{n} yêu cầu mới"
DESK_BACK_TO_QUEUE = "← Hàng đợi"
DESK_CONVERSATION = "Trao đổi"
DESK_BEFORE_REPORT = "Trước khi báo sự cố (trò chuyện với bot)"
DESK_INTERNAL = "nội bộ, cán bộ không thấy"
DESK_REPLY_LABEL = "Trả lời cán bộ (gửi tới kênh của cán bộ)"
DESK_REPLY_SEND = "Gửi trả lời"
DESK_CANNED_PICK = "Chọn câu trả lời mẫu…"
DESK_CANNED_LABEL = "Câu trả lời mẫu"
DESK_NOTE_LABEL = "Ghi chú nội bộ (cán bộ không thấy)"
DESK_NOTE_SEND = "Ghi chú"
DESK_CLAIM = "Nhận xử lý"
DESK_WAIT = "Chờ cán bộ bổ sung"
DESK_WAIT_PLACEHOLDER = "Cần cán bộ bổ sung gì?"
DESK_RESOLVE = "Đã xử lý"
DESK_RESOLVE_LABEL = "Cách xử lý (cán bộ đọc được)"
DESK_TRANSFER = "Chuyển"
DESK_TRANSFER_LABEL = "Chuyển sang nhóm"
DESK_REOPEN = "Mở lại"
DESK_FAQ_TITLE = "Gửi hướng dẫn từ câu hỏi thường gặp"
DESK_FAQ_SEARCH = "Tìm hướng dẫn"
DESK_FAQ_PLACEHOLDER = "ví dụ: token không nhận"
DESK_FAQ_SEND = "Gửi hướng dẫn này"
DESK_FAQ_NONE = "Không tìm thấy hướng dẫn nào khớp."
FAQ_FROM_TECHNICIAN = "📘 Hướng dẫn: {question}\n\n{answer}"
# An FAQ answer's line pointing to a technician, left out when a technician sends it into a ticket.
FAQ_ESCALATION_MARK = '"Gặp kỹ thuật viên"'
DESK_ATTACHMENTS = "Ảnh đính kèm"
DESK_PAST_TITLE = "Cách đã xử lý trước đây"
DESK_PAST_HINT = "Tìm trong mô tả và cách xử lý của mọi yêu cầu, kể cả đã đóng"
DESK_PAST_SEARCH = "Tìm"
DESK_ACTIONS = "Xử lý"
DESK_MORE_ACTIONS = "Thao tác khác"
EVENT_TRANSFERRED = "chuyển sang {queue}"
EVENT_ASSIGNED = "giao cho {name}"
EVENT_STATUS_TO = "chuyển trạng thái: {status}"
DESK_WHO_TECHNICIAN = "🛠 {name}"
CANNED_TITLE = "Câu trả lời mẫu"
CANNED_INTRO = "Câu trả lời cả nhóm dùng chung; chọn trong trang yêu cầu để điền sẵn vào ô trả lời."
CANNED_NAME = "Tên ngắn"
CANNED_TEXT = "Nội dung"
CANNED_ADD = "Thêm câu trả lời mẫu"
CANNED_SAVE = "Lưu"
CANNED_DELETE = "Xoá"
CANNED_EMPTY = "Chưa có câu trả lời mẫu nào."
CANNED_MISSING = "Cần cả tên ngắn và nội dung."
CANNED_SAVED = "Đã lưu câu trả lời mẫu \"{title}\"."
CANNED_DELETED = "Đã xoá câu trả lời mẫu."
CANNED_MANAGE = "Sửa câu trả lời mẫu"

# -- operational alerts to admins (bot/ops/alerts.py) ---------------------------------------

ALERT_OUTBOX_BACKLOG = ("⚠️ {n} tin nhắn trên kênh {channel} đang chờ gửi, tin cũ nhất đã {minutes} phút. "
                        "Kiểm tra kết nối của máy chủ (python -m bot doctor).")
ALERT_CHANNEL_FAILING = ("⚠️ Kênh {channel} gửi lỗi liên tiếp: {n} tin đang thử lại. Lỗi gần nhất: {error}. "
                         "Tin nhắn vẫn được giữ và sẽ gửi khi kênh hoạt động lại.")

# -- the FAQ editor (/admin/faq); faq check's own findings stay as it words them -----------------

FAQ_ID_INVALID = "Mã chỉ gồm chữ thường không dấu, số và dấu -, từ 3 đến 61 ký tự."
FAQ_ID_TAKEN = "Mã {id} đã được câu hỏi khác dùng."
FAQ_SYSTEM_UNKNOWN = "Không có hệ thống \"{system}\"."
FAQ_FIELD_EMPTY = "Không được để trống."
FAQ_ENTRY_GONE = "Câu hỏi {id} không còn (có thể người khác vừa xoá)."
FAQ_EDIT_GONE = "Không có sửa đổi #{edit}."
FAQ_CHANGED_SINCE = "{file} đã được sửa sau lần #{edit}; hãy hoàn tác các lần sửa sau trước."

# -- province insight: monthly report, shared outages, announcements ----------------------------

MONTHLY_REPORT_DOCUMENT = "📊 Báo cáo nhu cầu tập huấn tháng {month} (mở tệp đính kèm bằng trình duyệt)."
MONTHLY_REPORT_LINK = "📊 Báo cáo nhu cầu tập huấn tháng {month}: {link}"

# The report page itself (bot/insight/templates/report.html).
REPORT_TITLE = "Báo cáo nhu cầu tập huấn tháng {month}"
REPORT_HEADING = "Báo cáo nhu cầu tập huấn — tháng {month}"
REPORT_SUBTITLE = ("Từ hoạt động của trợ lý hỗ trợ kỹ thuật cấp xã, tỉnh Lào Cai. Lập lúc {generated}. "
                   "Chỉ có số liệu theo xã/phường và hệ thống; không có thông tin cá nhân của cán bộ.")
REPORT_SECTIONS = {
    "summary": "Tổng quan", "charts": "Biểu đồ", "communes_need": "Xã/phường cần tập huấn nhất",
    "topics_need": "Nội dung cần tập huấn nhất", "systems": "Theo hệ thống", "communes": "Theo xã/phường",
}
REPORT_CARDS = {
    "questions": "Câu hỏi", "answered": "Trả lời được", "helpful": "Giải quyết nhờ FAQ",
    "unanswered": "Chưa giải đáp được", "repeated": "Hỏi lại cùng một việc", "tickets": "Yêu cầu hỗ trợ",
    "first_response": "Phản hồi đầu (trung vị)", "resolution": "Xử lý xong (trung vị)",
    "sla_breaches": "Quá hạn SLA", "rating": "Đánh giá",
}
REPORT_COMPARED = "so với {month}"
REPORT_NEED_SCORE = "mức {score}"
REPORT_NO_COMMUNE_NEEDS = "Không có xã/phường nào có dấu hiệu cần tập huấn trong tháng."
REPORT_NO_TOPIC_NEEDS = "Không có nội dung nào bị hỏi lại nhiều lần trong tháng."
REPORT_OUTAGE = ("{n} yêu cầu trong tháng thuộc sự cố chung (một hệ thống lỗi cho nhiều xã cùng lúc): "
                 "được tính là yêu cầu hỗ trợ, nhưng không tính là nhu cầu tập huấn.")
REPORT_SYSTEM = "Hệ thống"
REPORT_COMMUNE = "Xã/phường"
REPORT_TABLE_HEAD = ("Câu hỏi", "Giải quyết nhờ FAQ", "Chưa giải đáp", "Hỏi lại", "Yêu cầu", "Phản hồi đầu",
                     "Xử lý xong", "Quá hạn", "Đánh giá")
REPORT_HOURS = "{hours:.1f} giờ"
REPORT_HOURS_UNIT = " giờ"
REPORT_CHARTS = {
    "needs": "Xã/phường cần tập huấn (mức cần)", "needs_axis": "Mức cần tập huấn",
    "outcomes": "Câu hỏi của 15 xã/phường hỏi nhiều nhất", "systems": "Yêu cầu hỗ trợ theo hệ thống",
    "systems_axis": "Số yêu cầu", "weekly": "Theo tuần, tháng {before} và {month}",
}
REPORT_HOW_TITLE = "Cách tính."
REPORT_HOW = (
    "Câu hỏi thuộc xã/phường của cán bộ hỏi và thuộc hệ thống của mục hướng dẫn (FAQ) đã trả lời. "
    "“Trả lời được”: cán bộ bấm “Đã giải quyết”, hoặc bot trả lời (hay cán bộ chọn một câu gợi ý) "
    "rồi trong 30 phút cán bộ không hỏi lại cùng chủ đề và không gửi yêu cầu; danh sách gợi ý không "
    "ai chọn không tính (cùng cách tính với trang Quản trị). “Giải quyết nhờ FAQ”: cán bộ bấm “Đã "
    "giải quyết”. “Chưa giải đáp”: không tìm được hướng dẫn, hoặc cán bộ báo hướng dẫn chưa đúng ý. "
    "“Hỏi lại”: một xã/phường hỏi cùng một mục hướng dẫn từ 3 lần trở lên trong tháng — dấu hiệu cần "
    "tập huấn, khác với sự cố. Thời gian tính theo giờ hành chính. “Quá hạn”: phản hồi đầu hoặc xử "
    "lý xong chậm hơn mục tiêu SLA theo mức khẩn. Mức cần tập huấn của xã/phường = 2 × số lần hỏi "
    "lại (sau lần đầu) + số câu chưa giải đáp + số lần đọc hướng dẫn rồi vẫn phải gặp kỹ thuật viên. "
    "Các thay đổi (+/−) so với tháng trước; xanh là tốt lên, đỏ là xấu đi."
)

INCIDENT_NOTICE = (
    "⚠️ Hệ thống {system} đang gặp sự cố chung từ {since}, kỹ thuật viên đang xử lý "
    "({n} xã/phường đã báo). Anh/chị không cần báo lại; khắc phục xong tôi sẽ nhắn.\n"
    "Nếu anh/chị gặp vấn đề khác, bấm \"Báo vấn đề khác\"."
)
BTN_INCIDENT_ME_TOO = "🙋 Xã tôi cũng bị"
BTN_REPORT_DIFFERENT = "🛠 Báo vấn đề khác"
INCIDENT_ME_TOO_DESCRIPTION = "Cũng gặp sự cố chung: {title}"
INCIDENT_LINKED = (
    "ℹ️ Yêu cầu {code} của anh/chị thuộc sự cố chung của hệ thống {system} (từ {since}, "
    "{communes} xã/phường đã báo). Đây là sự cố đã biết, kỹ thuật viên đang xử lý; "
    "khắc phục xong tôi sẽ nhắn anh/chị."
)
INCIDENT_CARD = (
    "🚨 Sự cố chung {code} · {system}\n"
    "Từ {since} · {n} xã/phường: {communes}\n"
    "Mô tả: {title}\n"
    "Yêu cầu: {tickets}\n"
    "{status}"
)
INCIDENT_OPEN = "Đang xử lý. Khắc phục xong: /xongsuco {code} ghi chú (mọi yêu cầu sẽ được báo đã xử lý)."
INCIDENT_RESOLVED_STATUS = "✅ Đã khắc phục: {note}"
INCIDENT_NOT_FOUND = "Không có sự cố chung {code}."
INCIDENT_NOT_OPEN = "Sự cố chung {code} đã được khắc phục rồi."
INCIDENT_NOT_OPEN_FOR_YOU = "Sự cố chung này vừa được khắc phục. Nếu vẫn còn lỗi, anh/chị bấm /baoloi để báo."
INCIDENT_UNKNOWN_SYSTEM = "Không có hệ thống \"{system}\". Các hệ thống: {known}"
INCIDENT_ALREADY_OPEN = "Hệ thống này đang có sự cố chung {code}."
INCIDENT_DECLARE_USAGE = "Cách dùng: /sucochung hệ-thống mô tả, ví dụ: /sucochung motcua Máy chủ một cửa mất kết nối"
INCIDENT_RESOLVE_USAGE = "Cách dùng: /xongsuco số ghi chú, ví dụ: /xongsuco 3 Máy chủ đã hoạt động lại"
INCIDENT_DECLARED = "Đã mở sự cố chung {code}; {n} yêu cầu đang mở được gắn vào."
INCIDENT_YOU_RESOLVED = "Đã khắc phục sự cố chung {code}; {n} yêu cầu được báo đã xử lý."
INCIDENT_NONE_OPEN = "Không có sự cố chung nào đang mở."
INCIDENT_JOINED = "Đã ghi nhận yêu cầu {code}, gắn vào sự cố chung {incident}. Khắc phục xong tôi sẽ nhắn anh/chị."

ANNOUNCEMENT = "📢 Thông báo của Trung tâm hỗ trợ kỹ thuật:\n{text}"
ANNOUNCE_EMPTY = "Thông báo trống."
ANNOUNCE_TOO_LONG = "Thông báo dài {n} ký tự; tối đa {limit} để gửi được trên mọi kênh."
ANNOUNCE_NOBODY = "Không có cán bộ nào trong nhóm nhận này."
ANNOUNCE_UNKNOWN_COMMUNES = "Chưa chọn xã/phường, hoặc không có mã xã/phường: {communes}"
ANNOUNCE_TO_ALL = "Tất cả cán bộ"
ANNOUNCE_TO_SYSTEM = "Cán bộ đã hỏi về {system}"
ANNOUNCE_SENT = "Đã xếp thông báo #{id} để gửi cho {n} cán bộ."
