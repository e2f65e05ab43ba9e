"""Effects of a turn: data from the pure dialog, saved with the session, done once, repaired
after a crash. The first kinds: the anonymous counts of the report (bot.report)."""

from __future__ import annotations

from bot.conversation import Conversation
from bot.dialogs.context import Ctx
from bot.dialogs.model import Command, Effect, Session, Text
from bot.dialogs.orientation import step
from bot.dialogs.results import found_for
from bot.effects import known_kinds
from bot.store import sessions
from tests.conftest import TODAY, Chat


def counted(chat: Chat, kind: str = "count-request") -> list[dict]:
    return [dict(e.data) for e in chat.effects if e.kind == kind]


def test_results_shown_give_one_anonymous_count_effect(res):
    chat = Chat(res)
    chat.start()
    assert counted(chat, "count-start") == [{"day": TODAY.isoformat(), "lang": "it", "link": ""}]
    chat.say("Bresso, 9 anni, scuola")
    assert counted(chat) == [{
        "day": TODAY.isoformat(), "lang": "it", "comune": "015032", "municipio": 0, "need": "school", "link": "",
        "rows": [["6-14", ["cinisello-scuola"]]], "person": False}]
    chat.command("help")  # the same results again: not a new request
    assert chat.effects == []
    chat.press("Altro bisogno")
    assert chat.effects == []  # a question, not results
    chat.press("Documenti e permesso di soggiorno")
    assert counted(chat)[0]["need"] == "documents"


def test_nothing_found_is_counted_too_with_no_services(res):
    chat = Chat(res)
    chat.start()
    chat.say("Pavia")
    chat.say("30")
    chat.press("Documenti e permesso di soggiorno")
    assert counted(chat)[0]["rows"] == [[chat.session.age, []]]  # unmet: what the funders' report is for


def test_a_family_is_counted_once_per_age_group_with_what_answers_each(res):
    chat = Chat(res)
    chat.start()
    chat.say("Cinisello, tre figli di 4, 9 e 15 anni, scuola")
    rows = counted(chat)[0]["rows"]
    assert [age for age, _ in rows] == list(chat.session.ages) and len(rows) == 3
    assert all(services == [sv.id for sv in found_for(chat.session.evolve(age=age), Ctx(res, TODAY))[0]]
               for age, services in rows)


def test_a_start_from_a_link_is_counted_with_the_link_rebuilt_never_as_typed(res):
    chat = Chat(res)
    chat.start("lar_c015077_nschool")
    assert counted(chat, "count-start")[0]["link"] == "lar_c015077_nschool"
    chat.start("3471234567")  # not a link: what someone typed after /start is never kept
    assert counted(chat, "count-start")[0]["link"] == ""
    assert "3471234567" not in str(chat.session)


def test_every_kind_of_effect_the_dialog_makes_has_a_handler(res):
    chat = Chat(res)
    chat.start()
    chat.say("Milano, mia figlia ha 7 anni, scuola")
    chat.press("Municipio 2")
    assert {e.kind for e in chat.effects} <= known_kinds()


async def test_a_turn_counts_once_and_nothing_points_back_to_the_user(open_store, res):
    store = await open_store()
    conversation = Conversation(res, store, lambda: TODAY)
    for text in ("Ciao", "Bresso, 9 anni, scuola"):
        await conversation.handle("telegram", "user-4242", Text(text))
    await conversation.handle("telegram", "user-4242", Command("help"))
    counts = await store.counts()
    assert await store.pending_effects() == []
    effects_and_counts = [repr(row) for table in ("effects", "request_counts", "start_counts")
                          for row in await store.engine.fetch(f"SELECT * FROM {table}")]
    await store.close()
    assert [(c.channel, c.comune, c.age, c.need, c.services, c.shown) for c in counts.requests] == [
        ("telegram", "015032", "6-14", "school", "cinisello-scuola", 1)]
    assert [(c.channel, c.starts) for c in counts.starts] == [("telegram", 1)]
    assert effects_and_counts and not any("user-4242" in line or "Bresso, 9" in line for line in effects_and_counts)


async def test_a_count_is_in_the_turns_own_transaction_so_a_crash_cannot_lose_or_double_it(open_store, res):
    store = await open_store()
    session, _, effects = step(None, Text("Bresso, 9 anni, scuola"), res, TODAY)
    assert effects
    assert await store.save("whatsapp", "u1", session, effects=effects) == []  # nothing left to do
    await store.close()  # the process dies right after the save

    store = await open_store()
    await Conversation(res, store, lambda: TODAY).resume_effects()  # the next start
    counts = await store.counts()
    assert [c.shown for c in counts.requests] == [1] and [c.starts for c in counts.starts] == [1]
    assert await store.load("whatsapp", "u1") == session
    await store.close()


async def test_an_effect_saved_but_not_done_is_carried_out_at_the_next_start(open_store, res, monkeypatch):
    from bot import effects as effects_module

    done: list[dict] = []

    async def remember(store, pending):
        done.append(dict(pending.effect.data))
        await store.done(pending)

    monkeypatch.setitem(effects_module.HANDLERS, "test-notify", remember)
    # The process that saved it holds it for EFFECT_LEASE seconds (no other process may do it
    # twice meanwhile); that hold has run out by the next start.
    monkeypatch.setattr(sessions, "EFFECT_LEASE", 0.0)
    store = await open_store()
    await store.save("telegram", "u1", Session(), effects=[Effect("test-notify", {"n": 1})])  # then a crash
    await store.close()
    store = await open_store()
    await Conversation(res, store, lambda: TODAY).resume_effects()
    await Conversation(res, store, lambda: TODAY).resume_effects()  # a second start does nothing more
    assert done == [{"n": 1}] and await store.pending_effects() == []
    await store.close()


async def test_an_effect_with_no_handler_stays_pending_and_the_turn_is_answered(open_store, res):
    store = await open_store()
    pending = await store.save("console", "u", Session(), effects=[Effect("from-a-newer-version", {})])
    from bot.effects import carry_out

    await carry_out(store, pending)
    assert [p.effect.kind for p in await store.pending_effects()] == ["from-a-newer-version"]
    await store.close()
