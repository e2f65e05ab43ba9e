"""The anonymous counts the report is made of, as the store gives them back.

A row is a count for one combination of day and what was asked; nothing in it says who.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields

# Every request and every start gets a random record key below KEY_MODULUS; a count's cell
# key is the sum of its records' keys, modulo KEY_MODULUS (a multiple of bot.report.cells'
# noise span, so the noise is even). A cell of the report sums rows, and their keys.
KEY_MODULUS = 250


def record_key() -> int:
    return secrets.randbelow(KEY_MODULUS)


@dataclass(frozen=True)
class RequestCount:
    """Requests of one day for one combination of what was asked (one per age group named)."""

    day: str  # ISO date
    channel: str
    lang: str
    comune: str  # ISTAT code; '' when not said (a person asked for before the comune)
    municipio: int  # Milan's Municipio, 0 when none or not known
    age: str  # age group id
    need: str
    services: str  # ids of the services that answer it, space-separated; '' is an unmet request
    link: str  # the operators' link the conversation began from ('' none)
    shown: int  # results shown
    persons: int  # a person of the cooperative asked for
    shown_key: int  # cell keys: see KEY_MODULUS
    persons_key: int


@dataclass(frozen=True)
class StartCount:
    """Conversations begun on one day, by channel, language and link."""

    day: str
    channel: str
    lang: str
    link: str
    starts: int
    starts_key: int


def columns(kind: type[RequestCount] | type[StartCount]) -> str:
    """The SELECT list that reads a count of this kind back, in its fields' order."""
    return ", ".join(f.name for f in fields(kind))


@dataclass(frozen=True)
class Counts:
    requests: list[RequestCount]
    starts: list[StartCount]
