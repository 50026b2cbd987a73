"""The prompt of a generative answer: the instructions, then the numbered retrieved
chunks and nothing else, then the question. The numbers are the citations' ``n``."""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse.api.ask import Citation
from lakehouse.api.models import ChatMessage

SOURCES_HEADER = "Sources:"
QUESTION_HEADER = "Question:"


def source_line(c: Citation, text: str) -> str:
    where = ", ".join(x for x in (c.file_name, f"page {c.page}" if c.page else "") if x)
    label = f"[{c.n}] ({where})" if where else f"[{c.n}]"
    return f"{label} {text}"


def build_messages(system_prompt: str, question: str, sources: Sequence[tuple[Citation, str]]) -> list[ChatMessage]:
    """``sources``: each citation with the full text of its chunk."""
    body = "\n\n".join(source_line(c, text) for c, text in sources)
    user = f"{SOURCES_HEADER}\n{body}\n\n{QUESTION_HEADER} {question}"
    return [ChatMessage("system", system_prompt), ChatMessage("user", user)]
