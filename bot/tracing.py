"""Where an error happened, for the log, without what it said.

An exception's message may carry a user's characters ("invalid literal for int(): '²'") or a
name; the log must never hold them. `where` gives the files and lines an exception went
through, newest first, and nothing else.
"""

from __future__ import annotations

import traceback
from pathlib import Path


def where(exc: BaseException, depth: int = 4) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-depth:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)) or "?"
