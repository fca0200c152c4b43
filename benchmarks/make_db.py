"""A realistic help-desk database: two years of officials, tickets, events, messages and questions.

    python benchmarks/make_db.py --out /tmp/desk.sqlite                  # full size, about a minute
    python benchmarks/make_db.py --out /tmp/small.sqlite --tickets 1000 --officials 500 \\
        --messages 10000 --queries 4000

The schema is the project's own: the file is created by ``bot.store.schema.open_database``
(every migration, FTS and triggers included), rows are bulk-inserted into those tables, and
the stored deadlines are computed by the project's ``TicketStore`` with the shipped
``config.yaml`` (SLA targets, working hours). Nothing is invented about the schema here.

What is generated, for a clock set at ``--now`` (default Monday 24 Nov 2026, 10:00 in Hà Nội):

* officials (``--officials``) spread over the 99 communes of ``knowledge/province/communes.yaml``,
  registered on Telegram or Zalo, plus technicians and admins;
* tickets (``--tickets``) over two years (``--days``), opened in office hours, on the
  systems of ``knowledge/province/systems.yaml``, each described with a real FAQ question and a
  symptom; they are claimed, answered, sometimes noted, resolved and closed or rated in
  working time by the shipped calendar, so about 1 % are still open at ``--now``;
* each ticket's events (created, assign, replies, the official's messages, notes,
  status changes, rating, SLA reminders): about 6.4 per ticket;
* the messages table (``--messages``): each ticket's conversation, then questions and the
  bot's answers to fill the count;
* the query log (``--queries``): FAQ questions as officials type them (some without
  diacritics), with the matcher's decision and the official's feedback.

The output is the same for the same flags and seed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.config import load_config  # noqa: E402
from bot.desk.people import People  # noqa: E402
from bot.desk.tickets import (  # noqa: E402
    SLA_RESOLUTION_ESCALATED,
    SLA_RESOLUTION_REMINDED,
    SLA_RESPONSE_ESCALATED,
    SLA_RESPONSE_REMINDED,
    TicketStore,
)
from bot.desk.workhours import WorkingHours  # noqa: E402
from bot.knowledge.base import load_knowledge, province_file  # noqa: E402
from bot.knowledge.communes import load_communes  # noqa: E402
from bot.store.schema import open_database  # noqa: E402

DEFAULT_NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Monday 10:00 in Hà Nội
SYMPTOMS = (
    "báo lỗi 500", "không vào được từ sáng nay", "quay mãi không tải xong", "báo sai mật khẩu",
    "mất kết nối liên tục", "bị treo khi bấm lưu", "hiện thông báo hết phiên làm việc",
    "không nhận token", "không gửi được hồ sơ", "chữ bị lỗi phông", "máy báo chứng thư hết hạn",
    "đồng bộ không lên cổng", "không in được phiếu", "người dân đang chờ", "cả bộ phận đều bị",
)
TECH_REPLIES = (
    "Anh/chị thử đăng xuất, xóa bộ nhớ đệm trình duyệt rồi đăng nhập lại giúp em.",
    "Em đã kiểm tra, lỗi do máy chủ đang bảo trì, khoảng 30 phút nữa anh/chị thử lại.",
    "Anh/chị gửi giúp em ảnh chụp màn hình lúc báo lỗi.",
    "Anh/chị cắm token sang cổng USB khác và cài lại driver theo hướng dẫn.",
    "Em đã đặt lại mật khẩu, anh/chị kiểm tra tin nhắn và đăng nhập lại.",
    "Tài khoản của anh/chị chưa được phân quyền xử lý hồ sơ, em đã báo quản trị cấp quyền.",
)
OFFICIAL_MESSAGES = (
    "Em gửi ảnh ạ", "Vẫn chưa được anh ơi", "Em thử lại rồi vẫn báo lỗi", "Dạ em cảm ơn",
    "Máy em dùng Windows 7 ạ", "Bên em cả 3 máy đều bị", "Giờ vào được rồi ạ",
)
NOTES = (
    "Đã báo nhà cung cấp phần mềm", "Lỗi trùng với phiếu hôm qua của xã bên cạnh",
    "Cần kiểm tra lại phân quyền trên hệ thống tỉnh", "Token hết hạn chứng thư, hướng dẫn gia hạn",
)
RESOLUTIONS = (
    "Đã cài lại driver token, ký thử thành công.", "Đã đặt lại mật khẩu và hướng dẫn đổi mật khẩu.",
    "Lỗi phía máy chủ tỉnh, đã khắc phục.", "Đã cấp lại quyền xử lý hồ sơ cho tài khoản.",
    "Hướng dẫn xóa bộ nhớ đệm trình duyệt, đã vào được.", "Đã đồng bộ lại hồ sơ lên Cổng DVC quốc gia.",
)
# Questions outside the FAQ (what the admin page lists as unanswered), with their ways of being asked.
UNANSWERED = (
    "máy chiếu phòng họp không lên hình", "xin mẫu báo cáo tổng kết năm", "phần mềm kế toán misa bị lỗi",
    "wifi ủy ban yếu quá", "cách đăng ký sim chính chủ", "lịch nghỉ tết năm nay thế nào",
    "camera ở bộ phận một cửa không ghi hình", "phần mềm quản lý cán bộ ở đâu", "loa phát thanh xã bị rè",
    "điện thoại bàn không gọi ra ngoài được", "cách làm thẻ bảo hiểm y tế cho trẻ em", "in màu bị nhòe",
    "đặt mua mực máy in ở đâu", "phần mềm quản lý văn bản cũ còn dùng không", "tra cứu quy hoạch đất",
    "máy photo kẹt giấy liên tục", "cài zalo trên máy tính cơ quan", "xin tài khoản hệ thống báo cáo",
)
UNANSWERED_TAILS = ("", " ạ", " vậy", " với ạ", " anh ơi", " gấp", " mãi không được", " bên em")
BOT_ANSWER = "Anh/chị làm theo các bước sau:\n1. Mở phần mềm\n2. Chọn chức năng\n3. Làm theo hướng dẫn"
FEEDBACK = ((None, 0.80), ("solved", 0.11), ("not_right", 0.03), ("none_of_these", 0.02), ("escalated", 0.04))
DECISIONS = (("answer", 0.70), ("clarify", 0.16), ("none", 0.14))


def fold(text: str) -> str:
    """Plain ASCII the way many officials type on a phone."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").lower()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def pick(rng: random.Random, weighted: tuple[tuple[object, float], ...]) -> object:
    x, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if x < total:
            return value
    return weighted[-1][0]


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.config = load_config(REPO / "config.yaml")
        wh = self.config.working_hours
        self.calendar = WorkingHours.from_config(list(wh.days), list(wh.periods), list(wh.holidays),
                                                 list(wh.extra_workdays), wh.timezone, "working_hours")
        self.kb = load_knowledge(REPO / "knowledge")
        self.communes = load_communes(province_file(REPO / "knowledge", "communes.yaml"))
        self.now: datetime = args.now
        self.start = self.now - timedelta(days=args.days)
        self.entries = [e for e in self.kb.entries if e.system in self.kb.systems]
        self.counts: dict[str, int] = {}

    # -- time ---------------------------------------------------------------------------

    def office_moment(self, low: datetime, high: datetime) -> datetime:
        """A random moment in [low, high), moved to the next office opening when closed."""
        span = (high - low).total_seconds()
        moment = low + timedelta(seconds=self.rng.random() * span)
        return self.calendar.next_open(moment).astimezone(UTC)

    def later(self, moment: datetime, working_minutes: float) -> datetime:
        return self.calendar.add_working_time(moment, timedelta(minutes=working_minutes)).astimezone(UTC)

    # -- tables -------------------------------------------------------------------------

    def people(self, conn) -> tuple[list[int], list[int], dict[int, tuple[str, str]]]:  # noqa: ANN001
        """Officials, technicians, admins and their identities; returns (officials, technicians, chats)."""
        rng, n = self.rng, self.args.officials
        users, identities, conversations = [], [], []
        chats: dict[int, tuple[str, str]] = {}
        titles = ("Công chức Văn phòng - Thống kê", "Công chức Tư pháp - Hộ tịch", "Cán bộ một cửa",
                  "Công chức Địa chính", "Phó Chủ tịch UBND xã", "Công chức Văn hóa - Xã hội")
        family, middle, given = ("Nguyễn", "Trần", "Lê", "Hoàng", "Lò", "Giàng", "Vàng", "Sùng", "Hà"), \
            ("Văn", "Thị", "Thu", "Minh", "Đức"), ("An", "Bình", "Chi", "Dũng", "Hoa", "Lan", "Mai", "Sơn", "Tú")
        ids = list(range(1, n + 31))
        for user_id in ids:
            role = "staff" if user_id <= n else ("technician" if user_id <= n + 25 else "admin")
            created = self.start + timedelta(days=rng.random() * 60 if rng.random() < 0.7 else rng.random() * self.args.days)
            commune = rng.choice(self.communes)
            users.append((user_id, iso(created), f"{rng.choice(family)} {rng.choice(middle)} {rng.choice(given)}",
                          rng.choice(titles), f"09{rng.randrange(10**8):08d}", commune.id, role, "active", 0))
            channel = "telegram" if rng.random() < 0.6 else "zalo_oa"
            ref = str(5_000_000_000 + user_id) if channel == "telegram" else f"{rng.getrandbits(60):x}"
            chats[user_id] = (channel, ref)
            identities.append((channel, ref, user_id, ref, "", iso(created), iso(self.now - timedelta(days=rng.random() * 30))))
            conversations.append((channel, ref, "idle", "{}", iso(self.now - timedelta(days=rng.random() * 30))))
        conn.executemany("insert into users (id, created_at, full_name, job_title, phone, commune_id, role, status, "
                         "unreachable) values (?,?,?,?,?,?,?,?,?)", users)
        conn.executemany("insert into identities (channel, user_ref, user_id, chat_ref, display_name, created_at, "
                         "last_seen_at) values (?,?,?,?,?,?,?)", identities)
        conn.executemany("insert into conversations (channel, user_ref, state, data, updated_at) values (?,?,?,?,?)",
                         conversations)
        self.counts["users"] = len(users)
        return ids[:n], ids[n:n + 25], chats

    def tickets(self, conn, officials: list[int], technicians: list[int],  # noqa: ANN001
                chats: dict[int, tuple[str, str]]) -> list[tuple]:
        """Tickets with their events and attachments; returns the messages of their conversations."""
        rng, sla = self.rng, self.config.tickets.sla
        # Some communes (and officials) write far more than others.
        weights = [1 / (1 + i) ** 0.6 for i in range(len(officials))]
        owners = rng.choices(officials, weights=weights, k=self.args.tickets)
        created_list = sorted(self.office_moment(self.start, self.now) for _ in range(self.args.tickets))
        tickets, events, attachments, messages = [], [], [], []
        auto_close = timedelta(hours=self.config.tickets.auto_close_hours)
        event_id = 0

        def event(ticket_id: int, at: datetime, actor: int | None, kind: str, text: str = "",
                  internal: int = 0, data: dict | None = None) -> int:
            nonlocal event_id
            event_id += 1
            events.append((event_id, ticket_id, iso(at), actor, kind, text, internal,
                           json.dumps(data, ensure_ascii=False) if data else None))
            return event_id

        commune_of = {u: c for u, c in conn.execute("select id, commune_id from users")}
        for ticket_id, (created, owner) in enumerate(zip(created_list, owners, strict=True), 1):
            entry = rng.choice(self.entries)
            system = self.kb.systems[entry.system]  # type: ignore[index]
            urgency = "urgent" if rng.random() < 0.12 else "normal"
            target = sla.urgent if urgency == "urgent" else sla.normal
            description = f"{entry.question.rstrip('?')}, {rng.choice(SYMPTOMS)}"
            channel = chats[owner][0]
            transcript = [{"at": iso(created - timedelta(minutes=3)), "direction": "in", "text": fold(entry.question)},
                          {"at": iso(created - timedelta(minutes=3)), "direction": "out", "text": BOT_ANSWER},
                          {"at": iso(created - timedelta(minutes=2)), "direction": "in", "text": "/baoloi"},
                          {"at": iso(created - timedelta(minutes=1)), "direction": "in", "text": description}]
            for m in transcript:
                messages.append((owner, m["at"], m["direction"], channel, m["text"], None))
            messages.append((owner, iso(created), "out", channel, f"Đã gửi yêu cầu #{ticket_id}", ticket_id))
            created_event = event(ticket_id, created, owner, "created", description)
            if rng.random() < 0.3:
                attachments.append((ticket_id, created_event, channel, f"AgACAgUAAxkB{rng.getrandbits(80):x}",
                                    "photo", "", iso(created)))
            stale = rng.random() < 0.005  # a few are never finished
            tech = rng.choice(technicians)
            first = self.later(created, rng.expovariate(1 / (target.first_response_hours * 60 * 0.5)))
            fields = {"status": "new", "assignee_id": None, "first_response_at": None, "resolved_at": None,
                      "closed_at": None, "resolution_note": None, "rating": None}
            last = created
            stage = 0
            if first <= self.now:
                event(ticket_id, first, tech, "assign", data={"to": tech})
                fields.update(status="assigned", assignee_id=tech, first_response_at=iso(first))
                last = first
                if (first - created) > timedelta(hours=target.first_response_hours * 2.5):
                    event(ticket_id, first - timedelta(minutes=5), None, "sla", "response reminder", 1)
                    stage = SLA_RESPONSE_REMINDED
                at = first
                for _ in range(rng.choice((1, 1, 1, 1, 2, 3))):
                    at = self.later(at, rng.uniform(5, 120))
                    if at > self.now:
                        break
                    event(ticket_id, at, tech, "reply", rng.choice(TECH_REPLIES))
                    messages.append((owner, iso(at), "out", channel, rng.choice(TECH_REPLIES), ticket_id))
                    last = at
                    if rng.random() < 0.45:
                        at = self.later(at, rng.uniform(2, 60))
                        if at > self.now:
                            break
                        text = rng.choice(OFFICIAL_MESSAGES)
                        event(ticket_id, at, owner, "message", text)
                        messages.append((owner, iso(at), "in", channel, text, ticket_id))
                        last = at
                if rng.random() < 0.25 and at <= self.now:
                    event(ticket_id, at, tech, "note", rng.choice(NOTES), 1)
                if stale and rng.random() < 0.5 and at <= self.now:
                    event(ticket_id, at, tech, "status", "Cần ảnh chụp màn hình", data={"to": "waiting_user"})
                    fields["status"] = "waiting_user"
                resolved = self.later(first, rng.expovariate(1 / (target.resolution_hours * 60 * 0.35)))
                if not stale and resolved <= self.now:
                    resolved = max(resolved, last)
                    note = rng.choice(RESOLUTIONS)
                    event(ticket_id, resolved, tech, "status", note, data={"to": "resolved"})
                    fields.update(status="resolved", resolved_at=iso(resolved), resolution_note=note)
                    done = resolved + timedelta(minutes=rng.uniform(5, 600))
                    if rng.random() < 0.55 and done <= self.now:
                        stars = rng.choice((3, 4, 4, 5, 5, 5))
                        event(ticket_id, done, owner, "rating", str(stars), data={"stars": stars})
                        fields.update(status="closed", closed_at=iso(done), rating=stars)
                    elif resolved + auto_close <= self.now:
                        event(ticket_id, resolved + auto_close, None, "status", "auto-closed", data={"to": "closed"})
                        fields.update(status="closed", closed_at=iso(resolved + auto_close))
                    last = max(last, resolved)
            if fields["status"] in ("new", "assigned"):
                stage = self.stage_now(created, target, fields["first_response_at"] is not None, stage)
            tickets.append((
                ticket_id, owner, channel, commune_of[owner], system.id, system.queue, fields["status"], urgency,
                description, fields["assignee_id"], json.dumps(transcript, ensure_ascii=False), iso(created),
                iso(last), fields["first_response_at"], fields["resolved_at"], fields["closed_at"],
                fields["resolution_note"], fields["rating"], iso(last), stage))
        conn.executemany(
            "insert into tickets (id, user_id, channel, commune_id, system_id, queue_id, status, urgency, description, "
            "assignee_id, transcript, created_at, updated_at, first_response_at, resolved_at, closed_at, "
            "resolution_note, rating, last_activity_at, sla_stage) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            tickets)
        conn.executemany("insert into ticket_events (id, ticket_id, at, actor_id, kind, text, internal, data) "
                         "values (?,?,?,?,?,?,?,?)", events)
        conn.executemany("insert into attachments (ticket_id, event_id, channel, file_ref, kind, caption, created_at) "
                         "values (?,?,?,?,?,?,?)", attachments)
        self.counts.update(tickets=len(tickets), ticket_events=len(events), attachments=len(attachments))
        return messages

    def stage_now(self, created: datetime, target, responded: bool, stage: int) -> int:  # noqa: ANN001
        """The reminders tick() would already have sent, so the first tick sends no backlog."""
        hours = self.calendar.working_time_between(created, self.now) / timedelta(hours=1)
        if responded:
            limit, stages = target.resolution_hours, (SLA_RESOLUTION_REMINDED, SLA_RESOLUTION_ESCALATED)
        else:
            limit, stages = target.first_response_hours, (SLA_RESPONSE_REMINDED, SLA_RESPONSE_ESCALATED)
        if hours >= 2 * limit:
            return stages[1]
        if hours >= limit:
            return stages[0]
        return stage

    def questions(self, officials: list[int], chats: dict[int, tuple[str, str]]) -> Iterator[tuple[tuple, tuple, tuple]]:
        """Query-log rows with the question and answer messages they leave."""
        rng = self.rng
        ids = [e.id for e in self.entries]
        for _ in range(self.args.queries):
            user = rng.choice(officials)
            entry = rng.choice(self.entries)
            decision = pick(rng, DECISIONS)
            if decision == "none":
                text = rng.choice(UNANSWERED) + rng.choice(UNANSWERED_TAILS)
            else:
                text = rng.choice(entry.phrasings)
            if rng.random() < 0.45:
                text = fold(text)
            at = iso(self.office_moment(self.start, self.now))
            feedback = pick(rng, FEEDBACK) if decision != "none" else None
            candidates = [entry.id] + rng.sample(ids, 2) if decision != "none" else []
            score = rng.uniform(0.8, 1.0) if decision == "answer" else rng.uniform(0.3, 0.8)
            channel = chats[user][0]
            yield ((at, user, channel, text, decision, entry.id if decision == "answer" else None, round(score, 4),
                    json.dumps(candidates), feedback),
                   (user, at, "in", channel, text, None),
                   (user, at, "out", channel, BOT_ANSWER if decision == "answer" else "Có phải anh/chị hỏi…", None))

    def run(self) -> dict[str, int]:
        path: Path = self.args.out
        if path.exists():
            if not self.args.force:
                raise SystemExit(f"{path} exists; pass --force to replace it")
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        db = open_database(path)  # the project's schema: every migration
        conn = db.conn
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        officials, technicians, chats = self.people(conn)
        messages = self.tickets(conn, officials, technicians, chats)
        query_rows, question_messages = [], []
        room = max(self.args.messages - len(messages), 0)
        for row, asked, answered in self.questions(officials, chats):
            query_rows.append(row)
            if len(question_messages) + 2 <= room:
                question_messages += [asked, answered]
        messages += question_messages
        while len(messages) < self.args.messages:  # greetings, registrations, menus
            user = self.rng.choice(officials)
            at = iso(self.office_moment(self.start, self.now))
            messages.append((user, at, "in", chats[user][0], self.rng.choice(("xin chào", "/menu", "cảm ơn")), None))
        messages.sort(key=lambda m: m[1])
        conn.executemany("insert into query_log (at, user_id, channel, query, decision, entry_id, score, candidates, "
                         "feedback) values (?,?,?,?,?,?,?,?,?)", sorted(query_rows))
        conn.executemany("insert into messages (user_id, at, direction, channel, text, ticket_id) "
                         "values (?,?,?,?,?,?)", messages[: self.args.messages])
        conn.execute("COMMIT")
        self.counts.update(messages=min(len(messages), self.args.messages), query_log=len(query_rows))
        # Deadlines and any other derived tables, by the project's own ticket store.
        store = TicketStore(db, People(db, lambda: self.now), self.config, self.kb.systems, self.calendar,
                            lambda: self.now, {c.id: c.name for c in self.communes})
        store.refresh_deadlines()
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("ANALYZE")
        db.close()
        return self.counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the SQLite file to write")
    parser.add_argument("--force", action="store_true", help="replace the file if it exists")
    parser.add_argument("--officials", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--queries", type=int, default=200_000, help="query-log rows")
    parser.add_argument("--days", type=int, default=730, help="how far back the history goes")
    parser.add_argument("--now", type=datetime.fromisoformat, default=DEFAULT_NOW,
                        help="the moment the database is 'now' at (ISO 8601 with an offset)")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.now.tzinfo is None:
        parser.error("--now needs a UTC offset, e.g. 2026-11-24T10:00:00+07:00")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    began = time.perf_counter()
    counts = Generator(args).run()
    size = args.out.stat().st_size / 1e6
    print(f"{args.out}: {size:.0f} MB in {time.perf_counter() - began:.1f} s")
    for table, n in counts.items():
        print(f"  {table:14} {n:>9,}")


if __name__ == "__main__":
    main()
