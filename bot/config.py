"""Settings, all from the environment, in one place (twelve-factor style).

Every setting has a default that runs the console chat on a fresh clone with no token and
no network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A missing or malformed setting: one line that says what to set."""

TIMEZONE = ZoneInfo("Europe/Rome")


@dataclass(frozen=True)
class Config:
    db_path: Path  # BOT_DB: the SQLite file that keeps conversations across restarts
    knowledge_dir: Path  # BOT_KNOWLEDGE
    locales_dir: Path  # BOT_LOCALES
    today: date | None  # BOT_TODAY (YYYY-MM-DD): pin the date, for tests and demos

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        today = env.get("BOT_TODAY")
        return cls(
            db_path=Path(env.get("BOT_DB") or "orienta.sqlite3"),
            knowledge_dir=Path(env.get("BOT_KNOWLEDGE") or ROOT / "knowledge"),
            locales_dir=Path(env.get("BOT_LOCALES") or ROOT / "locales"),
            today=date.fromisoformat(today) if today else None,
        )

    def current_date(self) -> date:
        """Today in Milan: a service ending today is still offered until midnight there."""
        return self.today or datetime.now(TIMEZONE).date()

    def clock(self) -> date | datetime:
        """What the dialog is told about time: the pinned date, or the time now in Milan."""
        return self.today or datetime.now(TIMEZONE).replace(tzinfo=None)
