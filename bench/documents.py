"""PDF ingest benchmark: résumé documents per second through the service against the
same library's raw extraction in-process.

    python bench/documents.py [--documents 2000] [--repeat 3]

Side by side on the same demo résumés (lakehouse.demo.world, text PDFs), in one run:

* lakehouse: one ZIP of the documents ingested with format=zip through Envoy's gRPC
  port: upload, unpack each member to the spool, read it with pypdf page by page,
  parse the vocabulary's fields, chunk, write Parquet and commit (no embedding);
* baseline: ``pypdf.PdfReader`` + ``page.extract_text()`` over every page of every
  document, in this process, from bytes already in memory.

Target (issue 11): lakehouse documents/s >= 0.8x the baseline's. Reports; never asserts.
"""

from __future__ import annotations

import argparse
import io
import zipfile

import benchlib
from benchlib import Table, fmt_num, interleaved, log, median, running_system

DEFAULT_DOCUMENTS = 2000
DEFAULT_REPEAT = 3
TARGET_RATIO = 0.8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=DEFAULT_DOCUMENTS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = parser.parse_args()
    benchlib.install_signal_handlers()

    import pypdf

    from lakehouse.demo.world import World

    world = World(workers=args.documents * 2, resumes=args.documents * 2)
    log(f"generating {args.documents} résumé PDFs")
    pdfs = []
    for resume in world.resumes():
        if resume.kind == "text":
            pdfs.append((resume.file_name, resume.data))
        if len(pdfs) == args.documents:
            break
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in pdfs:
            archive.writestr(name, data)
    upload = buffer.getvalue()
    pages = sum(len(pypdf.PdfReader(io.BytesIO(d)).pages) for _, d in pdfs)
    print(f"documents: {len(pdfs)} PDFs, {pages} pages, {len(upload) / 1e6:.1f} MB; {benchlib.environment()}")

    with running_system() as system, system.client(timeout_s=3600) as lh:
        counter = iter(range(1_000_000))

        def lakehouse() -> None:
            result = lh.ingest(f"docs_{next(counter)}", upload, format="zip")
            assert result.rows == len(pdfs) and not result.rejected_files, result

        def raw() -> None:
            for _, data in pdfs:
                reader = pypdf.PdfReader(io.BytesIO(data))
                for page in reader.pages:
                    page.extract_text()

        def cleanup() -> None:
            for ds in lh.list_datasets():
                lh.delete_dataset(ds.name)

        times = interleaved({"lakehouse": lakehouse, "pypdf": raw}, args.repeat, between=cleanup)

    lake, base = median(times["lakehouse"]), median(times["pypdf"])
    ratio = (len(pdfs) / lake) / (len(pdfs) / base)
    table = Table(f"PDF ingest, {len(pdfs)} résumés ({pages} pages); median of {args.repeat} interleaved runs")
    table.add(
        "documents/s",
        fmt_num(len(pdfs) / lake),
        fmt_num(len(pdfs) / base),
        f"{ratio:.2f}x",
        f">= {TARGET_RATIO}x",
        ratio >= TARGET_RATIO,
    )
    table.add("total (s)", fmt_num(lake, "s"), fmt_num(base, "s"), f"{lake / base:.2f}x")
    table.notes.append("lakehouse: upload, unpack, extract, parse fields, chunk, Parquet, commit; baseline: extract")
    table.emit("documents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
