"""CSV dialect sniffing: the corpus cases (read back by DuckDB with the chosen options) and the rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.api.ingest import CSV_DIALECT_NOT_FOUND, MALFORMED_QUOTED_FIELD, TRAILING_FIELD_NOT_EMPTY
from lakehouse.servers.ingest import dialect, names
from lakehouse.servers.ingest.lines import LineFilter
from lakehouse.servers.settings import IngestSettings
from tests.support import ingest_corpus as corpus

LIMITS = dialect.SniffLimits.from_settings(IngestSettings())
PLAIN = [c for c in corpus.manifest()["text"] if corpus.is_plain_text(corpus.raw(c["file"]))]


@pytest.mark.parametrize("case", PLAIN, ids=[corpus.case_id(c) for c in PLAIN])
def test_corpus_case(case: dict[str, Any], tmp_path: Path) -> None:
    corpus.check_text_case(case, tmp_path)


def sniff(text: str, complete: bool = True, **options: Any) -> dialect.CsvDialect:
    return dialect.sniff(text, dialect.parse_options(**options), LIMITS, complete=complete)


def refusal(text: str, complete: bool = True, **options: Any) -> errors.InvalidArgument:
    with pytest.raises(errors.InvalidArgument) as info:
        sniff(text, complete, **options)
    return info.value


# Options ----------------------------------------------------------------------


def test_explicit_options_override_detection() -> None:
    found = sniff("a|b\n1|2\n", delimiter=",", quote="none", header="true")
    assert (found.delimiter, found.quote, found.escape, found.header) == (",", "", "", True)
    assert found.columns == ("a|b",)
    assert found.header_decision == "given"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"delimiter": "ab"}, "delimiter"),
        ({"delimiter": "\n"}, "delimiter"),
        ({"quote": "''"}, "quote"),
        ({"header": "maybe"}, "header"),
        ({"skip": -1}, "skip"),
        ({"delimiter": ",", "quote": ","}, "delimiter"),
        ({"quote": "none", "escape": "\\"}, "escape"),
    ],
)
def test_bad_options_name_the_parameter(options: dict[str, Any], field: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        dialect.parse_options(**options)
    assert info.value.violations[0].field == field


def test_tab_spellings_and_tsv_default_to_no_quoting() -> None:
    assert dialect.parse_options(delimiter="\\t").delimiter == "\t"
    assert dialect.parse_options(delimiter="tab").delimiter == "\t"
    tsv = sniff('a\tb\n"x\t1\n', tsv=True)
    assert (tsv.delimiter, tsv.quote) == ("\t", "")
    assert sniff('a\tb\n"x"\t1\n', tsv=True, quote='"').quote == '"'


def test_read_csv_options_never_pass_skip_or_comment_to_the_engine() -> None:
    found = sniff("title\n\nid,v\n# c\n1,2\n")
    options = dialect.read_csv_options(found)
    assert (found.skip, found.comment) == (2, "#")
    assert (options["skip"], options["comment"]) == (0, "")
    assert options["strict_mode"] is True and options["ignore_errors"] is False


# Delimiters and quoting -----------------------------------------------------------


def test_backslash_escape_detected_when_doubling_breaks() -> None:
    found = sniff('a,b\n1,"x \\"q\\" y"\n2,"z"\n')
    assert (found.quote, found.escape) == ('"', "\\")


def test_any_single_character_delimiter() -> None:
    assert sniff("a^b^c\n1^2^3\n4^5^6\n").delimiter == "^"
    assert sniff("a§b\n1§2\n", delimiter="§").columns == ("a", "b")


def test_never_one_column_when_a_delimiter_is_evident(tmp_path: Path) -> None:
    # A short line in a comma file: DuckDB's sniffer would fall back to one column.
    err = refusal("id,name,team\n1,Ann,red\n2,Bob\n3,Cy,green\n4,Di,red\n")
    assert err.reason == CSV_DIALECT_NOT_FOUND
    assert err.metadata["line"] == "3" and err.metadata["delimiter"] == ","


def test_one_column_when_no_delimiter_is_evident() -> None:
    found = sniff("name\nAnn\nBob, Jr.\nCarl\n")
    assert found.columns == ("name",)
    assert "one column" in found.reasoning


def test_malformed_quote_needs_evidence_when_the_sample_is_cut() -> None:
    long_value = "x" * 500
    # A quoted value still open where the sample ends: not (yet) an error.
    found = sniff(f'id,note\n0,short\n1,"{long_value}\n{long_value}\n', complete=False)
    assert found.columns == ("id", "note")
    # But the swallowed lines look exactly like records: refused with the line.
    err = refusal('id,note\n1,"open\n2,b\n3,c\n4,d\n', complete=False)
    assert err.reason == MALFORMED_QUOTED_FIELD and err.metadata["line"] == "2"


def test_garbage_after_a_closing_quote_is_refused() -> None:
    err = refusal('a,b\n1,"x"y\n2,z\n')
    assert err.reason == MALFORMED_QUOTED_FIELD and err.metadata["line"] == "2"


def test_legitimate_multiline_quoted_field() -> None:
    found = sniff('id,address\n1,"12 Main St\nApt 4"\n2,"9 Elm"\n')
    assert found.columns == ("id", "address")


# Headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decision"),
    [
        ("id,amount\n1,2.5\n2,3\n", "detected"),  # 'id' is not a number
        ("day,n\n2024-01-01,1\n2024-01-02,2\n", "detected"),  # 'day' is not a date
        ("1960,1961\n10.5,11.25\n", "absent"),  # numbers over numbers: unsure means data
        ("name,city\nann,oslo\nbob,rome\n", "absent"),  # same shapes: unsure means data
        ("Name,City\nann,oslo\nbob,rome\n", "detected"),  # unlike the rest of the column
        ("id,score\n1,NA\nNA,2\n", "detected"),  # NA is no evidence either way
        ("NA,1\n2,3\n4,5\n", "absent"),  # a null-like first value is not a header
    ],
)
def test_header_rules(text: str, decision: str) -> None:
    assert sniff(text).header_decision == decision


def test_header_after_a_preamble_is_judged_leniently() -> None:
    # World Bank layout: a preamble, then a header whose year names fit the numeric columns.
    text = (
        '"Data Source","World Development Indicators",\n\n"Last Updated Date","2024-06-28",\n\n'
        '"Country Name","Country Code","1960","1961",\n"Aruba","ABW","54608","55811",\n'
        '"Africa Eastern","AFE","130692579","134169237",\n'
    )
    found = sniff(text)
    assert found.header_decision == "detected" and found.skip == 4 and found.trailing_delimiter
    assert found.columns == ("Country Name", "Country Code", "1960", "1961")


def test_header_names_are_made_unique_like_duckdb(tmp_path: Path) -> None:
    header = ["A", "a", "a_1", "A_1", "", "x", "x"]
    path = tmp_path / "h.csv"
    path.write_text(",".join(header) + "\n" + ",".join(str(i) for i in range(len(header))) + "\n")
    with duckdb.connect() as con:
        theirs = [d[0] for d in con.execute("SELECT * FROM read_csv($p, header = true)", {"p": str(path)}).description]
    ours, renames = names.unique(header)
    assert list(ours) == theirs
    assert [r.index for r in renames] == [1, 2, 3, 4, 6]


def test_comment_character_inside_data_is_data_when_lines_are_consistent() -> None:
    found = sniff("id,tag\n#1,x\n#2,y\n")
    assert found.comment == "" and found.columns == ("column0", "column1")


def test_comment_lines_that_break_the_types_are_comments() -> None:
    found = sniff("n,v\n1,2\n# note, later\n3,4\n")
    assert found.comment == "#" and found.skipped_lines == 1


def test_trailing_delimiter_column_is_not_data() -> None:
    found = sniff("a|b|\n1|2|\n3|4|\n")
    assert found.trailing_delimiter and found.columns == ("a", "b") and len(found.names) == 3
    assert not sniff("a|b|c\n1|2|\n3|4|\n").trailing_delimiter  # a named last column stays


def test_empty_sample() -> None:
    assert refusal("\n\n").reason == "EMPTY_INPUT"


def test_sample_text_cuts_the_partial_last_line() -> None:
    assert dialect.sample_text(b"a,b\n1,2\n3,", complete=False) == "a,b\n1,2\n"
    assert dialect.sample_text(b"a,b\n1,2", complete=True) == "a,b\n1,2"


def test_trailing_column_is_dropped_only_while_empty() -> None:
    found = sniff("1|2|\n3|4|\n")
    ok = pa.record_batch({"column0": [1, 3], "column1": [2, 4], "column2": pa.array([None, ""], pa.string())})
    assert dialect.drop_trailing(ok, found, rows_before=0).schema.names == ["column0", "column1"]
    bad = pa.record_batch({"column0": [5, 6], "column1": [7, 8], "column2": pa.array([None, "x"], pa.string())})
    with pytest.raises(errors.InvalidArgument) as info:
        dialect.drop_trailing(bad, found, rows_before=100)
    assert info.value.reason == TRAILING_FIELD_NOT_EMPTY and info.value.metadata["row"] == "102"


def test_a_field_longer_than_the_csv_modules_default_limit() -> None:
    big = "x" * 200_000
    assert sniff(f'id,blob\n1,"{big}"\n2,y\n').columns == ("id", "blob")


def test_crlf_lines(tmp_path: Path) -> None:
    text = '# exported\r\nid,name\r\n1,Ann\r\n2,"B\r\nob"\r\n'
    found = sniff(text)
    assert (found.comment, found.columns, found.header_decision) == ("#", ("id", "name"), "detected")
    spool = tmp_path / "spool.csv"
    line_filter = LineFilter.for_dialect(found, IngestSettings())
    spool.write_bytes(b"".join(line_filter.filter([text.encode()])))
    table = corpus.read_csv(spool, found)
    assert table.to_pylist() == [{"id": 1, "name": "Ann"}, {"id": 2, "name": "B\r\nob"}]


def test_a_number_on_line_1_is_data_even_when_it_misfits() -> None:
    """7.5 over whole numbers is not a column name: names are text."""
    found = sniff("7.5,ann\n8,bo\n9,cy\n")
    assert found.header_decision == "absent" and found.columns == ("column0", "column1")


def test_skip_zero_never_turns_a_preamble_file_into_one_column() -> None:
    """With preamble detection off, the table below the notes is still evident: refuse, naming skip."""
    err = refusal("Quarterly report\nGenerated by HR\n\nid,name,hours\n1,Ann,7.5\n2,Bob,8\n3,Cy,6\n", skip=0)
    assert err.reason == CSV_DIALECT_NOT_FOUND and "skip=3" in err.message, err.message
