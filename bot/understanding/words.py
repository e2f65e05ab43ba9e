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
from bot.understanding.numbers import NumberWords


@dataclass
class Words:
    """What every words/<lang>.yaml says, merged by what it names."""

    needs: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # need -> lang -> words
    safety: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # topic -> lang -> words
    years: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lang -> "anni", "years"...
    months: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Around an age: "I'm 24" (before), "for 12 years" (since: a duration, not an age; since_after:
    # the same said after the number, "10 ans de résidence", "دس سال سے"),
    # "two kids, 6 and 11" (children: a count before it, ages after it), "4, 9 e 15" (between).
    age_context: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # kind -> lang -> words
    numbers: dict[str, NumberWords] = field(default_factory=dict)
    # Asking for a person of the cooperative ("voglio parlare con qualcuno"): lang -> phrases.
    person: dict[str, tuple[str, ...]] = field(default_factory=dict)


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
    person = data.get("person") or []
    if not isinstance(person, list):
        r.error("person", "must be a list of phrases, e.g. [voglio parlare con qualcuno, operatore]")
    else:
        words.person[lang] = tuple(w for w in (normalize(str(i)) for i in person) if w)
    ages = r.mapping(data, "ages")
    age_reader = _Reader(problems, r.file, lang, prefix="ages.")
    for kind, target in (("years", words.years), ("months", words.months)):
        items = [normalize(str(w)) for w in age_reader.items(ages, kind)]
        target[lang] = tuple(sorted((w for w in items if w), key=len, reverse=True))
    for kind in AGE_CONTEXT:
        items = [normalize(str(w)) for w in age_reader.items(ages, kind)] if kind in ages else []
        words.age_context.setdefault(kind, {})[lang] = tuple(w for w in items if w)
    numbers = r.mapping(data, "numbers")
    try:
        words.numbers[lang] = NumberWords(
            _number_map(numbers.get("units")), _number_map(numbers.get("tens")),
            tuple(normalize(str(w)) for w in numbers.get("and") or []),
            _number_map(numbers.get("times")),
            bool(numbers.get("unit_first", False)),
            tuple(int(v) for v in numbers.get("teens_after") or []),
        )
    except (TypeError, ValueError, AttributeError):
        r.error("numbers", "units, tens and times must map a word to a whole number, e.g. {nove: 9}")


AGE_CONTEXT = ("before", "since", "since_after", "children", "between")


def _number_map(data: Any) -> dict[str, int]:
    """{word: number}, the words normalised; bool is not a number (YAML reads `no` as False)."""
    out: dict[str, int] = {}
    for key, value in (data or {}).items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(key)
        word = normalize(str(key))
        if word:
            out[word] = value
    return out
