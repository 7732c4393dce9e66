"""Ingest fidelity: exports written the way real tools write them (pandas CSVs, Mendeley BibTeX,
arXiv Atom and OAI, JSON Feed, nested scraper JSON) come out with every title, author, date and
id as their authors wrote them, and what cannot be read is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import IngestConfig
from pipeline.ingest import IngestError, ingest

FX = Path(__file__).parent / "fixtures" / "fidelity"


def _reasons(result, severity: str) -> dict[tuple[str, str], str]:
    return {
        (Path(r.source_file).name, r.source_location): r.reason
        for r in result.rejections
        if r.severity == severity
    }


def _paper(result, title_start: str):
    return next(p for p in result.papers if p.title.startswith(title_start))


def test_pandas_list_cells_become_lists():
    """Author, category and keyword cells written by pandas as Python list literals are read as
    lists, accents intact."""
    result = ingest([FX / "pandas_lists.csv"])
    first = _paper(result, "Intrinsically Motivated")
    assert first.authors == ("sébastien forestier", "rémy portelas")
    assert first.categories == ("cs.LG", "cs.AI")
    assert first.extra["keywords"] == ["curriculum learning", "intrinsic motivation"]
    second = _paper(result, "Teacher Algorithms")
    assert second.authors == ("rémy portelas", "cédric colas", "pierre-yves oudeyer")
    assert "keywords" not in second.extra  # an empty list is no value


def test_mendeley_escaped_latex_is_undone():
    """Mendeley's escaped math, accents and emphasis become the text their author wrote: math
    kept as math, accents as Unicode, no `$\\backslash$` left."""
    result = ingest([FX / "mendeley.bib"])
    paper = _paper(result, "Rényi")
    assert paper.title == "Rényi Entropies of $\\rho_{ABC}$ States"
    assert paper.abstract.startswith("We bound the Rényi entropy of tripartite states and show")
    assert "$\\rho_{ABC}$ is determined" in paper.abstract
    assert "backslash" not in paper.abstract + paper.title and "$$" not in paper.abstract


@pytest.mark.parametrize("name", ["accents.atom.xml", "accents.bib"])
def test_latex_accents_become_unicode_in_every_source(name):
    """`Koll\\'ar`, `K\\"ahler`, `Schr\\"{o}dinger` become Unicode whether the paper comes from the
    arXiv feed or from BibTeX; math stays LaTeX."""
    paper = ingest([FX / name]).papers[0]
    assert paper.title == "Kollár's Conjecture on Kähler Manifolds and the Schrödinger Flow"
    assert paper.authors == ("Jan Kollár",)
    if name.endswith(".xml"):
        assert "$n \\geq 3$" in paper.abstract and "$\\mathcal{O}(\\log n)$" in paper.abstract


def test_same_paper_from_atom_and_bibtex_is_one_paper():
    """With accents converted for both sources, the feed entry and the BibTeX entry of one paper
    match by title and merge."""
    result = ingest([FX / "accents.atom.xml", FX / "accents.bib"])
    assert [p.paper_id for p in result.papers] == ["arxiv:2402.01111"]
    assert [m.matched_on for m in result.merges] == ["title"]


def test_oai_snapshot_text_converts_accents(tmp_path):
    """The OAI snapshot's LaTeX accents in titles and author strings become Unicode too."""
    line = (
        '{"id": "0704.0001", "title": "Schr\\\\\\"{o}dinger operators on K\\\\\\"ahler spaces", '
        '"abstract": "We study the spectrum of Schr\\\\\\"odinger operators with a magnetic field '
        'on compact Kahler spaces and bound the first eigenvalue from below in all dimensions.", '
        '"authors": "C. Bal\\\\\'azs", "versions": [{"version": "v1", "created": "2007-04-02"}]}'
    )
    path = tmp_path / "snapshot.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    paper = ingest([path]).papers[0]
    assert paper.title == "Schrödinger operators on Kähler spaces"
    assert paper.abstract.startswith("We study the spectrum of Schrödinger operators")
    assert paper.authors == ("C. Balázs",)


