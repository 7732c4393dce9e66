"""Ingest stage: every reader on its fixtures, bad input as rejections, the bundled sample, the
shared corpora and the contract frames."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import IngestConfig
from pipeline.contract import validate_table
from pipeline.ingest import IngestError, ingest, papers_frame, rejections_frame
from tests.ingest.conftest import FX, SAMPLE, file_summary, rejected, warnings

# --- the bundled sample ------------------------------------------------------------------------


def test_sample_listing_gives_75_dated_arxiv_papers():
    """The sample listing plus its sidecar ingests to exactly 75 papers, each with a day-precise
    date and an arXiv id, and the sidecar is read alongside."""
    result = ingest([SAMPLE])
    assert len(result.papers) == 75
    assert all(p.published and p.date_precision == "day" for p in result.papers)
    assert all(p.arxiv_id and p.paper_id == f"arxiv:{p.arxiv_id}" for p in result.papers)
    assert len({p.paper_id for p in result.papers}) == 75
    assert not [r for r in result.rejections if r.severity == "rejected"]
    assert SAMPLE.with_name("papers_page_pretraining.meta.csv") in result.input_files


def test_sample_header_lines_are_not_papers():
    """The page's header lines (site name, newsletter prompt, date) never become papers."""
    result = ingest([SAMPLE.parent])
    header = [line for line in SAMPLE.read_text().splitlines()[:10] if line.strip()]
    titles = {p.title for p in result.papers}
    assert header and not titles & set(header)
    assert min(int(p.source_location.split()[1]) for p in result.papers) > 10


def test_sample_folder_does_not_read_sidecar_as_a_table():
    """Walking data/sample reads the listing once; its sidecar is joined, not ingested as rows."""
    result = ingest([SAMPLE.parent])
    assert [Path(f.source_file).name for f in result.files] == [SAMPLE.name]
    assert len(result.papers) == 75


# --- per-format fixtures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, location, reason",
    [
        ("listing_page.txt", "line 17", "abstract too short: 7 words"),
        ("listing_page.txt", "line 25", "missing abstract"),
        ("table.csv", "line 4", "malformed CSV row: 3 fields, the header has 6"),
        ("table.csv", "line 5", "missing abstract"),
        ("table.tsv", "line 4", "malformed CSV row: 2 fields"),
        ("records.json", "record 2", "malformed JSON record: expected an object"),
        ("records.json", "record 3", "missing title"),
        ("records.jsonl", "line 2", "malformed JSON line"),
        ("records.jsonl", "line 4", "malformed JSON line: expected an object"),
        ("feed.atom.xml", "line 24", "missing abstract"),
        ("broken_feed.xml", "line 10", "malformed XML entry: mismatched tag at line 12"),
        ("broken_feed.xml", "line 15", "malformed XML entry: no </entry>"),
        ("oai_snapshot.jsonl", "line 3", "malformed JSON line"),
        ("refs.bib", "line 35", "malformed BibTeX entry"),
        ("refs.bib", "line 40", "missing abstract"),
        ("2024-05-27.json", "record 3", "missing abstract"),
    ],
)
def test_malformed_fixture_records_are_rejected_with_reason(everything, name, location, reason):
    """Each planted malformed record shows up as a rejection at its location with its reason."""
    assert reason in rejected(everything, name).get(location, "")


def test_rejections_carry_an_excerpt_of_the_input(everything):
    """Record-level rejections keep a short excerpt of the offending input for the user."""
    records = [r for r in everything.rejections if r.source_location != "file"]
    assert records and all(r.raw and len(r.raw) <= 200 for r in records if r.severity == "rejected")


def test_file_counts_add_up(everything):
    """For every file: read = kept + merged + record-level rejections; totals match the result."""
    for summary in everything.files:
        assert summary.n_read == summary.n_kept + summary.n_merged + summary.n_rejected
    assert sum(f.n_kept for f in everything.files) == len(everything.papers)
    assert sum(f.n_merged for f in everything.files) == len(everything.merges)
    n_warnings = sum(1 for r in everything.rejections if r.severity == "warning")
    assert sum(f.n_warnings for f in everything.files) == n_warnings


def test_every_good_fixture_keeps_papers(everything):
    """Every reader produces at least one kept or merged paper from its fixture."""
    for summary in everything.files:
        assert summary.n_kept + summary.n_merged >= 1, summary


