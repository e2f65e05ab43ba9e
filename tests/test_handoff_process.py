"""The hand-off as the cooperative runs it: `python -m bot serve`, one real process taking
Telegram updates (from a local fake Bot API) and WhatsApp's signed webhook calls (its Graph
API a local fake too). An Arabic-speaking family on WhatsApp asks for a person; the
operators' Telegram group gets the Italian card; an operator's reply reaches the family on
WhatsApp; the family's answer reaches the group; the bot says nothing else until /fine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.config import ROOT
from bot.dialogs import texts as T
from bot.i18n import load_catalogs
from tests.fake_bot_api import FakeBotApi
from tests.fake_graph import FakeGraph, free_port, listening, post, press, text, whatsapp_env
from tests.telegram_fakes import GROUP, TOKEN, Updates, operator_reply

FAMILY = 8123456789


def wait(predicate, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"bot exited: {proc.stdout.read() if proc.stdout else ''}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_whatsapp_family_is_answered_from_the_operators_telegram_group(tmp_path: Path):
    ar = load_catalogs(ROOT / "locales").get("ar")
    graph, port = FakeGraph(), free_port()
    with FakeBotApi() as api:
        env = {**os.environ, **whatsapp_env(graph, port), "TELEGRAM_TOKEN": TOKEN,
               "TELEGRAM_BASE_URL": api.base_url, "OPERATORS_CHAT_ID": str(GROUP),
               "BOT_DB": str(tmp_path / "both.sqlite3"), "BOT_TODAY": "2026-11-25"}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait(lambda: listening(port), proc)
            assert post(port, text(1, "مرحبا"), "valid") == 200
            for n, row in enumerate(("c:015077", "a:6-14", "n:school"), start=2):
                assert post(port, press(n, row), "valid") == 200
            wait(lambda: any("Ambito di Cinisello Balsamo" in t for t in graph.texts()), proc)
            assert post(port, press(5, "h:person", "button_reply"), "valid") == 200
            wait(lambda: any("chiede di parlare" in t for _, t in api.sent_with_ids(GROUP)), proc)
            card_id, card = next((i, t) for i, t in api.sent_with_ids(GROUP) if "chiede di parlare" in t)
            assert "Lingua: arabo" in card and "Canale: WhatsApp" in card and "Cinisello Balsamo" in card
            assert "393331234567" not in str(api.calls)  # no phone number in the group
            wait(lambda: ar(T.PERSON_ASKED) in graph.texts()[-1], proc)

            shown = len(graph.bodies)
            assert post(port, text(6, "ابني عمره 9 سنوات"), "valid") == 200
            wait(lambda: any(t == "💬 ابني عمره 9 سنوات" for _, t in api.sent_with_ids(GROUP)), proc)

            api.push(operator_reply(9001, "Buongiorno, la chiamo domani con una mediatrice.", card_id))
            wait(lambda: "Buongiorno, la chiamo domani con una mediatrice." in graph.texts()[-1], proc)
            assert ar(T.FROM_PERSON) in graph.texts()[-1]
            assert len(graph.bodies) == shown + 1  # the bot itself said nothing meanwhile

            api.push(operator_reply(9002, "/fine", card_id))
            wait(lambda: any(ar(T.PERSON_DONE) in t for t in graph.texts()[shown + 1:]), proc)
            wait(lambda: any("Chiusa" in t for _, t in api.sent_with_ids(GROUP)), proc)

            # A family on Telegram, in the same process, reaches the same group.
            family = Updates(user_id=FAMILY, language_code="ar")
            for update in (family.text("/start"), family.text("/persona")):
                api.push(update)
            wait(lambda: sum("chiede di parlare" in t for _, t in api.sent_with_ids(GROUP)) == 2, proc)
            tg_card, tg_text = [(i, t) for i, t in api.sent_with_ids(GROUP) if "chiede di parlare" in t][-1]
            assert "Canale: Telegram" in tg_text and str(FAMILY) not in tg_text
            reply = operator_reply(9003, "مرحبا، أنا سميرة.", tg_card)
            reply["update_id"] = family.text("…")["update_id"] + 1  # after the family's, as Telegram counts
            api.push(reply)
            wait(lambda: any("مرحبا، أنا سميرة." in t for _, t in api.sent_with_ids(FAMILY)), proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            graph.server.shutdown()
    assert proc.returncode == 0, out
    assert "393331234567" not in out and "مرحبا" not in out  # nothing of the family in the log
