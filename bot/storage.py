"""Sessions in SQLite (aiosqlite, WAL): a restart or a crash loses no conversation and no answer.

One row per (channel, user): the session as JSON. A turn is one read (none for a user met
before: sessions are cached) and one transaction, run in a single trip to aiosqlite's
thread: the session, the hashed key of the event that caused it (unique: an update
delivered again, even days later or after /forget, is recognised and not answered twice),
its effects and its replies for the outbox (bot.outbox sends them and deletes each once the
platform took it). Turns of one user are serialised by the conversation's per-user lock, so
what is on disk is always the state after the last answered message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import aiosqlite

from bot import pseudonyms as pseudonyms_
from bot.dialogs.model import Effect, Session
from bot.pseudonyms import Pseudonyms, SecretError
from bot.report.counts import KEY_MODULUS, Counts, RequestCount, StartCount, columns, record_key

log = logging.getLogger(__name__)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS sessions (
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        data       TEXT NOT NULL,
        seen       TEXT NOT NULL DEFAULT '[]',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (channel, user_id)
    )
    """,
    # Keys of things done once outside a session: a notice given to a group, the update
    # that made a user /forget (their row is gone, the key must not be).
    """
    CREATE TABLE IF NOT EXISTS seen (
        key     TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL
    )
    """,
    # Effects of turns (bot.effects): written with the session that decided them, deleted
    # when done, so a crash in between is repaired at the next start. No user id.
    """
    CREATE TABLE IF NOT EXISTS effects (
        id         INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        data       TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    # Replies decided by a turn, written with its session, deleted once the platform took
    # them: a crash or an outage between saving and sending loses no answer (bot.outbox).
    # The address is sealed (bot.pseudonyms): the only place a real address is kept, and
    # only until the reply is sent.
    """
    CREATE TABLE IF NOT EXISTS outbox (
        id         INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        address    TEXT NOT NULL,
        body       TEXT NOT NULL,
        created    REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS outbox_user ON outbox (channel, user_id, id)",
    # WhatsApp: a phone number linked to the business-scoped user id (BSUID) Meta gave with it
    # (both as pseudonyms).
    """
    CREATE TABLE IF NOT EXISTS aliases (
        channel TEXT NOT NULL,
        alias   TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (channel, alias)
    )
    """,
    # Open hand-offs to the cooperative's people (bot.handoff): where the family's card is in
    # the operators' group, and the family's address, sealed, until the hand-off ends.
    """
    CREATE TABLE IF NOT EXISTS handoffs (
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        address TEXT NOT NULL,
        card    INTEGER NOT NULL,
        thread  INTEGER,
        opened  TEXT NOT NULL,
        heard   TEXT,  -- the family's last message (WhatsApp: a reply is free for 24 hours after it)
        remind  TEXT,  -- no answer from the group by then: the family is told again (NULL: answered, or told)
        PRIMARY KEY (channel, user_id)
    )
    """,
    # The bot's messages in the operators' group for an open hand-off: a reply to any of them
    # reaches the family.
    """
    CREATE TABLE IF NOT EXISTS handoff_messages (
        message_id INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL
    )
    """,
    # What the database says of itself: the fingerprint of the secret its keys were made with.
    """
    CREATE TABLE IF NOT EXISTS meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    # The anonymous report (bot.report): requests counted by day and what was asked, with the
    # services that answered (none: unmet) and whether a person was asked for. Counts, not
    # rows per family: no row order or time of day to line up with anything else. Each count
    # has a cell key, the sum of a random number per request (bot.report.cells: the noise
    # that keeps small numbers from being recovered by subtraction).
    """
    CREATE TABLE IF NOT EXISTS request_counts (
        day       TEXT NOT NULL,
        channel   TEXT NOT NULL,
        lang      TEXT NOT NULL,
        comune    TEXT NOT NULL,
        municipio INTEGER NOT NULL DEFAULT 0,
        age       TEXT NOT NULL,
        need      TEXT NOT NULL,
        services  TEXT NOT NULL,
        link      TEXT NOT NULL DEFAULT '',
        shown     INTEGER NOT NULL DEFAULT 0,
        persons   INTEGER NOT NULL DEFAULT 0,
        shown_key   INTEGER NOT NULL DEFAULT 0,
        persons_key INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, channel, lang, comune, municipio, age, need, services, link)
    )
    """,
    # Conversations begun, by day, channel, language and the operators' link they came from.
    """
    CREATE TABLE IF NOT EXISTS start_counts (
        day     TEXT NOT NULL,
        channel TEXT NOT NULL,
        lang    TEXT NOT NULL,
        link    TEXT NOT NULL DEFAULT '',
        starts  INTEGER NOT NULL,
        starts_key INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, channel, lang, link)
    )
    """,
)
SEEN_RETENTION_DAYS = 8  # Telegram re-sends an update for 24 hours, Meta for up to 7 days
PURGE_EVERY = 10_000  # turns between two purges of older keys (and at every start)
SWEEP_SECONDS = 3600  # a running bot erases conversations past their retention this often


def _purge_seen() -> tuple[str, tuple[object, ...]]:
    cutoff = (datetime.now(UTC) - timedelta(days=SEEN_RETENTION_DAYS)).isoformat(timespec="seconds")
    return "DELETE FROM seen WHERE seen_at < ?", (cutoff,)


@dataclass(frozen=True)
class PendingEffect:
    id: int
    channel: str
    effect: Effect


@dataclass(frozen=True)
class Queued:
    """A reply waiting in the outbox: one platform message, as the channel rendered it."""

    id: int
    user_id: str
    address: str  # where the platform must deliver it (a chat id, a phone number or BSUID)
    body: str
    created: float  # unix time of the turn that decided it


@dataclass(frozen=True)
class Handoff:
    """An open hand-off: whose (channel, pseudonym), where to answer (the address, unsealed),
    and where its card is in the operators' group (message id, and topic if the group has them);
    when the family last wrote (UTC), since WhatsApp lets a business reply freely for 24 hours."""

    channel: str
    user_id: str
    address: str
    card: int
    thread: int | None
    heard: datetime | None = None


@dataclass(frozen=True)
class Turn:
    session: Session | None
    already: bool  # the event asked about was answered before: do not answer it again


class SessionStore:
    """The database is the durable copy; reads of users already met come from memory.

    Every write goes to SQLite before the replies are sent (write-through), so a crash
    loses nothing; the cache only saves the read trip. One process owns the database file.
    """

    def __init__(self, db: aiosqlite.Connection, path: Path | None = None, cache_size: int = 50_000,
                 pseudonyms: Pseudonyms | None = None):
        self._db = db
        self.pseudonyms = pseudonyms or Pseudonyms.random()  # the channels key their users with it
        self._sweeper: asyncio.Task[None] | None = None
        self._path = path
        self._identity = _identity(path) if path else None
        self._cache: OrderedDict[tuple[str, str], Session] = OrderedDict()
        self._cache_size = cache_size
        self._purging = 0  # while an erasure runs, the database, not memory, says who is still here
        self._turns = 0

    def _remember(self, channel: str, user_id: str, session: Session) -> None:
        self._cache[(channel, user_id)] = session
        self._cache.move_to_end((channel, user_id))
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @classmethod
    async def open(cls, path: Path | str, *, retention_days: int | None = None, secret: str | None = None,
                   sweep_seconds: float = SWEEP_SECONDS) -> SessionStore:
        """Open (and create or migrate) the database; a file that cannot be used is a StoreError
        that says why in one line, with no worker thread left behind.

        Users are keyed by pseudonyms made with `secret` (BOT_SECRET), else with the secret file
        beside the database (made on the first start). With `retention_days`, conversations
        untouched that long are erased now and then every `sweep_seconds`, by a task of the
        running bot, idle or not."""
        check_database(path)
        file = None if str(path) == ":memory:" else Path(path)
        try:
            keys = pseudonyms_.load(secret, file, create=file is None or _stored_check(file) is None)
        except SecretError as exc:
            raise StoreError(str(exc)) from None
        db = await aiosqlite.connect(str(path), isolation_level=None, timeout=LOCK_WAIT_SECONDS)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA secure_delete=ON")  # what is erased is overwritten, not left in free pages
            for statement in _SCHEMA:
                await db.execute(statement)
            await db._execute(lambda: _add_columns(db._conn))
            await db.execute(*_purge_seen())
            await db._execute(lambda: _adopt(db._conn, keys))
        except sqlite3.Error as exc:
            await db.close()
            raise StoreError(f"the database {path} cannot be used ({_reason(exc)})") from None
        except StoreError as exc:
            await db.close()
            raise StoreError(f"the database {path} cannot be used: {exc}") from None
        store = cls(db, file, pseudonyms=keys)
        if retention_days is not None:
            await store.purge(retention_days)
            store._sweeper = asyncio.get_running_loop().create_task(store._sweep(retention_days, sweep_seconds))
        return store

    async def _sweep(self, days: int, every: float) -> None:
        """The running bot's own sweep: erase what outlived the retention period, every `every` s."""
        while True:
            await asyncio.sleep(every)
            try:
                erased = await self.purge(days)
            except StoreError as exc:
                log.error("the retention sweep failed (%s); trying again later", exc)
                continue
            if erased:
                log.info("erased %d conversation(s) untouched for %d days", erased, days)

    async def purge(self, days: int) -> int:
        """Erase every conversation untouched for `days` days, with what is tied to it (its
        pending replies, its WhatsApp number link); how many were erased. The anonymous result
        counts stay: nothing in them points to a family."""
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")

        def work(db: sqlite3.Connection) -> list[tuple[str, str]]:
            db.execute("BEGIN")
            try:
                old = db.execute("SELECT channel, user_id FROM sessions WHERE updated_at < ?", (cutoff,)).fetchall()
                for statement in ("DELETE FROM outbox WHERE channel = ? AND user_id = ?",
                                  "DELETE FROM aliases WHERE channel = ? AND user_id = ?",
                                  "DELETE FROM handoffs WHERE channel = ? AND user_id = ?",
                                  "DELETE FROM handoff_messages WHERE channel = ? AND user_id = ?",
                                  "DELETE FROM sessions WHERE channel = ? AND user_id = ?"):
                    db.executemany(statement, old)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return [(str(c), str(u)) for c, u in old]

        # Between the erasure's commit and the end of this coroutine, other turns run: they must
        # not be served a conversation from memory that is no longer in the database.
        self._purging += 1
        try:
            erased = await self._db._execute(lambda: work(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None
        finally:
            self._purging -= 1
        for key in erased:
            self._cache.pop(key, None)
        return len(erased)

    async def load_turn(self, channel: str, user_id: str, key: str | None = None) -> Turn:
        """The user's session, and whether the event `key` was answered before.

        A user met before is read from memory, and a repeated key is then caught by the save
        (the key is unique in the database): one trip to the database per turn, not two."""
        cached = self._cache.get((channel, user_id)) if not self._purging else None
        if cached is not None:
            return Turn(cached, False)
        rows = await self._db.execute_fetchall(
            "SELECT (SELECT data FROM sessions WHERE channel = ?1 AND user_id = ?2),"
            " EXISTS (SELECT 1 FROM seen WHERE key = ?3)",
            (channel, user_id, self.pseudonyms.event(key) if key else ""),
        )
        data, already = next(iter(rows))
        session = _session(data)
        if session is not None:
            self._remember(channel, user_id, session)
        return Turn(session, bool(key) and bool(already))

    async def load(self, channel: str, user_id: str) -> Session | None:
        return (await self.load_turn(channel, user_id)).session

    def _same_file(self) -> None:
        """The database file is still the one opened: deleted or replaced under a running bot,
        writes would go to a file nobody will read again (and a restart would lose them)."""
        if self._path is not None and _identity(self._path) != self._identity:
            raise StoreLost(f"the database {self._path} was deleted or replaced while the bot was running")

    async def save(self, channel: str, user_id: str, session: Session | None, *, once: str | None = None,
                   effects: Sequence[Effect] = (), outbox: Sequence[tuple[str, str]] = ()
                   ) -> list[PendingEffect] | None:
        """Store what one turn decided, in one transaction and one trip to the database: the
        session (None: erase it, /forget), the key of the event that caused it, its effects,
        and its replies for the outbox (`(address, body)` pairs, in order).

        Returns None, writing nothing, when `once` was answered before (an update delivered
        again). Effects kept in this database (counting a result) are done right here, so they
        happen exactly once with the turn; the others are saved as pending and returned, to be
        carried out after the save."""
        self._same_file()
        work = partial(_write_turn, channel, user_id, session, self.pseudonyms.event(once) if once else None,
                       tuple(effects), self._sealed(outbox), _now(), time.time())
        try:
            result = await self._db._execute(lambda: work(self._db._conn))  # one hop to aiosqlite's thread
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None
        self._turns += 1
        if self._turns % PURGE_EVERY == 0:  # a bot that runs for weeks keeps only 8 days of keys
            await self._execute(*_purge_seen())
        if result is None:
            return None
        if session is None:
            self._cache.pop((channel, user_id), None)
        else:
            self._remember(channel, user_id, session)
        return [PendingEffect(i, channel, effect) for i, effect in result]

    async def queue(self, channel: str, user_id: str, outbox: Sequence[tuple[str, str]]) -> None:
        """Replies that no saved turn decided (an apology, a page of options): into the outbox."""
        now = time.time()
        await self._many("INSERT INTO outbox (channel, user_id, address, body, created) VALUES (?, ?, ?, ?, ?)",
                         [(channel, user_id, address, body, now) for address, body in self._sealed(outbox)])

    async def queued(self, channel: str, user_id: str) -> list[Queued]:
        """The user's replies not yet taken by the platform, oldest first."""
        rows = await self._db.execute_fetchall(
            "SELECT id, user_id, address, body, created FROM outbox WHERE channel = ? AND user_id = ? ORDER BY id",
            (channel, user_id))
        return [self._opened(row) for row in rows]

    async def queued_users(self, channel: str) -> list[str]:
        """Users with replies still to send (a crash or an outage came in between)."""
        rows = await self._db.execute_fetchall(
            "SELECT user_id FROM outbox WHERE channel = ? GROUP BY user_id ORDER BY min(id)", (channel,))
        return [user for (user,) in rows]

    async def replace_queued(self, channel: str, user_id: str, ids: Sequence[int],
                             outbox: Sequence[tuple[str, str]]) -> None:
        """Answers that waited too long give way to others (an apology, the current question),
        in one transaction: a crash in between neither loses nor doubles them."""
        now, sealed = time.time(), self._sealed(outbox)

        def work(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
                db.executemany("INSERT INTO outbox (channel, user_id, address, body, created) VALUES (?, ?, ?, ?, ?)",
                               [(channel, user_id, address, body, now) for address, body in sealed])

        try:
            await self._db._execute(lambda: work(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    async def sent(self, ids: Sequence[int]) -> None:
        """The platform took these replies (or refused them for good): they leave the outbox."""
        await self._many("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    async def sent_and_queued(self, channel: str, user_id: str, sent_id: int) -> list[Queued]:
        """`sent` for one reply, and the user's replies still waiting, in one trip."""
        def work(db: sqlite3.Connection) -> list[Queued]:
            db.execute("DELETE FROM outbox WHERE id = ?", (sent_id,)).close()
            return [self._opened(row) for row in db.execute(
                "SELECT id, user_id, address, body, created FROM outbox WHERE channel = ? AND user_id = ?"
                " ORDER BY id", (channel, user_id)).fetchall()]

        try:
            return await self._db._execute(lambda: work(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    async def _many(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        """executemany in aiosqlite's thread, its cursor closed at once (a cursor left open keeps
        its statement busy, and the next use of the same statement is SQLITE_MISUSE)."""
        def work(db: sqlite3.Connection) -> None:
            db.executemany(sql, rows).close()

        try:
            await self._db._execute(lambda: work(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    async def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            await self._db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    async def pending_effects(self) -> list[PendingEffect]:
        """Effects saved but not yet done (a crash came in between): oldest first."""
        rows = await self._db.execute_fetchall("SELECT id, channel, kind, data FROM effects ORDER BY id")
        return [PendingEffect(i, channel, Effect(kind, json.loads(data))) for i, channel, kind, data in rows]

    async def done(self, pending: PendingEffect) -> None:
        await self._db.execute("DELETE FROM effects WHERE id = ?", (pending.id,))

    async def counts(self, since: date | None = None, until: date | None = None) -> Counts:
        """The anonymous report's counts for the days from `since` to `until` (both included)."""
        low, high = (since or date.min).isoformat(), (until or date.max).isoformat()
        requests = await self._db.execute_fetchall(
            f"SELECT {columns(RequestCount)} FROM request_counts WHERE day BETWEEN ? AND ?"
            " ORDER BY day, comune, need", (low, high))
        starts = await self._db.execute_fetchall(
            f"SELECT {columns(StartCount)} FROM start_counts WHERE day BETWEEN ? AND ? ORDER BY day",
            (low, high))
        return Counts([RequestCount(*r) for r in requests], [StartCount(*r) for r in starts])

    async def delete(self, channel: str, user_id: str, *, seen: str | None = None) -> None:
        """/forget: nothing about the user is kept — conversation, unsent answers, number links —
        only the hashed key of the update that said so."""
        await self.save(channel, user_id, None, once=seen)

    async def link(self, channel: str, alias: str, user_id: str) -> None:
        """`alias` (a phone number's pseudonym) names the user `user_id` (a BSUID's): a
        conversation kept under the alias moves to the user id, unless one is kept there already."""
        def work(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute("INSERT OR REPLACE INTO aliases (channel, alias, user_id) VALUES (?, ?, ?)",
                           (channel, alias, user_id))
                db.execute("UPDATE OR IGNORE sessions SET user_id = ? WHERE channel = ? AND user_id = ?",
                           (user_id, channel, alias))
                db.execute("UPDATE outbox SET user_id = ? WHERE channel = ? AND user_id = ?", (user_id, channel, alias))

        self._cache.pop((channel, alias), None)
        try:
            await self._db._execute(lambda: work(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    async def alias_of(self, channel: str, alias: str) -> str | None:
        rows = await self._db.execute_fetchall("SELECT user_id FROM aliases WHERE channel = ? AND alias = ?",
                                               (channel, alias))
        return next((user for (user,) in rows), None)

    async def open_handoff(self, channel: str, user_id: str, sealed_address: str, card: int,
                           thread: int | None, remind: datetime | None = None) -> None:
        """A hand-off's card is in the operators' group: remember where, whom it is for, and
        when to tell the family again if nobody answers."""
        def work(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                now = _now()
                db.execute("INSERT OR REPLACE INTO handoffs (channel, user_id, address, card, thread, opened, heard,"
                           " remind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (channel, user_id, sealed_address, card, thread, now, now, _utc(remind)))
                db.execute("INSERT OR REPLACE INTO handoff_messages (message_id, channel, user_id) VALUES (?, ?, ?)",
                           (card, channel, user_id))

        await self._run(work)

    async def handoff_of(self, channel: str, user_id: str) -> Handoff | None:
        rows = await self._db.execute_fetchall(
            "SELECT channel, user_id, address, card, thread, heard FROM handoffs WHERE channel = ? AND user_id = ?",
            (channel, user_id))
        return next((self._handoff(r) for r in rows), None)

    async def handoff_at(self, message_id: int | None, thread: int | None) -> Handoff | None:
        """The open hand-off an operator's message answers: by the message it replies to, or its topic."""
        rows = await self._db.execute_fetchall(
            "SELECT h.channel, h.user_id, h.address, h.card, h.thread, h.heard FROM handoffs h"
            " LEFT JOIN handoff_messages m ON m.channel = h.channel AND m.user_id = h.user_id"
            " WHERE m.message_id = ? OR (h.thread IS NOT NULL AND h.thread = ?) LIMIT 1", (message_id, thread))
        return next((self._handoff(r) for r in rows), None)

    async def note_handoff_message(self, handoff: Handoff, message_id: int) -> None:
        """A family's message was posted in the group as `message_id`: replies to it reach the
        family, and the family was heard now."""
        def work(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute("INSERT OR REPLACE INTO handoff_messages (message_id, channel, user_id) VALUES (?, ?, ?)",
                           (message_id, handoff.channel, handoff.user_id))
                db.execute("UPDATE handoffs SET heard = ? WHERE channel = ? AND user_id = ?",
                           (_now(), handoff.channel, handoff.user_id))

        await self._run(work)

    async def handoffs_unanswered(self, now: datetime) -> list[Handoff]:
        """Open hand-offs nobody in the group has answered by their reminder time."""
        rows = await self._db.execute_fetchall(
            "SELECT channel, user_id, address, card, thread, heard FROM handoffs"
            " WHERE remind IS NOT NULL AND remind <= ? ORDER BY remind", (_utc(now),))
        return [self._handoff(r) for r in rows]

    async def no_reminder(self, handoff: Handoff) -> None:
        """Someone answered (or the family was told already): no reminder for this hand-off."""
        await self._execute("UPDATE handoffs SET remind = NULL WHERE channel = ? AND user_id = ?",
                            (handoff.channel, handoff.user_id))

    async def close_handoff(self, channel: str, user_id: str) -> None:
        """The hand-off ended: the family's address and the map of its messages are erased."""
        def work(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute("DELETE FROM handoffs WHERE channel = ? AND user_id = ?", (channel, user_id))
                db.execute("DELETE FROM handoff_messages WHERE channel = ? AND user_id = ?", (channel, user_id))

        await self._run(work)

    def _handoff(self, row: tuple[object, ...]) -> Handoff:
        channel, user_id, address, card, thread, heard = row
        return Handoff(str(channel), str(user_id), self.pseudonyms.unseal(str(address)) or "", int(card),  # type: ignore[call-overload]
                       int(thread) if thread is not None else None,  # type: ignore[call-overload]
                       datetime.fromisoformat(str(heard)) if heard else None)

    async def _run(self, work) -> None:
        try:
            await self._db._execute(lambda: work(self._db._conn))
        except sqlite3.OperationalError as exc:
            raise _fault(exc) from None

    async def first_time(self, key: str) -> bool:
        """Mark `key` as seen; True only the first time (e.g. a notice given once)."""
        cursor = await self._db.execute("INSERT OR IGNORE INTO seen (key, seen_at) VALUES (?, ?)",
                                        (self.pseudonyms.event(key), _now()))
        return cursor.rowcount == 1

    def _sealed(self, outbox: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """Outbox rows as stored: the address sealed (bot.pseudonyms)."""
        return tuple((self.pseudonyms.seal(address), body) for address, body in outbox)

    def _opened(self, row: tuple[object, ...]) -> Queued:
        """An outbox row as the channel sends it: the address unsealed ("" if it cannot be)."""
        i, user_id, address, body, created = row
        return Queued(int(i), str(user_id), self.pseudonyms.unseal(str(address)) or "", str(body), float(created))

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._db.close()


class StoreError(Exception):
    """The database cannot be used: one line that says which file and why."""


class StoreLost(StoreError):
    """The database file was deleted or replaced under the running bot: it must stop."""


class StoreFull(StoreError):
    """The disk (or the database) is full: this turn could not be saved; the next may."""


LOCK_WAIT_SECONDS = 0.5  # a database another process holds locked: said at once, not after a hang


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


Statement = tuple[str, tuple[object, ...]]


def _count_request(channel: str, effect: Effect) -> list[Statement]:
    """One count per age group of a request (no user id: day and what was asked), with a
    random record key added to its cell key."""
    d = effect.data
    column = "persons" if d.get("person") else "shown"
    sql = ("INSERT INTO request_counts (day, channel, lang, comune, municipio, age, need, services, link, "
           f"{column}, {column}_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT "
           "(day, channel, lang, comune, municipio, age, need, services, link) DO UPDATE SET "
           f"{column} = request_counts.{column} + 1, "
           f"{column}_key = (request_counts.{column}_key + excluded.{column}_key) % {KEY_MODULUS}")
    return [(sql, (d["day"], channel, d["lang"], d.get("comune") or "", d.get("municipio") or 0, age or "",
                   d.get("need") or "", " ".join(sorted(services)), d.get("link") or "", record_key()))
            for age, services in d["rows"]]


def _count_start(channel: str, effect: Effect) -> list[Statement]:
    d = effect.data
    return [("INSERT INTO start_counts (day, channel, lang, link, starts, starts_key) VALUES (?, ?, ?, ?, 1, ?) "
             "ON CONFLICT (day, channel, lang, link) DO UPDATE SET starts = start_counts.starts + 1, "
             f"starts_key = (start_counts.starts_key + excluded.starts_key) % {KEY_MODULUS}",
             (d["day"], channel, d["lang"], d.get("link") or "", record_key()))]


# Effects whose whole work is a write to this database: done in the turn's own transaction.
LOCAL_EFFECTS: dict[str, Callable[[str, Effect], list[Statement]]] = {
    "count-request": _count_request, "count-start": _count_start}


_UPSERT = (
    "INSERT INTO sessions (channel, user_id, data, seen, updated_at) VALUES (?, ?, ?, '[]', ?)"
    " ON CONFLICT (channel, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at"
)


def _write_turn(channel: str, user_id: str, session: Session | None, key: str | None,
                effects: tuple[Effect, ...], outbox: tuple[tuple[str, str], ...], now: str, clock: float,
                db: sqlite3.Connection) -> list[tuple[int, Effect]] | None:
    """The transaction of one turn, run in aiosqlite's thread (see SessionStore.save)."""
    pending: list[tuple[int, Effect]] = []
    db.execute("BEGIN")
    try:
        if key is not None and db.execute(
                "INSERT OR IGNORE INTO seen (key, seen_at) VALUES (?, ?)", (key, now)).rowcount == 0:
            db.execute("ROLLBACK")
            return None
        if session is None:  # /forget: the conversation, its unsent answers, its number links
            db.execute("DELETE FROM sessions WHERE channel = ? AND user_id = ?", (channel, user_id))
            db.execute("DELETE FROM outbox WHERE channel = ? AND user_id = ?", (channel, user_id))
            db.execute("DELETE FROM aliases WHERE channel = ?1 AND (user_id = ?2 OR alias = ?2)", (channel, user_id))
        else:
            db.execute(_UPSERT, (channel, user_id, json.dumps(session.to_dict(), ensure_ascii=False), now))
        for effect in effects:
            if effect.kind in LOCAL_EFFECTS:
                for statement in LOCAL_EFFECTS[effect.kind](channel, effect):
                    db.execute(*statement)
                continue
            cursor = db.execute("INSERT INTO effects (channel, kind, data, created_at) VALUES (?, ?, ?, ?)",
                                (channel, effect.kind, json.dumps(dict(effect.data), ensure_ascii=False), now))
            pending.append((int(cursor.lastrowid or 0), effect))
        db.executemany("INSERT INTO outbox (channel, user_id, address, body, created) VALUES (?, ?, ?, ?, ?)",
                       [(channel, user_id, address, body, clock) for address, body in outbox])
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return pending


# Columns added after a table was first shipped: a database made before gets them at open.
_ADDED_COLUMNS = (("handoffs", "heard", "TEXT"), ("handoffs", "remind", "TEXT"))


def _add_columns(db: sqlite3.Connection) -> None:
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


SCHEMA_VERSION = 2  # 2: users are keyed by pseudonyms and outbox addresses are sealed
_USER_TABLES = ("sessions", "outbox", "aliases", "handoffs", "handoff_messages")


def _adopt(db: sqlite3.Connection, keys: Pseudonyms) -> None:
    """At open: make the database's user keys those of `keys`, in one transaction.

    A database written before pseudonyms (schema version < 2) has its ids and addresses in
    clear: each is replaced by its pseudonym or sealed, and the file is then rewritten
    (VACUUM), so that no old page keeps them. A database whose keys were made with another
    secret (BOT_SECRET changed) is refused, not erased: the right secret may come back."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    row = db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()
    if version >= SCHEMA_VERSION and row is not None:
        if row[0] != keys.check():
            raise StoreError("the conversations in this database were kept under another secret: start with "
                             "the same BOT_SECRET (or its secret file); if that is lost, delete the database "
                             "(nothing in it can be read without it)")
        return
    in_clear = version < SCHEMA_VERSION and _has_rows(db)
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
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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


def _session(data: str | None) -> Session | None:
    if data is None:
        return None
    try:
        return Session.from_dict(json.loads(data))
    except (ValueError, TypeError):
        return None  # unreadable (e.g. written by a future version): start afresh


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _utc(moment: datetime | None) -> str | None:
    """A moment as stored: UTC, to the second (so that stored times compare as text)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment is not None else None
