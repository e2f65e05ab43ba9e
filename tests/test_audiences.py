"""Entry points as data: the Ukrainian one, and a second one added by editing one file."""

from __future__ import annotations

from pathlib import Path

from bot.deeplink import Preset, build, parse
from bot.dialogs.model import Command
from bot.dialogs.orientation import State
from tests.conftest import Chat, resources_from

SECOND = """
  - id: afghanistan
    payload: af
    command: afghanistan
    lang: en
    need: documents
    welcome: Ciao! Ti aiuto a trovare aiuto per chi viene dall'Afghanistan.
    menu: Aiuto per chi viene dall'Afghanistan
    also: "Per chi viene dall'Afghanistan c'è anche:"
"""


def test_a_second_audience_is_one_entry_in_a_data_file(kb_copy: Path):
    with (kb_copy / "audiences.yaml").open("a", encoding="utf-8") as fh:
        fh.write(SECOND)
    res = resources_from(kb_copy)
    for opening in (lambda chat: chat.start("af"), lambda chat: chat.command("afghanistan")):
        chat = Chat(res)
        opening(chat)
        assert chat.session.lang == "en" and chat.session.need == "documents"
        assert chat.replies[0].sections[0].body == "Ciao! Ti aiuto a trovare aiuto per chi viene dall'Afghanistan."
        assert chat.state == State.ASK_COMUNE
    assert build(Preset(lang="en", need="documents", audience="afghanistan"), res.kb) == "af"
    assert parse("af_c015077", res.kb, ("it", "en")).comune == "015077"


def test_the_ukrainian_entry_point_is_the_same_by_link_and_by_command(res):
    by_link, by_command = Chat(res), Chat(res)
    by_link.start("ua")
    by_command.send(Command("ukraina"))
    assert by_link.session == by_command.session
    assert by_link.text == by_command.text
    assert by_link.session.need == "ukraine" and by_link.session.lang == "uk"
