"""`python -m bot demo`: a fresh database filled with a realistic month or two of activity.

Everything goes through the bot's own code paths: officials register, ask
questions and report problems as `Incoming` messages to the real engine;
technicians claim, reply and resolve with the same commands they type in
Telegram; the ticket store's timers send SLA reminders and close what nobody
confirmed. Only the clock is simulated. The same seed and end date give the
same database, so tests can use it.

What the month holds, so a newcomer sees every page populated:
- communes from `knowledge/communes.yaml`, one or two officials each, on
  Telegram, Zalo OA and Zalo Bot;
- questions drawn from the FAQ's own phrasings, typed the way officials type
  (no diacritics, `mk`, `ko`, `dc`, "cho em hỏi … ạ", the odd typo), and some
  the FAQ cannot answer;
- a few communes that ask the same how-to again and again (a training need);
- tickets through their whole life: claimed (some late, breaching the SLA),
  answered, resolved, confirmed and rated, reopened, or closed unanswered;
- one shared outage: many communes reporting the one-door system down in the
  same morning.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from bot.app import Services
from bot.desk.people import Person
from bot.knowledge.base import Entry
from bot.models import Incoming, Reply

# Fictional people: common family, middle and given names of the province's peoples.
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Bùi", "Lò", "Giàng", "Sùng", "Vàng",
          "Lù", "Thào", "Hà", "Lương", "Đặng", "Tẩn", "Lý", "Nông"]
MIDDLE = ["Văn", "Thị", "Thị", "Văn", "A", "Seo", "Thị Thu", "Minh", "Đức", "Thanh"]
GIVEN = ["An", "Bình", "Chung", "Dũng", "Giang", "Hà", "Hải", "Hằng", "Hoa", "Hùng", "Lan", "Linh",
         "Mai", "Minh", "Nam", "Nga", "Phương", "Quân", "Sinh", "Thắng", "Thảo", "Trang", "Tú", "Vân",
         "Chảo", "Páo", "Mỷ", "Sử", "Dín", "Chứ"]
TITLES = ["Công chức Văn phòng - Thống kê", "Công chức Tư pháp - Hộ tịch", "Công chức Văn hóa - Xã hội",
          "Công chức Địa chính - Xây dựng", "Phó Chủ tịch UBND", "Công chức Bộ phận một cửa"]
TECHNICIANS = [("9100001", "Phạm Quốc Khánh"), ("9100002", "Đinh Thu Hiền"), ("9100003", "Lò Văn Tuấn")]
ADMIN = ("9100009", "Nguyễn Thanh Sơn")

# How officials shorten words in chat (the abbreviations the synonym table reads back).
ABBREVIATIONS = [("mật khẩu", "mk"), ("tài khoản", "tk"), ("không", "ko"), ("được", "dc"),
                 ("chữ ký số", "cks"), ("như thế nào", "ntn"), ("hồ sơ", "hs"), ("với", "vs")]
OPENERS = ["", "", "", "cho em hỏi ", "ad ơi ", "a ơi ", "e hỏi chút ", "chị ơi "]
CLOSERS = ["", "", "", " ạ", " với ạ", "?", " ad ơi", " làm ntn ạ"]

# Questions officials do ask that the FAQ has no entry for (left unanswered, some become tickets).
OFF_FAQ = [
    "phần mềm kế toán xã báo lỗi khi in báo cáo quyết toán",
    "máy chiếu hội trường bị ám màu vàng",
    "xin mẫu báo cáo tổng kết năm của văn phòng",
    "phần mềm quản lý cán bộ ko đăng nhập dc",
    "đăng ký lịch trực tết ở đâu ạ",
    "camera an ninh trụ sở không xem lại được",
    "máy photo kẹt giấy liên tục",
    "xin file cài font chữ cho máy mới",
]

# The shared outage: the one-door system down one morning, in each reporter's words.
OUTAGE_SYSTEM = "motcua"
OUTAGE_WORDS = [
    "Không vào được một cửa, báo lỗi 502 Bad Gateway",
    "mot cua bao loi 502 ko dang nhap dc",
    "Hệ thống một cửa không truy cập được từ sáng, lỗi 502",
    "vao mot cua bi loi 502 bad gateway ca xa deu bi",
    "Một cửa điện tử lỗi 502, không tiếp nhận được hồ sơ",
    "mot cua loi 502 gateway a",
    "Trang một cửa báo 502 Bad Gateway, không vào được",
    "không đăng nhập được hệ thống một cửa, lỗi 502",
]
# A report on the same system the same morning that is a different problem.
OUTAGE_UNRELATED = "Máy in phiếu hẹn ở bộ phận một cửa in bị lệch lề"

LOCAL = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving


@dataclass
class DemoClock:
    """The simulated clock every service reads."""

    now: datetime = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Official:
    channel: str
    user_ref: str
    commune_id: str
    name: str
    habits: float  # 0 = types carefully, 1 = no diacritics and abbreviations everywhere
    weak_entries: list[str] = field(default_factory=list)  # how-tos this commune keeps asking


@dataclass
class DemoSummary:
    officials: int = 0
    questions: int = 0
    tickets: int = 0
    outage_tickets: int = 0
    start: date | None = None
    end: date | None = None


def fold_accents(text: str) -> str:
    """Text as typed on a phone without a Vietnamese keyboard: no diacritics, đ → d."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def typed_like_official(rng: random.Random, phrasing: str, habits: float) -> str:
    """One FAQ phrasing as an official might type it in a chat."""
    text = phrasing.strip().rstrip("?.").lower()
    if rng.random() < habits:
        for long, short in ABBREVIATIONS:
            if rng.random() < 0.7:
                text = text.replace(long, short)
    text = rng.choice(OPENERS) + text + rng.choice(CLOSERS)
    if rng.random() < habits:
        text = fold_accents(text)
    if rng.random() < 0.08:  # one slipped finger: two letters swapped in a longer word
        words = text.split()
        long_words = [i for i, w in enumerate(words) if len(w) > 4]
        if long_words:
            i = rng.choice(long_words)
            w = words[i]
            j = rng.randrange(len(w) - 1)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
            text = " ".join(words)
    return text