def test_listing_sidecar_join_and_unmatched_titles(everything):
    """Sidecar rows add arXiv id, date, category and author; titles without a row and rows
    without a title are both reported as warnings."""
    paper = next(p for p in everything.papers if p.arxiv_id == "2401.00003")
    assert (paper.published, paper.categories, paper.authors) == (
        "2024-01-04",
        ("cs.CL",),
        ("Grace Hopper",),
    )
    assert "not found in sidecar" in warnings(everything, "listing_page.txt")["line 17"]
    assert "matches no title" in warnings(everything, "listing_page.meta.csv")["line 5"]


def test_listing_short_abstract_later_is_rejected_not_skipped(tmp_path):
    """After the header, a short abstract is a rejection and later pairs stay aligned."""
    text = (FX / "listing_page.txt").read_text()
    path = tmp_path / "page.txt"
    path.write_text(text)
    result = ingest([path])
    titles = [p.title for p in result.papers]
    assert titles == [
        "Scaling Laws for Sparse Mixture Models",
        "Curriculum Pretraining with Synthetic Data",
        "Reward Models Overfit to Length",
    ]
    assert "abstract too short" in rejected(result, "page.txt")["line 17"]


def test_listing_title_without_abstract_keeps_later_pairs_aligned(tmp_path):
    """A title with no abstract is rejected and the pairs after it are still read correctly."""
    abstract = " ".join(f"word{i}" for i in range(25))
    blocks = ["Site header", "First Title", abstract, "Lonely Title", "Second Title", abstract]
    path = tmp_path / "page.txt"
    path.write_text("\n\n".join(blocks) + "\n")
    result = ingest([path])
    assert [p.title for p in result.papers] == ["First Title", "Second Title"]
    assert "missing abstract" in rejected(result, "page.txt")["line 7"]


def test_semicolon_csv_from_a_spreadsheet(tmp_path):
    """A semicolon-separated CSV with a BOM and CRLF line ends (spreadsheet export) is read."""
    abstract = " ".join(f"word{i}" for i in range(25))
    path = tmp_path / "export.csv"
    path.write_bytes(f"\ufefftitle;abstract;year\r\nSheet Paper;{abstract};2020\r\n".encode())
    paper = ingest([path]).papers[0]
    assert (paper.title, paper.published, paper.date_precision) == (
        "Sheet Paper",
        "2020-01-01",
        "year",
    )


def test_bibtex_latex_cleaned_and_fields_read(everything):
    """BibTeX accents and braces become Unicode, math stays, authors are 'First Last',
    year + month give a month-precise date and eprint gives the arXiv id."""
    muller = next(p for p in everything.papers if p.doi == "10.18653/v1/2023.acl-long.1")
    assert muller.title == "On the Expressivity of Attention Heads in Müller-Style Transformers"
    assert muller.authors == ("Jörg Müller", "María García")
    assert "$\\mathcal{O}(\\log n)$" in muller.abstract and "40% noise" in muller.abstract
    assert (muller.published, muller.date_precision) == ("2023-07-01", "month")
    lora = next(p for p in everything.papers if p.title == "LoRA Adapters Forget Less")
    assert lora.paper_id == "arxiv:2402.22222" and lora.published == "2024-02-01"


def test_atom_feed_fields():
    """Atom entries give id without version, collapsed title, authors, categories (primary
    first), DOI and old-style arXiv ids."""
    result = ingest([FX / "feed.atom.xml"])
    paper = next(p for p in result.papers if p.arxiv_id == "2401.00002")
    assert paper.title == "Curriculum Pretraining with Synthetic Data"
    assert paper.categories[0] == "cs.CL" and "Joan Clarke" in paper.authors
    old = next(p for p in result.papers if p.title == "Strings on a Lattice")
    assert old.paper_id == "arxiv:hep-th/0601001" and old.doi == "10.1000/strings.2006"


def test_malformed_feed_keeps_entries_after_broken_ones(everything):
    """In a feed that is not well-formed, entries around the broken ones are still read."""
    ids = {p.arxiv_id for p in everything.papers}
    assert {"2403.00001", "2403.00004"} <= ids and "2403.00003" not in ids
    assert "entries read one by one" in warnings(everything, "broken_feed.xml")["file"]


