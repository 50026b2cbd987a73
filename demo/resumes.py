"""Résumé PDFs for the staffing demo and the tests, written with fpdf2.

A ``Resume`` is the ground truth; ``render`` lays it out in one of several layouts
(so extraction meets varied reading orders), ``render_scan`` makes an image-only PDF
with no text layer (a scanned page), ``render_encrypted`` one locked with a user
password. Everything is deterministic for a given input.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fpdf import FPDF

LAYOUTS = ("classic", "sidebar", "compact")
FONT = "helvetica"
LINE_MM = 6
SCAN_DPI_SCALE = 3  # pixels per mm of the scanned page image
# Every file says it was made then, so the same résumé is the same bytes (and doc_id) on every run.
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Resume:
    name: str
    city: str
    state: str
    zip_code: str
    email: str
    phone: str
    roles: tuple[str, ...]  # job titles held, most recent first
    certifications: tuple[str, ...]
    skills: tuple[str, ...]
    years: int
    employers: tuple[str, ...] = ("Midwest Logistics",)
    summary: str = ""
    extra_pages: int = 0  # pages of work history beyond the first
    layout: str = "classic"
    history: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The résumé as plain lines, in reading order (also what a scan shows)."""
        out = [
            self.name,
            f"{self.city}, {self.state} {self.zip_code}",
            f"{self.email} | {self.phone}",
            "",
            "SUMMARY",
            self.summary or f"{self.roles[0].title()} with {self.years} years of experience.",
            "",
            "EXPERIENCE",
        ]
        for n, role in enumerate(self.roles):
            employer = self.employers[n % len(self.employers)]
            out.append(f"{role.title()}, {employer}")
        out += [*self.history, "", "CERTIFICATIONS", ", ".join(self.certifications) or "None listed", ""]
        out += ["SKILLS", ", ".join(self.skills)]
        return out


def _safe(text: str) -> str:
    """fpdf2's core fonts speak Latin-1."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _line(pdf: FPDF, text: str, size: int = 10, style: str = "") -> None:
    pdf.set_font(FONT, style, size)
    pdf.cell(0, LINE_MM, _safe(text), new_x="LMARGIN", new_y="NEXT")


def _classic(pdf: FPDF, r: Resume) -> None:
    lines = r.lines()
    _line(pdf, lines[0], 16, "B")
    for text in lines[1:]:
        bold = text.isupper() and bool(text)
        _line(pdf, text, 11 if bold else 10, "B" if bold else "")


def _sidebar(pdf: FPDF, r: Resume) -> None:
    """Contact and certifications in a left column, experience on the right."""
    _line(pdf, r.name, 18, "B")
    top = pdf.get_y()
    pdf.set_xy(pdf.l_margin, top)
    for text in (f"{r.city}, {r.state} {r.zip_code}", r.email, r.phone, "", "CERTIFICATIONS", *r.certifications):
        pdf.set_font(FONT, "", 9)
        pdf.cell(60, LINE_MM, _safe(text), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin + 70, top)
    right = [
        "SUMMARY",
        r.summary or f"{r.years} years as a {r.roles[0]}.",
        "EXPERIENCE",
        *(f"{role.title()} - {r.employers[n % len(r.employers)]}" for n, role in enumerate(r.roles)),
        *r.history,
        "SKILLS",
        ", ".join(r.skills),
    ]
    for text in right:
        pdf.set_x(pdf.l_margin + 70)
        pdf.set_font(FONT, "B" if text.isupper() else "", 10)
        pdf.cell(0, LINE_MM, _safe(text), new_x="LEFT", new_y="NEXT")


def _compact(pdf: FPDF, r: Resume) -> None:
    _line(pdf, f"{r.name} - {r.city}, {r.state} - {r.email} - {r.phone}", 11, "B")
    _line(pdf, f"Roles: {'; '.join(x.title() for x in r.roles)} ({r.years} years)")
    for text in r.history:
        _line(pdf, text, 9)
    _line(pdf, f"Certifications: {', '.join(r.certifications) or 'none'}")
    _line(pdf, f"Skills: {', '.join(r.skills)}")


_RENDERERS = {"classic": _classic, "sidebar": _sidebar, "compact": _compact}


def _document(r: Resume) -> FPDF:
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(CREATED)
    pdf.set_title(_safe(f"Resume - {r.name}"))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    _RENDERERS[r.layout](pdf, r)
    for n in range(r.extra_pages):
        pdf.add_page()
        _line(pdf, f"Work history, continued ({n + 2})", 11, "B")
        _line(pdf, f"{r.roles[n % len(r.roles)].title()} duties at {r.employers[n % len(r.employers)]}.")
    return pdf


def render(r: Resume) -> bytes:
    return bytes(_document(r).output())


def render_encrypted(r: Resume, password: str) -> bytes:
    pdf = _document(r)
    pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    return bytes(pdf.output())


def render_scan(r: Resume) -> bytes:
    """The résumé as a picture of a page: no text layer at all."""
    from PIL import Image, ImageDraw  # fpdf2 depends on Pillow

    width, height = 216 * SCAN_DPI_SCALE, 279 * SCAN_DPI_SCALE
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for n, text in enumerate(r.lines()):
        draw.text((20 * SCAN_DPI_SCALE, (20 + n * 7) * SCAN_DPI_SCALE), text, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF(format="Letter")
    pdf.set_creation_date(CREATED)
    pdf.add_page()
    pdf.image(io.BytesIO(buffer.getvalue()), x=0, y=0, w=216, h=279)
    return bytes(pdf.output())


def many_pages(pages: int) -> bytes:
    """A long PDF made fast: one short page, repeated (its content stream shared)."""
    import pypdf

    pdf = FPDF(format="Letter")
    pdf.set_creation_date(CREATED)
    pdf.add_page()
    _line(pdf, "Appendix page: forklift operator logbook, Joliet, IL")
    page = pypdf.PdfReader(io.BytesIO(bytes(pdf.output()))).pages[0]
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
