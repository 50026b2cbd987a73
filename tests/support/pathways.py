"""Workflows that run offline (deterministic modes only: no model, no corpus), for the
pathway memory's replay gate: each is run, recorded from its run and replayed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOCUMENT = (
    "Maria Lopez is a forklift operator in Chicago, IL with 6 years of experience. "
    "She holds OSHA-30 and First Aid certifications. Email maria.lopez@example.com, "
    "phone (312) 555-0142."
)


@dataclass(frozen=True)
class OfflineWorkflow:
    yaml: str
    inputs: dict[str, Any]
    task: str


ORDER_FILTER = OfflineWorkflow(
    """
name: order-filter
description: The filter a job order implies, echoed for the next step.
inputs:
  job_order: {required: true}
nodes:
  - id: filter
    mode: filter.derive
    with: {text: $INPUTS.job_order}
  - id: keep
    depends_on: [filter]
    mode: echo
    with: {value: {filter: $filter.output.filter, order: $INPUTS.job_order}}
""",
    {"job_order": "Forklift operator with OSHA-30 in IL"},
    "find a forklift operator with OSHA-30 in IL",
)

FACT_CHECK = OfflineWorkflow(
    """
name: fact-check
description: Two extraction passes over a text, validated, grounded, agreed and rendered.
inputs:
  document: {required: true}
nodes:
  - id: terms
    mode: text.extract
    with: {text: $INPUTS.document, rules: vocabulary}
  - id: patterns
    mode: text.extract
    with:
      text: $INPUTS.document
      name: patterns
      rules:
        - {kind: certification, pattern: '\\b(OSHA[- ]?(?:10|30))\\b', ignore_case: true}
        - {kind: email, pattern: '[\\w.+-]+@[\\w-]+(?:\\.[\\w-]+)+', group: 0}
  - id: validate
    depends_on: [terms, patterns]
    mode: facts.validate
    with: {passes: [$terms.output.claims, $patterns.output.claims]}
  - id: grounded
    depends_on: [validate]
    mode: facts.hallucination
    with: {passes: $validate.output.passes, source: $INPUTS.document}
  - id: consensus
    depends_on: [grounded]
    mode: facts.consensus
    with: {passes: $grounded.output.passes, min_votes: 2}
  - id: render
    depends_on: [consensus]
    mode: text.render
    with:
      title: Fact check
      sections:
        - {heading: Agreed, items: $consensus.output.agreed, format: "{kind}: {value}"}
""",
    {"document": DOCUMENT},
    "fact check a résumé: certifications and contact details agreed by two passes",
)

CONDITIONAL = OfflineWorkflow(
    """
name: conditional
description: A node skipped by its condition is not part of the path taken.
inputs:
  shift: {default: night}
nodes:
  - id: start
    mode: echo
    with: {value: $INPUTS.shift}
  - id: day_only
    depends_on: [start]
    when: "$start.output.value == 'day'"
    mode: echo
    with: {value: day shift}
  - id: finish
    depends_on: [start]
    mode: echo
    with: {value: "shift $start.output.value confirmed"}
""",
    {},
    "confirm the night shift schedule",
)

OFFLINE_WORKFLOWS = (ORDER_FILTER, FACT_CHECK, CONDITIONAL)
