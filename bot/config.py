"""Settings, all from the environment, in one place (twelve-factor style).

Every setting has a default that runs the console chat on a fresh clone with no token and
no network; a channel's settings are read only when that channel starts, and a missing or
malformed one is one `SettingsError` line that says what to set. No other module reads the
environment.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A missing or malformed setting: one line that says what to set."""

TIMEZONE = ZoneInfo("Europe/Rome")
MIN_SECRET_CHARS = 32  # BOT_SECRET and the secret file: at least this long


@dataclass(frozen=True)
class Config:
    # BOT_DB: the SQLite file that keeps conversations across restarts, or the postgresql:// URL
    # of a database that several processes of the bot share (bot.store).
    db: str
    knowledge_dir: Path  # BOT_KNOWLEDGE
    locales_dir: Path  # BOT_LOCALES
    today: date | None  # BOT_TODAY (YYYY-MM-DD): pin the date, for tests and demos
    bot_username: str | None = None  # TELEGRAM_BOT_USERNAME: for operators' links
    whatsapp_number: str | None = None  # WHATSAPP_NUMBER: for operators' wa.me links
    # BOT_RETENTION_DAYS: a conversation untouched this long is erased (storage limitation,
    # GDPR art. 5); the family's next message starts afresh.
    retention_days: int = 30
    # BOT_SECRET: the key of the users' pseudonyms (bot.pseudonyms). Unset, a secret file is
    # made beside the database on the first start.
    secret: str | None = None
    # OPERATORS_CHAT_ID: the Telegram group where the cooperative's people answer families
    # who ask for a person (bot.handoff). Unset: no hand-off, families get the contacts.
    operators_chat_id: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        today = env.get("BOT_TODAY")
        return cls(
            db=env.get("BOT_DB") or "orienta.sqlite3",
            knowledge_dir=Path(env.get("BOT_KNOWLEDGE") or ROOT / "knowledge"),
            locales_dir=Path(env.get("BOT_LOCALES") or ROOT / "locales"),
            today=_day(today) if today else None,
            bot_username=(env.get("TELEGRAM_BOT_USERNAME") or "").strip() or None,
            whatsapp_number=(env.get("WHATSAPP_NUMBER") or "").strip() or None,
            retention_days=_days(env.get("BOT_RETENTION_DAYS")),
            secret=_secret(env.get("BOT_SECRET")),
            operators_chat_id=_chat_id(env.get("OPERATORS_CHAT_ID")),
        )

    def current_date(self) -> date:
        """Today in Milan: a service ending today is still offered until midnight there."""
        return self.today or datetime.now(TIMEZONE).date()

    def clock(self) -> date | datetime:
        """What the dialog is told about time: the pinned date, or the time now in Milan."""
        return self.today or datetime.now(TIMEZONE).replace(tzinfo=None)


def env() -> dict[str, str]:
    return dict(os.environ)


def _days(value: str | None) -> int:
    """BOT_RETENTION_DAYS: a whole number of days, at least 1 (default 30)."""
    if value is None or not value.strip():
        return 30
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingsError(f"BOT_RETENTION_DAYS must be a whole number of days, at least 1 (not {text!r}).")
    return int(text)


def _chat_id(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"-\d{5,20}", value):
        raise SettingsError(f"OPERATORS_CHAT_ID must be a Telegram group's id, a negative number such as "
                            f"-1001234567890 (not {value!r}): see the README, 'A person behind the bot'.")
    return int(value)


def _secret(value: str | None) -> str | None:
    value = (value or "").strip()
    if value and len(value) < MIN_SECRET_CHARS:
        raise SettingsError(f"BOT_SECRET must be at least {MIN_SECRET_CHARS} characters long (a random string: "
                            'python3 -c "import secrets; print(secrets.token_hex())"), or unset.')
    return value or None


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"BOT_TODAY='{value}' is not a date: write YYYY-MM-DD, or unset it.") from None


