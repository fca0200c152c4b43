"""Running it for a province: backups that restore, upgrades from the first release, the doctor."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from datetime import datetime
from pathlib import Path

import pytest

from bot.config import load_config
from bot.ops.backup import (
    BackupError,
    backups_in,
    check_backup,
    restore,
    rotate,
    take_backup,
    to_keep,
)
from bot.ops.lock import AlreadyRunning, instance_lock
from bot.store.schema import migrations, open_database
from tests.harness import REPO, config_file

FIXTURE = Path(__file__).parent / "fixtures" / "first-release.sqlite"

WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("PRAGMA journal_mode = WAL")
conn.execute("create table if not exists load (id integer primary key, body text)")
n = 0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("insert into load (body) values (?)", ("x" * 500,))
    conn.execute("COMMIT")
    n += 1
    print(n, flush=True)
"""


def _committed_rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select count(*) from load").fetchone()[0]
    finally:
        conn.close()


def test_a_backup_taken_while_another_process_writes_restores_every_committed_row(tmp_path: Path) -> None:
    database = tmp_path / "live" / "bot.sqlite"
    database.parent.mkdir()
    open_database(database).conn.close()
    with subprocess.Popen([sys.executable, "-c", WRITER, str(database), "4"],
                          stdout=subprocess.PIPE, text=True) as writer:
        assert writer.stdout is not None
        while int(writer.stdout.readline() or 0) < 200:  # the writer is well under way
            pass
        before = _committed_rows(database)
        archive = take_backup(database, tmp_path / "uploads", REPO / "knowledge", tmp_path / "backups",
                              datetime(2026, 11, 29, 3, 0))
        writer.stdout.read()

    target = tmp_path / "restored" / "bot.sqlite"
    target.parent.mkdir()
    restore(archive, target, tmp_path / "restored" / "uploads", None, datetime(2026, 11, 29, 4, 0))

    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [r[0] for r in conn.execute("select id from load order by id")]
    assert len(ids) >= before  # every row committed before the backup began
    assert ids == list(range(1, len(ids) + 1))  # and a clean prefix: no torn transaction
    assert _committed_rows(database) > len(ids)  # the writer really went on during the backup


def test_restore_keeps_the_previous_database_and_brings_back_uploads(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite"
    db = open_database(database)
    db["users"].insert({"id": 1, "created_at": "2026-11-01", "full_name": "Lò Văn Minh"})
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "a.jpg").write_bytes(b"jpeg")
    archive = take_backup(database, uploads, REPO / "knowledge", tmp_path / "b", datetime(2026, 11, 2))
    db["users"].insert({"id": 2, "created_at": "2026-11-03", "full_name": "added after"})
    (uploads / "a.jpg").unlink()
    db.conn.close()

    previous = restore(archive, database, uploads, None, datetime(2026, 11, 3, 9))

    assert [r[0] for r in sqlite3.connect(database).execute("select full_name from users")] == ["Lò Văn Minh"]
    assert previous == tmp_path / "bot.sqlite.before-restore-20261103-090000"
    assert (uploads / "a.jpg").read_bytes() == b"jpeg"


def test_a_damaged_or_foreign_archive_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite"
    open_database(database).conn.close()
    archive = take_backup(database, tmp_path / "u", REPO / "knowledge", tmp_path / "b", datetime(2026, 11, 2))
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(archive.read_bytes()[:-200])
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        tar.add(str(REPO / "README.md"), arcname="README.md")

    for bad, reason in ((damaged, "cannot be read"), (foreign, "not a help-desk backup")):
        with pytest.raises(BackupError, match=reason):
            restore(bad, database, tmp_path / "u", None, datetime(2026, 11, 3))
    assert [p.name for p in tmp_path.iterdir() if "before-restore" in p.name] == []
    assert open_database(database).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_rotation_keeps_the_newest_of_each_recent_day_and_month(tmp_path: Path) -> None:
    stamps = [datetime(2026, m, d, h) for m, d, h in
              [(9, 30, 3), (10, 15, 3), (10, 31, 3), (11, 27, 3), (11, 28, 3), (11, 29, 3), (11, 29, 15)]]
    for t in stamps:
        (tmp_path / f"helpdesk-{t:%Y%m%d-%H%M%S}.tar.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not ours")

    removed = rotate(tmp_path, keep_daily=2, keep_monthly=2)

    assert sorted(p.name for p in removed) == ["helpdesk-20260930-030000.tar.gz",
                                               "helpdesk-20261015-030000.tar.gz",
                                               "helpdesk-20261127-030000.tar.gz",
                                               "helpdesk-20261129-030000.tar.gz"]
    assert [t for t, _ in backups_in(tmp_path)] == [datetime(2026, 11, 29, 15), datetime(2026, 11, 28, 3),
                                                    datetime(2026, 10, 31, 3)]
    assert (tmp_path / "notes.txt").exists()
    assert to_keep([], 7, 12) == set()


