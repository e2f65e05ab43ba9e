"""Which texts of the knowledge base a user reads: one list, for Babel and for `kb check`.

`pybabel extract -F babel.cfg` calls `extract_knowledge` on every YAML file of `knowledge/`
and collects the texts listed in TRANSLATABLE (need and age labels, service summaries, notes,
contact notes, hours labels and notes, the safety net's texts, the audiences' welcomes) with
their line numbers; `knowledge_texts` walks the same paths so `kb check` can tell which of
them a catalog has not translated. Names of services, places and organisations stay in
Italian, as families will need them at the desk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
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
    ("lines", "*", "summary"),
    ("lines", "*", "notes", "*"),
    ("lines", "*", "contacts", "*", "note"),
    ("lines", "*", "hours", "note"),
    ("lines", "*", "hours", "blocks", "*", "label"),
    # audiences.yaml: each entry point's welcome, command-menu line and heading.
    ("audiences", "*", "welcome"),
    ("audiences", "*", "menu"),
    ("audiences", "*", "also"),
)


def _id_of(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "id" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


def _walk(node: yaml.Node, path: tuple[str, ...], entry: str
          ) -> Iterator[tuple[tuple[str, ...], yaml.ScalarNode, str]]:
    if isinstance(node, yaml.ScalarNode):
        yield path, node, entry
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, (*path, "*"), _id_of(item) or entry)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, str(key.value)), entry)


def _texts(source: str, entry: str) -> Iterator[tuple[int, str, str]]:
    """(line, text, field) of every translatable scalar of one YAML document."""
    root = yaml.compose(source)
    if root is None:
        return
    for path, node, item in _walk(root, (), _id_of(root) or entry):
        if path in TRANSLATABLE and node.value:
            field = ".".join(p for p in path if p != "*")
            yield node.start_mark.line + 1, " ".join(str(node.value).split()), f"{item}\0{field}"


def extract_knowledge(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str, str, list[str]]]:
    for line, text, _ in _texts(fileobj.read().decode("utf-8"), ""):
        yield line, "", text, []


def knowledge_texts(root: Path) -> list[tuple[str, str, str, str]]:
    """Every text of the knowledge base a user reads: (text, file, entry, field)."""
    out: list[tuple[str, str, str, str]] = []
    for path in sorted(root.rglob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        for _, text, where in _texts(path.read_text(encoding="utf-8"), path.stem):
            entry, field = where.split("\0")
            out.append((text, rel, entry, field))
    return out
