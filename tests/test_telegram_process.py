"""The real `python -m bot telegram` process, over real HTTP on 127.0.0.1.

A local fake Bot API server stands in for Telegram (through TELEGRAM_BASE_URL): the webhook
is exercised with genuine update JSON and the secret-token header, and the polling bot is
killed with SIGKILL mid-dialog and started again on the same database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.config import ROOT
from tests.fake_bot_api import FakeBotApi
from tests.telegram_fakes import TOKEN, Updates

SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_bot(api: FakeBotApi, db: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url, "BOT_DB": str(db),
           "BOT_TODAY": "2026-11-25", "TELEGRAM_WEBHOOK_SECRET": SECRET}
    return subprocess.Popen([sys.executable, "-m", "bot", "telegram", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.stdout.read() if proc.stdout else ""


def post(port: int, path: str, update: dict, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=json.dumps(update).encode(),
                                     headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def declared_huge(port: int, path: str) -> int:
    """A call that says it carries 2 MB: refused by its Content-Length, before any byte is read
    (sending the 2 MB too would race the server's early answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall((f"POST /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nContent-Length: 2000000\r\n\r\n").encode())
        return int(conn.recv(4096).split(b" ", 2)[1])


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"bot exited: {proc.stdout.read() if proc.stdout else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("webhook server did not start")


def test_webhook_accepts_only_updates_with_the_secret_token(tmp_path: Path):
    port = free_port()
    with FakeBotApi() as api:
        proc = start_bot(api, tmp_path / "w.sqlite3", "--webhook", "https://bot.example.org/tg-hook",
                         "--listen", "127.0.0.1", "--port", str(port))
        try:
            wait_port(port, proc)
            assert api.wait_for(lambda: "setWebhook" in api.methods())
            hook = next(p for m, p in api.calls if m == "setWebhook")
            assert hook["url"] == "https://bot.example.org/tg-hook" and hook["secret_token"] == SECRET
            user = Updates()

            assert post(port, "tg-hook", user.text("/start"), None) == 403
            assert post(port, "tg-hook", user.text("/start"), "wrong") == 403
            assert declared_huge(port, "tg-hook") == 413
            assert post(port, "tg-hook", {"update_id": "one"}, SECRET) == 400
            time.sleep(0.5)
            assert api.count_sent() == 0  # nothing from a refused call reached the dialog

            assert post(port, "tg-hook", user.text("/start"), SECRET) == 200
            assert api.wait_for(lambda: api.count_sent() >= 1)
            assert post(port, "tg-hook", user.text("Bresso, 9 anni, scuola"), SECRET) == 200
            assert api.wait_for(lambda: any("Cinisello Balsamo" in t for t in api.sent_texts()))
        finally:
            log = stop(proc)
        assert "Bresso" not in log  # no message text in the logs
        assert TOKEN not in log


def wait_outbox_empty(db: Path, timeout: float = 10.0) -> bool:
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0:
                return True
        time.sleep(0.05)
    return False


def test_kill_and_restart_mid_dialog_loses_nothing_and_answers_nothing_twice(tmp_path: Path):
    db = tmp_path / "r.sqlite3"
    user = Updates()
    with FakeBotApi() as api:
        proc = start_bot(api, db)
        try:
            api.push(user.text("/start"))
            assert api.wait_for(lambda: api.count_sent() >= 1)
            api.push(user.text("Monza"))
            assert api.wait_for(lambda: any("Quanti anni" in t for t in api.sent_texts()))
            assert wait_outbox_empty(db)  # Telegram took the answer and the bot knows it
        finally:
            proc.kill()  # SIGKILL: no shutdown, no confirmation of the last updates
            proc.wait(timeout=10)
        sent_before = api.count_sent()

        proc = start_bot(api, db)  # the same database; Telegram delivers the updates again
        try:
            assert api.wait_for(lambda: api.methods().count("getMe") >= 2)
            first_two = [u["update_id"] for u in api.updates[:2]]
            assert api.wait_for(lambda: api.served.count(first_two[1]) >= 2)  # delivered again
            time.sleep(1.0)  # time to (wrongly) answer the redelivered updates
            assert api.count_sent() == sent_before
            api.push(user.text("40"))
            assert api.wait_for(lambda: any("Di che cosa hai bisogno?" in t for t in api.sent_texts()))
            texts = api.sent_texts()
            assert "Di che cosa hai bisogno?" in texts[-1]  # continues where it was: Monza, 40
            assert sum("Quanti anni" in t for t in texts) == 1
        finally:
            stop(proc)


@pytest.mark.parametrize(("env", "expected"), [
    ({"TELEGRAM_TOKEN": ""}, "TELEGRAM_TOKEN is not set"),
    ({"TELEGRAM_TOKEN": "12345"}, "does not look like a bot token"),
])
def test_missing_or_malformed_token_is_one_clear_line(env, expected):
    result = subprocess.run([sys.executable, "-m", "bot", "telegram"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=60)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_new_user_tries_buttons_a_printed_deep_link_and_ukraina(tmp_path: Path):
    """As a family would: buttons through a whole dialog, a link an operator printed, /ukraina."""
    link = subprocess.run([sys.executable, "-m", "bot", "link", "--bot", "orienta_test_bot", "--lang", "en",
                           "--comune", "Cinisello Balsamo", "--need", "school"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    payload = link.split("?start=")[1]
    user, other, ukrainian = Updates(user_id=11), Updates(user_id=12, language_code="en"), Updates(user_id=13)
    with FakeBotApi() as api:
        proc = start_bot(api, tmp_path / "n.sqlite3")
        try:
            api.push(user.text("/start"))
            assert api.wait_for(lambda: any("In quale comune" in t for t in api.sent_texts()))
            for data, expect in (("c:015077", "Quanti anni"), ("a:6-14", "Di che cosa"),
                                 ("n:school", "Ambito di Cinisello Balsamo")):
                api.push(user.press(data))
                assert api.wait_for(lambda expect=expect: any(expect in t for t in api.sent_texts())), expect
            # each press acknowledged (just after its turn is saved, beside the answer's send)
            assert api.wait_for(lambda: api.methods().count("answerCallbackQuery") == 3)

            api.push(other.text(f"/start {payload}"))
            assert api.wait_for(lambda: any("How old is the person" in t for t in api.sent_texts()))

            api.push(ukrainian.text("/ukraina"))
            assert api.wait_for(lambda: any("України" in t for t in api.sent_texts()))
        finally:
            stop(proc)


def expected_texts(steps: tuple[str, ...]) -> list[str]:
    """What a user receives for these steps when nothing fails: the pure dialog, rendered."""
    from datetime import date

    from bot.channels.telegram import render_rows
    from bot.config import Config
    from bot.dialogs.model import Command, Press
    from bot.dialogs.orientation import step
    from bot.resources import load_resources

    res = load_resources(Config.from_env({}))
    session, texts = None, []
    for text in steps:
        event = Command(text[1:]) if text.startswith("/") else Press(text)
        session, replies, _ = step(session, event, res, date(2026, 11, 25))
        texts += [t for t, _ in render_rows(replies)]
    return texts


def test_random_kills_lose_no_answer_and_keep_each_users_order(tmp_path: Path):
    """SIGKILL at random moments while 60 users go through a whole dialog: after the last restart
    every user has every answer, in order. An answer whose send was under way at the kill may
    arrive twice (Telegram has no idempotent send): the count of those is printed."""
    import random

    rng = random.Random(11)
    steps = ("/start", "c:015077", "a:6-14", "n:school")
    expected = expected_texts(steps)
    db = tmp_path / "kills.sqlite3"
    users = [Updates(user_id=60_000 + i) for i in range(60)]
    with FakeBotApi() as api:
        proc = start_bot(api, db)
        try:
            for text in steps:
                before = api.count_sent()
                for user in users:
                    api.push(user.text(text) if text.startswith("/") else user.press(text))
                api.wait_for(lambda before=before: api.count_sent() > before + 5)  # mid-way through the answers
                time.sleep(rng.uniform(0, 0.05))
                proc.kill()
                proc.wait(timeout=10)
                proc = start_bot(api, db)

            def complete() -> bool:
                got = api.sent_by_chat()
                return all(dedup(got.get(u.user["id"], [])) == expected for u in users)

            assert api.wait_for(complete, timeout=60), "some answers never arrived"
        finally:
            stop(proc)
    got = api.sent_by_chat()
    doubles = sum(len(got[u.user["id"]]) - len(expected) for u in users)
    print(f"\n60 dialogs, 4 kills: 0 answers lost; {doubles} sent twice (in flight at a kill)")
    assert doubles <= 4 * len(users)  # at most one send in flight per user at each kill (per-user outbox)


def dedup(texts: list[str]) -> list[str]:
    """The same message twice in a row counted once (a send repeated after a kill)."""
    return [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]


def test_a_deploy_sigterm_answers_what_was_taken_before_exiting(tmp_path: Path):
    """SIGTERM (a deploy) while 100 users wait: the bot stops fetching, answers every update it
    took, and exits 0; what it had not taken is answered by the next process, once."""
    db = tmp_path / "deploy.sqlite3"
    users = [Updates(user_id=70_000 + i) for i in range(100)]
    with FakeBotApi() as api:
        proc = start_bot(api, db)
        try:
            for user in users:
                api.push(user.text("/start"))
            assert api.wait_for(lambda: api.count_sent() > 10)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            taken = {u["message"]["from"]["id"] for u in api.updates if u["update_id"] in api.served}
            answered = set(api.sent_chats())
            assert taken <= answered  # nothing taken was left unanswered at exit
            proc = start_bot(api, db)
            assert api.wait_for(lambda: len(set(api.sent_chats())) == len(users), timeout=30)
            time.sleep(0.5)
        finally:
            stop(proc)
    greetings = api.sent_chats()
    assert sorted(greetings) == sorted(u.user["id"] for u in users)  # each user once


def test_a_flood_over_loopback_does_not_delay_another_users_answer(tmp_path: Path):
    """The real polling process, PTB's rate limiter on: one user sends 1,000 messages at once,
    another writes /start right after. The other's answer is not queued behind the flood: it
    leaves among the first messages sent after it (the delay is printed, not asserted)."""
    flooder, other = Updates(user_id=80_001), Updates(user_id=80_002)
    with FakeBotApi() as api:
        proc = start_bot(api, tmp_path / "flood.sqlite3")
        try:
            api.push(flooder.text("/start"))  # the bot is up and answering
            assert api.wait_for(lambda: api.count_sent() >= 1)
            for i in range(1000):
                api.push(flooder.text(f"ciao {i}"))
            began = time.monotonic()
            api.push(other.text("/start"))
            assert api.wait_for(lambda: 80_002 in api.sent_chats(), timeout=10)
            waited = time.monotonic() - began
            time.sleep(1.0)
        finally:
            stop(proc)
    print(f"\nover loopback: another user's answer during a flood of 1,000 messages after {waited * 1000:.0f} ms")
    order = api.sent_chats()
    assert order.index(80_002) <= 23  # after at most the flooder's 20 answers, its warning and its greeting
    flood = api.sent_by_chat()[80_001]
    assert sum("Aspetta un minuto" in t for t in flood) == 1 and len(flood) <= 22


@pytest.mark.parametrize(("method", "status", "description", "expected"), [
    ("getMe", 401, "Unauthorized", "Telegram refused TELEGRAM_TOKEN"),
    ("getUpdates", 409, "Conflict: terminated by other getUpdates request", "another process is already taking"),
])
def test_a_refused_token_or_a_second_poller_is_one_clear_line(tmp_path: Path, method, status, description, expected):
    with FakeBotApi() as api:
        api.refuse[method] = (status, description)
        proc = start_bot(api, tmp_path / "t.sqlite3")
        try:
            code = proc.wait(timeout=30)
        finally:
            output = stop(proc)
    assert code == 2
    assert expected in output and "Traceback" not in output
