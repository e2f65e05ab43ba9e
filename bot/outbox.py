"""The outbox: every reply leaves from the database, in order per user, until the platform takes it.

A turn writes its replies with its session (`SessionStore.save`), so a crash, a restart or a
platform that is down for an hour loses no answer. Here they are sent: one drain task per
user sends that user's rows oldest first and deletes each only once the platform accepted
it, so two quick messages are answered in the order they were written. A send that fails
for a while (network, 5xx, 429 `retry_after`, WhatsApp's pair-rate limit) is tried again with
growing pauses; one refused for good (the user blocked the bot) is dropped with a log line.
An answer that waited longer than `stale_after` is not sent stale: the family gets "sorry for
the delay" and the question on screen now, from the dialog.

Each user's drain is its own task, and a platform's rate limiter serves waiting sends in
turn: a user who floods the bot holds one place in the queue, not all of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.storage import Queued, SessionStore
from bot.tracing import where

log = logging.getLogger(__name__)

STALE_AFTER = 600.0  # seconds: an older answer is replaced by an apology and the current question
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 30.0


class TryLater(Exception):
    """The platform cannot take the message now (network, 5xx, rate limit); `after` seconds if it said."""

    def __init__(self, why: str, after: float | None = None):
        super().__init__(why)
        self.after = after


class Undeliverable(Exception):
    """The platform refused the message for good (blocked, bad request): it is dropped."""


# Sends one queued message, raising TryLater or Undeliverable.
Deliver = Callable[[Queued], Awaitable[None]]
# The messages to send instead of answers that waited too long: (user_id, address) -> bodies.
Late = Callable[[str, str], Awaitable[list[str]]]


class Outbox:
    def __init__(self, store: SessionStore, channel: str, deliver: Deliver, *, late: Late | None = None,
                 stale_after: float = STALE_AFTER, clock: Callable[[], float] = time.time,
                 pauses: tuple[float, float] = (FIRST_PAUSE, LONGEST_PAUSE)):
        self.store, self.channel, self.deliver, self.late = store, channel, deliver, late
        self.stale_after, self.clock, self.pauses = stale_after, clock, pauses
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def kick(self, user_id: str) -> None:
        """Send what the user has waiting (a turn was just saved). One drain per user at a time."""
        if user_id in self._tasks:
            self._again.add(user_id)  # the running drain reads the outbox again before it ends
            return
        self._tasks[user_id] = asyncio.create_task(self._drain(user_id))

    async def resume(self) -> int:
        """At start-up: send what a crash or an outage left waiting. Returns how many users."""
        users = await self.store.queued_users(self.channel)
        for user in users:
            self.kick(user)
        if users:
            log.info("%s: %d users had answers waiting; sending them", self.channel, len(users))
        return len(users)

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drained(self, timeout: float) -> bool:
        """Wait until every drain is done (a deploy: finish sending before exiting), up to `timeout`."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(list(self._tasks.values()), timeout=max(0.0, deadline - time.monotonic()))
        return not self._tasks

    async def close(self) -> None:
        """Stop sending (what is left stays in the outbox for the next start)."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _drain(self, user_id: str) -> None:
        try:
            rows = await self.store.queued(self.channel, user_id)
            while True:
                self._again.discard(user_id)
                if not rows:
                    if user_id not in self._again:
                        return
                    rows = await self.store.queued(self.channel, user_id)
                    continue
                rows = await self._send(user_id, rows)
        except Exception as exc:  # the store failed, or a bug: the rows stay, and are tried again
            log.error("%s: the outbox failed: %s at %s; trying again in %.0f s", self.channel,
                      type(exc).__name__, where(exc), self.pauses[1])
            asyncio.get_running_loop().call_later(self.pauses[1], self.kick, user_id)
        finally:
            self._tasks.pop(user_id, None)
            self._again.discard(user_id)

    async def _send(self, user_id: str, rows: Sequence[Queued]) -> list[Queued]:
        """Send the first of the user's waiting rows; return what waits after it (read again)."""
        if self.late is not None and self.clock() - rows[0].created > self.stale_after:
            bodies = await self.late(user_id, rows[-1].address)
            await self.store.replace_queued(self.channel, user_id, [r.id for r in rows],
                                            [(rows[-1].address, body) for body in bodies])
            return await self.store.queued(self.channel, user_id)
        row = rows[0]
        if not row.address:  # sealed under a secret this bot no longer has: nowhere to send it
            log.warning("%s: a message without a readable address; dropped", self.channel)
            return await self.store.sent_and_queued(self.channel, user_id, row.id)
        attempt = 0
        while True:
            try:
                await self.deliver(row)
                break
            except Undeliverable as exc:
                log.warning("%s: a message was refused for good (%s); dropped", self.channel, exc)
                break
            except TryLater as exc:
                pause = exc.after if exc.after is not None else min(self.pauses[1], self.pauses[0] * 2**attempt)
                if attempt in (0, 3, 10) or attempt % 50 == 0:
                    log.warning("%s: sending failed (%s), trying again in %.1f s", self.channel, exc, pause)
                attempt += 1
                await asyncio.sleep(pause)
                if self.late is not None and self.clock() - row.created > self.stale_after:
                    return await self.store.queued(self.channel, user_id)  # stale now: replaced next
        return await self.store.sent_and_queued(self.channel, user_id, row.id)
