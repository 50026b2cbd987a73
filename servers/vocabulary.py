"""The staffing vocabulary applied to text: a résumé's fields at ingest, a question's
constraints in Ask. Both read the same ``VocabularySettings``, so a filter Ask derives
names exactly the values ingest stored.

Terms match case-insensitively on word boundaries, longest phrase first (so "OSHA 30
hour" is one mention, not "OSHA 30" and a stray word). State codes match only in
capitals; the ambiguous ones ("IN", "OR") only as "City, IN", before a ZIP code, or
after "in", "from" or "near" ("a welder in IN").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from lakehouse.servers.settings import VocabularySettings

_ZIP = r"\d{5}(?:-\d{4})?"


@dataclass(frozen=True)
class Fields:
    """What the vocabulary found in one text; lists keep first-mention order."""

    email: str | None = None
    phone: str | None = None
    state: str | None = None  # the first location mentioned (a résumé's home)
    city: str | None = None
    states: tuple[str, ...] = ()  # every state mentioned (a question may name several)
    certifications: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    years_experience: int | None = None


_KINDS = ("certifications", "roles", "skills")


def _phrase_pattern(
    vocabularies: dict[str, dict[str, list[str]]],
) -> tuple[re.Pattern[str], dict[str, tuple[str, str]]]:
    """One alternation over every phrase of every kind, longest first, so where phrases
    overlap ("forklift operator", a role, holds "forklift") the longest wins; and
    phrase (normalized) -> (kind, canonical term). Only the listed phrases match: a
    canonical name is not itself a phrase unless listed (the certification "Forklift"
    is not claimed by every mention of a forklift)."""
    canonical: dict[str, tuple[str, str]] = {}
    for kind, terms in vocabularies.items():
        for term, phrases in terms.items():
            for phrase in phrases:
                canonical.setdefault(_norm(phrase), (kind, term))
    ordered = sorted(canonical, key=len, reverse=True)
    body = "|".join(_flexible(p) for p in ordered)
    # A plural ("welders", "forklift operators") means its term too.
    return re.compile(rf"(?<![\w-])(?:{body})(?:e?s)?(?![\w-])", re.IGNORECASE), canonical


def _singular(canonical: dict[str, tuple[str, str]], phrase: str) -> tuple[str, str]:
    """The term of a matched phrase, its plural ending dropped when the phrase has none."""
    for candidate in (phrase, phrase[:-1], phrase[:-2]):
        if candidate in canonical:
            return canonical[candidate]
    raise KeyError(phrase)  # the pattern only matches listed phrases (plus a plural ending)


def _norm(phrase: str) -> str:
    return re.sub(r"[\s\-]+", " ", phrase.strip().lower())


def _flexible(phrase: str) -> str:
    """A phrase whose spaces and hyphens match any run of spaces or hyphens."""
    parts = re.split(r"[\s\-]+", phrase.strip())
    return r"[\s\-]+".join(re.escape(p) for p in parts)


class Vocabulary:
    """Compiled once per settings; ``fields(text)`` is all a caller needs."""

    def __init__(self, settings: VocabularySettings) -> None:
        self._settings = settings
        self._email = re.compile(settings.email_pattern)
        self._phone = re.compile(settings.phone_pattern)
        self._years = re.compile(settings.years_pattern, re.IGNORECASE)
        self._terms = _phrase_pattern({kind: getattr(settings, kind) for kind in _KINDS})

    @cached_property
    def _locations(self) -> re.Pattern[str]:
        s = self._settings
        ambiguous = set(s.ambiguous_state_codes)
        plain = sorted(c for c in s.states if c not in ambiguous)
        codes = "|".join(sorted(s.states))
        names = "|".join(_flexible(n) for n in sorted(s.states.values(), key=len, reverse=True))
        cities = "|".join(_flexible(c) for c in sorted(s.cities, key=len, reverse=True))
        return re.compile(
            rf"(?P<city>\b(?:{cities})\b)(?:,? +(?P<city_state>{codes})\b)?"
            rf"|\b[A-Z][a-zA-Z.]+(?: [A-Z][a-zA-Z.]+)?, +(?P<cs_state>{codes})\b"
            rf"|\b(?P<zip_state>{codes})\s+{_ZIP}\b"
            rf"|(?:(?<=\bin )|(?<=\bfrom )|(?<=\bnear ))(?P<after_word>{codes})\b"
            rf"|(?<![\w-])(?P<code>{'|'.join(plain)})(?![\w-])"
            rf"|(?i:\b(?P<name>{names})\b)"
        )

    def _state_of_name(self, name: str) -> str | None:
        wanted = _norm(name)
        return next((c for c, n in self._settings.states.items() if _norm(n) == wanted), None)

    def _city(self, text: str) -> str:
        wanted = _norm(text)
        return next((c for c in self._settings.cities if _norm(c) == wanted), text)

    def locations(self, text: str) -> tuple[str | None, tuple[str, ...]]:
        """(first city, every state in order of mention)."""
        city: str | None = None
        states: list[str] = []
        for m in self._locations.finditer(text):
            state = next(
                (m.group(g) for g in ("city_state", "cs_state", "zip_state", "after_word", "code") if m.group(g)), None
            )
            if m.group("city"):
                name = self._city(m.group("city"))
                city = city or name
                state = state or self._settings.cities.get(name)
            elif m.group("name"):
                state = self._state_of_name(m.group("name"))
            if state and state not in states:
                states.append(state)
        return city, tuple(states)

    def terms(self, text: str) -> dict[str, tuple[str, ...]]:
        """Certifications, roles and skills mentioned, by kind, in first-mention order."""
        regex, canonical = self._terms
        found: dict[str, dict[str, None]] = {kind: {} for kind in _KINDS}
        for m in regex.finditer(text):
            kind, term = _singular(canonical, _norm(m.group(0)))
            found[kind][term] = None
        return {kind: tuple(terms) for kind, terms in found.items()}

    def fields(self, text: str) -> Fields:
        city, states = self.locations(text)
        email = self._email.search(text)
        phone = self._phone.search(text)
        years = [int(m.group(1)) for m in self._years.finditer(text)]
        years = [y for y in years if y <= self._settings.max_years]
        terms = self.terms(text)
        return Fields(
            email=email.group(0) if email else None,
            phone=phone.group(0) if phone else None,
            state=states[0] if states else None,
            city=city,
            states=states,
            certifications=terms["certifications"],
            roles=terms["roles"],
            skills=terms["skills"],
            years_experience=max(years) if years else None,
        )
