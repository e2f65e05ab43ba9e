"""Benchmark: WhatsApp updates per second with 1, 2 and 4 bot processes on one PostgreSQL
database, against one process on SQLite, in the same run.

Run: `python benchmarks/bench_replicas.py` (needs Debian's `postgresql` installed: a
throw-away cluster is started as in the tests, tests/pg_cluster.py). Every process is a real
`python -m bot whatsapp` on 127.0.0.1; the load generator spreads each family's messages over
the processes as a round-robin load balancer would (family f's message s goes to process
(f + s) % N), 300 families of 4 messages, 8 calls in flight per process. A figure is the
rate of webhook calls from the first call until the last answer reached the fake Graph API
(bench_whatsapp's), best of two runs; the ratio is against SQLite with one process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_whatsapp import SECRET, STEPS, USERS, call, expected_orienta_sends, free_port, wait_port  # noqa: E402

from tests.pg_cluster import Cluster  # noqa: E402

IN_FLIGHT = 8  # per process
BOT_SECRET = "bench-" + "0" * 40


async def load(ports: list[int], graph_port: int, expected: int) -> float:
    import httpx

    queue: asyncio.Queue[int] = asyncio.Queue()
    for user in range(USERS):
        queue.put_nowait(user)
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=60) for p in ports]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{graph_port}") as graph:
        before = (await graph.get("/count")).json()["n"]

        async def worker() -> None:
            while not queue.empty():
                user = queue.get_nowait()
                for step in range(len(STEPS)):
                    await call(clients[(user + step) % len(ports)], user, step)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT * len(ports))))
        while (await graph.get("/count")).json()["n"] - before < expected:
            if time.perf_counter() - start > 300:
                raise RuntimeError("answers missing after 300 s")
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - start
    for client in clients:
        await client.aclose()
    return USERS * len(STEPS) / elapsed


def run(db: str, replicas: int, graph_port: int, expected: int) -> float:
    graph_url = f"http://127.0.0.1:{graph_port}"
    ports = [free_port() for _ in range(replicas)]
    env = {**os.environ, "BOT_DB": db, "BOT_SECRET": BOT_SECRET, "WHATSAPP_PHONE_ID": "1234567890",
           "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_API_URL": graph_url, "HOST": "127.0.0.1"}
    procs = [subprocess.Popen([sys.executable, "-m", "bot", "whatsapp", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
    try:
        for port in ports:
            wait_port(port, 60)
        return asyncio.run(load(ports, graph_port, expected))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def main() -> None:
    import tempfile

    cluster, why = Cluster.start()
    if cluster is None:
        print(f"no PostgreSQL: {why}")
        sys.exit(1)
    graph_port = free_port()
    graph = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "bench_whatsapp.py"), "graph", str(graph_port)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    expected = expected_orienta_sends()
    setups = [("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 2), ("PostgreSQL", 4)]
    rates: dict[tuple[str, int], list[float]] = {}
    try:
        wait_port(graph_port)
        with tempfile.TemporaryDirectory() as tmp:
            for attempt in range(2):  # interleaved: the machine's noise hits every setup alike
                for engine, replicas in setups:
                    db = cluster.database() if engine == "PostgreSQL" else str(Path(tmp) / f"b{attempt}.sqlite3")
                    rates.setdefault((engine, replicas), []).append(run(db, replicas, graph_port, expected))
    finally:
        graph.terminate()
        graph.wait(timeout=30)
        cluster.stop()
    reference = max(rates[("SQLite", 1)])
    print(f"{USERS * len(STEPS):,} webhook calls of {USERS} families, {os.cpu_count()} cores, best of 2:")
    for (engine, replicas), runs in rates.items():
        best = max(runs)
        print(f"  {engine:10} x{replicas}: {best:7,.0f} updates/s  ratio to SQLite x1 = {best / reference:.2f}")


if __name__ == "__main__":
    main()
