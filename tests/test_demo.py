"""`python -m bot demo`: a fresh database with a realistic stretch of activity, the same for the same seed."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date
from pathlib import Path

from bot.app import build_services
from bot.demo import DemoClock, fill_demo, typed_like_official
from tests.harness import REPO, config_file, make_config


def _fill(tmp_path: Path, name: str, seed: int = 3) -> tuple:
    config = dataclasses.replace(make_config(tmp_path), database=tmp_path / name)
    clock = DemoClock()
    services = build_services(config, clock)
    summary = fill_demo(services, clock, seed, date(2026, 11, 27), days=12, communes=10)
    return services, summary


def _digest(services) -> list:
    db = services.db
    return (list(db.execute("select query, decision, entry_id, feedback from query_log order by id").fetchall())
            + list(db.execute("select commune_id, system_id, status, rating, created_at, resolved_at "
                              "from tickets order by id").fetchall()))


def test_the_same_seed_and_dates_give_the_same_database(tmp_path: Path) -> None:
    first, _ = _fill(tmp_path, "a.sqlite")
    second, _ = _fill(tmp_path, "b.sqlite")
    third, _ = _fill(tmp_path, "c.sqlite", seed=4)
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(third)


def test_the_demo_holds_questions_tickets_through_their_life_and_one_outage(tmp_path: Path) -> None:
    services, summary = _fill(tmp_path, "demo.sqlite")
    db = services.db
    decisions = {r[0] for r in db.execute("select distinct decision from query_log")}
    assert decisions >= {"answer", "none"}
    statuses = {r[0] for r in db.execute("select distinct status from tickets")}
    assert "closed" in statuses
    assert db.execute("select count(*) from tickets where rating is not null").fetchone()[0] > 0
    assert db.execute("select count(*) from tickets where first_response_at is not null").fetchone()[0] > 0
    # The shared outage: eight communes reporting the one-door system the same morning, grouped.
    (incident,) = list(db["incidents"].rows)
    communes = db.execute("select count(distinct commune_id) from tickets where id in "
                          "(select ticket_id from incident_tickets)").fetchone()[0]
    assert (incident["system_id"], incident["status"], communes, summary.outage_tickets) == (
        "motcua", "resolved", 8, 8)
    # Officials registered through the bot, with placeholder phone numbers only.
    phones = [r[0] for r in db.execute("select phone from users where role = 'staff'")]
    assert phones and all(p.startswith("0900000") for p in phones)
    # Nothing of the fictional history is left waiting to be sent.
    assert db.execute("select count(*) from outbox where status = 'pending'").fetchone()[0] == 0


def test_questions_are_typed_the_way_officials_type() -> None:
    import random

    rng = random.Random(1)
    typed = {typed_like_official(rng, "Quên mật khẩu hệ thống một cửa thì làm thế nào", 1.0) for _ in range(30)}
    assert any("mk" in t for t in typed)
    assert all("ê" not in t and "ộ" not in t for t in typed)


def test_the_command_refuses_a_database_that_already_has_activity(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    target = tmp_path / "demo.sqlite"
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "bot", "demo", "--config", str(config), "--database", str(target),
         "--days", "3", "--communes", "3", "--until", "2026-11-27"],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    first = run()
    assert first.returncode == 0, first.stderr
    assert f"{target}:" in first.stdout and "2026-11-25 to 2026-11-27" in first.stdout
    second = run()
    assert second.returncode == 1
    assert "already has activity" in second.stderr
