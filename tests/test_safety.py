"""The safety net: danger, violence, forced work, a night without a roof, a doctor — in every
language, answered first with the lines that exist, and never read as the name of a town."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ROOT
from bot.dialogs.orientation import State
from tests.conftest import Chat

WORDS = sorted((ROOT / "knowledge" / "words").glob("*.yaml"))
FIRST_MESSAGES = sorted((ROOT / "tests" / "data" / "first_messages").glob("*.txt"))


@pytest.mark.parametrize("path", WORDS, ids=lambda p: p.stem)
def test_every_language_names_every_safety_topic(res, path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(data.get("safety") or {}) == set(res.kb.safety), path.name
    assert all(data["safety"][topic] for topic in res.kb.safety), path.name


@pytest.mark.parametrize(("lang", "text"), [
    ("it", "mio marito mi picchia"),
    ("en", "my husband beats me"),
    ("ar", "زوجي يضربني"),
    ("uk", "мій чоловік мене б'є"),
])
def test_violence_at_home_gets_1522_first_in_every_language_asked(res, lang, text):
    chat = Chat(res)
    chat.say(text)
    first = chat.replies[0]
    assert first.services[0] == "antiviolenza-1522", (lang, [r.text[:60] for r in chat.replies])
    assert "1522" in first.sections[0].body  # said plainly, in the first words the family reads
    assert chat.state == State.ASK_COMUNE  # and then the dialog goes on
    assert chat.session.lang == lang


@pytest.mark.parametrize("text", ["dove dormo stanotte?", "ho bisogno di un medico", "mio marito mi picchia"])
def test_a_message_about_danger_is_never_read_back_as_a_town(res, text):
    chat = Chat(res)
    chat.start()
    chat.say(text)
    assert "Non trovo il comune" not in chat.text
    assert chat.session.comune is None and not chat.session.choices
    assert chat.replies[0].services  # the lines that exist


def test_a_place_in_the_same_message_is_still_understood(res):
    chat = Chat(res)
    chat.start()
    chat.say("abito a Monza, stanotte non ho dove dormire")
    assert chat.replies[0].services[0] == "arci-numero-verde"
    assert chat.session.comune == "108033" and chat.state == State.ASK_AGE


def test_safety_net_in_the_middle_of_the_dialog_keeps_the_answers(res):
    chat = Chat(res)
    chat.start()
    chat.say("Bresso")
    chat.say("mi obbligano a lavorare e non mi pagano")
    assert chat.replies[0].services[0] == "antitratta"
    assert "800 290 290" in chat.text
    assert chat.session.comune == "015032" and chat.state == State.ASK_AGE


@pytest.mark.parametrize("path", FIRST_MESSAGES, ids=lambda p: p.stem)
def test_ordinary_first_messages_do_not_raise_the_alarm(res, path: Path):
    """Real first messages about school, documents, work or a greeting are not emergencies."""
    raised = [line for line in path.read_text(encoding="utf-8").splitlines()
              if line.strip() and res.nlu.find_safety(line)]
    assert not raised, raised
