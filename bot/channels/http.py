"""What both webhooks (Telegram's and WhatsApp's) share: a body read only up to a limit.

The platforms' calls are a few kilobytes. A bigger body is refused by its Content-Length, or as
soon as the bytes read pass the limit, before any signature or secret is checked: a forged
300 MB POST costs the bot a few kilobytes of memory, never the whole body.
"""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY = 1_000_000


async def read_limited(request: Request, limit: int = MAX_BODY) -> bytes | None:
    """The body, or None as soon as it passes `limit` (by its Content-Length, or while reading)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
