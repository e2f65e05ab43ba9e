"""Every age from 0 to 120 written out in words is read back, in every shipped language.

`num2words` is the oracle where it writes the language (a test-only dependency: the bot never
imports it); the other languages have their own table, tests/data/numbers/<lang>.yaml, of
every number as people write it. A number over MAX_AGE is read, and refused as an age.
"""

from __future__ import annotations

from pathlib import Path

import num2words
import pytest
import yaml
from num2words import CONVERTER_CLASSES

from bot.understanding import MAX_AGE

TABLES = Path(__file__).parent / "data" / "numbers"
HIGHEST = 120


def written(lang: str) -> list[tuple[int, str]]:
    """(number, how it is written) for 0-120: num2words' spelling, and the language's own table."""
    out: list[tuple[int, str]] = []
    if lang in CONVERTER_CLASSES:
        out += [(n, num2words.num2words(n, lang=lang)) for n in range(HIGHEST + 1)]
    table = TABLES / f"{lang}.yaml"
    if table.exists():
        for n, forms in (yaml.safe_load(table.read_text(encoding="utf-8")) or {}).items():
            out += [(int(n), str(form)) for form in (forms if isinstance(forms, list) else [forms])]
    return out


def test_every_language_has_an_oracle_for_every_number(res):
    for lang in res.catalogs.codes:
        numbers = {n for n, _ in written(lang)}
        missing = sorted(set(range(HIGHEST + 1)) - numbers)
        assert not missing, f"{lang}: no written form of {missing[:10]}... (tests/data/numbers/{lang}.yaml)"


SHIPPED = yaml.safe_load((Path(__file__).parent.parent / "locales" / "languages.yaml").read_text())["order"]


@pytest.mark.parametrize("lang", SHIPPED)
def test_numbers_written_out_are_read_back_as_ages(res, lang):
    wrong = []
    for n, text in written(lang):
        want = [n] if n <= MAX_AGE else []
        got = res.nlu.find_ages(text, expecting=True)
        if got != want:
            wrong.append(f"{n} {text!r} -> {got}")
    assert not wrong, f"{lang}: {len(wrong)} misread: " + "; ".join(wrong[:15])