def test_restore_is_refused_while_the_bot_holds_the_database(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite"
    with instance_lock(database):
        with pytest.raises(AlreadyRunning, match="in use by a running bot"):
            with instance_lock(database):
                pass
    with instance_lock(database):  # released when the holder ends
        pass


def test_the_backup_and_restore_commands_round_trip(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    db = open_database(load_config(config).database)
    db["users"].insert({"id": 7, "created_at": "2026-11-01", "full_name": "Vàng Thị Mai"})
    db.conn.close()
    run = [sys.executable, "-m", "bot"]
    made = subprocess.run([*run, "backup", "--config", str(config)], capture_output=True, text=True,
                          cwd=REPO, check=True)
    archive = Path(made.stdout.split("backup written: ")[1].split()[0])
    done = subprocess.run([*run, "restore", "--config", str(config), "--yes", str(archive)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"restored {archive.name} into ")
    assert check_backup(archive, tmp_path / "unpacked").tables["users"] == 1


def test_a_database_made_by_the_first_release_upgrades_and_keeps_every_row(tmp_path: Path) -> None:
    copy = tmp_path / "bot.sqlite"
    shutil.copy(FIXTURE, copy)
    old = sqlite3.connect(copy)
    before = {t: old.execute(f'select count(*) from "{t}"').fetchone()[0]
              for (t,) in old.execute("select name from sqlite_master where type = 'table' "
                                      "and name not like 'sqlite_%' and name != '_sqlite_migrations'")}
    old.close()

    db = open_database(copy)

    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {t: db[t].count for t in before} == before
    assert migrations.pending(db) == []
    ticket = next(db["tickets"].rows)
    assert (ticket["status"], ticket["system_id"]) == ("resolved", "motcua")
    assert db["accounts"].get("ktv1")["password_hash"].startswith("scrypt")


def test_the_doctor_names_an_unwritable_database_in_plain_words(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    data = load_config(config).database.parent
    data.mkdir(parents=True, exist_ok=True)
    (data / "bot.sqlite").write_bytes(b"this is not a database" * 100)

    result = subprocess.run([sys.executable, "-m", "bot", "doctor", "--config", str(config)],
                            capture_output=True, text=True, cwd=REPO, env={"PATH": "/usr/bin:/bin"})

    assert result.returncode == 1
    assert (f"[FAIL] database: {data / 'bot.sqlite'} cannot be used: file is not a database "
            "(setting `database`; restore a backup with `python -m bot restore`)") in result.stdout
    assert result.stdout.rstrip().endswith("1 problem(s) to fix before going live.")


async def test_the_doctor_reports_a_refused_telegram_token_without_showing_it(tmp_path: Path) -> None:
    from bot.ops.doctor import check_telegram
    from tests.fake_telegram import FakeTelegram

    async with FakeTelegram(token="123:right") as fake:
        config = load_config(config_file(tmp_path))
        findings = await check_telegram(config, {"TELEGRAM_BOT_TOKEN": "123:wrong-secret",
                                                 "TELEGRAM_API_BASE_URL": fake.url})
        good = await check_telegram(config, {"TELEGRAM_BOT_TOKEN": "123:right",
                                             "TELEGRAM_API_BASE_URL": fake.url})

    assert [f.line() for f in findings] == [
        "[FAIL] telegram: the Bot API refuses TELEGRAM_BOT_TOKEN (revoked or mistyped); "
        "get the token again from @BotFather"]
    assert [f.level for f in good] == ["ok", "ok"]
    assert "wrong-secret" not in " ".join(f.line() for f in findings + good)


def test_a_second_bot_on_the_same_database_is_refused_in_one_line(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    database = load_config(config).database
    with instance_lock(database):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {database} is in use by a running bot (lock {database}.lock); "
        "only one bot may serve a database")
    assert time.monotonic() - started < 30
