"""The words of free text, per language: what names each need and safety topic, ages, numbers.

`knowledge/words/<lang>.yaml` is data an operator or a translator extends ("add words that
users type and the bot did not understand"); this module reads and checks it for
`Understanding`, its only reader. Every entry is normalised like the messages it will meet
(`bot.text.normalize`), so matching never depends on accents, case or script details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.knowledge import KnowledgeBase, KnowledgeError, Problem
from bot.knowledge.load import _guard, _read_yaml, _Reader
from bot.text import normalize


@dataclass(frozen=True)
class NumberWords:
    """Number words of one language: units (0-19) and tens, for ages typed as words."""

    units: Mapping[str, int]
    tens: Mapping[str, int]
    joiners: tuple[str, ...] = ()  # words between tens and units: "njëzet e pesë", "douăzeci și cinci"


@dataclass
class Words:
    """What every words/<lang>.yaml says, merged by what it names."""

    needs: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # need -> lang -> words
    safety: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # topic -> lang -> words
    years: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lang -> "anni", "years"...
    months: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: dict[str, NumberWords] = field(default_factory=dict)


def _word_lists(data: Any, key: str, known: Mapping[str, Any], r: _Reader,
                target: dict[str, dict[str, tuple[str, ...]]], lang: str, what: str) -> None:
    for item_id, items in r.mapping(data, key).items():
        if item_id not in known:
            r.error(f"{key}.{item_id}", f"is not {what} ({', '.join(known)})")
            continue
        if not isinstance(items, list):
            r.error(f"{key}.{item_id}", "must be a list of words, e.g. [scuola, scuole]")
            continue
        target.setdefault(item_id, {})[lang] = tuple(w for w in (normalize(str(i)) for i in items) if w)


def load_words(root: Path, kb: KnowledgeBase) -> Words:
    """Read knowledge/words/*.yaml; raise KnowledgeError naming file, language and field."""
    problems: list[Problem] = []
    words = Words()
    for path in sorted((root / "words").glob("*.yaml")):
        lang = path.stem
        data = _read_yaml(path, root, problems)
        if data is None:
            continue
        r = _Reader(problems, path.relative_to(root).as_posix(), lang)
        if not isinstance(data, dict):
            r.error("", "must be a mapping with needs, safety, ages and numbers")
            continue
        _guard(problems, r.file, None, lambda data=data, r=r, lang=lang: _read_language(data, r, lang, kb, words))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise KnowledgeError(errors)
    return words


def _read_language(data: dict[str, Any], r: _Reader, lang: str, kb: KnowledgeBase, words: Words) -> None:
    """One language's words file, merged into `words`; its errors go to the reader's list."""
    problems = r.problems
    _word_lists(data, "needs", kb.needs, r, words.needs, lang, "a need of needs.yaml")
    _word_lists(data, "safety", kb.safety or {}, r, words.safety, lang, "a topic of safety.yaml")
    ages = r.mapping(data, "ages")
    age_reader = _Reader(problems, r.file, lang, prefix="ages.")
    for kind, target in (("years", words.years), ("months", words.months)):
        items = [normalize(str(w)) for w in age_reader.items(ages, kind)]
        target[lang] = tuple(sorted((w for w in items if w), key=len, reverse=True))
    numbers = r.mapping(data, "numbers")
    try:
        words.numbers[lang] = NumberWords(
            {normalize(str(k)): int(v) for k, v in (numbers.get("units") or {}).items()},
            {normalize(str(k)): int(v) for k, v in (numbers.get("tens") or {}).items()},
            tuple(normalize(str(w)) for w in numbers.get("and") or []),
        )
    except (TypeError, ValueError, AttributeError):
        r.error("numbers", "units and tens must map a word to a whole number, e.g. {nove: 9}")
