"""Ingest detection: format sniffing from extension and content, folder walking, forced formats,
column mapping and the [ingest] config section."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import ConfigError, IngestConfig, config_from_dict
from pipeline.ingest import IngestError, ingest
from pipeline.ingest.detect import Unsupported, sniff
from tests.ingest.conftest import FX, SAMPLE, file_summary, rejected


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("listing_page.txt", "listing"),
        ("table.csv", "csv"),
        ("table.tsv", "tsv"),
        ("records.json", "json"),
        ("records.jsonl", "jsonl"),
        ("feed.atom.xml", "arxiv-atom"),
        ("oai_snapshot.jsonl", "arxiv-oai"),
        ("refs.bib", "bibtex"),
        ("hf_daily/2024-05-27.json", "hf-daily"),
        ("hf_daily/2024-05-28.json", "hf-daily"),
    ],
)
def test_format_detected_from_extension_and_content(name, fmt):
    """Each fixture is routed to its reader (e.g. .jsonl split into tables vs the OAI dump)."""
    assert sniff(FX / name) == fmt


def test_folders_are_walked_recursively_and_unknown_extensions_skipped(tmp_path):
    """Nested folders are read; files with unsupported extensions are skipped with a warning."""
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(FX / "refs.bib", nested / "refs.bib")
    (tmp_path / "a" / "notes.docx").write_bytes(b"PK\x03\x04 not read")
    result = ingest([tmp_path])
    assert {Path(f.source_file).name: f.format for f in result.files} == {
        "notes.docx": "skipped",
        "refs.bib": "bibtex",
    }
    assert len(result.papers) == 3


def test_content_beats_a_misleading_extension(tmp_path):
    """A CSV saved with an unknown extension and a BibTeX export named .txt are still read."""
    shutil.copy(FX / "table.csv", tmp_path / "export.dat")
    shutil.copy(FX / "refs.bib", tmp_path / "refs.txt")
    assert sniff(tmp_path / "export.dat") == "csv"
    assert sniff(tmp_path / "refs.txt") == "bibtex"
    plain = tmp_path / "x.json"
    plain.write_text("plain words")
    with pytest.raises(Unsupported, match="not json"):
        sniff(plain)


def test_format_override(tmp_path):
    """--format forces a reader: a listing saved as .md is read as a listing."""
    path = tmp_path / "page.md"
    shutil.copy(FX / "listing_page.txt", path)
    result = ingest([path], IngestConfig(format="listing"))
    assert file_summary(result, "page.md").format == "listing" and len(result.papers) == 3


def test_explicit_column_mapping():
    """Unusual column names fail with a hint, and work once mapped (field -> column)."""
    path = FX / "mapping" / "custom_columns.csv"
    with pytest.raises(IngestError):
        ingest([path])
    config = IngestConfig(
        columns={"title": "paper_name", "abstract": "summary_text", "published": "when"}
    )
    result = ingest([path], config)
    assert result.papers[0].title == "Mapped Columns Work"
    assert result.papers[0].published == "2022-10-10"


def test_mapping_to_absent_column_is_a_file_rejection():
    """Mapping a field to a column the file lacks rejects the file and names the columns."""
    result = ingest([FX / "table.csv", SAMPLE], IngestConfig(columns={"abstract": "nope"}))
    assert "column 'nope'" in rejected(result, "table.csv")["file"]


def test_ingest_config_validation():
    """The [ingest] config section rejects an unknown format, field or key."""
    with pytest.raises(ConfigError, match="format"):
        config_from_dict({"ingest": {"format": "docx"}})
    with pytest.raises(ConfigError, match="columns"):
        config_from_dict({"ingest": {"columns": {"summary": "x"}}})
    with pytest.raises(ConfigError, match="allowed"):
        config_from_dict({"ingest": {"colums": {}}})
    config = config_from_dict({"ingest": {"columns": {"abstract": "summary_text"}, "limit": 5}})
    assert config.ingest.columns == {"abstract": "summary_text"} and config.ingest.limit == 5
