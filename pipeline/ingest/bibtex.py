"""Reader for BibTeX (.bib: Zotero, Mendeley, JabRef exports), with bibtexparser 1.x. Each entry
is parsed on its own so a broken entry is a rejection at its line instead of silently vanishing;
`@string` macros are parsed once. Produces `RawRecord`s whose LaTeX (accents, braces, Mendeley's
escapes) the normaliser turns into Unicode."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pipeline.ingest.dates import date_from_parts
from pipeline.ingest.names import split_list
from pipeline.ingest.normalise import RawRecord
from pipeline.ingest.rawtext import Unsupported, excerpt, one_line, read_text
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
    "keyword",
    "subtitle",
}


def _parser():
    from bibtexparser.bparser import BibTexParser

    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False)
    parser.homogenize_fields = False
    parser.expect_multiple_parse = True  # one parser for the file: its macros stay defined
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
    chunks, line, counted = [], 1, 0
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        line += text.count("\n", counted, match.start())
        counted = match.start()
        chunks.append((match.group(1).lower(), line, text[match.start() : end]))
    # Macros are parsed once into the parser that then reads every entry (prepending them to
    # each entry made a file with many macros and entries quadratic).
    parser = _parser()
    for kind, line, chunk in chunks:
        if kind == "string":
            try:
                bibtexparser.loads(chunk, parser)
            except Exception as exc:  # a broken macro costs only itself
                yield Rejection(
                    ctx.source_file,
                    f"line {line}",
                    f"malformed BibTeX @string: {type(exc).__name__}: {one_line(exc)}",
                    "warning",
                    excerpt(chunk),
                )
    for kind, line, chunk in chunks:
        if kind in _SKIP_TYPES or kind == "string":
            continue
        location = f"line {line}"
        before = len(parser.bib_database.entries)
        try:
            bibtexparser.loads(chunk, parser)
            entries = parser.bib_database.entries[before:]
        except Exception as exc:  # bibtexparser raises assorted pyparsing/KeyError types
            entries, error = [], f"{type(exc).__name__}: {one_line(exc)}"
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
    title = fields.get("title")
    if title and fields.get("subtitle"):  # BibLaTeX splits "Title: Subtitle" in two fields
        title = f"{title}: {fields['subtitle']}"
    keywords = [
        keyword
        for name in ("keywords", "keyword")
        for keyword in split_list(fields.get(name), "keywords", is_latex=True)
    ]
    return RawRecord(
        location=location,
        title=title,
        abstract=fields.get("abstract"),
        published=published,
        authors=fields.get("author"),
        url=fields.get("url"),
        categories=list(dict.fromkeys(keywords)),
        arxiv_id=arxiv,
        doi=fields.get("doi"),
        extra=extra,
        is_latex=True,
    )
