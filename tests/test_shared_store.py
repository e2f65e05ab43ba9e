"""One database, several processes: on SQLite and on PostgreSQL, two stores opened on the same
database behave as two bot processes do (their own connections, memory and names): no turn is
lost or answered twice, one process at a time sends a user's replies, work a dead process left
is taken up by another, and the schema is made and migrated by the bot itself."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.conversation import Conversation
from bot.dialogs.model import Command, Effect, Session, Text
from bot.outbox import Outbox
from bot.store import Lease, Queued, SessionStore, StoreError, is_url, sessions
from bot.store.postgres import POOL_SIZE
from bot.store.schema import LATEST
from tests.conftest import TEST_SECRET, TODAY

DIALOG = ("Bresso", "9", "scuola")


async def two(open_store) -> tuple[SessionStore, SessionStore]:
    return await open_store(), await open_store()


async def test_turns_of_one_user_through_two_processes_in_turn_are_all_applied(res, open_store):
    a, b = await two(open_store)
    one, other = Conversation(res, a, lambda: TODAY), Conversation(res, b, lambda: TODAY)
    await one.handle("whatsapp", "u", Command("start"))
    await one.handle("whatsapp", "u", Text("ciao"))  # A now holds the session in memory (SQLite)
    for conv, said in zip((other, one, other), DIALOG, strict=True):  # A's copy is stale at its next turn
        replies = await conv.handle("whatsapp", "u", Text(said))
    assert "cinisello-scuola" in replies[-1].services
    session = await a.load("whatsapp", "u")
    assert (session.comune, session.age, session.need) == ("015032", "6-14", "school")
    await a.close()
    await b.close()


async def test_many_users_writing_through_two_processes_at_once_lose_no_turn(res, open_store):
    a, b = await two(open_store)
    convs = (Conversation(res, a, lambda: TODAY), Conversation(res, b, lambda: TODAY))

    async def family(n: int) -> None:
        await convs[n % 2].handle("telegram", f"u{n}", Command("start"))
        # Every message of the dialog goes to both processes at once: one of each pair is a repeat.
        for step_no, said in enumerate(DIALOG):
            await asyncio.gather(*(conv.handle("telegram", f"u{n}", Text(said), once=f"u{n}:{step_no}")
                                   for conv in convs))

    await asyncio.gather(*(family(n) for n in range(30)))
    for n in range(30):
        session = await b.load("telegram", f"u{n}")
        assert (session.comune, session.age, session.need) == ("015032", "6-14", "school"), n
    await a.close()
    await b.close()


async def test_an_update_delivered_to_two_processes_is_answered_by_one(res, open_store):
    a, b = await two(open_store)
    await Conversation(res, a, lambda: TODAY).handle("telegram", "u", Command("start"))
    answers = await asyncio.gather(*(Conversation(res, s, lambda: TODAY).handle(
        "telegram", "u", Text("Bresso"), once="telegram:update:7") for s in (a, b, a, b)))
    assert sorted(bool(x) for x in answers) == [False, False, False, True]
    assert await a.first_time("notice") and not await b.first_time("notice")
    await a.close()
    await b.close()


class Phone:
    """The platform: what reached the user, in order; each send takes a moment."""

    def __init__(self) -> None:
        self.got: list[str] = []

    async def deliver(self, row: Queued) -> None:
        await asyncio.sleep(0.002)
        self.got.append(row.body)


async def test_one_users_replies_written_by_two_processes_arrive_once_each_in_order(open_store):
    a, b = await two(open_store)
    phone = Phone()
    outboxes = (Outbox(a, "whatsapp", phone.deliver), Outbox(b, "whatsapp", phone.deliver))
    written = []
    for n in range(40):  # turns saved alternately by each process, each kicking its own outbox
        store, outbox = ((a, outboxes[0]), (b, outboxes[1]))[n % 2]
        await store.save("whatsapp", "u", Session(), outbox=[("addr", f"reply {n}")])
        written.append(f"reply {n}")
        outbox.kick("u")
        if n % 7 == 0:
            await asyncio.sleep(0.003)
    for _ in range(500):  # until both processes are done sending
        if not any(o.busy for o in outboxes) and not await a.queued("whatsapp", "u"):
            break
        await asyncio.sleep(0.01)
    assert phone.got == written
    for outbox in outboxes:
        await outbox.close()
    await a.close()
    await b.close()


async def test_replies_left_by_a_process_that_died_are_sent_by_another_once_its_lease_runs_out(open_store):
    a, b = await two(open_store)
    await a.save("telegram", "u", Session(), outbox=[("addr", "your answer")])
    assert await a.take_drain("telegram", "u", Lease("dead", time.time() + 0.3)) is not None  # then A dies
    phone = Phone()
    survivor = Outbox(b, "telegram", phone.deliver, resume_every=0.05)
    assert await survivor.resume() == 0  # A's lease is live: not B's to send
    for _ in range(200):
        if phone.got:
            break
        await asyncio.sleep(0.02)
    assert phone.got == ["your answer"]
    await survivor.close()
    await a.close()
    await b.close()


async def test_an_effect_is_done_by_the_process_that_saved_it_or_after_its_lease_by_another(open_store, monkeypatch):
    a, b = await two(open_store)
    [mine] = await a.save("telegram", "u", Session(), effects=[Effect("handoff-say", {"n": 1})])
    assert await b.take_effects({"handoff-say"}) == []  # A is doing it
    monkeypatch.setattr(sessions, "EFFECT_LEASE", 0.0)
    await a.save("telegram", "v", Session(), effects=[Effect("handoff-say", {"n": 2})])  # A dies before doing it
    await asyncio.sleep(0.01)
    assert await b.take_effects({"other-kind"}) == []  # B cannot do this kind: it leaves it
    [taken] = await b.take_effects({"handoff-say"}, until=time.time() + 60)
    assert taken.effect.data == {"n": 2}
    assert await a.take_effects({"handoff-say"}) == []  # now B's
    await b.done(taken)
    await a.done(mine)
    assert await a.pending_effects() == []
    await a.close()
    await b.close()


async def test_a_reminder_due_is_claimed_by_one_process_only(open_store):
    a, b = await two(open_store)
    sealed = a.pseudonyms.seal("393331234567")
    await a.open_handoff("whatsapp", "u", sealed, card=10, thread=None,
                         remind=datetime.now(UTC) - timedelta(minutes=1))
    due_a, due_b = await a.handoffs_unanswered(datetime.now(UTC)), await b.handoffs_unanswered(datetime.now(UTC))
    assert [h.address for h in due_a] == [h.address for h in due_b] == ["393331234567"]
    claims = await asyncio.gather(a.no_reminder(due_a[0]), b.no_reminder(due_b[0]))
    assert sorted(claims) == [False, True]
    assert await b.handoff_at(10, None) is not None
    await b.close_handoff("whatsapp", "u")
    assert await a.handoff_of("whatsapp", "u") is None
    await a.close()
    await b.close()


async def test_a_number_linked_to_its_bsuid_moves_the_conversation_on_either_engine(open_store):
    store = await open_store()
    await store.save("whatsapp", "phone", Session(state="ask_age", comune="015032"))
    await store.link("whatsapp", "phone", "bsuid")
    await store.link("whatsapp", "phone", "bsuid")  # again: nothing changes
    assert await store.alias_of("whatsapp", "phone") == "bsuid"
    assert (await store.load("whatsapp", "bsuid")).comune == "015032"
    assert await store.load("whatsapp", "phone") is None
    await store.close()


async def test_the_schema_is_made_at_the_latest_version_and_a_newer_one_is_refused(db, open_store):
    store = await open_store()
    [(version,)] = await store.engine.fetch("SELECT value FROM meta WHERE key = 'schema'")
    assert int(version) == LATEST
    await store.engine.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(LATEST + 1),))
    await store.close()
    with pytest.raises(StoreError, match="newer version of the bot"):
        await open_store()


async def test_processes_starting_together_on_a_new_database_all_open_it(db, open_store, tmp_path):
    # SQLite: a new file each round, since the race (switching the file to WAL) is in its first open
    rounds = [db] if is_url(db) else [str(tmp_path / f"new{n}.sqlite3") for n in range(25)]
    for target in rounds:
        opened = await asyncio.gather(
            *(open_store() if is_url(target) else SessionStore.open(target) for _ in range(8)),
            return_exceptions=True,
        )
        stores = [s for s in opened if isinstance(s, SessionStore)]
        for store in stores:
            await store.close()
        assert len(stores) == 8, [repr(s) for s in opened if not isinstance(s, SessionStore)]
        assert len({s.pseudonyms.check() for s in stores}) == 1


async def test_a_postgresql_database_kept_under_another_secret_is_refused(db, open_store):
    if not is_url(db):
        pytest.skip("SQLite keeps its secret in a file beside it (tests/test_privacy.py)")
    await (await open_store()).close()
    with pytest.raises(StoreError, match="another secret"):
        await SessionStore.open(db, secret="x" * 40)
    with pytest.raises(StoreError, match="BOT_SECRET"):
        await SessionStore.open(db)


async def test_a_restarted_postgresql_server_costs_the_families_nothing(res, pg_cluster):
    """After a restart every pooled connection is dead; the turns that find one so are run again
    on another, and none fails (nor gets a family an apology)."""
    if pg_cluster is None:
        pytest.skip("PostgreSQL: no server can start here (see the summary)")
    url = pg_cluster.database()
    store = await SessionStore.open(url, secret=TEST_SECRET)
    conversation = Conversation(res, store, lambda: TODAY)
    try:
        await asyncio.gather(*(store.engine.fetch("SELECT pg_sleep(0.3)") for _ in range(POOL_SIZE)))
        if not pg_cluster.restart():
            pytest.skip("a server given by ORIENTA_TEST_PG is not restarted")
        turns = await asyncio.gather(*(conversation.handle("telegram", f"u{n}", Command("start"), once=f"k{n}")
                                       for n in range(3 * POOL_SIZE)), return_exceptions=True)
        assert [t for t in turns if isinstance(t, BaseException)] == []
        assert all(turns)  # each family got the greeting
    finally:
        await store.close()
        pg_cluster.drop(url)


async def test_a_postgresql_server_that_cannot_be_reached_is_one_line_without_the_password():
    with pytest.raises(StoreError) as failure:
        await SessionStore.open("postgresql://orienta:hunter2secret@127.0.0.1:1/orienta", secret=TEST_SECRET)
    assert "cannot be reached" in str(failure.value) and "127.0.0.1:1/orienta" in str(failure.value)
    assert "hunter2secret" not in str(failure.value) and "\n" not in str(failure.value)


async def test_the_expiry_sweep_erases_an_old_conversation_with_all_tied_to_it_on_either_engine(open_store):
    a, b = await two(open_store)
    for user in ("old", "new"):
        await a.save("whatsapp", user, Session(comune="015032"), outbox=[("addr", "waiting")])
        await a.link("whatsapp", f"{user}-phone", user)
    await a.engine.execute("UPDATE sessions SET updated_at = '2026-01-01T00:00:00+00:00' WHERE user_id = 'old'")
    assert await b.purge(30) == 1
    assert await a.load("whatsapp", "old") is None and await a.queued("whatsapp", "old") == []
    assert await a.alias_of("whatsapp", "old-phone") is None
    assert await a.load("whatsapp", "new") is not None and len(await a.queued("whatsapp", "new")) == 1
    await a.close()
    await b.close()