@pytest.mark.parametrize("name", ["paper.bib", "paper.csv"])
def test_unknown_latex_command_never_glues_words(tmp_path, name):
    """An unknown command becomes a space (or its argument), in BibTeX and in a plain table, so
    the words around it stay apart."""
    title = "A methodology\\hyphen independent \\unknowncmd{kept} proof"
    abstract = " ".join(["word"] * 25)
    path = tmp_path / name
    if name.endswith(".bib"):
        path.write_text(f"@misc{{k,\n title = {{{title}}},\n abstract = {{{abstract}}}\n}}\n")
    else:
        path.write_text(f"title,abstract\n{title},{abstract}\n")
    assert ingest([path]).papers[0].title == "A methodology independent kept proof"


def test_unknown_command_in_a_feed_abstract():
    """In a real feed entry the unknown command costs nothing but itself."""
    paper = ingest([FX / "accents.atom.xml"]).papers[0]
    assert "methodology independent argument" in paper.abstract


def test_date_and_id_columns_with_other_names_are_recognised():
    """`submit_date` gives the date, and an arXiv id is taken from an arXiv or Hugging Face
    paper link in `paper_link`; no warning is needed."""
    result = ingest([FX / "pandas_lists.csv"])
    first = _paper(result, "Intrinsically Motivated")
    assert (first.published, first.paper_id) == ("2024-02-22", "arxiv:2405.00021")
    second = _paper(result, "Teacher Algorithms")
    assert (second.published, second.paper_id) == ("2024-03-03", "arxiv:2608.19880")
    assert not _reasons(result, "warning")


def test_json_feed_fields():
    """A JSON Feed: `items`, `content_text`, `date_published`, author objects, tags, and the
    arXiv id from the item's URL id."""
    paper = ingest([FX / "feed.json"]).papers[0]
    assert paper.paper_id == "arxiv:2405.00021"
    assert (paper.published, paper.authors) == ("2024-05-01", ("Rémy Portelas",))
    assert paper.categories == ("curriculum", "reinforcement learning")
    assert paper.abstract.startswith("Feeds written by blog engines")


def test_table_without_date_or_id_column_warns_once(tmp_path):
    """A table with no date column and no id column gets one warning for each, naming the fix."""
    path = tmp_path / "plain.csv"
    abstract = " ".join(["word"] * 25)
    path.write_text(f"title,abstract\nOne,{abstract}\nTwo,{abstract}\n", encoding="utf-8")
    warnings = [r.reason for r in ingest([path]).rejections if r.severity == "warning"]
    assert len(warnings) == 2
    assert (
        "no date column: timelines will be empty; map one with --column published=" in (warnings[0])
    )
    assert "no id column" in warnings[1] and "--column id=" in warnings[1]


def test_dotted_column_paths_reach_into_nested_objects():
    """`--column abstract=details.abstract` reads a field inside a nested object; the rest of
    the object stays in extra."""
    config = IngestConfig(
        columns={
            "title": "paper_title",
            "abstract": "details.abstract",
            "published": "meta.published",
            "arxiv_id": "meta.arxiv",
        }
    )
    paper = ingest([FX / "nested_daily.json"], config).papers[0]
    assert paper.abstract.startswith("Scrapers often store the abstract inside")
    assert (paper.published, paper.paper_id) == ("2024-06-03", "arxiv:2406.01234")
    assert paper.extra == {"details": {"lang": "en"}}


def test_mapping_a_field_to_an_object_is_refused_with_a_hint():
    """Mapping abstract to a column holding objects is refused with a message that names the
    keys inside and a dotted mapping to use; the object's repr never becomes an abstract."""
    config = IngestConfig(columns={"title": "paper_title", "abstract": "details"})
    with pytest.raises(IngestError) as info:
        ingest([FX / "nested_daily.json"], config)
    reason = _reasons(info.value.result, "rejected")[("nested_daily.json", "record 1")]
    assert "column 'details' holds an object (keys: abstract, lang)" in reason
    assert "--column abstract=details.abstract" in reason


