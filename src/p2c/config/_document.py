"""p2c.yaml as a person wrote it: read and written back with ruamel.yaml's round trip, so an
edit changes the lines it edits and keeps every comment, quote and the file's indentation.

ruamel.yaml keeps a comment with the entry it follows; deleting that entry would delete the
comments on the lines below it too (`delete` moves them to the entry before), and a
container that an edit empties is removed with its comments handed on the same way.
"""

from __future__ import annotations

__all__ = [
    "YamlDocument",
    "delete_entry",
    "digest_of",
    "flow",
    "keep_above",
    "new_map",
    "replace_value",
    "write_atomically",
]

import hashlib
import io
import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from p2c._errors import ConfigError


def digest_of(text: str) -> str:
    """The SHA-256 of a text, to tell whether a file changed since it was read."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _indentation(text: str) -> tuple[int, int, int]:
    """How the text indents (mapping, sequence, the dash's offset), from the first block
    mapping and the first block sequence under a key; p2c init's defaults where there is
    none. (ruamel.yaml's own guess takes a list's indentation for the mappings'.)"""
    mapping = sequence = offset = None
    lines = [line for line in text.splitlines() if line.strip() and line.lstrip()[0] != "#"]
    for above, below in itertools.pairwise(lines):
        column = len(above) - len(above.lstrip())
        deeper = len(below) - len(below.lstrip())
        content = below.lstrip()
        if not above.rstrip().endswith(":") or (deeper <= column and content[0] != "-"):
            continue
        if content.startswith("- ") and offset is None:
            offset = deeper - column
            sequence = offset + 1 + len(content[1:]) - len(content[1:].lstrip())
        elif not content.startswith("-") and mapping is None:
            mapping = deeper - column
    return mapping or 2, sequence or (offset or 0) + 2, offset or 0


def _yaml(mapping: int, sequence: int, offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long filter onto two lines
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


class YamlDocument:
    """A YAML text loaded for a round trip: ``data`` is the tree to change (ruamel's
    `CommentedMap`), `dump` the text with the changes.

    Raises:
        ConfigError: the text is no YAML (ruamel's message, with the line).
    """

    def __init__(self, text: str, name: str = "p2c.yaml") -> None:
        self.text = text
        try:
            self._yaml = _yaml(*_indentation(text))
            self.data: Any = self._yaml.load(text)
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                f"{name}{where}: {problem}; it cannot be edited until it is YAML again.",
                fix="correct the YAML syntax",
            ) from None
        if self.data is None:
            self.data = CommentedMap()
        if not isinstance(self.data, CommentedMap):
            raise ConfigError(
                f"{name} is no mapping of keys to values.", fix="correct p2c.yaml (p2c init DIR)"
            )

    def dump(self) -> str:
        stream = io.StringIO()
        self._yaml.dump(self.data, stream)
        return stream.getvalue()


def new_map(*pairs: tuple[str, Any], flow_style: bool = False) -> CommentedMap:
    """A mapping for the document, in block style unless ``flow_style``."""
    mapping = CommentedMap(pairs)
    if flow_style:
        mapping.fa.set_flow_style()
    else:
        mapping.fa.set_block_style()
    return mapping


def flow(value: Any) -> Any:
    """``value`` as the document writes it: mappings and lists in flow style (on one line)
    when they are short, nested ones with them; block style when long. Text that YAML 1.1
    (which p2c.yaml is read as) would take for something else is quoted: ``"Yes"``, ``"1"``."""
    if isinstance(value, dict):
        mapping = CommentedMap((_text(k), flow(v)) for k, v in value.items())
        _style(mapping, value)
        return mapping
    if isinstance(value, list):
        sequence = CommentedSeq(flow(v) for v in value)
        _style(sequence, value)
        return sequence
    return _text(value)


def _text(value: Any) -> Any:
    if not isinstance(value, str) or isinstance(value, DoubleQuotedScalarString):
        return value
    try:
        read = yaml.safe_load(value)
    except yaml.YAMLError:
        read = None
    return value if read == value and isinstance(read, str) else DoubleQuotedScalarString(value)


_FLOW_WIDTH = 80


def _flow_length(value: Any) -> int:
    """About how long ``value`` is on one line in flow style."""
    if isinstance(value, dict):
        pairs = [_flow_length(k) + 2 + _flow_length(v) for k, v in value.items()]
        return sum(pairs) + 2 * len(pairs) + 2
    if isinstance(value, list):
        return sum(_flow_length(v) + 2 for v in value) + 2
    return len(str(value)) + 2


def _style(container: CommentedMap | CommentedSeq, value: Any) -> None:
    if _flow_length(value) <= _FLOW_WIDTH:
        container.fa.set_flow_style()
    else:
        container.fa.set_block_style()


def _texts(tokens: Any, seen: set[int]) -> list[str]:
    """The comments in ruamel's comment slots (tokens, lists of them, None), one per line;
    a token in ``seen`` is skipped (ruamel puts the comment after a flow collection both on
    the collection and on its entry), and each one read is added to it."""
    if isinstance(tokens, CommentToken):
        if id(tokens) in seen:
            return []
        seen.add(id(tokens))
        return _texts_of(str(tokens.value))
    if isinstance(tokens, list):
        return [text for token in tokens for text in _texts(token, seen)]
    return []


def _within(value: Any, seen: set[int]) -> list[str]:
    """Every comment inside a collection, in the order it is written."""
    if not isinstance(value, CommentedMap | CommentedSeq):
        return []
    found = _texts(value.ca.comment, seen)
    keys = list(value) if isinstance(value, CommentedMap) else range(len(value))
    for key in keys:
        found += _texts(value.ca.items.get(key), seen) + _within(value[key], seen)
    return found


def _entry_comments(container: CommentedMap | CommentedSeq, key: Any) -> list[str]:
    """The comments an entry's deletion would take with it: above it, at the end of its
    line, inside its value, and on the lines below it up to the next entry."""
    entry = container.ca.items.get(key) or [None, None, None, None]
    is_map = isinstance(container, CommentedMap)
    token = entry[2] if is_map else entry[0]
    seen = {id(token)}
    value = str(token.value) if isinstance(token, CommentToken) else ""
    own, _, below = value.partition("\n") if not value.startswith("\n") else ("", "", value)
    above = _texts(entry[1], seen) if is_map else []
    return [*above, *_texts_of(own), *_within(container[key], seen), *_texts_of(below)]


def _texts_of(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip().startswith("#")]


def _column(container: CommentedMap | CommentedSeq, key: Any) -> int:
    """The column an entry's key (or a list item's dash) was read at; 0 for a new one."""
    try:
        position = container.lc.key(key) if isinstance(container, CommentedMap) else None
        position = position or container.lc.item(key)
        return int(position[1])
    except (KeyError, TypeError, AttributeError, IndexError):
        return 0


def _holder(container: CommentedMap | CommentedSeq, key: Any) -> tuple[Any, Any]:
    """Where ruamel keeps the comments after entry ``key``: the entry itself, or the last
    entry of the block collection that is its value (recursively)."""
    value = container[key]
    while isinstance(value, CommentedMap | CommentedSeq) and value and not value.fa.flow_style():
        last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        container, key = value, last
        value = container[key]
    return container, key


def _lines(texts: list[str], column: int) -> str:
    return "".join(" " * column + text + "\n" for text in texts)


def _hand_on(container: CommentedMap | CommentedSeq, key: Any, texts: list[str]) -> bool:
    """Put whole-line comments after the entry before ``key``; False when there is none."""
    keys = list(container) if isinstance(container, CommentedMap) else list(range(len(container)))
    position = keys.index(key)
    if position == 0:
        return False
    column = _column(container, key)
    owner, at = _holder(container, keys[position - 1])
    entry = owner.ca.items.setdefault(at, [None, None, None, None])
    slot = 2 if isinstance(owner, CommentedMap) else 0
    token = entry[slot]
    if isinstance(token, CommentToken):
        ending = "" if str(token.value).endswith("\n") else "\n"
        token.value = str(token.value) + ending + _lines(texts, column)
    else:
        entry[slot] = CommentToken("\n" + _lines(texts, column), CommentMark(column), None)
    return True


def keep_above(container: CommentedMap, key: Any, texts: list[str], column: int) -> None:
    """Put whole-line comments above entry ``key`` (after those already there)."""
    if not texts:
        return
    entry = container.ca.items.setdefault(key, [None, [], None, None])
    if entry[1] is None:
        entry[1] = []
    entry[1].extend(CommentToken(text + "\n", CommentMark(column), None) for text in texts)


def _before_next(container: CommentedMap | CommentedSeq, key: Any, texts: list[str]) -> bool:
    """Put whole-line comments above the entry after ``key``; False when there is none."""
    if not isinstance(container, CommentedMap):
        return False
    keys = list(container)
    position = keys.index(key)
    if position + 1 >= len(keys):
        return False
    entry = container.ca.items.setdefault(keys[position + 1], [None, [], None, None])
    column = _column(container, key)
    tokens = [CommentToken(text + "\n", CommentMark(column), None) for text in texts]
    entry[1] = tokens + list(entry[1] or [])
    return True


def replace_value(container: CommentedMap, key: Any, value: Any) -> None:
    """Set an entry's value; the comments inside the old value are kept above the entry."""
    old = container.get(key)
    entry = container.ca.items.get(key) or [None, None, None, None]
    seen = {id(entry[2])}  # the entry's own comments stay where they are
    container[key] = value
    keep_above(container, key, _within(old, seen), _column(container, key))


def delete_entry(
    container: CommentedMap | CommentedSeq, key: Any, carried: list[str] | None = None
) -> list[str]:
    """Delete an entry and keep its comments (and ``carried``, those of entries deleted
    inside it) as whole lines where it was: after the entry before it, else above the entry
    after it. Returns the comments it could not place: the entry was the only one, and the
    caller hands them on when it deletes the emptied container."""
    texts = [*(carried or []), *_entry_comments(container, key)]
    placed = not texts or _hand_on(container, key, texts) or _before_next(container, key, texts)
    if isinstance(container, CommentedMap):
        container.ca.items.pop(key, None)
    del container[key]
    if isinstance(container, CommentedSeq):
        # ruamel keys a list's comments by position: those after the deleted one move up.
        items = container.ca.items
        for index in sorted(i for i in items if isinstance(i, int) and i > key):
            items[index - 1] = items.pop(index)
    return [] if placed else texts


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and
    `os.replace`, so a reader sees the old file or the new one, never half of one; the
    file's mode is kept."""
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).chmod(mode)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
