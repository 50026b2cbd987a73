"""Résumé PDFs and archives for the document-ingest tests (the generator is the demo's)."""

from __future__ import annotations

import io
import zipfile

from lakehouse.demo.resumes import Resume, render

MARIA = Resume(
    name="Maria Lopez",
    city="Joliet",
    state="IL",
    zip_code="60431",
    email="maria.lopez@example.com",
    phone="(815) 555-0134",
    roles=("forklift operator", "order picker"),
    certifications=("OSHA-30", "First Aid"),
    skills=("pallet jack", "RF scanner"),
    years=7,
    layout="sidebar",
    extra_pages=2,
)
JOHN = Resume(
    name="John Smith",
    city="Dallas",
    state="TX",
    zip_code="75201",
    email="john.smith@example.com",
    phone="214-555-0100",
    roles=("welder",),
    certifications=("AWS D1.1",),
    skills=("MIG welding",),
    years=4,
)
ANA = Resume(
    name="Ana Ruiz",
    city="Milwaukee",
    state="WI",
    zip_code="53202",
    email="ana.ruiz@example.com",
    phone="414-555-0199",
    roles=("warehouse associate",),
    certifications=("OSHA-10", "Forklift certified"),
    skills=("inventory control",),
    years=3,
    layout="compact",
)


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def raw_zip_entry(name: str, data: bytes) -> bytes:
    """An archive whose member name is written as given (zipfile would keep '..' too,
    but this makes the intent explicit)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        archive.writestr(info, data)
    return buffer.getvalue()


def pdf(resume: Resume = MARIA) -> bytes:
    return render(resume)
