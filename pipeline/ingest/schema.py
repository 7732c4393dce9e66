"""The names the ingest stage accepts, defined once: input formats (`--format`, `[ingest] format`)
and the paper fields a table column can be mapped to (`--column`, `[ingest] columns`)."""

from __future__ import annotations

# Reader names, in the order the README lists them; "auto" picks one per file.
FORMATS = (
    "listing",
    "csv",
    "tsv",
    "json",
    "jsonl",
    "parquet",
    "arxiv-atom",
    "arxiv-oai",
    "bibtex",
    "hf-daily",
)
FORMAT_CHOICES = ("auto", *FORMATS)

# Paper fields a table column can be mapped to; `id` is a generic identifier (an arXiv id, a
# DOI, or a URL naming one).
FIELDS = ("title", "abstract", "published", "authors", "id", "arxiv_id", "doi", "url", "categories")
