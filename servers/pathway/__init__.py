"""Pathway memory: the steps successful runs took, keyed by a 32-bucket hash of their task.

``tokens.py`` and ``buckets.py`` are the byte contract (docs/pathway.md), implemented a
second time in Go (clients/go/pathway); ``types.py`` holds the pathway and the
matrix-correctness value types, ``state.py`` the JSON state file, ``core.py`` the service
(record, nearest, replay through the workflow core), ``modes.py`` the workflow modes.
"""
