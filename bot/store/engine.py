"""What the store asks of a database engine: statements, and transactions written once for both.

A transaction is a generator (`Work`): it yields `Sql` statements and is sent each one's
`Done` (rows and row count), and what it returns is the transaction's result; raising
`Rollback(value)` undoes it and returns `value`. The SQLite engine runs such a generator in
one hop to its database thread (a turn is one trip however many statements it has); the
PostgreSQL engine awaits each statement on a pooled connection. The store's logic is thus
written once, with SQL both engines read: `?` placeholders, `ON CONFLICT` upserts,
`RETURNING`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Sql:
    text: str
    params: Sequence[Any] = ()
    many: bool = False  # params is a sequence of rows: the statement runs once per row


@dataclass(frozen=True)
class Done:
    rows: list[tuple[Any, ...]]
    count: int  # rows the statement changed


Work = Generator[Sql, Done, T]


class Rollback(Exception):
    """Raised inside a transaction's work: undo everything, and give `value` as its result."""

    def __init__(self, value: object = None):
        super().__init__()
        self.value = value


class Engine(Protocol):
    name: str  # "sqlite" or "postgresql": the dialect of its schema (bot.store.schema)
    shared: bool  # other processes may write the same database (sessions must be read, not cached)

    async def transaction(self, work: Callable[[], Work[T]]) -> T: ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def execute(self, sql: str, params: Sequence[Any] = (), *, many: bool = False) -> int: ...

    def check(self) -> None:
        """Raise StoreLost if the database the engine writes is no longer the one it opened."""

    async def close(self) -> None: ...
