"""A question's structured constraints as a metadata filter.

The same vocabulary that parsed the résumés reads the question, so the filter names
the values ingest stored: "Forklift operator with OSHA-30 in IL" becomes
``{"$and": [{"state": "IL"}, {"certifications": "OSHA-30"}, {"roles": "forklift operator"}]}``.
States and roles mentioned together are alternatives (any of them); every
certification is required.
"""

from __future__ import annotations

from typing import Any

from lakehouse.servers.vocabulary import Vocabulary


def derive_filter(vocabulary: Vocabulary, question: str) -> dict[str, Any] | None:
    """The filter the question implies, or None when it names no known term."""
    fields = vocabulary.fields(question)
    clauses: list[dict[str, Any]] = []
    if fields.states:
        clauses.append({"state": _one_or_any(fields.states)})
    clauses.extend({"certifications": c} for c in fields.certifications)
    if fields.roles:
        clauses.append({"roles": _one_or_any(fields.roles)})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _one_or_any(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)
