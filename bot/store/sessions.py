"""The store: conversations, event keys, effects, the outbox, hand-offs and counts, on SQLite or
PostgreSQL (bot.store.engine), one process or several on the same database.

One row per (channel, user): the session as JSON, with a version. A turn is one read and one
transaction: the session (saved only if its version is still the one read: another process
may have answered this user meanwhile, and the turn is then stepped again, see
`bot.conversation`), the hashed key of the event that caused it (unique: an update delivered
again, to any process, even days later or after /forget, is not answered twice), its effects
and its replies for the outbox. On SQLite, sessions of users met before are kept in memory
too, so a turn is one trip; a version the database no longer has is caught by the save.

Work that several processes could each start (sending a user's replies, carrying out an
effect) is taken with a lease: a row that says who does it until when, so that it is done by
one process at a time, and by another once a process that died lets its lease run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

from bot.dialogs.model import Effect, Session
from bot.pseudonyms import Pseudonyms
from bot.report.counts import KEY_MODULUS, Counts, RequestCount, StartCount, columns, record_key
from bot.store.engine import Done, Engine, Rollback, Sql, Work
from bot.store.records import Handoff, PendingEffect, Queued, Stale, StoreError, Turn

log = logging.getLogger(__name__)

SEEN_RETENTION_DAYS = 8  # Telegram re-sends an update for 24 hours, Meta for up to 7 days
PURGE_EVERY = 10_000  # turns between two purges of older keys (and at every start)
SWEEP_SECONDS = 3600  # a running bot erases conversations past their retention this often
EFFECT_LEASE = 60.0  # seconds a process has to carry out an effect before another may
_USER_TABLES = ("outbox", "aliases", "handoffs", "handoff_messages", "drains", "sessions")


def is_url(target: Path | str) -> bool:
    """BOT_DB names a PostgreSQL server (a URL), not an SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class Lease:
    """Who sends a user's replies (a process's random name), until when (unix time)."""

    owner: str
    until: float


