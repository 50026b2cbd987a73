"""Generate the ingest-fidelity corpus: small tricky files, each one case of issue "Ingest fidelity".

Run ``python tests/data/ingest_fidelity/make.py`` to (re)write the files next to this
script; ``--check`` only compares. Every file is committed, binary ones included, so
a reader can open them; generation is deterministic (gzip mtime 0, ZIP entries
stored with a fixed date). The expected row counts, names and errors are in
``expected.toml``, checked by hand against the text below, not computed from it.

Workbooks are written here directly as SpreadsheetML (no spreadsheet library), so
the corpus does not depend on the reader it tests.
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
ZIP_DATE = (2024, 1, 1, 0, 0, 0)

# -- CSV / TSV ------------------------------------------------------------------

HEADERLESS_NUMERIC = """\
1,15519,785,1,17.00
1,67310,7311,2,36.00
1,63700,3701,3,8.00
2,106170,1191,1,38.00
3,4297,1798,1,45.00
3,19036,6540,2,49.00
"""

HEADERLESS_TEXT = """\
SMITH,JOHN,A,SPRINGFIELD,IL
DOE,JANE,,SHELBYVILLE,IL
BROWN,ANN,M,OGDENVILLE,IN
GARCIA,LUIS,R,NORTH HAVERBROOK,IN
"""

ONE_ROW_HEADERLESS = "1,15519,785,1,17.00\n"

HEADER_TEXT = """\
first_name,last_name,state
John,Smith,NY
Jane,Doe,CA
Ann,Brown,TX
"""

PREAMBLE = """\
Quarterly staffing report
Generated 2024-01-05 by HR export

id,name,hours
1,Ann,7.5
2,Bob,8
3,Cy,6.25
"""

COMMENTS = """\
# exported by the staffing tool v2
id,address,hours
1,Apt #5 Main St,7.5
# contractors below
2,12 Elm St,8
3,"#9, Oak Ave",6
"""

COMMENTED_HEADER = """\
# source: payroll
# period: 2024-01
# columns: employee id, amount
employee,amount
101,2500.00
102,3100.50
"""

LITERAL_QUOTES_TSV = 'title\tyear\tnote\n5" floppy\t1990\tsay "hi\n"Quoted" title\t2001\tx\n'

NULLS = "id,score,city\n1,NA,Oslo\n\\N,7,NA\n3,9,\n"

# TPC-H lineitem rows as dbgen writes them: '|' after every field, the last included.
TPC_LINEITEM = """\
1|15519|785|1|17|24386.67|0.04|0.02|N|O|1996-03-13|1996-02-12|1996-03-22|DELIVER IN PERSON|TRUCK|egular courts|
1|67310|7311|2|36|45983.16|0.09|0.06|N|O|1996-04-12|1996-02-28|1996-04-20|TAKE BACK RETURN|MAIL|slyly bold |
1|63700|3701|3|8|13309.60|0.10|0.02|N|O|1996-01-29|1996-03-05|1996-01-31|TAKE BACK RETURN|REG AIR|riously. regular|
2|106170|1191|1|38|44694.46|0.00|0.05|N|O|1997-01-28|1997-01-14|1997-02-02|TAKE BACK RETURN|RAIL|ven requests|
"""

SEMICOLON = "name;amount\nA;1,5\nB;2,25\n"

SINGLE_COLUMN = "name\nAnn\nBob, Jr.\nCarl\n"

CASE_HEADER = "Platform,platform,count\nios,iOS,3\nandroid,Android,5\n"

MALFORMED_QUOTE = 'id,name,team\n1,Ann,red\n2,"Bob,blue\n3,Cy,green\n4,Di,red\n'

RAGGED = "a,b,c\n1,2,3\n4,5\n6,7,8\n"

HEADLESS_PREAMBLE = "exported 2024-01-01\n1,2,3\n4,5,6\n"

LATIN1_TEXT = "name,city\nJosé,Málaga\nRené,Zürich\n"

CP1252_TEXT = "item,price\nCafé – crème,€3\n"

UTF16_TSV = "name\tcity\nJosé\tMálaga\n李\t北京\n"

# -- JSON -------------------------------------------------------------------------

CASE_KEYS = (
    '{"Platform":"ios","platform":"iOS","n":1}\n'
    '{"Platform":"android","platform":"Android","n":2}\n'
    '{"platform":"Web","n":3}\n'
)

CASE_KEYS_NESTED = '{"id":1,"device":{"Platform":"ios"}}\n{"id":2,"device":{"platform":"web"}}\n'

DUPLICATE_KEY = '{"id":1,"n":2}\n{"id":2,"n":3,"n":4}\n'


# -- Workbooks ----------------------------------------------------------------------

DATE_STYLE = 1  # cellXfs index of the yyyy-mm-dd number format


def _col(i: int) -> str:
    out, i = "", i + 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell(ref: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        kind, raw = value
        if kind == "date":
            return f'<c r="{ref}" s="{DATE_STYLE}"><v>{raw}</v></c>'
        if kind == "styled":  # formatting only: Excel counts it in the used area
            return f'<c r="{ref}" s="{DATE_STYLE}"/>'
        if kind == "bool":
            return f'<c r="{ref}" t="b"><v>{int(bool(raw))}</v></c>'
        raise ValueError(kind)
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _sheet_xml(rows: list[list[object]], merges: list[str]) -> str:
    body = "".join(
        f'<row r="{r + 1}">' + "".join(_cell(f"{_col(c)}{r + 1}", v) for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(rows)
    )
    merged = (
        f'<mergeCells count="{len(merges)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merges) + "</mergeCells>"
        if merges
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{body}</sheetData>{merged}</worksheet>"
    )


def workbook(sheets: list[dict], date1904: bool = False) -> bytes:
    """A minimal .xlsx: sheets are dicts with name, rows, merges and (optionally) hidden."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    n = len(sheets)
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{pkg}/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for i in range(n)
            )
            + "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}">'
            + ('<workbookPr date1904="1"/>' if date1904 else "<workbookPr/>")
            + "<sheets>"
            + "".join(
                f'<sheet name="{escape(s["name"])}" sheetId="{i + 1}"'
                + (' state="hidden"' if s.get("hidden") else "")
                + f' r:id="rId{i + 1}"/>'
                for i, s in enumerate(sheets)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
            + "".join(
                f'<Relationship Id="rId{i + 1}" Type="{rel}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                for i in range(n)
            )
            + f'<Relationship Id="rId{n + 1}" Type="{rel}/styles" Target="styles.xml"/></Relationships>'
        ),
        "xl/styles.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{main}">'
            '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
            '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>'
        ),
    }
    for i, s in enumerate(sheets):
        parts[f"xl/worksheets/sheet{i + 1}.xml"] = _sheet_xml(s["rows"], s.get("merges", []))
    return _zip(parts)


