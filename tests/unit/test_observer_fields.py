"""Op attributes: key fields of requests and responses, cut short, never secrets or payloads."""

from __future__ import annotations

from lakehouse.servers.observer.fields import ELLIPSIS, FieldSummaries
from lakehouse.servers.settings import DEFAULT_SECRET_FIELDS, ObserverSettings
from lakehouse.v1 import (
    catalog_pb2,
    ingest_pb2,
    matrix_pb2,
    models_pb2,
    query_pb2,
    sources_pb2,
    storage_pb2,
    vector_pb2,
)


def summaries(max_count: int = 16, max_chars: int = 32) -> FieldSummaries:
    return FieldSummaries(DEFAULT_SECRET_FIELDS, max_count, max_chars)


def of(message, **kw) -> dict[str, str]:
    out: dict[str, str] = {}
    summaries(**kw).add(message, out)
    return out


def test_secret_fields_are_never_read():
    attrs = of(sources_pb2.CreateSourceRequest(name="hr", host="db", port=5432, user="ro", password="hunter2"))
    assert attrs == {"name": "hr", "host": "db", "port": "5432", "user": "ro"}
    assert "hunter2" not in "".join(attrs.values())
    # Paging tokens and anything named like a key or credential are left out too.
    assert of(catalog_pb2.ListDatasetsRequest(page_size=5, page_token="abc")) == {"page_size": "5"}


def test_nested_messages_and_bytes_are_not_summarized():
    request = storage_pb2.CreateBucketRequest(bucket="b2", s3=storage_pb2.S3Location(secret_key="s3cret"))
    assert of(request) == {"bucket": "b2"}
    body = ingest_pb2.IngestRequest(dataset="people", format="csv")
    body.body.data = b"id,name\n1,a\n"
    assert of(body) == {"dataset": "people", "format": "csv"}


def test_values_are_cut_and_repeated_fields_joined_or_counted():
    attrs = of(query_pb2.SqlRequest(sql="SELECT " + "x, " * 50 + "1", max_rows=10), max_chars=20)
    assert attrs["sql"].endswith(ELLIPSIS) and len(attrs["sql"]) == 20 and attrs["max_rows"] == "10"
    matrix = of(matrix_pb2.MatrixSearchRequest(text="forklift", corpora=["a", "b"], k=5, vector=[0.1] * 384))
    assert matrix == {"text": "forklift", "vector": "384", "corpora": "a,b", "k": "5"}
    many = of(vector_pb2.DeleteItemsRequest(corpus="c", ids=[str(i) for i in range(20)]), max_chars=96)
    assert many["ids"].startswith("0,1,2,3,4,5,6,7,") and many["ids"].endswith("(+12)")
    rows = of(query_pb2.SqlResponse(rows=[{}, {}, {}], truncated=True, row_count=3))
    assert rows == {"rows": "3", "truncated": "true", "row_count": "3"}


def test_enums_by_name_and_floats_short():
    assert of(catalog_pb2.CommitVersionRequest(dataset="d", mode=catalog_pb2.WRITE_MODE_APPEND))["mode"] == (
        "WRITE_MODE_APPEND"
    )
    assert of(models_pb2.ChatRequest(model="m", temperature=0.25))["temperature"] == "0.25"


def test_at_most_max_count_attributes_and_earlier_ones_win():
    into = {"dataset": "from-request"}
    summaries(max_count=3).add(ingest_pb2.IngestResult(dataset="other", version=2, rows=9, files=1), into)
    assert into == {"dataset": "from-request", "version": "2", "rows": "9"}


def test_the_default_settings_name_the_secret_pattern():
    assert ObserverSettings().secret_fields == DEFAULT_SECRET_FIELDS
