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

Several processes on one database: a drain first takes the user's lease (bot.store), so
one process at a time sends a user's replies, in order, and none twice; a turn saved in
another process while the lease is held here is sent from here (the drain reads the outbox
again before it lets go). A process that dies holding a lease lets it run out (LEASE
seconds), and every process looks for replies nobody is sending every RESUME_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.store import Lease, Queued, SessionStore
from bot.tracing import where

log = logging.getLogger(__name__)

STALE_AFTER = 600.0  # seconds: an older answer is replaced by an apology and the current question
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 30.0
LEASE = 60.0  # seconds: a user's replies are this process's to send; renewed at each send and retry
RESUME_EVERY = 15.0  # seconds between two looks for replies nobody is sending (a process died)


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
                 pauses: tuple[float, float] = (FIRST_PAUSE, LONGEST_PAUSE), resume_every: float = RESUME_EVERY):
        self.store, self.channel, self.deliver, self.late = store, channel, deliver, late
        self.stale_after, self.clock, self.pauses = stale_after, clock, pauses
        self.owner = secrets.token_hex(8)  # this process's name on its leases
        self.resume_every = resume_every
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._watcher: asyncio.Task[None] | None = None

    def _lease(self, longer: float = 0.0) -> Lease:
        return Lease(self.owner, time.time() + LEASE + longer)  # wall time: leases are compared across hosts

    def kick(self, user_id: str) -> None:
        """Send what the user has waiting (a turn was just saved). One drain per user at a time."""
        if user_id in self._tasks:
            self._again.add(user_id)  # the running drain reads the outbox again before it ends
            return
        self._tasks[user_id] = asyncio.create_task(self._drain(user_id))

    async def resume(self) -> int:
        """Send what a crash or an outage left waiting, here or in a process that died; then
        look again every `resume_every` seconds while the bot runs. Returns how many users."""
        users = await self.store.queued_users(self.channel)
        for user in users:
            self.kick(user)
        if users:
            log.info("%s: %d users had answers waiting; sending them", self.channel, len(users))
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._keep_resuming())
        return len(users)

    async def _keep_resuming(self) -> None:
        while True:
            await asyncio.sleep(self.resume_every)
            try:
                await self.resume()
            except Exception as exc:  # the database is down for now: the next look may do
                log.warning("%s: could not look for waiting answers (%s)", self.channel, type(exc).__name__)

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
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _drain(self, user_id: str) -> None:
        try:
            while True:
                rows = await self.store.take_drain(self.channel, user_id, self._lease())
                if rows is None:  # another process sends them; it reads the outbox again before it stops
                    return
                while True:
                    self._again.discard(user_id)
                    if not rows:
                        if user_id not in self._again:
                            break
                        rows = await self.store.queued(self.channel, user_id)
                        continue
                    rows = await self._send(user_id, rows)
                    if rows is None:  # this process was too slow: another took the lease, and sends them
                        return
                if not await self.store.leave_drain(self.channel, user_id, self._lease()):
                    return
                # else: written by another process while the lease was held here: send them too
        except Exception as exc:  # the store failed, or a bug: the rows stay, and are tried again
            log.error("%s: the outbox failed: %s at %s; trying again in %.0f s", self.channel,
                      type(exc).__name__, where(exc), self.pauses[1])
            asyncio.get_running_loop().call_later(self.pauses[1], self.kick, user_id)
        finally:
            self._tasks.pop(user_id, None)
            self._again.discard(user_id)

    async def _send(self, user_id: str, rows: Sequence[Queued]) -> list[Queued] | None:
        """Send the first of the user's waiting rows; return what waits after it (read again),
        or None if another process has taken over the lease."""
        if self.late is not None and self.clock() - rows[0].created > self.stale_after:
            bodies = await self.late(user_id, rows[-1].address)
            await self.store.replace_queued(self.channel, user_id, [r.id for r in rows],
                                            [(rows[-1].address, body) for body in bodies])
            return await self.store.queued(self.channel, user_id)
        row = rows[0]
        if not row.address:  # sealed under a secret this bot no longer has: nowhere to send it
            log.warning("%s: a message without a readable address; dropped", self.channel)
            return await self.store.sent_and_queued(self.channel, user_id, row.id, self._lease())
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
                if not await self.store.renew_drain(self.channel, user_id, self._lease(pause)):
                    return None
                await asyncio.sleep(pause)
                if self.late is not None and self.clock() - row.created > self.stale_after:
                    return await self.store.queued(self.channel, user_id)  # stale now: replaced next
        return await self.store.sent_and_queued(self.channel, user_id, row.id, self._lease())
