"""Résumé documents end to end: a folder of PDFs through the CLI, one PDF over REST
(raw body, Envoy), an archive over gRPC with embed-on-ingest, so each chunk is a corpus
item a search hit can cite by page, and the bad files each named with their reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from lakehouse.api.errors import InvalidArgument
from lakehouse.demo.resumes import render_encrypted, render_scan
from tests.support.documents import ANA, JOHN, MARIA, pdf, zip_of
from tests.support.system import System

CLI_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def dsystem(tmp_path_factory):
    system = System.start(tmp_path_factory.mktemp("documents-home"))
    yield system
    system.stop()


def _cli(system: System, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env={**os.environ, **system.env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def test_an_archive_embeds_each_chunk_so_a_hit_cites_its_page(dsystem):
    archive = zip_of(
        {"maria.pdf": pdf(MARIA), "john.pdf": pdf(JOHN), "ana.pdf": pdf(ANA), "locked.pdf": render_encrypted(ANA, "pw")}
    )
    with dsystem.client() as lh:
        result = lh.ingest("resumes", archive, format="zip", embed={"embed_corpus": "resume_chunks"})
        assert result.rows == 3 and [(r.file_name, r.reason) for r in result.rejected_files] == [
            ("locked.pdf", "PDF_ENCRYPTED")
        ]
        assert result.embedded == 5  # maria has three pages, john and ana one each
        hits = lh.search("resume_chunks", text="forklift operator OSHA-30", k=5, include_text=True).results
        assert hits[0].metadata["file_name"] == "maria.pdf"
        pages = {h.metadata["page"]: h for h in hits if h.metadata["file_name"] == "maria.pdf"}
        assert set(pages) == {1, 2, 3}  # one item per page-bounded chunk, each citing its page
        first = pages[1]
        assert first.id == f"{first.metadata['doc_id']}#0" and "OSHA-30" in first.text
        assert first.metadata["certifications"] == ["OSHA-30", "First Aid"] and first.metadata["state"] == "IL"
        only = lh.search("resume_chunks", text="warehouse", k=10, filter={"certifications": "OSHA-10"}).results
        assert {h.metadata["file_name"] for h in only} == {"ana.pdf"}
        rows = lh.sql(
            "SELECT file_name, state, years_experience FROM resumes WHERE list_contains(certifications, 'OSHA-30')"
        ).rows
        assert rows == [["maria.pdf", "IL", 7]]


def test_a_document_upload_with_table_embed_columns_is_refused_before_writing(dsystem):
    with dsystem.client() as lh, pytest.raises(InvalidArgument) as info:
        lh.ingest(
            "resumes_cols",
            pdf(JOHN),
            format="pdf",
            embed={"embed_corpus": "x", "embed_id_column": "id", "embed_text_columns": ["bio"]},
        )
    assert "leave the embed columns empty" in info.value.message
    with dsystem.client() as lh:
        assert "resumes_cols" not in [d.name for d in lh.list_datasets()]


def test_one_pdf_over_rest_and_each_bad_one_gets_a_400_with_its_reason(dsystem):
    url = f"{dsystem.rest}/v1/datasets/rest_resumes:ingest"
    ok = httpx.post(url, params={"format": "pdf", "file_name": "maria.pdf"}, content=pdf(MARIA), timeout=60)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["rows"] == "1" and body["read_options"]["format"] == "pdf"
    scan = httpx.post(url, params={"file_name": "scan.pdf"}, content=render_scan(JOHN), timeout=60)  # detected
    assert scan.status_code == 200 and "no text layer" in scan.json()["warnings"][0]
    for data, reason in [
        (render_encrypted(MARIA, "pw"), "PDF_ENCRYPTED"),
        (pdf(MARIA)[:500], "MALFORMED_PDF"),
        (b"id,name\n1,maria\n", "NOT_A_PDF"),
    ]:
        bad = httpx.post(url, params={"format": "pdf"}, content=data, timeout=60)
        assert bad.status_code == 400, bad.text
        assert reason in bad.text
    archive = zip_of({"good.pdf": pdf(ANA), "bad.pdf": b"%PDF-1.4 garbage"})
    mixed = httpx.post(url, params={"format": "zip"}, content=archive, timeout=60)
    assert mixed.status_code == 200, mixed.text
    assert mixed.json()["rejected_files"] == [
        {
            "file_name": "bad.pdf",
            "reason": "MALFORMED_PDF",
            "message": "is truncated or corrupt: it has no %%EOF marker at its end",
        }
    ]
    escape = httpx.post(url, params={"format": "zip"}, content=zip_of({"../../etc/cron.pdf": pdf(ANA)}), timeout=60)
    assert escape.status_code == 400 and "UNSAFE_ARCHIVE_PATH" in escape.text


def test_the_cli_uploads_a_folder_and_lists_what_it_refused(dsystem, tmp_path):
    folder = tmp_path / "resumes"
    (folder / "2026").mkdir(parents=True)
    (folder / "maria.pdf").write_bytes(pdf(MARIA))
    (folder / "2026" / "john.pdf").write_bytes(pdf(JOHN))
    (folder / "2026" / "locked.pdf").write_bytes(render_encrypted(ANA, "pw"))
    (folder / "notes.txt").write_text("not uploaded: only PDFs are")
    done = _cli(dsystem, "ingest", "cli_resumes", str(folder))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("cli_resumes v1 (upsert): 2 rows")
    assert any(line.startswith("  rejected 2026/locked.pdf: PDF_ENCRYPTED") for line in lines)
    again = _cli(dsystem, "ingest", "cli_resumes", str(folder), "--json")
    assert json.loads(again.stdout)["deduplicated"] is True
    single = _cli(dsystem, "ingest", "cli_resumes", str(folder / "maria.pdf"), "--json")
    assert single.returncode == 0 and json.loads(single.stdout)["rows"] == "1"
    rows = _cli(dsystem, "sql", "SELECT count(*) AS n FROM cli_resumes", "--json")
    assert rows.returncode == 0, rows.stderr
