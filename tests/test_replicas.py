"""Two `python -m bot whatsapp` processes on one database (PostgreSQL, and one SQLite file),
as behind a load balancer: 200 families, each family's messages alternating between them,
all interleaved. Every family gets every answer once, in order: none lost, none doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from bot.config import ROOT
from tests.conftest import TEST_SECRET
from tests.fake_graph import SECRET, FakeGraph, free_port, listening, post

FAMILIES = 200
# A family in Cinisello Balsamo: a greeting, then the comune, the age group and the need from the lists.
STEPS = ({"type": "text", "text": {"body": "ciao"}},
         *({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": row, "title": "…"}}}
           for row in ("c:015077", "a:6-14", "n:school")))


def payload(phone: str, n: int, body: dict) -> dict:
    msg = {"from": phone, "id": f"wamid.{phone}.{n}", "timestamp": str(int(time.time())), **body}
    return {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "123"},
                      "contacts": [{"wa_id": phone, "profile": {"name": "—"}}], "messages": [msg]}}]}]}


def text_of(body: dict) -> str:
    return body["text"]["body"] if body.get("type") == "text" else body["interactive"]["body"]["text"]


def test_two_processes_on_one_database_answer_200_families_each_answer_once(db: str):
    graph = FakeGraph(delay=0.01)  # sends take a while: a drain is still going when the next message comes
    ports = (free_port(), free_port())
    env = {**os.environ, "BOT_DB": db, "BOT_SECRET": TEST_SECRET, "BOT_TODAY": "2026-11-25",
           "WHATSAPP_PHONE_ID": "123", "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v",
           "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_API_URL": f"http://127.0.0.1:{graph.server.server_address[1]}",
           "HOST": "127.0.0.1"}
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "whatsapp", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for port in ports]
    try:
        deadline = time.monotonic() + 60
        while not all(listening(p) for p in ports):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process did not start"
            time.sleep(0.1)
        phones = [f"3933{n:08d}" for n in range(FAMILIES)]
        def family(f: int) -> list[int]:
            # Family f's message s goes to process (f + s) % 2: each family alternates, and taps
            # its next row as soon as the last was taken, while the answers to it are still leaving.
            return [post(ports[(f + step) % 2], payload(phones[f], step, body), "valid")
                    for step, body in enumerate(STEPS)]

        with ThreadPoolExecutor(8) as pool:  # eight families at a time, all interleaved
            assert list(pool.map(family, range(FAMILIES))) == [[200] * len(STEPS)] * FAMILIES
        got: dict[str, list[str]] = defaultdict(list)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            got.clear()
            for body in list(graph.bodies):
                got[body["to"]].append(text_of(body))
            if len(got) == FAMILIES and all(any("Ambito di Cinisello Balsamo" in t for t in texts)
                                            for texts in got.values()):
                break
            time.sleep(0.2)
        time.sleep(1.0)  # anything doubled would arrive now
        got.clear()
        for body in list(graph.bodies):
            got[body["to"]].append(text_of(body))
        first = got[phones[0]]
        assert sum("Ambito di Cinisello Balsamo" in t for t in first) == 1, first
        assert len(first) >= len(STEPS), first  # an answer to each message
        different = [p for p in phones if got[p] != first]
        assert different == [], f"{len(different)} families got other answers, e.g. {got[different[0]]}"
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        graph.server.shutdown()
    for proc in procs:  # both ran, and neither logged a failed turn
        out = proc.stdout.read() if proc.stdout else ""
        assert "failed" not in out and "Traceback" not in out, out[-2000:]
