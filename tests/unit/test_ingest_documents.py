"""Document ingest (format=pdf / zip) on the real ingest core: one row per document, the
vocabulary's fields, page-bounded chunks, and every kind of bad file named."""

from __future__ import annotations

import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.ingest import IngestSpec
from lakehouse.demo.resumes import many_pages, render_encrypted, render_scan
from lakehouse.servers.ingest.core import DOCUMENT_JOURNAL_OPERATION
from lakehouse.servers.ingest.documents.chunks import page_chunks
from lakehouse.servers.settings import DocumentSettings, Settings
from lakehouse.servers.vocabulary import Vocabulary
from tests.support.documents import ANA, JOHN, MARIA, pdf, raw_zip_entry, zip_of
from tests.unit.test_ingest_core import Env


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    assert e.spool_files() == [] and not list(e.settings.spool_dir.glob("member-*"))
    e.catalog.close()


def _rows(env: Env, name: str) -> list[dict]:
    current = env.catalog.get_dataset(name).current
    names = current.schema.names
    tables = [pq.read_table(env.lake / f.path).select(names) for f in (*current.files, *current.deltas)]
    rows = pa.concat_tables(tables).to_pylist()
    return list({r["doc_id"]: r for r in rows}.values())  # the latest row of each document


def _ingest(env: Env, name: str, data: bytes, fmt: str = "auto", **kw):
    return env.core.ingest(IngestSpec(name, fmt, **kw), [data])


def test_one_pdf_is_one_row_with_parsed_fields_and_page_chunks(env):
    result = _ingest(env, "resumes", pdf(MARIA), file_name="maria.pdf")
    assert result.rows == 1 and result.read.format == "pdf" and result.mode == WriteMode.UPSERT
    assert result.warnings == () and result.rejected_files == ()
    (row,) = _rows(env, "resumes")
    assert len(row["doc_id"]) == 64 and row["file_name"] == "maria.pdf" and row["pages"] == 3
    assert row["text_status"] == "ok" and "Maria Lopez" in row["text"]
    assert row["email"] == "maria.lopez@example.com" and row["phone"] == "(815) 555-0134"
    assert (row["state"], row["city"]) == ("IL", "Joliet")
    assert row["certifications"] == ["OSHA-30", "First Aid"]
    assert "forklift operator" in row["roles"] and row["years_experience"] == 7
    assert "pallet jack" in row["skills"]
    assert [c["page"] for c in row["chunks"]] == [1, 2, 3]
    assert env.catalog.get_dataset("resumes").current.primary_key == ("doc_id",)


