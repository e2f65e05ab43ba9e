"""One turn for one user: load the session, step the dialog, save, do its effects, return the replies.

The only place where the pure dialog meets storage. Turns of the same user run one at a
time (a per-user lock), so two quick messages cannot overwrite each other's answers; a bug
in the dialog costs the user one kind apology, not the conversation.
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
from bot.effects import Handler, carry_out
from bot.storage import SessionStore
from bot.tracing import where

log = logging.getLogger(__name__)

HANDOFF = "handoff-"  # effects of a hand-off carry the user's pseudonym and sealed address

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
            turn = await self.store.load_turn(channel, user_id, once)
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
            pending = await self.store.save(channel, user_id, new, once=once, effects=effects, outbox=outbox)
            if pending is None:  # the same event, answered meanwhile (another delivery of it)
                return []
            await carry_out(self.store, pending, self.handlers)
            return replies

    async def resume_effects(self) -> None:
        """At start-up: carry out the effects a crash left saved but not done."""
        await carry_out(self.store, await self.store.pending_effects(), self.handlers)

    async def has_session(self, channel: str, user_id: str) -> bool:
        return await self.store.load(channel, user_id) is not None
