"""Deterministic modes for multi-pass checks of a text: extract facts by rules, validate
them, check that every claim is grounded in the source, keep what independent passes
agree on, and render a report. No model is needed, so a run is repeatable and testable.

A claim is ``{"kind", "value", "evidence"}``: ``evidence`` is the sentence of the source it
was read from, verbatim. ``text.extract`` reads claims with the staffing vocabulary (the
rules ingest parsed the documents with) or with patterns the node gives; a pass's claims
are unique by kind and value.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from lakehouse.api import errors
from lakehouse.servers.vocabulary import Vocabulary
from lakehouse.servers.workflows.builtin import COUNT, STR, STRS, TEXT, obj
from lakehouse.servers.workflows.modes import ModeContext, register

VOCABULARY_RULES = "vocabulary"
INVALID_FORMAT = "INVALID_FORMAT"
CLAIM = {"type": "object", "properties": {"kind": TEXT, "value": {}, "evidence": STR}, "required": ["kind", "value"]}
CLAIMS = {"type": "array", "items": CLAIM}
PASSES = {"type": "array", "items": CLAIMS, "minItems": 1}
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_SPACE = re.compile(r"\s+")
_SEPARATORS = re.compile(r"[\s\-_]+")
PATTERN_RULE = obj(
    {
        "kind": TEXT,
        "pattern": {"type": "string", "minLength": 1, "format": "regex"},
        "group": {"type": "integer", "minimum": 0},
        "ignore_case": {"type": "boolean"},
    },
    ["kind", "pattern"],
)


def sentences(text: str) -> Iterator[str]:
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if part:
            yield part


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def norm(value: Any) -> str:
    """A value compared loosely: case, and runs of spaces, hyphens and underscores, ignored."""
    return _SEPARATORS.sub(" ", str(value)).strip().lower()


def _vocabulary_claims(vocabulary: Vocabulary, sentence: str) -> Iterator[tuple[str, str]]:
    f = vocabulary.fields(sentence)
    for kind, values in (
        ("certification", f.certifications),
        ("role", f.roles),
        ("skill", f.skills),
        ("state", f.states),
    ):
        for v in values:
            yield kind, v
    for kind, value in (("city", f.city), ("email", f.email), ("phone", f.phone)):
        if value:
            yield kind, value
    if f.years_experience is not None:
        yield "years_experience", str(f.years_experience)


def _pattern_claims(rules: Sequence[Mapping[str, Any]], sentence: str) -> Iterator[tuple[str, str]]:
    for rule in rules:
        regex = re.compile(rule["pattern"], re.IGNORECASE if rule.get("ignore_case") else 0)
        group = rule.get("group", 1 if regex.groups else 0)
        if group > regex.groups:
            raise errors.invalid_field("rules.group", f"{rule['pattern']!r} has {regex.groups} groups, not {group}")
        for m in regex.finditer(sentence):
            if m.group(group):
                yield rule["kind"], m.group(group)


@register(
    "text.extract",
    obj(
        {
            "text": STR,
            "rules": {"oneOf": [{"const": VOCABULARY_RULES}, {"type": "array", "items": PATTERN_RULE, "minItems": 1}]},
            "name": STR,
        },
        ["text", "rules"],
    ),
)
def text_extract(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Claims read sentence by sentence: with the vocabulary (``rules: vocabulary``), or
    with ``[{kind, pattern, group?, ignore_case?}]`` (the value is the pattern's first group,
    or the whole match)."""
    rules = a["rules"]
    name = a.get("name") or (VOCABULARY_RULES if rules == VOCABULARY_RULES else "patterns")
    seen: set[tuple[str, str]] = set()
    claims = []
    for sentence in sentences(a["text"]):
        found = (
            _vocabulary_claims(ctx.services.vocabulary, sentence)
            if rules == VOCABULARY_RULES
            else _pattern_claims(rules, sentence)
        )
        for kind, value in found:
            key = (kind, norm(value))
            if key not in seen:
                seen.add(key)
                claims.append({"kind": kind, "value": value, "evidence": sentence, "pass": name})
    return {"claims": claims, "count": len(claims), "pass": name}


