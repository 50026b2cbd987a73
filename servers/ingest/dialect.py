"""Find a CSV file's dialect from its first KiB, strictly, and say why.

DuckDB's own sniffer guesses too freely for a lake that must never lose rows: it
takes line 1 as the header whenever told so, falls back to one text column when a
preamble breaks its search, and its ``comment`` option also truncates data lines at
the comment character. So the dialect is decided here, on a sample of the decoded
text, in the way Python's ``csv.Sniffer`` and clevercsv do (field-count consistency
per candidate dialect, then type evidence for the header) but refusing instead of
guessing: an inconsistent sample is an error naming the line and the API parameter
that would resolve it. DuckDB then gets every option pinned (``read_csv_options``).

Preamble and comment lines are removed from the stream before it is spooled (see
``lines.LineFilter``); DuckDB always reads with ``skip=0, comment=''``.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.api.errors import EMPTY_INPUT
from lakehouse.api.ingest import CSV_DIALECT_NOT_FOUND, MALFORMED_QUOTED_FIELD, TRAILING_FIELD_NOT_EMPTY
from lakehouse.servers.ingest import names as naming
from lakehouse.servers.settings import IngestSettings

HeaderChoice = Literal["auto", "true", "false"]
HeaderDecision = Literal["detected", "absent", "given"]
HEADER_CHOICES: tuple[str, ...] = ("auto", "true", "false")

DOUBLE_QUOTE = '"'
SINGLE_QUOTE = "'"
BACKSLASH = "\\"
NO_CHAR = ""  # no quoting / no escape / no comment
# How the API spells "none" for quote, escape and comment (an empty value means "detect").
NONE_WORDS = ("none", "off")
# Spellings of a tab accepted for ``delimiter`` besides the character itself.
TAB_WORDS = ("\\t", "tab")
NEWLINE_CHARS = "\r\n"
# Delimiter of a one-column file: ASCII's own field separator, absent from text files
# (a later line holding it splits, and the strict reader refuses it).
UNIT_SEPARATOR = "\x1f"
DEFAULT_NULLS: tuple[str, ...] = ("",)

# Values that say "no value" in the wild; they never count as evidence for or
# against a header (only the caller's ``null`` strings become NULL when read).
NULL_LIKE = frozenset({"", "na", "n/a", "nan", "null", "none", "nil", "-", "--", "?", "\\n", "#n/a"})
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{1,2}\.\d{1,2}\.\d{4}")
_TIME_RE = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
_TIMESTAMP_RE = re.compile(
    r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4})[T ]"
    r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_BOOL = frozenset({"true", "false"})
# Type lattice used only for header evidence (DuckDB infers the real column types).
_KINDS = ("bool", "int", "float", "date", "timestamp", "time")
_WIDER = {"int": {"int", "float"}, "float": {"float"}, "date": {"date", "timestamp"}, "timestamp": {"timestamp"}}
# Characters never taken for a delimiter by auto-detection (they occur inside values).
_NEVER_DELIMITERS = (DOUBLE_QUOTE, SINGLE_QUOTE, BACKSLASH, ".", "-", "_", "+", ":", "/", "(", ")", "%", "$", "#", "@")
# A field wrapped in single quotes: the only evidence for ' as the quote character.
_SINGLE_QUOTED_RE = re.compile(r"(?:^|[,;\t|])'[^'\n]*'(?:[,;\t|]|$)", re.MULTILINE)
# Shapes of values (header evidence): upper/lower ASCII letters, digits and blanks as one class each.
_SHAPE_TABLE = str.maketrans(
    {
        **{chr(c): "A" for c in range(ord("A"), ord("Z") + 1)},
        **{chr(c): "a" for c in range(ord("a"), ord("z") + 1)},
        **{chr(c): "9" for c in range(ord("0"), ord("9") + 1)},
        "\t": " ",
    }
)
_RUNS_RE = re.compile(r"(.)\1+")


@dataclass(frozen=True)
class CsvOptions:
    """What the caller said. ``None`` means "detect"; ``""`` (NO_CHAR) means "none"."""

    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    header: HeaderChoice = "auto"
    skip: int | None = None
    comment: str | None = None
    null: tuple[str, ...] = DEFAULT_NULLS
    tsv: bool = False  # format=tsv: tab-delimited, unquoted unless ``quote`` is given


@dataclass(frozen=True)
class SniffLimits:
    """Tunables (``ingest.sniff_*`` settings)."""

    delimiters: str  # candidates tried first, in order of preference
    comment_chars: str  # comment characters auto-detection may choose
    max_preamble_lines: int  # longest preamble auto-detection skips
    evident_fraction: float  # share of lines a delimiter must split for it to be "evident"

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> SniffLimits:
        return cls(
            ingest.sniff_delimiters,
            ingest.sniff_comment_chars,
            ingest.sniff_max_preamble_lines,
            ingest.sniff_evident_fraction,
        )


@dataclass(frozen=True)
class CsvDialect:
    """Everything DuckDB's read_csv needs, plus what the API reports about the decision."""

    delimiter: str
    quote: str  # "" = no quoting
    escape: str  # "" = none
    header: bool
    skip: int  # leading lines removed before the table (preamble)
    comment: str  # lines starting with it are removed ("" = none)
    null: tuple[str, ...]
    names: tuple[str, ...]  # every column DuckDB reads, including a trailing-delimiter one
    header_decision: HeaderDecision
    skipped_lines: int  # preamble and comment lines seen in the sample
    trailing_delimiter: bool = False  # every line ends with the delimiter: the last column is not data
    renames: tuple[naming.Rename, ...] = ()
    reasoning: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns (what the dataset gets)."""
        return self.names[:-1] if self.trailing_delimiter else self.names


def read_csv_options(dialect: CsvDialect) -> dict[str, object]:
    """Every read_csv parameter the dialect decides, to bind as named parameters.

    ``skip`` and ``comment`` are always off: the line filter has already removed
    those lines (DuckDB's ``comment`` would also cut data lines at the character).
    Strictness is part of the dialect: ragged rows and broken quoting raise.
    """
    return {
        "delim": dialect.delimiter,
        "quote": dialect.quote,
        "escape": dialect.escape,
        "header": dialect.header,
        "names": list(dialect.names),
        "nullstr": list(dialect.null),
        "skip": 0,
        "comment": NO_CHAR,
        "auto_detect": True,  # types only: every dialect option above is pinned
        "strict_mode": True,
        "null_padding": False,
        "ignore_errors": False,
        "allow_quoted_nulls": False,
    }


def drop_trailing(batch: pa.RecordBatch, dialect: CsvDialect, rows_before: int) -> pa.RecordBatch:
    """The batch less the column a trailing delimiter makes. The sample showed it empty;
    a row further on with a value there has one field more than the table, and is
    refused rather than cut (``rows_before``: data rows in earlier batches)."""
    if not dialect.trailing_delimiter:
        return batch
    last = batch.column(batch.num_columns - 1)
    if last.null_count != len(last):
        empty = pc.is_null(last)
        if pa.types.is_string(last.type) or pa.types.is_large_string(last.type):
            empty = pc.or_kleene(empty, pc.equal(last, ""))
        filled = pc.invert(pc.fill_null(empty, True))
        if pc.any(filled).as_py():
            row = rows_before + pc.index(filled, True).as_py() + 1
            raise errors.InvalidArgument(
                f"data row {row} has a value after the last delimiter, where the lines before it end "
                f"with the delimiter ({dialect.delimiter!r}); every row must have {len(dialect.columns)} fields",
                reason=TRAILING_FIELD_NOT_EMPTY,
                metadata={"row": str(row)},
            )
    return batch.drop_columns([batch.schema.names[-1]])


# Options from the API ------------------------------------------------------


def parse_options(
    *,
    delimiter: str = "",
    quote: str = "",
    escape: str = "",
    header: str = "",
    skip: int | None = None,
    comment: str = "",
    null: Sequence[str] = (),
    tsv: bool = False,
) -> CsvOptions:
    """Validate the API's strings (empty = detect; ``none`` = no quote/escape/comment)."""
    delim = "\t" if delimiter.lower() in TAB_WORDS else delimiter
    if delim and (len(delim) != 1 or delim in NEWLINE_CHARS):
        raise errors.invalid_field("delimiter", f"use one character (or \\t), got {delimiter!r}")
    chars = {name: _char_option(name, value) for name, value in (("quote", quote), ("escape", escape))}
    comment_char = _char_option("comment", comment)
    header_choice = (header or "auto").lower()
    if header_choice not in HEADER_CHOICES:
        raise errors.invalid_field("header", f"use one of {list(HEADER_CHOICES)}, got {header!r}")
    if skip is not None and skip < 0:
        raise errors.invalid_field("skip", f"must be 0 or more, got {skip}")
    if tsv and not delim:
        delim = "\t"
    used = [c for c in (delim, chars["quote"], comment_char) if c]
    if len(set(used)) != len(used):
        raise errors.invalid_field("delimiter", "delimiter, quote and comment must be different characters")
    if chars["quote"] == NO_CHAR and chars["escape"]:
        raise errors.invalid_field("escape", "an escape character needs a quote character")
    return CsvOptions(
        delimiter=delim or None,
        quote=chars["quote"],
        escape=chars["escape"],
        header=header_choice,  # type: ignore[arg-type]
        skip=skip,
        comment=comment_char,
        null=tuple(null) if null else DEFAULT_NULLS,
        tsv=tsv,
    )


def _char_option(name: str, value: str) -> str | None:
    if not value:
        return None
    if value.lower() in NONE_WORDS:
        return NO_CHAR
    if len(value) != 1 or value in NEWLINE_CHARS:
        raise errors.invalid_field(name, f"use one character or 'none', got {value!r}")
    return value


# Sample --------------------------------------------------------------------


def sample_text(head: bytes, complete: bool) -> str:
    """The decoded head as text, cut after its last full line unless it is the whole file."""
    if not complete:
        cut = head.rfind(b"\n")
        head = head[: cut + 1] if cut >= 0 else b""
    return head.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Line:
    number: int  # 1-based line number in the file
    text: str  # with its line terminator


def _lines(sample: str) -> list[_Line]:
    parts = sample.split("\n")
    out = [_Line(i + 1, p + "\n") for i, p in enumerate(parts[:-1])]
    if parts[-1]:
        out.append(_Line(len(parts), parts[-1]))
    return out


def _blank(text: str) -> bool:
    return not text.strip()


# Parsing one candidate -------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    delimiter: str
    quote: str
    escape: str


@dataclass
class _Parse:
    """The sample parsed with one candidate dialect."""

    records: list[list[str]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # file line where each record starts
    spans: list[int] = field(default_factory=list)  # physical lines per record
    broken_at: int | None = None  # file line of a record the quoting could not end
    ran_off: bool = False  # the sample ended inside a quoted field


def _csv_dialect(c: _Candidate) -> dict[str, object]:
    if not c.quote:
        return {"delimiter": c.delimiter, "quoting": csv.QUOTE_NONE, "escapechar": None, "strict": True}
    if c.escape and c.escape != c.quote:
        return {"delimiter": c.delimiter, "quotechar": c.quote, "escapechar": c.escape, "doublequote": False}
    return {"delimiter": c.delimiter, "quotechar": c.quote, "doublequote": True, "strict": True}


def _parse(lines: list[_Line], c: _Candidate, complete: bool) -> _Parse:
    out = _Parse()
    numbers = [line.number for line in lines]
    reader = csv.reader((line.text for line in lines), **_csv_dialect(c))  # type: ignore[arg-type]
    consumed = 0
    while True:
        start = consumed
        try:
            record = next(reader)
        except StopIteration:
            return out
        except csv.Error:
            if start < len(numbers):
                out.broken_at = numbers[start]
                out.ran_off = reader.line_num >= len(numbers) and not complete
            return out
        consumed = reader.line_num
        if start >= len(numbers):
            return out
        if not record or (len(record) == 1 and _blank(record[0]) and consumed - start == 1):
            continue  # a blank line: DuckDB skips it too
        out.records.append(record)
        out.starts.append(numbers[start])
        out.spans.append(consumed - start)


# Types (header evidence only) --------------------------------------------------


def _kind(value: str) -> str:
    v = value.strip()
    low = v.lower()
    if low in _BOOL:
        return "bool"
    if _INT_RE.fullmatch(v):
        return "int"
    if _FLOAT_RE.fullmatch(v):
        return "float"
    if _DATE_RE.fullmatch(v):
        return "date"
    if _TIMESTAMP_RE.fullmatch(v):
        return "timestamp"
    if _TIME_RE.fullmatch(v):
        return "time"
    return "text"


def _null_like(value: str, nulls: tuple[str, ...]) -> bool:
    return value in nulls or value.strip().lower() in NULL_LIKE


def _column_kind(values: list[str], nulls: tuple[str, ...]) -> str | None:
    """The narrowest kind covering every non-null value; None when all are null."""
    kinds = {_kind(v) for v in values if not _null_like(v, nulls)}
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    for wide in ("float", "timestamp"):
        if all(wide in _WIDER.get(k, {k}) for k in kinds):
            return wide
    return "text"


def _fits(value: str, kind: str) -> bool:
    got = _kind(value)
    return got == kind or kind in _WIDER.get(got, set())


def _shape(value: str) -> str:
    """Character classes with runs collapsed: "John" -> "Aa", "first_name" -> "a_a", "12.5" -> "9.9"."""
    return _RUNS_RE.sub(r"\1", value.strip().translate(_SHAPE_TABLE))


@dataclass(frozen=True)
class _HeaderVerdict:
    header: bool
    why: str


def _judge_header(
    first: list[str], rest: list[list[str]], line: int, nulls: tuple[str, ...], *, lenient: bool = False
) -> _HeaderVerdict:
    """Line 1 is a header when a value does not fit its typed column, or when (all
    text) its values are unlike the rest of their columns. Unsure means data: a
    wrongly kept header row is visible, a wrongly dropped data row is not.

    ``lenient`` (the line follows a preamble, the usual place of a header): any one
    text column whose line-1 value is unlike the rest suffices."""
    width = len(first)
    distinct = len({v.lower() for v in first}) == width and all(v.strip() for v in first)
    if not rest:
        if distinct and all(_kind(v) == "text" and not _null_like(v, nulls) for v in first):
            return _HeaderVerdict(
                True, f"only one line ({line}), all of it names: read as the header (pass header=false if it is data)"
            )
        return _HeaderVerdict(False, f"only one line ({line}): read as data (pass header=true if it is a header)")
    columns = [[r[i] for r in rest] for i in range(width)]
    kinds = [_column_kind(col, nulls) for col in columns]
    for i, (value, kind) in enumerate(zip(first, kinds, strict=True)):
        # Names are text: a number or date on line 1 that merely misfits (7.5 over 8) is data.
        if kind in _KINDS and _kind(value) == "text" and not _null_like(value, nulls):
            return _HeaderVerdict(
                True, f"header detected: line {line} value {value!r} is not {kind} like the rest of column {i + 1}"
            )
    score = unlike = 0
    for value, kind, col in zip(first, kinds, columns, strict=True):
        if _null_like(value, nulls) or kind is None:
            continue
        shape = _shape(value)
        if value in col or any(_shape(v) == shape for v in col if not _null_like(v, nulls)):
            score -= 1
        elif kind == "text":
            score += 1
            unlike += 1
    if distinct and (score > 0 or (lenient and unlike)):
        return _HeaderVerdict(True, f"header detected: line {line} values are unlike the rest of their columns")
    return _HeaderVerdict(False, f"no header: line {line} fits its columns (pass header=true if it is a header)")


def _names_of(first: list[str], known: Sequence[str]) -> bool:
    """Line 1 holds only (distinct) column names of the dataset the upload goes into."""
    return len(set(first)) == len(first) and set(first) <= set(known)


def _all_misfit(record: list[str], kinds: list[str | None], nulls: tuple[str, ...]) -> bool:
    """No value of ``record`` fits its typed column (and some column is typed): a line
    like ``# note, later`` among numbers. One fitting value (``#5,6``) makes it data."""
    typed = [(v, kind) for v, kind in zip(record, kinds, strict=False) if kind in _KINDS]
    return bool(typed) and all(not _null_like(v, nulls) and not _fits(v, kind) for v, kind in typed)


# Choosing ----------------------------------------------------------------------


@dataclass
class _Table:
    """One candidate dialect's reading of the sample: where the table starts and its width."""

    candidate: _Candidate
    comment: str
    parse: _Parse
    lines: list[_Line]  # the sample's lines less skipped and comment lines
    width: int = 0
    start: int = 0  # index of the first table record (records before it: a preamble)
    bad: int | None = None  # index of the first table record with another width

    @property
    def consistent(self) -> bool:
        quoting_ok = self.parse.broken_at is None or self.parse.ran_off
        return self.bad is None and quoting_ok and bool(self.parse.records)

    @property
    def covered(self) -> int:
        return len(self.parse.records) - self.start

    def line_of(self, index: int) -> int:
        return self.parse.starts[index]


def _measure(table: _Table, preamble_allowed: bool, max_preamble: int) -> _Table:
    """Width = the most common field count (ties: the wider); a preamble = the leading
    records of another width, when short enough and detection is on."""
    counts = [len(r) for r in table.parse.records]
    if not counts:
        return table
    freq = Counter(counts)
    width = max(freq, key=lambda w: (freq[w], w))
    start = 0
    if preamble_allowed:
        while start < len(counts) and counts[start] != width:
            start += 1
        if start == len(counts) or table.line_of(start) - 1 > max_preamble:
            start = 0
    table.width, table.start = width, start
    table.bad = next((i for i in range(start, len(counts)) if counts[i] != width), None)
    return table


def _candidates(sample: str, options: CsvOptions, limits: SniffLimits) -> list[_Candidate]:
    """Delimiters: the given one, else the preferred ones present, then any other ASCII
    punctuation present. Quotes: the given one; TSV: none; CSV: ``"`` (``'`` only in a
    sample with no ``"`` that has ``'``-wrapped fields). Escape: doubling, or a backslash
    where the sample has ``\\"``."""
    if options.delimiter is not None:
        delims = [options.delimiter]
    else:
        delims = [d for d in limits.delimiters if d in sample]
        others = {ch for ch in set(sample) if ord(ch) < 128 and not ch.isalnum() and not ch.isspace()}
        delims += sorted(others - set(delims) - set(_NEVER_DELIMITERS))
        delims = delims or [limits.delimiters[0]]
    if options.quote is not None:
        quotes = [options.quote]
    elif options.tsv:
        quotes = [NO_CHAR]
    elif DOUBLE_QUOTE not in sample and _SINGLE_QUOTED_RE.search(sample):
        quotes = [SINGLE_QUOTE]
    else:
        quotes = [DOUBLE_QUOTE]
    if options.delimiter is None and UNIT_SEPARATOR not in sample:
        delims.append(UNIT_SEPARATOR)  # the one-column reading, kept only when nothing else is consistent
    out = []
    for d in delims:
        for q in quotes:
            if q == d:
                continue
            if not q:
                escapes = [NO_CHAR]
            elif options.escape is not None:
                escapes = [options.escape or q]
            else:
                escapes = [q] + ([BACKSLASH] if BACKSLASH + q in sample else [])
            out.extend(_Candidate(d, q, e) for e in escapes)
    return out


def _rank(table: _Table, order: dict[str, int]) -> tuple:
    """Higher is better: consistent, more than one column, more of the sample in the
    table, doubling escapes, then the preferred delimiter."""
    return (
        table.consistent,
        table.width > 1,
        table.covered,
        table.candidate.escape == table.candidate.quote,
        -order.get(table.candidate.delimiter, len(order)),
    )


def _split(lines: list[_Line], skip: int, comment: str) -> list[_Line]:
    """The lines after the first ``skip``, less those starting with ``comment``."""
    body = [line for line in lines if line.number > skip]
    return [line for line in body if not line.text.startswith(comment)] if comment else body


def sniff(
    sample: str, options: CsvOptions, limits: SniffLimits, *, complete: bool, known_names: Sequence[str] = ()
) -> CsvDialect:
    """Decide the dialect of ``sample`` (the file's first lines; ``complete``: it is the whole file).
    ``known_names``: the columns of the dataset the upload goes into; a first line holding
    exactly them is the header, whatever it looks like."""
    lines = _lines(sample)
    if all(_blank(line.text) for line in lines):
        raise errors.InvalidArgument("the upload has no CSV lines", reason=EMPTY_INPUT)
    # One field may be the whole sample: the csv module's default limit is smaller than some samples.
    csv.field_size_limit(max(csv.field_size_limit(), len(sample)))
    order = {d: i for i, d in enumerate(limits.delimiters)}
    candidates = _candidates(sample, options, limits)
    if options.comment is not None:
        comments = [options.comment]
    else:
        comments = [NO_CHAR] + [c for c in limits.comment_chars if any(x.text.startswith(c) for x in lines)]
    preamble_allowed = options.skip is None and options.header != "false"
    tables: dict[str, list[_Table]] = {}
    for comment in comments:
        kept = _split(lines, options.skip or 0, comment)
        if not kept or all(_blank(x.text) for x in kept):
            continue
        measured = (_Table(c, comment, _parse(kept, c, complete), kept) for c in candidates)
        tables[comment] = sorted(
            (_measure(t, preamble_allowed, limits.max_preamble_lines) for t in measured),
            key=lambda t: _rank(t, order),
            reverse=True,
        )
    if not tables:
        raise errors.InvalidArgument("every line of the upload is skipped or a comment", reason=EMPTY_INPUT)
    best = {comment: ranked[0] for comment, ranked in tables.items()}
    chosen = best.get(NO_CHAR) or next(iter(best.values()))
    for comment, table in best.items():
        if comment and (NO_CHAR not in best or _comment_wins(best[NO_CHAR], table, options)):
            chosen = table
            break
    evident = _evident(chosen.lines, limits) if chosen.width < 2 and options.delimiter is None else None
    if evident is not None:
        # One column only because the evident delimiter's reading breaks: report that reading.
        culprit = next((t for t in tables[chosen.comment] if t.candidate.delimiter == evident[0]), chosen)
        _check_quoting(culprit, complete)
        raise _not_found(culprit, options, limits)
    return _finish(chosen, lines, options, limits, complete, known_names)


def _comment_wins(plain: _Table, commented: _Table, options: CsvOptions) -> bool:
    """Lines starting with a comment character are comments only on evidence: without
    them the table is inconsistent or narrower, or they sit above it, or none of their
    values fits the columns' types."""
    if not commented.consistent or commented.width < 2:
        return False
    if not plain.consistent or plain.width < commented.width or plain.start > 0:
        return True
    mark = commented.comment
    records = plain.parse.records
    marked = [i for i, rec in enumerate(records) if rec and rec[0].startswith(mark)]
    if not marked:
        return False
    if marked == list(range(len(marked))):
        return True
    unmarked = [r for i, r in enumerate(records) if i not in set(marked)]
    kinds = [_column_kind([r[i] for r in unmarked[1:]], options.null) for i in range(plain.width)]
    return any(_all_misfit(records[i], kinds, options.null) for i in marked)


def _finish(
    t: _Table,
    lines: list[_Line],
    options: CsvOptions,
    limits: SniffLimits,
    complete: bool,
    known_names: Sequence[str] = (),
) -> CsvDialect:
    cand = t.candidate
    _check_quoting(t, complete)
    if not t.consistent:
        raise _not_found(t, options, limits)
    records = t.parse.records[t.start :]
    first_line = t.line_of(t.start)
    trailing = t.width > 1 and all(r[-1] == "" for r in records) and (len(records) > 1 or complete)
    width = t.width - trailing
    trimmed = [r[:width] for r in records]
    if options.header == "auto" and known_names and _names_of(trimmed[0], known_names):
        verdict = _HeaderVerdict(True, f"header detected: line {first_line} holds the dataset's column names")
    elif options.header == "auto":
        verdict = _judge_header(trimmed[0], trimmed[1:], first_line, options.null, lenient=t.start > 0)
    if options.header == "auto":
        if t.start > 0 and not verdict.header:
            raise _not_found(t, options, limits, headless_preamble=True)
        has_header, decision, why = verdict.header, ("detected" if verdict.header else "absent"), verdict.why
    else:
        has_header, decision = options.header == "true", "given"
        why = "header given" if has_header else "no header (given)"
    if has_header:
        data_names, renames = naming.unique(trimmed[0])
    else:
        data_names, renames = naming.generated(width), ()
    names = naming.unique([*data_names, ""])[0] if trailing else data_names
    above = [x for x in lines if x.number < first_line]
    if options.skip is not None:
        skip = options.skip
    elif t.comment and all(x.text.startswith(t.comment) for x in above):
        skip = 0  # only comment lines above the table: the comment rule covers them
    else:
        skip = first_line - 1
    comments = sum(1 for x in lines if t.comment and x.number > skip and x.text.startswith(t.comment))
    delim_word = "one column (no delimiter)" if cand.delimiter == UNIT_SEPARATOR else f"delimiter {cand.delimiter!r}"
    quote_word = f"quote {cand.quote}" + (f" escape {cand.escape}" if cand.escape != cand.quote else "")
    parts = [delim_word, quote_word if cand.quote else "no quoting", f"{width} columns", why]
    if skip:
        parts.append(f"skipped {skip} line(s) above the table")
    if comments:
        parts.append(f"{comments} comment line(s) starting with {t.comment!r}")
    if trailing:
        parts.append("every line ends with the delimiter")
    if renames:
        parts.append(f"{len(renames)} column(s) renamed")
    return CsvDialect(
        delimiter=cand.delimiter,
        quote=cand.quote,
        escape=cand.escape if cand.quote else NO_CHAR,
        header=has_header,
        skip=skip,
        comment=t.comment,
        null=options.null,
        names=names,
        header_decision=decision,  # type: ignore[arg-type]
        skipped_lines=skip + comments,
        trailing_delimiter=trailing,
        renames=renames,
        reasoning="; ".join(parts),
    )


def _check_quoting(t: _Table, complete: bool) -> None:
    """Refuse a quoted field that is not closed where it should be.

    Either the quoting itself breaks (``"a"b``, or the file ends inside quotes), or a
    record spans several lines with the wrong field count: an odd quote swallowed line
    breaks. A sample that merely ends inside a long quoted value is not evidence, unless
    the lines it swallowed split into exactly the table's width on their own."""
    parse, cand = t.parse, t.candidate
    if not cand.quote:
        return
    line = next(
        (
            parse.starts[i]
            for i in range(t.start, len(parse.records))
            if parse.spans[i] > 1 and len(parse.records[i]) != t.width
        ),
        None,
    )
    if line is None and parse.broken_at is not None:
        line = parse.broken_at
        if parse.ran_off and not complete:
            swallowed = [x.text.rstrip("\r\n") for x in t.lines if x.number > line]
            if not any(s.count(cand.delimiter) + 1 == t.width for s in swallowed):
                return
    if line is None:
        return
    raise errors.InvalidArgument(
        f"line {line}: a quoted field ({cand.quote}) is not closed where it should be, so it swallows line "
        f"breaks and the field count changes; fix the quoting, or pass quote=none if {cand.quote} is a "
        "literal character in this file",
        reason=MALFORMED_QUOTED_FIELD,
        metadata={"line": str(line), "parameter": "quote"},
    )


def _evident(lines: list[_Line], limits: SniffLimits) -> tuple[str, int] | None:
    """A preferred delimiter that splits most lines after line 1, counted from the first
    line it splits (a title or notes above a table do not hide it), and the field count
    most of those lines have."""
    body = [x.text.rstrip("\r\n") for x in lines[1:] if not _blank(x.text)]
    for d in limits.delimiters:
        counts = [text.count(d) + 1 for text in body]
        first = next((i for i, n in enumerate(counts) if n > 1), None)
        if first is None:
            continue
        tail = counts[first:]
        split = [n for n in tail if n > 1]
        enough = len(tail) >= max(2, len(body) / 2)
        if enough and len(split) >= limits.evident_fraction * len(tail):
            freq = Counter(split)
            return d, max(freq, key=lambda w: (freq[w], w))
    return None


def _not_found(
    t: _Table, options: CsvOptions, limits: SniffLimits, headless_preamble: bool = False
) -> errors.InvalidArgument:
    """Name the first line that breaks the table and the parameters that would help."""
    evident = _evident(t.lines, limits) if t.width < 2 else None
    if evident is not None:
        delim, width = evident
        rows = [(x.number, x.text.rstrip("\r\n").count(delim) + 1, x.text) for x in t.lines if not _blank(x.text)]
    else:
        delim, width = t.candidate.delimiter, t.width
        texts = {x.number: x.text for x in t.lines}
        rows = [(n, len(r), texts.get(n, "")) for n, r in zip(t.parse.starts, t.parse.records, strict=True)]
    lead = 0
    while lead < len(rows) and rows[lead][1] != width:
        lead += 1
    bad = next((row for row in rows if row[1] != width), rows[0])
    helps: list[str] = []
    hints: list[str] = []
    if lead and lead < len(rows) and options.skip != rows[lead][0] - 1:
        n = rows[lead][0] - 1
        helps.append("skip")
        hints.append(f"if the first {n} line(s) are a title or notes, pass skip={n}")
    mark = bad[2][:1]
    if (
        mark
        and not mark.isalnum()
        and not mark.isspace()
        and mark not in (delim, DOUBLE_QUOTE)
        and options.comment is None
    ):
        helps.append("comment")
        hints.append(f"if lines starting with {mark!r} are comments, pass comment={mark}")
    if options.delimiter is None:
        helps.append("delimiter")
        hints.append("if the delimiter is another character, pass delimiter=")
    if headless_preamble:
        hints.insert(0, f"line {t.line_of(t.start)} does not look like a header (pass header=true if it is)")
        helps.insert(0, "header")
    fields = "field" if bad[1] == 1 else "fields"
    message = (
        f"line {bad[0]} has {bad[1]} {fields} where the other lines have {width} (delimiter {delim!r}): "
        + "; ".join(hints or ["fix that line"])
    )
    return errors.InvalidArgument(
        message,
        reason=CSV_DIALECT_NOT_FOUND,
        metadata={"line": str(bad[0]), "parameters": ",".join(helps), "delimiter": delim},
    )


def with_columns(found: CsvDialect, columns: Sequence[str]) -> CsvDialect:
    """The dialect with the caller's column names (``columns=``) in place of the header's
    (or the generated ones)."""
    if not columns:
        return found
    named = naming.given(columns, len(found.columns), f"the file ({found.reasoning})")
    names = naming.unique([*named, ""])[0] if found.trailing_delimiter else named
    return replace(found, names=names, renames=(), reasoning=found.reasoning + "; column names given (columns=)")
