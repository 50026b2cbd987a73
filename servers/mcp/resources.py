"""The MCP resources: what an agent reads before it calls a tool. A dataset's schema
(``dataset://{name}/schema``) before writing SQL over it, a workflow's definition
(``workflow://{name}``: description, nodes, inputs) before running it. JSON text, read
through the Python client like the tools."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from lakehouse.api.errors import NotFound
from lakehouse.api.workflows import WORKFLOW_NOT_FOUND

DATASET_SCHEMA_URI = "dataset://{name}/schema"
WORKFLOW_URI = "workflow://{name}"
JSON_MIME = "application/json"


def dataset_schema(lh: Any, name: str) -> str:
    """The current version's columns (name, the catalog's type, nullable) and primary key."""
    d = lh.get_dataset(name)
    schema = {
        "dataset": d.name,
        "version": d.current.version,
        "primary_key": list(d.current.primary_key),
        "columns": [{"name": f.name, "type": f.type, "nullable": f.nullable} for f in d.current.schema.fields],
    }
    return json.dumps(schema)


def workflow_definition(lh: Any, name: str) -> str:
    """A known workflow (LAKEHOUSE_HOME/workflows or a shipped example): what it does, its
    nodes and its inputs."""
    for info in lh.list_workflows().workflows:
        if info.name == name:
            return json.dumps(asdict(info))
    raise NotFound(f"no known workflow is named {name!r}", reason=WORKFLOW_NOT_FOUND)
