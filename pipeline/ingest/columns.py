"""Which column of a table holds which paper field: common names detected, an explicit
field -> column mapping (dotted paths reach into nested objects) first, a warning when no date
or no id column exists. Turns one row into a `RawRecord`."""

from __future__ import annotations

import re
from typing import Any

from pipeline.ingest.arxiv import is_oai_record, oai_record
from pipeline.ingest.normalise import RawRecord
from pipeline.ingest.rawtext import Unsupported
from pipeline.ingest.schema import FIELDS
from pipeline.records import Rejection

# Field -> column names recognised automatically, best first (compared after lower-casing and
# turning spaces, dots and dashes into underscores). The first present column wins.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "title": ("title", "paper_title", "article_title", "document_title", "name_of_paper"),
    "abstract": (
        "abstract",
        "summary",
        "abstract_text",
        "paper_abstract",
        "summary_text",
        "abstract_note",
        "abstractnote",
        "description",
        "content_text",  # JSON Feed
        "content_html",
    ),
    "published": (
        "published",
        "publication_date",
        "published_date",
        "date_published",  # JSON Feed
        "published_at",
        "publishedat",
        "published_on",
        "publish_date",
        "pub_date",
        "paper_published_at",
        "date",
        "first_published",
        "submit_date",
        "submitted_date",
        "date_submitted",
        "submitted",
        "submission_date",
        "created",
        "created_at",
        "date_created",
        "listing_date",
        "hf_date",
        "issued",
        "update_date",
        "updated",
        "date_modified",
        "year",
        "publication_year",
        "pub_year",
    ),
    "authors": (
        "authors",
        "author",
        "author_names",
        "authors_list",
        "author_list",
        "creators",
        "first_author",
        "authors_parsed",
    ),
    "id": ("id", "paper_id", "identifier", "guid"),
    "arxiv_id": ("arxiv_id", "arxivid", "arxiv", "eprint", "arxiv_identifier"),
    "doi": ("doi",),
    "url": (
        "url",
        "link",
        "abs_url",
        "pdf_url",
        "href",
        "paper_url",
        "paper_link",
        "abs_link",
        "arxiv_url",
        "arxiv_link",
        "hf_url",
        "external_url",  # JSON Feed
        "pdf_link",
    ),
    "categories": (
        "categories",
        "arxiv_categories",
        "subjects",
        "category",
        "primary_category",
        "arxiv_primary_category",
        "tags",
        "keywords",
        "keyword",
    ),
}
_ID_FIELDS = ("id", "arxiv_id", "doi", "url")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def resolve_columns(
    columns: list[str], mapping: dict[str, str], required: tuple[str, ...] = ("title", "abstract")
) -> dict[str, str]:
    """Field -> column (or dotted path into a column holding objects, `details.abstract`) for
    one table: explicit mapping first, then the detected names.

    Raises Unsupported when a mapped column is absent or a required column is missing.
    """
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise Unsupported(f"unknown field(s) in column mapping: {', '.join(unknown)}")
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(_norm(column), column)
    resolved: dict[str, str] = {}
    for field_, column in mapping.items():
        head = column.split(".", 1)[0]
        if column in columns:
            resolved[field_] = column
        elif "." in column and (head in columns or _norm(head) in by_norm):
            head = head if head in columns else by_norm[_norm(head)]
            resolved[field_] = head + "." + column.split(".", 1)[1]
        elif _norm(column) in by_norm:
            resolved[field_] = by_norm[_norm(column)]
        else:
            raise Unsupported(
                f"column {column!r} (mapped to {field_}) is not in the file; columns: "
                + ", ".join(map(str, columns[:30]))
            )
    taken = {path.split(".", 1)[0] for path in resolved.values()}
    for field_ in FIELDS:
        if field_ in resolved:
            continue
        for name in CANDIDATES[field_]:
            column = by_norm.get(name)
            if column is not None and column not in taken:
                resolved[field_] = column
                taken.add(column)
                break
    if field_ := next((f for f in required if f not in resolved), None):
        raise Unsupported(
            f"no {field_} column found (columns: {', '.join(map(str, columns[:30]))}); "
            f"map one with --column {field_}=COLUMN"
        )
    return resolved


def missing_columns(colmap: dict[str, str], source_file: str) -> list[Rejection]:
    """One warning per file for a table with no date column or no id column: without them every
    paper has no date and a title-hash id, which would otherwise go unnoticed."""
    warnings = []
    if "published" not in colmap:
        warnings.append(
            "no date column: timelines will be empty; map one with --column published=COLUMN"
        )
    if not any(f in colmap for f in _ID_FIELDS):
        warnings.append(
            "no id column (id, arxiv_id, doi or url): papers get title-hash ids; "
            "map one with --column id=COLUMN"
        )
    return [Rejection(source_file, "file", reason, "warning", "") for reason in warnings]


def lookup(row: dict[str, Any], column: str) -> Any:
    """A row's value for a column, or for a dotted path into nested objects (None if absent)."""
    if column in row:
        return row[column]
    head, _, rest = column.partition(".")
    value = row.get(head)
    for key in rest.split(".") if rest else ():
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def row_to_raw(
    row: dict[str, Any], colmap: dict[str, str], location: str, mapping: dict[str, str]
) -> RawRecord:
    """A RawRecord from one table row; columns not mapped to a field go to `extra`. A row shaped
    like the arXiv OAI snapshot is read as the OAI reader reads it (v1 date, `authors_parsed`)
    unless the user mapped columns."""
    if not mapping and is_oai_record(row):
        return oai_record(row, location)
    values = {field_: lookup(row, column) for field_, column in colmap.items()}
    extra = {k: v for k, v in row.items() if k not in colmap.values()}
    for path in colmap.values():
        if path not in row and "." in path:  # a field taken from inside an object column
            head, _, rest = path.partition(".")
            extra[head] = _without(extra.get(head), rest.split("."))
    return RawRecord(location=location, extra=extra, columns=dict(colmap), **values)


def _without(value: Any, keys: list[str]) -> Any:
    """A copy of nested object `value` without the leaf at `keys` (already used as a field)."""
    if not isinstance(value, dict) or keys[0] not in value:
        return value
    rest = {k: v for k, v in value.items() if k != keys[0]}
    if len(keys) > 1:
        rest[keys[0]] = _without(value[keys[0]], keys[1:])
    return rest
