"""Pure helpers of the UI's pages: what a result, an error, a page of a list or an SSE
event looks like. No HTTP or gRPC here, so they are unit-tested alone."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from markupsafe import Markup, escape

from lakehouse.api.errors import LakehouseError
from lakehouse.api.status import http_status


@dataclass(frozen=True)
class ErrorView:
    """An error as a page shows it: what failed, the stable reason, the server's message."""

    code: str
    reason: str
    message: str
    status: int

    @property
    def backend_down(self) -> bool:
        return self.code == "UNAVAILABLE"


def error_view(exc: LakehouseError) -> ErrorView:
    return ErrorView(exc.code, exc.reason, exc.message, http_status(exc))


def cell(value: Any) -> str:
    """A result value as table text: NULL empty, nested values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str, sort_keys=True)
    return str(value)


def csv_bytes(reader: pa.RecordBatchReader, max_rows: int) -> tuple[bytes, bool]:
    """The first ``max_rows`` rows of a streamed result as CSV (header first), and whether
    rows were left out; reading stops at the cap."""
    batches, rows, truncated = [], 0, False
    for batch in reader:
        if rows + batch.num_rows > max_rows:
            batches.append(batch.slice(0, max_rows - rows))
            truncated = True
            break
        batches.append(batch)
        rows += batch.num_rows
    out = io.BytesIO()
    pacsv.write_csv(pa.Table.from_batches(batches, schema=reader.schema), out)
    return out.getvalue(), truncated


_CITATION = re.compile(r"\[(\d+)\]")


def link_citations(text: str, links: Mapping[int, str]) -> Markup:
    """The answer text, escaped, each ``[n]`` that names a retrieved chunk a link to it."""

    def link(m: re.Match) -> str:
        url = links.get(int(m.group(1)))
        return f'<a href="{escape(url)}">{m.group(0)}</a>' if url else m.group(0)

    return Markup(_CITATION.sub(link, str(escape(text))))


def sse(event: str, data: str) -> str:
    """One Server-Sent Event; every line of ``data`` gets its own ``data:`` field (the
    browser joins them back with newlines)."""
    lines = data.split("\n")
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


@dataclass(frozen=True)
class Page:
    """One page of a list: its items and the neighbouring page numbers (0: none)."""

    items: list
    number: int
    pages: int

    @property
    def prev(self) -> int:
        return self.number - 1 if self.number > 1 else 0

    @property
    def next(self) -> int:
        return self.number + 1 if self.number < self.pages else 0


def page_number(raw: str) -> int:
    """A ``?page=`` value: a positive integer, anything else page 1."""
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def page_of(items: Sequence[Any], number: int, size: int) -> Page:
    """Page ``number`` (1-based, clamped to the pages there are) of ``items``."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, pages)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def preview_sql(dataset: str, rows: int) -> str:
    return f"SELECT * FROM {quote_ident(dataset)} LIMIT {int(rows)}"


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def corpus_badges(generation: int, generations: Sequence[int], previous: int, building: bool) -> list[str]:
    """The hot-swap badge of a corpus: its active generation, a rebuild running, and
    whether a swap (another kept generation) or a rollback (a previous one) is possible."""
    badges = [f"active gen {generation}"]
    if building:
        badges.append("rebuild running")
    if any(g != generation for g in generations):
        badges.append("swap available")
    if previous:
        badges.append(f"rollback to gen {previous}")
    return badges


def best_per_document(results: Sequence[Any], limit: int) -> list[Any]:
    """The first (best) result of each document (metadata ``doc_id``; an item with none is
    its own document), in rank order, at most ``limit``."""
    seen: set[str] = set()
    out = []
    for r in results:
        doc = r.metadata["doc_id"] if "doc_id" in r.metadata else f"{r.corpus}/{r.id}"
        if doc not in seen:
            seen.add(doc)
            out.append(r)
            if len(out) == limit:
                break
    return out


# Stated on the console page, next to the bars.
FILL_METHOD = (
    "Fill probability = (placements + w × match score) / (placements + rejections + w): the "
    "match score (similarity, clipped to 0..1) is a prior worth w = {w:g} past outcomes, updated "
    "by this candidate's placements and rejections in the playbook."
)


def fill_probability(score: float, placed: int, rejected: int, prior_weight: float) -> float:
    """A Beta-Binomial estimate: the match score as the prior mean, ``prior_weight`` its
    strength in outcomes, the candidate's playbook history the evidence."""
    prior = min(max(score, 0.0), 1.0)
    return (placed + prior_weight * prior) / (placed + rejected + prior_weight)


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(rgb: Sequence[int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    r, g, b = (_channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: Sequence[int], bg: Sequence[int]) -> float:
    """WCAG 2 contrast ratio (1..21); body text needs at least 4.5."""
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
