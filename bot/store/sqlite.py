"""The SQLite engine (aiosqlite, WAL): the default, one file beside the bot, nothing to install.

A transaction runs in one hop to aiosqlite's database thread, `BEGIN IMMEDIATE` first: the
write lock is taken at once, so that two processes on the same file wait for each other (up
to BUSY_SECONDS) instead of failing on a stale snapshot. Also here: the checks made before
anything starts (the file can be created, read and written, nobody holds it locked), the
changes that bring a file of an older version to the first migration, and the move of an
old file's ids to pseudonyms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot import pseudonyms as pseudonyms_
from bot.pseudonyms import Pseudonyms, SecretError
from bot.report.counts import KEY_MODULUS
from bot.store.engine import Done, Rollback, Sql, Work
from bot.store.records import StoreDown, StoreError, StoreFull, StoreLost
from bot.store.schema import OTHER_SECRET, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCK_WAIT_SECONDS = 0.5  # at start: a database another process holds locked is said at once, not after a hang
BUSY_SECONDS = 5.0  # running: a turn waits this long for another process's write on the same file


class SqliteEngine:
    name = "sqlite"
    shared = False  # memory may keep sessions: a version another process wrote is caught by the save

    def __init__(self, db: aiosqlite.Connection, path: Path | None):
        self._db = db
        self._path = path
        self._identity = _identity(path) if path else None

    async def transaction(self, work: Callable[[], Work[T]]) -> T:
        return await self._hop(lambda conn: _run(conn, work))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await self._hop(lambda conn: _closing(conn.execute(sql, params), fetch=True))

    async def execute(self, sql: str, params: Sequence[Any] = (), *, many: bool = False) -> int:
        if many:
            return await self._hop(lambda conn: _closing(conn.executemany(sql, params)))
        return await self._hop(lambda conn: _closing(conn.execute(sql, params)))

    async def _hop(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._db._execute(lambda: fn(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    def check(self) -> None:
        """The database file is still the one opened: deleted or replaced under a running bot,
        writes would go to a file nobody will read again (and a restart would lose them)."""
        if self._path is not None and _identity(self._path) != self._identity:
            raise StoreLost(f"the database {self._path} was deleted or replaced while the bot was running")

    async def close(self) -> None:
        await self._db.close()


def _closing(cursor: sqlite3.Cursor, *, fetch: bool = False) -> Any:
    """A cursor's rows (or row count), the cursor closed at once (one left open keeps its
    statement busy, and the next use of the same statement is SQLITE_MISUSE)."""
    try:
        return cursor.fetchall() if fetch else cursor.rowcount
    finally:
        cursor.close()


def _run(conn: sqlite3.Connection, work: Callable[[], Work[T]]) -> T:
    """One transaction, in the database thread: the work's statements, then COMMIT."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        steps = work()
        try:
            statement = next(steps)
            while True:
                statement = steps.send(_step(conn, statement))
        except StopIteration as stop:
            conn.execute("COMMIT")
            return stop.value
    except Rollback as undo:
        conn.execute("ROLLBACK")
        return undo.value  # type: ignore[return-value]
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _step(conn: sqlite3.Connection, statement: Sql) -> Done:
    if statement.many:
        cursor = conn.executemany(statement.text, statement.params)
        return Done([], _closing(cursor))
    cursor = conn.execute(statement.text, statement.params)
    try:
        rows = cursor.fetchall()
        return Done(rows, cursor.rowcount)
    finally:
        cursor.close()


async def open_engine(path: Path | str, secret: str | None) -> tuple[SqliteEngine, Pseudonyms]:
    """Open (and create or migrate) the file; StoreError with one line if it cannot be used,
    with no worker thread left behind."""
    check_database(path)
    file = None if str(path) == ":memory:" else Path(path)
    try:
        keys = pseudonyms_.load(secret, file, create=file is None or _stored_check(file) is None)
    except SecretError as exc:
        raise StoreError(str(exc)) from None
    db = await aiosqlite.connect(str(path), isolation_level=None, timeout=BUSY_SECONDS)
    engine = SqliteEngine(db, file)
    try:
        await _into_wal(db)
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA secure_delete=ON")  # what is erased is overwritten, not left in free pages
        await engine.transaction(lambda: migrate("sqlite", until=1))
        await engine._hop(_older_files)
        await engine.transaction(lambda: migrate("sqlite"))
        await engine._hop(lambda conn: _adopt(conn, keys))
    except sqlite3.Error as exc:
        await db.close()
        raise StoreError(f"the database {path} cannot be used ({_reason(exc)})") from None
    except StoreError as exc:
        await db.close()
        raise StoreError(f"the database {path} cannot be used: {exc}") from None
    return engine, keys