def test_the_same_file_again_is_a_no_op(env):
    first = _ingest(env, "resumes", pdf(MARIA), file_name="maria.pdf")
    again = _ingest(env, "resumes", pdf(MARIA), file_name="renamed.pdf")
    assert again.deduplicated and again.version == first.version
    # inside an archive the same document is upserted by doc_id, never duplicated
    _ingest(env, "resumes", zip_of({"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN)}), "zip")
    assert sorted(r["file_name"] for r in _rows(env, "resumes")) == ["john.pdf", "maria.pdf"]


def test_a_zip_lands_its_good_files_and_names_each_bad_one(env):
    members = {
        "a/maria.pdf": pdf(MARIA),
        "b/john.pdf": pdf(JOHN),
        "scan.pdf": render_scan(ANA),
        "locked.pdf": render_encrypted(ANA, "secret"),
        "notes.txt": b"not a pdf at all",
        "cut.pdf": pdf(ANA)[:600],
        "copy-of-maria.pdf": pdf(MARIA),
        "__MACOSX/._maria.pdf": b"resource fork",
    }
    result = _ingest(env, "resumes", zip_of(members), "zip")
    assert result.rows == 3  # maria, john, and the scan (as no_text)
    rejected = {r.file_name: r.reason for r in result.rejected_files}
    assert rejected == {
        "locked.pdf": "PDF_ENCRYPTED",
        "notes.txt": "NOT_A_PDF",
        "cut.pdf": "MALFORMED_PDF",
        "copy-of-maria.pdf": "DUPLICATE_DOCUMENT",
    }
    rows = {r["file_name"]: r for r in _rows(env, "resumes")}
    assert set(rows) == {"a/maria.pdf", "b/john.pdf", "scan.pdf"}
    assert rows["scan.pdf"]["text_status"] == "no_text" and rows["scan.pdf"]["chunks"] == []
    assert any("scan.pdf" in w and "no text layer" in w for w in result.warnings)
    journaled = {c["file_name"]: e.reason for op, e, c in env.journal.records if op == DOCUMENT_JOURNAL_OPERATION}
    assert journaled == rejected


@pytest.mark.parametrize(
    ("data", "fmt", "reason"),
    [
        (render_encrypted(MARIA, "secret"), "pdf", "PDF_ENCRYPTED"),
        (pdf(MARIA)[: len(pdf(MARIA)) // 2], "pdf", "MALFORMED_PDF"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n", "pdf", "MALFORMED_PDF"),
        (b"name,state\nMaria,IL\n", "pdf", "NOT_A_PDF"),
        (b"PK\x03\x04 this is no archive", "zip", "MALFORMED_ARCHIVE"),
        (pdf(MARIA), "zip", "MALFORMED_ARCHIVE"),
    ],
    ids=["encrypted", "truncated", "corrupt", "not-a-pdf", "broken-zip", "pdf-as-zip"],
)
def test_a_bad_single_upload_is_refused_and_nothing_lands(env, data, fmt, reason):
    with pytest.raises(errors.InvalidArgument) as info:
        _ingest(env, "resumes", data, fmt)
    assert info.value.reason == reason
    with pytest.raises(errors.NotFound):
        env.catalog.get_dataset("resumes")
    assert env.parquet_files() == []


def test_an_image_only_pdf_is_a_no_text_row_with_a_warning(env):
    result = _ingest(env, "scans", render_scan(MARIA), "pdf", file_name="scan.pdf")
    (row,) = _rows(env, "scans")
    assert row["text_status"] == "no_text" and row["text"] == "" and row["chunks"] == []
    assert len(result.warnings) == 1 and "no text layer" in result.warnings[0]


def test_an_archive_of_only_bad_files_fails_naming_them(env):
    with pytest.raises(errors.InvalidArgument) as info:
        _ingest(env, "resumes", zip_of({"a.txt": b"x", "b.pdf": render_encrypted(MARIA, "pw")}), "zip")
    assert info.value.reason == "NO_DOCUMENTS" and "a.txt" in info.value.message and "b.pdf" in info.value.message
    assert env.parquet_files() == []
    with pytest.raises(errors.InvalidArgument) as empty:
        _ingest(env, "resumes", zip_of({}), "zip")
    assert empty.value.reason in ("NO_DOCUMENTS", "EMPTY_INPUT", "MALFORMED_ARCHIVE")


@pytest.mark.parametrize("name", ["../evil.pdf", "/etc/evil.pdf", "a/../../evil.pdf", "C:\\evil.pdf"])
def test_a_path_that_escapes_refuses_the_archive(env, name):
    with pytest.raises(errors.InvalidArgument) as info:
        _ingest(env, "resumes", raw_zip_entry(name, pdf(MARIA)), "zip")
    assert info.value.reason == "UNSAFE_ARCHIVE_PATH" and info.value.metadata["file_name"] == name
    assert env.parquet_files() == []


def test_a_zip_bomb_is_refused_before_unpacking(env):
    bomb = zip_of({"bomb.pdf": b"%PDF-1.4\n" + b"\0" * (64 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    with pytest.raises(errors.InvalidArgument) as info:
        _ingest(env, "resumes", bomb, "zip")
    assert info.value.reason == "ARCHIVE_TOO_LARGE" and "zip bomb" in info.value.message


def test_thousands_of_pages_stream_in_bounded_memory(env):
    data = many_pages(3000)
    tracemalloc.start()
    try:
        result = _ingest(env, "long", data, "pdf", file_name="long.pdf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (row,) = _rows(env, "long")
    assert result.rows == 1 and row["pages"] == 3000 and len(row["chunks"]) == 3000
    # the page tree and the text are held, never the pages' parsed objects all at once
    assert peak < 96 * 1024 * 1024, peak


def test_a_document_over_the_page_limit_is_refused(tmp_path):
    env = Env(tmp_path)
    env.settings = Settings(home=tmp_path / "home", documents=DocumentSettings(max_pages=10))
    env.core = type(env.core)(env.catalog, env.store, env.journal, env.settings)
    with pytest.raises(errors.InvalidArgument) as info:
        _ingest(env, "long", many_pages(11), "pdf")
    assert info.value.reason == "DOCUMENT_TOO_LARGE" and "documents.max_pages" in info.value.message


def test_documents_refuse_a_schema_and_delete_mode(env):
    with pytest.raises(errors.InvalidArgument) as schema:
        _ingest(env, "resumes", pdf(MARIA), "pdf", schema="doc_id:string")
    assert schema.value.metadata.get("field") == "schema" or "schema" in schema.value.message
    with pytest.raises(errors.InvalidArgument) as delete:
        _ingest(env, "resumes", pdf(MARIA), "pdf", mode=WriteMode.DELETE)
    assert "mode" in delete.value.message or delete.value.metadata.get("field") == "mode"


def test_chunks_stay_within_a_page_and_overlap():
    text = " ".join(f"word{n}" for n in range(400))
    chunks = page_chunks(4, text, size=200, overlap=40)
    assert len(chunks) > 5 and {c.page for c in chunks} == {4}
    assert all(len(c.text) <= 200 for c in chunks)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.text.split()[-1] in b.text  # the overlap carries the last word over
    assert " ".join(c.text for c in chunks).split()[-1] == "word399"


def test_the_vocabulary_reads_a_question_and_a_resume_the_same_way():
    vocabulary = Vocabulary(Settings().vocabulary)
    question = vocabulary.fields("Forklift operator with OSHA-30 in IL")
    assert question.states == ("IL",) and question.certifications == ("OSHA-30",)
    assert question.roles == ("forklift operator",)  # "forklift" inside the role is not a certification
    text = "Gary, IN 46402. I worked IN the yard OR the dock. Milwaukee. 12 yrs. OSHA 10-hour"
    fields = vocabulary.fields(text)
    assert fields.states == ("IN", "WI") and fields.city == "Gary"  # ambiguous codes only as "City, IN"
    assert fields.years_experience == 12 and fields.certifications == ("OSHA-10",)


def test_worker_processes_and_the_ingest_process_read_an_archive_alike(tmp_path):
    members = {f"{n:02d}-{r.name}.pdf": pdf(r) for n, r in enumerate((MARIA, JOHN, ANA) * 3)}
    members["bad.pdf"] = b"%PDF-1.4 not really"
    results = {}
    for workers in (1, 2):
        env = Env(tmp_path / f"w{workers}")
        env.settings = Settings(home=tmp_path / f"w{workers}" / "home", documents=DocumentSettings(workers=workers))
        env.core = type(env.core)(env.catalog, env.store, env.journal, env.settings)
        try:
            result = _ingest(env, "resumes", zip_of(members), "zip")
            results[workers] = (
                result.rows,
                [(r.file_name, r.reason) for r in result.rejected_files],
                _rows(env, "resumes"),
            )
        finally:
            env.core.close()
    assert results[1] == results[2]
    rows, rejected, stored = results[2]
    assert rows == 3 and len(rejected) == 7  # six copies and one broken file, in archive order
    assert rejected[-1] == ("bad.pdf", "MALFORMED_PDF")
