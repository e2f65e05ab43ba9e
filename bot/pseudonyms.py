"""Keyed pseudonyms for every user key the bot stores, and sealed addresses for the outbox.

Why: a leaked database must not tie a phone number or a Telegram id to "family
reunification". So nothing stored names a person:

- every user key (sessions, outbox rows, WhatsApp number links) is an HMAC-SHA256 of the
  channel and the platform's user id under a secret. The same person always gets the same
  key, so the conversation goes on; without the secret nobody can go back from a key to the
  person, nor try every phone number against it (as a plain hash would allow);
- the keys of events answered once (update and message ids) are HMACs too;
- the address a reply must go to (a phone number, a chat id) is kept only in the outbox
  row, sealed with AES-GCM under a key from the same secret, and deleted with the row once
  the platform took the message.

The secret is `BOT_SECRET`, or a file beside the database made on the first start (random,
readable only by its owner). Lose it, and the conversations kept under it cannot be reached
any more: the store erases them (see SessionStore.open).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.config import MIN_SECRET_CHARS

log = logging.getLogger(__name__)

SECRET_BYTES = 32
KEY_CHARS = 32  # 128 bits of the HMAC, in hex: unique among any number of users a bot will meet
_SEALED = "s1."  # the version of the sealing, in front of every sealed value


class SecretError(Exception):
    """The secret cannot be read or made: one line that says which file and why."""


def _derive(secret: bytes, purpose: str) -> bytes:
    """One key per use, so a key used for one thing never serves another."""
    return hmac.new(secret, f"orienta {purpose} v1".encode(), hashlib.sha256).digest()


class Pseudonyms:
    """What the secret is for: user keys, event keys, sealed addresses (the secret itself is
    not kept, only the keys made from it)."""

    __slots__ = ("_event", "_seal", "_user")

    def __init__(self, secret: bytes):
        self._user = _derive(secret, "user")
        self._event = _derive(secret, "event")
        self._seal = AESGCM(_derive(secret, "seal"))

    def __repr__(self) -> str:
        return "Pseudonyms(<secret>)"

    def of(self, channel: str, user_id: str) -> str:
        """The key a user's conversation is stored under."""
        mac = hmac.new(self._user, f"{channel}\x00{user_id}".encode(), hashlib.sha256)
        return mac.hexdigest()[:KEY_CHARS]

    def event(self, key: str) -> str:
        """What is kept of an event's key (an update or message id, a group's notice)."""
        return hmac.new(self._event, key.encode(), hashlib.sha256).hexdigest()[:KEY_CHARS]

    def check(self) -> str:
        """A fingerprint of the secret, kept in the database: a different secret is noticed."""
        return self.event("\x00secret check")

    def seal(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._seal.encrypt(nonce, value.encode(), None)
        return _SEALED + base64.urlsafe_b64encode(nonce + sealed).decode()

    def unseal(self, value: str) -> str | None:
        """The sealed value, or None if it was sealed under another secret (or damaged)."""
        if not value.startswith(_SEALED):
            return None
        try:
            raw = base64.urlsafe_b64decode(value[len(_SEALED):])
            return self._seal.decrypt(raw[:12], raw[12:], None).decode()
        except (InvalidTag, ValueError):
            return None

    @classmethod
    def random(cls) -> Pseudonyms:
        """For a database kept in memory (tests, a demo): a secret that dies with it."""
        return cls(secrets.token_bytes(SECRET_BYTES))


def secret_path(db_path: Path) -> Path:
    """Where the secret of a database is kept when BOT_SECRET is not set: beside it."""
    return db_path.with_name(db_path.name + ".secret")


def load(setting: str | None, db_path: Path | None, *, create: bool = True) -> Pseudonyms:
    """The pseudonyms of this bot: from BOT_SECRET, else from the file beside the database
    (made now if `create`, readable only by its owner, and said once in the log). A database
    already keyed (create=False) whose secret file is missing is an error, not a new secret:
    a new one would make every conversation kept unreachable."""
    if setting:
        return Pseudonyms(setting.encode())
    if db_path is None:
        return Pseudonyms.random()
    path = secret_path(db_path)
    if not create and not path.exists():
        raise SecretError(f"the secret of this database is missing: set BOT_SECRET, or put back {path}")
    if path.exists():
        return Pseudonyms(_read(path))
    # Written whole under another name, then linked into place: a process starting at the same
    # moment finds either no file or the whole secret (never an empty file), and one secret wins.
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(SECRET_BYTES) + "\n")
        os.link(draft, path)
    except FileExistsError:
        return Pseudonyms(_read(path))
    except OSError as exc:
        raise SecretError(f"the secret file {path} cannot be created ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(draft)
    log.warning("made a new secret for the users' pseudonyms in %s: keep it with the database "
                "(without it, the conversations kept cannot be reached)", path)
    return Pseudonyms(_read(path))


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
            log.warning("the secret file %s could be read by others: now only by its owner", path)
        text = path.read_text().strip()
    except OSError as exc:
        raise SecretError(f"the secret file {path} cannot be read ({exc.strerror})") from None
    if len(text) < MIN_SECRET_CHARS:
        raise SecretError(f"the secret file {path} is damaged (too short): restore it from a backup, or delete "
                          "it to start afresh (the conversations kept are then erased)")
    return text.encode()
