"""The one safe, line-aware YAML reader (constraint sets, site alias files, protocol maps).

Files are read as UTF-8 of at most :data:`MAX_BYTES`, composed into ruamel's node
tree (no Python objects are built), and checked by :meth:`Reader.check_tree`: no
anchors or aliases, no merge keys and no tag other than the plain YAML types. Every
error is a :class:`~dosecheck.errors.ConstraintFileError` naming the file and the line.
ruamel is imported on first use only.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from dosecheck.errors import ConstraintFileError

if TYPE_CHECKING:
    from ruamel.yaml.nodes import Node

__all__ = ["MAX_BYTES", "Reader", "compose", "line", "read_yaml_file", "too_big"]

#: Largest YAML file accepted (1 MB).
MAX_BYTES: Final = 1_000_000

Y: Final = "tag:yaml.org,2002:"
_SCALAR_TAGS: Final = {f"{Y}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


def read_yaml_file(p: Path, what: str, plural: str) -> tuple[str, str]:
    """``(text, sha256)`` of a YAML file of at most :data:`MAX_BYTES`, as UTF-8.

    ``what`` (``"constraint-set file"``) and ``plural`` (``"constraint sets"``) name
    the kind of file in messages.

    Raises
    ------
    ConstraintFileError
        Missing, a directory, too large, unreadable or not UTF-8.
    """
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ConstraintFileError(f"is a directory, not a {what}", path=p)
        if size > MAX_BYTES:
            too_big(size, p, plural)
        with p.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConstraintFileError(f"no such {what}", path=p) from None
    except OSError as e:
        raise ConstraintFileError(f"cannot read: {e.strerror or e}", path=p) from None
    if len(data) > MAX_BYTES:
        too_big(len(data), p, plural)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConstraintFileError(
            f"not UTF-8 text (byte {e.start}); save the file as UTF-8", path=p, line=line
        ) from None
    return text, hashlib.sha256(data).hexdigest()


def too_big(size: int, path: str | Path, plural: str) -> NoReturn:
    """Refuse a file of ``size`` bytes, over :data:`MAX_BYTES`."""
    raise ConstraintFileError(
        f"file is {size} bytes; {plural} larger than 1 MB ({MAX_BYTES} bytes) are refused",
        path=path,
    )


def compose(
    text: str, path: str, hint: Callable[[str], str] | None = None
) -> tuple[Any, Node | None]:
    """``(yaml, root node)``; the ``YAML`` object converts scalars later.

    ``hint(line_text)`` may add advice to a syntax error at that line (``""`` for none).

    Raises
    ------
    ConstraintFileError
        Invalid YAML, with the line where ruamel gives one.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml, yaml.compose(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "syntax error"
        if mark is not None and hint is not None:
            problem += hint(_line_of(text, mark.line))
        raise ConstraintFileError(
            f"invalid YAML: {problem}",
            path=path,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except ReaderError as e:  # a character YAML does not allow (control codes, NUL)
        position = getattr(e, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        ch = chr(e.character) if isinstance(e.character, int) else e.character
        raise ConstraintFileError(
            f"invalid YAML: character {ch!r} is not allowed ({e.reason}); "
            "remove it or save the file as plain UTF-8 text",
            path=path,
            line=line,
        ) from None
    except YAMLError as e:
        message = " ".join(str(e).split())  # one line
        raise ConstraintFileError(f"invalid YAML: {message}", path=path) from None
    except RecursionError:
        raise ConstraintFileError("invalid YAML: nested too deeply", path=path) from None


def _line_of(text: str, index: int) -> str:
    lines = text.splitlines()
    return lines[index] if 0 <= index < len(lines) else ""


def line(node: Node) -> int:
    """1-based line of a node (an empty value ends on its key's line, where it starts)."""
    return min(node.start_mark.line, node.end_mark.line) + 1


def tag(node: Node) -> str:
    """The node's full tag, ``tag:yaml.org,2002:str``."""
    t = node.tag
    return str(getattr(t, "value", t))


def kind(node: Node) -> str:
    """``ScalarNode``, ``SequenceNode`` or ``MappingNode``."""
    return type(node).__name__


@dataclass
class Reader:
    """Walks the node tree of one file, raising ConstraintFileError with lines.

    ``plural`` names the kind of file in the messages of :meth:`check_tree`.
    """

    path: str
    yaml: Any = None
    plural: str = "constraint sets"

    def fail(self, message: str, node: Node | int | None) -> NoReturn:
        """Raise ConstraintFileError at the node's line (or a line number)."""
        where = node if node is None or isinstance(node, int) else line(node)
        raise ConstraintFileError(message, path=self.path, line=where)

    # --- safety -------------------------------------------------------------------
    def check_tree(self, root: Node) -> None:
        """Refuse anchors, aliases and any tag that is not a plain YAML type."""
        stack = [root]
        while stack:
            node = stack.pop()
            if getattr(node, "anchor", None):
                self.fail(
                    f"YAML anchors and aliases (&{node.anchor}, *{node.anchor}) are not "
                    f"allowed in {self.plural}; write each value out",
                    node,
                )
            t, k = tag(node), kind(node)
            allowed = {
                "MappingNode": {f"{Y}map"},
                "SequenceNode": {f"{Y}seq"},
            }.get(k, _SCALAR_TAGS)
            if t not in allowed:
                shown = "!!" + t[len(Y) :] if t.startswith(Y) else t
                if t == f"{Y}merge":
                    what = "merge keys (<<) are"
                else:
                    what = f"the YAML tag {shown!r} is"
                self.fail(
                    f"{what} not allowed: {self.plural} hold only text, numbers, lists "
                    "and mappings",
                    node,
                )
            if k == "MappingNode":
                for key, v in reversed(node.value):  # reversed: visit in file order
                    if kind(v) == "ScalarNode" and v.value == "" and tag(v) == f"{Y}null":
                        v.start_mark = key.start_mark  # an empty value belongs to its key's line
                    stack.extend((v, key))
            elif k == "SequenceNode":
                stack.extend(reversed(node.value))

    # --- typed access ---------------------------------------------------------------
    def describe(self, node: Node) -> str:
        """``"a mapping"``, ``"the text 'x'"``, ... for messages."""
        k = kind(node)
        if k == "MappingNode":
            return "a mapping"
        if k == "SequenceNode":
            return "a list"
        t = tag(node)
        if t == f"{Y}null":
            return "nothing"
        if t == f"{Y}str":
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            return f"the text {shown!r}"
        if t == f"{Y}bool":
            return f"the boolean {node.value}"
        return f"{node.value!r}"

    def mapping(
        self,
        node: Node,
        what: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
        more: tuple[str, ...] = (),
    ) -> dict[str, tuple[Node, Node]]:
        """The ``key -> (key node, value node)`` of a mapping with known keys.

        ``more`` are further accepted keys, suggested for misspellings but not listed
        among the expected keys of the message.
        """
        if kind(node) != "MappingNode":
            self.fail(f"{what} must be a mapping (key: value), not {self.describe(node)}", node)
        out: dict[str, tuple[Node, Node]] = {}
        for k, v in node.value:
            if kind(k) != "ScalarNode" or tag(k) != f"{Y}str":
                self.fail(f"keys of {what} must be text, not {self.describe(k)}", k)
            key = k.value
            if key in out:
                self.fail(
                    f"duplicate key {key!r} in {what} (first at line {line(out[key][0])})",
                    k,
                )
            if key not in allowed and key not in more:
                close = difflib.get_close_matches(key, allowed + more, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.fail(
                    f"unknown key {key!r} in {what}{hint}; expected keys: {', '.join(allowed)}",
                    k,
                )
            out[key] = (k, v)
        missing = [r for r in required if r not in out]
        if missing:
            self.fail(f"{what} is missing the key {missing[0]!r}", node)
        return out

    def scalar(self, node: Node) -> Any:
        """The Python value of a scalar node whose tag :meth:`check_tree` allowed."""
        return self.yaml.constructor.construct_object(node, deep=True)

    def text(self, node: Node, what: str, *, allow_empty: bool = False) -> str:
        """A text value; numbers and dates are taken as written (``version: 1.0``)."""
        if kind(node) != "ScalarNode" or tag(node) in (f"{Y}null", f"{Y}bool"):
            self.fail(f"{what} must be text, not {self.describe(node)}", node)
        value = str(node.value)
        if not allow_empty and not value.strip():
            self.fail(f"{what} must not be empty", node)
        return value

    def number(self, node: Node, what: str, *, integer: bool = False) -> float:
        """A positive, finite number (a whole one with ``integer``)."""
        t = tag(node)
        ok = {f"{Y}int"} if integer else {f"{Y}int", f"{Y}float"}
        if kind(node) != "ScalarNode" or t not in ok:
            expected = "a whole number" if integer else "a number"
            self.fail(f"{what} must be {expected}, not {self.describe(node)}", node)
        value = self.scalar(node)
        if not math.isfinite(value) or value <= 0:
            self.fail(f"{what} must be a positive number, not {node.value}", node)
        return value

    def sequence(self, node: Node, what: str, example: str) -> list[Node]:
        """The items of a list node."""
        if kind(node) != "SequenceNode":
            self.fail(f"{what} must be a list, e.g. {example}; not {self.describe(node)}", node)
        return list(node.value)
