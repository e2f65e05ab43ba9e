"""What every channel shares: commands read once, pages checked, numbered choices from the dialog."""

from __future__ import annotations

import pytest

from bot.channels.base import numbered_choices, page_of, text_event
from bot.dialogs.model import Command, Text
from tests.conftest import Chat


@pytest.mark.parametrize(("typed", "event"), [
    ("/start ua", Command("start", "ua")),
    ("/START@OrientaBot ua", Command("start", "ua")),
    ("/ukraina", Command("ukraina")),
    ("/", Text("/")),
    ("ciao /start", Text("ciao /start")),
])
def test_a_typed_message_is_a_command_or_text_on_every_channel(typed, event):
    assert text_event(typed) == event


@pytest.mark.parametrize(("data", "page"), [
    ("more:1", 1), ("more:0", 0), ("more:", None), ("more:፭", None), ("more:²", None), ("more:-1", None),
    ("more:100000", None), ("c:015146", None),
])
def test_a_page_number_is_read_only_when_it_is_one(data, page):
    assert page_of(data) == page


def test_the_age_question_shows_bullets_so_a_typed_number_is_an_age(res):
    chat = Chat(res)
    chat.start()
    assert numbered_choices(chat.replies[-1])[0].startswith("  1. ")
    chat.say("Monza")
    assert chat.replies[-1].numbered is False
    assert all(line.startswith("  • ") for line in numbered_choices(chat.replies[-1]))
