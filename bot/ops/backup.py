"""Backups: a consistent copy of the database while the bot runs, plus uploads and knowledge.

One backup is one `.tar.gz` file named for the moment it was taken
(`helpdesk-20261129-0300.tar.gz`) holding:

- `bot.sqlite`: made with SQLite's online backup API, so it is consistent even
  while the bot writes (a plain file copy of a WAL database is not);
- `uploads/`: the screenshots officials attached;
- `knowledge/`: the FAQ as admins had edited it;
- `manifest.json`: when, from which version, the row count of every table and
  the database's SHA-256, which `restore` checks before it touches anything.

Rotation keeps the newest backup of each of the last `keep_daily` days and of
each of the last `keep_monthly` months; everything else in the folder that
looks like one of ours is removed. Nothing here runs on the event loop: the
bot's scheduled backup calls `take_backup` in a worker thread.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PREFIX = "helpdesk-"
SUFFIX = ".tar.gz"
STAMP = "%Y%m%d-%H%M%S"
DB_NAME = "bot.sqlite"


class BackupError(Exception):
    """A backup could not be taken, or a file is not a backup that can be restored."""


@dataclass(frozen=True)
class Manifest:
    taken_at: str
    app_version: str
    tables: dict[str, int]
    sha256: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, indent=2, sort_keys=True)


def app_version() -> str:
    try:
        return version("xa-helpdesk-bot")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def table_counts(path: Path) -> dict[str, int]:
    """Rows per table: what the manifest promises and what a restore is checked against."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        conn.close()


def integrity_problem(path: Path) -> str | None:
    """SQLite's own integrity check; None when the file is a sound database."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if result == "ok" else result


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live WAL database (SQLite's online backup API)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst, pages=1024)  # in steps, so writers are never held up for long
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file inside the archive
    finally:
        dst.close()
        src.close()


def _add_folder(tar: tarfile.TarFile, folder: Path, arcname: str) -> None:
    if folder.is_dir():
        tar.add(str(folder), arcname=arcname, filter=lambda info: None if info.issym() else info)


def take_backup(database: Path, uploads: Path, knowledge: Path, to_dir: Path, now: datetime) -> Path:
    """Write one backup archive into `to_dir` and return its path."""
    if not database.exists():
        raise BackupError(f"database: {database} does not exist")
    to_dir.mkdir(parents=True, exist_ok=True)
    target = to_dir / f"{PREFIX}{now.strftime(STAMP)}{SUFFIX}"
    with tempfile.TemporaryDirectory(dir=to_dir, prefix=".backup-") as tmp:
        copy = Path(tmp) / DB_NAME
        copy_database(database, copy)
        manifest = Manifest(now.isoformat(timespec="seconds"), app_version(), table_counts(copy),
                            _sha256(copy))
        partial = Path(tmp) / target.name
        with tarfile.open(partial, "w:gz") as tar:
            data = manifest.to_json().encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime = len(data), int(now.timestamp())
            tar.addfile(info, io.BytesIO(data))
            tar.add(str(copy), arcname=DB_NAME)
            _add_folder(tar, uploads, "uploads")
            _add_folder(tar, knowledge, "knowledge")
        partial.replace(target)  # a half-written archive never carries a backup's name
    return target


def _taken_at(path: Path) -> datetime | None:
    name = path.name
    if not (name.startswith(PREFIX) and name.endswith(SUFFIX)):
        return None
    try:
        return datetime.strptime(name[len(PREFIX):-len(SUFFIX)], STAMP)
    except ValueError:
        return None


def backups_in(folder: Path) -> list[tuple[datetime, Path]]:
    """Our backups in a folder, newest first (other files are never touched)."""
    found = [(t, p) for p in folder.glob(f"{PREFIX}*{SUFFIX}") if (t := _taken_at(p))]
    return sorted(found, reverse=True)


def to_keep(taken: Iterable[datetime], keep_daily: int, keep_monthly: int) -> set[datetime]:
    """The newest backup of each of the last N days and of each of the last M months."""
    days: dict[str, datetime] = {}
    months: dict[str, datetime] = {}
    for t in sorted(taken, reverse=True):
        days.setdefault(t.strftime("%Y-%m-%d"), t)
        months.setdefault(t.strftime("%Y-%m"), t)
    kept = sorted(days.values(), reverse=True)[:keep_daily]
    kept += sorted(months.values(), reverse=True)[:keep_monthly]
    return set(kept)


def rotate(folder: Path, keep_daily: int, keep_monthly: int) -> list[Path]:
    """Delete the backups rotation no longer keeps; return what was deleted."""
    found = backups_in(folder)
    keep = to_keep((t for t, _ in found), keep_daily, keep_monthly)
    removed = [p for t, p in found if t not in keep]
    for path in removed:
        path.unlink()
    return removed


def _member(tar: tarfile.TarFile, name: str) -> tarfile.TarInfo | None:
    try:
        return tar.getmember(name)
    except KeyError:
        return None


def check_backup(archive: Path, workdir: Path) -> Manifest:
    """Unpack a backup into `workdir` and prove it sound, or raise BackupError saying why."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            if _member(tar, "manifest.json") is None or _member(tar, DB_NAME) is None:
                raise BackupError(f"{archive.name}: not a help-desk backup (no manifest or database)")
            tar.extractall(workdir, filter="data")  # refuses absolute paths, .., links out
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive.name}: cannot be read ({exc})") from exc
    try:
        manifest = Manifest(**json.loads((workdir / "manifest.json").read_text()))
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{archive.name}: the manifest is damaged ({exc})") from exc
    db = workdir / DB_NAME
    if _sha256(db) != manifest.sha256:
        raise BackupError(f"{archive.name}: the database does not match its manifest (damaged copy)")
    problem = integrity_problem(db)
    if problem:
        raise BackupError(f"{archive.name}: the database fails SQLite's integrity check: {problem}")
    counts = table_counts(db)
    if counts != manifest.tables:
        raise BackupError(f"{archive.name}: table row counts differ from the manifest")
    return manifest


def restore(archive: Path, database: Path, uploads: Path, knowledge: Path | None,
            now: datetime) -> Path | None:
    """Bring a checked backup back; the current database is kept beside it, renamed.

    The bot must be stopped (the caller holds the instance lock). Knowledge is
    restored only when `knowledge` is given: an operator restoring after a
    disk failure wants it, one undoing a bad night usually does not.
    Returns where the previous database was moved, if there was one.
    """
    with tempfile.TemporaryDirectory(dir=database.parent, prefix=".restore-") as tmp:
        work = Path(tmp)
        check_backup(archive, work)
        stamp = now.strftime(STAMP)
        previous: Path | None = None
        if database.exists():
            previous = database.with_name(f"{database.name}.before-restore-{stamp}")
            database.replace(previous)
        for suffix in ("-wal", "-shm"):
            stale = database.with_name(database.name + suffix)
            if stale.exists():
                stale.replace(stale.with_name(f"{stale.name}.before-restore-{stamp}"))
        shutil.move(str(work / DB_NAME), database)
        _swap_folder(work / "uploads", uploads, stamp)
        if knowledge is not None:
            _swap_folder(work / "knowledge", knowledge, stamp)
    return previous


def _swap_folder(restored: Path, target: Path, stamp: str) -> None:
    if not restored.is_dir():
        return
    if target.exists():
        target.replace(target.with_name(f"{target.name}.before-restore-{stamp}"))
    shutil.move(str(restored), target)