def _zip(parts: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for name, text in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), text)
    return buf.getvalue()


D = "date"
STAFFING_ROWS: list[list[object]] = [
    # A1:A2 "Name" and D1:D2 "Start" merge down; B1:C1 "Hours" merges across over Mon / Tue.
    ["Name", "Hours", None, "Start", "Badge"],
    [None, "Mon", "Tue", None, None],
    ["Ann", 7.5, 8, (D, 45292), 1001],  # 45292 = 2024-01-01 (1900 epoch)
    ["Bob", 6, 8, (D, 45293.5), "temp"],  # a time of day; Badge mixes numbers and text
    ["Cy", None, 4.25, (D, 45000), 1003],  # 45000 = 2023-03-15
    # The used area goes on: formatting with no values, below and to the right.
    [None, None, None, ("styled", 0), None, ("styled", 0)],
    [None, None, None, None, None, None, None, ("styled", 0)],
]
TOTALS_ROWS: list[list[object]] = [
    ["Region", "Q1", None, "Total"],  # B1:C1 merged across with nothing under it: one header row
    ["North", 10, 12, 22],
    ["South", 7, 9, 16],
]
DATES_1904_ROWS: list[list[object]] = [
    ["day", "label"],
    [(D, 0 + 1), "1904-01-02"],
    [(D, 43830), "2024-01-01"],  # 43830 days after 1904-01-01
]


def staffing_xlsx() -> bytes:
    return workbook(
        [
            {"name": "Staff", "rows": STAFFING_ROWS, "merges": ["A1:A2", "B1:C1", "D1:D2", "E1:E2"]},
            {"name": "Totals", "rows": TOTALS_ROWS, "merges": ["B1:C1"]},
            {"name": "Scratch", "rows": [["hidden"], [1]], "hidden": True},
            {"name": "Empty", "rows": [[None, ("styled", 0)]]},
        ]
    )


def dates_1904_xlsx() -> bytes:
    return workbook([{"name": "Days", "rows": DATES_1904_ROWS}], date1904=True)


