"""Reader for BibTeX (.bib, e.g. a Zotero export), with bibtexparser 1.x. Each entry is parsed
on its own so a broken entry is a rejection at its line instead of silently vanishing.
Produces `RawRecord`s whose LaTeX (accents, braces) the normaliser turns into Unicode."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pipeline.ingest.detect import Unsupported, read_text
from pipeline.ingest.normalise import RawRecord, date_from_parts, excerpt
from pipeline.records import Rejection

_ENTRY_START = re.compile(r"(?m)^[ \t]*@([A-Za-z]+)[ \t]*[{(]")
_SKIP_TYPES = {"comment", "preamble"}
_MAPPED = {
    "title",
    "abstract",
    "year",
    "month",
    "day",
    "date",
    "author",
    "doi",
    "eprint",
    "arxivid",
    "archiveprefix",
    "eprinttype",
    "url",
    "ID",
    "ENTRYTYPE",
    "keywords",
}


def _parser():
    from bibtexparser.bparser import BibTexParser

    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
    parser.homogenize_fields = False
    return parser


def read_bibtex(path: Path, ctx) -> Iterator[RawRecord | Rejection]:
    """Entries of a BibTeX file; @string macros apply to every entry, @comment is ignored."""
    import bibtexparser

    text, issue = read_text(path)
    if issue:
        yield Rejection(ctx.source_file, f"line {issue.first_line}", issue.reason(), "warning", "")
    starts = list(_ENTRY_START.finditer(text))
    if not starts:
        raise Unsupported("no BibTeX entry (@type{...}) found")
    chunks = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        chunks.append(
            (
                match.group(1).lower(),
                text.count("\n", 0, match.start()) + 1,
                text[match.start() : end],
            )
        )
    macros = "\n".join(chunk for kind, _, chunk in chunks if kind == "string")
    for kind, line, chunk in chunks:
        if kind in _SKIP_TYPES or kind == "string":
            continue
        location = f"line {line}"
        try:
            database = bibtexparser.loads(macros + "\n" + chunk if macros else chunk, _parser())
            entries = database.entries
        except Exception as exc:  # bibtexparser raises assorted pyparsing/KeyError types
            entries, error = [], f"{type(exc).__name__}: {exc}"
        else:
            error = "entry could not be parsed (unbalanced braces or quotes?)"
        if len(entries) != 1:
            yield Rejection(
                ctx.source_file,
                location,
                f"malformed BibTeX entry: {error}",
                "rejected",
                excerpt(chunk),
            )
            continue
        yield bibtex_record(entries[0], location)


def bibtex_record(entry: dict, location: str) -> RawRecord:
    """One parsed entry as a RawRecord (values still LaTeX)."""
    fields = {k.lower() if k not in ("ID", "ENTRYTYPE") else k: v for k, v in entry.items()}
    if fields.get("date"):
        published = fields["date"]
    elif fields.get("year"):
        published = date_from_parts(fields["year"], fields.get("month"), fields.get("day"))
    else:
        published = None
    arxiv = fields.get("arxivid")
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    if not arxiv and fields.get("eprint") and (prefix == "arxiv" or not prefix):
        arxiv = "arXiv:" + fields["eprint"]
    elif arxiv:
        arxiv = "arXiv:" + arxiv
    extra = {k: v for k, v in fields.items() if k not in _MAPPED and v}
    extra["bibtex_key"] = fields.get("ID")
    extra["bibtex_type"] = fields.get("ENTRYTYPE")
    return RawRecord(
        location=location,
        title=fields.get("title"),
        abstract=fields.get("abstract"),
        published=published,
        authors=fields.get("author"),
        url=fields.get("url"),
        categories=fields.get("keywords"),
        arxiv_id=arxiv,
        doi=fields.get("doi"),
        extra=extra,
        is_latex=True,
    )
