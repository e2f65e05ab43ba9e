"""Fair use: no user can flood the bot and slow everyone else's answers.

A family types a message every few seconds at most; a script, a stuck phone or a forwarded
chain sends hundreds. Above `limit` messages in `window` seconds a user gets one short
"please wait" and then silence until their rate falls below the limit again; the messages
dropped meanwhile are not stored at all (no session change, no outbox row). Counted in
memory, per process: the limit protects this process's queue, and forgetting it on a
restart costs nothing. Users quiet for a whole window are forgotten, so memory is bounded by
the users of the last minute.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

LIMIT = 20
WINDOW = 60.0


class Admit(enum.Enum):
    YES = "yes"
    WARN = "warn"  # the first message over the limit: say "please wait" once
    NO = "no"  # over the limit, already told: silence


class FairUse:
    def __init__(self, limit: int = LIMIT, window: float = WINDOW, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._warned: set[str] = set()
        self._next_sweep = 0.0

    def admit(self, user_id: str) -> Admit:
        now = self.clock()
        if now >= self._next_sweep:
            self._sweep(now)
        times = self._seen.setdefault(user_id, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self._warned.discard(user_id)
            return Admit.YES
        if user_id in self._warned:
            return Admit.NO
        self._warned.add(user_id)
        return Admit.WARN

    def _sweep(self, now: float) -> None:
        for user in [u for u, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            del self._seen[user]
            self._warned.discard(user)
        self._next_sweep = now + self.window
