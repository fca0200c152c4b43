"""Connections to the SQLite database, and the one thread that writes to it.

Why a writer thread: SQLite lets one connection write at a time, and a write
may have to wait for the lock (the command line, another process) or for the
disk. Waiting on the event loop would stall every channel at once, so the
server hands each write — a whole update's handling, in one transaction — to
one thread (as Datasette's `execute_write_fn` does) and awaits the result.
Jobs that queue up while a transaction runs are committed together, each in
its own savepoint, so a burst costs one commit instead of one per job.

Why BEGIN IMMEDIATE: a deferred transaction that reads first cannot be
upgraded to a write once another process has committed in between; SQLite
then fails at once with "database is locked", whatever the busy timeout.
Taking the write lock at BEGIN makes the busy timeout do its job: a second
writer waits its turn instead of failing.

Why `StorageUnavailable`: when the database cannot be written (disk full,
read-only, locked for longer than the busy timeout), the caller must not
acknowledge what it was handling, so the platform delivers it again once the
database is back. That error says so, distinct from a bug in the handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.db import NoTable, Table

try:  # how sqlite-utils names a query's repeated columns (4.1 and later)
    from sqlite_utils.utils import dedupe_keys
except ImportError:  # pragma: no cover - older sqlite-utils kept repeated names as they were
    dedupe_keys = list

log = logging.getLogger(__name__)

T = TypeVar("T")
BUSY_TIMEOUT = 10.0  # seconds a writer waits for the lock before the write counts as failed
MAX_GROUP = 64  # jobs committed together at most

# SQLite's primary result codes that mean "the database cannot be used right now"
# (as opposed to a constraint or a bug in our SQL): SQLITE_BUSY, _LOCKED, _READONLY,
# _IOERR, _CORRUPT, _CANTOPEN, _FULL, _PROTOCOL, _NOLFS, _NOTADB.
_UNAVAILABLE_CODES = {5, 6, 8, 10, 11, 13, 14, 15, 22, 26}
_UNAVAILABLE_WORDS = ("locked", "readonly", "read-only", "disk", "full", "unable to open", "i/o error",
                      "malformed", "not a database")


class StorageUnavailable(sqlite3.OperationalError):
    """The database could not be written; whatever was being handled was not stored."""


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be written now, not that our code is wrong."""
    if isinstance(exc, StorageUnavailable):
        return True
    if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _UNAVAILABLE_CODES
    message = str(exc).lower()
    return any(word in message for word in _UNAVAILABLE_WORDS)


_DDL = re.compile(r"\s*(create|alter|drop)\b", re.IGNORECASE)
_SELECT = re.compile(r"\s*select\b", re.IGNORECASE)


class Store(Database):
    """A sqlite-utils Database whose transactions take the write lock at BEGIN,
    and which remembers the schema instead of reading it before every statement.

    sqlite-utils looks up the table and view names, and a table's columns, on
    every `db[name]`, insert, update and `rows_where`: about 40 of the 67
    statements one update used to run. The schema only changes through our own
    DDL (migrations at start-up), so the names and columns are kept until a
    CREATE, ALTER or DROP goes through this connection, or a rollback.

    Two more things sqlite-utils does on every call cost statements of their
    own: `query` wraps each read in a savepoint (so that a statement which
    turns out to write can be undone), and a nested `atomic` names its
    savepoint with 16 random bytes. A plain SELECT cannot write, so it runs
    bare; nested savepoints are named by their depth.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._names: dict[str, list[str]] = {}
        self._columns: dict[str, list[Any]] = {}
        self._depth = 0  # savepoints open through `atomic`
        super().__init__(conn)

    def forget_schema(self) -> None:
        self._names.clear()
        self._columns.clear()

    def execute(self, sql: str, parameters: Any = None) -> sqlite3.Cursor:
        if _DDL.match(sql):
            self.forget_schema()
        return super().execute(sql, parameters)

    def query(self, sql: str, params: Any = None) -> Generator[dict, None, None]:
        if not _SELECT.match(sql):
            return super().query(sql, params)
        cursor = self.execute(sql, params)
        keys = dedupe_keys(d[0] for d in cursor.description)
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def executescript(self, sql: str) -> sqlite3.Cursor:
        self.forget_schema()
        return super().executescript(sql)

    def table_names(self, fts4: bool = False, fts5: bool = False) -> list[str]:
        if fts4 or fts5:
            return super().table_names(fts4=fts4, fts5=fts5)
        if "table" not in self._names:
            self._names["table"] = super().table_names()
        return list(self._names["table"])

    def view_names(self) -> list[str]:
        if "view" not in self._names:
            self._names["view"] = super().view_names()
        return list(self._names["view"])

    def table(self, table_name: str, **kwargs: Any) -> Table:
        if table_name in self.view_names():
            raise NoTable(f"Table {table_name} is actually a view")
        kwargs.setdefault("strict", self.strict)
        return _KnownTable(self, table_name, **kwargs)

    @contextlib.contextmanager
    def atomic(self) -> Generator[Database, None, None]:
        if self.conn.in_transaction:  # nested: a savepoint, as sqlite-utils does
            name = f"atomic{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self
            except BaseException:
                if self.conn.in_transaction:  # (a RAISE(ROLLBACK) trigger ends the whole transaction)
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            else:
                self.conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise

    def rollback(self) -> None:
        self.forget_schema()  # a rolled-back migration leaves the schema as it was
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


class _KnownTable(Table):
    """A table whose columns come from its Store's memory of the schema."""

    db: Store

    @property
    def columns(self) -> list[Any]:
        known = self.db._columns.get(self.name)
        if known is None:
            known = Table.columns.fget(self)  # type: ignore[attr-defined]
            if known:  # a table not created yet has none: ask again next time
                self.db._columns[self.name] = known
        return list(known)