def test_bibtex_names_keep_suffixes_and_particles():
    """`Reagle, Jr., Joseph M.` is Joseph M. Reagle Jr. and `van der Waals, Johannes D.` keeps
    its particle (BibTeX's `von Last, Jr, First`)."""
    paper = _paper(ingest([FX / "mendeley.bib"]), "Rényi")
    assert paper.authors == ("Joseph M. Reagle Jr.", "Johannes D. van der Waals")


def test_oai_authors_parsed_keeps_suffix():
    """The OAI `authors_parsed` triple `["Evans", "Neal J.", "II"]` keeps its suffix."""
    paper = ingest([FX / "oai_suffix.jsonl"]).papers[0]
    assert paper.authors == ("Neal J. Evans II", "Paola Caselli")


def test_semicolon_author_lists_in_last_first_form(tmp_path):
    """A `Last, First; Last, Jr., First` author cell (a Zotero CSV) gives First Last names."""
    path = tmp_path / "zotero.csv"
    abstract = " ".join(["word"] * 25)
    path.write_text(
        f'title,abstract,author\nA Paper,{abstract},"Lovelace, Ada; Reagle, Jr., Joseph M."\n',
        encoding="utf-8",
    )
    assert ingest([path]).papers[0].authors == ("Ada Lovelace", "Joseph M. Reagle Jr.")


def test_keywords_split_on_the_fields_own_separator():
    """`Cells, Cultured; Hippocampus, cytology` is two keywords; the singular `keyword` field
    counts; BibLaTeX `subtitle` joins the title."""
    result = ingest([FX / "mendeley.bib"])
    assert _paper(result, "Rényi").categories == ("Cells, Cultured", "Hippocampus, cytology")
    book = _paper(result, "Digital Typography")
    assert book.title == "Digital Typography: Breaking Paragraphs into Lines"
    assert book.categories == ("typesetting", "line breaking")


def test_title_merge_never_takes_another_versions_doi():
    """A journal paper (2021, no DOI) merged by title with its conference version (2020, with a
    DOI) keeps no DOI of its own; the merge report keeps the conference version's ids."""
    result = ingest([FX / "journal.csv", FX / "conference.bib"])
    (paper,) = result.papers
    assert paper.doi is None and paper.paper_id.startswith("title:")
    (merge,) = result.merges
    assert (merge.matched_on, merge.duplicate_doi) == ("title", "10.1000/conf.2020.17")
    assert merge.duplicate_paper_id == "doi:10.1000/conf.2020.17"


def test_oai_records_in_a_json_array_read_like_the_oai_reader():
    """A JSON array of OAI snapshot records takes the v1 date (not `update_date`) and the names
    from `authors_parsed` (not the LaTeX `authors` string)."""
    result = ingest([FX / "oai_array.json"])
    sparsity = _paper(result, "Sparsity-certifying")
    assert (sparsity.published, sparsity.paper_id) == ("2007-03-31", "arxiv:0704.0002")
    diphoton = _paper(result, "Calculation of prompt")
    assert diphoton.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert diphoton.published == "2007-04-02"


def test_arxiv_api_error_feed_reports_the_apis_message():
    """An arXiv API error feed rejects the file with the API's own message."""
    with pytest.raises(IngestError) as info:
        ingest([FX / "api_error.atom.xml"])
    reason = _reasons(info.value.result, "rejected")[("api_error.atom.xml", "file")]
    assert reason == "arXiv API error: max_results must be non-negative"


def test_empty_feed_says_it_has_no_entries():
    """A feed with no entries is reported as such, not as a file that silently read nothing."""
    with pytest.raises(IngestError, match="the feed has no entries"):
        ingest([FX / "empty.atom.xml"])


def test_extra_drops_blank_values_and_cleans_latex():
    """Extra columns lose whitespace-only values and have their LaTeX converted."""
    paper = ingest([FX / "extra.csv"]).papers[0]
    assert paper.extra == {"venue": "Proc. of Gödel Society"}
