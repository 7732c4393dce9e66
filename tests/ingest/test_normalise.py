"""Ingest normalisation and deduplication: text cleaning, paper ids, dates, and merges across
formats on arXiv id, DOI and title."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.ingest import ingest
from pipeline.ingest.dates import parse_date
from pipeline.ingest.ids import make_paper_id, parse_arxiv_id
from pipeline.ingest.text import clean_text


def test_duplicates_across_formats_merge_on_arxiv_doi_and_title(everything):
    """Duplicates across formats become one paper each, and every merge is reported with what
    matched."""
    matched = {(Path(m.source_file).name, m.matched_on) for m in everything.merges}
    assert ("table.csv", "arxiv") in matched  # 2401.00001v2 vs the listing's 2401.00001
    assert ("refs.bib", "doi") in matched  # same DOI, different case and resolver prefix
    assert ("oai_snapshot.jsonl", "arxiv") in matched
    # The TSV copy (no ids, different case and a final full stop) is found by title.
    assert ("records.jsonl", "title") in matched or ("table.tsv", "title") in matched
    tokenizer = next(p for p in everything.papers if p.doi == "10.1234/tok.2023.7")
    sources = {Path(tokenizer.source_file).name} | {
        Path(m.source_file).name for m in everything.merges if m.paper_id == tokenizer.paper_id
    }
    assert sources == {"table.tsv", "records.jsonl", "refs.bib"}
    assert len({p.paper_id for p in everything.papers}) == len(everything.papers)
    titles = [p.title.casefold().rstrip(".") for p in everything.papers]
    assert len(set(titles)) == len(titles)


def test_merge_keeps_earliest_date_and_fills_empty_fields(everything):
    """The earliest date wins (listing 2024-01-02 over CSV 2024-01-05); empty fields are filled
    from the duplicate (the OAI copy had no date; the tokenizer paper keeps its day date over
    the TSV's bare year)."""
    scaling = next(p for p in everything.papers if p.arxiv_id == "2401.00001")
    assert scaling.published == "2024-01-02"
    reward = next(p for p in everything.papers if p.arxiv_id == "2401.00003")
    assert reward.published == "2024-01-04"
    tokenizer = next(p for p in everything.papers if p.doi == "10.1234/tok.2023.7")
    assert (tokenizer.published, tokenizer.date_precision) == ("2023-03-01", "day")
    merge_ids = {m.paper_id for m in everything.merges}
    assert merge_ids <= {p.paper_id for p in everything.papers}


def test_merge_fills_missing_ids_and_recomputes_paper_id(tmp_path):
    """A title-only record merged with one that has a DOI takes the DOI and its paper_id."""
    abstract = " ".join(["word"] * 25)
    (tmp_path / "a.csv").write_text(f"title,abstract\nSame Paper,{abstract}\n")
    (tmp_path / "b.csv").write_text(f"title,abstract,doi\nsame paper!,{abstract},10.5555/x\n")
    result = ingest([tmp_path / "a.csv", tmp_path / "b.csv"])
    assert [p.paper_id for p in result.papers] == ["doi:10.5555/x"]
    assert result.merges[0].paper_id == "doi:10.5555/x" and result.merges[0].matched_on == "title"


def test_same_title_with_different_arxiv_ids_is_not_merged(tmp_path):
    """Two papers that share a title but have different arXiv ids stay two papers."""
    abstract = " ".join(["word"] * 25)
    (tmp_path / "a.csv").write_text(
        f"title,abstract,arxiv_id\nIntroduction,{abstract},2301.00001\n"
        f"Introduction,{abstract},2301.00002\n"
    )
    result = ingest([tmp_path / "a.csv"])
    assert len(result.papers) == 2 and not result.merges


def test_clean_text_rules():
    """Whitespace collapses, HTML tags and entities go, LaTeX math stays, text is NFC."""
    text = "  Mu\u0308ller's <b>bold</b>\n\n claim: $a<b>c$ &amp; more  "
    assert clean_text(text) == "Müller's bold claim: $a<b>c$ & more"


def test_paper_id_rules():
    """paper_id is arxiv:<id without version>, else doi:<doi>, else a title hash that ignores
    case and punctuation."""
    assert make_paper_id(parse_arxiv_id("http://arxiv.org/abs/2311.00871v2"), "10.1/x", "T") == (
        "arxiv:2311.00871"
    )
    assert make_paper_id(None, "10.1/x", "T") == "doi:10.1/x"
    a, b = make_paper_id(None, None, "A Title!"), make_paper_id(None, None, "a  title")
    assert a == b and a.startswith("title:") and len(a) == len("title:") + 16


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-05-23T02:53:25.000Z", ("2024-05-23", "day")),
        ("Mon, 2 Apr 2007 19:18:42 GMT", ("2007-04-02", "day")),
        ("2023-07", ("2023-07-01", "month")),
        ("July 2023", ("2023-07-01", "month")),
        ("23 May 2024", ("2024-05-23", "day")),
        (2022, ("2022-01-01", "year")),
        (dt.date(2020, 2, 29), ("2020-02-29", "day")),
        ("", None),
    ],
)
def test_parse_date_forms(value, expected):
    """Dates in the usual input forms parse to an ISO day with their precision."""
    assert parse_date(value) == expected