class SessionStore:
    """The database is the durable copy of everything; memory only saves reads (SQLite)."""

    def __init__(self, engine: Engine, pseudonyms: Pseudonyms | None = None, cache_size: int | None = None):
        self.engine = engine
        self.pseudonyms = pseudonyms or Pseudonyms.random()  # the channels key their users with it
        self._sweeper: asyncio.Task[None] | None = None
        # A shared server is written by other processes all the time: every turn reads it.
        self._cache_size = (0 if engine.shared else 50_000) if cache_size is None else cache_size
        self._cache: OrderedDict[tuple[str, str], tuple[Session, int]] = OrderedDict()
        self._turns = 0

    @classmethod
    async def open(cls, target: Path | str, *, retention_days: int | None = None, secret: str | None = None,
                   sweep_seconds: float = SWEEP_SECONDS) -> SessionStore:
        """Open (and create or migrate) the database named by BOT_DB: an SQLite file, or a
        `postgresql://` URL. One that cannot be used is a StoreError that says why in one line.

        Users are keyed by pseudonyms made with `secret` (BOT_SECRET), else (SQLite) with the
        secret file beside the database. With `retention_days`, conversations untouched that
        long are erased now and then every `sweep_seconds`, by a task of the running bot."""
        if is_url(target):
            from bot.store import postgres

            engine, keys = await postgres.open_engine(str(target), secret)
        else:
            from bot.store import sqlite

            engine, keys = await sqlite.open_engine(target, secret)
        store = cls(engine, keys)
        await store.engine.execute(*_purge_seen())
        if retention_days is not None:
            await store.purge(retention_days)
            store._sweeper = asyncio.get_running_loop().create_task(store._sweep(retention_days, sweep_seconds))
        return store

    def _remember(self, channel: str, user_id: str, session: Session, version: int) -> None:
        if not self._cache_size:
            return
        self._cache[(channel, user_id)] = (session, version)
        self._cache.move_to_end((channel, user_id))
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

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
        pending replies, its WhatsApp number link, its hand-off); how many were erased. The
        anonymous counts stay: nothing in them points to a family."""
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")

        def work() -> Work[list[tuple[str, str]]]:
            old = (yield Sql("SELECT channel, user_id FROM sessions WHERE updated_at < ?", (cutoff,))).rows
            if old:
                for table in _USER_TABLES:
                    yield Sql(f"DELETE FROM {table} WHERE channel = ? AND user_id = ?", old, many=True)
            return [(str(c), str(u)) for c, u in old]

        erased = await self.engine.transaction(work)
        for key in erased:  # a turn served from memory meanwhile is caught by its save (versions)
            self._cache.pop(key, None)
        return len(erased)

    async def load_turn(self, channel: str, user_id: str, key: str | None = None, *, fresh: bool = False) -> Turn:
        """The user's session (with its version), and whether the event `key` was answered before.

        A user met before is read from memory (SQLite, unless `fresh`), and a repeated key is then
        caught by the save (the key is unique in the database): one trip per turn, not two."""
        cached = None if fresh else self._cache.get((channel, user_id))
        if cached is not None:
            return Turn(cached[0], False, cached[1])
        rows = await self.engine.fetch(
            "SELECT s.data, s.version, EXISTS (SELECT 1 FROM seen WHERE key = ?) FROM (SELECT 1) AS one"
            " LEFT JOIN sessions s ON s.channel = ? AND s.user_id = ?",
            (self.pseudonyms.event(key) if key else "", channel, user_id))
        data, version, already = rows[0]
        session = _session(data)
        if session is not None:
            self._remember(channel, user_id, session, int(version))
        return Turn(session, bool(key) and bool(already), int(version or 0))

    async def load(self, channel: str, user_id: str) -> Session | None:
        """The session as the database has it now (another process may have moved it on)."""
        return (await self.load_turn(channel, user_id, fresh=True)).session

    async def save(self, channel: str, user_id: str, session: Session | None, *, once: str | None = None,
                   effects: Sequence[Effect] = (), outbox: Sequence[tuple[str, str]] = (),
                   version: int | None = None) -> list[PendingEffect] | None:
        """Store what one turn decided, in one transaction: the session (None: erase it,
        /forget), the key of the event that caused it, its effects, and its replies for the
        outbox (`(address, body)` pairs, in order).

        With `version` (the Turn's), the session is saved only if the database still has that
        version; if another process saved it meanwhile, nothing is written and Stale is raised.
        Returns None, writing nothing, when `once` was answered before (an update delivered
        again). Effects kept in this database (counting) are done right here, exactly once with
        the turn; the others are saved as pending, taken by this process, and returned, to be
        carried out after the save."""
        self.engine.check()
        work = partial(_turn, channel, user_id, session, self.pseudonyms.event(once) if once else None, version,
                       tuple(effects), self._sealed(outbox), _now(), time.time())
        result = await self.engine.transaction(work)
        self._turns += 1
        if self._turns % PURGE_EVERY == 0:  # a bot that runs for weeks keeps only 8 days of keys
            await self.engine.execute(*_purge_seen())
        if result is None:
            return None
        pending, saved = result
        if session is None:
            self._cache.pop((channel, user_id), None)
        else:
            self._remember(channel, user_id, session, saved)
        return [PendingEffect(i, channel, effect) for i, effect in pending]

    async def queue(self, channel: str, user_id: str, outbox: Sequence[tuple[str, str]]) -> None:
        """Replies that no saved turn decided (an apology, a page of options): into the outbox."""
        now = time.time()
        await self.engine.execute(_QUEUE, [(channel, user_id, a, b, now) for a, b in self._sealed(outbox)], many=True)

    async def queued(self, channel: str, user_id: str) -> list[Queued]:
        """The user's replies not yet taken by the platform, oldest first."""
        return [self._opened(row) for row in await self.engine.fetch(_QUEUED, (channel, user_id))]

    async def queued_users(self, channel: str, now: float | None = None) -> list[str]:
        """Users with replies still to send that no live process is sending (a crash, an outage)."""
        rows = await self.engine.fetch(
            "SELECT o.user_id FROM outbox o LEFT JOIN drains d ON d.channel = o.channel AND d.user_id = o.user_id"
            " WHERE o.channel = ? AND (d.until IS NULL OR d.until < ?) GROUP BY o.user_id ORDER BY min(o.id)",
            (channel, time.time() if now is None else now))
        return [user for (user,) in rows]

    async def replace_queued(self, channel: str, user_id: str, ids: Sequence[int],
                             outbox: Sequence[tuple[str, str]]) -> None:
        """Answers that waited too long give way to others (an apology, the current question),
        in one transaction: a crash in between neither loses nor doubles them."""
        now, sealed = time.time(), self._sealed(outbox)

        def work() -> Work[None]:
            yield Sql("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids], many=True)
            yield Sql(_QUEUE, [(channel, user_id, a, b, now) for a, b in sealed], many=True)

        await self.engine.transaction(work)

    async def take_drain(self, channel: str, user_id: str, lease: Lease) -> list[Queued] | None:
        """Become the one process sending this user's replies until `lease.until` (or stay it):
        the replies waiting, or None if another live process is sending them."""
        def work() -> Work[list[Queued] | None]:
            if not (yield from _lease(channel, user_id, lease)):
                return None
            return [self._opened(r) for r in (yield Sql(_QUEUED, (channel, user_id))).rows]

        return await self.engine.transaction(work)

    async def sent_and_queued(self, channel: str, user_id: str, sent_id: int,
                              lease: Lease | None = None) -> list[Queued] | None:
        """`sent` for one reply, and the user's replies still waiting, in one trip; with a
        lease, renewed, or None if another process has taken it over (it sends the rest)."""
        def work() -> Work[list[Queued] | None]:
            yield Sql("DELETE FROM outbox WHERE id = ?", (sent_id,))
            if lease is not None and not (yield from _lease(channel, user_id, lease)):
                return None
            return [self._opened(r) for r in (yield Sql(_QUEUED, (channel, user_id))).rows]

        return await self.engine.transaction(work)

    async def renew_drain(self, channel: str, user_id: str, lease: Lease) -> bool:
        """Keep sending this user's replies until `lease.until` (a long retry); False if taken over."""
        return await self.engine.transaction(lambda: _lease(channel, user_id, lease))

    async def leave_drain(self, channel: str, user_id: str, lease: Lease) -> list[Queued]:
        """Stop sending this user's replies; what is still waiting (written by another process
        while its lease was held here: the caller takes it again)."""
        def work() -> Work[list[Queued]]:
            yield Sql("DELETE FROM drains WHERE channel = ? AND user_id = ? AND owner = ?",
                      (channel, user_id, lease.owner))
            return [self._opened(r) for r in (yield Sql(_QUEUED, (channel, user_id))).rows]

        return await self.engine.transaction(work)

    async def pending_effects(self) -> list[PendingEffect]:
        """Effects saved but not yet done (being done, or left by a crash): oldest first."""
        rows = await self.engine.fetch("SELECT id, channel, kind, data FROM effects ORDER BY id")
        return [PendingEffect(int(i), channel, Effect(kind, json.loads(data))) for i, channel, kind, data in rows]

    async def take_effects(self, kinds: Collection[str], until: float | None = None) -> list[PendingEffect]:
        """Effects of these kinds nobody is carrying out (a process died, or one failed and its
        lease ran out), taken by this process until `until`: oldest first, 100 at most."""
        now = time.time()
        until = now + EFFECT_LEASE if until is None else until

        def work() -> Work[list[PendingEffect]]:
            rows = (yield Sql("SELECT id, channel, kind, data FROM effects WHERE taken_until < ? ORDER BY id LIMIT 100",
                              (now,))).rows
            taken = []
            for i, channel, kind, data in rows:
                if kind in kinds and (yield Sql("UPDATE effects SET taken_until = ? WHERE id = ? AND taken_until < ?",
                                                (until, i, now))).count:
                    taken.append(PendingEffect(int(i), channel, Effect(kind, json.loads(data))))
            return taken

        return await self.engine.transaction(work)

    async def done(self, pending: PendingEffect) -> None:
        await self.engine.execute("DELETE FROM effects WHERE id = ?", (pending.id,))

    async def counts(self, since: date | None = None, until: date | None = None) -> Counts:
        """The anonymous report's counts for the days from `since` to `until` (both included)."""
        low, high = (since or date.min).isoformat(), (until or date.max).isoformat()
        requests = await self.engine.fetch(
            f"SELECT {columns(RequestCount)} FROM request_counts WHERE day BETWEEN ? AND ?"
            " ORDER BY day, comune, need", (low, high))
        starts = await self.engine.fetch(
            f"SELECT {columns(StartCount)} FROM start_counts WHERE day BETWEEN ? AND ? ORDER BY day", (low, high))
        return Counts([RequestCount(*r) for r in requests], [StartCount(*r) for r in starts])

    async def delete(self, channel: str, user_id: str, *, seen: str | None = None) -> None:
        """/forget: nothing about the user is kept — conversation, unsent answers, number links —
        only the hashed key of the update that said so."""
        await self.save(channel, user_id, None, once=seen)

    async def link(self, channel: str, alias: str, user_id: str) -> None:
        """`alias` (a phone number's pseudonym) names the user `user_id` (a BSUID's): a
        conversation kept under the alias moves to the user id, unless one is kept there already."""
        def work() -> Work[None]:
            yield Sql("INSERT INTO aliases (channel, alias, user_id) VALUES (?, ?, ?) ON CONFLICT (channel, alias)"
                      " DO UPDATE SET user_id = excluded.user_id", (channel, alias, user_id))
            yield Sql("UPDATE sessions SET user_id = ? WHERE channel = ? AND user_id = ? AND NOT EXISTS"
                      " (SELECT 1 FROM sessions other WHERE other.channel = ? AND other.user_id = ?)",
                      (user_id, channel, alias, channel, user_id))
            yield Sql("UPDATE outbox SET user_id = ? WHERE channel = ? AND user_id = ?", (user_id, channel, alias))

        self._cache.pop((channel, alias), None)
        await self.engine.transaction(work)

    async def alias_of(self, channel: str, alias: str) -> str | None:
        rows = await self.engine.fetch("SELECT user_id FROM aliases WHERE channel = ? AND alias = ?", (channel, alias))
        return next((user for (user,) in rows), None)

    async def open_handoff(self, channel: str, user_id: str, sealed_address: str, card: int,
                           thread: int | None, remind: datetime | None = None) -> None:
        """A hand-off's card is in the operators' group: remember where, whom it is for, and
        when to tell the family again if nobody answers."""
        now = _now()

        def work() -> Work[None]:
            yield Sql("INSERT INTO handoffs (channel, user_id, address, card, thread, opened, heard, remind)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, user_id) DO UPDATE SET"
                      " address = excluded.address, card = excluded.card, thread = excluded.thread,"
                      " opened = excluded.opened, heard = excluded.heard, remind = excluded.remind",
                      (channel, user_id, sealed_address, card, thread, now, now, _utc(remind)))
            yield Sql(_NOTE_MESSAGE, (card, channel, user_id))

        await self.engine.transaction(work)

    async def handoff_of(self, channel: str, user_id: str) -> Handoff | None:
        rows = await self.engine.fetch(f"SELECT {_HANDOFF} FROM handoffs h WHERE h.channel = ? AND h.user_id = ?",
                                       (channel, user_id))
        return next((self._handoff(r) for r in rows), None)

    async def handoff_at(self, message_id: int | None, thread: int | None) -> Handoff | None:
        """The open hand-off an operator's message answers: by the message it replies to, or its topic."""
        rows = await self.engine.fetch(
            f"SELECT {_HANDOFF} FROM handoffs h LEFT JOIN handoff_messages m ON m.channel = h.channel"
            " AND m.user_id = h.user_id WHERE m.message_id = ? OR (h.thread IS NOT NULL AND h.thread = ?) LIMIT 1",
            (message_id, thread))
        return next((self._handoff(r) for r in rows), None)

    async def note_handoff_message(self, handoff: Handoff, message_id: int) -> None:
        """A family's message was posted in the group as `message_id`: replies to it reach the
        family, and the family was heard now."""
        def work() -> Work[None]:
            yield Sql(_NOTE_MESSAGE, (message_id, handoff.channel, handoff.user_id))
            yield Sql("UPDATE handoffs SET heard = ? WHERE channel = ? AND user_id = ?",
                      (_now(), handoff.channel, handoff.user_id))

        await self.engine.transaction(work)

    async def handoffs_unanswered(self, now: datetime) -> list[Handoff]:
        """Open hand-offs nobody in the group has answered by their reminder time."""
        rows = await self.engine.fetch(
            f"SELECT {_HANDOFF} FROM handoffs h WHERE h.remind IS NOT NULL AND h.remind <= ? ORDER BY h.remind",
            (_utc(now),))
        return [self._handoff(r) for r in rows]

    async def no_reminder(self, handoff: Handoff) -> bool:
        """Someone answered (or the family is being told): no reminder for this hand-off. True
        only for the one caller that cleared it, so that one process reminds, once."""
        return await self.engine.execute(
            "UPDATE handoffs SET remind = NULL WHERE channel = ? AND user_id = ? AND remind IS NOT NULL",
            (handoff.channel, handoff.user_id)) == 1

    async def close_handoff(self, channel: str, user_id: str) -> None:
        """The hand-off ended: the family's address and the map of its messages are erased."""
        def work() -> Work[None]:
            yield Sql("DELETE FROM handoffs WHERE channel = ? AND user_id = ?", (channel, user_id))
            yield Sql("DELETE FROM handoff_messages WHERE channel = ? AND user_id = ?", (channel, user_id))

        await self.engine.transaction(work)

    def _handoff(self, row: tuple[object, ...]) -> Handoff:
        channel, user_id, address, card, thread, heard = row
        return Handoff(str(channel), str(user_id), self.pseudonyms.unseal(str(address)) or "", int(card),  # type: ignore[call-overload]
                       int(thread) if thread is not None else None,  # type: ignore[call-overload]
                       datetime.fromisoformat(str(heard)) if heard else None)

    async def first_time(self, key: str) -> bool:
        """Mark `key` as seen; True only the first time, in whichever process (a notice given once)."""
        return await self.engine.execute(_SEEN, (self.pseudonyms.event(key), _now())) == 1

    def _sealed(self, outbox: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """Outbox rows as stored: the address sealed (bot.pseudonyms)."""
        return tuple((self.pseudonyms.seal(address), body) for address, body in outbox)

    def _opened(self, row: tuple[object, ...]) -> Queued:
        """An outbox row as the channel sends it: the address unsealed ("" if it cannot be)."""
        i, user_id, address, body, created = row
        return Queued(int(i), str(user_id), self.pseudonyms.unseal(str(address)) or "", str(body), float(created))  # type: ignore[call-overload, arg-type]

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.engine.close()


_QUEUE = "INSERT INTO outbox (channel, user_id, address, body, created) VALUES (?, ?, ?, ?, ?)"
_QUEUED = "SELECT id, user_id, address, body, created FROM outbox WHERE channel = ? AND user_id = ? ORDER BY id"
_SEEN = "INSERT INTO seen (key, seen_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
_HANDOFF = "h.channel, h.user_id, h.address, h.card, h.thread, h.heard"
_NOTE_MESSAGE = ("INSERT INTO handoff_messages (message_id, channel, user_id) VALUES (?, ?, ?) ON CONFLICT (message_id)"
                 " DO UPDATE SET channel = excluded.channel, user_id = excluded.user_id")


def _lease(channel: str, user_id: str, lease: Lease) -> Work[bool]:
    """Take or renew the lease on sending a user's replies: True unless another owner holds a live one."""
    done: Done = yield Sql(
        "INSERT INTO drains (channel, user_id, owner, until) VALUES (?, ?, ?, ?) ON CONFLICT (channel, user_id)"
        " DO UPDATE SET owner = excluded.owner, until = excluded.until"
        " WHERE drains.owner = excluded.owner OR drains.until < ?",
        (channel, user_id, lease.owner, lease.until, time.time()))
    return done.count == 1


def _purge_seen() -> tuple[str, tuple[object, ...]]:
    cutoff = (datetime.now(UTC) - timedelta(days=SEEN_RETENTION_DAYS)).isoformat(timespec="seconds")
    return "DELETE FROM seen WHERE seen_at < ?", (cutoff,)


def _count_request(channel: str, effect: Effect) -> list[Sql]:
    """One count per age group of a request (no user id: day and what was asked), with a
    random record key added to its cell key."""
    d = effect.data
    column = "persons" if d.get("person") else "shown"
    sql = ("INSERT INTO request_counts (day, channel, lang, comune, municipio, age, need, services, link, "
           f"{column}, {column}_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT "
           "(day, channel, lang, comune, municipio, age, need, services, link) DO UPDATE SET "
           f"{column} = request_counts.{column} + 1, "
           f"{column}_key = (request_counts.{column}_key + excluded.{column}_key) % {KEY_MODULUS}")
    return [Sql(sql, (d["day"], channel, d["lang"], d.get("comune") or "", d.get("municipio") or 0, age or "",
                      d.get("need") or "", " ".join(sorted(services)), d.get("link") or "", record_key()))
            for age, services in d["rows"]]


def _count_start(channel: str, effect: Effect) -> list[Sql]:
    d = effect.data
    return [Sql("INSERT INTO start_counts (day, channel, lang, link, starts, starts_key) VALUES (?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (day, channel, lang, link) DO UPDATE SET starts = start_counts.starts + 1, "
                f"starts_key = (start_counts.starts_key + excluded.starts_key) % {KEY_MODULUS}",
                (d["day"], channel, d["lang"], d.get("link") or "", record_key()))]


# Effects whose whole work is a write to this database: done in the turn's own transaction.
LOCAL_EFFECTS: dict[str, Callable[[str, Effect], list[Sql]]] = {
    "count-request": _count_request, "count-start": _count_start}


def _turn(channel: str, user_id: str, session: Session | None, key: str | None, version: int | None,
          effects: tuple[Effect, ...], outbox: tuple[tuple[str, str], ...], now: str, clock: float,
          ) -> Work[tuple[list[tuple[int, Effect]], int] | None]:
    """The transaction of one turn (see SessionStore.save): the effects saved as pending, and
    the session's new version; None if the event was answered before."""
    if key is not None and (yield Sql(_SEEN, (key, now))).count == 0:
        raise Rollback(None)
    saved = 0
    if session is None:  # /forget: the conversation, its unsent answers, its number links
        yield Sql("DELETE FROM sessions WHERE channel = ? AND user_id = ?", (channel, user_id))
        yield Sql("DELETE FROM outbox WHERE channel = ? AND user_id = ?", (channel, user_id))
        yield Sql("DELETE FROM aliases WHERE channel = ? AND (user_id = ? OR alias = ?)", (channel, user_id, user_id))
    else:
        data = json.dumps(session.to_dict(), ensure_ascii=False)
        if version is None:  # whatever is stored (a maintenance write, a test)
            rows = (yield Sql("INSERT INTO sessions (channel, user_id, data, updated_at, version)"
                              " VALUES (?, ?, ?, ?, 1) ON CONFLICT (channel, user_id) DO UPDATE SET"
                              " data = excluded.data, updated_at = excluded.updated_at,"
                              " version = sessions.version + 1 RETURNING version",
                              (channel, user_id, data, now))).rows
            saved = int(rows[0][0])
        elif version == 0:  # no session was stored when the turn read: none may be now
            if not (yield Sql("INSERT INTO sessions (channel, user_id, data, updated_at, version)"
                              " VALUES (?, ?, ?, ?, 1) ON CONFLICT (channel, user_id) DO NOTHING",
                              (channel, user_id, data, now))).count:
                raise Stale()
            saved = 1
        else:
            if not (yield Sql("UPDATE sessions SET data = ?, updated_at = ?, version = ? WHERE channel = ?"
                              " AND user_id = ? AND version = ?",
                              (data, now, version + 1, channel, user_id, version))).count:
                raise Stale()
            saved = version + 1
    pending: list[tuple[int, Effect]] = []
    for effect in effects:
        if effect.kind in LOCAL_EFFECTS:
            for statement in LOCAL_EFFECTS[effect.kind](channel, effect):  # noqa: UP028 - each is sent a Done
                yield statement
            continue
        rows = (yield Sql("INSERT INTO effects (channel, kind, data, created_at, taken_until) VALUES (?, ?, ?, ?, ?)"
                          " RETURNING id", (channel, effect.kind, json.dumps(dict(effect.data), ensure_ascii=False),
                                            now, clock + EFFECT_LEASE))).rows
        pending.append((int(rows[0][0]), effect))
    if outbox:
        yield Sql(_QUEUE, [(channel, user_id, address, body, clock) for address, body in outbox], many=True)
    return pending, saved


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