def _passes(a: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    if "passes" in a:
        return [list(p) for p in a["passes"]]
    return [list(a["claims"])]


PASSES_OR_CLAIMS = [{"required": ["passes"]}, {"required": ["claims"]}]


@register(
    "facts.validate",
    {
        **obj(
            {
                "passes": PASSES,
                "claims": CLAIMS,
                "kinds": STRS,
                "required_kinds": STRS,
                "patterns": {"type": "object", "additionalProperties": {"type": "string", "format": "regex"}},
                "min_evidence_chars": {"type": "integer", "minimum": 0},
            }
        ),
        "oneOf": PASSES_OR_CLAIMS,
    },
)
def facts_validate(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Each claim checked against rules: its kind among ``kinds``, a non-empty value that
    matches ``patterns[kind]`` (whole), evidence of at least ``min_evidence_chars``; and every
    kind of ``required_kinds`` present among the valid claims. ``passes`` keeps the valid
    claims of each pass, in order."""
    kinds = set(a.get("kinds", ()))
    patterns = {k: re.compile(p) for k, p in a.get("patterns", {}).items()}
    min_evidence = a.get("min_evidence_chars", 1)
    kept_passes, invalid = [], []
    for index, claims in enumerate(_passes(a)):
        kept = []
        for claim in claims:
            value = "" if claim.get("value") is None else str(claim["value"]).strip()
            kind = claim["kind"]
            why = ""
            if kinds and kind not in kinds:
                why = f"kind {kind!r} is not one of {sorted(kinds)}"
            elif not value:
                why = "empty value"
            elif kind in patterns and not patterns[kind].fullmatch(value):
                why = f"{value!r} does not match the {kind} pattern {patterns[kind].pattern!r}"
            elif len(str(claim.get("evidence", ""))) < min_evidence:
                why = f"evidence shorter than {min_evidence} characters"
            if why:
                invalid.append({**claim, "why": why, "pass_index": index})
            else:
                kept.append(claim)
        kept_passes.append(kept)
    present = {c["kind"] for p in kept_passes for c in p}
    missing = [k for k in a.get("required_kinds", ()) if k not in present]
    return {
        "passes": kept_passes,
        "valid_count": sum(len(p) for p in kept_passes),
        "invalid": invalid,
        "invalid_count": len(invalid),
        "missing_kinds": missing,
        "ok": not invalid and not missing,
    }


def _flexible_in(value: str, text: str) -> bool:
    """``value`` appears in ``text``, case, and spaces against hyphens, aside."""
    parts = [re.escape(p) for p in _SEPARATORS.split(value.strip()) if p]
    if not parts:
        return False
    return re.search(r"(?<!\w)" + r"[\s\-_]+".join(parts) + r"(?!\w)", text, re.IGNORECASE) is not None


def _grounded(claim: Mapping[str, Any], source: str, vocabulary: Vocabulary) -> str:
    """Why the claim is not grounded in ``source`` ("" when it is)."""
    value = str(claim.get("value", "")).strip()
    evidence = _squash(str(claim.get("evidence", "")))
    if not value:
        return "empty value"
    if not evidence:
        return "" if _flexible_in(value, source) else f"{value!r} does not appear in the source"
    if evidence not in source:
        return "its evidence is not a passage of the source"
    if _flexible_in(value, evidence):
        return ""
    # A canonical term ("OSHA-30" for "OSHA 30 hour"): the evidence must say it under the same rules.
    read = {(k, norm(v)) for k, v in _vocabulary_claims(vocabulary, evidence)}
    if (claim["kind"], norm(value)) in read:
        return ""
    return f"its evidence does not say {value!r}"


@register(
    "facts.hallucination",
    {**obj({"passes": PASSES, "claims": CLAIMS, "source": STR}, ["source"]), "oneOf": PASSES_OR_CLAIMS},
)
def facts_hallucination(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Every claim must be grounded in ``source``: its evidence a verbatim passage of it
    (spacing aside), and its value said by that evidence (or, without evidence, found in
    the source). The rest are ``unsupported``, each with why."""
    source = _squash(a["source"])
    vocabulary = ctx.services.vocabulary
    kept_passes, unsupported = [], []
    for index, claims in enumerate(_passes(a)):
        kept = []
        for claim in claims:
            why = _grounded(claim, source, vocabulary)
            if why:
                unsupported.append({**claim, "why": why, "pass_index": index})
            else:
                kept.append(claim)
        kept_passes.append(kept)
    return {
        "passes": kept_passes,
        "supported_count": sum(len(p) for p in kept_passes),
        "unsupported": unsupported,
        "unsupported_count": len(unsupported),
        "ok": not unsupported,
    }


@register("facts.consensus", obj({"passes": PASSES, "min_votes": COUNT}, ["passes"]))
def facts_consensus(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """Claims (by kind and loosely compared value) that at least ``min_votes`` passes made
    (default: a majority) are ``agreed``, the others ``disputed``; first-seen order."""
    passes = _passes(a)
    min_votes = a.get("min_votes", len(passes) // 2 + 1)
    tally: dict[tuple[str, str], dict[str, Any]] = {}
    for index, claims in enumerate(passes):
        for claim in claims:
            key = (claim["kind"], norm(claim.get("value", "")))
            seen = tally.setdefault(
                key,
                {"kind": claim["kind"], "value": claim["value"], "evidence": claim.get("evidence", ""), "passes": []},
            )
            if index not in seen["passes"]:
                seen["passes"].append(index)
    agreed, disputed = [], []
    for item in tally.values():
        item["votes"] = len(item["passes"])
        (agreed if item["votes"] >= min_votes else disputed).append(item)
    return {
        "agreed": agreed,
        "disputed": disputed,
        "agreed_count": len(agreed),
        "disputed_count": len(disputed),
        "passes": len(passes),
        "min_votes": min_votes,
    }


SECTION = obj({"heading": TEXT, "items": {"type": "array"}, "format": STR, "empty": STR}, ["heading", "items"])
_FORMATTER = string.Formatter()


def _item_text(item: Any, fmt: str, where: str) -> str:
    if not fmt:
        if isinstance(item, Mapping) and "kind" in item and "value" in item:
            return f"{item['kind']}: {item['value']}"
        return item if isinstance(item, str) else str(item)
    values = item if isinstance(item, Mapping) else {"item": item}
    for _, name, _, _ in _FORMATTER.parse(fmt):
        if name is None:
            continue
        if not name.isidentifier():
            raise errors.invalid_field(
                f"{where}.format", f"{{{name}}}: name a field of the item, e.g. {{value}}", INVALID_FORMAT
            )
        if name not in values:
            raise errors.invalid_field(f"{where}.format", f"the item has no field {name!r}", INVALID_FORMAT)
    try:
        return fmt.format_map(values)
    except (ValueError, IndexError) as exc:
        raise errors.invalid_field(f"{where}.format", str(exc), INVALID_FORMAT) from None


@register(
    "text.render",
    obj({"title": TEXT, "intro": STR, "sections": {"type": "array", "items": SECTION}, "footer": STR}, ["title"]),
)
def text_render(ctx: ModeContext, a: dict[str, Any]) -> dict[str, Any]:
    """A Markdown report: the title, an intro, a bulleted list per section (each item through
    ``format``, a ``str.format`` template over the item's fields) and a footer."""
    lines = [f"# {a['title']}", ""]
    if a.get("intro"):
        lines += [a["intro"], ""]
    for i, section in enumerate(a.get("sections", ())):
        lines += [f"## {section['heading']}", ""]
        items = section["items"]
        if not items:
            lines.append(section.get("empty", "(none)"))
        lines += [f"- {_item_text(item, section.get('format', ''), f'sections[{i}]')}" for item in items]
        lines.append("")
    if a.get("footer"):
        lines += [a["footer"], ""]
    text = "\n".join(lines).rstrip() + "\n"
    return {"text": text, "lines": text.count("\n")}
