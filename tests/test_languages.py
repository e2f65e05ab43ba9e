"""Every family's language: complete catalogs, fitting labels, replies in the right script,
language recognised from a first message, right-to-left text that reads in the right order."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml
from babel.messages.checkers import python_format
from babel.messages.pofile import read_po

from bot.channels.telegram import COMMANDS as TELEGRAM_COMMANDS
from bot.config import ROOT
from bot.dialogs import texts as T
from bot.dialogs.model import Press
from bot.i18n import FSI, PDI, RLM, catalog_path
from bot.i18n_extract import knowledge_texts
from tests.conftest import Chat

LOCALES = ROOT / "locales"
ORDER = [str(c) for c in yaml.safe_load((LOCALES / "languages.yaml").read_text())["order"]]
TRANSLATED = [c for c in ORDER if c != "it"]
SCRIPT = {c: yaml.safe_load((LOCALES / c / "language.yaml").read_text())["script"] for c in ORDER}
FIRST_MESSAGES = ROOT / "tests" / "data" / "first_messages"

# Labels a user taps. Catalogs aim at 24 characters (a WhatsApp list row); a longer label is
# shortened there at a word boundary with the whole text in the row's description, so the
# hard limit here is what stays readable on a small phone's button.
LABEL_LIMIT = 40
SHORT = [T.BUTTON_CHANGE_NEED, T.BUTTON_CHANGE_COMUNE, T.BUTTON_RESTART, T.BUTTON_MORE, T.MUNICIPIO_UNKNOWN,
         T.BUTTON_LANGUAGE, T.LIST_BUTTON, T.MORE_OPTIONS]
COMMANDS = [text for _, text in TELEGRAM_COMMANDS]  # the command menu, as Telegram shows it


def test_every_language_of_the_list_is_offered_with_its_description_and_words(res):
    """A language is its catalog, its language.yaml, its words file and one line in
    locales/languages.yaml: each listed one is offered, in the list's order."""
    assert list(res.catalogs.codes) == ORDER
    for code in ORDER:
        assert (LOCALES / code / "language.yaml").exists(), code
        assert (ROOT / "knowledge" / "words" / f"{code}.yaml").exists(), code
        assert code == "it" or catalog_path(LOCALES, code).exists(), code


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalog_complete_with_matching_placeholders_and_a_review_note(res, lang):
    with catalog_path(LOCALES, lang).open("rb") as fh:
        catalog = read_po(fh)
    translated = {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}
    ui = [v for k, v in vars(T).items() if k.isupper() and isinstance(v, str)]
    # Knowledge-base texts count once they are in the template: a service added since the
    # last `pybabel extract` shows in Italian until translated, and `kb check` says so.
    with (LOCALES / "orienta.pot").open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    kb = [text for text, *_ in knowledge_texts(ROOT / "knowledge") if text in extracted]
    assert [t for t in ui + kb if t not in translated] == []
    for message in catalog:
        if message.id and message.string:
            python_format(catalog, message)
            assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(re.findall(r"%\(\w+\)s", message.string))
    header = catalog_path(LOCALES, lang).read_text(encoding="utf-8").split("msgid")[0]
    assert "Reviewed by a native speaker:" in header


@pytest.mark.parametrize("lang", ORDER)
def test_labels_and_commands_fit_the_channels(res, lang):
    tr = res.catalogs.get(lang)
    labels = [n.label for n in res.kb.needs.values()] + [a.label for a in res.kb.ages.values()] + SHORT
    too_long = [tr(x) for x in labels if len(tr(x)) > LABEL_LIMIT]
    assert too_long == []
    menu = COMMANDS + [a.menu for a in res.kb.audiences.values()]
    assert all(1 <= len(tr(c)) <= 256 for c in menu)  # Telegram's limits for command descriptions
    assert len(tr(T.BOT_DESCRIPTION)) <= 512 and len(tr(T.BOT_SHORT_DESCRIPTION)) <= 120


def _letters_of_script(text: str, script: str) -> tuple[int, int]:
    """(letters in the expected script, all letters), leaving out Italian names and links."""
    text = re.sub(r"https?://\S+|\S+@\S+", " ", text)
    ours = total = 0
    for ch in text:
        if not ch.isalpha():
            continue
        total += 1
        name = unicodedata.name(ch, "")
        expected = {"latin": "LATIN", "cyrillic": "CYRILLIC", "arabic": "ARABIC", "han": "CJK",
                    "bengali": "BENGALI", "sinhala": "SINHALA", "ethiopic": "ETHIOPIC"}[script]
        ours += name.startswith(expected)
    return ours, total


