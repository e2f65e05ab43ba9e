"""Load, once at start-up, everything the dialog reads: knowledge, understanding, languages."""

from __future__ import annotations

from bot.config import Config
from bot.dialogs.model import Resources
from bot.hours import italian_holidays, patron_holidays
from bot.i18n import load_catalogs
from bot.knowledge import load
from bot.understanding import Understanding
from bot.understanding.words import load_words


def load_resources(config: Config) -> Resources:
    """Raises bot.knowledge.KnowledgeError when the knowledge base has errors."""
    kb = load(config.knowledge_dir)
    catalogs = load_catalogs(config.locales_dir)
    years = range(config.current_date().year - 1, config.current_date().year + 3)
    words = load_words(config.knowledge_dir, kb)
    return Resources(kb=kb, nlu=Understanding(kb, words, (*catalogs.languages, *catalogs.not_yet)), catalogs=catalogs,
                     holidays=italian_holidays(years), local_holidays=patron_holidays(kb, years),
                     retention_days=config.retention_days)