def _port(env: dict[str, str], default: int) -> int:
    value = (env.get("PORT") or "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit() and 0 < int(value) < 65536):
        raise SettingsError(f"PORT='{value}' is not a port number (1-65535).")
    return int(value)


TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{30,}")
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    base_url: str | None = None  # a self-hosted Bot API server, e.g. http://127.0.0.1:8081/bot
    webhook_secret: str | None = None
    username: str | None = None  # for links in notices; learnt from getMe otherwise
    listen: str = "0.0.0.0"  # WEBHOOK_LISTEN: where PTB's webhook server listens
    port: int = 8443  # PORT

    @classmethod
    def from_env(cls, env: dict[str, str]) -> TelegramSettings:
        token = (env.get("TELEGRAM_TOKEN") or "").strip()
        if not token:
            raise SettingsError("TELEGRAM_TOKEN is not set: put the token @BotFather gave you in TELEGRAM_TOKEN.")
        if not TOKEN.fullmatch(token):
            raise SettingsError("TELEGRAM_TOKEN does not look like a bot token (123456789:ABC...): "
                                "copy it again from @BotFather.")
        secret = (env.get("TELEGRAM_WEBHOOK_SECRET") or "").strip() or None
        if secret is not None and not SECRET.fullmatch(secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET may use only A-Z a-z 0-9 _ - (1 to 256 characters).")
        return cls(token=token, base_url=(env.get("TELEGRAM_BASE_URL") or "").strip() or None,
                   webhook_secret=secret, username=(env.get("TELEGRAM_BOT_USERNAME") or "").strip() or None,
                   listen=(env.get("WEBHOOK_LISTEN") or "").strip() or "0.0.0.0",
                   port=_port(env, 8443))


TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
TEMPLATE_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")


@dataclass(frozen=True)
class HandoffTemplate:
    """A WhatsApp message template (no variables) and the languages it was approved in."""

    name: str
    languages: tuple[str, ...] = ("it",)

    @classmethod
    def parse(cls, value: str | None) -> HandoffTemplate | None:
        value = (value or "").strip()
        if not value:
            return None
        name, _, langs = value.partition(":")
        languages = tuple(code.strip() for code in langs.split(",") if code.strip()) or ("it",)
        if not TEMPLATE_NAME.fullmatch(name) or not all(TEMPLATE_LANGUAGE.fullmatch(c) for c in languages):
            raise SettingsError(f"WHATSAPP_HANDOFF_TEMPLATE='{value}' is not a template name and its languages, "
                                "e.g. orienta_risposta:it,ar,en_US (lower-case name, Meta's language codes).")
        return cls(name, languages)

    def language_for(self, lang: str) -> str:
        """The family's language if the template has it (ar, en → en_US), else the first one."""
        return next((code for code in self.languages if code.split("_")[0] == lang.split("-")[0]), self.languages[0])


@dataclass(frozen=True)
class WhatsAppSettings:
    phone_id: str
    token: str
    verify_token: str
    app_secret: str
    api_url: str = "https://graph.facebook.com"
    host: str = "0.0.0.0"  # HOST: where the webhook server listens
    port: int = 8000  # PORT
    # WHATSAPP_HANDOFF_TEMPLATE=name[:lang,lang...]: a message template approved by Meta, sent
    # to a family when an operator answers after WhatsApp's 24-hour window (first language: default).
    handoff_template: HandoffTemplate | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> WhatsAppSettings:
        names = ("WHATSAPP_PHONE_ID", "WHATSAPP_TOKEN", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET")
        missing = [n for n in names if not (env.get(n) or "").strip()]
        if missing:
            raise SettingsError(f"{', '.join(missing)} not set: copy them from your Meta app's WhatsApp settings "
                                "(the app secret is required: every webhook call is checked with it).")
        return cls(*(env[n].strip() for n in names),
                   api_url=(env.get("WHATSAPP_API_URL") or "https://graph.facebook.com").strip(),
                   host=(env.get("HOST") or "").strip() or "0.0.0.0", port=_port(env, 8000),
                   handoff_template=HandoffTemplate.parse(env.get("WHATSAPP_HANDOFF_TEMPLATE")))
