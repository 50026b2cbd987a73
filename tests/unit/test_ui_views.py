"""The UI's view helpers: cells, CSV, SSE framing, pages, citation links, badges, contrast."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lakehouse.api.errors import InvalidArgument, Unavailable
from lakehouse.servers.ui import views


def test_cells_render_null_empty_and_nested_values_as_json():
    assert views.cell(None) == ""
    assert views.cell(3) == "3"
    assert views.cell({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'


def test_errors_keep_reason_and_map_to_http_status():
    bad = views.error_view(InvalidArgument("no such column x", reason="SQL_ERROR"))
    assert (bad.status, bad.reason, bad.message, bad.backend_down) == (400, "SQL_ERROR", "no such column x", False)
    down = views.error_view(Unavailable("gone", reason="UPSTREAM_UNAVAILABLE"))
    assert down.status == 503 and down.backend_down


def test_csv_stops_at_the_cap_and_says_so():
    table = pa.table({"id": list(range(10)), "name": [f"n{i}" for i in range(10)]})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=3))
    body, truncated = views.csv_bytes(reader, 4)
    lines = body.decode().strip().split("\n")
    assert truncated and lines[0] == '"id","name"' and len(lines) == 5 and lines[-1] == '3,"n3"'
    whole = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    assert views.csv_bytes(whole, 10)[1] is False


def test_sse_frames_each_line_and_ends_with_a_blank_line():
    assert views.sse("answer", "<p>a\nb</p>") == "event: answer\ndata: <p>a\ndata: b</p>\n\n"


@pytest.mark.parametrize(("number", "expected"), [(1, (1, 0, 2)), (2, (2, 1, 3)), (3, (3, 2, 0)), (9, (3, 2, 0))])
def test_pages_clamp_and_know_their_neighbours(number, expected):
    page = views.page_of(list(range(25)), number, 10)
    assert (page.number, page.prev, page.next) == expected and page.pages == 3
    assert views.page_of([], 1, 10).items == [] and views.page_of([], 1, 10).pages == 1


def test_page_numbers_from_the_query_string():
    assert [views.page_number(s) for s in ("2", "", "0", "-1", "x")] == [2, 1, 1, 1, 1]


def test_citations_link_only_retrieved_chunks_and_text_is_escaped():
    html = views.link_citations("Ana <b> fits [1], not [7].", {1: "/chunk?corpus=c&id=a"})
    assert html == 'Ana &lt;b&gt; fits <a href="/chunk?corpus=c&amp;id=a">[1]</a>, not [7].'


def test_preview_sql_quotes_the_name():
    assert views.preview_sql('we"ird', 5) == 'SELECT * FROM "we""ird" LIMIT 5'


def test_corpus_badges():
    assert views.corpus_badges(2, [1, 2], 1, True) == [
        "active gen 2",
        "rebuild running",
        "swap available",
        "rollback to gen 1",
    ]
    assert views.corpus_badges(1, [1], 0, False) == ["active gen 1"]


def test_contrast_ratio_is_the_wcag_formula():
    assert views.contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert views.contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    assert views.contrast_ratio((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)


def test_human_bytes():
    assert [views.human_bytes(n) for n in (12, 2048, 5 * 1024**3)] == ["12 B", "2.0 KiB", "5.0 GiB"]


def test_fill_probability_starts_at_the_match_score_and_learns_from_outcomes():
    assert views.fill_probability(0.8, 0, 0, 2.0) == pytest.approx(0.8)
    assert views.fill_probability(1.7, 0, 0, 2.0) == pytest.approx(1.0)  # clipped
    assert views.fill_probability(0.5, 2, 0, 2.0) == pytest.approx(0.75)
    assert views.fill_probability(0.5, 0, 2, 2.0) == pytest.approx(0.25)
    assert "w = 2" in views.FILL_METHOD.format(w=2.0)


def test_one_candidate_per_document_in_rank_order():
    from types import SimpleNamespace

    def hit(item, doc=None):
        return SimpleNamespace(corpus="c", id=item, metadata={"doc_id": doc} if doc else {})

    hits = [hit("a#1", "a"), hit("a#0", "a"), hit("x"), hit("b#0", "b"), hit("c#0", "c")]
    assert [h.id for h in views.best_per_document(hits, 3)] == ["a#1", "x", "b#0"]
