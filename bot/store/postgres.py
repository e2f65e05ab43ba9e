"""The PostgreSQL engine (psycopg 3, async, a connection pool): one database that several bot
processes share, on one host or many. BOT_DB=postgresql://user:password@host/dbname.

The store's SQL is written with `?` placeholders (bot.store.engine); here they become
psycopg's `%s`. A transaction holds one pooled connection for its statements and commits at
the end; the server's row locks and unique keys do what a single process's memory cannot
(a session's version, an event's key, a lease). Every process must key users with the same
BOT_SECRET: it is required here, since there is no file beside the database to keep one in.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bot.pseudonyms import Pseudonyms
from bot.store.engine import Done, Rollback, Sql, Work
from bot.store.records import StoreDown, StoreError
from bot.store.schema import keyed_with, migrate

log = logging.getLogger(__name__)
T = TypeVar("T")

POOL_SIZE = 8  # connections per process: turns of different users run side by side
CONNECT_SECONDS = 10.0


class PostgresEngine:
    name = "postgresql"
    shared = True  # other processes write it: sessions are read at every turn, not kept in memory

    def __init__(self, pool: Any, where: str):
        self._pool = pool
        self.where = where  # host and database, never the password: for error lines
        self._queries: dict[tuple[str, bool], str] = {}

    def _query(self, text: str, params: bool) -> str:
        """The statement in psycopg's placeholders (`%` itself doubled where there are params)."""
        query = self._queries.get((text, params))
        if query is None:
            query = text.replace("%", "%%").replace("?", "%s") if params else text
            self._queries[(text, params)] = query
        return query

    async def _step(self, conn: Any, statement: Sql) -> Done:
        if statement.many:
            if not statement.params:
                return Done([], 0)
            async with conn.cursor() as cursor:
                await cursor.executemany(self._query(statement.text, True), statement.params)
                return Done([], cursor.rowcount)
        params = bool(statement.params)
        cursor = await conn.execute(self._query(statement.text, params), statement.params if params else None)
        rows = await cursor.fetchall() if cursor.description else []
        return Done(rows, cursor.rowcount)

    async def transaction(self, work: Callable[[], Work[T]]) -> T:
        """The work in one transaction on a pooled connection."""
        return await self._attempts(lambda used: self._once(work, used))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One reading statement, on its own: the connection is in autocommit, so no BEGIN and
        COMMIT go around it (two round trips fewer for each turn's read)."""
        async def read(used: list[Any]) -> list[tuple[Any, ...]]:
            async with self._pool.connection() as conn:
                used.append(conn)  # a read is always safe to run again
                return (await self._step(conn, Sql(sql, params))).rows

        return await self._attempts(read)

    async def _attempts(self, run: Callable[[list[Any]], Awaitable[T]]) -> T:
        """`run` on a pooled connection. After a server restart every pooled connection is
        dead, and each is found so only at its next use: a run whose connection proves dead
        before any statement has answered did nothing, and is made again on another (up to
        once per pooled connection), so that a restart costs the families nothing rather than
        an apology for each connection the pool held. `run` puts its connection in the list,
        and empties it once something may have been done."""
        import psycopg

        for attempt in itertools.count():
            used: list[Any] = []
            try:
                return await run(used)
            except (psycopg.OperationalError, _timeout()) as exc:
                if used and used[0].broken and attempt < POOL_SIZE:
                    continue
                raise StoreDown(f"the database at {self.where} cannot be reached ({_reason(exc)})") from None
            except psycopg.Error as exc:
                raise StoreError(f"the database at {self.where} refused a statement ({_reason(exc)})") from None
        raise AssertionError("unreachable")

    async def _once(self, work: Callable[[], Work[T]], used: list[Any]) -> T:
        async with self._pool.connection() as conn:
            used.append(conn)
            try:
                async with conn.transaction():
                    steps = work()
                    try:
                        statement = next(steps)
                        while True:
                            done = await self._step(conn, statement)
                            used.clear()  # a statement has answered: from here a failure is not retried
                            statement = steps.send(done)
                    except StopIteration as stop:
                        return stop.value
            except Rollback as undo:
                return undo.value  # type: ignore[return-value]

    async def execute(self, sql: str, params: Sequence[Any] = (), *, many: bool = False) -> int:
        return await self.transaction(lambda: _count(Sql(sql, params, many)))

    def check(self) -> None:
        """A server cannot be swapped under the bot the way a file can: nothing to check."""

    async def close(self) -> None:
        await self._pool.close()


def _count(statement: Sql) -> Work[int]:
    return (yield statement).count


def _timeout() -> type[Exception]:
    from psycopg_pool import PoolTimeout

    return PoolTimeout


def _reason(exc: Exception) -> str:
    return (str(exc).strip().split("\n")[0] or type(exc).__name__)[:200]


def where(url: str) -> str:
    """`host:port/dbname` of a URL, for messages: a password in it is never repeated."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}{':' + str(parts.port) if parts.port else ''}{parts.path or '/'}"


async def open_engine(url: str, secret: str | None) -> tuple[PostgresEngine, Pseudonyms]:
    """Connect, create or migrate the schema (once, whichever replica starts first), and check
    that the database's users were keyed with this BOT_SECRET."""
    try:
        import psycopg
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        raise StoreError("BOT_DB is a PostgreSQL URL, but psycopg is not installed: "
                         "pip install -e '.[postgres]'") from None
    at = where(url)
    if not secret:
        raise StoreError(f"the database at {at} is shared by every process of the bot, which must key users "
                         "alike: set BOT_SECRET (the same in each; `python3 -c 'import secrets; "
                         "print(secrets.token_hex(32))'` makes one)")
    keys = Pseudonyms(secret.encode())
    try:  # one plain connection first: its error says why (a pool's only says it timed out)
        first = await psycopg.AsyncConnection.connect(url, connect_timeout=int(CONNECT_SECONDS))
        await first.close()
    except psycopg.Error as exc:
        raise StoreError(f"the database at {at} cannot be reached ({_reason(exc)})") from None
    pool = AsyncConnectionPool(url, min_size=1, max_size=POOL_SIZE, kwargs={"autocommit": True},
                               open=False, timeout=CONNECT_SECONDS, name="orienta")
    await pool.open(wait=True, timeout=CONNECT_SECONDS)
    engine = PostgresEngine(pool, at)

    def setup() -> Work[None]:
        yield from migrate("postgresql")
        yield from keyed_with(keys.check())

    try:
        await engine.transaction(setup)
    except StoreError as exc:
        await pool.close()
        raise StoreError(f"the database at {at} cannot be used: {exc}") from None
    return engine, keys
