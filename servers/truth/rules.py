"""Rule files: TOML read with ``tomllib``, every field checked and every condition parsed
when the file is loaded, so a bad file is refused before anything is checked with it.

A rule file::

    name = "staffing"                # optional (default: the file's stem)
    description = "..."              # optional
    key = "doc_id"                   # optional: the field that identifies a record
    [supersedes]                     # optional: a value that meets a requirement for others
    "OSHA-30" = ["OSHA-10"]          #   (transitively): "OSHA-10" in certifications holds
                                     #   for a record holding OSHA-30
    [[rules]]
    id = "forklift-certification"    # letters, digits, - _ . (unique in the file)
    description = "..."
    severity = "error"               # error | warning | info
    when = '"forklift operator" in roles'   # optional: the records the rule is about
    require = '"Forklift" in certifications'

A TOML error carries tomllib's line and column; a condition's syntax error names the
file, the rule and the line and column of the fault in the file (and its offset in the
condition, for conditions the position cannot be traced back for, e.g. inline tables).
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakehouse.api import errors
from lakehouse.api.errors import FieldViolation
from lakehouse.api.truth import (
    DUPLICATE_RULE_ID,
    INLINE,
    RULE_SYNTAX,
    RULES_INVALID,
    RULES_TOML_SYNTAX,
    RULES_TOO_LARGE,
    SEVERITIES,
)
from lakehouse.servers.settings import TruthSettings
from lakehouse.servers.truth.lexer import ConditionError
from lakehouse.servers.truth.parser import Node, parse

FILE_KEYS = ("name", "description", "key", "supersedes", "rules")
RULE_KEYS = ("id", "description", "severity", "when", "require")
CONDITIONS = ("when", "require")
RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_RULES_HEADER = re.compile(r"[ \t]*\[\[[ \t]*(?:rules|\"rules\"|'rules')[ \t]*\]\][ \t]*(?:#.*)?$")
_TABLE_HEADER = re.compile(r"[ \t]*\[")


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    severity: str
    when: Node | None  # None: every record
    require: Node
    when_text: str = ""
    require_text: str = ""


@dataclass(frozen=True)
class RuleSet:
    name: str
    rules: tuple[Rule, ...]
    description: str = ""
    key: str = ""
    # required value -> every value that meets it (itself and what supersedes it)
    satisfies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    source: str = ""  # the file, for messages
    origin: str = ""

    def meeting(self, value: Any) -> tuple[Any, ...]:
        """The values that meet a requirement for ``value`` (itself first)."""
        if not isinstance(value, str) or value not in self.satisfies:
            return (value,)
        return (value, *sorted(self.satisfies[value] - {value}))


def load_rules(
    text: str, settings: TruthSettings, *, source: str = INLINE, name: str = "", origin: str = ""
) -> RuleSet:
    """The rule set ``text`` defines; InvalidArgument naming ``source`` when it is not one."""
    if len(text.encode()) > settings.max_rules_bytes:
        raise errors.InvalidArgument(
            f"{source}: the rules are larger than {settings.max_rules_bytes} bytes",
            reason=RULES_TOO_LARGE,
            metadata={"file": source},
        )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_position(exc, text)
        raise errors.InvalidArgument(
            f"{source}: not valid TOML: {exc}",
            reason=RULES_TOML_SYNTAX,
            metadata={"file": source, "line": str(line), "column": str(column)},
            violations=[FieldViolation("rules", f"line {line}, column {column}: {_bare(str(exc))}")],
        ) from None
    return _Loader(text, doc, settings, source).rule_set(name, origin)


def _toml_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[int, int]:
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if line is not None and column is not None:
        return line, column
    m = _TOML_POSITION.search(str(exc))  # Python before 3.14 only says it in the message
    if m:
        return int(m.group(1)), int(m.group(2))
    # "(at end of document)": the position just past the last character
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _bare(message: str) -> str:
    return _TOML_POSITION.sub("", message).replace("(at end of document)", "").strip()


class _Loader:
    def __init__(self, text: str, doc: dict[str, Any], settings: TruthSettings, source: str) -> None:
        self._text = text
        self._doc = doc
        self._settings = settings
        self._source = source

    def _invalid(self, where: str, description: str, reason: str = RULES_INVALID, **metadata: str) -> None:
        raise errors.InvalidArgument(
            f"{self._source}: {where}: {description}",
            reason=reason,
            metadata={"file": self._source, **metadata},
            violations=[FieldViolation(where, description)],
        )

    def _string(self, table: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = table.get(key)
        if value is None:
            if required:
                self._invalid(f"{where}.{key}", "required")
            return ""
        if not isinstance(value, str):
            self._invalid(f"{where}.{key}", f"must be a string, not {type(value).__name__}")
        return value

    def _unknown(self, table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
        for key in table:
            if key not in known:
                self._invalid(f"{where}.{key}" if where else key, f"unknown field (known: {', '.join(known)})")

    def rule_set(self, name: str, origin: str) -> RuleSet:
        doc = self._doc
        self._unknown(doc, FILE_KEYS, "")
        rules = doc.get("rules")
        if not isinstance(rules, list) or not rules:
            self._invalid("rules", "required: at least one [[rules]] table")
        if len(rules) > self._settings.max_rules:
            self._invalid("rules", f"at most {self._settings.max_rules} rules", RULES_TOO_LARGE)
        loaded: list[Rule] = []
        seen: set[str] = set()
        for index, raw in enumerate(rules):
            rule = self._rule(index, raw)
            if rule.id in seen:
                self._invalid(f"rules[{index}].id", f"{rule.id!r} is the id of an earlier rule", DUPLICATE_RULE_ID)
            seen.add(rule.id)
            loaded.append(rule)
        return RuleSet(
            name=self._string(doc, "name", "file") or name or INLINE,
            rules=tuple(loaded),
            description=self._string(doc, "description", "file"),
            key=self._string(doc, "key", "file"),
            satisfies=self._supersedes(doc.get("supersedes", {})),
            source=self._source,
            origin=origin,
        )

    def _supersedes(self, table: Any) -> dict[str, frozenset[str]]:
        if not isinstance(table, dict):
            self._invalid("supersedes", "must be a table of value = [values it supersedes]")
        direct: dict[str, set[str]] = {}
        for value, lower in table.items():
            if not isinstance(lower, list) or not all(isinstance(v, str) for v in lower):
                self._invalid(f"supersedes.{value}", "must be a list of strings")
            for v in lower:
                direct.setdefault(v, set()).add(value)
        out: dict[str, frozenset[str]] = {}
        for required in direct:  # transitive: who supersedes a superseder meets it too
            met, todo = {required}, [required]
            while todo:
                for higher in direct.get(todo.pop(), ()):
                    if higher not in met:
                        met.add(higher)
                        todo.append(higher)
            out[required] = frozenset(met)
        return out

    def _rule(self, index: int, raw: Any) -> Rule:
        where = f"rules[{index}]"
        if not isinstance(raw, dict):
            self._invalid(where, "must be a table")
        rule_id = self._string(raw, "id", where, required=True)
        if not RULE_ID.fullmatch(rule_id):
            self._invalid(f"{where}.id", f"{rule_id!r}: use 1-100 letters, digits, '-', '_' or '.'")
        self._unknown(raw, RULE_KEYS, where)
        severity = self._string(raw, "severity", where) or SEVERITIES[0]
        if severity not in SEVERITIES:
            self._invalid(f"{where}.severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
        texts = {key: self._string(raw, key, where, required=key == "require") for key in CONDITIONS}
        nodes = {key: self._condition(index, rule_id, key, texts[key]) if texts[key] else None for key in CONDITIONS}
        return Rule(
            id=rule_id,
            description=self._string(raw, "description", where),
            severity=severity,
            when=nodes["when"],
            require=nodes["require"],  # type: ignore[arg-type]  # required above
            when_text=texts["when"],
            require_text=texts["require"],
        )

    def _condition(self, index: int, rule_id: str, key: str, text: str) -> Node:
        where = f"rules[{index}].{key}"
        if len(text) > self._settings.max_condition_chars:
            self._invalid(where, f"longer than {self._settings.max_condition_chars} characters", RULES_TOO_LARGE)
        try:
            return parse(text, self._settings.max_depth)
        except ConditionError as exc:
            position = _locate(self._text, index, key, text, exc.offset)
            at = f"line {position[0]}, column {position[1]}" if position else f"condition column {exc.offset + 1}"
            metadata = {"file": self._source, "rule": rule_id, "condition_column": str(exc.offset + 1)}
            if position:
                metadata.update(line=str(position[0]), column=str(position[1]))
            raise errors.InvalidArgument(
                f"{self._source}: rule {rule_id!r} {key}, {at}: {exc.message}\n  {text}\n  {' ' * exc.offset}^",
                reason=RULE_SYNTAX,
                metadata=metadata,
                violations=[FieldViolation(where, f"{at}: {exc.message}")],
            ) from None


# Positions in the file ----------------------------------------------------------------


def _locate(text: str, index: int, key: str, value: str, offset: int) -> tuple[int, int] | None:
    """(line, column), 1-based, in ``text`` of character ``offset`` of the ``key`` string
    of the ``index``-th ``[[rules]]`` table; None when it cannot be traced (the rules are
    inline tables, or the string is not where a plain scan finds it)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    headers = [i for i, line in enumerate(lines) if _RULES_HEADER.match(line.rstrip("\r\n"))]
    if index >= len(headers):
        return None
    key_re = re.compile(rf"[ \t]*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')[ \t]*=[ \t]*")
    for n in range(headers[index] + 1, len(lines)):
        line = lines[n]
        if _TABLE_HEADER.match(line) and n != headers[index]:
            return None
        m = key_re.match(line)
        if not m:
            continue
        start = starts[n] + m.end()
        mapped = list(_decoded(text, start))
        if "".join(c for c, _ in mapped) != value:
            return None
        at = mapped[offset][1] if offset < len(mapped) else (mapped[-1][1] + 1 if mapped else start + 1)
        line_no = bisect.bisect_right(starts, at) - 1
        return line_no + 1, at - starts[line_no] + 1
    return None


def _decoded(text: str, start: int) -> Iterator[tuple[str, int]]:
    """Each character of the TOML string at ``start`` with its offset in ``text``."""
    for quote in ("'''", '"""', "'", '"'):
        if text.startswith(quote, start):
            break
    else:
        return
    i = start + len(quote)
    multi = len(quote) == 3
    if multi and text.startswith("\r\n", i):
        i += 2
    elif multi and text.startswith("\n", i):
        i += 1
    basic = quote[0] == '"'
    simple = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}
    while i < len(text):
        if text.startswith(quote, i):
            if multi and text.startswith(quote[0], i + 3):  # up to two quotes may end the content
                yield quote[0], i
                i += 1
                continue
            return
        c = text[i]
        if basic and c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in simple:
                yield simple[nxt], i
                i += 2
            elif nxt in ("u", "U", "x"):
                width = {"u": 4, "U": 8, "x": 2}[nxt]
                yield chr(int(text[i + 2 : i + 2 + width], 16)), i
                i += 2 + width
            else:  # a line-ending backslash: whitespace and newlines up to the next text are dropped
                i += 1
                while i < len(text) and text[i] in " \t\r\n":
                    i += 1
            continue
        yield c, i
        i += 1
