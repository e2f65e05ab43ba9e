"""A Babel extractor for the knowledge base, so translators work in `.po` files only.

`pybabel extract -F babel.cfg` calls `extract_knowledge` on every YAML file of `knowledge/`
and collects the texts a user reads (need and age labels, service summaries, notes, contact
notes, hours labels and notes) with their line numbers; names of services, places and
organisations stay in Italian, as families will need them at the desk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

# Paths of translatable scalars: keys from the document's root, '*' for any list item.
TRANSLATABLE = (
    ("needs", "*", "label"),
    ("groups", "*", "label"),
    ("summary",),
    ("notes", "*"),
    ("contacts", "*", "note"),
    ("hours", "note"),
    ("hours", "blocks", "*", "label"),
    # safety.yaml: the topics' texts and the national lines (written like services).
    ("topics", "*", "text"),
    # audiences.yaml: each entry point's welcome, command-menu line and heading.
    ("audiences", "*", "welcome"),
    ("audiences", "*", "menu"),
    ("audiences", "*", "also"),
    ("lines", "*", "summary"),
    ("lines", "*", "notes", "*"),
    ("lines", "*", "contacts", "*", "note"),
    ("lines", "*", "hours", "note"),
    ("lines", "*", "hours", "blocks", "*", "label"),
)


def _walk(node: yaml.Node, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], yaml.ScalarNode]]:
    if isinstance(node, yaml.ScalarNode):
        yield path, node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, (*path, "*"))
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, str(key.value)))


def extract_knowledge(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if root is None:
        return
    for path, node in _walk(root, ()):
        if path in TRANSLATABLE and node.value:
            yield node.start_mark.line + 1, "", " ".join(str(node.value).split()), []
