"""The command line, run as a subprocess the way admins and the benchmark run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.harness import config_file

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def run(*args: str, stdin: str = "", cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
    )


def test_match_writes_one_json_line_per_question_in_order() -> None:
    questions = ["may in khong in dc", "quên mật khẩu", "giá lúa hôm nay", ""]
    proc = run("match", "--faq", str(DATA / "small_faq.yaml"), stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["query"] for line in lines] == questions
    assert [line["decision"] for line in lines] == ["answer", "clarify", "none", "none"]
    assert lines[0]["id"] == "may-in-khong-in"
    assert lines[0]["candidates"][0]["id"] == "may-in-khong-in"
    assert {c["id"] for c in lines[1]["candidates"]} == {
        "motcua-quen-mat-khau", "vneid-quen-mat-khau", "email-quen-mat-khau",
    }
    assert all({"query", "decision", "id", "score", "candidates"} <= set(line) for line in lines)
    assert all(set(line) - {"query", "decision", "id", "score", "candidates"} <= {"probability", "alternatives"}
               for line in lines)
    assert all(len(line["candidates"]) <= 3 for line in lines)


def test_match_with_a_flawed_faq_still_matches_and_reports_the_problems(tmp_path: Path) -> None:
    flawed = tmp_path / "flawed.yaml"
    flawed.write_text("version: 1\nentries:\n  - id: x\n    question: Máy in không in được\n", encoding="utf-8")
    proc = run("match", "--faq", str(flawed), stdin="may in khong in duoc\n")
    assert proc.returncode == 0, proc.stderr
    assert f"{flawed}:3: [x] warning: 'answer' is missing or empty" in proc.stderr
    assert json.loads(proc.stdout)["id"] == "x"


def test_match_with_unreadable_yaml_answers_none_and_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nentries: [\n", encoding="utf-8")
    proc = run("match", "--faq", str(broken), stdin="may in\n")
    assert proc.returncode == 0
    assert "YAML syntax error" in proc.stderr
    assert json.loads(proc.stdout)["decision"] == "none"


def test_match_from_another_folder_uses_the_checkout_config(tmp_path: Path) -> None:
    proc = run("match", stdin="quên mật khẩu vneid\n", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["decision"] in {"answer", "clarify"}


def test_faq_check_passes_on_the_shipped_knowledge_base() -> None:
    proc = run("faq", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("0 error(s)")


def test_faq_check_reports_every_error_and_fails(tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text(
        """\
version: 1
entries:
  - id: a-1
    question: Máy in không in được
    answer: Kiểm tra giấy.
  - id: a-1
    question: Máy in bị kẹt giấy
    answer: Mở nắp lấy giấy ra.
  - id: b-2
    question: Máy in không in được nữa
    answer: Kiểm tra giấy.
""",
        encoding="utf-8",
    )
    proc = run("faq", "check", str(faq))
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [f"{faq}:6: [a-1] error: duplicate id, first used at {faq}:3"]
    assert proc.stdout.splitlines()[-1] == "1 error(s), 0 warning(s)"


def test_faq_check_finds_entries_too_alike_to_tell_apart(tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text(
        """\
version: 1
entries:
  - id: in-1
    question: Máy in không in được
    answer: Kiểm tra giấy.
  - id: in-2
    question: Máy in không in được nữa
    answer: Kiểm tra mực.
""",
        encoding="utf-8",
    )
    proc = run("faq", "check", str(faq))
    assert proc.returncode == 1
    assert "[in-1] error: 'Máy in không in được' matches entry in-2 as well as its own" in proc.stderr


def test_ask_prints_the_reply_and_the_reasoning() -> None:
    proc = run("ask", "máy tính không nhận usb token chữ ký số")
    assert proc.returncode == 0, proc.stderr
    assert "-- decision: answer" in proc.stdout


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("matcher:\n  answer_threshold: cao\n", encoding="utf-8")
    proc = run("match", "--config", str(config), stdin="")
    assert proc.returncode == 1
    assert "matcher.answer_threshold: expected a number, got 'cao'" in proc.stderr


def test_chat_and_tickets_commands_carry_a_whole_incident(tmp_path: Path) -> None:
    config = str(config_file(tmp_path))
    script = "\n".join([
        "/baoloi", "Bát Xát", "Nguyễn Văn An", "Văn phòng", "0912345678",
        "2",  # the one-door system
        "Không đăng nhập được một cửa", "1", "1", "1",  # no photos, normal, send
    ]) + "\n"
    proc = run("chat", "--config", config, stdin=script)
    assert proc.returncode == 0, proc.stderr
    assert "Đã gửi yêu cầu #1" in proc.stdout

    listed = run("tickets", "--config", config, "list")
    assert listed.returncode == 0, listed.stderr
    assert "#1 · Mới" in listed.stdout and "Không đăng nhập được một cửa" in listed.stdout
    assert run("tickets", "--config", config, "claim", "1").stdout.strip() == "Anh/chị đã nhận xử lý #1."
    assert run("tickets", "--config", config, "reply", "1", "Anh", "thử", "lại").returncode == 0

    later = run("chat", "--config", config, stdin="")
    assert "💬 Kỹ thuật viên trả lời yêu cầu #1:\nAnh thử lại" in later.stdout


def test_tickets_refuses_someone_who_is_not_a_technician(tmp_path: Path) -> None:
    proc = run("tickets", "--config", str(config_file(tmp_path)), "--as", "terminal:local", "list")
    assert proc.returncode == 1
    assert "terminal:local is not a technician" in proc.stderr


def test_faq_check_summarises_the_layers_and_faq_reviews_lists_what_is_due() -> None:
    proc = run("faq", "check")
    summary = re.fullmatch(r"\d+ entries \(\d+ national, \d+ province(; \d+ overriding a national entry)?\) over \d+ systems, \d+ contacts; "
                           r"(\d+) never reviewed, (\d+) reviewed over a year ago \(python -m bot faq reviews\)",
                           proc.stdout.splitlines()[-2])
    assert summary is not None, proc.stdout
    reviews = run("faq", "reviews")
    assert reviews.returncode == 0, reviews.stderr
    rows = [line.split("\t") for line in reviews.stdout.splitlines()]
    assert len(rows) == int(summary.group(2)) + int(summary.group(3))
    assert all(len(row) == 4 and row[2].endswith(".yaml") for row in rows)
