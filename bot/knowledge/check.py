"""What an operator should look at although the bot can run: ended, old, unreachable, doubtful.

Errors stop the bot (`load` raises them); these warnings do not, but `kb check` lists them
so that someone calls the desk, reads the page again and updates `as_of` and `verified`.
"""

from __future__ import annotations

from datetime import date

from bot.knowledge.model import STALE_MONTHS, KnowledgeBase, Problem, Service, is_stale


def _service_warnings(s: Service, today: date) -> list[Problem]:
    out: list[Problem] = []

    def warn(field_name: str, message: str) -> None:
        out.append(Problem("warning", s.file, s.id, field_name, message))

    for j, source in enumerate(s.sources):
        if source.as_of is None:
            warn(f"sources[{j + 1}].as_of", f"'{source.title}' states no date: its facts count as old")
        elif is_stale(source.as_of, today):
            warn(f"sources[{j + 1}].as_of",
                 f"'{source.title}' is from {source.as_of:%Y-%m}, over {STALE_MONTHS} months ago: "
                 "read the page again (or find a newer one) and update as_of")
    if s.valid_until and today > s.valid_until:
        warn("valid_until", f"ended on {s.valid_until.isoformat()}: it is no longer offered")
        return out  # its hours and contacts reach no family any more
    if s.may_have_ended():
        warn("status", "may have ended (status: to-confirm): the card says so; ask the service")
    if s.hours.status == "not-published" and not s.fallback:
        warn("hours", "no opening hours published")
    elif s.hours.status == "to-confirm":
        warn("hours", "hours are marked to be confirmed: the card says to call first")
    elif s.hours.status == "published" and not s.hours_confirmed(today):
        warn("hours", f"hours are marked published, but their source is over {STALE_MONTHS} months old: "
                      "the card treats them as to be confirmed")
    if s.hours.blocks and s.hours.comune is None:
        warn("hours.comune", "the desk's comune is not named: its patron saint's day cannot count")
    reachable = any(c.kind in ("phone", "email", "address") for c in s.contacts)
    if s.ages and not s.fallback and not reachable:  # a service (national lines have no ages)
        warn("contacts", "no phone, e-mail or address: families are sent to the fallback")
    if (today - s.verified).days > 365:
        warn("verified", f"last verified {s.verified.isoformat()}, over 12 months ago")
    return out


def operator_warnings(kb: KnowledgeBase, today: date) -> list[Problem]:
    """Every warning of every service and national line, in file order."""
    out: list[Problem] = []
    for s in (*kb.services.values(), *(kb.lines or {}).values()):
        out += _service_warnings(s, today)
    active = active_needs(kb, today)
    for need in kb.needs.values():
        if need.id not in active:
            out.append(Problem("warning", "needs.yaml", need.id, "",
                               "no active service answers this need: it is not offered as a button"))
    if not kb.operators.hours.blocks:
        out.append(Problem("warning", "operators.yaml", "", "hours",
                           "not written: where the bot has an operators' group (OPERATORS_CHAT_ID), a family who "
                           "asks for a person is not told when someone will read it"))
    return out


def active_needs(kb: KnowledgeBase, today: date) -> frozenset[str]:
    """Needs that at least one service active today answers, somewhere."""
    return frozenset(n for s in kb.services.values() if not s.fallback and s.is_active(today) for n in s.needs)
