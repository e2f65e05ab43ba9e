"""The knowledge base: the cooperative's services, needs, age groups, places and sources.

`model` holds the dataclasses, `load` reads and checks the YAML (errors stop the bot),
`truth` checks each contact and hour against its sources' quotes and dates it, and `check`
lists what an operator should look at (warnings).
"""

from bot.knowledge.check import active_needs, operator_warnings
from bot.knowledge.load import load, load_gazetteer
from bot.knowledge.model import (
    AgeGroup,
    Ambito,
    Audience,
    Comune,
    Contact,
    Hours,
    HoursBlock,
    KnowledgeBase,
    KnowledgeError,
    Mediator,
    Need,
    Operators,
    Problem,
    SafetyTopic,
    Service,
    Slot,
    Source,
    is_stale,
)

__all__ = [
    "AgeGroup", "Ambito", "Audience", "Comune", "Contact", "Hours", "HoursBlock", "KnowledgeBase", "KnowledgeError",
    "Mediator", "Need", "Operators", "Problem", "SafetyTopic", "Service", "Slot", "Source", "active_needs", "is_stale",
    "load", "load_gazetteer", "operator_warnings",
]