def encrypted_xlsx() -> bytes:
    """What Excel writes for a password-protected workbook: a Compound File (not a ZIP)
    holding an EncryptedPackage stream. Only the parts a reader checks are real."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    entry = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\0") + bytes(64)
    return header + entry + bytes(512 - len(entry))


def legacy_xls() -> bytes:
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    entry = "Workbook".encode("utf-16-le").ljust(64, b"\0") + bytes(64)
    return header + entry + bytes(512 - len(entry))


def not_a_workbook_zip() -> bytes:
    return _zip({"data.csv": HEADER_TEXT})


# -- The corpus ------------------------------------------------------------------------


def _gz(*members: str) -> bytes:
    return b"".join(gzip.compress(m.encode(), mtime=0) for m in members)


def _zst(*frames: str) -> bytes:
    import pyarrow as pa

    return b"".join(pa.compress(f.encode(), codec="zstd", asbytes=True) for f in frames)


def _half(text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    cut = len(lines) // 2
    return "".join(lines[:cut]), "".join(lines[cut:])


FILES: dict[str, Callable[[], bytes]] = {
    "headerless_numeric.csv": lambda: HEADERLESS_NUMERIC.encode(),
    "headerless_text.csv": lambda: HEADERLESS_TEXT.encode(),
    "one_row_headerless.csv": lambda: ONE_ROW_HEADERLESS.encode(),
    "header_text.csv": lambda: HEADER_TEXT.encode(),
    "preamble.csv": lambda: PREAMBLE.encode(),
    "comments.csv": lambda: COMMENTS.encode(),
    "commented_header.csv": lambda: COMMENTED_HEADER.encode(),
    "literal_quotes.tsv": lambda: LITERAL_QUOTES_TSV.encode(),
    "nulls.csv": lambda: NULLS.encode(),
    "lineitem.tbl": lambda: TPC_LINEITEM.encode(),
    "semicolon.csv": lambda: SEMICOLON.encode(),
    "single_column.csv": lambda: SINGLE_COLUMN.encode(),
    "case_header.csv": lambda: CASE_HEADER.encode(),
    "malformed_quote.csv": lambda: MALFORMED_QUOTE.encode(),
    "ragged.csv": lambda: RAGGED.encode(),
    "headless_preamble.csv": lambda: HEADLESS_PREAMBLE.encode(),
    "utf8_bom.csv": lambda: b"\xef\xbb\xbf" + HEADER_TEXT.encode(),
    "latin1.csv": lambda: LATIN1_TEXT.encode("latin-1"),
    "cp1252.csv": lambda: CP1252_TEXT.encode("cp1252"),
    "utf16le_bom.tsv": lambda: b"\xff\xfe" + UTF16_TSV.encode("utf-16-le"),  # Excel's "Unicode text"
    "utf16be_bom.csv": lambda: b"\xfe\xff" + LATIN1_TEXT.encode("utf-16-be"),
    "members.csv.gz": lambda: _gz(*_half(PREAMBLE)),
    "lineitem.tbl.zst": lambda: _zst(*_half(TPC_LINEITEM)),
    "truncated.csv.gz": lambda: _gz(HEADER_TEXT * 50)[:-40],
    "corrupt.csv.gz": lambda: _corrupt(_gz(HEADER_TEXT * 50)),
    "case_keys.ndjson": lambda: CASE_KEYS.encode(),
    "case_keys_nested.ndjson": lambda: CASE_KEYS_NESTED.encode(),
    "duplicate_key.ndjson": lambda: DUPLICATE_KEY.encode(),
    "staffing.xlsx": staffing_xlsx,
    "dates_1904.xlsx": dates_1904_xlsx,
    "encrypted.xlsx": encrypted_xlsx,
    "legacy.xls": legacy_xls,
    "not_a_zip.xlsx": lambda: HEADER_TEXT.encode(),
    "truncated.xlsx": lambda: staffing_xlsx()[:700],
    "no_workbook.xlsx": not_a_workbook_zip,
}


def _corrupt(blob: bytes) -> bytes:
    mid = len(blob) // 2
    return blob[:mid] + bytes(b ^ 0x5A for b in blob[mid : mid + 16]) + blob[mid + 16 :]


def build(directory: Path) -> dict[str, bytes]:
    out = {name: make() for name, make in FILES.items()}
    for name, data in out.items():
        (directory / name).write_bytes(data)
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = [n for n, make in FILES.items() if not (HERE / n).exists() or (HERE / n).read_bytes() != make()]
        print("stale: " + ", ".join(stale) if stale else "corpus up to date")
        return 1 if stale else 0
    build(HERE)
    print(f"wrote {len(FILES)} files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
