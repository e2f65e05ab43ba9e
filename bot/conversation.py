"""One turn for one user: load the session, step the dialog, save, do its effects, return the replies.

The only place where the pure dialog meets storage. Turns of the same user run one at a
time: in this process by a per-user lock, across processes sharing a database by the
session's version (a turn whose session another process saved meanwhile is stepped again on
what is stored now: the dialog is pure, so nothing was done twice), and two quick messages
cannot overwrite each other's answers. A bug in the dialog costs the user one kind apology,
not the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, datetime

from bot.dialogs import texts as T
from bot.dialogs.model import Effect, Event, Reply, Resources, Section
from bot.dialogs.orientation import step
from bot.effects import Handler, carry_out, known_kinds
from bot.store import SessionStore, Stale, StoreDown
from bot.tracing import where

log = logging.getLogger(__name__)

HANDOFF = "handoff-"  # effects of a hand-off carry the user's pseudonym and sealed address
TRIES = 20  # a turn stepped again this often because other processes kept saving the same user: given up
RESUME_EVERY = 30.0  # seconds: effects another process left undone (it died) are taken up this often

# A channel's messages for a turn's replies, as (address, body) rows of the outbox.
Render = Callable[[list[Reply]], list[tuple[str, str]]]
# Opens the store and yields a Conversation over it, closed on exit (see `bot.app`).
OpenConversation = Callable[[], AbstractAsyncContextManager["Conversation"]]


class Conversation:
    def __init__(self, resources: Resources, store: SessionStore, clock: Callable[[], date | datetime]):
        self.resources, self.store, self.clock = resources, store, clock
        self.handlers: dict[str, Handler] = {}  # effects carried out by others (bot.handoff's desk)
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def _user_lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def handle(self, channel: str, user_id: str, event: Event, *, once: str | None = None,
                     render: Render | None = None, address: str | None = None) -> list[Reply]:
        """The replies to one event. With `once` (e.g. an update id), an event delivered
        again after a crash or a retry is answered only the first time: [] afterwards.

        With `render`, the replies go into the outbox as the channel's messages, in the same
        transaction as the session (the channel then sends them from there)."""
        async with self._user_lock((channel, user_id)):
            for attempt in range(TRIES):
                try:
                    return await self._turn(channel, user_id, event, once, render, address, fresh=attempt > 0)
                except Stale:
                    continue
        raise StoreDown(f"a turn was outrun {TRIES} times by other processes saving the same conversation")

    async def _turn(self, channel: str, user_id: str, event: Event, once: str | None, render: Render | None,
                    address: str | None, *, fresh: bool) -> list[Reply]:
        turn = await self.store.load_turn(channel, user_id, once, fresh=fresh)
        if turn.already:
            return []
        session = turn.session
        try:
            new, replies, effects = step(session, event, self.resources, self.clock())
        except Exception as exc:
            # No message text or names in the log, not even inside the exception's own
            # message ("invalid literal for int(): '²'"): only what failed and where.
            log.error("dialog step failed (channel=%s, state=%s, event=%s): %s at %s",
                      channel, session.state if session else None, type(event).__name__,
                      type(exc).__name__, where(exc))
            tr = self.resources.catalogs.get(session.lang if session else None)
            sorry = [Reply((Section(tr(T.SORRY)),), lang=tr.lang)]
            if render is not None:
                await self.store.queue(channel, user_id, render(sorry))
            return sorry
        outbox = render(replies) if render is not None and replies else ()
        if any(e.kind.startswith(HANDOFF) for e in effects):  # the desk needs to know whose, and where
            sealed = self.store.pseudonyms.seal(address or "")
            effects = [Effect(e.kind, {**e.data, "user": user_id, "to": sealed}) if e.kind.startswith(HANDOFF)
                       else e for e in effects]
        pending = await self.store.save(channel, user_id, new, once=once, effects=effects, outbox=outbox,
                                        version=turn.version)
        if pending is None:  # the same event, answered meanwhile (another delivery of it)
            return []
        await carry_out(self.store, pending, self.handlers)
        return replies

    async def resume_effects(self) -> None:
        """Carry out the effects nobody is doing: left by a crash (here, or in another process
        on the same database), or failed and due again. At start-up, then every RESUME_EVERY s."""
        await carry_out(self.store, await self.store.take_effects(known_kinds() | set(self.handlers)),
                        self.handlers)

    async def keep_resuming(self, every: float = RESUME_EVERY) -> None:
        """The running bot's task for `resume_effects` (a failure is tried again next time)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.resume_effects()
            except Exception as exc:
                log.warning("could not take up pending effects (%s at %s)", type(exc).__name__, where(exc))

    async def has_session(self, channel: str, user_id: str) -> bool:
        return await self.store.load(channel, user_id) is not None
