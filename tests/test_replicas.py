"""Two bot processes on one database (PostgreSQL, and one SQLite file), as behind a load
balancer: 200 families, each family's messages alternating between them, all interleaved.
Every family gets every answer once, in order: none lost, none doubled. Once for WhatsApp's
webhook, once for Telegram's."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from bot.config import ROOT
from tests.conftest import TEST_SECRET
from tests.fake_bot_api import FakeBotApi
from tests.fake_graph import SECRET, FakeGraph, free_port, listening, post
from tests.telegram_fakes import TOKEN, Updates
from tests.test_telegram_process import SECRET as TELEGRAM_SECRET
from tests.test_telegram_process import expected_texts
from tests.test_telegram_process import post as telegram_post

FAMILIES = 200
AT_ONCE = 8  # families writing at the same moment
# A family in Cinisello Balsamo: a greeting, then the comune, the age group and the need from the lists.
ROWS = ("c:015077", "a:6-14", "n:school")
STEPS = ({"type": "text", "text": {"body": "ciao"}},
         *({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": row, "title": "…"}}}
           for row in ROWS))
RESULT = "Ambito di Cinisello Balsamo"


def payload(phone: str, n: int, body: dict) -> dict:
    msg = {"from": phone, "id": f"wamid.{phone}.{n}", "timestamp": str(int(time.time())), **body}
    return {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "123"},
                      "contacts": [{"wa_id": phone, "profile": {"name": "—"}}], "messages": [msg]}}]}]}


def text_of(body: dict) -> str:
    return body["text"]["body"] if body.get("type") == "text" else body["interactive"]["body"]["text"]


@contextlib.contextmanager
def replicas(command: Callable[[int], list[str]], env: dict[str, str]
             ) -> Iterator[tuple[tuple[int, int], list[subprocess.Popen]]]:
    """Two processes of `python -m bot …`, each on its own port; stopped (and their logs
    checked for failed turns) on the way out."""
    ports = (free_port(), free_port())
    env = {**os.environ, "BOT_SECRET": TEST_SECRET, "BOT_TODAY": "2026-11-25", "HOST": "127.0.0.1", **env}
    procs = [subprocess.Popen([sys.executable, "-m", "bot", *command(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for port in ports]
    try:
        deadline = time.monotonic() + 60
        while not all(listening(p) for p in ports):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process did not start"
            time.sleep(0.1)
        yield ports, procs
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    for proc in procs:  # both ran, and neither logged a failed turn
        out = proc.stdout.read() if proc.stdout else ""
        assert "failed" not in out and "Traceback" not in out, out[-2000:]


def interleaved(send: Callable[[int, int], int]) -> None:
    """Family f's message s goes to process (f + s) % 2: each family alternates, and sends its
    next message as soon as the last was taken, while the answers to it are still leaving."""
    def family(f: int) -> list[int]:
        return [send(f, step) for step in range(len(STEPS))]

    with ThreadPoolExecutor(AT_ONCE) as pool:
        assert list(pool.map(family, range(FAMILIES))) == [[200] * len(STEPS)] * FAMILIES


def settled(got: Callable[[], dict[object, list[str]]]) -> dict[object, list[str]]:
    """What each family got, once every family has its result and a second has passed for
    anything doubled to arrive."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        texts = got()
        if len(texts) == FAMILIES and all(any(RESULT in t for t in ts) for ts in texts.values()):
            break
        time.sleep(0.2)
    time.sleep(1.0)
    return got()


def test_two_whatsapp_processes_on_one_database_answer_200_families_each_answer_once(db: str):
    graph = FakeGraph(delay=0.01)  # sends take a while: a drain is still going when the next message comes
    env = {"BOT_DB": db, "WHATSAPP_PHONE_ID": "123", "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v",
           "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_API_URL": f"http://127.0.0.1:{graph.server.server_address[1]}"}
    phones = [f"3933{n:08d}" for n in range(FAMILIES)]

    def got() -> dict[object, list[str]]:
        out: dict[object, list[str]] = defaultdict(list)
        for body in list(graph.bodies):
            out[body["to"]].append(text_of(body))
        return out

    try:
        with replicas(lambda port: ["whatsapp", "--port", str(port)], env) as (ports, _):
            interleaved(lambda f, s: post(ports[(f + s) % 2], payload(phones[f], s, STEPS[s]), "valid"))
            answers = settled(got)
    finally:
        graph.server.shutdown()
    first = answers[phones[0]]
    assert sum(RESULT in t for t in first) == 1, first
    assert len(first) >= len(STEPS), first  # an answer to each message
    different = [p for p in phones if answers[p] != first]
    assert different == [], f"{len(different)} families got other answers, e.g. {answers[different[0]]}"


def test_two_telegram_webhook_processes_on_one_database_answer_200_users_each_answer_once(db: str):
    steps = ("/start", *ROWS)
    expected = expected_texts(steps)
    users = [Updates(user_id=70_000 + n) for n in range(FAMILIES)]
    updates = [[user.text(s) if s.startswith("/") else user.press(s) for s in steps] for user in users]
    with FakeBotApi(delay=0.01) as api:
        env = {"BOT_DB": db, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url,
               "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET}
        command = ["telegram", "--webhook", "https://bot.example.org/tg-hook", "--listen", "127.0.0.1", "--port"]
        with replicas(lambda port: [*command, str(port)], env) as (ports, _):
            interleaved(lambda f, s: telegram_post(ports[(f + s) % 2], "tg-hook", updates[f][s], TELEGRAM_SECRET))
            answers = settled(api.sent_by_chat)  # type: ignore[arg-type]
    assert expected[-1].count(RESULT) == 1
    different = [u.user["id"] for u in users if answers.get(u.user["id"]) != expected]
    assert different == [], f"{len(different)} users got other answers, e.g. {answers.get(different[0])}"