class Simulation:
    """Drives the real engine through simulated days; `run` fills the database."""

    def __init__(self, services: Services, clock: DemoClock, seed: int, start: date, end: date,
                 communes: int = 36) -> None:
        self.s = services
        self.clock = clock
        self.rng = random.Random(seed)
        self.start = start
        self.end = end
        self.n_communes = communes
        self.updates = itertools.count(1)
        self.events: list[tuple[datetime, int, Callable[[], None]]] = []
        self.seq = itertools.count()
        self.officials: list[Official] = []
        self.technicians: list[str] = []
        self.summary = DemoSummary(start=start, end=end)
        self.entries = [e for e in services.faq.kb.entries]
        self.outage_tickets: list[int] = []

    # -- plumbing -------------------------------------------------------------------------

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (when, next(self.seq), action))

    def send(self, channel: str, user_ref: str, text: str = "", action: str | None = None) -> list[Reply]:
        incoming = Incoming(channel, user_ref, user_ref, text=text, action=action,
                            update_id=f"demo-{next(self.updates)}")
        return self.s.engine.handle(incoming).replies

    def person(self, channel: str, user_ref: str) -> Person:
        person = self.s.people.find(channel, user_ref)
        assert person is not None
        return person

    def local(self, day: date, hh: int, mm: int) -> datetime:
        return datetime.combine(day, time(hh, mm), tzinfo=UTC) - LOCAL

    def office_moment(self, day: date) -> datetime:
        """A random moment in the office day, mornings busier (when the counter opens)."""
        if self.rng.random() < 0.6:
            minutes = self.rng.randrange(7 * 60 + 35, 11 * 60 + 25)
        else:
            minutes = self.rng.randrange(13 * 60 + 35, 16 * 60 + 55)
        return self.local(day, minutes // 60, minutes % 60)

    def after_working(self, start: datetime, minutes: float) -> datetime:
        return self.s.calendar.add_working_time(start, timedelta(minutes=minutes))

    # -- the cast ---------------------------------------------------------------------------

    def cast(self) -> None:
        """Technicians, an admin, and officials of a sample of communes, registered through the bot."""
        people = self.s.people
        with self.s.db.atomic():
            for ref, name in TECHNICIANS:
                person = people.identify("telegram", ref, ref)
                people.update(person.id, role="technician", status="active", full_name=name,
                              job_title="Kỹ thuật viên Trung tâm CNTT tỉnh")
                self.technicians.append(ref)
            admin = people.identify("telegram", ADMIN[0], ADMIN[0])
            people.update(admin.id, role="admin", status="active", full_name=ADMIN[1],
                          job_title="Lãnh đạo Trung tâm CNTT tỉnh")
        communes = self.rng.sample(list(self.s.communes), min(self.n_communes, len(self.s.communes)))
        how_tos = [e.id for e in self.entries if e.system in ("cks", "motcua", "hotich", "dvc", "eoffice")]
        for n, commune in enumerate(communes):
            for k in range(1 if self.rng.random() < 0.6 else 2):
                roll = self.rng.random()
                channel = "telegram" if roll < 0.65 else "zalo_oa" if roll < 0.9 else "zalo"
                official = Official(
                    channel=channel, user_ref=str(8_000_000 + 10 * n + k), commune_id=commune.id,
                    name=f"{self.rng.choice(FAMILY)} {self.rng.choice(MIDDLE)} {self.rng.choice(GIVEN)}",
                    habits=self.rng.choice([0.1, 0.4, 0.7, 0.9]))
                self.officials.append(official)
        # A handful of communes keep asking the same how-to: what the report must surface.
        for official in self.rng.sample(self.officials, min(6, len(self.officials))):
            official.weak_entries = self.rng.sample(how_tos, self.rng.choice([1, 1, 2]))
        for official in self.officials:
            join = self.local(self.start, 7, 40) + timedelta(minutes=self.rng.randrange(0, 600))
            self.at(join, lambda o=official: self.register(o))
        self.summary.officials = len(self.officials)

    def register(self, o: Official) -> None:
        commune = next(c for c in self.s.communes if c.id == o.commune_id)
        self.send(o.channel, o.user_ref, "/dangky")
        replies = self.send(o.channel, o.user_ref, commune.name)
        pick = [c.action for r in replies for c in r.choices if c.action == f"com:{commune.id}"]
        if pick:
            self.send(o.channel, o.user_ref, action=pick[0])
        self.send(o.channel, o.user_ref, o.name)
        self.send(o.channel, o.user_ref, self.rng.choice(TITLES))
        # Placeholder numbers (0900 000 xxx): the demo holds no real person's phone.
        self.send(o.channel, o.user_ref, f"0900 000 {int(o.user_ref) % 1000:03d}")

    # -- the days -----------------------------------------------------------------------------

    def plan_days(self) -> None:
        day = self.start
        outage_day = self._outage_day()
        while day <= self.end:
            if self.s.calendar.is_workday(day):
                for official in self.officials:
                    for _ in range(self._poisson(0.55)):
                        self.at(self.office_moment(day), lambda o=official: self.ask(o))
                    if official.weak_entries and self.rng.random() < 0.22:
                        entry = self.rng.choice(official.weak_entries)
                        self.at(self.office_moment(day), lambda o=official, e=entry: self.ask(o, e))
                if day == outage_day:
                    self.plan_outage(day)
            day += timedelta(days=1)
        # The ticket store's timers (SLA reminders, closing unconfirmed tickets), every half hour.
        moment = self.local(self.start, 0, 0)
        last = self.local(self.end, 23, 30)
        while moment <= last:
            self.at(moment, self.s.engine.tickets.tick)
            moment += timedelta(minutes=30)

    def _outage_day(self) -> date:
        """A Tuesday about two weeks before the end: inside the last month."""
        day = self.end - timedelta(days=14)
        while day.weekday() != 1 or not self.s.calendar.is_workday(day):
            day -= timedelta(days=1)
        return max(day, self.start + timedelta(days=1))

    def _poisson(self, mean: float) -> int:
        n, threshold, product = 0, pow(2.718281828, -mean), self.rng.random()
        while product > threshold:
            n += 1
            product *= self.rng.random()
        return n

    def ask(self, o: Official, entry_id: str | None = None) -> None:
        """One question, and what the official does with the answer."""
        kb = self.s.faq.kb
        off_faq = entry_id is None and self.rng.random() < 0.07
        if off_faq:
            intended = None
            text = typed_like_official(self.rng, self.rng.choice(OFF_FAQ), o.habits)
        else:
            entry: Entry = kb.entry(entry_id) if entry_id else self.rng.choice(self.entries)  # type: ignore[assignment]
            intended = entry.id
            text = typed_like_official(self.rng, self.rng.choice(entry.phrasings), o.habits)
        self.summary.questions += 1
        replies = self.send(o.channel, o.user_ref, text)
        actions = [c.action for r in replies for c in r.choices]
        qid = next((a.split(":")[2] for a in actions if a.startswith("fb:")), None) or \
            next((a.split(":")[1] for a in actions if a.startswith("esc:")), None) or \
            next((a.split(":")[1] for a in actions if a.startswith("pick:")), None)
        if qid is None:
            return
        row = self.s.db["query_log"].get(int(qid))
        later = self.clock.now + timedelta(minutes=self.rng.randrange(1, 6))
        if row["decision"] == "answer":
            if row["entry_id"] == intended and self.rng.random() < 0.9:
                if self.rng.random() < 0.7:
                    self.at(later, lambda: self.send(o.channel, o.user_ref, action=f"fb:ok:{qid}"))
                elif self.rng.random() < 0.15:
                    self.at(later, lambda: self.escalate(o, qid))
            else:
                self.at(later, lambda: self.unhelpful(o, qid, "bad"))
        elif row["decision"] == "clarify":
            candidates = json.loads(row["candidates"] or "[]")
            if intended in candidates:
                index = candidates.index(intended)
                self.at(later, lambda: self.picked(o, qid, index))
            else:
                self.at(later, lambda: self.unhelpful(o, qid, "none"))
        elif self.rng.random() < 0.45:
            self.at(later, lambda: self.escalate(o, qid))

    def picked(self, o: Official, qid: str, index: int) -> None:
        self.send(o.channel, o.user_ref, action=f"pick:{qid}:{index}")
        if self.rng.random() < 0.7:
            self.send(o.channel, o.user_ref, action=f"fb:ok:{qid}")

    def unhelpful(self, o: Official, qid: str, verdict: str) -> None:
        self.send(o.channel, o.user_ref, action=f"fb:{verdict}:{qid}")
        if self.rng.random() < 0.5:
            self.escalate(o, qid)

    def escalate(self, o: Official, qid: str, description: str | None = None) -> None:
        replies = self.send(o.channel, o.user_ref, action=f"esc:{qid}")
        self._report_steps(o, replies, description)

    def report(self, o: Official, system: str, description: str, urgent: bool = False,
               plan_life: bool = True) -> int | None:
        """/baoloi typed by the official: system, description, no photo, urgency, send."""
        self.send(o.channel, o.user_ref, "/baoloi")
        replies = self.send(o.channel, o.user_ref, action=f"sys:{system}")
        join = [c.action for r in replies for c in r.choices if c.action.startswith("inc:join:")]
        if join and not plan_life:  # a known outage, and this is it: "Xã tôi cũng bị"
            self.send(o.channel, o.user_ref, action=join[0])
            ticket = self._newest_ticket(o)
            self.summary.tickets += ticket is not None
            return ticket
        if join:  # a known outage, but this is something else: "Báo vấn đề khác"
            replies = self.send(o.channel, o.user_ref, action=f"sys:{system}")
        return self._report_steps(o, replies, description, pick_system=False, urgent=urgent,
                                  plan_life=plan_life)

    def _report_steps(self, o: Official, replies: list[Reply], description: str | None,
                      pick_system: bool = True, urgent: bool | None = None,
                      plan_life: bool = True) -> int | None:
        actions = [c.action for r in replies for c in r.choices]
        if pick_system:
            systems = [a for a in actions if a.startswith("sys:")]
            if not systems:
                return None
            replies = self.send(o.channel, o.user_ref, action=systems[0])  # the guessed system first
            actions = [c.action for r in replies for c in r.choices]
        if "step:keep" in actions and description is None:
            self.send(o.channel, o.user_ref, action="step:keep")
        else:
            self.send(o.channel, o.user_ref, description or "ko làm được theo hướng dẫn, nhờ kỹ thuật xem giúp")
        self.send(o.channel, o.user_ref, action="step:photos")
        if urgent is None:
            urgent = self.rng.random() < 0.15
        self.send(o.channel, o.user_ref, action=f"urg:{'urgent' if urgent else 'normal'}")
        self.send(o.channel, o.user_ref, action="step:send")
        ticket = self._newest_ticket(o)
        if ticket is None:
            return None
        self.summary.tickets += 1
        if plan_life:
            self.plan_ticket_life(ticket)
        return ticket

    def _newest_ticket(self, o: Official) -> int | None:
        tickets = self.s.tickets.of_user(self.person(o.channel, o.user_ref).id, limit=1)
        return tickets[0].id if tickets and tickets[0].created_at == self.s.tickets._now() else None

    # -- a ticket's life ---------------------------------------------------------------------

    def tech(self, text: str, who: str | None = None) -> None:
        self.send("telegram", who or self.rng.choice(self.technicians), text)

    def plan_ticket_life(self, ticket_id: int) -> None:
        """Claimed after a while (sometimes too long), answered, resolved, then the official's turn."""
        ticket = self.s.tickets.get(ticket_id)
        created = datetime.fromisoformat(ticket.created_at)
        who = self.rng.choice(self.technicians)
        late = self.rng.random() < 0.12
        claim_after = self.rng.uniform(300, 700) if late else self.rng.lognormvariate(3.4, 0.7)
        claim_at = self.after_working(created, claim_after)
        reply_at = self.after_working(claim_at, self.rng.uniform(5, 40))
        resolve_at = self.after_working(reply_at, self.rng.lognormvariate(5.0, 0.9))
        self.at(claim_at, lambda: self.tech(f"/nhan {ticket_id}", who))
        self.at(reply_at, lambda: self.tech(f"/traloi {ticket_id} Anh/chị gửi giúp em ảnh chụp màn hình lỗi, "
                                            "em kiểm tra từ xa ạ", who))
        self.at(resolve_at, lambda: self.resolve(ticket_id, who))

    def resolve(self, ticket_id: int, who: str, note: str = "Đã kiểm tra và xử lý từ xa") -> None:
        if not self.s.tickets.get(ticket_id).is_open:
            return
        self.tech(f"/xong {ticket_id} {note}", who)
        self.after_resolution(ticket_id, who)

    def after_resolution(self, ticket_id: int, who: str) -> None:
        ticket = self.s.tickets.get(ticket_id)
        official = self.s.people.identities(ticket.user_id)[0]
        roll = self.rng.random()
        later = self.clock.now + timedelta(minutes=self.rng.randrange(10, 240))
        if roll < 0.72:
            stars = self.rng.choices([5, 4, 3, 2, 1], weights=[50, 30, 12, 5, 3])[0]

            def confirm() -> None:
                if self.s.tickets.get(ticket_id).status == "resolved":
                    self.send(official.channel, official.user_ref, action=f"fixed:{ticket_id}")
                    self.send(official.channel, official.user_ref, action=f"rate:{ticket_id}:{stars}")
            self.at(later, confirm)
        elif roll < 0.78:
            def broken() -> None:
                if self.s.tickets.get(ticket_id).status == "resolved":
                    self.send(official.channel, official.user_ref, action=f"broken:{ticket_id}")
                    self.send(official.channel, official.user_ref, "vẫn chưa được ạ, vẫn báo lỗi như cũ")
                    again = self.after_working(self.clock.now, self.rng.uniform(60, 600))
                    self.at(again, lambda: self.resolve(ticket_id, who, "Đã cài lại và kiểm tra cùng cán bộ"))
            self.at(later, broken)
        # else: the official never answers, and the timer closes it after auto_close_hours

    # -- the shared outage ---------------------------------------------------------------------

    def plan_outage(self, day: date) -> None:
        one_each = list({o.commune_id: o for o in self.officials}.values())  # different communes
        reporters = self.rng.sample(one_each, min(len(OUTAGE_WORDS) + 1, len(one_each)))
        start = self.local(day, 9, 10)
        for n, (official, words) in enumerate(zip(reporters, OUTAGE_WORDS, strict=False)):
            when = start + timedelta(minutes=n * self.rng.randrange(3, 7))
            self.at(when, lambda o=official, w=words: self.outage_report(o, w))
        if len(reporters) > len(OUTAGE_WORDS):
            self.at(start + timedelta(minutes=25),
                    lambda o=reporters[-1]: self.report(o, OUTAGE_SYSTEM, OUTAGE_UNRELATED))
        self.at(self.local(day, 11, 5), self.end_outage)

    def outage_report(self, o: Official, words: str) -> None:
        ticket = self.report(o, OUTAGE_SYSTEM, words, urgent=True, plan_life=False)
        if ticket is not None:
            self.outage_tickets.append(ticket)
            self.summary.outage_tickets += 1

    def end_outage(self) -> None:
        who = self.technicians[0]
        incidents = self.s.engine.incidents
        outage = next((i for t in self.outage_tickets if (i := incidents.of_ticket(t)) is not None), None)
        if outage is not None and outage.is_open:  # one resolution reaches every linked official
            self.tech(f"/xongsuco {outage.id} Máy chủ một cửa đã hoạt động lại sau sự cố đường truyền", who)
            for ticket_id in self.outage_tickets:
                if incidents.of_ticket(ticket_id) == outage:
                    self.after_resolution(ticket_id, who)
        for ticket_id in self.outage_tickets:
            ticket = self.s.tickets.get(ticket_id)
            if ticket.is_open:
                if ticket.assignee_id is None:
                    self.tech(f"/nhan {ticket_id}", who)
                self.resolve(ticket_id, who, "Máy chủ một cửa đã hoạt động lại sau sự cố đường truyền của tỉnh")

    # -- running ---------------------------------------------------------------------------------

    def run(self) -> DemoSummary:
        self.cast()
        self.plan_days()
        while self.events:
            when, _, action = heapq.heappop(self.events)
            self.clock.now = max(self.clock.now, when)
            action()
        # The demo's chats are fictional: what the bot "sent" them is history, not pending work.
        with self.s.db.atomic():
            self.s.db.execute("update outbox set status = 'sent', sent_at = created_at "
                              "where status = 'pending'")
        return self.summary


def fill_demo(services: Services, clock: DemoClock, seed: int, end: date, days: int,
              communes: int = 36) -> DemoSummary:
    """Fill the services' (fresh) database with `days` days of activity ending on `end`."""
    start = end - timedelta(days=days - 1)
    clock.now = datetime.combine(start, time(0, 0), tzinfo=UTC) - LOCAL
    # Tens of thousands of small transactions: waiting for the disk after each one would make
    # the demo take minutes. A crash mid-fill only loses a demo, so sync once at the end.
    services.db.execute("PRAGMA synchronous = OFF")
    try:
        return Simulation(services, clock, seed, start, end, communes).run()
    finally:
        services.db.execute("PRAGMA synchronous = FULL")
