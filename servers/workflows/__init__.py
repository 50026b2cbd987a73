"""Workflows: multi-pass YAML DAGs (Archon's nodes-only shape) whose nodes are prompts or
calls into the mode catalog, every node execution recorded as an ObservedOp.

``schema.py`` reads and validates a definition (nothing runs until it is valid),
``refs.py`` and ``conditions.py`` are the ``$id.output`` / ``$INPUTS`` grammar and ``when``,
``graph.py`` orders the nodes, ``modes.py`` is the catalog (``builtin.py`` and ``facts.py``
register the shipped modes), ``runner.py`` executes one run, ``core.py`` is the service.
"""
