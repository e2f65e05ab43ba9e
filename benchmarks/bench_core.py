"""Benchmark of the orientation core: dialog turns/s, comune resolution latency, chat start-up.

Run: `python benchmarks/bench_core.py`. It prints medians over several rounds and, for each
figure, a ratio against a reference measured in the same process, so a slow shared machine
shows as a slow reference too. Targets (issue 2): >= 20,000 dialog turns/s on one core,
comune resolution p99 <= 1 ms, console chat start-up <= 1 s; (issue 12) understanding a whole
message - town, ages, needs, safety words, language - p99 <= 1 ms, over the messages of
tests/data/understanding (pass another folder as the first argument to measure older code).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.dialogs.model import Command, Press, Text  # noqa: E402
from bot.dialogs.orientation import step  # noqa: E402
from bot.resources import load_resources  # noqa: E402
from bot.text import latin  # noqa: E402

TODAY = date(2026, 12, 1)
ROUNDS = 7

# One family's conversation: typed answers and button presses, as in the tests.
DIALOGS = [
    [Command("start"), Text("Bresso"), Press("a:6-14"), Press("n:school")],
    [Command("start"), Text("abito a Bresso, mio figlio ha 9 anni e non parla italiano a scuola")],
    [Command("start", "ua"), Text("Сесто Сан Джованні"), Text("35")],
    [Command("start"), Text("Cinisselo"), Text("40"), Text("documenti")],
    [Command("start"), Text("Milano"), Press("a:6-14"), Press("n:school"), Press("m:2")],
    [Command("start"), Text("Bergamo"), Text("Monza"), Press("a:31+"), Press("n:work")],
]

COMUNE_ANSWERS = [
    "Bresso", "Milano", "Monza", "Cinisselo", "Sesto S. Giovanni", "Padern Dugnano", "Монца", "Мілан",
    "ميلانو", "Bergamo", "Abbiategrasso", "Paderno", "Sesto", "Cologno Monzes", "sesto san giovani",
    "Сесто Сан Джованні", "Desio", "Bovisio Masciago", "Cusano Milano", "Xyzzyville",
]


def dialog_turns_per_second(res) -> float:
    turns, start = 0, time.perf_counter()
    for _ in range(300):
        for dialog in DIALOGS:
            session = None
            for event in dialog:
                session, _, _ = step(session, event, res, TODAY)
                turns += 1
    return turns / (time.perf_counter() - start)


def latencies(fn, queries: list[str], repeat: int = 50) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            out.append(time.perf_counter() - t0)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def startup_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", "chat", "--db", f"{tmp}/b.sqlite3"], input="",
                       capture_output=True, text=True, cwd=ROOT, check=True, env={**os.environ})
        return time.perf_counter() - t0


def python_startup_seconds() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def table_messages(folder: Path) -> list[str]:
    import yaml

    return [str(row["text"]) for path in sorted(folder.glob("*.yaml"))
            for row in yaml.safe_load(path.read_text(encoding="utf-8"))]


def understand(nlu, text: str) -> object:
    """Everything the dialog reads from one message (code before issue 12: find_age, one age)."""
    ages = getattr(nlu, "find_ages", None) or nlu.find_age
    return (nlu.find_comune(text), ages(text), nlu.find_needs(text), nlu.find_safety(text),
            nlu.detect_language(text))


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "understanding"
    messages = table_messages(folder)
    res = load_resources(Config.from_env({}))
    nlu = res.nlu
    names = [c.name for c in res.kb.comuni.values()]
    latin_names = [latin(n) for n in names]

    def reference(query: str) -> object:  # the plain approach: one fuzzy pass over all names
        return process.extractOne(latin(query), latin_names, scorer=fuzz.WRatio)

    turns = [dialog_turns_per_second(res) for _ in range(ROUNDS)]
    ours = [latencies(lambda q: nlu.find_comune(q, expecting=True), COMUNE_ANSWERS) for _ in range(ROUNDS)]
    refs = [latencies(reference, COMUNE_ANSWERS) for _ in range(ROUNDS)]
    reads = [latencies(lambda m: understand(nlu, m), messages, repeat=3) for _ in range(ROUNDS)]
    starts = [startup_seconds() for _ in range(5)]
    pythons = [python_startup_seconds() for _ in range(5)]

    p50 = statistics.median(pct(r, 0.50) for r in ours) * 1e3
    p99 = statistics.median(pct(r, 0.99) for r in ours) * 1e3
    ref_p50 = statistics.median(pct(r, 0.50) for r in refs) * 1e3
    ref_p99 = statistics.median(pct(r, 0.99) for r in refs) * 1e3
    print(f"dialog turns/s (median of {ROUNDS} rounds, one core): {statistics.median(turns):,.0f}  [target >= 20,000]")
    print(f"comune resolution over {len(names)} comuni: p50 {p50:.3f} ms, p99 {p99:.3f} ms  [target p99 <= 1 ms]")
    print(f"  reference (one rapidfuzz WRatio pass over all names): p50 {ref_p50:.3f} ms, p99 {ref_p99:.3f} ms;"
          f" ratio ours/reference p99 = {p99 / ref_p99:.2f}")
    u50 = statistics.median(pct(r, 0.50) for r in reads) * 1e3
    u99 = statistics.median(pct(r, 0.99) for r in reads) * 1e3
    print(f"understanding a message ({len(messages)} messages of the table, all readers): p50 {u50:.3f} ms,"
          f" p99 {u99:.3f} ms  [target p99 <= 1 ms]; ratio p99 / reference comune p99 = {u99 / ref_p99:.2f}")
    start_s, py_s = statistics.median(starts), statistics.median(pythons)
    print(f"console chat start-up to first question and exit (median of 5): {start_s:.2f} s  [target <= 1 s]")
    print(f"  reference (bare `python -c pass`): {py_s:.2f} s; ratio = {start_s / py_s:.1f}")


if __name__ == "__main__":
    main()