def connect(path: Path, busy_timeout: float = BUSY_TIMEOUT) -> Store:
    """A connection in WAL mode with foreign keys on and a busy timeout.

    The connection may be handed to another thread (the writer's) but must be
    used by one thread at a time.

    `synchronous = NORMAL`: in WAL mode a commit is then written to the log but
    not flushed to the disk; the log is flushed at each checkpoint. A commit
    survives the bot being killed (kill -9, a crash, an OOM kill), since the
    operating system has it; a power cut or a kernel crash may lose the last
    commits before the checkpoint (never corrupt the file). Those updates were
    acknowledged to Telegram, so they would not come again. FULL flushed every
    commit, which cost more than the rest of an update's handling on a busy disk.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=busy_timeout, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    db = Store(conn)
    if db.journal_mode != "wal":
        db.enable_wal()
    return db


def insert(db: Database, table: str, row: Mapping[str, Any]) -> int:
    """Insert one row with plain SQL and return its rowid: for what runs on every update.

    sqlite-utils' insert builds its statement through several layers each time
    (a few tenths of a millisecond); values here must already be SQLite types.
    """
    columns = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f'insert into "{table}" ({columns}) values ({marks})', list(row.values()))
    return int(cursor.lastrowid)  # type: ignore[arg-type]


def upsert(db: Database, table: str, row: Mapping[str, Any], pk: tuple[str, ...]) -> None:
    """Insert one row, or update the row with the same primary key: plain SQL, as `insert`."""
    columns = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" for _ in row)
    keys = ", ".join(f'"{name}"' for name in pk)
    changes = ", ".join(f'"{name}" = excluded."{name}"' for name in row if name not in pk)
    db.execute(f'insert into "{table}" ({columns}) values ({marks}) on conflict ({keys}) do update set {changes}',
               list(row.values()))


class _Job:
    __slots__ = ("fn", "args", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple, future: Future) -> None:
        self.fn, self.args, self.future = fn, args, future


class Writer:
    """One thread, one connection: every write of the running server goes through here.

    `run(fn, *args)` (from the event loop) or `call(fn, *args)` (from other
    threads) runs `fn(*args)` on the writer thread inside a transaction and
    returns its result once committed. Jobs waiting when a transaction starts
    share it, each in a savepoint: one job's exception rolls back only that
    job; a failed commit (or a storage fault in any job) fails them all with
    `StorageUnavailable`, since none of them was stored.
    """

    def __init__(self, db: Store, max_group: int = MAX_GROUP) -> None:
        self.db = db
        self.max_group = max_group
        self.on_commit: list[Callable[[], None]] = []  # called on the writer thread after each commit
        self.on_recovered: list[Callable[[str, datetime], None]] = []  # inside the first good transaction
        self.fault: str | None = None  # the last storage error, until a commit succeeds again
        self.fault_since: datetime | None = None
        self.commits = 0
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- submitting ---------------------------------------------------------------------

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        if threading.current_thread() is self._thread:  # a job that writes more: same transaction
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
            return future
        self._ensure_thread()
        self._queue.put(_Job(fn, args, future))
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in a committed transaction on the writer thread, from the event loop."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """The same, waiting in a plain thread (the command line, tests)."""
        return self.submit(fn, *args).result()

    def probe(self) -> str | None:
        """Write something real and commit it: None when that works, else what went wrong."""
        try:
            self.call(_touch_probe, self.db)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{type(exc).__name__}: {exc}"
        return None

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    # -- the thread ---------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="db-writer", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            group = [job]
            while len(group) < self.max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this group, then stop
                    break
                group.append(more)
            self._run_group(group)

    def _run_group(self, group: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        conn = self.db.conn
        was_failing = self.fault
        # A job alone in its transaction needs no savepoint: when it fails, the whole
        # transaction is what it wrote (after a fault, the recovery's work shares it).
        alone = len(group) == 1 and was_failing is None
        undone = False  # the lone job's transaction was rolled back: nothing to commit
        try:
            conn.execute("BEGIN IMMEDIATE")
            if was_failing is not None:
                self._recovered()
            for n, job in enumerate(group):
                if not job.future.set_running_or_notify_cancel():
                    outcomes.append((False, None))
                    continue
                if not alone:
                    conn.execute(f"SAVEPOINT job{n}")
                try:
                    outcomes.append((True, job.fn(*job.args)))
                except Exception as exc:
                    if is_unavailable(exc):
                        raise
                    if conn.in_transaction:
                        if alone:
                            self.db.rollback()
                            undone = True
                        else:
                            conn.execute(f"ROLLBACK TO job{n}")
                    outcomes.append((False, exc))
                if conn.in_transaction and not alone:
                    conn.execute(f"RELEASE job{n}")
            if not undone:
                conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.rollback()
            self._failed(group, exc)
            return
        self.commits += 1
        if was_failing is not None:
            log.warning("database can be written again (failing since %s: %s)",
                        self.fault_since.isoformat(timespec="seconds") if self.fault_since else "?", was_failing)
        self.fault = None
        self.fault_since = None
        for job, (ok, value) in zip(group, outcomes, strict=True):
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        for callback in self.on_commit:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")

    def _failed(self, group: list[_Job], exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if self.fault is None:
            log.error("database cannot be written (%s): %d job(s) not stored; the updates among them are "
                      "not acknowledged and are handled again once it can be written", reason, len(group))
            self.fault_since = datetime.now(UTC)
        self.fault = reason
        error = exc if isinstance(exc, StorageUnavailable) else StorageUnavailable(reason)
        if not isinstance(exc, StorageUnavailable) and not is_unavailable(exc):
            log.exception("writer: unexpected error outside a job")
        for job in group:
            if not job.future.done():
                job.future.set_exception(error)

    def _recovered(self) -> None:
        """Inside the first transaction after a fault (its work commits with it, or not at all)."""
        since = self.fault_since or datetime.now(UTC)
        reason = self.fault or ""
        for callback in self.on_recovered:
            conn = self.db.conn
            conn.execute("SAVEPOINT recovered")
            try:
                callback(reason, since)
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                log.exception("storage-recovered callback failed")
                conn.execute("ROLLBACK TO recovered")
            conn.execute("RELEASE recovered")


def _touch_probe(db: Database) -> None:
    db.execute("insert or replace into storage_probe (id, at) values (1, ?)",
               [datetime.now(UTC).isoformat(timespec="seconds")])


class Reader:
    """One thread with its own read-only connection, for what the console's pages read.

    A page of tickets, a ticket's whole history or a search is read and shaped
    there, so the event loop — which also carries every Telegram and Zalo
    update and every reply — only routes requests and never waits on a big
    read. WAL lets this connection read while the writer writes.
    """

    def __init__(self, db: Store) -> None:
        db.execute("PRAGMA query_only = ON")  # a read path that tries to write fails loudly
        self.db = db
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reader")

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """`fn(*args)` on the reader's thread; await the result on the loop."""
        return asyncio.wrap_future(self._pool.submit(fn, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.db.close()
