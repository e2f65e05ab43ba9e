"""Sessions in SQLite (aiosqlite, WAL): a restart or a crash loses no conversation.

One row per (channel, user): the session as JSON. Saved after every turn, in the same
order as the turns (the conversation holds a per-user lock), so what is on disk is always
the state of the last answered message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from bot.dialogs.model import Session

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS sessions (
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (channel, user_id)
    )
    """,
    # Keys of things done once: a handled update ("telegram:update:123"), a notice given
    # ("telegram:group:-100"). Written in the same transaction as the session they go with.
    """
    CREATE TABLE IF NOT EXISTS seen (
        key     TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL
    )
    """,
)
SEEN_RETENTION_DAYS = 7  # Telegram re-sends an unconfirmed update for at most 24 hours


class SessionStore:
    def __init__(self, db: aiosqlite.Connection):
        self._db = db

    @classmethod
    async def open(cls, path: Path | str) -> SessionStore:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path))
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            await db.execute(statement)
        await db.execute(
            "DELETE FROM seen WHERE seen_at < ?",
            ((datetime.now(UTC) - timedelta(days=SEEN_RETENTION_DAYS)).isoformat(timespec="seconds"),),
        )
        await db.commit()
        return cls(db)

    async def load(self, channel: str, user_id: str) -> Session | None:
        async with self._db.execute(
            "SELECT data FROM sessions WHERE channel = ? AND user_id = ?", (channel, user_id)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        try:
            return Session.from_dict(json.loads(row[0]))
        except (ValueError, TypeError):
            return None  # unreadable (e.g. written by a future version): start afresh

    async def save(self, channel: str, user_id: str, session: Session, *, seen: str | None = None) -> None:
        """Store the session; `seen` marks what caused it as done, in the same transaction."""
        now = _now()
        await self._db.execute(
            "INSERT INTO sessions (channel, user_id, data, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (channel, user_id) DO UPDATE SET data = excluded.data, "
            "updated_at = excluded.updated_at",
            (channel, user_id, json.dumps(session.to_dict(), ensure_ascii=False), now),
        )
        if seen:
            await self._db.execute("INSERT OR IGNORE INTO seen (key, seen_at) VALUES (?, ?)", (seen, now))
        await self._db.commit()

    async def delete(self, channel: str, user_id: str, *, seen: str | None = None) -> None:
        """/forget: nothing about the user is kept."""
        await self._db.execute("DELETE FROM sessions WHERE channel = ? AND user_id = ?", (channel, user_id))
        if seen:
            await self._db.execute("INSERT OR IGNORE INTO seen (key, seen_at) VALUES (?, ?)", (seen, _now()))
        await self._db.commit()

    async def was_seen(self, key: str) -> bool:
        async with self._db.execute("SELECT 1 FROM seen WHERE key = ?", (key,)) as cursor:
            return await cursor.fetchone() is not None

    async def first_time(self, key: str) -> bool:
        """Mark `key` as seen; True only the first time (e.g. a notice given once)."""
        cursor = await self._db.execute("INSERT OR IGNORE INTO seen (key, seen_at) VALUES (?, ?)", (key, _now()))
        await self._db.commit()
        return cursor.rowcount == 1

    async def close(self) -> None:
        await self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