def test_oai_snapshot_fields(everything):
    """The OAI dump gives the v1 date, authors from authors_parsed and split categories."""
    paper = next(p for p in everything.papers if p.arxiv_id == "0704.0002")
    assert paper.published == "2007-03-31"
    assert paper.authors == ("Ileana Streinu", "Louis Theran")
    assert paper.categories == ("math.CO", "cs.CG")
    assert "$(k,\\ell)$" in paper.abstract


def test_oai_snapshot_streams_without_reading_whole_file(monkeypatch, tmp_path):
    """The OAI reader never reads the whole file at once and stops early under a limit."""
    lines = (FX / "oai_snapshot.jsonl").read_text().splitlines()
    big = tmp_path / "snapshot.jsonl"
    big.write_text("\n".join([lines[1]] * 5000) + "\n")

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"whole-file read of {self}")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    result = ingest([big], IngestConfig(limit=3))
    assert file_summary(result, "snapshot.jsonl").n_read == 3


def test_hf_daily_folder_wrapper_and_repr_entries(everything):
    """A folder of daily files is read, including the {"data": [...]} wrapper and entries saved
    as Python repr strings; hard line breaks in summaries are collapsed."""
    ids = {p.arxiv_id for p in everything.papers}
    assert {"2405.14906", "2405.20000", "2405.20001"} <= ids
    autocoder = next(p for p in everything.papers if p.arxiv_id == "2405.14906")
    assert "\n" not in autocoder.abstract and "surpasses GPT-4 Turbo" in autocoder.abstract
    assert autocoder.published == "2024-05-23" and autocoder.extra["upvotes"] == 7


def test_table_column_detection_and_html_stripping(everything):
    """JSON columns `summary` / `publication_date` are detected; HTML tags are stripped while
    LaTeX math is kept."""
    paper = next(
        p for p in everything.papers if p.title == "Efficient Attention for Long Documents"
    )
    assert (paper.published, paper.date_precision) == ("2023-09-01", "month")
    assert "$O(n \\log n)$" in paper.abstract and "<a" not in paper.abstract
    assert paper.authors == ("Emmy Noether", "Sofia Kovalevskaya")


def test_jsonl_columns_seen_after_first_line_are_used(everything):
    """A JSON Lines key that first appears on a later line (`id`) is still mapped."""
    paper = next(p for p in everything.papers if p.title == "Retrieval Augmented Code Completion")
    assert paper.paper_id == "arxiv:2402.11111"


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, reason",
    [
        ("binary.dat", "binary file"),
        ("empty.csv", "empty file"),
        ("note.txt", "no title/abstract pair found"),
    ],
)
def test_bad_files_are_file_level_rejections(name, reason):
    """Binary, empty and unrecognisable files are rejected as whole files; the run continues."""
    result = ingest([FX / "bad" / name, SAMPLE])
    assert reason in rejected(result, name)["file"]
    assert len(result.papers) == 75


def test_unsupported_format_is_rejected(tmp_path):
    """A text file in no supported format (XML that is not Atom) is a file-level rejection."""
    path = tmp_path / "other.xml"
    path.write_text("<html><body>not a feed</body></html>")
    result = ingest([path, SAMPLE])
    assert "not an Atom feed" in rejected(result, "other.xml")["file"]


def test_invalid_utf8_is_replaced_with_a_warning():
    """Invalid UTF-8 is decoded with replacement characters, the paper kept, a warning given."""
    result = ingest([FX / "bad" / "latin1.csv"])
    assert "\ufffd" in result.papers[0].title
    assert "invalid UTF-8" in warnings(result, "latin1.csv")["line 2"]


def test_unparsable_date_keeps_paper_with_null_date(everything):
    """An unreadable date keeps the paper with no date and a warning naming the value."""
    paper = next(p for p in everything.papers if p.title == "Dates Written Badly")
    assert paper.published is None and paper.date_precision is None
    assert "sometime last spring" in warnings(everything, "table.csv")["line 6"]


def test_min_abstract_words_is_configurable(tmp_path):
    """Raising min_abstract_words rejects abstracts that the default keeps."""
    result = ingest([FX / "table.csv", SAMPLE], IngestConfig(min_abstract_words=35))
    assert any("abstract too short" in r for r in rejected(result, "table.csv").values())


