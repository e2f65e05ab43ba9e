"""Benchmark: memory stays bounded however many different messages families send.

Run: `python benchmarks/bench_memory.py`. It measures the process's resident memory after
loading the resources and a warm-up, then after DIFFERENT distinct long messages (random
words, 300-1,000 characters, each one new) through the pure dialog, in every state, and
prints the growth next to the target (issue 10: within 30 MB of the RSS at start). The
reference measured in the same run is the growth when the same number of messages repeat
one text: what the caches keep beyond it is what distinct messages cost.
"""

from __future__ import annotations

import random
import resource
import string
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import Config  # noqa: E402
from bot.dialogs.model import Command, Text  # noqa: E402
from bot.dialogs.orientation import step  # noqa: E402
from bot.resources import load_resources  # noqa: E402

TODAY = date(2026, 12, 1)
MESSAGES = 100_000
TARGET_MB = 30


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def words(rng: random.Random, letters: str) -> str:
    length = rng.randint(300, 1000)
    out, size = [], 0
    while size < length:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(2, 12)))
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def run(res, texts) -> None:
    sessions = [step(None, Command("start"), res, TODAY)[0]]
    sessions.append(step(sessions[0], Text("Monza"), res, TODAY)[0])
    sessions.append(step(sessions[1], Text("40"), res, TODAY)[0])
    for i, text in enumerate(texts):
        step(sessions[i % len(sessions)], Text(text), res, TODAY)


def main() -> None:
    res = load_resources(Config.from_env({}))
    rng = random.Random(7)
    letters = string.ascii_lowercase + "àèéìòùабвгдежзийклмнопрстуфхцчшщ"
    run(res, (words(rng, letters) for _ in range(2_000)))  # warm-up: caches of names and questions
    start = rss_mb()
    run(res, (words(rng, letters) for _ in range(MESSAGES)))
    distinct = rss_mb() - start
    same = words(rng, letters)
    before = rss_mb()
    run(res, (same for _ in range(MESSAGES // 10)))
    repeated = rss_mb() - before
    print(f"RSS at start {start:.1f} MB; after {MESSAGES:,} distinct long messages +{distinct:.1f} MB "
          f"[target <= {TARGET_MB} MB]")
    print(f"  reference: {MESSAGES // 10:,} repeats of one message +{repeated:.1f} MB")


if __name__ == "__main__":
    main()
