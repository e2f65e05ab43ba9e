"""compose.yaml's deployment without Docker: one PostgreSQL database, two replicas running
`python -m bot serve --webhook …` as compose runs them, and nginx with the shipped
`deploy/nginx.conf` in front (only its upstream hosts and port made local). WhatsApp and
Telegram families write through the proxy; one replica is killed (SIGKILL) half-way, as a
host that fails. Every family still gets its whole answer, and no call is refused."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.config import ROOT
from tests.fake_bot_api import FakeBotApi
from tests.fake_graph import SECRET, FakeGraph, free_port, listening, post
from tests.telegram_fakes import TOKEN, Updates
from tests.test_replicas import RESULT, ROWS, STEPS, payload, replicas, text_of
from tests.test_telegram_process import SECRET as TELEGRAM_SECRET
from tests.test_telegram_process import dedup, expected_texts
from tests.test_telegram_process import post as telegram_post

FAMILIES = 60  # on each platform
AT_ONCE = 8


@contextlib.contextmanager
def proxy(nginx: str, folder: Path, upstreams: tuple[int, int]) -> Iterator[int]:
    """nginx with deploy/nginx.conf in front of the two replicas: the port it listens on."""
    port = free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    for n, upstream in enumerate(upstreams, 1):
        assert f"bot-{n}:8000" in site
        site = site.replace(f"bot-{n}:8000", f"127.0.0.1:{upstream}")
    assert "listen 80;" in site
    (folder / "site.conf").write_text(site.replace("listen 80;", f"listen 127.0.0.1:{port};"))
    (folder / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {folder}/nginx.pid; error_log {folder}/error.log;\n"
        f"events {{}}\nhttp {{ client_body_temp_path {folder}; proxy_temp_path {folder};\n"
        f"       include {folder}/site.conf; }}\n")
    server = subprocess.Popen([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not listening(port):
            assert time.monotonic() < deadline and server.poll() is None, "nginx did not start"
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def delivered(call: Callable[[], int], codes: Counter[int]) -> None:
    """As the platforms do, a call not answered 200 is made again (a second later here)."""
    for _ in range(30):
        code = call()
        codes[code] += 1
        if code == 200:
            return
        time.sleep(1.0)
    raise AssertionError(f"a call was never taken: {codes}")


def test_two_replicas_behind_the_shipped_proxy_answer_every_family_when_one_host_dies(pg_cluster, nginx, tmp_path):
    if pg_cluster is None:
        pytest.skip("PostgreSQL: no server can start here (see the summary)")
    phones = [f"3935{n:08d}" for n in range(FAMILIES)]
    users = [Updates(user_id=90_000 + n) for n in range(FAMILIES)]
    steps = ("/start", *ROWS)
    expected = expected_texts(steps)
    updates = [[u.text(s) if s.startswith("/") else u.press(s) for s in steps] for u in users]
    codes: Counter[int] = Counter()
    url, graph = pg_cluster.database(), FakeGraph(delay=0.01)

    def family(front: int, f: int) -> None:
        for s in range(len(STEPS)):
            delivered(lambda s=s: post(front, payload(phones[f], s, STEPS[s]), "valid"), codes)
            delivered(lambda s=s: telegram_post(front, "telegram", updates[f][s], TELEGRAM_SECRET), codes)

    def answers() -> tuple[dict[str, list[str]], dict[int, list[str]]]:
        wa: dict[str, list[str]] = defaultdict(list)
        for body in list(graph.bodies):
            wa[body["to"]].append(text_of(body))
        return wa, api.sent_by_chat()

    def complete() -> bool:
        wa, tg = answers()
        return (all(any(RESULT in t for t in wa.get(p, [])) for p in phones)
                and all(tg.get(u.user["id"], [])[-1:] == expected[-1:] for u in users))

    command = ["serve", "--webhook", "https://bot.example.org/telegram", "--port"]
    try:
        with FakeBotApi(delay=0.01) as api:
            env = {"BOT_DB": url, "TELEGRAM_TOKEN": TOKEN, "TELEGRAM_BASE_URL": api.base_url,
                   "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET, "WHATSAPP_PHONE_ID": "123", "WHATSAPP_TOKEN": "t",
                   "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": SECRET,
                   "WHATSAPP_API_URL": f"http://127.0.0.1:{graph.server.server_address[1]}"}
            with replicas(lambda port: [*command, str(port)], env) as (ports, procs), \
                    proxy(nginx, tmp_path, ports) as front, ThreadPoolExecutor(AT_ONCE) as pool:
                families = [pool.submit(family, front, f) for f in range(FAMILIES)]
                while sum(f.done() for f in families) < FAMILIES // 2:
                    time.sleep(0.02)
                procs[0].kill()  # a host lost while families are writing
                for f in families:
                    f.result()
                deadline = time.monotonic() + 150  # a dead host's replies wait for its lease to run out
                while not complete() and time.monotonic() < deadline:
                    time.sleep(0.5)
                time.sleep(1.0)  # anything doubled would arrive now
            wa, tg = answers()
    finally:
        graph.server.shutdown()
        pg_cluster.drop(url)
    assert set(codes) == {200}, codes  # the proxy took every call to the replica still alive
    first = wa[phones[0]]
    assert sum(RESULT in t for t in first) == 1 and len(first) >= len(STEPS), first
    assert [p for p in phones if dedup(wa[p]) != first] == []
    assert [u.user["id"] for u in users if dedup(tg.get(u.user["id"], [])) != expected] == []
    # A reply whose send was under way at the kill may arrive twice (no platform has an
    # idempotent send): at most one per family then writing.
    assert sum(len(wa[p]) - len(first) for p in phones) <= AT_ONCE
    assert sum(len(tg[u.user["id"]]) - len(expected) for u in users) <= AT_ONCE