def test_no_usable_paper_raises_one_line_error():
    """Only bad inputs: IngestError with a one-line message and the partial result attached."""
    with pytest.raises(IngestError) as info:
        ingest([FX / "bad" / "empty.csv", FX / "bad" / "note.txt"])
    assert "\n" not in str(info.value) and info.value.result is not None


def test_missing_inputs_raise_or_are_rejected(tmp_path):
    """No existing input raises IngestError; one missing path among good ones is a rejection."""
    with pytest.raises(IngestError, match="no input file found"):
        ingest([tmp_path / "nope.csv"])
    result = ingest([tmp_path / "nope.csv", SAMPLE])
    assert "not found" in rejected(result, "nope.csv")["file"]


# --- frames and shared corpora -----------------------------------------------------------------


def test_frames_validate_against_contract(everything):
    """papers_frame and rejections_frame match the contract schemas exactly."""
    papers = validate_table("papers", papers_frame(everything.papers))
    rejections = validate_table("rejections", rejections_frame(everything.rejections))
    assert papers.num_rows == len(everything.papers)
    assert rejections.num_rows == len(everything.rejections)
    extra = json.loads(papers.column("extra")[0].as_py())
    assert isinstance(extra, dict)
    assert validate_table("rejections", rejections_frame(())).num_rows == 0


@pytest.mark.parametrize(
    "corpus, limit",
    [("hf_daily_papers_2024_2026", 0), ("arxiv_cs_daily_2025_2026", 3000)],
)
def test_shared_corpora_parquet_auto_columns(shared_dir, corpus, limit):
    """The shared Parquet corpora are read with automatic column detection: every kept paper
    has an arXiv id, a day date, authors and categories or metadata; nothing fails per file."""
    path = next((shared_dir / "corpora" / corpus).glob("*.parquet"))
    result = ingest([path], IngestConfig(limit=limit))
    summary = result.files[0]
    expected = limit or pq.ParquetFile(path).metadata.num_rows
    assert summary.format == "parquet" and summary.n_read == expected
    assert len(result.papers) >= 0.99 * expected
    assert all(p.arxiv_id and p.date_precision == "day" and p.authors for p in result.papers)
    assert not [r for r in result.rejections if r.source_location == "file"]
    validate_table("papers", papers_frame(result.papers[:200]))


def test_parquet_reader_with_mapping(tmp_path):
    """A Parquet file with list columns and a mapped abstract column is read."""
    abstract = " ".join(["token"] * 30)
    table = pa.table(
        {
            "name": ["Parquet Paper"],
            "summary_text": [abstract],
            "authors": [["A One", "B Two"]],
            "published": [dt.date(2021, 3, 4)],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    config = dataclasses.replace(
        IngestConfig(), columns={"title": "name", "abstract": "summary_text"}
    )
    paper = ingest([path], config).papers[0]
    assert (paper.title, paper.authors, paper.published) == (
        "Parquet Paper",
        ("A One", "B Two"),
        "2021-03-04",
    )


def test_bibtex_string_macros_are_parsed_once(tmp_path, monkeypatch):
    """With 200 @string macros and 300 entries, bibtexparser reads about the file once (the
    macros were prepended to every entry: quadratic), and every macro still applies."""
    import bibtexparser

    abstract = " ".join(["word"] * 25)
    macros = "\n".join(f'@string{{venue{i} = "Venue Number {i}"}}' for i in range(200))
    entries = "\n".join(
        f"@article{{k{i},\n  title = {{Paper {i}}},\n  journal = venue{i % 200},\n"
        f"  abstract = {{{abstract}}},\n  year = 2020\n}}"
        for i in range(300)
    )
    path = tmp_path / "macros.bib"
    path.write_text(macros + "\n" + entries + "\n", encoding="utf-8")
    parsed = []
    real_loads = bibtexparser.loads
    monkeypatch.setattr(
        bibtexparser,
        "loads",
        lambda text, *a, **k: parsed.append(len(text)) or real_loads(text, *a, **k),
    )
    result = ingest([path])
    assert len(result.papers) == 300
    assert sum(parsed) <= 1.1 * path.stat().st_size
    paper = next(p for p in result.papers if p.title == "Paper 250")
    assert paper.extra["journal"] == "Venue Number 50"
