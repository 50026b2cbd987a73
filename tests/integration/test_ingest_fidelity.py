"""Ingest fidelity end to end: every case of the hand-checked corpus (tests/data/ingest_fidelity)
goes up through the gRPC stub and through REST (Envoy), and lands whole with the expected
rows, names and read decisions, or is refused with the expected reason, line and parameter,
with nothing written."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from lakehouse.api.errors import InvalidArgument, LakehouseError, NotFound
from tests.support import ingest_corpus as corpus

MANIFEST = corpus.manifest()
FILE_CASES = [("text", c) for c in MANIFEST["text"]] + [("json", c) for c in MANIFEST["json"]]
SHEET_CASES = [c for c in MANIFEST["xlsx"] if "sheets" not in c]
_names = itertools.count()
# API names of a case's read parameters (the manifest uses the API's own spelling).
READ_KEYS = ("delimiter", "quote", "escape", "header", "skip", "comment", "null", "encoding", "compression", "sheet")


def _dataset(transport: str) -> str:
    return f"fidelity_{transport}_{next(_names)}"


def _read_params(case: dict[str, Any]) -> dict[str, Any]:
    params = {**case.get("options", {})}
    for key in ("format", "compression", "encoding", "sheet"):
        if case.get(key):
            params[key] = case[key]
    return params


def _grpc_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if "null" in out:
        out["null"] = list(out["null"])
    return out


def _rest_params(params: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            out.append((key, str(item)))
    return out


def _rest_ingest(system, dataset: str, body: bytes, params: list[tuple[str, str]]) -> httpx.Response:
    return httpx.post(
        f"{system.rest}/v1/datasets/{dataset}:ingest",
        params=[("mode", "create"), *params],
        content=body,
        headers={"content-type": "application/octet-stream"},
        timeout=120,
    )


def _reason(body: dict) -> tuple[str, dict[str, str]]:
    info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
    return info["reason"], info.get("metadata", {})


def _assert_nothing_written(system, client, dataset: str) -> None:
    with pytest.raises(NotFound):
        client.get_dataset(dataset)
    root = system.settings.lake_root / "datasets" / dataset
    assert not root.exists() or not any(root.rglob("*.parquet"))


def _check_refusal(case: dict[str, Any], reason: str, metadata: dict[str, str], message: str) -> None:
    assert reason == case["error"], message
    if "line" in case:
        assert metadata["line"] == str(case["line"]) and f"line {case['line']}" in message, (metadata, message)
    for parameter in case.get("parameters", []):
        assert parameter in metadata.get("parameters", metadata.get("parameter", "")) and parameter in message
    for engine_word in ("strict_mode", "ignore_errors", "max_line_size", "auto-detect", "spool", "/tmp/"):
        assert engine_word not in message, message


@pytest.mark.parametrize(("kind", "case"), FILE_CASES, ids=[f"{k}:{corpus.case_id(c)}" for k, c in FILE_CASES])
def test_corpus_file_over_grpc(system, client, kind: str, case: dict[str, Any]) -> None:
    name = _dataset("grpc")
    params = _read_params(case)
    if kind == "json":
        params.setdefault("format", "ndjson")
    if "error" in case:
        with pytest.raises(LakehouseError) as info:
            client.ingest(name, corpus.raw(case["file"]), mode="create", **_grpc_kwargs(params))
        err = info.value
        assert isinstance(err, InvalidArgument), err
        _check_refusal(case, err.reason, err.metadata, err.message)
        _assert_nothing_written(system, client, name)
        return
    result = client.ingest(name, corpus.raw(case["file"]), mode="create", **_grpc_kwargs(params))
    assert result.rows == case["rows"], result.reasoning
    assert [f.name for f in result.schema.fields] == case["columns"], result.reasoning
    table = client.query(f"SELECT * FROM {name}")
    assert table.num_rows == case["rows"] and table.column_names == case["columns"]
    if kind == "text":
        assert result.header == case["header"] and result.skipped_lines == case["skipped_lines"], result.reasoning
        assert len(result.renames) == case.get("renamed", 0)
        assert result.read_options.format == "csv"
    else:
        assert {r.original: r.name for r in result.renames} == case.get("renames", {})
    for column, row, value in case.get("cells", []):
        assert table.column(column)[row].as_py() == value, (column, row)
    for column, count in case.get("nulls", {}).items():
        assert table.column(column).null_count == count, column


@pytest.mark.parametrize(("kind", "case"), FILE_CASES, ids=[f"{k}:{corpus.case_id(c)}" for k, c in FILE_CASES])
def test_corpus_file_over_rest(system, client, kind: str, case: dict[str, Any]) -> None:
    name = _dataset("rest")
    params = _read_params(case)
    if kind == "json":
        params.setdefault("format", "ndjson")
    r = _rest_ingest(system, name, corpus.raw(case["file"]), _rest_params(params))
    if "error" in case:
        assert r.status_code == 400, r.text
        reason, metadata = _reason(r.json())
        _check_refusal(case, reason, metadata, r.json()["message"])
        _assert_nothing_written(system, client, name)
        return
    assert r.status_code == 200, r.text
    result = r.json()
    assert int(result["rows"]) == case["rows"], result
    assert [f["name"] for f in result["schema"]["fields"]] == case["columns"]
    if kind == "text":
        assert result["header"] == case["header"], result
        assert int(result.get("skipped_lines", 0)) == case["skipped_lines"], result
        assert len(result.get("renames", [])) == case.get("renamed", 0)


@pytest.mark.parametrize("case", SHEET_CASES, ids=[corpus.case_id(c) for c in SHEET_CASES])
def test_corpus_workbook_over_grpc_and_rest(system, client, case: dict[str, Any]) -> None:
    body = corpus.raw(case["file"])
    params = {"format": "xlsx", **({"sheet": case["sheet"]} if case["sheet"] else {})}
    grpc_name, rest_name = _dataset("grpc"), _dataset("rest")
    r = _rest_ingest(system, rest_name, body, _rest_params(params))
    if "error" in case:
        with pytest.raises(InvalidArgument) as info:
            client.ingest(grpc_name, body, mode="create", **params)
        assert info.value.reason == case["error"], info.value.message
        assert r.status_code == 400 and _reason(r.json())[0] == case["error"], r.text
        assert "/tmp/" not in info.value.message
        _assert_nothing_written(system, client, grpc_name)
        _assert_nothing_written(system, client, rest_name)
        return
    result = client.ingest(grpc_name, body, mode="create", **params)
    assert r.status_code == 200, r.text
    assert int(r.json()["rows"]) == case["rows"] == result.rows
    assert [f.name for f in result.schema.fields] == case["columns"]
    assert [f.type for f in result.schema.fields] == case["types"]
    assert result.read_options.sheet == case["sheet_name"] and result.read_options.header_rows == case["header_rows"]
    assert len(result.renames) == case.get("renamed", 0)
    rows = client.query(f"SELECT * FROM {grpc_name}").to_pylist()
    if "first_row" in case:
        assert rows[0] == {k: corpus.expected_value(v) for k, v in case["first_row"].items()}
    if "last_row" in case:
        assert rows[-1] == {k: corpus.expected_value(v) for k, v in case["last_row"].items()}
