"""`python -m bot kb check`: what operators must fix (errors) and should look at (warnings)."""

from __future__ import annotations

from typing import TextIO

from bot.config import Config
from bot.i18n import load_catalogs, missing_translations
from bot.i18n_extract import knowledge_texts
from bot.knowledge import KnowledgeError, load, operator_warnings
from bot.understanding.words import load_words


def check(config: Config, out: TextIO) -> int:
    """Print every problem; exit code 1 when the bot could not start, else 0."""
    try:
        kb = load(config.knowledge_dir)
        load_words(config.knowledge_dir, kb)  # the words of free text, per language
        catalogs = load_catalogs(config.locales_dir)
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        print(f"{len(exc.problems)} error(s): the bot will not start until they are fixed.", file=out)
        return 1
    warnings = [
        *operator_warnings(kb, config.current_date()),
        *missing_translations(catalogs, knowledge_texts(config.knowledge_dir)),
    ]
    for problem in warnings:
        print(problem, file=out)
    active = sum(s.is_active(config.current_date()) for s in kb.services.values())
    print(
        f"0 errors, {len(warnings)} warning(s). {len(kb.services)} services ({active} active today), "
        f"{len(kb.comuni)} comuni, languages: {', '.join(catalogs.codes)}.",
        file=out,
    )
    return 0