@pytest.mark.parametrize("lang", ORDER)
def test_whole_dialog_through_the_console_in_each_language(tmp_path: Path, lang: str):
    env = {**os.environ, "BOT_TODAY": "2026-11-25"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json", "--lang", lang, "--db", str(tmp_path / "c.sqlite3")],
        input="4\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    # 4 = Cinisello Balsamo; then the age and the need by their buttons' labels.
    age, need = out[-1]["buttons"][1], out[-1]["buttons"][0]
    assert age
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--json", "--db", str(tmp_path / "c.sqlite3")],
        input=f"{age}\n1\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
    )
    out += [json.loads(line) for line in result.stdout.splitlines()]
    assert need
    last = out[-1]
    assert last["state"] == "results" and last["services"][0] == "cinisello-scuola" and last["lang"] == lang
    text = "\n".join(m["text"] for m in out)
    for name in ("Servizio di integrazione scolastica – Ambito di Cinisello Balsamo", "Cinisello Balsamo",
                 "Progetto Integrazione", "Milano", "Monza", "Sesto San Giovanni", "Paderno Dugnano", "Desio"):
        text = text.replace(name, "")
    ours, total = _letters_of_script(text, SCRIPT[lang])
    assert ours >= 0.9 * total, (lang, ours, total)
    if lang != "it":  # and it is not the Italian text
        assert "Ecco cosa c'è per te" not in text and "Chiedi alla scuola di tuo figlio" not in text


def _first_messages() -> dict[str, list[str]]:
    return {
        p.stem: [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        for p in sorted(FIRST_MESSAGES.glob("*.txt"))
    }


def test_language_of_first_messages_is_recognised(res, capsys):
    """Each language's table of real-looking first messages; the figure is printed."""
    table = _first_messages()
    assert set(table) <= set(ORDER)  # a language may come without a table of its own
    right = wrong_language = 0
    lines = []
    for lang, messages in table.items():
        assert len(messages) >= 10, lang
        guesses = [res.nlu.detect_language(m) for m in messages]
        ok = sum(g == lang for g in guesses)
        wrong = sum(g not in (lang, None) for g in guesses)
        right, wrong_language = right + ok, wrong_language + wrong
        lines.append(f"  {lang}: {ok}/{len(messages)} recognised, {wrong} taken for another language")
        assert ok >= 0.7 * len(messages), (lang, list(zip(messages, guesses, strict=True)))
    total = sum(len(m) for m in table.values())
    with capsys.disabled():
        print(f"\nlanguage detection on first messages: {right}/{total} = {right / total:.1%} recognised, "
              f"{wrong_language} taken for another language (the rest: language kept as it was)")
        print("\n".join(lines))
    assert right / total >= 0.9
    assert wrong_language / total <= 0.03


@pytest.mark.parametrize(("text", "lang"), [
    ("Привіт, я з України", "uk"),
    ("مرحبا", "ar"),
    ("ہیلو، مجھے مدد چاہیے", "ur"),
])
def test_done_when_examples(res, text, lang):
    chat = Chat(res)
    chat.say(text)
    assert chat.session.lang == lang
    assert all(r.lang == lang for r in chat.replies)


@pytest.mark.parametrize(("client", "lang"), [("pt-BR", "es"), ("be", "ru"), ("zh-hans", "zh"), ("uk-UA", "uk"),
                                               ("tl", "fil"), ("ja", "en")])
def test_unshipped_or_regional_client_language_gets_the_closest(res, client, lang):
    chat = Chat(res, lang=client)
    chat.start()
    assert chat.session.lang == lang


@pytest.mark.parametrize("lang", ["ar", "ur", "ps"])
def test_right_to_left_replies_keep_numbers_and_hours_in_order(res, lang):
    chat = Chat(res, lang=lang)
    chat.start()
    chat.say("Paderno Dugnano")
    chat.send(Press("a:31+", lang))
    chat.send(Press("n:documents", lang))
    text = chat.replies[-1].text
    assert f"{FSI}02 91004 319{PDI}" in text  # a phone number is an isolated left-to-right run
    assert re.search("\u2066[^\u2069]*9[^\u2069]*12[^\u2069]*15[^\u2069]*\u2069", text)  # the hours, isolated LTR
    for line in text.split("\n"):
        if line:
            assert line.startswith(RLM), line  # every line starts right to left
