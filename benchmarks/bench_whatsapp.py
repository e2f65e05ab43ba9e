"""Benchmark: the WhatsApp webhook over real HTTP, against a bare floor measured in the same run.

Run: `python benchmarks/bench_whatsapp.py`. Three processes on 127.0.0.1: a fake Graph API
(uvicorn, answers every send like Meta), the bot under test, and this load generator (300
users, each a whole dialog — a greeting, then a comune, an age and a need chosen from lists —
10 calls in flight, every call signed). Figures: calls per second until the last answer
reached the fake Graph API, and the p50/p99 of the webhook's own answer.

The floor is the least any WhatsApp bot must do: a bare Starlette app that reads the body,
checks the signature and sends one reply through one pooled httpx client before answering
200. Orienta does more for each call — parses Meta's payload, runs the dialog, writes the
turn with its answers to SQLite, sends them from the outbox — and the aim (issue 11) is to
stay within 1.5x of the floor's time per call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
USERS, IN_FLIGHT = 300, 10
STEPS = ("Ciao", "c:015077", "a:6-14", "n:school")


# ------------------------------------------------------------------ the servers


def graph_app():
    """Meta's Graph API, faked: every send is counted and answered."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    count = {"n": 0}

    async def send(request):
        await request.body()
        count["n"] += 1
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [{"input": "x", "wa_id": "x"}],
                             "messages": [{"id": f"wamid.out{count['n']}"}]})

    async def sent(request):
        return JSONResponse(count)

    return Starlette(routes=[Route("/{version}/{phone}/messages", send, methods=["POST"]),
                             Route("/count", sent, methods=["GET"])])


def floor_app(graph_url: str):
    """The least a WhatsApp bot does per call: check the signature, send one reply, answer 200."""
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    client = httpx.AsyncClient(base_url=graph_url, timeout=20)

    async def receive(request):
        body = await request.body()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return PlainTextResponse("bad signature", status_code=403)
        message = json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
        await client.post("/v22.0/1234567890/messages", json={
            "messaging_product": "whatsapp", "to": message["from"], "type": "text", "text": {"body": "ok"}})
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/webhook", receive, methods=["POST"])])


def serve(kind: str, port: int, graph_url: str = "") -> None:
    import uvicorn

    app = graph_app() if kind == "graph" else floor_app(graph_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# ------------------------------------------------------------------ the load


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def payload(user: int, step: int) -> bytes:
    text = STEPS[step]
    if step == 0:
        message = {"type": "text", "text": {"body": text}}
    else:
        message = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": text}}}
    phone = f"39333{user:07d}"
    message.update({"from": phone, "id": f"wamid.{user}.{step}", "timestamp": str(int(time.time()))})
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "contacts": [
            {"profile": {"name": "A"}, "wa_id": phone}], "messages": [message]}}]}]}).encode()


async def call(client, user: int, step: int) -> float:  # type: ignore[no-untyped-def]
    """One signed webhook call, as Meta makes it: the seconds until the bot answered 200."""
    body = payload(user, step)
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    t0 = time.perf_counter()
    answer = await client.post("/webhook", content=body, headers={
        "X-Hub-Signature-256": signature, "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.status_code
    return time.perf_counter() - t0


async def load(port: int, graph_port: int, expected_sends: int | None) -> tuple[float, list[float], int]:
    import httpx

    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for user in range(USERS):
        queue.put_nowait(user)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                 limits=httpx.Limits(max_connections=IN_FLIGHT)) as client, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{graph_port}") as graph:
        before = (await graph.get("/count")).json()["n"]

        async def worker() -> None:
            while not queue.empty():
                user = queue.get_nowait()
                for step in range(len(STEPS)):
                    latencies.append(await call(client, user, step))
                    await asyncio.sleep(0.002)  # a family reads the answer before the next tap

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        sends = 0
        while True:  # until the last answer has reached the Graph API
            sends = (await graph.get("/count")).json()["n"] - before
            if expected_sends is None or sends >= expected_sends or time.perf_counter() - start > 120:
                break
            await asyncio.sleep(0.005)
        return time.perf_counter() - start, latencies, sends


def expected_orienta_sends() -> int:
    """How many messages the dialog sends for one user's steps (the same for every user)."""
    sys.path.insert(0, str(ROOT))
    from datetime import date

    from bot.channels.whatsapp import render
    from bot.config import Config
    from bot.dialogs.model import Command, Press
    from bot.dialogs.orientation import step
    from bot.resources import load_resources

    res = load_resources(Config.from_env({}))
    session, total = None, 0
    for n, text in enumerate(STEPS):
        event = Command("start") if n == 0 else Press(text)
        session, replies, _ = step(session, event, res, date.today())
        total += len(render(replies, res.catalogs.get(replies[-1].lang)))
    return total * USERS


def run(kind: str, graph_port: int, tmp: Path) -> tuple[float, list[float], int]:
    port = free_port()
    graph_url = f"http://127.0.0.1:{graph_port}"
    if kind == "floor":
        cmd = [sys.executable, __file__, "floor", str(port), graph_url]
        env = dict(os.environ)
    else:
        cmd = [sys.executable, "-m", "bot", "whatsapp"]
        env = {**os.environ, "BOT_DB": str(tmp / f"wa{port}.sqlite3"), "WHATSAPP_PHONE_ID": "1234567890",
               "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": SECRET,
               "WHATSAPP_API_URL": graph_url, "HOST": "127.0.0.1", "PORT": str(port)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        expected = None if kind == "floor" else expected_orienta_sends()
        return asyncio.run(load(port, graph_port, expected if kind != "floor" else USERS * len(STEPS)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    if len(sys.argv) > 2:
        serve(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
        return
    graph_port = free_port()
    graph = subprocess.Popen([sys.executable, __file__, "graph", str(graph_port)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(graph_port)
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for kind in ("floor", "orienta", "floor", "orienta"):  # interleaved: the machine's noise hits both
                results.setdefault(kind, []).append(run(kind, graph_port, Path(tmp)))
    finally:
        graph.terminate()
        graph.wait(timeout=30)
    calls = USERS * len(STEPS)
    rates = {}
    for kind, runs in results.items():
        elapsed, latencies, sends = min(runs, key=lambda r: r[0])
        latencies.sort()
        rates[kind] = calls / elapsed
        print(f"{kind:8}: {calls / elapsed:,.0f} calls/s until the last answer was sent ({sends:,} sends), "
              f"webhook p50 {statistics.median(latencies) * 1000:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms (best of {len(runs)})")
    print(f"ratio: Orienta's time per call / the floor's = {rates['floor'] / rates['orienta']:.2f} "
          f"[aim <= 1.5]")


if __name__ == "__main__":
    main()