async def _into_wal(db: aiosqlite.Connection) -> None:
    """Switch the file to WAL, waiting up to BUSY_SECONDS for processes opening it at the same
    moment: SQLite answers this pragma "database is locked" at once, without its busy wait."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


def _reason(exc: sqlite3.Error) -> str:
    return str(exc).split("\n")[0] or type(exc).__name__


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _fault(exc: sqlite3.OperationalError) -> StoreError:
    reason = _reason(exc)
    if "full" in reason:
        return StoreFull(f"the database cannot grow ({reason})")
    if "locked" in reason or "busy" in reason:
        return StoreDown(f"the database is held by another process ({reason})")
    return StoreError(f"the database cannot be written ({reason})")


def check_database(path: Path | str) -> None:
    """Before anything starts: the database file can be created, read and written, and is not
    locked by another process. Raises StoreError with one line that says what is wrong."""
    if str(path) == ":memory:":
        return
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"the folder of the database {path} cannot be created ({exc.strerror})") from None
    if target.exists() and not os.access(target, os.R_OK):
        raise StoreError(f"the database {path} cannot be read: check its owner and permissions")
    if not target.exists():  # a new database is readable by its owner only (its WAL follows it)
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"the database {path} cannot be created ({exc.strerror})") from None
    try:
        db = sqlite3.connect(target, timeout=LOCK_WAIT_SECONDS, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"the database {path} cannot be opened ({_reason(exc)})") from None
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is not a database fails here
        db.execute("BEGIN IMMEDIATE")  # writable, and nobody else holds it locked
        db.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise StoreError(f"the database {path} cannot be used ({_reason(exc)})") from None
    finally:
        db.close()


# Columns added after a table was first shipped: a file made before gets them at open.
_ADDED_COLUMNS = (("handoffs", "heard", "TEXT"), ("handoffs", "remind", "TEXT"))


def _older_files(db: sqlite3.Connection) -> None:
    """What files of versions before the numbered migrations lack, to be at migration 1."""
    for table, column, kind in _ADDED_COLUMNS:
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'result_counts'").fetchone():
        # Counts of an older version (no link, no persons column) join the report's table.
        db.execute("BEGIN")
        # Each row gets a random cell key, as if counted now (a key of 0 would give its noise away).
        db.execute("INSERT INTO request_counts (day, channel, lang, comune, municipio, age, need, services, shown,"
                   " shown_key) SELECT day, channel, lang, comune, municipio, age, need, services, shown,"
                   f" abs(random()) % {KEY_MODULUS} FROM result_counts"
                   " WHERE true ON CONFLICT DO UPDATE SET shown = request_counts.shown + excluded.shown,"
                   f" shown_key = (request_counts.shown_key + excluded.shown_key) % {KEY_MODULUS}")
        db.execute("DROP TABLE result_counts")
        db.execute("COMMIT")


PSEUDONYMS_VERSION = 2  # PRAGMA user_version from which users are keyed by pseudonyms, addresses sealed
_USER_TABLES = ("sessions", "outbox", "aliases", "handoffs", "handoff_messages")


def _adopt(db: sqlite3.Connection, keys: Pseudonyms) -> None:
    """At open: make the database's user keys those of `keys`, in one transaction.

    A database written before pseudonyms (user_version < 2) has its ids and addresses in
    clear: each is replaced by its pseudonym or sealed, and the file is then rewritten
    (VACUUM), so that no old page keeps them. A database whose keys were made with another
    secret (BOT_SECRET changed) is refused, not erased: the right secret may come back."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    row = db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    if version >= PSEUDONYMS_VERSION and row is not None:
        if row[0] != keys.check():
            raise StoreError(OTHER_SECRET)
        return
    in_clear = version < PSEUDONYMS_VERSION and _has_rows(db)
    db.execute("BEGIN")
    try:
        if in_clear:
            sessions = db.execute("SELECT rowid, channel, user_id FROM sessions").fetchall()
            db.executemany("UPDATE OR IGNORE sessions SET user_id = ? WHERE rowid = ?",
                           [(keys.of(c, u), r) for r, c, u in sessions])
            db.executemany("UPDATE outbox SET user_id = ?, address = ? WHERE id = ?",
                           [(keys.of(c, u), keys.seal(a), i) for i, c, u, a in
                            db.execute("SELECT id, channel, user_id, address FROM outbox").fetchall()])
            db.executemany("UPDATE OR IGNORE aliases SET alias = ?, user_id = ? WHERE rowid = ?",
                           [(keys.of(c, a), keys.of(c, u), r) for r, c, a, u in
                            db.execute("SELECT rowid, channel, alias, user_id FROM aliases").fetchall()])
            log.info("%d conversation(s) of an older version now kept under pseudonyms", len(sessions))
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('secret', ?)", (keys.check(),))
        db.execute(f"PRAGMA user_version = {PSEUDONYMS_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    if in_clear:
        db.execute("VACUUM")  # no page of the file keeps an id in clear
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _stored_check(path: Path) -> str | None:
    """The fingerprint of the secret a database was keyed with, if it has one."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    except sqlite3.Error:  # no such table: a new database, or one from before pseudonyms
        return None
    return row[0] if row else None


def _has_rows(db: sqlite3.Connection) -> bool:
    return any(db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in _USER_TABLES)
